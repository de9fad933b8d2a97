//! Resume (beyond PocketBase): a client whose stream dropped gets what it missed when it
//! reconnects, by `Last-Event-ID` or by an SDK's resubscription, and `PB_RESYNC` when
//! that is no longer possible; and the streams' idle timeout and maximum lifetime.

use std::time::{Duration, Instant};

use kulisse_core::Config;
use kulisse_testkit::{Frame, Sse, TestServer, engine_tests};
use serde_json::{Value, json};

use super::{QUIET, WAIT, collections, create, subscribe};

engine_tests!(
    a_reconnect_with_last_event_id_gets_what_it_missed_in_order,
    a_reconnect_the_server_cannot_serve_is_told_to_resync,
    an_sdk_reconnect_from_the_same_place_takes_over_the_dropped_client,
    streams_end_when_idle_and_at_their_maximum_lifetime,
);

const AGENT: (&str, &str) = ("user-agent", "resume-test/1");

/// Waits until the server noticed that the stream of `client_id` ended (its subscription
/// requests are refused as unknown).
async fn until_dropped(srv: &TestServer, client_id: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        let body = json!({"clientId": client_id, "subscriptions": ["posts/*"]});
        let (status, _) = srv.send("POST", "/api/realtime", None, Some(body)).await;
        if status == 404 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never noticed the drop"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A client from [`AGENT`] on `topics` receives one event (a new post titled `title`),
/// then drops its connection; returns that event and the client's id once the server
/// noticed.
async fn one_event_then_gone(srv: &TestServer, topics: &[&str], title: &str) -> (Frame, String) {
    let mut sse = Sse::connect_with(&srv.client, &srv.base, &[AGENT]).await;
    assert_eq!(subscribe(srv, &sse, None, topics).await.0, 204);
    create(srv, None, "posts", json!({"title": title})).await;
    let last = sse.next(WAIT).await.expect("the live event");
    let client_id = sse.client_id.clone();
    drop(sse);
    until_dropped(srv, &client_id).await;
    (last, client_id)
}

/// `(action, title)` of record frames.
fn seen(frames: &[Frame]) -> Vec<(String, Value)> {
    frames
        .iter()
        .map(|f| {
            (
                f.data["action"].as_str().unwrap_or(&f.event).to_owned(),
                f.data["record"]["title"].clone(),
            )
        })
        .collect()
}

async fn a_reconnect_with_last_event_id_gets_what_it_missed_in_order() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    let (last, client_id) = one_event_then_gone(&srv, &["posts/*"], "one").await;

    let two = create(&srv, None, "posts", json!({"title": "two"})).await;
    create(&srv, None, "posts", json!({"title": "three"})).await;
    let path = format!(
        "/api/collections/posts/records/{}",
        two["id"].as_str().unwrap()
    );
    let (s, _) = srv
        .send("PATCH", &path, None, Some(json!({"title": "two again"})))
        .await;
    assert_eq!(s, 200);

    let resume = [AGENT, ("last-event-id", last.id.as_str())];
    let mut back = Sse::connect_with(&srv.client, &srv.base, &resume).await;
    assert_eq!(back.client_id, client_id, "the same client continues");
    let missed = back.drain(QUIET).await;
    assert_eq!(
        seen(&missed),
        [
            ("create".to_owned(), json!("two")),
            ("create".to_owned(), json!("three")),
            ("update".to_owned(), json!("two again")),
        ],
        "what it missed, in order, and nothing it had"
    );
    assert!(missed.iter().all(|f| f.event == "posts/*"));
    create(&srv, None, "posts", json!({"title": "live"})).await;
    let live = back.next(WAIT).await.expect("live events follow");
    assert_eq!(live.data["record"]["title"], "live");

    // The connect event's id names the client alone: a reconnect after it (before any
    // event) resumes from where that stream started. From elsewhere, it is a new client.
    drop(back);
    until_dropped(&srv, &client_id).await;
    create(&srv, None, "posts", json!({"title": "while away"})).await;
    let elsewhere = [
        ("user-agent", "someone-else"),
        ("last-event-id", live.id.as_str()),
    ];
    let mut other = Sse::connect_with(&srv.client, &srv.base, &elsewhere).await;
    assert_ne!(
        other.client_id, client_id,
        "the id alone does not resume a client"
    );
    let frame = other.next(WAIT).await.expect("a resync");
    assert_eq!(frame.event, "PB_RESYNC");
    let resume = [AGENT, ("last-event-id", live.id.as_str())];
    let mut back = Sse::connect_with(&srv.client, &srv.base, &resume).await;
    assert_eq!(back.client_id, client_id);
    assert_eq!(
        seen(&back.drain(QUIET).await),
        [("create".to_owned(), json!("while away"))]
    );
}

async fn a_reconnect_the_server_cannot_serve_is_told_to_resync() {
    let srv = TestServer::start_tuned(Config {
        realtime: kulisse_core::realtime::Config {
            resume_events: 2,
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;

    // An id this node never gave (another node's, or from before a restart).
    let unknown = [
        AGENT,
        (
            "last-event-id",
            "0123456789012345678901234567890123456789:7.0",
        ),
    ];
    let mut sse = Sse::connect_with(&srv.client, &srv.base, &unknown).await;
    assert_ne!(sse.client_id, "0123456789012345678901234567890123456789");
    let frame = sse
        .next(WAIT)
        .await
        .expect("a resync right after the connect");
    assert_eq!(
        (frame.event.as_str(), &frame.data),
        ("PB_RESYNC", &json!({}))
    );

    // More events happened while it was away than are kept.
    drop(sse);
    let (last, client_id) = one_event_then_gone(&srv, &["posts/*"], "one").await;
    // A write is answered before the dispatcher delivers it. The dispatcher delivers each
    // change to every client in one pass, so once another subscriber has "four", the
    // dropped client's buffer has had all three (a reconnect any sooner would rightly be
    // given what was there, and the rest live).
    let mut watcher = Sse::connect_with(&srv.client, &srv.base, &[("user-agent", "watcher")]).await;
    assert_eq!(subscribe(&srv, &watcher, None, &["posts/*"]).await.0, 204);
    for title in ["two", "three", "four"] {
        create(&srv, None, "posts", json!({"title": title})).await;
    }
    loop {
        let frame = watcher.next(WAIT).await.expect("the watcher's events");
        if frame.data["record"]["title"] == "four" {
            break;
        }
    }
    let resume = [AGENT, ("last-event-id", last.id.as_str())];
    let mut back = Sse::connect_with(&srv.client, &srv.base, &resume).await;
    assert_eq!(back.client_id, client_id);
    // One resync instead of a partial replay; after it, live events (on a busy machine
    // that may include a missed write the dispatcher had not reached yet).
    let first = back.next(WAIT).await.expect("a resync");
    assert_eq!(first.event, "PB_RESYNC", "{}", first.raw);
    create(&srv, None, "posts", json!({"title": "live"})).await;
    loop {
        let frame = back.next(WAIT).await.expect("live events follow");
        assert_eq!(frame.event, "posts/*", "{}", frame.raw);
        if frame.data["record"]["title"] == "live" {
            break;
        }
    }
}

async fn an_sdk_reconnect_from_the_same_place_takes_over_the_dropped_client() {
    let srv = TestServer::start_tuned(Config {
        realtime: kulisse_core::realtime::Config {
            max_lifetime: Duration::from_secs(1),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;
    let topics = ["posts/*", "notes/*"];

    // A stream the client closed (an SDK's `unsubscribe()` on a page change) is not
    // taken over: the next page's client starts afresh.
    one_event_then_gone(&srv, &topics, "zero").await;
    create(&srv, None, "posts", json!({"title": "between pages"})).await;
    let mut next_page = Sse::connect_with(&srv.client, &srv.base, &[AGENT]).await;
    assert_eq!(subscribe(&srv, &next_page, None, &topics).await.0, 204);
    assert_eq!(
        next_page.drain(QUIET).await.len(),
        0,
        "no replay after a close"
    );

    // A stream the server ended (its lifetime): the SDK reconnects at once.
    let mut sse = Sse::connect_with(&srv.client, &srv.base, &[AGENT]).await;
    assert_eq!(subscribe(&srv, &sse, None, &topics).await.0, 204);
    create(&srv, None, "posts", json!({"title": "one"})).await;
    assert_eq!(
        seen(&[sse.next(WAIT).await.expect("the live event")]),
        [("create".to_owned(), json!("one"))]
    );
    assert!(sse.ends_within(WAIT).await, "the server ends it");
    create(&srv, None, "posts", json!({"title": "two"})).await;

    // Neither another browser, nor other topics, nor a different requester take it over.
    let agent = [("user-agent", "x/2")];
    let other_agent = Sse::connect_with(&srv.client, &srv.base, &agent).await;
    assert_eq!(subscribe(&srv, &other_agent, None, &topics).await.0, 204);
    let other_topics = Sse::connect_with(&srv.client, &srv.base, &[AGENT]).await;
    assert_eq!(
        subscribe(&srv, &other_topics, None, &["posts/*"]).await.0,
        204
    );
    let other_user = Sse::connect_with(&srv.client, &srv.base, &[AGENT]).await;
    assert_eq!(
        subscribe(&srv, &other_user, Some(&su), &topics).await.0,
        204
    );

    // The SDK's reconnect: a new client, the same topics (in any order), the same place.
    let mut again = Sse::connect_with(&srv.client, &srv.base, &[AGENT]).await;
    assert_ne!(again.client_id, sse.client_id);
    assert_eq!(
        subscribe(&srv, &again, None, &["notes/*", "posts/*"])
            .await
            .0,
        204
    );
    assert_eq!(
        seen(&again.drain(QUIET).await),
        [("create".to_owned(), json!("two"))],
        "what it missed, once"
    );
    for mut stream in [other_agent, other_topics, other_user] {
        let frames = stream.next(Duration::ZERO).await;
        assert!(frames.is_none(), "no replay for others: {frames:?}");
    }
}

async fn streams_end_when_idle_and_at_their_maximum_lifetime() {
    let srv = TestServer::start_tuned(Config {
        realtime: kulisse_core::realtime::Config {
            idle: Duration::from_millis(400),
            max_lifetime: Duration::from_millis(1500),
            ..Default::default()
        },
        ..Default::default()
    })
    .await;
    let su = srv.superuser_token().await;
    collections(&srv, &su).await;

    let started = Instant::now();
    let mut idle = Sse::connect(&srv.client, &srv.base).await;
    assert!(idle.ends_within(WAIT).await, "an idle stream ends");
    let lasted = started.elapsed();
    assert!(lasted >= Duration::from_millis(400), "{lasted:?}");

    // Events keep it from idling, but not past its lifetime.
    let started = Instant::now();
    let mut busy = Sse::connect(&srv.client, &srv.base).await;
    assert_eq!(subscribe(&srv, &busy, None, &["posts/*"]).await.0, 204);
    let mut received = 0;
    while started.elapsed() < WAIT {
        create(&srv, None, "posts", json!({"title": "tick"})).await;
        match busy.next(Duration::from_millis(300)).await {
            Some(_) => received += 1,
            None => break,
        }
    }
    let lasted = started.elapsed();
    assert!(
        received >= 3,
        "events flowed past the idle timeout ({received})"
    );
    assert!(
        lasted >= Duration::from_millis(1500) && lasted < Duration::from_millis(4000),
        "{lasted:?}"
    );
}

//! Slow queries are stopped: past the query timeout, when their client leaves, and they
//! never hold up the reads of everyone else.

use std::time::{Duration, Instant};

use kulisse::http::HttpOptions;
use kulisse_store::QueryLimits;
use serde_json::json;

use crate::process::ServerProcess;
use kulisse_testkit::{TestServer, send_to, superuser_token_at};

/// Five chained back-relations through a self-relation: minutes of work on the old code.
const SLOW_FILTER: &str = "c_via_self.c_via_self.c_via_self.c_via_self.c_via_self.name ?= 'x'";

/// Relations per record.
const FAN_OUT: usize = 5;

/// Records in the chain collection: five hops then take ~18 s on SQLite and ~30 s on
/// PostgreSQL in a debug build (`measure_the_slow_filter` below), while creating them takes
/// about a second.
const RECORDS: usize = 400;

/// A public collection `c` whose records point at each other through `self`, so
/// [`SLOW_FILTER`] fans out; also a small public collection `plain` for ordinary reads.
async fn chain_fixture(limits: QueryLimits, records: usize) -> TestServer {
    let srv = TestServer::start_limited(HttpOptions::default(), limits).await;
    seed_chain(&srv.base, srv.pg_url.as_deref(), records).await;
    srv
}

/// Seeds [`chain_fixture`]'s collections on the server at `base` (on the PostgreSQL
/// database `pg`, if it runs on one).
async fn seed_chain(base: &str, pg: Option<&str>, records: usize) {
    let http = reqwest::Client::new();
    let su = superuser_token_at(&http, base).await;
    let (s, c) = send_to(
        &http,
        base,
        "POST",
        "/api/collections",
        Some(&su),
        Some(
            json!({"name": "c", "listRule": "", "viewRule": "", "fields": [
                {"name": "name", "type": "text"}
            ]}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{c}");
    let (s, body) = send_to(
        &http,
        base,
        "PATCH",
        "/api/collections/c",
        Some(&su),
        Some(json!({"fields": [
            {"name": "name", "type": "text"},
            {"name": "self", "type": "relation", "collectionId": c["id"], "maxSelect": FAN_OUT}
        ]})),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    if let Some(url) = pg {
        // No statistics for the planner: with them (an autovacuum's ANALYZE landing during
        // the seeding) PostgreSQL may pick hash joins that answer SLOW_FILTER in a few
        // hundred milliseconds, and the tests that need it slow would not be testing.
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        client
            .batch_execute(r#"ALTER TABLE "c" SET (autovacuum_enabled = off)"#)
            .await
            .unwrap();
    }
    let mut ids: Vec<String> = Vec::new();
    for i in 0..records {
        // Every record points at FAN_OUT earlier ones (spread by a fixed stride), so each
        // record has FAN_OUT children on average and a five-hop walk visits FAN_OUT^5.
        let parent: Vec<String> = if i == 0 {
            Vec::new()
        } else {
            (0..FAN_OUT)
                .map(|k| ids[(i * 7919 + k * 104_729) % i].clone())
                .collect()
        };
        let (s, r) = send_to(
            &http,
            base,
            "POST",
            "/api/collections/c/records",
            Some(&su),
            Some(json!({"name": format!("n{i}"), "self": parent})),
        )
        .await;
        assert_eq!(s, 200, "{r}");
        ids.push(r["id"].as_str().unwrap().to_owned());
    }
    let (s, body) = send_to(
        &http,
        base,
        "POST",
        "/api/collections",
        Some(&su),
        Some(
            json!({"name": "plain", "listRule": "", "viewRule": "", "fields": [
                {"name": "title", "type": "text"}
            ]}),
        ),
    )
    .await;
    assert_eq!(s, 200, "{body}");
}

/// Sends a JSON request to the server at `base`; returns status and body.
fn filtered(filter: &str) -> String {
    let query = serde_urlencoded::to_string([("filter", filter)]).unwrap();
    format!("/api/collections/c/records?{query}")
}

/// A short timeout: far below what [`SLOW_FILTER`] and an endless view need.
fn short_budget() -> QueryLimits {
    QueryLimits {
        timeout: Duration::from_millis(300),
        ..QueryLimits::default()
    }
}

/// Reads of one table: lists of another collection and of `c`, a record of `c` by id.
async fn single_table_reads(srv: &TestServer) -> Vec<String> {
    let (_, page) = srv
        .send("GET", "/api/collections/c/records?perPage=1", None, None)
        .await;
    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    vec![
        "/api/collections/plain/records".to_owned(),
        "/api/collections/c/records".to_owned(),
        format!("/api/collections/c/records/{id}"),
    ]
}

/// Reads that wait for the same readers as the slow filter: a view collection over
/// `plain` and a filter through one relation.
fn joining_reads() -> Vec<String> {
    vec![
        "/api/collections/plain_titles/records".to_owned(),
        filtered("self.name = 'n1'"),
    ]
}

/// Creates `plain_titles`, a view over `plain`.
async fn plain_view(srv: &TestServer) {
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(
                json!({"name": "plain_titles", "type": "view", "listRule": "", "viewRule": "",
                "viewQuery": "SELECT id, title FROM plain"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

/// Sends `path` as a guest and asserts a 200 within `bound`; returns the time it took.
async fn timed_read(srv: &TestServer, path: &str, bound: Duration) -> Duration {
    let start = Instant::now();
    let (s, body) = srv.send("GET", path, None, None).await;
    let took = start.elapsed();

    assert_eq!(s, 200, "{path}: {body}");
    assert!(took < bound, "{path} took {took:?} (bound {bound:?})");
    took
}

async fn abandoned_slow_filters_are_stopped_and_reads_stay_fast() {
    // The default 30 s timeout: only the clients leaving can free the readers in time.
    let srv = chain_fixture(QueryLimits::default(), RECORDS).await;
    plain_view(&srv).await;
    let reads: Vec<String> = single_table_reads(&srv)
        .await
        .into_iter()
        .chain(joining_reads())
        .collect();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let url = srv.url(&filtered(SLOW_FILTER));
    let attempts = futures::future::join_all((0..10).map(|_| impatient.get(&url).send())).await;
    for outcome in attempts {
        let err = outcome.expect_err("the slow filter outlasts the client's patience");
        assert!(err.is_timeout(), "{err}");
    }
    // Before the fix every one of these waited behind the ten abandoned filters (86-110 s
    // in the issue's measurement).
    for path in reads {
        timed_read(&srv, &path, Duration::from_secs(3)).await;
    }
    if let Some(url) = &srv.pg_url {
        assert_no_statement_keeps_running(url).await;
    }
}

/// PostgreSQL: the abandoned statements were cancelled on the server too, so its CPUs go
/// idle (within a few seconds; before the fix they ran for 30 s each).
async fn assert_no_statement_keeps_running(url: &str) {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND state = 'active' AND pid <> pg_backend_pid()",
                &[],
            )
            .await
            .unwrap();
        let active: i64 = row.get(0);
        if active == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{active} statements still run on the server"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_query_past_the_timeout_is_answered_with_pocketbases_generic_400() {
    let srv = chain_fixture(short_budget(), RECORDS).await;
    let start = Instant::now();
    let (s, body) = srv.send("GET", &filtered(SLOW_FILTER), None, None).await;
    assert_eq!(
        (s, body),
        (
            400,
            json!({"data": {}, "message": "Something went wrong while processing your request.", "status": 400})
        )
    );
    // Stopped near the 300 ms timeout, not after the ~20 s the filter needs.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // The server keeps serving.
    let (s, _) = srv
        .send("GET", "/api/collections/c/records", None, None)
        .await;
    assert_eq!(s, 200);
}

async fn an_endless_recursive_view_is_stopped_by_the_timeout() {
    let srv = TestServer::start_limited(HttpOptions::default(), short_budget()).await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(
                json!({"name": "endless", "type": "view", "listRule": null, "viewRule": null,
                "viewQuery": "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) \
                              SELECT 'forever' AS id, max(x) AS top FROM r"}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    // The same view with an end answers: the 400s below are the timeout's.
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(json!({"name": "ten", "type": "view", "listRule": null, "viewRule": null,
                "viewQuery": "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r WHERE x < 10) \
                              SELECT 'ten' AS id, max(x) AS top FROM r"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = srv
        .send("GET", "/api/collections/ten/records/ten", Some(&su), None)
        .await;
    assert_eq!((s, &body["id"]), (200, &json!("ten")), "{body}");
    let (s, body) = srv
        .send("GET", "/api/collections/ten/records", Some(&su), None)
        .await;
    assert_eq!((s, &body["totalItems"]), (200, &json!(1)), "{body}");
    for path in [
        "/api/collections/endless/records",
        "/api/collections/endless/records?skipTotal=1",
        "/api/collections/endless/records/forever",
    ] {
        let start = Instant::now();
        let (s, body) = srv.send("GET", path, Some(&su), None).await;
        assert_eq!(s, 400, "{path}: {body}");
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "{path}: {:?}",
            start.elapsed()
        );
    }
}

/// The resource test: slow filters from clients that keep waiting (so nothing is
/// abandoned and the 30 s timeout is far away) while single-table reads are timed. They
/// must stay under 2 s each: the slow reads never get every reader. (Reads through
/// relations and views share the slow filters' lane and wait: that lane is bounded by the
/// timeout, not by this test.)
async fn single_table_reads_stay_fast_while_slow_filters_run() {
    let srv = chain_fixture(QueryLimits::default(), RECORDS).await;
    plain_view(&srv).await;
    let reads = single_table_reads(&srv).await;
    let url = srv.url(&filtered(SLOW_FILTER));
    let attackers: Vec<_> = (0..10)
        .map(|_| tokio::spawn(reqwest::Client::new().get(url.clone()).send()))
        .collect();
    // Let the slow filters reach the readers first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut latencies = Vec::new();
    for round in 0..4 {
        for path in &reads {
            latencies.push(timed_read(&srv, path, Duration::from_secs(2)).await);
        }
        assert!(
            attackers.iter().all(|a| !a.is_finished()),
            "round {round}: the slow filters are still running"
        );
    }
    latencies.sort();
    eprintln!(
        "single-table reads beside 10 slow filters: median {:?}, max {:?}",
        latencies[latencies.len() / 2],
        latencies[latencies.len() - 1]
    );
    for a in attackers {
        a.abort();
    }
}

/// A write job's reads (here a create rule through the chain) are bounded too: the
/// writer is not held for the ~20 s the rule needs, and later writes go on.
async fn a_slow_create_rule_is_stopped_by_the_timeout_and_writes_go_on() {
    let srv = chain_fixture(short_budget(), RECORDS).await;
    let su = srv.superuser_token().await;
    let rule = format!("@collection.c.{}", SLOW_FILTER.replace("?=", "!="));
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/plain",
            Some(&su),
            Some(json!({ "createRule": rule })),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let start = Instant::now();
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/plain/records",
            None,
            Some(json!({"title": "guest"})),
        )
        .await;
    // Not the rule's answer ("Failed to create record."): the rule was stopped.
    assert_eq!(
        (s, &body["message"]),
        (
            400,
            &json!("Something went wrong while processing your request.")
        ),
        "{body}"
    );
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    let start = Instant::now();
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/plain/records",
            Some(&su),
            Some(json!({"title": "superuser"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert!(
        start.elapsed() < Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
    let (s, body) = srv
        .send("GET", "/api/collections/plain/records", None, None)
        .await;
    assert_eq!(
        (s, &body["totalItems"]),
        (200, &json!(1)),
        "the guest's record was not kept"
    );
}

/// The issue's "a single one burned CPU for 54 s after the client left": the server (its
/// own process, so nothing else is counted) uses almost no CPU once the clients of slow
/// filters are gone. Before, its readers kept two cores busy for every abandoned filter.
async fn abandoned_slow_filters_leave_the_server_idle() {
    let srv = ServerProcess::start().await;
    seed_chain(&srv.base, srv.db.as_deref(), RECORDS).await;
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let url = format!("{}{}", srv.base, filtered(SLOW_FILTER));
    let attempts = futures::future::join_all((0..4).map(|_| impatient.get(&url).send())).await;
    assert!(
        attempts.iter().all(Result::is_err),
        "the filter outlasts 1 s"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = srv.cpu_time();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let used = srv.cpu_time().saturating_sub(before);
    eprintln!("server CPU in the 2 s after the clients left: {used:?}");
    assert!(
        used < Duration::from_millis(500),
        "{used:?} of CPU in 2 s after the clients left"
    );
}

kulisse_testkit::engine_tests!(
    abandoned_slow_filters_leave_the_server_idle,
    a_slow_create_rule_is_stopped_by_the_timeout_and_writes_go_on,
    abandoned_slow_filters_are_stopped_and_reads_stay_fast,
    a_query_past_the_timeout_is_answered_with_pocketbases_generic_400,
    an_endless_recursive_view_is_stopped_by_the_timeout,
    single_table_reads_stay_fast_while_slow_filters_run,
);

/// Prints how long 1 to 5 hops take on the fixture (`N` records), with no timeout.
#[tokio::test]
#[ignore = "a measurement, not a test"]
async fn measure_the_slow_filter() {
    let srv = chain_fixture(
        QueryLimits {
            timeout: Duration::from_secs(600),
            ..QueryLimits::default()
        },
        std::env::var("N").map_or(RECORDS, |n| n.parse().unwrap()),
    )
    .await;
    for hops in 1..=5 {
        let f = vec!["c_via_self"; hops].join(".") + ".name ?= 'x'";
        let t = Instant::now();
        let (s, _) = srv.send("GET", &filtered(&f), None, None).await;
        eprintln!("{hops} hops: {s} in {:?}", t.elapsed());
    }
}

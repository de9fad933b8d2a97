//! The stream on the wire, whichever way the connection is served: a connection that
//! opens with `GET /api/realtime` over HTTP/1.1 is driven by kulisse's lean stream writer,
//! any other (HTTP/1.0, a body, an earlier request on the same connection) by hyper. Both
//! answer like every route: CORS and security headers, a date, and the PocketBase framing.

use std::time::Duration;

use kulisse_testkit::{TestServer, engine_tests};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

engine_tests!(
    the_stream_answers_like_any_route_however_the_connection_is_served,
    a_client_that_leaves_is_noticed_at_once,
);

/// Sends `request` on `tcp` and reads until the `PB_CONNECT` frame is complete: the bytes
/// of the response so far.
async fn until_connected(tcp: &mut TcpStream, request: &str) -> String {
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut seen = String::new();
    let mut buf = [0u8; 4096];
    let deadline = tokio::time::Instant::now() + WAIT;
    while !(seen.contains("event:PB_CONNECT") && seen.contains("\"}\n\n")) {
        let n = tokio::time::timeout_at(deadline, tcp.read(&mut buf))
            .await
            .expect("PB_CONNECT in time")
            .unwrap();
        assert!(n > 0, "the connection closed: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    seen
}

fn head(response: &str) -> String {
    response
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .to_ascii_lowercase()
}

async fn the_stream_answers_like_any_route_however_the_connection_is_served() {
    let srv = TestServer::start().await;
    let addr = srv.base.trim_start_matches("http://").to_owned();

    // The lean writer: HTTP/1.1, first request on the connection.
    let mut lean = TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "GET /api/realtime HTTP/1.1\r\nHost: {addr}\r\nOrigin: https://app.example\r\nAccept: text/event-stream\r\n\r\n"
    );
    let response = until_connected(&mut lean, &request).await;
    let lean_head = head(&response);
    assert!(lean_head.starts_with("http/1.1 200 ok\r\n"), "{lean_head}");
    for expected in [
        "content-type: text/event-stream",
        "cache-control: no-store",
        "x-accel-buffering: no",
        "transfer-encoding: chunked",
        "access-control-allow-origin: *",
        "x-content-type-options: nosniff",
        "\r\ndate: ",
    ] {
        assert!(lean_head.contains(expected), "{expected:?} in {lean_head}");
    }
    assert!(!lean_head.contains("content-length"), "{lean_head}");
    let body = response.split("\r\n\r\n").nth(1).unwrap();
    let (size, frame) = body.split_once("\r\n").unwrap();
    let size = usize::from_str_radix(size, 16).expect("a chunk size");
    assert!(frame.starts_with("id:") && frame.len() >= size, "{body}");
    assert!(
        frame[..size].ends_with("\"}\n\n"),
        "one whole frame per chunk: {body}"
    );

    // hyper: the same stream after another request on a kept-alive connection …
    let mut reused = TcpStream::connect(&addr).await.unwrap();
    let health = format!("GET /api/health HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    reused.write_all(health.as_bytes()).await.unwrap();
    let mut buf = [0u8; 4096];
    let n = reused.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("API is healthy"));
    let reused_head = head(&until_connected(&mut reused, &request).await);
    // … and for HTTP/1.0, which has no chunked coding.
    let mut old = TcpStream::connect(&addr).await.unwrap();
    let old_request = format!(
        "GET /api/realtime HTTP/1.0\r\nHost: {addr}\r\nOrigin: https://app.example\r\n\r\n"
    );
    let old_head = head(&until_connected(&mut old, &old_request).await);
    for served in [&reused_head, &old_head] {
        for expected in [
            "content-type: text/event-stream",
            "cache-control: no-store",
            "access-control-allow-origin: *",
            "x-content-type-options: nosniff",
            "\r\ndate: ",
        ] {
            assert!(served.contains(expected), "{expected:?} in {served}");
        }
    }
    assert!(!old_head.contains("chunked"), "{old_head}");
}

async fn a_client_that_leaves_is_noticed_at_once() {
    let srv = TestServer::start().await;
    let addr = srv.base.trim_start_matches("http://").to_owned();
    let mut tcp = TcpStream::connect(&addr).await.unwrap();
    let request = format!("GET /api/realtime HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let response = until_connected(&mut tcp, &request).await;
    let id = response
        .split("\"clientId\":\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();
    let body = serde_json::json!({"clientId": id, "subscriptions": ["users/*"]});
    let (status, _) = srv
        .send("POST", "/api/realtime", None, Some(body.clone()))
        .await;
    assert_eq!(status, 204);
    drop(tcp);
    // No event is ever written to it: only reading tells the server it is gone.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let (status, _) = srv
            .send("POST", "/api/realtime", None, Some(body.clone()))
            .await;
        if status == 404 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the server still holds the client"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

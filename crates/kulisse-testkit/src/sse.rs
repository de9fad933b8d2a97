//! A server-sent-events client for realtime tests: reads PocketBase's frames off a real
//! `GET /api/realtime` stream.

use std::time::Duration;

use serde_json::Value;

/// One frame: `id`, `event` and `data` (parsed JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Frame {
    /// The `id:` field.
    pub id: String,
    /// The `event:` field.
    pub event: String,
    /// The `data:` field, parsed.
    pub data: Value,
    /// The frame as it came over the wire.
    pub raw: String,
}

/// An open stream.
pub struct Sse {
    response: reqwest::Response,
    buffer: String,
    /// The response headers.
    pub headers: reqwest::header::HeaderMap,
    /// The client id from `PB_CONNECT`.
    pub client_id: String,
}

impl Sse {
    /// Connects to `base` and reads the `PB_CONNECT` frame.
    pub async fn connect(client: &reqwest::Client, base: &str) -> Sse {
        Self::connect_with(client, base, &[]).await
    }

    /// [`Sse::connect`] sending `headers` (a `User-Agent`, a reconnect's `Last-Event-ID`).
    pub async fn connect_with(
        client: &reqwest::Client,
        base: &str,
        headers: &[(&str, &str)],
    ) -> Sse {
        let mut request = client.get(format!("{base}/api/realtime"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        let headers = response.headers().clone();
        let mut sse = Sse {
            response,
            buffer: String::new(),
            headers,
            client_id: String::new(),
        };
        let hello = sse.next(Duration::from_secs(5)).await.expect("PB_CONNECT");
        assert_eq!(hello.event, "PB_CONNECT", "{}", hello.raw);
        sse.client_id = hello.data["clientId"].as_str().unwrap().to_owned();
        sse
    }

    /// The next frame, or `None` when none arrives within `wait` or the stream ended.
    pub async fn next(&mut self, wait: Duration) -> Option<Frame> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let raw: String = self.buffer.drain(..end + 2).collect();
                return Some(parse(&raw));
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .ok()??;
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// Whether the server ends the stream within `wait` (frames until then are skipped).
    pub async fn ends_within(&mut self, wait: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match tokio::time::timeout_at(deadline, self.response.chunk()).await {
                Err(_) => return false,
                Ok(Ok(Some(_))) => {}
                Ok(_) => return true,
            }
        }
    }

    /// The frames that arrive within `wait` (until the stream is quiet for that long).
    pub async fn drain(&mut self, wait: Duration) -> Vec<Frame> {
        let mut out = Vec::new();
        while let Some(f) = self.next(wait).await {
            out.push(f);
        }
        out
    }
}

fn parse(raw: &str) -> Frame {
    let mut frame = Frame {
        id: String::new(),
        event: String::new(),
        data: Value::Null,
        raw: raw.to_owned(),
    };
    for line in raw.lines() {
        if let Some(v) = line.strip_prefix("id:") {
            frame.id = v.to_owned();
        } else if let Some(v) = line.strip_prefix("event:") {
            frame.event = v.to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            frame.data = serde_json::from_str(v).unwrap_or(Value::Null);
        }
    }
    frame
}

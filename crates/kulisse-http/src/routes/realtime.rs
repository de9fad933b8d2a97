//! `GET /api/realtime` (the SSE stream) and `POST /api/realtime` (a client's subscriptions),
//! spec §6.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, USER_AGENT};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use kulisse_core::error::GENERIC_BAD_REQUEST;
use kulisse_core::realtime::{Connection, Message, RecordEvent};
use serde::Serialize;
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{RemoteIp, Req, SubscriptionsBody, WriteBody};
use crate::fields::FieldsFilter;

/// `GET /api/realtime`: a new client (or, with `Last-Event-ID`, a dropped one resuming);
/// its id in the first event, then its messages.
pub async fn connect(
    State(s): State<AppState>,
    RemoteIp(ip): RemoteIp,
    headers: HeaderMap,
) -> Response {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let peer = format!(
        "{} {}",
        ip.map(|ip| ip.to_string()).unwrap_or_default(),
        text(USER_AGENT.as_str()).unwrap_or_default()
    );
    let connection = s.services.realtime.connect(&peer, text("last-event-id"));
    // The SDKs read the client id from the connect event's id.
    let hello = frame(
        &connection.client_id,
        "PB_CONNECT",
        serde_json::json!({ "clientId": connection.client_id })
            .to_string()
            .as_bytes(),
    );
    let stream = Stream {
        connection,
        hello: Some(hello),
    };
    let body = futures::stream::unfold(stream, |mut s| async move {
        let frame = s.next().await?;
        Some((Ok::<_, std::convert::Infallible>(frame), s))
    });
    let mut response = Response::new(Body::from_stream(body));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        "text/event-stream".parse().expect("static header"),
    );
    headers.insert(CACHE_CONTROL, "no-store".parse().expect("static header"));
    headers.insert("x-accel-buffering", "no".parse().expect("static header"));
    response
}

/// One client's open stream.
struct Stream {
    /// Dropped with the stream when the client goes: the service detaches the client.
    connection: Connection,
    hello: Option<Bytes>,
}

impl Stream {
    /// The next frame, or `None` when the stream ends (see [`Connection::next`]).
    async fn next(&mut self) -> Option<Bytes> {
        if let Some(hello) = self.hello.take() {
            return Some(hello);
        }
        let message = self.connection.next().await?;
        Some(self.write(&message))
    }

    /// The message as an event whose id is `<clientId>:<position>`, which a reconnecting
    /// `EventSource` sends back as `Last-Event-ID`.
    fn write(&self, message: &Message) -> Bytes {
        let at = message
            .position()
            .unwrap_or_else(|| self.connection.position());
        let id = format!("{}:{at}", self.connection.client_id);
        match message {
            Message::Record(event, _) => {
                let data = event.data.get_or_init(|| data(event));
                frame(&id, &event.event, data)
            }
            Message::Resync(_) => frame(&id, "PB_RESYNC", b"{}"),
            Message::Custom { topic, data } => frame(&id, topic, data),
        }
    }
}

/// A record event's `data` JSON, written once for every subscriber that shares it.
fn data(event: &RecordEvent) -> Vec<u8> {
    let picked = event
        .fields
        .as_deref()
        .and_then(|f| FieldsFilter::parse(f).ok().flatten());
    let action = event.action;
    let written = match &picked {
        Some(p) => serde_json::to_vec(&Data {
            record: p.record(&event.record),
            action,
        }),
        None => serde_json::to_vec(&Data {
            record: &event.record,
            action,
        }),
    };
    // Compact JSON is one line (newlines in strings are escaped): the frame stays whole.
    written.unwrap_or_else(|_| b"{}".to_vec())
}

/// An event's data: keys in PocketBase's order.
#[derive(Serialize)]
struct Data<R: Serialize> {
    record: R,
    action: &'static str,
}

/// `id:…\nevent:…\ndata:…\n\n`, with no space after the colons (PocketBase's framing).
fn frame(id: &str, event: &str, data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(id.len() + event.len() + data.len() + 20);
    out.extend_from_slice(b"id:");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b"\nevent:");
    out.extend_from_slice(event.as_bytes());
    out.extend_from_slice(b"\ndata:");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// `POST /api/realtime`: replaces the client's subscriptions, bound to the requester.
pub async fn subscribe(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<SubscriptionsBody>,
) -> Result<StatusCode, ApiError> {
    // PB compat: a client id that is not text, or subscriptions that are not a list of
    // text, fail to load (the generic 400); missing or null subscriptions clear the set.
    let malformed = || ApiError::malformed_body(GENERIC_BAD_REQUEST);
    let client_id = match body.get("clientId") {
        None | Some(Value::Null) => "",
        Some(Value::String(id)) => id.as_str(),
        Some(_) => return Err(malformed()),
    };
    let topics: Vec<String> = match body.get("subscriptions") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|t| t.as_str().map(str::to_owned).ok_or_else(malformed))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(malformed()),
    };
    s.services
        .realtime
        .set_subscriptions(client_id, &req.auth, &topics)?;
    Ok(StatusCode::NO_CONTENT)
}

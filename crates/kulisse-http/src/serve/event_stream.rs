//! Connections that open a realtime stream, served without hyper's per-connection buffers.
//!
//! Why: a realtime subscriber holds its connection for minutes while it is mostly idle,
//! and hyper keeps two 8 KB buffers per HTTP/1 connection for its whole life (the read
//! buffer, and the buffer response heads are written into); it cannot be configured
//! smaller. That was 16 of the ~18 KB an idle subscriber cost. A connection whose first
//! request is exactly `GET /api/realtime` over HTTP/1.1 is therefore driven here instead:
//! its request head is parsed with httparse, the request goes through the same
//! application service as every other (routes, CORS, security headers), and the response
//! is written with chunked transfer coding, several ready events per write, on a runtime
//! of its own whose threads run behind the requests' (see `run_behind_requests`, which
//! says why). Anything else
//! (another request, HTTP/1.0 or 2, a body, a head that did not arrive in one piece) goes
//! to hyper untouched, since nothing was read from the socket.

use std::net::SocketAddr;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{CONTENT_LENGTH, DATE, TRANSFER_ENCODING};
use axum::http::{HeaderName, HeaderValue, Method, Request, Response, Version};
use bytes::Bytes;
use futures::FutureExt;
use http_body_util::BodyExt;
use kulisse_core::priority::run_behind_requests;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::runtime::{Handle, Runtime};
use tower::ServiceExt;

use crate::App;

/// The path this driver serves.
const PATH: &[u8] = b"/api/realtime";
/// Longest request head looked at; a longer one goes to hyper.
const MAX_HEAD: usize = 4096;
/// Most request headers.
const MAX_HEADERS: usize = 64;
/// How long a new connection's first bytes are waited for here.
const FIRST_BYTES: Duration = Duration::from_secs(10);
/// A client that takes longer than this to take one write is gone (it stopped reading).
const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
/// Most bytes of ready events gathered into one write.
const MAX_BATCH: usize = 64 * 1024;

/// Serves `tcp` here when its first request opens a realtime stream (and returns `None`
/// once done); otherwise hands it back, unread, for hyper.
pub(crate) async fn serve_or_return(
    tcp: TcpStream,
    peer: SocketAddr,
    app: &App,
) -> Option<TcpStream> {
    let mut head = vec![0; MAX_HEAD];
    let peeked = match tokio::time::timeout(FIRST_BYTES, tcp.peek(&mut head)).await {
        Ok(Ok(n)) => n,
        Ok(Err(_)) => return None,
        // A connection opened ahead of its request: hyper waits for it as usual.
        Err(_) => return Some(tcp),
    };
    if !head[..peeked].starts_with(b"GET ") || !head[4..peeked].starts_with(PATH) {
        return Some(tcp);
    }
    let Some((len, request)) = parse(&head[..peeked], peer) else {
        return Some(tcp);
    };
    // Take the head off the socket (it is all there: it was peeked whole), and let go of
    // the buffer before the stream's long life.
    let mut tcp = tcp;
    if tcp.read_exact(&mut head[..len]).await.is_err() {
        return None;
    }
    drop(head);
    let app = app.clone();
    match (streams(), tcp.into_std()) {
        (Some(runtime), Ok(tcp)) => {
            runtime.spawn(async move {
                if let Ok(tcp) = TcpStream::from_std(tcp) {
                    serve(tcp, request, &app).await;
                }
            });
        }
        (None, Ok(tcp)) => {
            if let Ok(tcp) = TcpStream::from_std(tcp) {
                serve(tcp, request, &app).await;
            }
        }
        (_, Err(_)) => {}
    }
    None
}

/// The runtime realtime streams run on, behind requests (see
/// [`kulisse_core::priority::run_behind_requests`]); started with the first stream.
/// `None` if its threads cannot be started: streams then run with the requests.
fn streams() -> Option<&'static Handle> {
    static STREAMS: OnceLock<Option<Runtime>> = OnceLock::new();
    STREAMS
        .get_or_init(|| {
            let threads = std::thread::available_parallelism().map_or(2, usize::from);
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .thread_name("realtime-io")
                .on_thread_start(run_behind_requests)
                .enable_all()
                .build()
                .inspect_err(|e| tracing::warn!(error = %e, "cannot start the realtime runtime"))
                .ok()
        })
        .as_ref()
        .map(Runtime::handle)
}

/// The request, when `bytes` hold a whole `GET /api/realtime[?…]` HTTP/1.1 head without a
/// body; and the head's length.
fn parse(bytes: &[u8], peer: SocketAddr) -> Option<(usize, Request<Body>)> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut parsed = httparse::Request::new(&mut headers);
    let httparse::Status::Complete(len) = parsed.parse(bytes).ok()? else {
        return None;
    };
    let path = parsed.path?;
    let ours = path.as_bytes() == PATH
        || path
            .as_bytes()
            .strip_prefix(PATH)
            .is_some_and(|rest| rest.starts_with(b"?"));
    if parsed.method != Some("GET") || parsed.version != Some(1) || !ours {
        return None;
    }
    let mut request = Request::builder()
        .method(Method::GET)
        .uri(path)
        .version(Version::HTTP_11);
    for h in parsed.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes()).ok()?;
        // A body or a protocol switch: hyper's business.
        let body = (name == CONTENT_LENGTH && h.value != b"0")
            || name == TRANSFER_ENCODING
            || name == axum::http::header::UPGRADE
            || name == axum::http::header::EXPECT;
        if body {
            return None;
        }
        request = request.header(name, HeaderValue::from_bytes(h.value).ok()?);
    }
    let mut request = request.body(Body::empty()).ok()?;
    request.extensions_mut().insert(ConnectInfo(peer));
    Some((len, request))
}

/// Answers `request` on `tcp` and streams the response until it ends, the client leaves,
/// or a write stalls.
async fn serve(mut tcp: TcpStream, request: Request<Body>, app: &App) {
    // Each event is one write: Nagle's algorithm would hold the next one back for an ACK.
    let _ = tcp.set_nodelay(true);
    let Ok(response) = app.clone().oneshot(request).await;
    let (parts, mut body) = response.into_parts();
    let exact = http_body::Body::size_hint(&body).exact();
    if !write(
        &mut tcp,
        response_head(&Response::from_parts(parts, ()), exact),
    )
    .await
    {
        return;
    }
    let mut ended = false;
    while !ended {
        tokio::select! {
            frame = body.frame() => {
                let mut out = Vec::new();
                ended = !add(&mut out, frame, exact.is_none());
                // Whatever else is ready goes in the same write.
                while !ended && out.len() < MAX_BATCH {
                    match body.frame().now_or_never() {
                        Some(frame) => ended = !add(&mut out, frame, exact.is_none()),
                        None => break,
                    }
                }
                if ended && exact.is_none() {
                    out.extend_from_slice(b"0\r\n\r\n");
                }
                if !write(&mut tcp, out).await {
                    return;
                }
            }
            // The client sends nothing more on an event stream: readable means it left
            // (or sent bytes no one will answer, which are dropped).
            readable = tcp.readable() => {
                if readable.is_err() || left(&tcp) {
                    return;
                }
            }
        }
    }
    let _ = tcp.shutdown().await;
}

/// The status line and headers, with `date` and the body's framing as hyper writes them.
fn response_head(response: &Response<()>, exact: Option<u64>) -> Vec<u8> {
    let status = response.status();
    let mut out = Vec::with_capacity(512);
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    let headers = response.headers();
    for (name, value) in headers {
        if name != CONTENT_LENGTH && name != TRANSFER_ENCODING {
            header(&mut out, name.as_str(), value.as_bytes());
        }
    }
    if !headers.contains_key(DATE) {
        header(
            &mut out,
            "date",
            httpdate::fmt_http_date(SystemTime::now()).as_bytes(),
        );
    }
    match exact {
        Some(len) => header(&mut out, "content-length", len.to_string().as_bytes()),
        None => header(&mut out, "transfer-encoding", b"chunked"),
    }
    out.extend_from_slice(b"\r\n");
    out
}

fn header(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

/// Appends a body frame's data (as a chunk when `chunked`); `false` when the body ended.
fn add(
    out: &mut Vec<u8>,
    frame: Option<Result<http_body::Frame<Bytes>, axum::Error>>,
    chunked: bool,
) -> bool {
    let Some(Ok(frame)) = frame else {
        return false;
    };
    if let Ok(data) = frame.into_data()
        && !data.is_empty()
    {
        if chunked {
            out.extend_from_slice(format!("{:x}\r\n", data.len()).as_bytes());
            out.extend_from_slice(&data);
            out.extend_from_slice(b"\r\n");
        } else {
            out.extend_from_slice(&data);
        }
    }
    true
}

/// Writes all of `bytes`; `false` when the client is gone or stopped reading.
async fn write(tcp: &mut TcpStream, bytes: Vec<u8>) -> bool {
    bytes.is_empty()
        || matches!(
            tokio::time::timeout(WRITE_TIMEOUT, tcp.write_all(&bytes)).await,
            Ok(Ok(()))
        )
}

/// Whether the readable socket is closed (end of stream or an error); bytes the client
/// sent are read and dropped.
fn left(tcp: &TcpStream) -> bool {
    let mut sink = [0; 256];
    match tcp.try_read(&mut sink) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => e.kind() != std::io::ErrorKind::WouldBlock,
    }
}

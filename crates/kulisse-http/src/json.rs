//! JSON answers: encoded into one buffer, or, for answers that embed many expanded
//! records, written to the body as they are encoded.

use std::io;

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_TYPE, HeaderValue};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// Buffer a JSON answer starts with: a typical record (~700 bytes with a 400-character
/// text) fits without regrowing. axum's own `Json` starts at 128 bytes and copied a
/// record's answer through three reallocations.
const INITIAL_BUFFER: usize = 1024;

/// Headers an answer ends up with: content type and length, `Vary`, PocketBase's four
/// security headers and an allowed origin. A map made for fewer (axum's default holds six)
/// regrew and rehashed on every answer.
const ANSWER_HEADERS: usize = 8;

/// Answers embedding more expanded records than this are streamed ([`Streamed`]). Up to
/// it, an answer holds at most as many records as a full page without `expand` (1,000),
/// which is encoded whole; the spawned encoder's cost (~10 µs) is noise next to encoding a
/// thousand records, and small expands (the benchmarked lists) keep the buffer.
pub const STREAM_ABOVE_EMBEDDED: u64 = 1000;

/// Size of the chunks a streamed answer is sent in.
const CHUNK: usize = 64 << 10;
/// Chunks encoded ahead of the client: a streamed answer holds at most this many plus
/// the one being filled, whatever its size.
const CHUNKS_AHEAD: usize = 4;

/// Streamed answers encoded at once; more wait for a turn. Each holds a thread of tokio's
/// blocking pool (512) for as long as its client takes to read, and that pool also runs
/// PostgreSQL writes and password hashing: clients that stop reading must not be able to
/// take it all. Encoding is CPU-bound, so more than the cores would gain nothing anyway.
const MAX_ENCODERS: usize = 16;
static ENCODERS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(MAX_ENCODERS);

/// A JSON answer (`application/json`), what handlers return.
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut buf = Vec::with_capacity(INITIAL_BUFFER);
        match serde_json::to_writer(&mut buf, &self.0) {
            Ok(()) => json_response(Body::from(buf)),
            Err(e) => {
                // Only a value serde cannot encode gets here (none of ours); not an
                // `ApiError`, whose own body is encoded by this very type.
                tracing::error!(error = %e, "response encoding failed");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

fn json_response(body: Body) -> Response {
    let mut res = Response::new(body);
    let headers = res.headers_mut();
    *headers = HeaderMap::with_capacity(ANSWER_HEADERS);
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    res
}

/// A JSON answer of records: [`Streamed`] when it embeds more than
/// [`STREAM_ABOVE_EMBEDDED`] expanded records, else [`Json`].
pub fn records_answer<T: Serialize + Send + 'static>(value: T, embedded: u64) -> Response {
    if embedded > STREAM_ABOVE_EMBEDDED {
        Streamed(value).into_response()
    } else {
        Json(value).into_response()
    }
}

/// A JSON answer encoded on a blocking thread into chunks sent to the body as the client
/// takes them, so the memory it takes is bounded by the value, not by the JSON. An
/// expanded answer writes each shared related record wherever it appears: up to a million
/// records (200 MB and more) from a graph of a few thousand. If the client goes away the
/// encoder stops at its next chunk.
pub struct Streamed<T>(pub T);

impl<T: Serialize + Send + 'static> IntoResponse for Streamed<T> {
    fn into_response(self) -> Response {
        let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(CHUNKS_AHEAD);
        tokio::spawn(async move {
            let Ok(turn) = ENCODERS.acquire().await else {
                return;
            };
            if tx.is_closed() {
                return; // The client left while the answer waited for its turn.
            }
            let encoded = tokio::task::spawn_blocking(move || {
                let _turn = turn;
                encode(&self.0, tx);
            });
            if let Err(e) = encoded.await {
                tracing::error!(error = %e, "response encoder failed");
            }
        });
        let chunks = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|chunk| (chunk, rx))
        });
        json_response(Body::from_stream(chunks))
    }
}

/// Writes `value` to `tx` in chunks; on failure the body ends in an error, so the client
/// sees a cut connection rather than a short answer that looks whole.
fn encode<T: Serialize>(value: &T, tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>) {
    let mut out = ChunkWriter {
        buf: Vec::with_capacity(CHUNK),
        tx,
    };
    let written = serde_json::to_writer(&mut out, value)
        .map_err(io::Error::from)
        .and_then(|()| out.send());
    if let Err(e) = written {
        if e.kind() != io::ErrorKind::BrokenPipe {
            tracing::error!(error = %e, "response encoding failed");
        }
        let _ = out.tx.blocking_send(Err(e));
    }
}

/// Collects encoded bytes into [`CHUNK`]-sized pieces for [`Streamed`]'s body.
struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<io::Result<Bytes>>,
}

impl ChunkWriter {
    /// Hands the filled buffer to the body; waits while the client is behind.
    fn send(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx
            .blocking_send(Ok(Bytes::from(chunk)))
            .map_err(|_| io::Error::from(io::ErrorKind::BrokenPipe))
    }
}

impl io::Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.send()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

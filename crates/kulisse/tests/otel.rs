//! OpenTelemetry export (issue #17; builds with the `otel` feature only): `kulisse serve`
//! with `OTEL_EXPORTER_OTLP_ENDPOINT` sends a server span per request over OTLP/HTTP, read
//! here by a receiver that decodes it with OpenTelemetry's own protobuf definitions (the
//! Python `opentelemetry-proto` package, in the interpreter `KULISSE_TEST_PYTHON` names).
//!
//! Run: `cargo test -p kulisse --features otel --test otel`. A test binary of its own (the
//! others share `tests/it`): it needs the binary built with the feature.
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Lines};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

use kulisse_testkit::engine_tests;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_kulisse");

/// An OTLP/HTTP receiver: prints its port, then each received span as a line of JSON.
const RECEIVER: &str = r#"
import json, sys
from http.server import BaseHTTPRequestHandler, HTTPServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest, ExportTraceServiceResponse)

def value(v):
    kind = v.WhichOneof("value")
    return getattr(v, kind) if kind else None

class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for rs in request.resource_spans:
            resource = {a.key: value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for span in ss.spans:
                    print(json.dumps({
                        "path": self.path,
                        "contentType": self.headers["Content-Type"],
                        "name": span.name,
                        "kind": span.kind,
                        "status": span.status.code,
                        "attributes": {a.key: value(a.value) for a in span.attributes},
                        "resource": resource,
                    }), flush=True)
        reply = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass

server = HTTPServer(("127.0.0.1", 0), Receiver)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

engine_tests!(every_request_is_exported_as_a_server_span,);

/// A child process, killed on drop.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn receiver() -> (Running, u16, Lines<BufReader<ChildStdout>>) {
    let python = std::env::var("KULISSE_TEST_PYTHON")
        .expect("KULISSE_TEST_PYTHON names a Python with opentelemetry-proto (scripts/test.sh)");
    let mut child = Command::new(python)
        .args(["-c", RECEIVER])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = lines.next().unwrap().unwrap().trim().parse().unwrap();
    (Running(child), port, lines)
}

/// `kulisse serve` exporting to `endpoint`, on a fresh data dir (or the database `db`).
fn serve(dir: &std::path::Path, db: Option<&str>, endpoint: &str) -> (Running, String) {
    let db_args: Vec<&str> = db.map(|url| vec!["--db", url]).unwrap_or_default();
    let mut child = Command::new(BIN)
        .args(["serve", "--http", "127.0.0.1:0", "--dir"])
        .arg(dir)
        .args(db_args)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
        .env("OTEL_BSP_SCHEDULE_DELAY", "100")
        .env_remove("OTEL_SERVICE_NAME")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let base = first
        .strip_prefix("Server started at ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    std::thread::spawn(move || lines.for_each(drop));
    (Running(child), base)
}

async fn every_request_is_exported_as_a_server_span() {
    let (_receiver, port, spans) = receiver();
    let dir = tempfile::tempdir().unwrap();
    let db = match kulisse_testkit::current_engine() {
        kulisse_testkit::TestEngine::Sqlite => None,
        kulisse_testkit::TestEngine::Postgres => Some(
            kulisse_testkit::fresh_database()
                .await
                .expect("a PostgreSQL server"),
        ),
    };
    let (_server, base) = serve(
        dir.path(),
        db.as_deref(),
        &format!("http://127.0.0.1:{port}"),
    );
    let http = reqwest::Client::new();
    for (path, status) in [
        ("/api/health", 200),
        ("/api/collections/users/records?perPage=1", 200),
        ("/api/collections/nope/records", 404),
    ] {
        let res = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{path}");
    }

    // The spans come in batches, a moment later; read until the three are in.
    let (found, rest) = tokio::task::spawn_blocking(move || {
        let mut spans = spans;
        let mut found: Vec<Value> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while found.len() < 3 && Instant::now() < deadline {
            let Some(Ok(line)) = spans.next() else { break };
            let span: Value = serde_json::from_str(&line).unwrap();
            if span["attributes"]["url.path"]
                .as_str()
                .is_some_and(|p| p.starts_with("/api/health") || p.starts_with("/api/collections/"))
            {
                found.push(span);
            }
        }
        (found, spans)
    })
    .await
    .unwrap();
    drop(rest);
    assert_eq!(found.len(), 3, "{found:?}");
    let span = |path: &str| {
        found
            .iter()
            .find(|s| s["attributes"]["url.path"] == path)
            .unwrap_or_else(|| panic!("no span of {path}: {found:?}"))
    };
    let health = span("/api/health");
    assert_eq!(health["path"], "/v1/traces");
    assert_eq!(health["contentType"], "application/x-protobuf");
    assert_eq!(health["name"], "GET /api/health");
    assert_eq!(health["kind"], 2, "SPAN_KIND_SERVER");
    assert_eq!(health["attributes"]["http.request.method"], "GET");
    assert_eq!(health["attributes"]["http.route"], "/api/health");
    assert_eq!(health["attributes"]["http.response.status_code"], 200);
    assert_eq!(health["resource"]["service.name"], "kulisse");
    let listed = span("/api/collections/users/records");
    assert_eq!(listed["name"], "GET /api/collections/{collection}/records");
    assert_eq!(
        listed["attributes"]["http.route"],
        "/api/collections/{collection}/records"
    );
    let missing = span("/api/collections/nope/records");
    assert_eq!(missing["attributes"]["http.response.status_code"], 404);
    assert_eq!(
        missing["status"], 0,
        "a 404 is the client's, not an error of the server"
    );
}

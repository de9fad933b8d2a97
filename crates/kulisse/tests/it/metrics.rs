//! Metrics (issue #17): `/metrics` in Prometheus's text format, parsed by Prometheus's
//! own Python client (`prometheus_client.parser`), never by patterns; requests counted by
//! route template and status; the stores', realtime's and the process's gauges; the bearer
//! token; and an address of its own (`--metrics-http`) on the built binary.
//!
//! A process has one recorder, and `cargo test` runs many servers in one process: what is
//! counted is counted on the built binary, in a process of its own.

use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use kulisse::http::HttpOptions;
use kulisse_testkit::{Sse, TestEngine, TestServer, current_engine, engine_tests};
use serde::Deserialize;
use serde_json::json;

use crate::process::ServerProcess;

engine_tests!(
    requests_are_counted_by_route_template_and_status,
    the_stores_realtime_and_the_process_are_measured,
    metrics_need_their_bearer_token,
    metrics_are_off_unless_turned_on,
    metrics_can_have_an_address_of_their_own,
);

#[tokio::test]
async fn each_node_counts_its_own_requests() {
    if kulisse_testkit::pg_admin_url().is_none() {
        return;
    }
    let a =
        ServerProcess::start_with_engine(TestEngine::Postgres, &["--metrics-token", TOKEN]).await;
    let b = a.join_with(&["--metrics-token", TOKEN]);
    public_collection(&a, "shared", "").await;
    let (s, body) = a
        .send(
            "POST",
            "/api/collections/shared/records",
            None,
            Some(json!({"title": "x"})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let path = format!("/api/collections/shared/records/{id}");
    for _ in 0..3 {
        assert_eq!(b.send("GET", &path, None, None).await.0, 200);
    }
    let view = [("route", RECORD), ("method", "GET"), ("status", "200")];
    let create = [("route", RECORDS), ("method", "POST"), ("status", "200")];
    let (on_a, on_b) = (scrape(&a).await, scrape(&b).await);
    assert_eq!(on_b.value("kulisse_http_requests_total", &view), 3.0);
    assert_eq!(on_a.value("kulisse_http_requests_total", &view), 0.0);
    assert_eq!(on_a.value("kulisse_http_requests_total", &create), 1.0);
    assert_eq!(on_b.value("kulisse_http_requests_total", &create), 0.0);
    // Both report the one database's pool, each its own connections.
    for node in [&on_a, &on_b] {
        let open = node.value(
            "kulisse_db_connections",
            &[("db", "data"), ("state", "open")],
        );
        assert!(open >= 1.0, "{open}");
    }
}

const TOKEN: &str = "scrape-me-0123456789";

/// Parses the text format with `prometheus_client`'s parser; prints every sample with its
/// family's type and help (infinities spelled out: JSON has none).
const PARSER: &str = r#"
import json, math, sys
from prometheus_client.parser import text_string_to_metric_families
out = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        value = s.value if math.isfinite(s.value) else str(s.value)
        out.append({"family": family.name, "kind": family.type, "help": family.documentation,
                    "name": s.name, "labels": s.labels, "value": value})
print(json.dumps(out))
"#;

/// One parsed sample.
#[derive(Debug, Deserialize)]
struct Sample {
    kind: String,
    help: String,
    name: String,
    labels: BTreeMap<String, String>,
    value: serde_json::Value,
}

impl Sample {
    fn value(&self) -> f64 {
        match &self.value {
            serde_json::Value::String(inf) => inf.parse().unwrap(),
            v => v.as_f64().unwrap(),
        }
    }
}

/// A parsed scrape.
struct Scrape(Vec<Sample>);

impl Scrape {
    /// Parses `text` with the Python interpreter of `KULISSE_TEST_PYTHON` (the test
    /// script's virtualenv), or `python3`, which must have `prometheus_client`.
    fn parse(text: &str) -> Scrape {
        let python = std::env::var("KULISSE_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
        let mut child = Command::new(&python)
            .args(["-c", PARSER])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
        child
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "prometheus_client refused the scrape (or is not installed for {python}; \
             scripts/test-servers-requirements.txt has it): {}\n{text}",
            String::from_utf8_lossy(&out.stderr)
        );
        Scrape(serde_json::from_slice(&out.stdout).unwrap())
    }

    /// The sample `name` with at least `labels`; 0 when it was never recorded.
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.find(name, labels).map_or(0.0, Sample::value)
    }

    fn find(&self, name: &str, labels: &[(&str, &str)]) -> Option<&Sample> {
        self.0.iter().find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
    }

    /// Whether any sample is called `name`.
    fn has(&self, name: &str) -> bool {
        self.0.iter().any(|s| s.name == name)
    }
}

async fn start() -> TestServer {
    TestServer::start_with(HttpOptions {
        metrics_token: Some(TOKEN.to_owned()),
        ..HttpOptions::default()
    })
    .await
}

/// Scrapes `url` with `token`, checks the answer's type, and parses it.
async fn scrape_at(client: &reqwest::Client, url: &str, token: Option<&str>) -> Scrape {
    let mut req = client.get(url);
    if let Some(token) = token {
        req = req.bearer_auth(token);
    }
    let res = req.send().await.unwrap();
    assert_eq!(res.status(), 200);
    let kind = res.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("text/plain; version=0.0.4"), "{kind}");
    Scrape::parse(&res.text().await.unwrap())
}

async fn scrape(node: &ServerProcess) -> Scrape {
    scrape_at(
        &reqwest::Client::new(),
        &format!("{}/metrics", node.base),
        Some(TOKEN),
    )
    .await
}

/// The built binary with metrics on the API's address.
async fn node() -> ServerProcess {
    ServerProcess::start_with(&["--metrics-token", TOKEN]).await
}

/// A collection `name` with a text field `title` that guests may view and create in, and
/// list under `list_rule`.
async fn public_collection(node: &ServerProcess, name: &str, list_rule: &str) {
    let su = node.superuser_token().await;
    let (s, body) = node
        .send(
            "POST",
            "/api/collections",
            Some(&su),
            Some(
                json!({"name": name, "type": "base", "fields": [{"name": "title", "type": "text"}],
                "listRule": list_rule, "viewRule": "", "createRule": ""}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
}

const RECORDS: &str = "/api/collections/{collection}/records";
const RECORD: &str = "/api/collections/{collection}/records/{id}";

async fn requests_are_counted_by_route_template_and_status() {
    let srv = node().await;
    public_collection(&srv, "notes", "title != ''").await;
    let before = scrape(&srv).await;
    let mut ids = Vec::new();
    for title in ["a", "b", "c"] {
        let (s, body) = srv
            .send(
                "POST",
                "/api/collections/notes/records",
                None,
                Some(json!({"title": title})),
            )
            .await;
        assert_eq!(s, 200, "{body}");
        ids.push(body["id"].as_str().unwrap().to_owned());
    }
    for id in &ids[..2] {
        let (s, _) = srv
            .send(
                "GET",
                &format!("/api/collections/notes/records/{id}"),
                None,
                None,
            )
            .await;
        assert_eq!(s, 200);
    }
    let (s, _) = srv
        .send(
            "GET",
            "/api/collections/notes/records/missing0000000",
            None,
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, _) = srv
        .send("GET", "/api/collections/notes/records?filter=(", None, None)
        .await;
    assert_eq!(s, 400);
    let after = scrape(&srv).await;

    let requests = |labels: &[(&str, &str)]| {
        after.value("kulisse_http_requests_total", labels)
            - before.value("kulisse_http_requests_total", labels)
    };
    assert_eq!(
        requests(&[("route", RECORDS), ("method", "POST"), ("status", "200")]),
        3.0
    );
    assert_eq!(
        requests(&[("route", RECORD), ("method", "GET"), ("status", "200")]),
        2.0
    );
    assert_eq!(
        requests(&[("route", RECORD), ("method", "GET"), ("status", "404")]),
        1.0
    );
    assert_eq!(
        requests(&[("route", RECORDS), ("method", "GET"), ("status", "400")]),
        1.0
    );
    let counted = after
        .find("kulisse_http_requests_total", &[("route", RECORD)])
        .unwrap();
    assert_eq!(counted.kind, "counter");
    assert!(counted.help.contains("route template"), "{}", counted.help);
    // Every path of a record is one series: no record id becomes a label.
    for sample in &after.0 {
        for value in sample.labels.values() {
            assert!(
                !ids.iter().any(|id| value.contains(id.as_str())),
                "{sample:?}"
            );
        }
    }
    // The latency histogram counts the same requests, in seconds.
    let timed = |scrape: &Scrape| {
        let view = [("route", RECORD), ("method", "GET")];
        scrape.value("kulisse_http_request_duration_seconds_count", &view)
    };
    assert_eq!(timed(&after) - timed(&before), 3.0);
    let bucket = |le| {
        after.find(
            "kulisse_http_request_duration_seconds_bucket",
            &[("route", RECORD), ("le", le)],
        )
    };
    assert_eq!(bucket("0.001").unwrap().kind, "histogram");
    assert!(bucket("+Inf").unwrap().value() >= 3.0);
    // The guest's list compiled the list rule.
    let compiled = |scrape: &Scrape| scrape.value("kulisse_rule_compile_seconds_count", &[]);
    assert!(compiled(&after) > compiled(&before));
}

async fn the_stores_realtime_and_the_process_are_measured() {
    let srv = node().await;
    public_collection(&srv, "posts", "").await;
    let sse = Sse::connect(&reqwest::Client::new(), &srv.base).await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/realtime",
            None,
            Some(json!({"clientId": sse.client_id, "subscriptions": ["posts", "posts/abc"]})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/posts/records",
            None,
            Some(json!({"title": "hi"})),
        )
        .await;
    assert_eq!(s, 200);

    // The record event reaches the client's outbox a moment after the commit.
    let settled = |now: &Scrape| {
        now.value("kulisse_realtime_messages_total", &[("kind", "record")]) >= 1.0
            && now.value("kulisse_realtime_clients", &[]) >= 1.0
            && now.value("kulisse_realtime_subscriptions", &[]) >= 2.0
    };
    let mut now = scrape(&srv).await;
    for _ in 0..100 {
        if settled(&now) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        now = scrape(&srv).await;
    }
    assert!(settled(&now), "{:?}", now.0);

    let open = now.value(
        "kulisse_db_connections",
        &[("db", "data"), ("state", "open")],
    );
    let max = now.value("kulisse_db_connections_max", &[("db", "data")]);
    assert!(open >= 1.0 && open <= max, "open {open} of {max}");
    assert!(now.has("kulisse_db_waiting"));
    assert!(now.value("kulisse_db_connections_max", &[("db", "logs")]) >= 1.0);
    match current_engine() {
        // The writes above went through the writer's group commit.
        TestEngine::Sqlite => {
            let commits = now.value("kulisse_sqlite_commit_batch_jobs_count", &[("db", "data")]);
            assert!(commits >= 2.0, "{commits} commits");
            assert!(now.has("kulisse_sqlite_commit_seconds_count"));
        }
        TestEngine::Postgres => {
            let idle = now.value(
                "kulisse_db_connections",
                &[("db", "data"), ("state", "idle")],
            );
            assert!(idle <= open, "idle {idle} of {open}");
            assert!(
                now.find("kulisse_db_connections", &[("state", "idle")])
                    .is_some()
            );
        }
    }
    assert!(now.has("kulisse_log_queue"));
    assert!(now.has("kulisse_log_entries_dropped_total"));
    assert!(now.value("process_resident_memory_bytes", &[]) > 1_000_000.0);
    assert!(now.has("process_cpu_seconds_total"));
    drop(sse);
}

async fn metrics_need_their_bearer_token() {
    let srv = start().await;
    for auth in [None, Some("Bearer wrong-token-0123456789"), Some(TOKEN)] {
        let mut req = srv.client.get(srv.url("/metrics"));
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 401, "{auth:?}");
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: serde_json::Value = res.json().await.unwrap();
        assert_eq!(body["status"], 401);
    }
    // A superuser's token is not the metrics token.
    let su = srv.superuser_token().await;
    let res = srv
        .client
        .get(srv.url("/metrics"))
        .bearer_auth(&su)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    scrape_at(&srv.client, &srv.url("/metrics"), Some(TOKEN)).await;
}

async fn metrics_are_off_unless_turned_on() {
    let srv = TestServer::start().await;
    let res = srv
        .client
        .get(srv.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

async fn metrics_can_have_an_address_of_their_own() {
    let node = ServerProcess::start_with(&["--metrics-http", "127.0.0.1:0"]).await;
    let at = node
        .banner
        .iter()
        .find_map(|l| l.strip_prefix("├─ Metrics:   "))
        .unwrap_or_else(|| panic!("no metrics line in {:?}", node.banner))
        .to_owned();
    assert_ne!(
        at,
        format!("{}/metrics", node.base),
        "an address of its own"
    );
    let (s, _) = node.send("GET", "/api/health", None, None).await;
    assert_eq!(s, 200);
    let client = reqwest::Client::new();
    let scraped = scrape_at(&client, &at, None).await;
    let health = [("route", "/api/health"), ("status", "200")];
    assert!(scraped.value("kulisse_http_requests_total", &health) >= 1.0);
    // The API's address has no `/metrics`, and the metrics address nothing else.
    let res = client
        .get(format!("{}/metrics", node.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = client
        .get(at.replace("/metrics", "/api/health"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

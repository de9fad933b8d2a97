//! Scenario tables from `tests/compat/*.json`, whose expectations were recorded against the
//! real PocketBase (see `tests/compat/verify_against_pocketbase.py`). Each file runs in
//! order against one fresh server. A step with a `deviation` key records where kulisse
//! differs on purpose (the value says why): its expectation is kulisse's, and the script
//! that checks the tables against PocketBase does not check it.

use std::collections::HashMap;

use serde_json::Value;

use kulisse_testkit::{SUPERUSER_EMAIL, SUPERUSER_PASSWORD, TestServer};

async fn run_file(name: &str) {
    let path = format!(
        "{}/../../tests/compat/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let steps: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let srv = TestServer::start().await;
    // The scenarios were recorded on PocketBase, whose rate limits are off by default.
    srv.without_rate_limits().await;
    let mut tokens: HashMap<String, String> = HashMap::new();
    let mut failures = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let name = step["name"].as_str().unwrap_or("?");
        let auth = step["auth"].as_str().unwrap_or("guest");
        let token = match auth {
            "guest" => None,
            "superuser" => Some(match tokens.get(auth) {
                Some(t) => t.clone(),
                None => {
                    srv.login("_superusers", SUPERUSER_EMAIL, SUPERUSER_PASSWORD)
                        .await
                }
            }),
            user => {
                let mut parts = user.splitn(3, ':');
                let (_, email, password) =
                    (parts.next(), parts.next().unwrap(), parts.next().unwrap());
                Some(srv.login("users", email, password).await)
            }
        };
        if auth == "superuser"
            && let Some(t) = &token
        {
            tokens.insert(auth.to_owned(), t.clone());
        }
        let method = step["method"].as_str().unwrap();
        let mut req = srv.client.request(
            method.parse().unwrap(),
            srv.url(step["path"].as_str().unwrap()),
        );
        if let Some(t) = &token {
            req = req.header("Authorization", t);
        }
        if let Some(headers) = step["headers"].as_object() {
            for (k, v) in headers {
                req = req.header(k, v.as_str().unwrap());
            }
        }
        if let Some(raw) = step["rawBody"].as_str() {
            req = req.body(raw.to_owned());
            if let Some(ct) = step["contentType"].as_str() {
                req = req.header("Content-Type", ct);
            }
        } else if !step["body"].is_null() {
            req = req.json(&step["body"]);
        }
        let res = req.send().await.unwrap();
        let status = res.status().as_u16();
        let bytes = res.bytes().await.unwrap();
        let actual: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        let mut problems = Vec::new();
        if status != step["status"].as_u64().unwrap() as u16 {
            problems.push(format!("status {status}, expected {}", step["status"]));
        }
        if let Some(expected) = step.get("json") {
            matches(expected, &actual, "$", &mut problems);
            if step["exactKeys"].as_bool() == Some(true) {
                exact_keys(expected, &actual, &mut problems);
            }
        }
        for path in step["absent"].as_array().into_iter().flatten() {
            if lookup(&actual, path.as_str().unwrap()).is_some() {
                problems.push(format!("{path} should be absent"));
            }
        }
        if !problems.is_empty() {
            failures.push(format!(
                "step {i} `{name}`: {}\n    actual: {actual}",
                problems.join("; ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{name}: {} of {} steps failed:\n{}",
        failures.len(),
        steps.len(),
        failures.join("\n")
    );
}

fn matches(expected: &Value, actual: &Value, at: &str, problems: &mut Vec<String>) {
    match (expected, actual) {
        (Value::String(s), a) if s == "*" => {
            let _ = a;
        }
        (Value::String(s), Value::String(a)) if s == "*date" => {
            if !is_date(a) {
                problems.push(format!("{at}: {a:?} is not a datetime"));
            }
        }
        (Value::String(s), Value::String(a)) if s == "*id" => {
            if a.len() != 15
                || !a
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                problems.push(format!("{at}: {a:?} is not an id"));
            }
        }
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => matches(ev, av, &format!("{at}.{k}"), problems),
                    None => problems.push(format!("{at}.{k} missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                problems.push(format!("{at}: {} items, expected {}", a.len(), e.len()));
            } else {
                for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                    matches(ev, av, &format!("{at}[{i}]"), problems);
                }
            }
        }
        (Value::Number(e), Value::Number(a)) => {
            let same_kind = e.is_f64() == a.is_f64();
            if !same_kind || e.as_f64() != a.as_f64() {
                problems.push(format!("{at}: {a}, expected {e}"));
            }
        }
        (e, a) if e == a => {}
        (e, a) => problems.push(format!("{at}: {a}, expected {e}")),
    }
}

fn exact_keys(expected: &Value, actual: &Value, problems: &mut Vec<String>) {
    let pairs: Vec<(&Value, &Value)> = match (expected.get("items"), actual.get("items")) {
        (Some(Value::Array(e)), Some(Value::Array(a))) => e.iter().zip(a).collect(),
        _ => vec![(expected, actual)],
    };
    for (e, a) in pairs {
        if let (Some(e), Some(a)) = (e.as_object(), a.as_object()) {
            let mut ek: Vec<&String> = e.keys().collect();
            let mut ak: Vec<&String> = a.keys().collect();
            ek.sort();
            ak.sort();
            if ek != ak {
                problems.push(format!("keys {ak:?}, expected {ek:?}"));
            }
        }
    }
}

fn lookup<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |cur, seg| match cur {
        Value::Array(items) => seg.parse::<usize>().ok().and_then(|i| items.get(i)),
        Value::Object(map) => map.get(seg),
        _ => None,
    })
}

fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 24
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b' '
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'.'
        && b[23] == b'Z'
        && s.chars().filter(char::is_ascii_digit).count() == 17
}

macro_rules! scenario_files {
    ($($file:ident),* $(,)?) => {
        $(
            async fn $file() {
                run_file(stringify!($file)).await;
            }
        )*
        kulisse_testkit::engine_tests!($($file),*);
    };
}

scenario_files!(
    health_and_errors,
    collections,
    records_crud,
    records_list,
    records_filter,
    auth,
    rules_matrix,
    filter_relations,
    filter_request,
    expand,
    batch
);

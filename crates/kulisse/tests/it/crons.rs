//! Scheduled jobs (issue #18, spec §8.5): PocketBase's built-in jobs listed in its shape,
//! started on demand by superusers, and each doing its work.

use std::time::Duration;

use kulisse_testkit::{TestServer, engine_tests};
use serde_json::{Value, json};

engine_tests!(
    the_crons_are_pocketbases_and_only_superusers_see_or_start_them,
    the_cleanups_delete_what_expired_and_keep_the_rest,
    the_logs_cleanup_keeps_logs_maxdays,
);

async fn the_crons_are_pocketbases_and_only_superusers_see_or_start_them() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    srv.create_user("cron@example.com", "cron-password").await;
    let user = srv
        .login("users", "cron@example.com", "cron-password")
        .await;
    let (s, body) = srv.send("GET", "/api/crons", Some(&su), None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        body,
        json!([
            {"id": "__pbDBOptimize__", "expression": "0 0 * * *"},
            {"id": "__pbMFACleanup__", "expression": "0 * * * *"},
            {"id": "__pbOTPCleanup__", "expression": "0 * * * *"},
            {"id": "__pbLogsCleanup__", "expression": "0 */6 * * *"},
        ])
    );
    assert_eq!(srv.send("GET", "/api/crons", None, None).await.0, 401);
    assert_eq!(
        srv.send("GET", "/api/crons", Some(&user), None).await.0,
        403
    );
    let (s, _) = srv
        .send("POST", "/api/crons/__pbDBOptimize__", Some(&user), None)
        .await;
    assert_eq!(s, 403);
    let (s, body) = srv.send("POST", "/api/crons/nope", Some(&su), None).await;
    assert_eq!(
        (s, body),
        (
            404,
            json!({"status": 404, "message": "Missing or invalid cron job.", "data": {}})
        )
    );
    let (s, body) = srv
        .send("POST", "/api/crons/__pbDBOptimize__", Some(&su), None)
        .await;
    assert_eq!((s, body), (204, Value::Null));
}

/// The ids of `system`'s rows, as a superuser lists them.
async fn ids(srv: &TestServer, su: &str, system: &str) -> Vec<String> {
    let (s, body) = srv
        .send(
            "GET",
            &format!("/api/collections/{system}/records?perPage=100&sort=id"),
            Some(su),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Starts `job` and waits until `system`'s rows are `want`.
async fn run_until(srv: &TestServer, su: &str, job: &str, system: &str, want: &[&str]) {
    let (s, body) = srv
        .send("POST", &format!("/api/crons/{job}"), Some(su), None)
        .await;
    assert_eq!(s, 204, "{body}");
    let mut last = Vec::new();
    for _ in 0..100 {
        last = ids(srv, su, system).await;
        if last == want {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{job} left {last:?} in {system}, not {want:?}");
}

async fn the_cleanups_delete_what_expired_and_keep_the_rest() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let user = srv.create_user("spent@example.com", "spent-password").await;
    let (_, users) = srv
        .send("GET", "/api/collections/users", Some(&su), None)
        .await;
    // otp.duration is 180 s and mfa.duration 1800 s by default: one row of each long
    // expired, one just made.
    let (c, r) = (users["id"].as_str().unwrap(), user["id"].as_str().unwrap());
    let now = kulisse_schema::datetime::now();
    let old = "2020-01-01 00:00:00.000Z";
    crate::db::execute(
        &srv,
        &format!(
            r#"INSERT INTO "_otps" (id, "collectionRef", "recordRef", created, updated) VALUES
                 ('otpexpired00000', '{c}', '{r}', '{old}', '{old}'),
                 ('otpfresh0000000', '{c}', '{r}', '{now}', '{now}');
               INSERT INTO "_mfas" (id, "collectionRef", "recordRef", method, created, updated) VALUES
                 ('mfaexpired00000', '{c}', '{r}', 'password', '{old}', '{old}'),
                 ('mfafresh0000000', '{c}', '{r}', 'password', '{now}', '{now}');"#
        ),
    )
    .await;
    assert_eq!(ids(&srv, &su, "_otps").await.len(), 2);
    run_until(&srv, &su, "__pbOTPCleanup__", "_otps", &["otpfresh0000000"]).await;
    assert_eq!(
        ids(&srv, &su, "_mfas").await.len(),
        2,
        "only the OTPs were cleaned"
    );
    run_until(&srv, &su, "__pbMFACleanup__", "_mfas", &["mfafresh0000000"]).await;
}

async fn the_logs_cleanup_keeps_logs_maxdays() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let old = "2020-01-01 00:00:00.000Z";
    // The log's store is not the data's: its old entry comes through the API's own
    // requests, then is dated back.
    assert_eq!(
        srv.send("GET", "/api/health?old=1", None, None).await.0,
        200
    );
    let entries = |filter: &'static str| {
        let (srv, su) = (&srv, su.clone());
        async move {
            let path = format!("/api/logs?filter={}", kulisse_testkit::urlencode(filter));
            let (s, body) = srv.send("GET", &path, Some(&su), None).await;
            assert_eq!(s, 200, "{body}");
            body["totalItems"].as_i64().unwrap()
        }
    };
    for _ in 0..100 {
        if entries("data.url = '/api/health?old=1'").await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    crate::db::execute_in_log(
        &srv,
        &format!(r#"UPDATE "_logs" SET created = '{old}' WHERE message LIKE '%old=1'"#),
    )
    .await;
    assert_eq!(entries("created < '2021-01-01'").await, 1);
    let (s, _) = srv
        .send("POST", "/api/crons/__pbLogsCleanup__", Some(&su), None)
        .await;
    assert_eq!(s, 204);
    for _ in 0..100 {
        if entries("created < '2021-01-01'").await == 0 {
            assert!(
                entries("created >= '2021-01-01'").await > 0,
                "recent entries stay"
            );
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the old entry was never deleted");
}

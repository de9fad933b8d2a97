//! `GET/HEAD /api/health`.

use crate::json::Json;
use serde_json::{Value, json};

use axum::extract::State;
use kulisse_core::health::StoreCheck;

use crate::AppState;
use crate::extract::{Peer, Req, real_ip};

/// PocketBase's health answer; superusers also get PocketBase's diagnostics and kulisse's
/// readiness checks (worked out only for them: health is polled often). `canBackup` says
/// whether this node could start a backup now (none being made or restored here).
/// The answer stays 200 when a check fails, as PocketBase's does; `data.ready` says it.
pub async fn health(State(s): State<AppState>, Req(req): Req, Peer(peer): Peer) -> Json<Value> {
    let data = if req.auth.is_superuser() {
        let proxy = s.services.settings.trusted_proxy();
        let ip = real_ip(&req.headers, peer, &proxy);
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        let readiness = s.services.readiness().await;
        json!({
            "canBackup": s.services.backups.as_ref().is_some_and(|b| b.can_backup()),
            "realIP": ip,
            "possibleProxyHeader": "",
            "ready": readiness.ready,
            "database": store_check(&readiness.database),
            "logs": readiness.logs.as_ref().map(|l| json!({
                "store": store_check(&l.store),
                "queued": l.queued,
                "dropped": l.dropped,
            })),
            "realtime": {"clients": readiness.realtime_clients},
        })
    } else {
        json!({})
    };
    Json(json!({"message": "API is healthy.", "code": 200, "data": data}))
}

fn store_check(check: &StoreCheck) -> Value {
    json!({
        "engine": check.engine,
        "ok": check.ok,
        "tookMs": check.took.as_secs_f64() * 1000.0,
        "error": check.error,
    })
}

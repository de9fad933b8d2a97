//! `GET/HEAD /api/health`.

use crate::json::Json;
use serde_json::{Value, json};

use axum::extract::State;

use crate::AppState;
use crate::extract::{Peer, Req, real_ip};

/// PocketBase's health answer; superusers also get a few diagnostics (the client's address
/// is worked out only for them: health is polled often). `canBackup` is false: kulisse has
/// no backups yet, and a monitor must not believe it could take one.
pub async fn health(State(s): State<AppState>, Req(req): Req, Peer(peer): Peer) -> Json<Value> {
    let data = if req.auth.is_superuser() {
        let proxy = s.services.settings.trusted_proxy();
        let ip = real_ip(&req.headers, peer, &proxy);
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        json!({"canBackup": false, "realIP": ip, "possibleProxyHeader": ""})
    } else {
        json!({})
    };
    Json(json!({"message": "API is healthy.", "code": 200, "data": data}))
}

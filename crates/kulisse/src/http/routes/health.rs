//! `GET/HEAD /api/health`.

use crate::http::json::Json;
use serde_json::{Value, json};

use crate::http::extract::{RemoteIp, Req};

/// PocketBase's health answer; superusers also get a few diagnostics. `canBackup` is
/// false: kulisse has no backups yet, and a monitor must not believe it could take one.
pub async fn health(Req(req): Req, RemoteIp(ip): RemoteIp) -> Json<Value> {
    let data = if req.auth.is_superuser() {
        let ip = ip.map(|ip| ip.to_string()).unwrap_or_default();
        json!({"canBackup": false, "realIP": ip, "possibleProxyHeader": ""})
    } else {
        json!({})
    };
    Json(json!({"message": "API is healthy.", "code": 200, "data": data}))
}

//! Backups (spec §8.4): `GET /api/backups`, `POST /api/backups`,
//! `POST /api/backups/upload`, `GET` and `DELETE /api/backups/{key}`,
//! `POST /api/backups/{key}/restore`.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use kulisse_core::backups::{BackupInfo, BackupService};
use serde_json::Value;

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{BackupBody, FormBody, Req, WriteBody};
use crate::json::Json;

fn service(s: &AppState) -> Result<&BackupService, ApiError> {
    s.services.backups.as_ref().ok_or_else(ApiError::not_found)
}

/// `GET /api/backups`
pub async fn list(
    State(s): State<AppState>,
    Req(req): Req,
) -> Result<Json<Vec<BackupInfo>>, ApiError> {
    Ok(Json(service(&s)?.list(&req.auth).await?))
}

/// `POST /api/backups` `{"name"}` (optional): 204 once the backup is stored.
pub async fn create(
    State(s): State<AppState>,
    Req(req): Req,
    WriteBody(body, _): WriteBody<FormBody>,
) -> Result<StatusCode, ApiError> {
    // A name that is no text is checked as its JSON text, so the name rule refuses it.
    let name = match body.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(other) => Some(other.to_string()),
    };
    service(&s)?.create(&req.auth, name.as_deref()).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/backups/upload` (multipart `file`, a zip): 204 once it is stored. Only a
/// superuser's body is read.
pub async fn upload(State(s): State<AppState>, req: Request) -> Result<StatusCode, ApiError> {
    let (mut parts, body) = req.into_parts();
    let Req(info) = Req::from_request_parts(&mut parts, &s).await?;
    let backups = service(&s)?;
    backups.may_upload(&info.auth)?;
    let WriteBody(_, files) =
        WriteBody::<BackupBody>::from_request(Request::from_parts(parts, body), &s).await?;
    let file = files.uploads.iter().find(|u| u.key == "file");
    backups
        .upload(
            &info.auth,
            file.map(|f| (f.name.as_str(), f.path.as_path())),
        )
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/backups/{key}/restore`: 204 once the data is the backup's (the server runs
/// on; PocketBase restarts).
pub async fn restore(
    State(s): State<AppState>,
    Req(req): Req,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    service(&s)?.restore(&req.auth, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/backups/{key}`
pub async fn delete(
    State(s): State<AppState>,
    Req(req): Req,
    Path(key): Path<String>,
) -> Result<StatusCode, ApiError> {
    service(&s)?.delete(&req.auth, &key).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/backups/{key}?token=`: the zip, for a superuser's file token.
pub async fn download(
    State(s): State<AppState>,
    Req(req): Req,
    Path(key): Path<String>,
) -> Result<Response, ApiError> {
    let token = req.query.get("token").map_or("", String::as_str);
    let blob = service(&s)?.download(token, &key).await?;
    let mut response = Response::new(Body::from_stream(blob.body));
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/zip"));
    headers.insert(CONTENT_LENGTH, HeaderValue::from(blob.size));
    // The key passed the backups' name rule: it is safe in a header.
    if let Ok(disposition) = HeaderValue::from_str(&format!("attachment; filename=\"{key}\"")) {
        headers.insert(CONTENT_DISPOSITION, disposition);
    }
    Ok(response)
}

//! The API error: PocketBase's `{"data","message","status"}`. This file is the only place
//! that picks HTTP status codes for domain errors.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kulisse_core::CoreError;
use kulisse_core::StoreError;
use kulisse_core::auth::AuthError;
use kulisse_core::backups::BackupError;
use kulisse_core::collections::CollectionsError;
use kulisse_core::query::QueryError;
use kulisse_core::realtime::RealtimeError;
use kulisse_core::records::{BatchError, RecordsError};
use kulisse_core::settings::SettingsError;
use kulisse_schema::errors::sentenize;
use kulisse_schema::{FieldError, FieldErrors};
use serde_json::{Map, Value, json};

/// An error response.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    data: Value,
}

impl ApiError {
    /// Any status and message, empty `data`. Private: statuses are picked in this file.
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            data: json!({}),
        }
    }

    /// 404 "The requested resource wasn't found."
    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "The requested resource wasn't found.",
        )
    }

    /// 401 with `message`: credentials other than a record's token are missing or wrong.
    pub fn unauthorized(message: &'static str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }

    /// 404 "File not found.": PocketBase's static-file fallback.
    pub fn file_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "File not found.")
    }

    /// 400 with PocketBase's generic message.
    pub fn bad_request() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            kulisse_core::error::GENERIC_BAD_REQUEST,
        )
    }

    /// 400 for a body that cannot be decoded; PocketBase words it per endpoint family.
    pub fn malformed_body(message: &'static str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }

    /// 400 "Unsupported Content-Type." for a body in an encoding PocketBase does not read.
    pub fn unsupported_content_type() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Unsupported Content-Type.")
    }

    /// 400 for an uploaded file in form field `field` of a body that takes no files
    /// (settings, collections, auth forms): refused rather than dropped, so nobody
    /// believes it stored.
    pub fn files_not_taken(field: &str) -> Self {
        let mut errs = FieldErrors::new();
        errs.add(
            field,
            FieldError::not_supported("This request takes no files."),
        );
        Self::new(StatusCode::BAD_REQUEST, "Files are not accepted here.").with_data(errs.to_json())
    }

    /// 400 "Batch transaction failed.": the batch was rolled back because sub-request
    /// `index` failed with `response`, which is embedded as PocketBase does.
    pub fn batch_failed(index: usize, response: &ApiError) -> Self {
        let mut requests = Map::new();
        requests.insert(
            index.to_string(),
            json!({"code": "batch_request_failed", "message": "Batch request failed.", "response": response.body()}),
        );
        Self::new(StatusCode::BAD_REQUEST, "Batch transaction failed.")
            .with_data(json!({"requests": requests}))
    }

    /// 429 "Too Many Requests." (a rate limit).
    pub fn too_many_requests() -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests.")
    }

    /// 413 "Request entity too large."
    pub fn too_large() -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "Request entity too large.")
    }

    /// Replaces `data` (field errors).
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = data;
        self
    }
    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The JSON body (also embedded in batch failures).
    pub fn body(&self) -> Value {
        json!({"data": self.data, "message": sentenize(&self.message), "status": self.status.as_u16()})
    }
}

/// An error answer's message and field errors, kept on the response for its request log
/// entry.
#[derive(Clone)]
pub(crate) struct LoggedError {
    pub(crate) message: String,
    pub(crate) data: Value,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let message = LoggedError {
            message: self.message.clone(),
            data: self.data.clone(),
        };
        let mut res = (self.status, super::json::Json(self.body())).into_response();
        res.extensions_mut().insert(message);
        res
    }
}

impl From<CoreError> for ApiError {
    fn from(e: CoreError) -> Self {
        let status = status_of(&e);
        let message = e.message().into_owned();
        let data = match e {
            CoreError::Invalid { errors, .. } => errors.to_json(),
            CoreError::Batch(e) => e.field_errors().to_json(),
            // PB compat: PocketBase's `data` stays empty; kulisse adds what is wrong with
            // the parameter, unsentenized since it quotes the client's text.
            CoreError::Query(e) => e.problem().map_or_else(
                || json!({}),
                |p| json!({ p.param: {"code": p.code, "message": p.reason} }),
            ),
            // PocketBase answers a query stopped by its timeout (or a dropped client, whose
            // answer nobody reads) with its generic 400.
            CoreError::Store(StoreError::Interrupted) => {
                tracing::warn!("query interrupted: past the query timeout or abandoned");
                json!({})
            }
            CoreError::Store(StoreError::Unavailable) => json!({}),
            CoreError::Store(StoreError::NoSpace) => {
                tracing::error!("the database has no space left: writes fail until it has");
                json!({})
            }
            CoreError::Store(cause) => {
                tracing::error!(error = %cause, "storage failure");
                json!({})
            }
            CoreError::Records(
                RecordsError::FileStorage(cause) | RecordsError::FileUnavailable(cause),
            ) => {
                tracing::error!(error = %cause, "file storage failure");
                json!({})
            }
            CoreError::Records(_)
            | CoreError::Collections(_)
            | CoreError::Auth(_)
            | CoreError::Settings(_)
            | CoreError::Realtime(_)
            | CoreError::Backups(_)
            | CoreError::UnknownCollection
            | CoreError::NotFound
            | CoreError::UnknownCron
            | CoreError::SuperusersOnly => json!({}),
        };
        ApiError {
            status,
            message,
            data,
        }
    }
}

/// The one table from domain errors to statuses, PocketBase's for each case. No wildcard
/// arms: a new variant does not compile until it has its status here.
fn status_of(e: &CoreError) -> StatusCode {
    const BAD_REQUEST: StatusCode = StatusCode::BAD_REQUEST;
    const UNAUTHORIZED: StatusCode = StatusCode::UNAUTHORIZED;
    const FORBIDDEN: StatusCode = StatusCode::FORBIDDEN;
    const NOT_FOUND: StatusCode = StatusCode::NOT_FOUND;
    match e {
        CoreError::Records(e) => match e {
            RecordsError::UnknownCollectionForWrite => NOT_FOUND,
            RecordsError::ViewNotWritable
            | RecordsError::CascadeTooDeep
            | RecordsError::OnlySuperuser
            | RecordsError::RequiredReference
            | RecordsError::FileStorage(_) => BAD_REQUEST,
            RecordsError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            RecordsError::FileUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
        },
        CoreError::Batch(e) => match e {
            BatchError::Disabled => FORBIDDEN,
            BatchError::NoRequests | BatchError::TooManyRequests { .. } | BatchError::Timeout => {
                BAD_REQUEST
            }
        },
        CoreError::Collections(e) => match e {
            CollectionsError::BodyNotAnObject
            | CollectionsError::MalformedField
            | CollectionsError::SystemNotDeletable
            | CollectionsError::ReadByView
            | CollectionsError::Referenced { .. }
            | CollectionsError::ReferencedByRules { .. }
            | CollectionsError::ViewNotTruncatable
            | CollectionsError::SuperusersNotTruncatable => BAD_REQUEST,
        },
        CoreError::Auth(e) => match e {
            AuthError::UnknownCollection | AuthError::NotAuthCollection => NOT_FOUND,
            AuthError::TokenRequired => UNAUTHORIZED,
            AuthError::TooManyOtpAttempts => StatusCode::TOO_MANY_REQUESTS,
            AuthError::PasswordAuthDisabled
            | AuthError::OtpDisabled
            | AuthError::OAuth2Disabled
            | AuthError::AuthLocked
            | AuthError::AuthRuleUnmet
            | AuthError::OtherCollection { .. }
            | AuthError::SuperuserRequired
            | AuthError::SuperuserIpNotAllowed => FORBIDDEN,
            AuthError::InvalidCredentials
            | AuthError::InvalidOtp
            | AuthError::OAuth2Token
            | AuthError::OAuth2User
            | AuthError::InvalidMfa
            | AuthError::MfaOfAnotherRecord
            | AuthError::MfaSameMethod
            | AuthError::InvalidSuperuserEmail { .. }
            | AuthError::SuperuserPasswordTooShort
            | AuthError::SuperuserExists { .. }
            | AuthError::InvalidInstallToken
            | AuthError::InstallBusy
            | AuthError::AlreadyInstalled => BAD_REQUEST,
        },
        CoreError::Settings(e) => match e {
            SettingsError::NotAnObject
            | SettingsError::Malformed
            | SettingsError::S3Test(_)
            | SettingsError::EmailTest(_) => BAD_REQUEST,
        },
        CoreError::Query(e) => match e {
            QueryError::FilterByRequest | QueryError::FilterByCollection => FORBIDDEN,
            QueryError::BlankFilter
            | QueryError::InvalidFilter { .. }
            | QueryError::InvalidSort { .. }
            | QueryError::ExpandTooLarge { .. }
            | QueryError::BrokenRule { .. } => BAD_REQUEST,
        },
        CoreError::Realtime(e) => match e {
            RealtimeError::UnknownClient => NOT_FOUND,
            RealtimeError::AuthMismatch => FORBIDDEN,
        },
        CoreError::Backups(e) => match e {
            BackupError::NoAccess => FORBIDDEN,
            BackupError::Busy
            | BackupError::NotMade(_)
            | BackupError::Failed(_)
            | BackupError::Unrestorable(_) => BAD_REQUEST,
        },
        CoreError::UnknownCollection | CoreError::NotFound | CoreError::UnknownCron => NOT_FOUND,
        CoreError::SuperusersOnly => FORBIDDEN,
        CoreError::Invalid { .. } => BAD_REQUEST,
        CoreError::Store(StoreError::Unavailable | StoreError::Io(_)) => {
            StatusCode::SERVICE_UNAVAILABLE
        }
        CoreError::Store(StoreError::NoSpace) => StatusCode::INSUFFICIENT_STORAGE,
        CoreError::Store(_) => BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use kulisse_core::error::Form;
    use kulisse_schema::FieldErrors;

    use super::*;

    /// Every domain error with the status, message and `data` PocketBase answers it with.
    fn table() -> Vec<(CoreError, u16, &'static str, Value)> {
        let generic = kulisse_core::error::GENERIC_BAD_REQUEST;
        let mut required = FieldErrors::new();
        required.add("identity", FieldError::required());
        vec![
            (
                CoreError::UnknownCollection,
                404,
                "Missing collection context.",
                json!({}),
            ),
            (
                CoreError::NotFound,
                404,
                "The requested resource wasn't found.",
                json!({}),
            ),
            (
                CoreError::SuperusersOnly,
                403,
                "Only superusers can perform this action.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::Request, required),
                400,
                "An error occurred while validating the submitted data.",
                json!({"identity": {"code": "validation_required", "message": "Cannot be blank."}}),
            ),
            (
                CoreError::invalid(Form::RecordCreate, FieldErrors::new()),
                400,
                "Failed to create record.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::RecordUpdate, FieldErrors::new()),
                400,
                "Failed to update record.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::CollectionCreate, FieldErrors::new()),
                400,
                "Failed to create collection.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::CollectionUpdate, FieldErrors::new()),
                400,
                "Failed to update collection.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::CollectionsImport, FieldErrors::new()),
                400,
                "Failed to import collections.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::Settings, FieldErrors::new()),
                400,
                "An error occurred while saving the new settings.",
                json!({}),
            ),
            (
                CoreError::invalid(Form::Batch, FieldErrors::new()),
                400,
                "Invalid batch request data.",
                json!({}),
            ),
            (
                RecordsError::UnknownCollectionForWrite.into(),
                404,
                "Missing or invalid collection context.",
                json!({}),
            ),
            (
                RecordsError::ViewNotWritable.into(),
                400,
                "Unsupported collection type.",
                json!({}),
            ),
            (
                RecordsError::CascadeTooDeep.into(),
                400,
                "Failed to delete record: the cascade is too deep.",
                json!({}),
            ),
            (
                RecordsError::OnlySuperuser.into(),
                400,
                "You can't delete the only existing superuser.",
                json!({}),
            ),
            (
                RecordsError::RequiredReference.into(),
                400,
                "Failed to delete record. Make sure that the record is not part of a required relation reference.",
                json!({}),
            ),
            (
                RecordsError::FileStorage("disk full".into()).into(),
                400,
                "Failed to upload the files.",
                json!({}),
            ),
            (
                RecordsError::FileUnavailable("bucket gone".into()).into(),
                503,
                "The service is temporarily unavailable.",
                json!({}),
            ),
            (
                RecordsError::RangeNotSatisfiable { size: 5 }.into(),
                416,
                "The requested range is not satisfiable.",
                json!({}),
            ),
            (
                BatchError::Disabled.into(),
                403,
                "Batch requests are not allowed.",
                json!({}),
            ),
            (
                BatchError::NoRequests.into(),
                400,
                "Invalid batch request data.",
                json!({"requests": {"code": "validation_required", "message": "Cannot be blank."}}),
            ),
            (
                BatchError::TooManyRequests { max: 50 }.into(),
                400,
                "Invalid batch request data.",
                json!({"requests": {
                    "code": "validation_length_too_long",
                    "message": "The length must be no more than 50.",
                    "params": {"max": 50, "min": 0}
                }}),
            ),
            (
                BatchError::Timeout.into(),
                400,
                "Batch transaction timeout.",
                json!({}),
            ),
            (
                CollectionsError::BodyNotAnObject.into(),
                400,
                "Failed to load the collection type data due to invalid formatting.",
                json!({}),
            ),
            (
                CollectionsError::MalformedField.into(),
                400,
                "Failed to load the submitted data due to invalid formatting.",
                json!({}),
            ),
            (
                CollectionsError::SystemNotDeletable.into(),
                400,
                "Failed to delete collection.",
                json!({}),
            ),
            (
                CollectionsError::ReadByView.into(),
                400,
                "Failed to delete collection.",
                json!({}),
            ),
            (
                CollectionsError::Referenced {
                    by: vec!["a".into(), "b".into()],
                }
                .into(),
                400,
                "Failed to delete collection probably due to existing reference in a, b.",
                json!({}),
            ),
            (
                CollectionsError::ReferencedByRules { by: "posts".into() }.into(),
                400,
                "Failed to delete collection because the API rules of posts reference it.",
                json!({}),
            ),
            (
                CollectionsError::ViewNotTruncatable.into(),
                400,
                "View collections cannot be truncated since they don't store their own records.",
                json!({}),
            ),
            (
                CollectionsError::SuperusersNotTruncatable.into(),
                400,
                "Failed to truncate collection (most likely due to required cascade delete record references).",
                json!({}),
            ),
            (
                AuthError::UnknownCollection.into(),
                404,
                "Missing or invalid collection context.",
                json!({}),
            ),
            (
                AuthError::NotAuthCollection.into(),
                404,
                "Missing or invalid auth collection context.",
                json!({}),
            ),
            (
                AuthError::PasswordAuthDisabled.into(),
                403,
                "The collection is not configured to allow password authentication.",
                json!({}),
            ),
            (
                AuthError::InvalidCredentials.into(),
                400,
                "Failed to authenticate.",
                json!({}),
            ),
            (
                AuthError::AuthLocked.into(),
                403,
                "The request doesn't satisfy the collection requirements to authenticate.",
                json!({}),
            ),
            (
                AuthError::AuthRuleUnmet.into(),
                403,
                "The request doesn't satisfy the collection requirements to authenticate.",
                json!({}),
            ),
            (
                AuthError::TokenRequired.into(),
                401,
                "The request requires valid record authorization token.",
                json!({}),
            ),
            (
                AuthError::OtherCollection {
                    collection: "users".into(),
                }
                .into(),
                403,
                "The request requires auth record from users collection.",
                json!({}),
            ),
            (
                AuthError::SuperuserRequired.into(),
                403,
                "The authorized record is not allowed to perform this action.",
                json!({}),
            ),
            (
                AuthError::SuperuserIpNotAllowed.into(),
                403,
                "You are not allowed to perform this request.",
                json!({}),
            ),
            (
                AuthError::InvalidSuperuserEmail { email: "x".into() }.into(),
                400,
                "Invalid email \"x\".",
                json!({}),
            ),
            (
                AuthError::SuperuserPasswordTooShort.into(),
                400,
                "The password must be at least 8 characters.",
                json!({}),
            ),
            (
                AuthError::SuperuserExists {
                    email: "a@b.c".into(),
                }
                .into(),
                400,
                "Superuser a@b.c already exists.",
                json!({}),
            ),
            (
                AuthError::InvalidInstallToken.into(),
                400,
                "The install link is invalid or has expired. Restart kulisse for a new one.",
                json!({}),
            ),
            (
                AuthError::AlreadyInstalled.into(),
                400,
                "A superuser already exists. Sign in instead.",
                json!({}),
            ),
            (
                AuthError::InstallBusy.into(),
                400,
                "The first superuser is being created right now. Reload the page in a moment.",
                json!({}),
            ),
            (SettingsError::NotAnObject.into(), 400, generic, json!({})),
            (
                SettingsError::Malformed.into(),
                400,
                "An error occurred while loading the submitted data.",
                json!({}),
            ),
            (
                QueryError::FilterByRequest.into(),
                403,
                "Only superusers can filter by @request.",
                json!({}),
            ),
            (
                QueryError::FilterByCollection.into(),
                403,
                "Only superusers can filter by @collection.",
                json!({}),
            ),
            (
                QueryError::BlankFilter.into(),
                400,
                generic,
                json!({"filter": {"code": "validation_invalid_filter", "message": "the filter is only whitespace"}}),
            ),
            (
                QueryError::InvalidFilter {
                    reason: "x at 1:1".into(),
                }
                .into(),
                400,
                generic,
                json!({"filter": {"code": "validation_invalid_filter", "message": "x at 1:1"}}),
            ),
            (
                QueryError::InvalidSort { reason: "y".into() }.into(),
                400,
                generic,
                json!({"sort": {"code": "validation_invalid_sort", "message": "y"}}),
            ),
            (
                QueryError::ExpandTooLarge { max: 7 }.into(),
                400,
                generic,
                json!({"expand": {
                    "code": "validation_expand_too_large",
                    "message": "the expanded records would be more than 7"
                }}),
            ),
            (
                QueryError::BrokenRule {
                    reason: "secret rule".into(),
                }
                .into(),
                400,
                generic,
                json!({}),
            ),
            (
                CoreError::Store(StoreError::Unavailable),
                503,
                "The service is temporarily unavailable.",
                json!({}),
            ),
            (
                CoreError::Store(StoreError::NoSpace),
                507,
                "Not enough disk space to save the change; nothing was saved.",
                json!({}),
            ),
            (
                CoreError::Store(StoreError::Io("secret path".into())),
                503,
                "The service is temporarily unavailable.",
                json!({}),
            ),
            (
                CoreError::Store(StoreError::Interrupted),
                400,
                generic,
                json!({}),
            ),
            (
                CoreError::Store(StoreError::Other("secret detail".into())),
                400,
                generic,
                json!({}),
            ),
        ]
    }

    #[test]
    fn every_core_error_answers_with_pocketbases_status_message_and_data() {
        for (err, status, message, data) in table() {
            let what = format!("{err:?}");
            let body = ApiError::from(err).body();
            assert_eq!(
                body,
                json!({"data": data, "message": message, "status": status}),
                "{what}"
            );
        }
    }

    #[test]
    fn internal_causes_never_reach_the_body() {
        for (err, ..) in table() {
            let body = ApiError::from(err).body().to_string();
            assert!(!body.contains("secret"), "{body}");
        }
    }

    #[test]
    fn a_batch_failure_embeds_the_failed_request_answer() {
        let body = ApiError::batch_failed(2, &ApiError::not_found()).body();
        assert_eq!(
            body,
            json!({
                "data": {"requests": {"2": {
                    "code": "batch_request_failed",
                    "message": "Batch request failed.",
                    "response": {"data": {}, "message": "The requested resource wasn't found.", "status": 404}
                }}},
                "message": "Batch transaction failed.",
                "status": 400
            })
        );
    }
}

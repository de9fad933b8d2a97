//! `/api/collections/{collection}/records[/{id}]`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use kulisse_core::query::RequestInfo;
use kulisse_core::records::{ExpandTree, ListResult, Record};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{Req, WriteBody, list_params};
use crate::fields::{FieldsFilter, FieldsPicked};
use crate::json::records_answer;

/// The list envelope, in PocketBase's key order, `fields` applied to each item.
pub struct ListEnvelope {
    items: Vec<Record>,
    page: u64,
    per_page: u64,
    total_items: i64,
    total_pages: i64,
    fields: Option<FieldsFilter>,
}

impl Serialize for ListEnvelope {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Items<'a>(&'a [Record], Option<&'a FieldsFilter>);
        impl Serialize for Items<'_> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for record in self.0 {
                    match self.1 {
                        Some(fields) => seq.serialize_element(&fields.record(record))?,
                        None => seq.serialize_element(record)?,
                    }
                }
                seq.end()
            }
        }
        let mut map = serializer.serialize_map(Some(5))?;
        map.serialize_entry("items", &Items(&self.items, self.fields.as_ref()))?;
        map.serialize_entry("page", &self.page)?;
        map.serialize_entry("perPage", &self.per_page)?;
        map.serialize_entry("totalItems", &self.total_items)?;
        map.serialize_entry("totalPages", &self.total_pages)?;
        map.end()
    }
}

impl ListEnvelope {
    fn new(r: ListResult, fields: Option<FieldsFilter>) -> Self {
        Self {
            items: r.items,
            page: r.page,
            per_page: r.per_page,
            total_items: r.total_items,
            total_pages: r.total_pages,
            fields,
        }
    }
}

/// One record's answer, `fields` applied as it is written.
pub struct RecordAnswer {
    /// The record.
    pub record: Record,
    /// `fields`, if given.
    pub fields: Option<FieldsFilter>,
}

impl Serialize for RecordAnswer {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match &self.fields {
            Some(fields) => fields.record(&self.record).serialize(serializer),
            None => self.record.serialize(serializer),
        }
    }
}

/// The `expand` query parameter.
pub fn expand_of(req: &RequestInfo) -> ExpandTree {
    ExpandTree::parse(req.query.get("expand").map_or("", String::as_str))
}

/// The `fields` query parameter. Record answers apply it themselves as they are written
/// (an expanded answer may be too big to write whole and parse back, which is what
/// [`crate::Finalize`] does for other answers).
///
/// # Errors
/// A malformed excerpt (Finalize has answered 400 before the route runs).
pub fn fields_of(req: &RequestInfo) -> Result<Option<FieldsFilter>, ApiError> {
    match req.query.get("fields") {
        Some(raw) => FieldsFilter::parse(raw),
        None => Ok(None),
    }
}

/// A records answer: streamed when big (see [`records_answer`]), marked when `fields`
/// was applied.
fn answer<T: Serialize + Send + 'static>(value: T, embedded: u64, picked: bool) -> Response {
    let mut res = records_answer(value, embedded);
    if picked {
        res.extensions_mut().insert(FieldsPicked);
    }
    res
}

/// A record's answer.
pub fn record_answer(record: Record, fields: Option<FieldsFilter>) -> Response {
    let (embedded, picked) = (record.embedded(), fields.is_some());
    answer(RecordAnswer { record, fields }, embedded, picked)
}

/// `GET …/records`
pub async fn list_records(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
) -> Result<Response, ApiError> {
    let params = list_params(&req.query)?;
    let fields = fields_of(&req)?;
    let list = s.services.records.list(&req, &c, &params).await?;
    let embedded = list
        .items
        .iter()
        .map(Record::embedded)
        .fold(0, u64::saturating_add);
    let picked = fields.is_some();
    Ok(answer(ListEnvelope::new(list, fields), embedded, picked))
}

/// `GET …/records/{id}`
pub async fn view_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let (expand, fields) = (expand_of(&req), fields_of(&req)?);
    let record = s.services.records.view(&req, &c, &id, &expand).await?;
    Ok(record_answer(record, fields))
}

/// `POST …/records` (200, as PocketBase answers creates).
pub async fn create_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path(c): Path<String>,
    WriteBody(body, files): WriteBody,
) -> Result<Response, ApiError> {
    let (expand, fields) = (expand_of(&req), fields_of(&req)?);
    let record = s
        .services
        .records
        .create(req, &c, body, files.uploads.clone(), &expand)
        .await?;
    Ok(record_answer(record, fields))
}

/// `PATCH …/records/{id}`
pub async fn update_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
    WriteBody(body, files): WriteBody,
) -> Result<Response, ApiError> {
    let (expand, fields) = (expand_of(&req), fields_of(&req)?);
    let record = s
        .services
        .records
        .update(req, &c, &id, body, files.uploads.clone(), &expand)
        .await?;
    Ok(record_answer(record, fields))
}

/// `DELETE …/records/{id}` (204, empty body).
pub async fn delete_record(
    State(s): State<AppState>,
    Req(req): Req,
    Path((c, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    s.services.records.delete(req, &c, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

//! The relation picker: records of the related collection that match what was typed, each
//! with a button that puts its id into the relation's field (`admin.js`). Loaded by htmx
//! as the superuser types; labelled by the collection's presentable fields (else its first
//! text field), and always by id.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kulisse_core::records::ListParams;
use kulisse_http::AppState;
use kulisse_schema::{Collection, FieldKind};
use serde_json::Value;

use crate::params::Params;
use crate::session::Session;

/// How many records the picker offers at once.
const OFFERED: u64 = 20;

#[derive(Template)]
#[template(path = "picker.html")]
struct Picked {
    target: String,
    options: Vec<(String, String)>,
    query: String,
}

/// `GET /_/collections/{collection}/pick?q=&for=`: `for` is the id of the relation's
/// input.
pub(crate) async fn pick(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
    session: Session,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let (q, target) = (params.first("q").to_owned(), params.first("for").to_owned());
    let labels = label_fields(&c);
    let params = ListParams {
        per_page: OFFERED,
        filter: search_filter(&q, &labels),
        skip_total: true,
        ..ListParams::default()
    };
    let req = session.request(&state, "GET");
    let options = match state.services.records.list(&req, &c.name, &params).await {
        Ok(list) => list
            .items
            .iter()
            .map(|r| {
                let id = r
                    .fields
                    .get("id")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let label: Vec<String> = labels
                    .iter()
                    .filter_map(|f| match r.fields.get(f) {
                        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
                        Some(Value::Null) | Some(Value::String(_)) | None => None,
                        Some(other) => Some(other.to_string()),
                    })
                    .collect();
                (id, label.join(" · "))
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    crate::page::render(
        StatusCode::OK,
        &Picked {
            target,
            options,
            query: q,
        },
    )
}

/// The fields a record is known by: the presentable ones, else the first text field.
fn label_fields(c: &Collection) -> Vec<String> {
    let presentable: Vec<String> = c
        .fields
        .iter()
        .filter(|f| f.presentable && !f.hidden)
        .map(|f| f.name.clone())
        .collect();
    if !presentable.is_empty() {
        return presentable;
    }
    c.fields
        .iter()
        .find(|f| {
            matches!(f.kind, FieldKind::Text { .. } | FieldKind::Email { .. })
                && f.name != "id"
                && !f.hidden
        })
        .map(|f| vec![f.name.clone()])
        .unwrap_or_default()
}

/// A filter for records whose id or label fields contain `q`. Quotes and backslashes are
/// dropped from what was typed, so it can only ever be one quoted string.
fn search_filter(q: &str, labels: &[String]) -> String {
    let q: String = q
        .chars()
        .filter(|c| !matches!(c, '"' | '\'' | '\\'))
        .collect();
    let q = q.trim();
    if q.is_empty() {
        return String::new();
    }
    std::iter::once("id")
        .chain(labels.iter().map(String::as_str))
        .map(|f| format!("{f} ~ \"{q}\""))
        .collect::<Vec<_>>()
        .join(" || ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_text_is_one_quoted_string() {
        assert_eq!(search_filter("", &["title".into()]), "");
        assert_eq!(
            search_filter(r#"ab" || 1=1 || "\"#, &["title".into()]),
            r#"id ~ "ab || 1=1 ||" || title ~ "ab || 1=1 ||""#
        );
    }
}

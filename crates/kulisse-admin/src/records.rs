//! The records browser: a collection's records a page at a time, sorted by a column,
//! narrowed by a filter in the filter language (the server's own error shown beside it).
//!
//! It lists through the records service as the signed-in superuser, like
//! `GET /api/collections/{c}/records`, without the total: counting every match is what
//! makes a list slow on a big collection, so the count is asked for apart, after the page
//! shows (`/count`, loaded by htmx, or a link without it).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use kulisse_core::records::ListParams;
use kulisse_http::AppState;
use kulisse_http::error::ApiError;
use kulisse_schema::Collection;
use serde_json::Value;

use crate::page::{self, Chrome};
use crate::params::Params;
use crate::session::Session;

/// Records on a page unless the browser asks for another size.
const PER_PAGE: u64 = 50;
/// The largest page the browser shows.
const MAX_PER_PAGE: u64 = 500;
/// Columns shown unless the browser picks them.
const DEFAULT_COLUMNS: usize = 8;
/// Characters of a value shown in a cell.
const CELL_CHARS: usize = 80;

/// What the browser's address says.
#[derive(Debug, Default)]
pub(crate) struct Browse {
    page: Option<u64>,
    per_page: Option<u64>,
    sort: String,
    filter: String,
    /// Field names: `columns` may come once per field (the column picker's checkboxes) or
    /// once with commas.
    columns: String,
}

impl Browse {
    fn read(params: Params) -> Browse {
        let mut b = Browse::default();
        let mut columns = Vec::new();
        for (k, v) in params.0 {
            match k.as_str() {
                "page" => b.page = v.parse().ok(),
                "perPage" => b.per_page = v.parse().ok(),
                "sort" => b.sort = v,
                "filter" => b.filter = v,
                "columns" => columns.push(v),
                _ => {}
            }
        }
        b.columns = columns.join(",");
        b
    }
}

#[derive(Template)]
#[template(path = "records.html")]
struct RecordsPage {
    chrome: Chrome,
    collection: String,
    href: String,
    filter: String,
    filter_error: Option<String>,
    columns: Vec<Column>,
    fields: Vec<Choice>,
    rows: Vec<Row>,
    /// Where a new record is made (none for a view collection).
    new_href: Option<String>,
    page: u64,
    previous: Option<String>,
    next: Option<String>,
    count_href: String,
    /// The export's address, with the filter and sort (the format is added).
    export_href: String,
    first: u64,
    /// Whether records can be opened for editing (not in a view collection).
    editable: bool,
}

/// A column header: its name, the link that sorts by it, and how it is sorted now.
struct Column {
    name: String,
    sort_href: String,
    /// `ascending`, `descending` or `none` (`aria-sort`).
    sorted: &'static str,
}

/// A record in the table: its page, and its cells.
struct Row {
    id: String,
    href: String,
    cells: Vec<String>,
}

/// A field in the column picker.
struct Choice {
    name: String,
    shown: bool,
}

/// `GET /_/collections/{collection}`
pub(crate) async fn browse(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
    session: Session,
) -> Response {
    let q = Browse::read(params);
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let per_page = q.per_page.unwrap_or(PER_PAGE).clamp(1, MAX_PER_PAGE);
    let page = q.page.unwrap_or(1).max(1);
    let params = ListParams {
        page,
        per_page,
        sort: q.sort.clone(),
        filter: q.filter.clone(),
        skip_total: true,
        expand: String::new(),
    };
    let req = session.request(&state, "GET");
    let columns = shown_columns(&c, &q.columns);
    let href = page::collection_href(&c.name);
    let editable = c.kind != kulisse_schema::CollectionKind::View;
    let (status, rows, filter_error, full) =
        match state.services.records.list(&req, &c.name, &params).await {
            Ok(list) => {
                let full = list.items.len() as u64 == per_page;
                let rows = list
                    .items
                    .iter()
                    .map(|r| {
                        let id = cell(r.fields.get("id"));
                        Row {
                            href: format!("{href}/records/{}", page::segment(&id)),
                            cells: columns.iter().map(|col| cell(r.fields.get(col))).collect(),
                            id,
                        }
                    })
                    .collect();
                (StatusCode::OK, rows, None, full)
            }
            Err(e) => (StatusCode::BAD_REQUEST, Vec::new(), Some(explain(e)), false),
        };
    let link = |page: u64, sort: &str| {
        let mut pairs = vec![("page", page.to_string())];
        if per_page != PER_PAGE {
            pairs.push(("perPage", per_page.to_string()));
        }
        for (k, v) in [
            ("sort", sort),
            ("filter", q.filter.as_str()),
            ("columns", q.columns.as_str()),
        ] {
            if !v.is_empty() {
                pairs.push((k, v.to_owned()));
            }
        }
        format!(
            "{href}?{}",
            serde_urlencoded::to_string(pairs).unwrap_or_default()
        )
    };
    let count_query =
        serde_urlencoded::to_string([("filter", q.filter.as_str())]).unwrap_or_default();
    let template = RecordsPage {
        chrome: Chrome::signed_in(c.name.clone(), &state, &session, Some(&c.name)),
        columns: columns
            .iter()
            .map(|name| {
                let (sorted, next_sort) = if q.sort == *name {
                    ("ascending", format!("-{name}"))
                } else if q.sort == format!("-{name}") {
                    ("descending", name.clone())
                } else {
                    ("none", name.clone())
                };
                Column {
                    name: name.clone(),
                    sort_href: link(1, &next_sort),
                    sorted,
                }
            })
            .collect(),
        fields: field_names(&c)
            .map(|name| Choice {
                shown: columns.iter().any(|c| c == name),
                name: name.to_owned(),
            })
            .collect(),
        collection: c.name.clone(),
        filter: q.filter.clone(),
        filter_error,
        rows,
        page,
        previous: (page > 1).then(|| link(page - 1, &q.sort)),
        next: full.then(|| link(page + 1, &q.sort)),
        count_href: format!("{href}/count?{count_query}"),
        export_href: format!(
            "{href}/export?{}",
            serde_urlencoded::to_string([("filter", q.filter.as_str()), ("sort", q.sort.as_str())])
                .unwrap_or_default()
        ),
        first: (page - 1) * per_page + 1,
        new_href: editable.then(|| format!("{href}/records/new")),
        editable,
        href,
    };
    page::render(status, &template)
}

/// `GET /_/collections/{collection}/count?filter=`: how many records match, as a line of
/// text for the browser to put under its table.
pub(crate) async fn count(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
    session: Session,
) -> Response {
    let q = Browse::read(params);
    let params = ListParams {
        per_page: 1,
        filter: q.filter,
        ..ListParams::default()
    };
    let req = session.request(&state, "GET");
    match state.services.records.list(&req, &name, &params).await {
        Ok(list) => {
            let n = list.total_items;
            let noun = if n == 1 { "record" } else { "records" };
            format!("{n} {noun}").into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, explain(e)).into_response(),
    }
}

/// The superuser's request, as the records service reads it.
/// Why a list failed, as the API would say it: the filter's or sort's reason when there is
/// one, else the message.
fn explain(e: kulisse_core::CoreError) -> String {
    let body = ApiError::from(e).body();
    for key in ["filter", "sort"] {
        if let Some(reason) = body["data"][key]["message"].as_str() {
            return reason.to_owned();
        }
    }
    body["message"].as_str().unwrap_or_default().to_owned()
}

/// Every field the browser can show (never a password hash or token key).
fn field_names(c: &Collection) -> impl Iterator<Item = &str> {
    c.fields
        .iter()
        .filter(|f| !matches!(f.kind.type_name(), "password") && f.name != "tokenKey")
        .map(|f| f.name.as_str())
}

/// The columns asked for (known fields only, in the collection's order), or the first
/// few.
fn shown_columns(c: &Collection, asked: &str) -> Vec<String> {
    let asked: Vec<&str> = asked
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect();
    let names = field_names(c);
    if asked.is_empty() {
        names.take(DEFAULT_COLUMNS).map(str::to_owned).collect()
    } else {
        names
            .filter(|n| asked.contains(n))
            .map(str::to_owned)
            .collect()
    }
}

/// A value as a cell shows it: text as it is (escaped by the template), lists joined,
/// objects as JSON, long values cut.
pub(crate) fn cell(value: Option<&Value>) -> String {
    let text = match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(b)) => b.to_string(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(object) => object.to_string(),
    };
    match text.char_indices().nth(CELL_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cells_show_values_cut_to_size() {
        assert_eq!(cell(None), "");
        assert_eq!(cell(Some(&json!(null))), "");
        assert_eq!(cell(Some(&json!(["a", 2]))), "a, 2");
        assert_eq!(cell(Some(&json!({"k": 1}))), r#"{"k":1}"#);
        let long = "é".repeat(100);
        assert_eq!(cell(Some(&json!(long))).chars().count(), CELL_CHARS + 1);
    }
}

//! Export of a collection's records, the filtered and sorted list the browser shows, as CSV
//! or JSON. The answer is streamed a page of the records service at a time, so a big
//! collection never sits in memory whole.
//!
//! CSV cells that a spreadsheet would run as a formula (starting with `=`, `+`, `-`, `@`, a
//! tab or a carriage return) get a leading `'`: an exported value must not become code in
//! whoever opens the file.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::stream;
use kulisse_core::query::RequestInfo;
use kulisse_core::records::{ListParams, MAX_PER_PAGE};
use kulisse_http::AppState;
use kulisse_schema::Collection;
use serde_json::Value;

use crate::page;
use crate::params::Params;
use crate::session::Session;

/// The export's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Csv,
    Json,
}

/// Where the stream is.
struct Cursor {
    state: AppState,
    req: RequestInfo,
    collection: Arc<Collection>,
    columns: Vec<String>,
    params: ListParams,
    format: Format,
    /// Records written so far (JSON needs commas between them).
    written: u64,
    done: bool,
}

/// `GET /_/collections/{collection}/export?format=csv|json&filter=&sort=`
pub(crate) async fn export(
    State(state): State<AppState>,
    Path(name): Path<String>,
    params: Params,
    session: Session,
) -> Response {
    let Ok(c) = state.services.collections.view(&session.auth, &name) else {
        return page::not_found().await;
    };
    let format = match params.first("format") {
        "json" => Format::Json,
        _ => Format::Csv,
    };
    let params = ListParams {
        page: 1,
        per_page: MAX_PER_PAGE,
        sort: params.first("sort").to_owned(),
        filter: params.first("filter").to_owned(),
        skip_total: true,
        expand: String::new(),
    };
    let req = session.request(&state, "GET");
    // A filter the service refuses is told before any byte of the file is sent.
    let probe = ListParams {
        per_page: 1,
        ..params.clone()
    };
    if let Err(e) = state.services.records.list(&req, &c.name, &probe).await {
        let e = kulisse_http::error::ApiError::from(e);
        return (
            e.status(),
            e.body()["message"].as_str().unwrap_or_default().to_owned(),
        )
            .into_response();
    }
    let columns = c
        .fields
        .iter()
        .filter(|f| f.kind.type_name() != "password" && f.name != "tokenKey")
        .map(|f| f.name.clone())
        .collect();
    let cursor = Cursor {
        state,
        req,
        collection: Arc::clone(&c),
        columns,
        params,
        format,
        written: 0,
        done: false,
    };
    let body = Body::from_stream(stream::unfold(cursor, next_chunk));
    let (mime, ext) = match format {
        Format::Csv => ("text/csv; charset=utf-8", "csv"),
        Format::Json => ("application/json", "json"),
    };
    let mut response = (StatusCode::OK, body).into_response();
    let h = response.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    let disposition = format!("attachment; filename=\"{}.{ext}\"", c.name);
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The next part of the file: the header (or `[`), then a page of records, then the end.
async fn next_chunk(mut cursor: Cursor) -> Option<(Result<Vec<u8>, std::io::Error>, Cursor)> {
    if cursor.done {
        return None;
    }
    let mut out = Vec::new();
    if cursor.params.page == 1 && cursor.written == 0 {
        match cursor.format {
            Format::Csv => out.extend(csv_line(cursor.columns.iter().map(String::as_str))),
            Format::Json => out.push(b'['),
        }
    }
    let page = cursor
        .state
        .services
        .records
        .list(&cursor.req, &cursor.collection.name, &cursor.params)
        .await;
    let items = match page {
        Ok(list) => list.items,
        Err(e) => {
            cursor.done = true;
            let why = std::io::Error::other(format!("the export stopped: {e}"));
            return Some((Err(why), cursor));
        }
    };
    for record in &items {
        match cursor.format {
            Format::Csv => {
                let cells: Vec<String> = cursor
                    .columns
                    .iter()
                    .map(|c| cell(record.fields.get(c)))
                    .collect();
                out.extend(csv_line(cells.iter().map(String::as_str)));
            }
            Format::Json => {
                if cursor.written > 0 {
                    out.push(b',');
                }
                let _ = serde_json::to_writer(&mut out, &record.fields);
            }
        }
        cursor.written += 1;
    }
    if (items.len() as u64) < cursor.params.per_page {
        cursor.done = true;
        if cursor.format == Format::Json {
            out.push(b']');
        }
    }
    cursor.params.page += 1;
    Some((Ok(out), cursor))
}

/// One CSV line of `cells`, quoted as RFC 4180 says.
fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut writer = csv::Writer::from_writer(Vec::new());
    let _ = writer.write_record(cells);
    writer.into_inner().unwrap_or_default()
}

/// A value as a CSV cell: text as it is with formulas defused, other values as JSON (a
/// number is never a formula).
fn cell(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => match s.chars().next() {
            Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{s}"),
            _ => s.clone(),
        },
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell(Some(&json!("=SUM(A1)"))), "'=SUM(A1)");
        assert_eq!(cell(Some(&json!("-1+1"))), "'-1+1");
        assert_eq!(cell(Some(&json!(-3))), "-3");
        assert_eq!(cell(Some(&json!(["a", 1]))), r#"["a",1]"#);
        assert_eq!(
            String::from_utf8(csv_line(["a,b", "say \"hi\"", "x"].into_iter())).unwrap(),
            "\"a,b\",\"say \"\"hi\"\"\",x\n"
        );
    }
}

//! A record's fields as form controls: one [`Input`] per field, by its type, holding the
//! value to show (the stored record's, or what a refused form sent) and the server's
//! message for it.

use kulisse_schema::{Collection, Field, FieldKind};
use serde_json::{Map, Value};

use crate::page::segment;

/// One field's control, as the record form's template draws it.
pub(crate) struct Input {
    /// The field's name (the form's key).
    pub name: String,
    /// The control's id (`field-<name>`), which its label points at.
    pub id: String,
    /// `text`, `email`, `url`, `number`, `textarea`, `json`, `bool`, `date`, `select`,
    /// `relation`, `file`, `password`, `geo` or `readonly`.
    pub kind: &'static str,
    /// The value as the control shows it.
    pub value: String,
    /// A checkbox's state.
    pub checked: bool,
    /// A select's options, and whether each is chosen.
    pub options: Vec<(String, bool)>,
    /// Whether several values may be chosen (select, relation, file).
    pub multiple: bool,
    /// Whether the field must not be empty.
    pub required: bool,
    /// The field's help text, and for some types how to write the value.
    pub help: String,
    /// The server's message for this field.
    pub error: Option<String>,
    /// Stored files, for file fields.
    pub files: Vec<StoredFile>,
    /// A geo point's longitude and latitude.
    pub lon: String,
    /// See `lon`.
    pub lat: String,
    /// A relation's collection: its id (as the field names it), then its name (filled in
    /// by the page, which can look it up).
    pub target: String,
    /// Where the relation picker asks for records of `target`.
    pub pick_href: String,
    /// An editor field's HTML as it would show, cleaned of scripts, handlers and anything
    /// else that could run (ammonia's allow-list).
    pub preview: String,
    /// Whether this is rich text (an editor field).
    pub rich: bool,
}

/// A file a record holds, as the form lists it.
pub(crate) struct StoredFile {
    /// Its stored name.
    pub name: String,
    /// Where to download it (with a file token for protected files).
    pub href: String,
    /// A thumbnail's address, for images.
    pub thumb: Option<String>,
}

/// Where the form's controls get their files' addresses: the collection and record, and a
/// file token for protected files.
pub(crate) struct FileLinks<'a> {
    pub collection_id: &'a str,
    pub record_id: &'a str,
    pub token: &'a str,
}

/// The controls of `c`'s fields, showing `values` (a record, or a refused form) and the
/// messages in `errors` (the API's `data`).
pub(crate) fn inputs(
    c: &Collection,
    values: &Map<String, Value>,
    errors: &Value,
    links: Option<&FileLinks<'_>>,
) -> Vec<Input> {
    c.fields
        .iter()
        .filter(|f| f.name != "id" && f.name != "tokenKey")
        .map(|f| input(f, values.get(&f.name), errors, links))
        .collect()
}

fn input(f: &Field, value: Option<&Value>, errors: &Value, links: Option<&FileLinks<'_>>) -> Input {
    let mut input = Input {
        name: f.name.clone(),
        id: format!("field-{}", f.name),
        kind: "text",
        value: text(value),
        checked: false,
        options: Vec::new(),
        multiple: false,
        required: f.required,
        help: f.help.clone(),
        error: errors[&f.name]["message"].as_str().map(str::to_owned),
        files: Vec::new(),
        lon: String::new(),
        lat: String::new(),
        target: String::new(),
        pick_href: String::new(),
        preview: String::new(),
        rich: false,
    };
    match &f.kind {
        FieldKind::Text { .. } => {}
        FieldKind::Email { .. } => input.kind = "email",
        FieldKind::Url { .. } => input.kind = "url",
        FieldKind::Number { .. } => input.kind = "number",
        FieldKind::Editor { .. } => {
            input.kind = "textarea";
            input.rich = true;
            input.preview = ammonia::clean(&input.value);
        }
        FieldKind::Json { .. } => {
            input.kind = "json";
            input.value = match value {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) if errors[&f.name].is_object() => s.clone(),
                Some(v) => serde_json::to_string_pretty(v).unwrap_or_default(),
            };
        }
        FieldKind::Bool => {
            input.kind = "bool";
            input.checked = matches!(value, Some(Value::Bool(true)))
                || matches!(value, Some(Value::String(s)) if s == "true");
        }
        FieldKind::Date { .. } => {
            input.kind = "date";
            input.value = to_local_input(&input.value);
            add_help(&mut input, "In UTC.");
        }
        FieldKind::Autodate { .. } => input.kind = "readonly",
        FieldKind::Select { values, max_select } => {
            input.kind = "select";
            input.multiple = *max_select > 1;
            let chosen = texts(value);
            input.options = values
                .iter()
                .map(|v| (v.clone(), chosen.contains(v)))
                .collect();
        }
        FieldKind::Relation {
            max_select,
            collection_id,
            ..
        } => {
            input.kind = "relation";
            input.target = collection_id.clone();
            input.multiple = *max_select != 1;
            input.value = texts(value).join(", ");
            let how = match input.multiple {
                true => "Record ids, separated by commas.",
                false => "A record id.",
            };
            add_help(&mut input, how);
        }
        FieldKind::File {
            max_select,
            thumbs: _,
            ..
        } => {
            input.kind = "file";
            input.multiple = *max_select > 1;
            input.files = texts(value)
                .into_iter()
                .map(|name| stored_file(name, links))
                .collect();
        }
        FieldKind::Password { .. } => {
            input.kind = "password";
            input.value = String::new();
            input.required = false;
        }
        FieldKind::GeoPoint => {
            input.kind = "geo";
            input.lon = number(value.and_then(|v| v.get("lon")));
            input.lat = number(value.and_then(|v| v.get("lat")));
        }
    }
    input
}

fn add_help(input: &mut Input, more: &str) {
    if !input.help.is_empty() {
        input.help.push(' ');
    }
    input.help.push_str(more);
}

fn stored_file(name: String, links: Option<&FileLinks<'_>>) -> StoredFile {
    let Some(l) = links else {
        return StoredFile {
            href: String::new(),
            thumb: None,
            name,
        };
    };
    let href = format!(
        "/api/files/{}/{}/{}?token={}",
        segment(l.collection_id),
        segment(l.record_id),
        segment(&name),
        segment(l.token)
    );
    let image = [".png", ".jpg", ".jpeg", ".gif", ".webp"]
        .iter()
        .any(|ext| name.to_ascii_lowercase().ends_with(ext));
    StoredFile {
        thumb: image.then(|| format!("{href}&thumb=100x100")),
        href,
        name,
    }
}

/// A value as one line of text.
fn text(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A value as a list of texts (a multi-valued field's, or one value's).
fn texts(value: Option<&Value>) -> Vec<String> {
    match value {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| text(Some(v)))
            .filter(|s| !s.is_empty())
            .collect(),
        Some(v) => Some(text(Some(v)))
            .filter(|s| !s.is_empty())
            .into_iter()
            .collect(),
    }
}

fn number(value: Option<&Value>) -> String {
    value.map(|v| text(Some(v))).unwrap_or_default()
}

/// A stored date (`2026-01-02 03:04:05.678Z`) as a `datetime-local` control's value
/// (`2026-01-02T03:04:05.678`); anything else as it is.
pub(crate) fn to_local_input(stored: &str) -> String {
    match stored.strip_suffix('Z') {
        Some(rest) if rest.len() >= 16 && rest.as_bytes()[10] == b' ' => rest.replacen(' ', "T", 1),
        _ => stored.to_owned(),
    }
}

/// A `datetime-local` control's value (`2026-01-02T03:04`, seconds optional) as the API
/// writes dates, in UTC; anything else as it is.
pub(crate) fn from_local_input(sent: &str) -> String {
    let Some((date, time)) = sent.split_once('T') else {
        return sent.to_owned();
    };
    let time = match time.len() {
        5 => format!("{time}:00.000"),
        8 => format!("{time}.000"),
        _ => time.to_owned(),
    };
    format!("{date} {time}Z")
}

#[cfg(test)]
mod tests {
    use kulisse_schema::CollectionKind;
    use serde_json::json;

    use super::*;

    #[test]
    fn rich_text_shows_without_anything_that_runs() {
        let mut c = Collection::new("pages", CollectionKind::Base);
        c.fields.push(Field::new(
            "body",
            FieldKind::Editor {
                max_size: 0,
                convert_urls: false,
            },
        ));
        let html = r#"<p>Hi <b>there</b></p><script>alert(1)</script><img src="x.png" onerror="alert(2)"><a href="javascript:alert(3)">x</a>"#;
        let values = json!({"body": html}).as_object().cloned().unwrap();
        let shown = inputs(&c, &values, &Value::Null, None);
        let body = shown.iter().find(|i| i.name == "body").unwrap();
        assert_eq!(body.value, html, "the control holds the text as stored");
        assert!(
            body.preview.contains("<p>Hi <b>there</b></p>"),
            "{}",
            body.preview
        );
        for bad in ["<script", "onerror", "javascript:"] {
            assert!(!body.preview.contains(bad), "{bad} in {}", body.preview);
        }
    }

    #[test]
    fn dates_go_to_the_control_and_back() {
        assert_eq!(
            to_local_input("2026-01-02 03:04:05.678Z"),
            "2026-01-02T03:04:05.678"
        );
        assert_eq!(
            from_local_input("2026-01-02T03:04"),
            "2026-01-02 03:04:00.000Z"
        );
        assert_eq!(
            from_local_input("2026-01-02T03:04:05"),
            "2026-01-02 03:04:05.000Z"
        );
        assert_eq!(
            from_local_input("2026-01-02T03:04:05.678"),
            "2026-01-02 03:04:05.678Z"
        );
        assert_eq!(from_local_input(""), "");
        assert_eq!(to_local_input(""), "");
    }
}

//! A record form as sent, made into the body the API would take: the browser's controls
//! speak in strings and repeated keys, the records service in JSON values by field type.

use kulisse_schema::{Collection, FieldKind};
use serde_json::{Map, Value, json};

use crate::inputs::from_local_input;

/// Rewrites the fields of `form` (a multipart form decoded as the API decodes one) as
/// the records service takes them. What cannot be read (JSON that is no JSON) is answered
/// in the API's error shape (`{"field": {"code", "message"}}`) instead.
pub(crate) fn to_body(c: &Collection, form: &mut Map<String, Value>) -> Result<(), Value> {
    let mut errors = Map::new();
    for f in &c.fields {
        let name = f.name.as_str();
        match &f.kind {
            FieldKind::Bool => {
                // A hidden `false` comes before the checkbox: the last value is the state.
                if let Some(Value::Array(values)) = form.get(name) {
                    let last = values.last().cloned().unwrap_or(Value::Bool(false));
                    form.insert(name.to_owned(), last);
                }
            }
            FieldKind::Date { .. } => {
                if let Some(Value::String(s)) = form.get(name) {
                    let date = from_local_input(s);
                    form.insert(name.to_owned(), Value::String(date));
                }
            }
            FieldKind::Autodate { .. } => {
                form.remove(name);
            }
            FieldKind::Select { max_select, .. } => {
                // A hidden empty value comes first, so that choosing nothing is sent too.
                let values = non_empty(form.get(name));
                let value = match *max_select > 1 {
                    true => Value::Array(values),
                    false => values
                        .into_iter()
                        .next()
                        .unwrap_or(Value::String(String::new())),
                };
                if form.contains_key(name) {
                    form.insert(name.to_owned(), value);
                }
            }
            FieldKind::Relation { max_select, .. } => {
                let Some(sent) = form.get(name) else { continue };
                let ids: Vec<Value> = text_of(sent)
                    .split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| Value::String(s.to_owned()))
                    .collect();
                let value = match *max_select != 1 {
                    true => Value::Array(ids),
                    false => ids
                        .into_iter()
                        .next()
                        .unwrap_or(Value::String(String::new())),
                };
                form.insert(name.to_owned(), value);
            }
            FieldKind::Password { .. } => {
                let empty = form.get(name).is_none_or(|v| text_of(v).is_empty());
                if empty {
                    form.remove(name);
                    form.remove("passwordConfirm");
                }
            }
            FieldKind::GeoPoint => {
                let lon = form.remove(&format!("{name}.lon"));
                let lat = form.remove(&format!("{name}.lat"));
                if let (Some(lon), Some(lat)) = (lon, lat) {
                    let number = |v: &Value| v.as_f64().or_else(|| text_of(v).trim().parse().ok());
                    let point = json!({"lon": number(&lon).unwrap_or(0.0), "lat": number(&lat).unwrap_or(0.0)});
                    form.insert(name.to_owned(), point);
                }
            }
            FieldKind::Json { .. } => {
                // The textarea's text is the JSON itself (an empty one is `null`).
                if let Some(sent) = form.get(name) {
                    let text = text_of(sent);
                    match text.trim() {
                        "" => {
                            form.insert(name.to_owned(), Value::Null);
                        }
                        t => match serde_json::from_str(t) {
                            Ok(value) => {
                                form.insert(name.to_owned(), value);
                            }
                            Err(e) => {
                                let message = format!("Must be valid JSON: {e}.");
                                errors.insert(
                                    name.to_owned(),
                                    json!({"code": "validation_invalid_json", "message": message}),
                                );
                            }
                        },
                    }
                }
            }
            _ => {}
        }
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(Value::Object(errors)),
    }
}

/// A form value as the text the browser sent (numbers and booleans were inferred from it).
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn non_empty(v: Option<&Value>) -> Vec<Value> {
    let values = match v {
        None => Vec::new(),
        Some(Value::Array(items)) => items.clone(),
        Some(one) => vec![one.clone()],
    };
    values
        .into_iter()
        .filter(|v| !text_of(v).is_empty())
        .map(|v| Value::String(text_of(&v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use kulisse_schema::{CollectionKind, Field};

    use super::*;

    fn collection() -> Collection {
        let mut c = Collection::new("things", CollectionKind::Base);
        c.fields.push(Field::new("done", FieldKind::Bool));
        c.fields.push(Field::new(
            "tags",
            FieldKind::Select {
                values: vec!["a".into(), "b".into()],
                max_select: 2,
            },
        ));
        c.fields.push(Field::new(
            "links",
            FieldKind::Relation {
                collection_id: "x".into(),
                cascade_delete: false,
                min_select: 0,
                max_select: 5,
            },
        ));
        c.fields.push(Field::new(
            "at",
            FieldKind::Date {
                min: String::new(),
                max: String::new(),
            },
        ));
        c.fields.push(Field::new("where", FieldKind::GeoPoint));
        c.fields
            .push(Field::new("data", FieldKind::Json { max_size: 0 }));
        c
    }

    #[test]
    fn controls_become_typed_values() {
        let mut form = json!({
            "done": [false, true],
            "tags": ["", "b"],
            "links": "abc, def,,",
            "at": "2026-01-02T03:04",
            "where.lon": 13.4, "where.lat": "52.5",
            "data": "{\"k\": [1]}",
        })
        .as_object()
        .cloned()
        .unwrap();
        to_body(&collection(), &mut form).unwrap();
        assert_eq!(
            Value::Object(form),
            json!({
                "done": true,
                "tags": ["b"],
                "links": ["abc", "def"],
                "at": "2026-01-02 03:04:00.000Z",
                "where": {"lon": 13.4, "lat": 52.5},
                "data": {"k": [1]},
            })
        );
    }

    #[test]
    fn nothing_chosen_is_sent_as_nothing() {
        let mut form = json!({"done": false, "tags": "", "links": "", "data": ""})
            .as_object()
            .cloned()
            .unwrap();
        to_body(&collection(), &mut form).unwrap();
        assert_eq!(
            Value::Object(form),
            json!({"done": false, "tags": [], "links": [], "data": null})
        );
    }

    #[test]
    fn json_that_is_no_json_is_refused_with_why() {
        let mut form = json!({"data": "{oops"}).as_object().cloned().unwrap();
        let errors = to_body(&collection(), &mut form).unwrap_err();
        assert_eq!(errors["data"]["code"], "validation_invalid_json");
        assert!(
            errors["data"]["message"]
                .as_str()
                .unwrap()
                .starts_with("Must be valid JSON: ")
        );
    }
}

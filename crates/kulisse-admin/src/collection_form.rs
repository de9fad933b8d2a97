//! The collection form: a collection's definition as form controls, and a sent form back
//! as the JSON the collections API takes (so the service validates it as it validates an
//! API client's).
//!
//! Each field is a row: its name, its type (chosen once, when it is added), whether it is
//! required, hidden or presentable, and its other options as PocketBase's JSON (the keys
//! the API documents for that type: `values` and `maxSelect` of a select, `collectionId`
//! of a relation, `mimeTypes` of a file…). One empty row adds a field.

use kulisse_schema::Collection;
use serde_json::{Map, Value, json};

use crate::field_options::{self, OptionControl};

/// The rules, by their keys, with what the form calls them.
pub(crate) const RULES: [(&str, &str); 5] = [
    ("listRule", "List"),
    ("viewRule", "View"),
    ("createRule", "Create"),
    ("updateRule", "Update"),
    ("deleteRule", "Delete"),
];

/// The keys of a field's JSON that have controls of their own.
const OWN_CONTROLS: [&str; 7] = [
    "id",
    "name",
    "type",
    "system",
    "required",
    "hidden",
    "presentable",
];

/// An auth collection's options, edited together as PocketBase's JSON.
const AUTH_OPTIONS: [&str; 15] = [
    "authRule",
    "manageRule",
    "authAlert",
    "passwordAuth",
    "oauth2",
    "otp",
    "mfa",
    "authToken",
    "passwordResetToken",
    "emailChangeToken",
    "verificationToken",
    "fileToken",
    "verificationTemplate",
    "resetPasswordTemplate",
    "confirmEmailChangeTemplate",
];

/// The field types a new field may have, as the API names them.
pub(crate) const FIELD_TYPES: [&str; 14] = [
    "text", "editor", "number", "bool", "email", "url", "date", "autodate", "select", "file",
    "relation", "json", "geoPoint", "password",
];

/// A field's row.
pub(crate) struct FieldRow {
    pub index: usize,
    pub id: String,
    pub name: String,
    pub kind: String,
    pub system: bool,
    pub required: bool,
    pub hidden: bool,
    pub presentable: bool,
    /// The type's common options, as controls.
    pub common: Vec<OptionControl>,
    /// The other options, as JSON text.
    pub options: String,
    pub name_error: Option<String>,
    pub options_error: Option<String>,
}

/// A rule's control.
pub(crate) struct RuleRow {
    pub key: &'static str,
    pub label: &'static str,
    /// The rule's text (empty: anyone).
    pub text: String,
    /// `null`: superusers only.
    pub locked: bool,
    pub error: Option<String>,
}

/// What the form shows: the definition (stored, or as sent) and the server's messages.
pub(crate) struct Shown {
    pub name: String,
    pub kind: String,
    pub fields: Vec<FieldRow>,
    pub rules: Vec<RuleRow>,
    pub indexes: String,
    pub view_query: String,
    /// An auth collection's options as JSON text (empty for other collections).
    pub auth_options: String,
    /// The server's first message about one of them.
    pub auth_error: Option<String>,
    pub errors: Value,
    /// A view collection's first rows, as its saved query lists them.
    pub preview: Option<Preview>,
    /// The new field row's common options (those of a text field, until another type is
    /// picked).
    pub new_common: Vec<OptionControl>,
}

/// Rows of a view collection, as cells.
pub(crate) struct Preview {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<String>>,
    /// Whether these are the saved query's rows (else the typed one's, not saved).
    pub saved: bool,
}

/// The form of a stored collection (or of a new one, from its API JSON); `collections`
/// are every collection's id and name, for relation fields.
pub(crate) fn shown(definition: &Value, errors: Value, collections: &[(String, String)]) -> Shown {
    let text = |k: &str| definition[k].as_str().unwrap_or_default().to_owned();
    let fields = definition["fields"]
        .as_array()
        .map(|fs| {
            fs.iter()
                .enumerate()
                .map(|(index, f)| {
                    field_row(index, f, &errors["fields"][index.to_string()], collections)
                })
                .collect()
        })
        .unwrap_or_default();
    let rules = RULES
        .iter()
        .map(|(key, label)| RuleRow {
            key,
            label,
            text: definition[*key].as_str().unwrap_or_default().to_owned(),
            locked: definition[*key].is_null(),
            error: message(&errors[*key]),
        })
        .collect();
    let indexes = definition["indexes"]
        .as_array()
        .map(|ix| {
            ix.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let auth: Map<String, Value> = AUTH_OPTIONS
        .iter()
        .filter_map(|k| definition.get(*k).map(|v| ((*k).to_owned(), v.clone())))
        .collect();
    let auth_error = AUTH_OPTIONS
        .iter()
        .find_map(|k| deepest_message(&errors[*k]).map(|m| format!("{k}: {m}")));
    Shown {
        name: text("name"),
        kind: text("type"),
        fields,
        rules,
        indexes,
        view_query: text("viewQuery"),
        auth_options: match auth.is_empty() {
            true => String::new(),
            false => serde_json::to_string_pretty(&auth).unwrap_or_default(),
        },
        auth_error,
        errors,
        preview: None,
        new_common: field_options::controls("new", "text", &Value::Null, collections),
    }
}

fn field_row(
    index: usize,
    f: &Value,
    errors: &Value,
    collections: &[(String, String)],
) -> FieldRow {
    let kind = f["type"].as_str().unwrap_or_default();
    let options: Map<String, Value> = f
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| !OWN_CONTROLS.contains(&k.as_str()))
                .filter(|(k, _)| !field_options::has_control(kind, k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let options_error = errors.as_object().and_then(|o| {
        o.iter()
            .filter(|(k, _)| !matches!(k.as_str(), "name"))
            .find_map(|(k, v)| message(v).map(|m| format!("{k}: {m}")))
    });
    FieldRow {
        index,
        id: f["id"].as_str().unwrap_or_default().to_owned(),
        name: f["name"].as_str().unwrap_or_default().to_owned(),
        kind: f["type"].as_str().unwrap_or_default().to_owned(),
        system: f["system"].as_bool().unwrap_or(false),
        required: f["required"].as_bool().unwrap_or(false),
        hidden: f["hidden"].as_bool().unwrap_or(false),
        presentable: f["presentable"].as_bool().unwrap_or(false),
        common: field_options::controls(&format!("fields.{index}"), kind, f, collections),
        options: serde_json::to_string_pretty(&options).unwrap_or_default(),
        name_error: message(&errors["name"]),
        options_error,
    }
}

fn message(v: &Value) -> Option<String> {
    v["message"].as_str().map(str::to_owned)
}

/// The first message anywhere inside `v` (options nest: `oauth2.providers.0.clientId`).
fn deepest_message(v: &Value) -> Option<String> {
    message(v).or_else(|| v.as_object()?.values().find_map(deepest_message))
}

/// The definition a sent form describes, as the collections API takes it; `current` is
/// the stored collection when editing one. What cannot be read (options that are no
/// JSON object) is answered in the API's error shape instead.
pub(crate) fn to_input(
    form: &[(String, String)],
    current: Option<&Collection>,
) -> Result<Value, Value> {
    let get = |k: &str| {
        form.iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let on = |k: &str| get(k) == Some("true");
    let mut input = Map::new();
    input.insert("name".into(), json!(get("name").unwrap_or_default().trim()));
    if current.is_none() {
        input.insert("type".into(), json!(get("type").unwrap_or("base")));
    }
    for (key, _) in RULES {
        let rule = match on(&format!("{key}Locked")) {
            true => Value::Null,
            false => json!(get(key).unwrap_or_default().trim()),
        };
        input.insert(key.into(), rule);
    }
    let indexes: Vec<&str> = get("indexes")
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    input.insert("indexes".into(), json!(indexes));
    let view = match current {
        Some(c) => c.kind == kulisse_schema::CollectionKind::View,
        None => get("type") == Some("view"),
    };
    if let (true, Some(query)) = (view, get("viewQuery")) {
        input.insert("viewQuery".into(), json!(query));
    }
    let mut errors = Map::new();
    if let Some(text) = get("authOptions").filter(|t| !t.trim().is_empty()) {
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(options)) => {
                for (k, v) in options
                    .into_iter()
                    .filter(|(k, _)| AUTH_OPTIONS.contains(&k.as_str()))
                {
                    input.insert(k, v);
                }
            }
            _ => {
                let why = "The auth options must be a JSON object.";
                errors.insert(
                    "authOptions".into(),
                    json!({"code": "validation_invalid_json", "message": why}),
                );
            }
        }
    }
    let mut fields = Vec::new();
    let mut field_errors = Map::new();
    let rows = (0..).take_while(|i| {
        get(&format!("fields.{i}.name")).is_some() || get(&format!("fields.{i}.id")).is_some()
    });
    for i in rows {
        let key = |k: &str| format!("fields.{i}.{k}");
        if on(&key("remove")) {
            continue;
        }
        match field_input(get(&key("options")).unwrap_or("{}")) {
            Ok(mut field) => {
                let kind = get(&key("type")).unwrap_or_default();
                field_options::read(&format!("fields.{i}"), kind, get, &mut field);
                for k in ["id", "name", "type"] {
                    if let Some(v) = get(&key(k)) {
                        field.insert(k.into(), json!(v.trim()));
                    }
                }
                for k in ["required", "hidden", "presentable"] {
                    field.insert(k.into(), json!(on(&key(k))));
                }
                fields.push(Value::Object(field));
            }
            Err(why) => {
                field_errors.insert(
                    i.to_string(),
                    json!({"options": {"code": "validation_invalid_json", "message": why}}),
                );
            }
        }
    }
    let new_name = get("new.name").unwrap_or_default().trim();
    if !new_name.is_empty() {
        match field_input(get("new.options").unwrap_or("{}")) {
            Ok(mut field) => {
                let kind = get("new.type").unwrap_or("text");
                field_options::read("new", kind, get, &mut field);
                field.insert("name".into(), json!(new_name));
                field.insert("type".into(), json!(kind));
                for k in ["required", "hidden", "presentable"] {
                    field.insert(k.into(), json!(on(&format!("new.{k}"))));
                }
                fields.push(Value::Object(field));
            }
            Err(why) => {
                field_errors.insert(
                    "new".into(),
                    json!({"options": {"code": "validation_invalid_json", "message": why}}),
                );
            }
        }
    }
    if !field_errors.is_empty() {
        errors.insert("fields".into(), Value::Object(field_errors));
    }
    if !errors.is_empty() {
        return Err(Value::Object(errors));
    }
    input.insert("fields".into(), Value::Array(fields));
    Ok(Value::Object(input))
}

/// A field's options as sent: a JSON object, or why not.
fn field_input(text: &str) -> Result<Map<String, Value>, String> {
    match text.trim() {
        "" => Ok(Map::new()),
        t => match serde_json::from_str::<Value>(t) {
            Ok(Value::Object(o)) => Ok(o
                .into_iter()
                .filter(|(k, _)| !OWN_CONTROLS.contains(&k.as_str()))
                .collect()),
            Ok(_) => Err("The options must be a JSON object.".to_owned()),
            Err(e) => Err(format!("The options must be JSON: {e}.")),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn a_new_collection_with_a_field_becomes_the_apis_json() {
        let input = to_input(
            &form(&[
                ("name", " shop "),
                ("type", "base"),
                ("listRule", " price > 0 "),
                ("viewRule", ""),
                ("createRuleLocked", "true"),
                ("indexes", "CREATE INDEX a ON shop (price)\n\n"),
                ("new.name", "size"),
                ("new.type", "select"),
                ("new.required", "true"),
                (
                    "new.options",
                    r#"{"values": ["S", "M"], "maxSelect": 1, "name": "ignored"}"#,
                ),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(
            input,
            json!({
                "name": "shop", "type": "base",
                "listRule": "price > 0", "viewRule": "", "createRule": null, "updateRule": "", "deleteRule": "",
                "indexes": ["CREATE INDEX a ON shop (price)"],
                "fields": [{"name": "size", "type": "select", "required": true, "hidden": false,
                            "presentable": false, "values": ["S", "M"], "maxSelect": 1}],
            })
        );
    }

    #[test]
    fn auth_options_are_merged_and_checked() {
        let input = to_input(
            &form(&[
                ("name", "members"),
                (
                    "authOptions",
                    r#"{"otp": {"enabled": true}, "listRule": "x", "id": "y"}"#,
                ),
            ]),
            None,
        )
        .unwrap();
        assert_eq!(input["otp"], json!({"enabled": true}));
        assert_eq!(
            input["listRule"], "",
            "only auth options are taken from there"
        );
        assert!(input.get("id").is_none());
        let errors =
            to_input(&form(&[("name", "members"), ("authOptions", "[1]")]), None).unwrap_err();
        assert_eq!(errors["authOptions"]["code"], "validation_invalid_json");
    }

    #[test]
    fn rows_are_kept_removed_and_checked() {
        let sent = form(&[
            ("name", "shop"),
            ("fields.0.id", "f1"),
            ("fields.0.name", "title"),
            ("fields.0.type", "text"),
            ("fields.0.options", r#"{"max": 10}"#),
            ("fields.1.id", "f2"),
            ("fields.1.name", "old"),
            ("fields.1.type", "text"),
            ("fields.1.remove", "true"),
        ]);
        let input = to_input(
            &sent,
            Some(&Collection::new(
                "shop",
                kulisse_schema::CollectionKind::Base,
            )),
        )
        .unwrap();
        assert_eq!(
            input["fields"],
            json!([{"id": "f1", "name": "title", "type": "text", "max": 10,
            "required": false, "hidden": false, "presentable": false}])
        );
        assert!(
            input.get("type").is_none(),
            "a collection's type is not changed"
        );
        let mut broken = sent.clone();
        broken[4].1 = "{oops".into();
        let errors = to_input(&broken, None).unwrap_err();
        assert_eq!(
            errors["fields"]["0"]["options"]["code"],
            "validation_invalid_json"
        );
    }
}

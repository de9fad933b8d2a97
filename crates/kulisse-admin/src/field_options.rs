//! A field type's common options as controls of their own (a select's values, a
//! relation's collection, a file's size and types…), so that designing a collection needs
//! no JSON for them. The rest of a type's options stay in the row's JSON box. A sent form's
//! controls are read back over that JSON.

use serde_json::{Map, Value, json};

/// What kind of control an option gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Bool,
    /// Comma-separated texts, a JSON list.
    List,
    /// One of the collections, by id.
    Collection,
}

/// A type's common options: key, label, kind.
fn common(type_name: &str) -> &'static [(&'static str, &'static str, Kind)] {
    use Kind::{Bool, Collection, List, Number, Text};
    match type_name {
        "text" => &[
            ("min", "Fewest characters", Number),
            ("max", "Most characters", Number),
            ("pattern", "Pattern (regular expression)", Text),
        ],
        "number" => &[
            ("min", "Smallest", Number),
            ("max", "Largest", Number),
            ("onlyInt", "Whole numbers only", Bool),
        ],
        "select" => &[
            ("values", "Choices (comma-separated)", List),
            ("maxSelect", "Most choices at once", Number),
        ],
        "relation" => &[
            ("collectionId", "Related collection", Collection),
            ("maxSelect", "Most records at once", Number),
            ("cascadeDelete", "Delete with the related record", Bool),
        ],
        "file" => &[
            ("maxSelect", "Most files", Number),
            ("maxSize", "Largest file (bytes)", Number),
            (
                "mimeTypes",
                "Allowed types (comma-separated, e.g. image/png)",
                List,
            ),
            ("protected", "Protected (downloads need a file token)", Bool),
        ],
        "email" | "url" => &[
            ("onlyDomains", "Only these domains (comma-separated)", List),
            ("exceptDomains", "Not these domains (comma-separated)", List),
        ],
        "editor" | "json" => &[("maxSize", "Largest size (bytes)", Number)],
        "date" => &[("min", "Earliest", Text), ("max", "Latest", Text)],
        "autodate" => &[
            ("onCreate", "Set when created", Bool),
            ("onUpdate", "Set when updated", Bool),
        ],
        "password" => &[
            ("min", "Fewest characters", Number),
            ("max", "Most characters", Number),
        ],
        _ => &[],
    }
}

/// Whether `key` has a control of its own for `type_name` (and so stays out of the JSON).
pub(crate) fn has_control(type_name: &str, key: &str) -> bool {
    common(type_name).iter().any(|(k, _, _)| *k == key)
}

/// One option's control.
pub(crate) struct OptionControl {
    /// The form key (`fields.2.opt.maxSelect`).
    pub name: String,
    /// The control's id.
    pub id: String,
    pub label: &'static str,
    /// `number`, `text`, `bool`, `list` or `collection`.
    pub kind: &'static str,
    pub value: String,
    pub checked: bool,
    /// A collection control's choices: id, name, chosen.
    pub choices: Vec<(String, String, bool)>,
}

/// The controls of `field`'s common options (`prefix`: the row's form key, `fields.2` or
/// `new`); `collections` are every collection's id and name, for a relation.
pub(crate) fn controls(
    prefix: &str,
    type_name: &str,
    field: &Value,
    collections: &[(String, String)],
) -> Vec<OptionControl> {
    common(type_name)
        .iter()
        .map(|(key, label, kind)| {
            let value = &field[*key];
            let text = match value {
                Value::Null => String::new(),
                Value::String(s) => s.clone(),
                Value::Array(items) => items
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            OptionControl {
                name: format!("{prefix}.opt.{key}"),
                id: format!("{}-{key}", prefix.replace('.', "-")),
                label,
                kind: match kind {
                    Kind::Number => "number",
                    Kind::Text => "text",
                    Kind::Bool => "bool",
                    Kind::List => "list",
                    Kind::Collection => "collection",
                },
                checked: value.as_bool().unwrap_or(false),
                choices: match kind {
                    Kind::Collection => collections
                        .iter()
                        .map(|(id, name)| (id.clone(), name.clone(), *id == text))
                        .collect(),
                    _ => Vec::new(),
                },
                value: text,
            }
        })
        .collect()
}

/// Reads a row's common options from a sent form into `options` (its JSON options): a
/// number left empty is left out (the server's default), a checkbox left out is `false`.
pub(crate) fn read<'a>(
    prefix: &str,
    type_name: &str,
    get: impl Fn(&str) -> Option<&'a str>,
    options: &mut Map<String, Value>,
) {
    for (key, _, kind) in common(type_name) {
        let sent = get(&format!("{prefix}.opt.{key}"));
        let value = match kind {
            Kind::Bool => json!(sent == Some("true")),
            _ => {
                let Some(text) = sent.map(str::trim) else {
                    continue;
                };
                match kind {
                    Kind::Number if text.is_empty() => continue,
                    Kind::Number => match text.parse::<i64>() {
                        Ok(n) => json!(n),
                        Err(_) => text.parse::<f64>().map_or(json!(text), |n| json!(n)),
                    },
                    Kind::List => json!(
                        text.split(',')
                            .map(str::trim)
                            .filter(|s| !s.is_empty())
                            .collect::<Vec<_>>()
                    ),
                    _ => json!(text),
                }
            }
        };
        options.insert((*key).to_owned(), value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_options_go_to_controls_and_back() {
        let field = json!({"type": "select", "values": ["S", "M"], "maxSelect": 1});
        let shown = controls("fields.1", "select", &field, &[]);
        assert_eq!(
            shown
                .iter()
                .map(|c| (c.name.as_str(), c.value.as_str()))
                .collect::<Vec<_>>(),
            vec![
                ("fields.1.opt.values", "S, M"),
                ("fields.1.opt.maxSelect", "1")
            ]
        );
        let sent = [
            ("fields.1.opt.values", "S, M , L,"),
            ("fields.1.opt.maxSelect", "2"),
        ];
        let mut options = Map::new();
        read(
            "fields.1",
            "select",
            |k| sent.iter().find(|(key, _)| *key == k).map(|(_, v)| *v),
            &mut options,
        );
        assert_eq!(
            Value::Object(options),
            json!({"values": ["S", "M", "L"], "maxSelect": 2})
        );
    }

    #[test]
    fn unchecked_is_false_and_empty_numbers_are_left_out() {
        let mut options = Map::new();
        read(
            "new",
            "number",
            |k| (k == "new.opt.min").then_some(""),
            &mut options,
        );
        assert_eq!(Value::Object(options), json!({"onlyInt": false}));
    }

    #[test]
    fn a_relation_offers_the_collections() {
        let field = json!({"collectionId": "c2"});
        let all = [
            ("c1".to_owned(), "posts".to_owned()),
            ("c2".to_owned(), "users".to_owned()),
        ];
        let shown = controls("new", "relation", &field, &all);
        assert_eq!(
            shown[0].choices[1],
            ("c2".to_owned(), "users".to_owned(), true)
        );
        assert!(!shown[0].choices[0].2);
    }
}

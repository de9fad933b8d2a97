//! What importing a list of collections would change, told before it is applied: which
//! collections are new, which change and how (fields added, removed or changed, rules,
//! indexes, options), and which would be deleted. Collections are matched as the import
//! matches them: by id, else by name.

use serde_json::Value;

/// One line of the review.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// The collection's name.
    pub collection: String,
    /// `new`, `changed`, `unchanged` or `deleted`.
    pub kind: &'static str,
    /// What changes, in words.
    pub details: Vec<String>,
}

/// The review of importing `items` over `current` (both as the API's JSON); with
/// `delete_missing`, the app's collections missing from `items` are deleted (never the
/// system ones).
pub(crate) fn review(current: &[Value], items: &[Value], delete_missing: bool) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut matched = Vec::new();
    for item in items {
        let name = text(item, "name");
        let found = current
            .iter()
            .find(|c| !text(item, "id").is_empty() && text(c, "id") == text(item, "id"))
            .or_else(|| current.iter().find(|c| text(c, "name") == name));
        match found {
            None => changes.push(Change {
                collection: name,
                kind: "new",
                details: vec![format!(
                    "{} fields",
                    item["fields"].as_array().map_or(0, Vec::len)
                )],
            }),
            Some(old) => {
                matched.push(text(old, "id"));
                let details = differences(old, item);
                changes.push(Change {
                    collection: name,
                    kind: if details.is_empty() {
                        "unchanged"
                    } else {
                        "changed"
                    },
                    details,
                });
            }
        }
    }
    if delete_missing {
        for c in current {
            if !matched.contains(&text(c, "id")) && c["system"] != Value::Bool(true) {
                changes.push(Change {
                    collection: text(c, "name"),
                    kind: "deleted",
                    details: vec!["with all its records".to_owned()],
                });
            }
        }
    }
    changes
}

fn text(v: &Value, key: &str) -> String {
    v[key].as_str().unwrap_or_default().to_owned()
}

/// What differs between a stored collection and its imported version, in words.
fn differences(old: &Value, new: &Value) -> Vec<String> {
    let mut out = Vec::new();
    if text(old, "name") != text(new, "name") {
        out.push(format!("renamed from {}", text(old, "name")));
    }
    let fields = |v: &Value| v["fields"].as_array().cloned().unwrap_or_default();
    let (old_fields, new_fields) = (fields(old), fields(new));
    let same_field = |a: &Value, b: &Value| {
        (!text(a, "id").is_empty() && text(a, "id") == text(b, "id"))
            || text(a, "name") == text(b, "name")
    };
    let added: Vec<String> = new_fields
        .iter()
        .filter(|f| !old_fields.iter().any(|o| same_field(o, f)))
        .map(|f| text(f, "name"))
        .collect();
    let removed: Vec<String> = old_fields
        .iter()
        .filter(|o| !new_fields.iter().any(|f| same_field(o, f)))
        .map(|o| text(o, "name"))
        .collect();
    let changed: Vec<String> = new_fields
        .iter()
        .filter_map(|f| {
            let o = old_fields.iter().find(|o| same_field(o, f))?;
            (o != f).then(|| text(f, "name"))
        })
        .collect();
    for (label, names) in [
        ("fields added", added),
        ("fields removed", removed),
        ("fields changed", changed),
    ] {
        if !names.is_empty() {
            out.push(format!("{label}: {}", names.join(", ")));
        }
    }
    for key in [
        "listRule",
        "viewRule",
        "createRule",
        "updateRule",
        "deleteRule",
        "indexes",
        "viewQuery",
    ] {
        if new.get(key).is_some() && old.get(key) != new.get(key) {
            out.push(format!("{key} changes"));
        }
    }
    let others: Vec<&String> = new
        .as_object()
        .map(|o| {
            o.keys()
                .filter(|k| {
                    !matches!(
                        k.as_str(),
                        "id" | "name"
                            | "fields"
                            | "created"
                            | "updated"
                            | "listRule"
                            | "viewRule"
                            | "createRule"
                            | "updateRule"
                            | "deleteRule"
                            | "indexes"
                            | "viewQuery"
                    )
                })
                .filter(|k| old.get(k.as_str()) != new.get(k.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if !others.is_empty() {
        let names: Vec<&str> = others.iter().map(|k| k.as_str()).collect();
        out.push(format!("options change: {}", names.join(", ")));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_import_is_told_before_it_is_applied() {
        let current = vec![
            json!({"id": "c1", "name": "posts", "system": false, "listRule": "", "fields": [
                {"id": "f1", "name": "title", "type": "text"}, {"id": "f2", "name": "old", "type": "text"}]}),
            json!({"id": "c2", "name": "tags", "system": false, "fields": []}),
            json!({"id": "c3", "name": "_superusers", "system": true, "fields": []}),
        ];
        let items = vec![
            json!({"id": "c1", "name": "articles", "listRule": null, "fields": [
                {"id": "f1", "name": "title", "type": "text", "max": 5}, {"name": "body", "type": "editor"}]}),
            json!({"name": "comments", "fields": [{"name": "text", "type": "text"}]}),
        ];
        assert_eq!(
            review(&current, &items, true),
            vec![
                Change {
                    collection: "articles".into(),
                    kind: "changed",
                    details: vec![
                        "renamed from posts".into(),
                        "fields added: body".into(),
                        "fields removed: old".into(),
                        "fields changed: title".into(),
                        "listRule changes".into(),
                    ],
                },
                Change {
                    collection: "comments".into(),
                    kind: "new",
                    details: vec!["1 fields".into()]
                },
                Change {
                    collection: "tags".into(),
                    kind: "deleted",
                    details: vec!["with all its records".into()]
                },
            ]
        );
        assert_eq!(review(&current, &current[1..2], false)[0].kind, "unchanged");
    }
}

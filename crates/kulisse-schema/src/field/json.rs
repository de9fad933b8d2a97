//! A field's JSON definition: decoding (lenient, as PocketBase is) and encoding (keys in
//! PocketBase's order).

use serde_json::{Map, Value, json};

use super::{Field, FieldKind};
use crate::errors::{FieldError, FieldErrors};
use crate::ids;

impl Field {
    /// Decodes a field from its JSON definition. Structural problems (not an object, unknown
    /// type) are errors keyed by option name, as PocketBase nests them under `fields.N`.
    pub fn from_json(v: &Value) -> Result<Field, FieldErrors> {
        let mut errs = FieldErrors::new();
        let Some(obj) = v.as_object() else {
            errs.add(
                "type",
                FieldError::new("validation_invalid_value", "Invalid field definition."),
            );
            return Err(errs);
        };
        let type_name = obj.get("type").and_then(Value::as_str).unwrap_or("");
        let Some(default) = FieldKind::default_for(type_name) else {
            errs.add(
                "type",
                FieldError::new("validation_invalid_value", "Must be a valid value."),
            );
            return Err(errs);
        };
        let kind = parse_kind(default, obj);
        let name = str_opt(obj, "name");
        let id = match str_opt(obj, "id") {
            s if s.is_empty() => ids::field_id(kind.type_name(), &name),
            s => s,
        };
        Ok(Field {
            id,
            name,
            system: bool_opt(obj, "system"),
            hidden: bool_opt(obj, "hidden"),
            presentable: bool_opt(obj, "presentable"),
            help: str_opt(obj, "help"),
            required: bool_opt(obj, "required"),
            kind,
        })
    }

    /// The JSON definition, keys in alphabetical order like PocketBase's output.
    pub fn to_json(&self) -> Value {
        let mut o = Map::new();
        o.insert("id".into(), json!(self.id));
        o.insert("name".into(), json!(self.name));
        o.insert("type".into(), json!(self.kind.type_name()));
        o.insert("system".into(), json!(self.system));
        o.insert("hidden".into(), json!(self.hidden));
        o.insert("presentable".into(), json!(self.presentable));
        if !matches!(self.kind, FieldKind::Autodate { .. }) {
            o.insert("help".into(), json!(self.help));
            o.insert("required".into(), json!(self.required));
        }
        match &self.kind {
            FieldKind::Text {
                min,
                max,
                pattern,
                autogenerate_pattern,
                primary_key,
            } => {
                o.insert("min".into(), json!(min));
                o.insert("max".into(), json!(max));
                o.insert("pattern".into(), json!(pattern));
                o.insert("autogeneratePattern".into(), json!(autogenerate_pattern));
                o.insert("primaryKey".into(), json!(primary_key));
            }
            FieldKind::Editor {
                max_size,
                convert_urls,
            } => {
                o.insert("maxSize".into(), json!(max_size));
                o.insert("convertURLs".into(), json!(convert_urls));
            }
            FieldKind::Number { min, max, only_int } => {
                o.insert("min".into(), min.map_or(Value::Null, crate::value::number));
                o.insert("max".into(), max.map_or(Value::Null, crate::value::number));
                o.insert("onlyInt".into(), json!(only_int));
            }
            FieldKind::Bool | FieldKind::GeoPoint => {}
            FieldKind::Email {
                only_domains,
                except_domains,
            }
            | FieldKind::Url {
                only_domains,
                except_domains,
            } => {
                o.insert("onlyDomains".into(), json!(only_domains));
                o.insert("exceptDomains".into(), json!(except_domains));
            }
            FieldKind::Date { min, max } => {
                o.insert("min".into(), json!(min));
                o.insert("max".into(), json!(max));
            }
            FieldKind::Autodate {
                on_create,
                on_update,
            } => {
                o.insert("onCreate".into(), json!(on_create));
                o.insert("onUpdate".into(), json!(on_update));
            }
            FieldKind::Select { values, max_select } => {
                o.insert("values".into(), json!(values));
                o.insert("maxSelect".into(), json!(max_select));
            }
            FieldKind::Relation {
                collection_id,
                cascade_delete,
                min_select,
                max_select,
            } => {
                o.insert("collectionId".into(), json!(collection_id));
                o.insert("cascadeDelete".into(), json!(cascade_delete));
                o.insert("minSelect".into(), json!(min_select));
                o.insert("maxSelect".into(), json!(max_select));
            }
            FieldKind::File {
                max_select,
                max_size,
                mime_types,
                thumbs,
                protected,
            } => {
                o.insert("maxSelect".into(), json!(max_select));
                o.insert("maxSize".into(), json!(max_size));
                o.insert("mimeTypes".into(), json!(mime_types));
                o.insert("thumbs".into(), json!(thumbs));
                o.insert("protected".into(), json!(protected));
            }
            FieldKind::Json { max_size } => {
                o.insert("maxSize".into(), json!(max_size));
            }
            FieldKind::Password {
                min,
                max,
                pattern,
                cost,
            } => {
                o.insert("min".into(), json!(min));
                o.insert("max".into(), json!(max));
                o.insert("pattern".into(), json!(pattern));
                o.insert("cost".into(), json!(cost));
            }
        }
        Value::Object(o)
    }
}

fn parse_kind(default: FieldKind, o: &Map<String, Value>) -> FieldKind {
    match default {
        FieldKind::Text { .. } => FieldKind::Text {
            min: uint_opt(o, "min"),
            max: uint_opt(o, "max"),
            pattern: str_opt(o, "pattern"),
            autogenerate_pattern: str_opt(o, "autogeneratePattern"),
            primary_key: bool_opt(o, "primaryKey"),
        },
        FieldKind::Editor { .. } => FieldKind::Editor {
            max_size: uint_opt(o, "maxSize"),
            convert_urls: bool_opt(o, "convertURLs"),
        },
        FieldKind::Number { .. } => FieldKind::Number {
            min: o.get("min").and_then(Value::as_f64),
            max: o.get("max").and_then(Value::as_f64),
            only_int: bool_opt(o, "onlyInt"),
        },
        FieldKind::Email { .. } => FieldKind::Email {
            only_domains: strs_opt(o, "onlyDomains"),
            except_domains: strs_opt(o, "exceptDomains"),
        },
        FieldKind::Url { .. } => FieldKind::Url {
            only_domains: strs_opt(o, "onlyDomains"),
            except_domains: strs_opt(o, "exceptDomains"),
        },
        FieldKind::Date { .. } => FieldKind::Date {
            min: str_opt(o, "min"),
            max: str_opt(o, "max"),
        },
        FieldKind::Autodate { .. } => FieldKind::Autodate {
            on_create: bool_opt(o, "onCreate"),
            on_update: bool_opt(o, "onUpdate"),
        },
        FieldKind::Select { .. } => FieldKind::Select {
            values: strs_opt(o, "values"),
            max_select: uint_opt(o, "maxSelect"),
        },
        FieldKind::Relation { .. } => FieldKind::Relation {
            collection_id: str_opt(o, "collectionId"),
            cascade_delete: bool_opt(o, "cascadeDelete"),
            min_select: uint_opt(o, "minSelect"),
            max_select: uint_opt(o, "maxSelect"),
        },
        FieldKind::File { .. } => FieldKind::File {
            max_select: uint_opt(o, "maxSelect"),
            max_size: uint_opt(o, "maxSize"),
            mime_types: strs_opt(o, "mimeTypes"),
            thumbs: strs_opt(o, "thumbs"),
            protected: bool_opt(o, "protected"),
        },
        FieldKind::Json { .. } => FieldKind::Json {
            max_size: uint_opt(o, "maxSize"),
        },
        FieldKind::Password { .. } => FieldKind::Password {
            min: uint_opt(o, "min"),
            max: uint_opt(o, "max"),
            pattern: str_opt(o, "pattern"),
            cost: uint_opt(o, "cost"),
        },
        other => other,
    }
}

fn str_opt(o: &Map<String, Value>, key: &str) -> String {
    o.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

fn bool_opt(o: &Map<String, Value>, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool).unwrap_or(false)
}

fn uint_opt(o: &Map<String, Value>, key: &str) -> u64 {
    o.get(key)
        .and_then(Value::as_f64)
        .filter(|f| *f > 0.0)
        .map(|f| f as u64)
        .unwrap_or(0)
}

fn strs_opt(o: &Map<String, Value>, key: &str) -> Vec<String> {
    match o.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        _ => vec![],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_options() {
        let def = json!({"type":"relation","name":"author","collectionId":"pbc_1","maxSelect":5,"cascadeDelete":true});
        let f = Field::from_json(&def).unwrap();
        assert_eq!(f.id, ids::field_id("relation", "author"));
        assert!(f.kind.is_multiple());
        let out = f.to_json();
        assert_eq!(out["maxSelect"], 5);
        assert_eq!(out["cascadeDelete"], true);
        assert_eq!(Field::from_json(&out).unwrap(), f);
    }

    #[test]
    fn number_field_json_matches_pocketbase() {
        let f = Field::from_json(&json!({"type":"number","name":"views","min":0})).unwrap();
        assert_eq!(
            f.to_json(),
            json!({"help":"","hidden":false,"id":"number300981383","max":null,"min":0,"name":"views","onlyInt":false,"presentable":false,"required":false,"system":false,"type":"number"})
        );
    }
}

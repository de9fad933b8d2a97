//! Field definitions: the typed form of a collection's `fields` entries (spec §4.3).
//!
//! Parsing is lenient in the way PocketBase is (missing options take defaults, unknown keys
//! are ignored), but every option that would make the schema unusable is reported through
//! [`Field::validate`] with PocketBase's codes.

use serde_json::{Map, Value, json};

use crate::errors::{FieldError, FieldErrors};
use crate::ids;

/// Field names that PocketBase reserves in record JSON or the filter language.
pub const RESERVED_FIELD_NAMES: &[&str] = &[
    "null",
    "true",
    "false",
    "_rowid_",
    "collectionid",
    "collectionname",
    "expand",
];

/// One field of a collection.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// Stable id; renames keep it, so data follows the id, not the name.
    pub id: String,
    /// Column name and record JSON key.
    pub name: String,
    /// System fields (id, auth fields) cannot be removed or renamed.
    pub system: bool,
    /// Hidden fields are only visible to superusers.
    pub hidden: bool,
    /// UI hint: shown when the record is referenced elsewhere.
    pub presentable: bool,
    /// Free help text (not on autodate).
    pub help: String,
    /// Whether an empty value is refused.
    pub required: bool,
    /// The type and its options.
    pub kind: FieldKind,
}

/// The field types of PocketBase and their options.
#[derive(Debug, Clone, PartialEq)]
#[allow(missing_docs)]
pub enum FieldKind {
    Text {
        min: u64,
        max: u64,
        pattern: String,
        autogenerate_pattern: String,
        primary_key: bool,
    },
    Editor {
        max_size: u64,
        convert_urls: bool,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
        only_int: bool,
    },
    Bool,
    Email {
        only_domains: Vec<String>,
        except_domains: Vec<String>,
    },
    Url {
        only_domains: Vec<String>,
        except_domains: Vec<String>,
    },
    Date {
        min: String,
        max: String,
    },
    Autodate {
        on_create: bool,
        on_update: bool,
    },
    Select {
        values: Vec<String>,
        max_select: u64,
    },
    Relation {
        collection_id: String,
        cascade_delete: bool,
        min_select: u64,
        max_select: u64,
    },
    File {
        max_select: u64,
        max_size: u64,
        mime_types: Vec<String>,
        thumbs: Vec<String>,
        protected: bool,
    },
    Json {
        max_size: u64,
    },
    Password {
        min: u64,
        max: u64,
        pattern: String,
        cost: u64,
    },
    GeoPoint,
}

impl FieldKind {
    /// The PocketBase `type` string.
    pub fn type_name(&self) -> &'static str {
        match self {
            FieldKind::Text { .. } => "text",
            FieldKind::Editor { .. } => "editor",
            FieldKind::Number { .. } => "number",
            FieldKind::Bool => "bool",
            FieldKind::Email { .. } => "email",
            FieldKind::Url { .. } => "url",
            FieldKind::Date { .. } => "date",
            FieldKind::Autodate { .. } => "autodate",
            FieldKind::Select { .. } => "select",
            FieldKind::Relation { .. } => "relation",
            FieldKind::File { .. } => "file",
            FieldKind::Json { .. } => "json",
            FieldKind::Password { .. } => "password",
            FieldKind::GeoPoint => "geoPoint",
        }
    }

    /// Whether the stored value is a JSON array (multi select/relation/file).
    pub fn is_multiple(&self) -> bool {
        match self {
            FieldKind::Select { max_select, .. }
            | FieldKind::Relation { max_select, .. }
            | FieldKind::File { max_select, .. } => *max_select > 1,
            _ => false,
        }
    }

    /// A field whose value is stored as JSON text (arrays, json, geoPoint).
    pub fn is_json_stored(&self) -> bool {
        self.is_multiple() || matches!(self, FieldKind::Json { .. } | FieldKind::GeoPoint)
    }

    /// The default options of a type, `None` for an unknown type name.
    pub fn default_for(type_name: &str) -> Option<FieldKind> {
        Some(match type_name {
            "text" => FieldKind::Text {
                min: 0,
                max: 0,
                pattern: String::new(),
                autogenerate_pattern: String::new(),
                primary_key: false,
            },
            "editor" => FieldKind::Editor {
                max_size: 0,
                convert_urls: false,
            },
            "number" => FieldKind::Number {
                min: None,
                max: None,
                only_int: false,
            },
            "bool" => FieldKind::Bool,
            "email" => FieldKind::Email {
                only_domains: vec![],
                except_domains: vec![],
            },
            "url" => FieldKind::Url {
                only_domains: vec![],
                except_domains: vec![],
            },
            "date" => FieldKind::Date {
                min: String::new(),
                max: String::new(),
            },
            "autodate" => FieldKind::Autodate {
                on_create: false,
                on_update: false,
            },
            "select" => FieldKind::Select {
                values: vec![],
                max_select: 0,
            },
            "relation" => FieldKind::Relation {
                collection_id: String::new(),
                cascade_delete: false,
                min_select: 0,
                max_select: 0,
            },
            "file" => FieldKind::File {
                max_select: 0,
                max_size: 0,
                mime_types: vec![],
                thumbs: vec![],
                protected: false,
            },
            "json" => FieldKind::Json { max_size: 0 },
            "password" => FieldKind::Password {
                min: 0,
                max: 0,
                pattern: String::new(),
                cost: 0,
            },
            "geoPoint" => FieldKind::GeoPoint,
            _ => return None,
        })
    }
}

impl Field {
    /// A new field with default options; its id follows PocketBase's `<type><crc32(name)>`.
    pub fn new(name: &str, kind: FieldKind) -> Self {
        Self {
            id: ids::field_id(kind.type_name(), name),
            name: name.to_owned(),
            system: false,
            hidden: false,
            presentable: false,
            help: String::new(),
            required: false,
            kind,
        }
    }

    /// Builder: marks the field system.
    pub fn system(mut self) -> Self {
        self.system = true;
        self
    }

    /// Builder: marks the field hidden.
    pub fn hidden(mut self) -> Self {
        self.hidden = true;
        self
    }

    /// Builder: marks the field required.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The standard primary key field every collection starts with.
    pub fn primary_id() -> Self {
        let mut f = Field::new(
            "id",
            FieldKind::Text {
                min: 15,
                max: 15,
                pattern: "^[a-z0-9]+$".into(),
                autogenerate_pattern: "[a-z0-9]{15}".into(),
                primary_key: true,
            },
        );
        f.id = "text3208210256".into();
        f.system = true;
        f.required = true;
        f
    }

    /// Whether this is the primary key field.
    pub fn is_primary_key(&self) -> bool {
        matches!(
            self.kind,
            FieldKind::Text {
                primary_key: true,
                ..
            }
        )
    }

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

    /// Checks the field's own definition; errors are keyed by option name.
    pub fn validate(&self) -> FieldErrors {
        let mut errs = FieldErrors::new();
        validate_name(&self.name, &mut errs);
        if self.id.is_empty() || self.id.len() > 100 {
            errs.add(
                "id",
                FieldError::new(
                    "validation_length_out_of_range",
                    "The length must be between 1 and 100.",
                ),
            );
        }
        if self.help.chars().count() > 300 {
            errs.add(
                "help",
                FieldError::new(
                    "validation_length_too_long",
                    "The length must be no more than 300.",
                )
                .with_param("max", 300),
            );
        }
        match &self.kind {
            FieldKind::Text {
                min,
                max,
                pattern,
                autogenerate_pattern,
                ..
            } => {
                if *max > 0 && min > max {
                    errs.add(
                        "max",
                        FieldError::new(
                            "validation_min_greater_equal_than_required",
                            format!("Must be no less than {min}."),
                        )
                        .with_param("threshold", *min),
                    );
                }
                check_regex(pattern, "pattern", &mut errs);
                if !autogenerate_pattern.is_empty()
                    && ids::generate_from_pattern(autogenerate_pattern).is_none()
                {
                    errs.add(
                        "autogeneratePattern",
                        FieldError::new(
                            "validation_invalid_regex",
                            "Unsupported autogenerate pattern (use e.g. [a-z0-9]{15}).",
                        ),
                    );
                }
            }
            FieldKind::Number { min, max, only_int } => {
                if let (Some(min), Some(max)) = (min, max)
                    && min > max
                {
                    let n = crate::value::number(*min);
                    errs.add(
                        "max",
                        FieldError::new(
                            "validation_min_number_constraint",
                            format!("Must be greater or equal than {n}."),
                        )
                        .with_param("min", n),
                    );
                }
                if *only_int && [min, max].into_iter().flatten().any(|v| v.fract() != 0.0) {
                    errs.add(
                        "max",
                        FieldError::new(
                            "validation_only_int_constraint",
                            "Decimal numbers are not allowed.",
                        ),
                    );
                }
            }
            FieldKind::Email {
                only_domains,
                except_domains,
            }
            | FieldKind::Url {
                only_domains,
                except_domains,
            } if !only_domains.is_empty() && !except_domains.is_empty() => {
                errs.add(
                    "onlyDomains",
                    FieldError::new(
                        "validation_only_domains_conflict",
                        "Only one of onlyDomains and exceptDomains may be set.",
                    ),
                );
            }
            FieldKind::Date { min, max } => {
                for (key, v) in [("min", min), ("max", max)] {
                    if !v.is_empty() && crate::datetime::parse(v).is_none() {
                        errs.add(
                            key,
                            FieldError::new("validation_invalid_date", "Must be a valid date."),
                        );
                    }
                }
            }
            FieldKind::Autodate {
                on_create,
                on_update,
            } if !on_create && !on_update => {
                for key in ["onCreate", "onUpdate"] {
                    errs.add(
                        key,
                        FieldError::new(
                            "validation_required",
                            "Either onCreate or onUpdate must be enabled.",
                        ),
                    );
                }
            }
            FieldKind::Select { values, max_select } => {
                if values.is_empty() {
                    errs.add("values", FieldError::required());
                } else if *max_select > values.len() as u64 {
                    let n = values.len();
                    errs.add(
                        "maxSelect",
                        FieldError::new(
                            "validation_max_less_equal_than_required",
                            format!("Must be no greater than {n}."),
                        )
                        .with_param("threshold", n),
                    );
                }
            }
            FieldKind::Relation {
                collection_id,
                min_select,
                max_select,
                ..
            } => {
                if collection_id.is_empty() {
                    errs.add("collectionId", FieldError::required());
                }
                if *max_select > 0 && min_select > max_select {
                    errs.add(
                        "maxSelect",
                        FieldError::new(
                            "validation_min_greater_equal_than_required",
                            format!("Must be no less than {min_select}."),
                        )
                        .with_param("threshold", *min_select),
                    );
                }
            }
            FieldKind::File { thumbs, .. } => {
                let mut nested = FieldErrors::new();
                for (i, t) in thumbs.iter().enumerate() {
                    if t.starts_with("0x0") {
                        nested.add(
                            i.to_string(),
                            FieldError::new("validation_not_in_invalid", "Must not be in list."),
                        );
                    } else if !is_valid_thumb(t) {
                        nested.add(
                            i.to_string(),
                            FieldError::new(
                                "validation_match_invalid",
                                "Must be in a valid format.",
                            ),
                        );
                    }
                }
                errs.add_nested("thumbs", nested);
            }
            FieldKind::Password {
                min,
                max,
                pattern,
                cost,
            } => {
                for (key, v) in [("min", min), ("max", max)] {
                    if *v > 71 {
                        errs.add(
                            key,
                            FieldError::new(
                                "validation_max_less_equal_than_required",
                                "Must be no greater than 71.",
                            )
                            .with_param("threshold", 71),
                        );
                    }
                }
                if *cost != 0 && !(4..=31).contains(cost) {
                    errs.add(
                        "cost",
                        FieldError::new("validation_out_of_range", "Must be between 4 and 31."),
                    );
                }
                check_regex(pattern, "pattern", &mut errs);
            }
            _ => {}
        }
        errs
    }
}

/// `^\w+$`, 1..=100 chars, not reserved, no `_via_`.
fn validate_name(name: &str, errs: &mut FieldErrors) {
    if name.is_empty() {
        errs.add("name", FieldError::required());
    } else if name.chars().count() > 100 {
        errs.add(
            "name",
            FieldError::new(
                "validation_length_out_of_range",
                "The length must be between 1 and 100.",
            )
            .with_param("max", 100)
            .with_param("min", 1),
        );
    } else if !is_word(name) {
        errs.add(
            "name",
            FieldError::new("validation_match_invalid", "Must be in a valid format."),
        );
    } else if RESERVED_FIELD_NAMES.contains(&name.to_ascii_lowercase().as_str()) {
        errs.add(
            "name",
            FieldError::new("validation_not_in_invalid", "Must not be in list."),
        );
    } else if name.to_ascii_lowercase().contains("_via_") {
        errs.add(
            "name",
            FieldError::new(
                "validation_found_via",
                "The value cannot contain \"_via_\".",
            ),
        );
    }
}

/// Go's `\w`: ASCII letters, digits and underscore.
pub fn is_word(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_valid_thumb(t: &str) -> bool {
    let body = t.strip_suffix(['t', 'b', 'f']).unwrap_or(t);
    match body.split_once('x') {
        Some((w, h)) => {
            let (Ok(w), Ok(h)) = (w.parse::<u32>(), h.parse::<u32>()) else {
                return false;
            };
            !(w == 0 && h == 0)
        }
        None => false,
    }
}

fn check_regex(pattern: &str, key: &str, errs: &mut FieldErrors) {
    if !pattern.is_empty() && crate::value::compiled_pattern(pattern).is_none() {
        errs.add(
            key,
            FieldError::new("validation_invalid_regex", "Invalid regular expression."),
        );
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

    #[test]
    fn invalid_definitions_are_reported() {
        let f = Field::from_json(&json!({"type":"select","name":"bad name"})).unwrap();
        let errs = f.validate().to_json();
        assert_eq!(errs["name"]["code"], "validation_match_invalid");
        assert_eq!(errs["values"]["code"], "validation_required");
        assert!(Field::from_json(&json!({"type":"nope","name":"x"})).is_err());
        let reserved = Field::from_json(&json!({"type":"text","name":"expand"})).unwrap();
        assert!(reserved.validate().contains("name"));
        assert!(!is_valid_thumb("0x0"));
        assert!(is_valid_thumb("100x50f"));
    }
}

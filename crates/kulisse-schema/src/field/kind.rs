//! The field types of PocketBase and their options.

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

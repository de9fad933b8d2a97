//! Field definitions: the typed form of a collection's `fields` entries (spec §4.3).
//!
//! Parsing is lenient in the way PocketBase is (missing options take defaults, unknown keys
//! are ignored), but every option that would make the schema unusable is reported through
//! [`Field::validate`] with PocketBase's codes.
//!
//! One concept per file: [`FieldKind`] (the types and their options) in `kind.rs`, the JSON
//! definition codec in `json.rs`, the definition checks in `validate.rs`.

mod json;
mod kind;
mod validate;

pub use kind::FieldKind;
pub use validate::{RESERVED_FIELD_NAMES, is_word};

use crate::ids;

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
}

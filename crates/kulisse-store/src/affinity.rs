//! Column affinity: how a stored column converts the values it is compared with.

use kulisse_schema::FieldKind;

/// SQLite's column affinity, as the column types the engines declare give it.
///
/// PocketBase's filter language was defined by SQLite's dynamic typing: `age = "42"` is
/// true for a number column holding 42 because the column's NUMERIC affinity turns the
/// number-looking text into a number first. kulisse promises the same results on every
/// engine and in the in-memory evaluator, so all of them derive a column's affinity here,
/// from the field kind: numbers and bools are NUMERIC, JSON-stored kinds too (SQLite gives
/// the declared type `JSON` NUMERIC affinity), everything else TEXT. Terms that are not
/// columns have none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Affinity {
    /// Number-looking text converts to a number.
    Numeric,
    /// Numbers convert to text.
    Text,
    /// No conversion (expressions, literals, columns of unknown fields).
    None,
}

impl Affinity {
    /// The affinity of the column a field of `kind` is stored in.
    pub fn of_kind(kind: &FieldKind) -> Self {
        match kind {
            FieldKind::Number { .. } | FieldKind::Bool => Affinity::Numeric,
            k if k.is_json_stored() => Affinity::Numeric,
            _ => Affinity::Text,
        }
    }

    /// The affinity of a column whose field may be unknown (`None`: no affinity).
    pub fn of_column(kind: Option<&FieldKind>) -> Self {
        kind.map_or(Affinity::None, Self::of_kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(type_name: &str) -> FieldKind {
        FieldKind::default_for(type_name).unwrap()
    }

    #[test]
    fn numbers_bools_and_json_stored_kinds_are_numeric_the_rest_text() {
        for t in ["number", "bool", "json", "geoPoint"] {
            assert_eq!(Affinity::of_kind(&kind(t)), Affinity::Numeric, "{t}");
        }
        for t in [
            "text", "editor", "email", "url", "date", "autodate", "password",
        ] {
            assert_eq!(Affinity::of_kind(&kind(t)), Affinity::Text, "{t}");
        }
        let FieldKind::Select { values, .. } = kind("select") else {
            unreachable!()
        };
        let multiple = FieldKind::Select {
            values,
            max_select: 2,
        };
        assert!(multiple.is_json_stored());
        assert_eq!(Affinity::of_kind(&multiple), Affinity::Numeric);
        assert_eq!(Affinity::of_kind(&kind("select")), Affinity::Text);
    }

    #[test]
    fn an_unknown_column_has_no_affinity() {
        assert_eq!(Affinity::of_column(None), Affinity::None);
        assert_eq!(
            Affinity::of_column(Some(&kind("number"))),
            Affinity::Numeric
        );
    }
}

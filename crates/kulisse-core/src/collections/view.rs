//! View collections: fields inferred from the columns their query produces (spec §4.7).

use kulisse_schema::{Collection, Field, FieldError, FieldErrors, FieldKind};
use kulisse_store::ViewColumn;

use super::registry::Snapshot;

/// Builds a view collection's fields from its described columns.
///
/// A bare source column keeps its field definition (so relations and files keep working);
/// `count(…)` is an integer number; any other expression is `json`.
pub(crate) fn infer_fields(
    columns: &[ViewColumn],
    snapshot: &Snapshot,
) -> Result<Vec<Field>, FieldErrors> {
    if !columns.iter().any(|c| c.name == "id") {
        let mut errs = FieldErrors::new();
        errs.add(
            "fields",
            FieldError::new(
                "validation_missing_primary_key",
                "Missing or invalid \"id\" PK field.",
            ),
        );
        errs.add("viewQuery", FieldError::new("validation_invalid_view_query", "Invalid query - missing required id column (you can use `(ROW_NUMBER() OVER()) as id` if you don't have one)."));
        return Err(errs);
    }
    let mut fields = Vec::with_capacity(columns.len());
    for col in columns {
        let source = col.source.as_ref().and_then(|(table, column)| {
            snapshot
                .all()
                .iter()
                .find(|c| c.name == *table)
                .and_then(|c| c.field(column).cloned())
        });
        let mut field = match source {
            Some(mut f) if col.name == "id" || !f.is_primary_key() => {
                f.name = col.name.clone();
                if col.name != "id" {
                    f.id = format!("_clone_{}", crc_suffix(&col.name, &f.id));
                    f.system = false;
                }
                f
            }
            _ if col.name == "id" => view_id_field(),
            _ if col.is_count => Field::new(
                &col.name,
                FieldKind::Number {
                    min: None,
                    max: None,
                    only_int: true,
                },
            ),
            _ => Field::new(&col.name, FieldKind::Json { max_size: 1 }),
        };
        if col.name == "id" {
            field = view_id_field();
        }
        fields.push(field);
    }
    Ok(fields)
}

/// A view's `id`: PocketBase keeps the pattern but drops length and autogeneration.
fn view_id_field() -> Field {
    let mut f = Field::primary_id();
    if let FieldKind::Text {
        min,
        max,
        autogenerate_pattern,
        ..
    } = &mut f.kind
    {
        *min = 0;
        *max = 0;
        autogenerate_pattern.clear();
    }
    f
}

fn crc_suffix(name: &str, source_id: &str) -> String {
    kulisse_schema::ids::field_id("", &format!("{source_id}{name}"))
}

/// Replaces a view collection's fields with the inferred ones.
pub(crate) fn apply(c: &mut Collection, fields: Vec<Field>) {
    c.fields = fields;
}

//! View collections: fields inferred from the columns their query produces (spec §4.7).

use kulisse_schema::{Collection, CollectionKind, Field, FieldError, FieldErrors, FieldKind};
use kulisse_store::{StoreTx, ViewColumn};

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

/// Whether `view`'s query may read the collection `name`: the name appears in it as a
/// whole identifier, in any case. A textual check, so it errs on the side of "yes" (a
/// mention inside a literal counts too).
pub(crate) fn reads(view: &Collection, name: &str) -> bool {
    let Some(query) = view.view_query.as_deref() else {
        return false;
    };
    let (query, name) = (query.to_ascii_lowercase(), name.to_ascii_lowercase());
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    query.match_indices(&name).any(|(at, _)| {
        let before = query[..at].chars().next_back();
        let after = query[at + name.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// A view whose query no longer compiles after a change to a collection it reads.
#[derive(Debug)]
pub(crate) struct BrokenView {
    /// The view's name.
    pub name: String,
}

/// Re-creates, inside the transaction that rebuilt `old` into `new`, every view that reads
/// it (and the views that read those), with fields inferred again.
///
/// Why: a rebuild replaces the table, which PostgreSQL's `DROP TABLE … CASCADE` takes its
/// views with and SQLite leaves pointing at columns that may be gone. Re-creating each
/// view is also the check that the change keeps it valid: when one no longer compiles the
/// whole change is refused (PocketBase refuses to drop a column a view reads), so nothing
/// stored ends up unreadable.
///
/// # Errors
/// The first view whose query fails against the new shape.
pub(crate) fn rebuild_dependents(
    tx: &mut dyn StoreTx,
    old: &Collection,
    new: &Collection,
    snapshot: &Snapshot,
) -> Result<(), BrokenView> {
    let snapshot = snapshot.with(new);
    let mut changed = vec![old.name.clone(), new.name.clone()];
    // A view is rebuilt again when a view it reads is rebuilt after it: PostgreSQL's
    // CASCADE drops it with the one it reads. `changed` only grows, so this ends.
    let mut i = 0;
    while let Some(name) = changed.get(i).cloned() {
        i += 1;
        for view in snapshot.all() {
            if view.kind != CollectionKind::View || view.id == new.id || !reads(view, &name) {
                continue;
            }
            let broken = || BrokenView {
                name: view.name.clone(),
            };
            let query = view.view_query.as_deref().unwrap_or_default();
            let columns = tx.describe_view(query).map_err(|_| broken())?;
            let fields = infer_fields(&columns, &snapshot).map_err(|_| broken())?;
            let mut next = (**view).clone();
            apply(&mut next, fields);
            // Dropped and created, not altered: engines skip the DDL of an alter that keeps
            // a view's definition, and this view must be built again.
            tx.drop_collection(view).map_err(|_| broken())?;
            tx.create_collection(&next).map_err(|_| broken())?;
            if !changed.contains(&view.name) {
                changed.push(view.name.clone());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kulisse_schema::CollectionKind;

    use super::*;

    #[test]
    fn a_view_reads_a_collection_named_as_a_whole_identifier() {
        let mut v = Collection::new("v", CollectionKind::View);
        v.view_query = Some("SELECT p.id, \"Posts\".title FROM posts_v2 JOIN Posts p".into());
        assert!(reads(&v, "posts"));
        assert!(reads(&v, "posts_v2"));
        assert!(!reads(&v, "post"));
        assert!(!reads(&v, "v2"));
        assert!(!reads(&v, "v"));
    }
}

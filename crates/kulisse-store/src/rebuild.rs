//! What a schema change does to a collection's table, decided once for every engine: whether
//! the stored shape changes at all, and which old column feeds which new one when the table
//! is rebuilt. Engines only render the SQL for the plan.

use kulisse_schema::{Collection, Field, IndexDef};

/// Whether `old` and `new` are stored the same way, so that a change between them only
/// rewrites the collection's metadata (rules, options) and leaves the table or view alone.
///
/// The storage shape is the name, the kind (a table is not a view), a view's query, the
/// indexes, and each field's id, name, type and single-or-multiple storage, in order. A
/// view whose query changes while its columns keep their names is a different shape: its
/// SQL must be replaced. (The SQLite engine's copy of this test once left the kind and the
/// query to its caller; both engines now ask this one.)
pub fn same_table_shape(old: &Collection, new: &Collection) -> bool {
    same_columns(old, new) && old.storage_indexes() == new.storage_indexes()
}

/// Whether `old` and `new` keep their rows alike: [`same_table_shape`] but for the
/// indexes, which can then change on their own ([`index_changes`]) instead of the table
/// being rebuilt (a copy of every row, under the write lock, and on PostgreSQL the
/// planner's statistics lost until the next `ANALYZE`).
pub fn same_columns(old: &Collection, new: &Collection) -> bool {
    old.name == new.name
        && old.kind == new.kind
        && old.view_query == new.view_query
        && old.fields.len() == new.fields.len()
        && old.fields.iter().zip(&new.fields).all(|(a, b)| {
            a.id == b.id
                && a.name == b.name
                && a.kind.type_name() == b.kind.type_name()
                && a.kind.is_multiple() == b.kind.is_multiple()
        })
}

/// The indexes of `old` that `new` no longer has (to drop first) and those `new` adds (to
/// create then); a changed index is in both.
pub fn index_changes(old: &Collection, new: &Collection) -> (Vec<IndexDef>, Vec<IndexDef>) {
    let (before, after) = (old.storage_indexes(), new.storage_indexes());
    let dropped = before
        .iter()
        .filter(|d| !after.contains(d))
        .cloned()
        .collect();
    let created = after
        .iter()
        .filter(|d| !before.contains(d))
        .cloned()
        .collect();
    (dropped, created)
}

/// How a stored value must change to move from one field definition to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conversion {
    /// Stored as is.
    Keep,
    /// A single value becomes a one-element JSON array; an empty value becomes `[]`.
    WrapInArray,
    /// A JSON array becomes its last element; an empty or invalid array becomes `''`
    /// (PocketBase keeps the last value when `maxSelect` drops to 1).
    LastElement,
}

/// One column of a rebuilt table that is filled from a column of the old one.
#[derive(Debug, Clone, Copy)]
pub struct Carry<'a> {
    /// The field in the old definition (its column is read).
    pub from: &'a Field,
    /// The same field (same id) in the new definition (its column is written).
    pub to: &'a Field,
    /// How the value changes on the way.
    pub conversion: Conversion,
}

/// The columns a rebuild from `old` to `new` carries over, in `new`'s field order.
///
/// Fields are matched by id, never by name: a renamed field keeps its values, and a field
/// removed and re-added under the same name starts empty. Fields of `new` without a match
/// take their column default.
pub fn rebuild_plan<'a>(old: &'a Collection, new: &'a Collection) -> Vec<Carry<'a>> {
    new.fields
        .iter()
        .filter_map(|to| {
            let from = old.fields.iter().find(|o| o.id == to.id)?;
            let conversion = match (from.kind.is_multiple(), to.kind.is_multiple()) {
                (false, true) => Conversion::WrapInArray,
                (true, false) => Conversion::LastElement,
                _ => Conversion::Keep,
            };
            Some(Carry {
                from,
                to,
                conversion,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kulisse_schema::{CollectionKind, FieldKind};

    use super::*;

    fn posts() -> Collection {
        let mut c = Collection::new("posts", CollectionKind::Base);
        c.fields
            .push(Field::new("title", FieldKind::default_for("text").unwrap()));
        c.fields.push(Field::new(
            "tags",
            FieldKind::default_for("select").unwrap(),
        ));
        c
    }

    fn field<'a>(c: &'a Collection, name: &str) -> &'a Field {
        c.field(name).unwrap()
    }

    fn select_max(c: &mut Collection, name: &str, max: u64) {
        let f = c.fields.iter_mut().find(|f| f.name == name).unwrap();
        if let FieldKind::Select { max_select, .. } = &mut f.kind {
            *max_select = max;
        }
    }

    #[test]
    fn a_rules_only_change_keeps_the_table_shape() {
        let old = posts();
        let mut new = old.clone();
        new.rules.list = Some(String::new());
        assert!(same_table_shape(&old, &new));
    }

    #[test]
    fn renamed_retyped_or_reshaped_fields_change_the_table_shape() {
        let old = posts();
        let mut renamed = old.clone();
        renamed.fields[1].name = "headline".into();
        assert!(!same_table_shape(&old, &renamed));
        let mut retyped = old.clone();
        retyped.fields[1].kind = FieldKind::default_for("editor").unwrap();
        assert!(!same_table_shape(&old, &retyped));
        let mut multiple = old.clone();
        select_max(&mut multiple, "tags", 3);
        assert!(!same_table_shape(&old, &multiple));
        let mut extra = old.clone();
        extra
            .fields
            .push(Field::new("body", FieldKind::default_for("text").unwrap()));
        assert!(!same_table_shape(&old, &extra));
    }

    #[test]
    fn a_view_whose_query_changes_is_a_different_shape_even_with_the_same_columns() {
        let mut old = Collection::new("v", CollectionKind::View);
        old.view_query = Some("SELECT id FROM posts".into());
        let mut new = old.clone();
        new.view_query = Some("SELECT id FROM posts WHERE 0".into());
        assert!(!same_table_shape(&old, &new));
        let mut as_table = old.clone();
        as_table.kind = CollectionKind::Base;
        as_table.view_query = old.view_query.clone();
        assert!(!same_table_shape(&old, &as_table));
    }

    #[test]
    fn the_plan_matches_fields_by_id_so_renames_keep_values_and_new_fields_start_empty() {
        let old = posts();
        let mut new = old.clone();
        new.fields[1].name = "headline".into();
        new.fields
            .push(Field::new("body", FieldKind::default_for("text").unwrap()));
        let plan = rebuild_plan(&old, &new);
        let pairs: Vec<(&str, &str)> = plan
            .iter()
            .map(|c| (c.from.name.as_str(), c.to.name.as_str()))
            .collect();
        assert_eq!(
            pairs,
            [("id", "id"), ("title", "headline"), ("tags", "tags")]
        );
        assert!(plan.iter().all(|c| c.conversion == Conversion::Keep));
    }

    #[test]
    fn a_removed_field_re_added_under_its_name_is_not_carried() {
        let old = posts();
        let mut new = old.clone();
        new.fields.retain(|f| f.name != "title");
        let mut again = Field::new("title", FieldKind::default_for("text").unwrap());
        again.id = "text_readded".into();
        new.fields.push(again);
        let plan = rebuild_plan(&old, &new);
        assert!(plan.iter().all(|c| c.to.name != "title"));
    }

    #[test]
    fn single_and_multiple_storage_changes_convert_the_value() {
        let old = posts();
        let mut multiple = old.clone();
        select_max(&mut multiple, "tags", 3);
        let plan = rebuild_plan(&old, &multiple);
        let tags = plan.iter().find(|c| c.to.name == "tags").unwrap();
        assert_eq!(tags.conversion, Conversion::WrapInArray);
        assert!(std::ptr::eq(tags.from, field(&old, "tags")));
        let back = rebuild_plan(&multiple, &old);
        let tags = back.iter().find(|c| c.to.name == "tags").unwrap();
        assert_eq!(tags.conversion, Conversion::LastElement);
    }
}

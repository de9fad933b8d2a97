//! Schema changes: tables, views and indexes for collections, and the metadata table.
//!
//! A changed collection is rebuilt (new table, copy, drop, rename) rather than patched with
//! `ALTER TABLE`: it handles renames, removals, option changes that change the storage shape
//! (single ⇄ multiple values) and new defaults uniformly, inside the caller's transaction.

use kulisse_schema::index::IndexPredicate;
use kulisse_schema::{Collection, CollectionKind, Field, FieldKind, IndexDef};
use kulisse_store::{Carry, Conversion, rebuild_plan};
use rusqlite::Connection;

use crate::render::quote;

fn column_def(f: &Field) -> String {
    let ty = match &f.kind {
        _ if f.is_primary_key() => "TEXT PRIMARY KEY NOT NULL",
        FieldKind::Number { .. } => "NUMERIC DEFAULT 0 NOT NULL",
        FieldKind::Bool => "BOOLEAN DEFAULT FALSE NOT NULL",
        FieldKind::Json { .. } => "JSON DEFAULT NULL",
        FieldKind::GeoPoint => "JSON DEFAULT '{\"lon\":0,\"lat\":0}' NOT NULL",
        k if k.is_multiple() => "JSON DEFAULT '[]' NOT NULL",
        _ => "TEXT DEFAULT '' NOT NULL",
    };
    format!("{} {ty}", quote(&f.name))
}

fn create_table_sql(table: &str, c: &Collection) -> String {
    let cols: Vec<String> = c.fields.iter().map(column_def).collect();
    format!("CREATE TABLE {} ({})", quote(table), cols.join(", "))
}

/// Renders an index. Partial-index literals are inlined because DDL takes no parameters;
/// they come from [`IndexDef::parse`], which only admits quoted strings, numbers and NULL.
fn create_index_sql(table: &str, d: &IndexDef) -> String {
    let cols: Vec<String> = d
        .columns
        .iter()
        .map(|c| {
            format!(
                "{}{}{}",
                quote(&c.name),
                if c.nocase { " COLLATE NOCASE" } else { "" },
                if c.desc { " DESC" } else { "" }
            )
        })
        .collect();
    let mut sql = format!(
        "CREATE {}INDEX {} ON {} ({})",
        if d.unique { "UNIQUE " } else { "" },
        quote(&d.name),
        quote(table),
        cols.join(", ")
    );
    if !d.predicate.is_empty() {
        let terms: Vec<String> = d.predicate.iter().map(predicate_sql).collect();
        sql.push_str(&format!(" WHERE {}", terms.join(" AND ")));
    }
    sql
}

fn predicate_sql(p: &IndexPredicate) -> String {
    let lit = p.literal_sql();
    format!("{} {} {}", quote(&p.column), p.op, lit)
}

fn save_meta(conn: &Connection, c: &Collection) -> rusqlite::Result<()> {
    let data = serde_json::to_string(&c.json(true)).unwrap_or_default();
    conn.execute(
        "INSERT INTO _collections (id, name, type, data, created) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT(id) DO UPDATE SET name = excluded.name, type = excluded.type, data = excluded.data",
        (&c.id, &c.name, c.kind.as_str(), &data, &c.created),
    )?;
    Ok(())
}

fn create_indexes(conn: &Connection, c: &Collection) -> rusqlite::Result<()> {
    for d in c.storage_indexes() {
        conn.execute_batch(&create_index_sql(&c.name, &d))?;
    }
    Ok(())
}

fn drop_indexes(conn: &Connection, c: &Collection) -> rusqlite::Result<()> {
    for d in c.storage_indexes() {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {}", quote(&d.name)))?;
    }
    Ok(())
}

/// Drops the indexes `new` no longer has and creates those it adds (the table's rows stay
/// where they are).
pub(crate) fn change_indexes(
    conn: &Connection,
    old: &Collection,
    new: &Collection,
) -> rusqlite::Result<()> {
    let (dropped, created) = kulisse_store::index_changes(old, new);
    for d in dropped {
        conn.execute_batch(&format!("DROP INDEX IF EXISTS {}", quote(&d.name)))?;
    }
    for d in created {
        conn.execute_batch(&create_index_sql(&new.name, &d))?;
    }
    Ok(())
}

/// Creates the table or view, its indexes and the metadata row.
pub(crate) fn create_collection(conn: &Connection, c: &Collection) -> rusqlite::Result<()> {
    match c.kind {
        CollectionKind::View => {
            let q = c.view_query.as_deref().unwrap_or_default();
            conn.execute_batch(&format!("CREATE VIEW {} AS {}", quote(&c.name), q))?;
        }
        _ => {
            conn.execute_batch(&create_table_sql(&c.name, c))?;
            create_indexes(conn, c)?;
        }
    }
    save_meta(conn, c)
}

/// Drops the table or view and the metadata row.
pub(crate) fn drop_collection(conn: &Connection, c: &Collection) -> rusqlite::Result<()> {
    let what = if c.kind == CollectionKind::View {
        "VIEW"
    } else {
        "TABLE"
    };
    conn.execute_batch(&format!("DROP {what} IF EXISTS {}", quote(&c.name)))?;
    conn.execute("DELETE FROM _collections WHERE id = ?1", [&c.id])?;
    Ok(())
}

/// Rebuilds the table to `new`'s shape, keeping the values of surviving fields.
pub(crate) fn alter_collection(
    conn: &Connection,
    old: &Collection,
    new: &Collection,
) -> rusqlite::Result<()> {
    if new.kind == CollectionKind::View {
        drop_collection(conn, old)?;
        return create_collection(conn, new);
    }
    let tmp = format!("_kulisse_rebuild_{}", new.id);
    drop_indexes(conn, old)?;
    conn.execute_batch(&create_table_sql(&tmp, new))?;
    let plan = rebuild_plan(old, new);
    let targets: Vec<String> = plan.iter().map(|c| quote(&c.to.name)).collect();
    let sources: Vec<String> = plan.iter().map(convert_expr).collect();
    if !targets.is_empty() {
        conn.execute_batch(&format!(
            "INSERT INTO {} ({}) SELECT {} FROM {}",
            quote(&tmp),
            targets.join(", "),
            sources.join(", "),
            quote(&old.name)
        ))?;
    }
    conn.execute_batch(&format!("DROP TABLE {}", quote(&old.name)))?;
    // NOTE: legacy mode keeps SQLite from rewriting (and failing on) views that name the
    // dropped table; they resolve again once the rebuilt table takes the name.
    conn.execute_batch("PRAGMA legacy_alter_table = ON")?;
    let renamed = conn.execute_batch(&format!(
        "ALTER TABLE {} RENAME TO {}",
        quote(&tmp),
        quote(&new.name)
    ));
    conn.execute_batch("PRAGMA legacy_alter_table = OFF")?;
    renamed?;
    create_indexes(conn, new)?;
    save_meta(conn, new)
}

/// The SELECT expression that carries a column's stored value into its rebuilt column.
fn convert_expr(c: &Carry<'_>) -> String {
    let col = quote(&c.from.name);
    match c.conversion {
        Conversion::WrapInArray => {
            format!("CASE WHEN {col} = '' OR {col} IS NULL THEN '[]' ELSE json_array({col}) END")
        }
        Conversion::LastElement => format!("COALESCE(json_extract({col}, '$[#-1]'), '')"),
        Conversion::Keep => col,
    }
}

/// Saves a collection's metadata without touching its table (e.g. rules-only changes).
pub(crate) fn update_meta(conn: &Connection, c: &Collection) -> rusqlite::Result<()> {
    save_meta(conn, c)
}

//! Schema changes on PostgreSQL: tables, views and indexes for collections, and their
//! metadata (the system tables and the helper functions the renderer relies on are
//! created by `migrations`). Everything runs inside the
//! caller's transaction (PostgreSQL DDL is transactional), under an advisory lock so that
//! nodes starting or migrating at once take turns.

use kulisse_schema::index::IndexPredicate;
use kulisse_schema::{Collection, CollectionKind, Field, FieldKind, IndexDef};
use kulisse_store::{Carry, Conversion, rebuild_plan};

use crate::render::quote;

/// Key of the advisory lock every schema change holds.
pub(crate) const SCHEMA_LOCK: i64 = 0x006b_756c_6973_7365; // "kulisse"

/// The PostgreSQL column type of a field (the virtual row casts to it too).
pub(crate) fn column_type(f: &Field) -> &'static str {
    match &f.kind {
        FieldKind::Number { .. } => "float8",
        FieldKind::Bool => "integer",
        _ => "text",
    }
}

fn column_def(f: &Field) -> String {
    let def = match &f.kind {
        _ if f.is_primary_key() => "TEXT COLLATE \"C\" PRIMARY KEY",
        FieldKind::Number { .. } => "DOUBLE PRECISION NOT NULL DEFAULT 0",
        FieldKind::Bool => "INTEGER NOT NULL DEFAULT 0",
        FieldKind::Json { .. } => "TEXT COLLATE \"C\" DEFAULT NULL",
        FieldKind::GeoPoint => "TEXT COLLATE \"C\" NOT NULL DEFAULT '{\"lon\":0,\"lat\":0}'",
        k if k.is_multiple() => "TEXT COLLATE \"C\" NOT NULL DEFAULT '[]'",
        _ => "TEXT COLLATE \"C\" NOT NULL DEFAULT ''",
    };
    format!("{} {def}", quote(&f.name))
}

fn create_table_sql(table: &str, c: &Collection) -> String {
    let mut cols: Vec<String> = c.fields.iter().map(column_def).collect();
    cols.push("\"_rowid\" BIGINT GENERATED ALWAYS AS IDENTITY".into());
    format!("CREATE TABLE {} ({})", quote(table), cols.join(", "))
}

/// Index DDL. Partial-index literals are inlined because DDL takes no parameters; they come
/// from [`IndexDef::parse`], which only admits quoted strings, numbers and NULL.
fn create_index_sql(table: &str, d: &IndexDef) -> String {
    let cols: Vec<String> = d
        .columns
        .iter()
        .map(|c| {
            let col = quote(&c.name);
            let expr = if c.nocase {
                format!("lower({col})")
            } else {
                col
            };
            format!("{expr}{}", if c.desc { " DESC" } else { "" })
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
    let op = match p.op {
        "IS" => "IS NOT DISTINCT FROM",
        "IS NOT" => "IS DISTINCT FROM",
        "!=" => "<>",
        other => other,
    };
    format!("{} {op} {lit}", quote(&p.column))
}

/// Statements creating a collection's table (or view) and indexes.
pub(crate) fn create_collection(c: &Collection) -> Vec<String> {
    match c.kind {
        CollectionKind::View => vec![format!(
            "CREATE VIEW {} AS {}",
            quote(&c.name),
            c.view_query.as_deref().unwrap_or_default()
        )],
        _ => {
            let mut out = vec![create_table_sql(&c.name, c)];
            out.push(format!(
                "CREATE INDEX {} ON {} (\"_rowid\")",
                quote(&format!("_rowid_{}", c.id)),
                quote(&c.name)
            ));
            out.extend(
                c.storage_indexes()
                    .iter()
                    .map(|d| create_index_sql(&c.name, d)),
            );
            out
        }
    }
}

/// Statements dropping a collection's table or view.
pub(crate) fn drop_collection(c: &Collection) -> Vec<String> {
    let what = if c.kind == CollectionKind::View {
        "VIEW"
    } else {
        "TABLE"
    };
    vec![format!("DROP {what} IF EXISTS {} CASCADE", quote(&c.name))]
}

/// The statements that drop the indexes `new` no longer has and create those it adds
/// (the table's rows, and the planner's statistics of them, stay).
pub(crate) fn change_indexes(old: &Collection, new: &Collection) -> Vec<String> {
    let (dropped, created) = kulisse_store::index_changes(old, new);
    dropped
        .iter()
        .map(|d| format!("DROP INDEX IF EXISTS {}", quote(&d.name)))
        .chain(created.iter().map(|d| create_index_sql(&new.name, d)))
        .collect()
}

/// Statements rebuilding `old` into `new`, keeping the values of fields matched by id.
pub(crate) fn alter_collection(old: &Collection, new: &Collection) -> Vec<String> {
    if new.kind == CollectionKind::View {
        let mut out = drop_collection(old);
        out.extend(create_collection(new));
        return out;
    }
    let tmp = format!("_kulisse_rebuild_{}", new.id);
    let mut out: Vec<String> = old
        .storage_indexes()
        .iter()
        .map(|d| format!("DROP INDEX IF EXISTS {}", quote(&d.name)))
        .collect();
    out.push(format!(
        "DROP INDEX IF EXISTS {}",
        quote(&format!("_rowid_{}", old.id))
    ));
    out.push(create_table_sql(&tmp, new));
    let plan = rebuild_plan(old, new);
    let targets: Vec<String> = plan.iter().map(|c| quote(&c.to.name)).collect();
    let sources: Vec<String> = plan.iter().map(convert_expr).collect();
    if !targets.is_empty() {
        out.push(format!(
            "INSERT INTO {} ({}) SELECT {} FROM {} ORDER BY \"_rowid\"",
            quote(&tmp),
            targets.join(", "),
            sources.join(", "),
            quote(&old.name)
        ));
    }
    out.push(format!("DROP TABLE {} CASCADE", quote(&old.name)));
    out.push(format!(
        "ALTER TABLE {} RENAME TO {}",
        quote(&tmp),
        quote(&new.name)
    ));
    out.push(format!(
        "CREATE INDEX {} ON {} (\"_rowid\")",
        quote(&format!("_rowid_{}", new.id)),
        quote(&new.name)
    ));
    out.extend(
        new.storage_indexes()
            .iter()
            .map(|d| create_index_sql(&new.name, d)),
    );
    out
}

/// The SELECT expression that carries a column's stored value into its rebuilt column.
fn convert_expr(c: &Carry<'_>) -> String {
    let col = quote(&c.from.name);
    match c.conversion {
        Conversion::WrapInArray => {
            format!("CASE WHEN {col} = '' THEN '[]' ELSE jsonb_build_array({col})::text END")
        }
        Conversion::LastElement => format!("COALESCE(kulisse_json_array({col}) ->> -1, '')"),
        Conversion::Keep => col,
    }
}

//! Restoring a snapshot ([`crate::snapshot`]) on PostgreSQL, in one transaction: every
//! collection's table or view is dropped and made again from the snapshot's definitions
//! with this engine's own DDL, every table (the system tables too) is filled with `COPY …
//! FROM STDIN`, and the row-order sequences are moved past the rows. Other sessions see the
//! old data or the restored data, never a mix. Only a snapshot of the same system tables
//! (the same migrations) is restored.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use futures::SinkExt;
use kulisse_schema::{Collection, CollectionKind};
use kulisse_store::StoreError;

use crate::classify::{classify, pool_error};
use crate::ddl;
use crate::render::quote;

/// A snapshot's directory and what it holds.
struct Snapshot {
    dir: PathBuf,
    /// Its collections, in creation order.
    collections: Vec<Collection>,
}

fn refused(why: impl Into<String>) -> StoreError {
    StoreError::Other(why.into())
}

/// Checks the snapshot in `from` against the database `pool` serves.
pub(crate) async fn check(pool: &deadpool_postgres::Pool, from: &Path) -> Result<(), StoreError> {
    read(pool, from).await.map(drop)
}

/// Reads the snapshot in `from`: its migrations must be the database's.
async fn read(pool: &deadpool_postgres::Pool, from: &Path) -> Result<Snapshot, StoreError> {
    let client = pool.get().await.map_err(|e| pool_error(&e))?;
    let schema: String = client
        .query_one("SELECT current_schema()", &[])
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| classify(&e, None))?;
    let dir = from.join(format!("postgres-{schema}"));
    let live: HashSet<i64> = client
        .query("SELECT version FROM _migrations", &[])
        .await
        .map_err(|e| classify(&e, None))?
        .iter()
        .filter_map(|r| r.try_get(0).ok())
        .collect();
    let copied: HashSet<i64> = rows(&dir, "_migrations")?
        .iter()
        .filter_map(|r| r.first().cloned().flatten()?.parse().ok())
        .collect();
    if copied != live {
        return Err(refused(
            "the backup was made by a kulisse with other system tables; restore it with that version",
        ));
    }
    let data_column = column_index(&client, "_collections", "data").await?;
    let rowid_column = column_index(&client, "_collections", "_rowid").await?;
    let mut stored: Vec<(i64, Collection)> = Vec::new();
    for row in rows(&dir, "_collections")? {
        let data = row
            .get(data_column)
            .cloned()
            .flatten()
            .ok_or_else(|| refused("a collection without its definition"))?;
        let value: serde_json::Value = serde_json::from_str(&data)
            .map_err(|e| refused(format!("a collection's definition is not JSON: {e}")))?;
        let c = Collection::from_stored(&value)
            .map_err(|e| refused(format!("a collection's definition is invalid: {e:?}")))?;
        let order = row
            .get(rowid_column)
            .cloned()
            .flatten()
            .and_then(|r| r.parse().ok())
            .unwrap_or(i64::MAX);
        stored.push((order, c));
    }
    stored.sort_by_key(|(order, _)| *order);
    Ok(Snapshot {
        dir,
        collections: stored.into_iter().map(|(_, c)| c).collect(),
    })
}

/// The 0-based position of `column` in `table` of the current schema.
async fn column_index(
    client: &deadpool_postgres::Client,
    table: &str,
    column: &str,
) -> Result<usize, StoreError> {
    let position: i32 = client
        .query_one(
            "SELECT ordinal_position::int FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 AND column_name = $2",
            &[&table, &column],
        )
        .await
        .and_then(|r| r.try_get(0))
        .map_err(|e| classify(&e, None))?;
    usize::try_from(position - 1).map_err(|_| refused("no such column"))
}

/// Replaces the database's data with the snapshot in `from`.
pub(crate) async fn restore(pool: &deadpool_postgres::Pool, from: &Path) -> Result<(), StoreError> {
    let snapshot = read(pool, from).await?;
    let mut client = pool.get().await.map_err(|e| pool_error(&e))?;
    let live: Vec<Collection> = client
        .query("SELECT data FROM _collections ORDER BY _rowid", &[])
        .await
        .map_err(|e| classify(&e, None))?
        .iter()
        .filter_map(|r| r.try_get::<_, String>(0).ok())
        .filter_map(|d| serde_json::from_str(&d).ok())
        .filter_map(|v| Collection::from_stored(&v).ok())
        .collect();
    let tx = client.transaction().await.map_err(|e| classify(&e, None))?;
    let run = |sql: String| {
        let tx = &tx;
        async move { tx.batch_execute(&sql).await.map_err(|e| classify(&e, None)) }
    };
    // Views first: they read the tables.
    for c in live.iter().rev() {
        for sql in ddl::drop_collection(c) {
            run(sql).await?;
        }
    }
    let collection_tables: HashSet<String> = snapshot
        .collections
        .iter()
        .map(|c| c.name.to_lowercase())
        .collect();
    for table in copied_tables(&snapshot.dir)? {
        if table == "_migrations" || collection_tables.contains(&table.to_lowercase()) {
            continue;
        }
        run(format!("TRUNCATE {}", quote(&table))).await?;
        copy_in(&tx, &snapshot.dir, &table).await?;
    }
    let (views, tables): (Vec<&Collection>, Vec<&Collection>) = snapshot
        .collections
        .iter()
        .partition(|c| c.kind == CollectionKind::View);
    for c in tables.iter().chain(&views) {
        for sql in ddl::create_collection(c) {
            run(sql).await?;
        }
    }
    for c in &tables {
        copy_in(&tx, &snapshot.dir, &c.name).await?;
        run(format!(
            "SELECT setval(pg_get_serial_sequence({}, '_rowid'), \
             COALESCE((SELECT max(\"_rowid\") FROM {}), 0) + 1, false)",
            literal(&quote(&c.name)),
            quote(&c.name)
        ))
        .await?;
    }
    run(
        "SELECT setval(pg_get_serial_sequence('_collections', '_rowid'), \
         COALESCE((SELECT max(\"_rowid\") FROM _collections), 0) + 1, false)"
            .to_owned(),
    )
    .await?;
    tx.commit().await.map_err(|e| classify(&e, None))
}

/// `text` as an SQL string literal.
fn literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The tables the snapshot copied.
fn copied_tables(dir: &Path) -> Result<Vec<String>, StoreError> {
    let entries =
        std::fs::read_dir(dir).map_err(|_| refused("the backup has no PostgreSQL snapshot"))?;
    Ok(entries
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".copy"))
                .map(str::to_owned)
        })
        .collect())
}

/// Fills `table` from its snapshot file.
async fn copy_in(
    tx: &deadpool_postgres::Transaction<'_>,
    dir: &Path,
    table: &str,
) -> Result<(), StoreError> {
    let bytes = tokio::fs::read(dir.join(format!("{table}.copy")))
        .await
        .map_err(|_| refused(format!("the backup has no rows of {table}")))?;
    let sink = tx
        .copy_in(&format!("COPY {} FROM STDIN", quote(table)))
        .await
        .map_err(|e| classify(&e, None))?;
    let mut sink = std::pin::pin!(sink);
    sink.send(bytes::Bytes::from(bytes))
        .await
        .map_err(|e| classify(&e, None))?;
    sink.as_mut()
        .finish()
        .await
        .map_err(|e| classify(&e, None))?;
    Ok(())
}

/// The rows of `table`'s snapshot file, each a value (or NULL) per column, in PostgreSQL's
/// `COPY` text format.
fn rows(dir: &Path, table: &str) -> Result<Vec<Vec<Option<String>>>, StoreError> {
    let text = std::fs::read_to_string(dir.join(format!("{table}.copy")))
        .map_err(|_| refused(format!("the backup has no {table}")))?;
    Ok(text.lines().map(fields).collect())
}

/// One `COPY` text line's fields: tab-separated, `\N` for NULL, backslash escapes.
fn fields(line: &str) -> Vec<Option<String>> {
    line.split('\t')
        .map(|field| {
            if field == "\\N" {
                return None;
            }
            let mut out = String::with_capacity(field.len());
            let mut chars = field.chars();
            while let Some(c) = chars.next() {
                if c != '\\' {
                    out.push(c);
                    continue;
                }
                match chars.next() {
                    Some('t') => out.push('\t'),
                    Some('n') => out.push('\n'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('v') => out.push('\u{b}'),
                    Some(other) => out.push(other),
                    None => out.push('\\'),
                }
            }
            Some(out)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_text_fields_are_unescaped() {
        assert_eq!(
            fields("a\\tb\t\\N\t{\"x\":\"y\\\\n\"}\tline\\nbreak"),
            [
                Some("a\tb".to_owned()),
                None,
                Some("{\"x\":\"y\\n\"}".to_owned()),
                Some("line\nbreak".to_owned())
            ]
        );
    }
}

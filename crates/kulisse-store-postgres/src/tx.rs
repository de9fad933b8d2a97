//! [`StoreTx`] on one pooled connection inside `BEGIN … COMMIT`, driven from a blocking
//! thread: write jobs are synchronous closures (see `kulisse-store`), so each statement is
//! run with `Handle::block_on` on the job's own thread.

use kulisse_schema::{Collection, CollectionKind};
use kulisse_store::{Literal, Row, Select, StoreError, StoreTx, ViewColumn};
use serde_json::Value;
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::Type;

use crate::classify::classify;
use crate::codec::{self, Param};
use crate::ddl;
use crate::render::{self, Sql, quote};

/// A write transaction on a pooled connection.
pub(crate) struct PgTx<'c> {
    pub client: &'c deadpool_postgres::Client,
    pub handle: Handle,
    /// The store's shutdown flag: reads inside the job (rule checks, the unbounded part of
    /// a write) are cancelled when it turns true; every statement is bounded by
    /// `statement_timeout` anyway.
    pub stop: &'c tokio::sync::watch::Receiver<bool>,
}

/// Runs a rendered statement and returns its rows.
pub(crate) async fn query(
    client: &deadpool_postgres::Client,
    sql: &Sql,
    c: Option<&Collection>,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let types: Vec<Type> = sql.params.iter().map(Param::pg_type).collect();
    let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
        sql.params.iter().map(Param::as_sql).collect();
    let mut retried = false;
    loop {
        let stmt = client
            .prepare_typed_cached(&sql.text, &types)
            .await
            .map_err(|e| classify(&e, c))?;
        match client.query(&stmt, &params).await {
            // NOTE: a schema change (here or on another node) can change the column types
            // of a statement this connection prepared earlier with the same text (a field's
            // type, a view's query); PostgreSQL then refuses the cached statement. It is
            // prepared again once, after this connection forgets what it cached.
            Err(e) if !retried && e.code() == Some(&SqlState::FEATURE_NOT_SUPPORTED) => {
                client.statement_cache.clear();
                retried = true;
            }
            result => return result.map_err(|e| classify(&e, c)),
        }
    }
}

/// Reads rows of a select.
pub(crate) async fn select_rows(
    client: &deadpool_postgres::Client,
    q: &Select,
) -> Result<Vec<Row>, StoreError> {
    rows_of(client, q, &render::select_rows(q)).await
}

/// Reads the rows of `q`, rendered as `sql`.
pub(crate) async fn rows_of(
    client: &deadpool_postgres::Client,
    q: &Select,
    sql: &Sql,
) -> Result<Vec<Row>, StoreError> {
    let rows = query(client, sql, Some(&q.collection)).await?;
    Ok(rows
        .iter()
        .map(|r| codec::decode_row(&q.collection.fields, r))
        .collect())
}

/// Counts the rows a select `q` matches, with its rendered count `sql`.
pub(crate) async fn count(
    client: &deadpool_postgres::Client,
    q: &Select,
    sql: &Sql,
) -> Result<u64, StoreError> {
    let rows = query(client, sql, Some(&q.collection)).await?;
    let n: i64 = rows.first().and_then(|r| r.try_get(0).ok()).unwrap_or(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

pub(crate) async fn count_per(
    client: &deadpool_postgres::Client,
    q: &Select,
    key: &kulisse_store::Term,
) -> Result<Vec<(String, u64)>, StoreError> {
    let rows = query(client, &render::count_per(q, key), Some(&q.collection)).await?;
    Ok(rows
        .iter()
        .map(|r| {
            let key: Option<String> = r.try_get(0).ok().flatten();
            let n: i64 = r.try_get(1).unwrap_or(0);
            (key.unwrap_or_default(), u64::try_from(n).unwrap_or(0))
        })
        .collect())
}

impl PgTx<'_> {
    fn run(&self, sql: &Sql, c: Option<&Collection>) -> Result<u64, StoreError> {
        self.handle.block_on(async {
            let types: Vec<Type> = sql.params.iter().map(Param::pg_type).collect();
            let stmt = self
                .client
                .prepare_typed_cached(&sql.text, &types)
                .await
                .map_err(|e| classify(&e, c))?;
            let params: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                sql.params.iter().map(Param::as_sql).collect();
            self.client
                .execute(&stmt, &params)
                .await
                .map_err(|e| classify(&e, c))
        })
    }

    fn batch(&self, statements: &[String], c: Option<&Collection>) -> Result<(), StoreError> {
        self.handle.block_on(async {
            for s in statements {
                self.client
                    .batch_execute(s)
                    .await
                    .map_err(|e| match classify(&e, c) {
                        StoreError::Other(m) => StoreError::InvalidQuery(m),
                        other => other,
                    })?;
            }
            Ok(())
        })
    }

    /// Serialises schema changes across nodes: two nodes altering collections (or settings)
    /// at once take turns, each seeing the other's result. Lifts the query timeout for the
    /// rest of the transaction: a table rebuild copies every row, and stopping it would
    /// leave a collection that cannot change at all (on SQLite only reads are bounded, for
    /// the same reason).
    fn schema_change(&self) -> Result<(), StoreError> {
        let sql = format!(
            "SET LOCAL statement_timeout = 0; SELECT pg_advisory_xact_lock({})",
            ddl::SCHEMA_LOCK
        );
        self.handle
            .block_on(self.client.batch_execute(&sql))
            .map_err(|e| classify(&e, None))
    }

    fn save_meta(&self, c: &Collection) -> Result<(), StoreError> {
        let data = serde_json::to_string(&c.json(true)).unwrap_or_default();
        let sql = Sql {
            text: "INSERT INTO _collections (id, name, type, data, created) VALUES ($1, $2, $3, $4, $5) \
                   ON CONFLICT (id) DO UPDATE SET name = excluded.name, type = excluded.type, data = excluded.data"
                .into(),
            params: vec![
                Param::Text(c.id.clone()),
                Param::Text(c.name.clone()),
                Param::Text(c.kind.as_str().into()),
                Param::Text(data),
                Param::Text(c.created.clone()),
            ],
        };
        self.run(&sql, None).map(|_| ())
    }
}

fn encoded(c: &Collection, row: &Row) -> (Vec<String>, Vec<Param>) {
    let mut cols = Vec::with_capacity(row.len());
    let mut vals = Vec::with_capacity(row.len());
    for f in &c.fields {
        if let Some(v) = row.get(&f.name) {
            cols.push(quote(&f.name));
            vals.push(codec::encode(f, v));
        }
    }
    (cols, vals)
}

impl StoreTx for PgTx<'_> {
    fn select(&mut self, query: &Select) -> Result<Vec<Row>, StoreError> {
        self.handle.block_on(crate::cancel::until_stopped(
            self.stop,
            self.client,
            select_rows(self.client, query),
        ))
    }

    fn insert(&mut self, c: &Collection, row: &Row) -> Result<(), StoreError> {
        let (cols, params) = encoded(c, row);
        let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
        let text = format!(
            "INSERT INTO {} ({}) VALUES ({})",
            quote(&c.name),
            cols.join(", "),
            marks.join(", ")
        );
        self.run(&Sql { text, params }, Some(c)).map(|_| ())
    }
    /// Row by row through [`StoreTx::insert`].
    fn append(&mut self, c: &Collection, rows: &[Vec<Literal>]) -> Result<(), StoreError> {
        for values in rows {
            self.insert(c, &kulisse_store::appended_row(c, values)?)?;
        }
        Ok(())
    }

    fn update(&mut self, c: &Collection, id: &str, changes: &Row) -> Result<(), StoreError> {
        let (cols, mut params) = encoded(c, changes);
        if cols.is_empty() {
            return Ok(());
        }
        let sets: Vec<String> = cols
            .iter()
            .enumerate()
            .map(|(i, col)| format!("{col} = ${}", i + 1))
            .collect();
        params.push(Param::Text(id.to_owned()));
        let text = format!(
            "UPDATE {} SET {} WHERE \"id\" = ${}",
            quote(&c.name),
            sets.join(", "),
            params.len()
        );
        match self.run(&Sql { text, params }, Some(c))? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }
    fn delete(&mut self, c: &Collection, id: &str) -> Result<(), StoreError> {
        let text = format!("DELETE FROM {} WHERE \"id\" = $1", quote(&c.name));
        match self.run(
            &Sql {
                text,
                params: vec![Param::Text(id.to_owned())],
            },
            Some(c),
        )? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        }
    }

    fn truncate(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.batch(&[format!("DELETE FROM {}", quote(&c.name))], Some(c))
    }

    fn create_collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.schema_change()?;
        self.batch(&ddl::create_collection(c), Some(c))?;
        self.save_meta(c)
    }

    fn alter_collection(&mut self, old: &Collection, new: &Collection) -> Result<(), StoreError> {
        self.schema_change()?;
        if kulisse_store::same_columns(old, new) && new.kind != CollectionKind::View {
            self.batch(&ddl::change_indexes(old, new), Some(new))?;
        } else if !kulisse_store::same_table_shape(old, new) {
            self.batch(&ddl::alter_collection(old, new), Some(new))?;
        }
        self.save_meta(new)
    }

    fn drop_collection(&mut self, c: &Collection) -> Result<(), StoreError> {
        self.schema_change()?;
        self.batch(&ddl::drop_collection(c), Some(c))?;
        self.run(
            &Sql {
                text: "DELETE FROM _collections WHERE id = $1".into(),
                params: vec![Param::Text(c.id.clone())],
            },
            None,
        )
        .map(|_| ())
    }

    fn describe_view(&mut self, query: &str) -> Result<Vec<ViewColumn>, StoreError> {
        self.handle.block_on(async {
            let stmt = self.client.prepare(query).await.map_err(|e| match classify(&e, None) {
                StoreError::Other(m) => StoreError::InvalidQuery(m),
                other => other,
            })?;
            let trimmed = query.trim_start().to_ascii_lowercase();
            if !(trimmed.starts_with("select") || trimmed.starts_with("with")) {
                return Err(StoreError::InvalidQuery("the view query must be a single SELECT statement".into()));
            }
            let mut out = Vec::new();
            for col in stmt.columns() {
                let source = match (col.table_oid(), col.column_id()) {
                    (Some(oid), Some(attnum)) if oid != 0 => {
                        let rows = self
                            .client
                            .query(
                                "SELECT c.relname::text, a.attname::text FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid WHERE c.oid = $1 AND a.attnum = $2",
                                &[&oid, &attnum],
                            )
                            .await
                            .map_err(|e| classify(&e, None))?;
                        rows.first().map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
                    }
                    _ => None,
                };
                out.push(ViewColumn { name: col.name().to_owned(), source, is_count: false });
            }
            kulisse_store::mark_count_columns(query, &mut out);
            Ok(out)
        })
    }

    fn set_param(&mut self, key: &str, value: &Value) -> Result<(), StoreError> {
        self.schema_change()?;
        let sql = Sql {
            text: "INSERT INTO _params (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value".into(),
            params: vec![Param::Text(key.to_owned()), Param::Text(value.to_string())],
        };
        self.run(&sql, None).map(|_| ())
    }

    fn optimize(&mut self) -> Result<(), StoreError> {
        self.batch(&["ANALYZE".to_owned()], None)
    }

    fn notify(&mut self, channel: &str, payload: &str) -> Result<(), StoreError> {
        let sql = Sql {
            text: "SELECT pg_notify($1, $2)".into(),
            params: vec![
                Param::Text(channel.to_owned()),
                Param::Text(payload.to_owned()),
            ],
        };
        self.run(&sql, None).map(|_| ())
    }
}

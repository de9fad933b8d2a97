//! The statements: a page of rows and a count, with their ORDER BY, LIMIT and FROM.

use std::collections::HashMap;
use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{NaturalOrder, Order, Select, Term};

use super::condition::render_cond;
use super::term::{num_expr, text_expr};
use super::types::{Ctx, Ty};
use super::{Sql, quote};
use crate::codec::Param;

/// `SELECT <columns> FROM <table> WHERE … ORDER BY … LIMIT … OFFSET …`.
pub(crate) fn select_rows(q: &Select) -> Sql {
    let c = &q.collection;
    let mut ctx = Ctx {
        table: quote(&c.name),
        main: Arc::clone(c),
        aliases: HashMap::new(),
    };
    let mut sql = Sql::default();
    let cols: Vec<String> = c
        .fields
        .iter()
        .map(|f| format!("{}.{}", ctx.table, quote(&f.name)))
        .collect();
    sql.push(&format!("SELECT {} FROM ", cols.join(", ")));
    from_source(q, &ctx, &mut sql);
    where_clause(q, &mut ctx, &mut sql);
    sql.push(" ORDER BY ");
    for o in &q.order {
        match o {
            Order::By { term, desc } => order_term(term, *desc, &mut ctx, &mut sql),
            Order::RowId { desc } => sql.push(&format!(
                "{}{}, ",
                natural_order(c, &ctx.table),
                if *desc { " DESC" } else { "" }
            )),
            Order::Random => sql.push("random(), "),
        }
    }
    sql.push(&natural_order(c, &ctx.table));
    if let Some(limit) = q.limit {
        sql.push(" LIMIT ");
        sql.bind(Param::Int(i64::try_from(limit).unwrap_or(i64::MAX)));
        if q.offset > 0 {
            sql.push(" OFFSET ");
            sql.bind(Param::Int(i64::try_from(q.offset).unwrap_or(i64::MAX)));
        }
    }
    if q.for_update && q.virtual_row.is_none() {
        sql.push(&format!(" FOR UPDATE OF {}", ctx.table));
    }
    sql
}

/// The natural order's column ([`NaturalOrder`]): insertion order is the `_rowid`
/// identity column.
fn natural_order(c: &Collection, table: &str) -> String {
    match NaturalOrder::of(c) {
        NaturalOrder::Id => format!("{table}.\"id\""),
        NaturalOrder::Insertion => format!("{table}.\"_rowid\""),
    }
}

/// `SELECT COUNT(*) FROM <table> WHERE …`.
pub(crate) fn count_rows(q: &Select) -> Sql {
    let mut ctx = Ctx {
        table: quote(&q.collection.name),
        main: Arc::clone(&q.collection),
        aliases: HashMap::new(),
    };
    let mut sql = Sql::default();
    sql.push("SELECT COUNT(*) FROM ");
    from_source(q, &ctx, &mut sql);
    where_clause(q, &mut ctx, &mut sql);
    sql
}

/// `SELECT <key as text>, COUNT(*) FROM <table> WHERE … GROUP BY 1 ORDER BY 1` (in
/// SQLite's order: NULL first, then text bytewise).
pub(crate) fn count_per(q: &Select, key: &Term) -> Sql {
    let mut ctx = Ctx {
        table: quote(&q.collection.name),
        main: Arc::clone(&q.collection),
        aliases: HashMap::new(),
    };
    let mut sql = Sql::default();
    sql.push("SELECT ");
    text_expr(key, &mut ctx, &mut sql);
    sql.push(" COLLATE \"C\", COUNT(*) FROM ");
    from_source(q, &ctx, &mut sql);
    where_clause(q, &mut ctx, &mut sql);
    // SQLite's order: NULL first.
    sql.push(" GROUP BY 1 ORDER BY 1 ASC NULLS FIRST");
    sql
}

/// SQLite sorts NULL first, then numbers, then text (binary order).
fn order_term(term: &Term, desc: bool, ctx: &mut Ctx, sql: &mut Sql) {
    let dir = if desc {
        " DESC NULLS LAST, "
    } else {
        " ASC NULLS FIRST, "
    };
    match ctx.ty(term) {
        Ty::Num => {
            num_expr(term, ctx, sql);
            sql.push(dir);
        }
        Ty::Text => {
            text_expr(term, ctx, sql);
            sql.push(" COLLATE \"C\"");
            sql.push(dir);
        }
        Ty::Dyn => {
            sql.push("(CASE WHEN ");
            num_expr(term, ctx, sql);
            sql.push(" IS NOT NULL THEN 1 WHEN ");
            text_expr(term, ctx, sql);
            sql.push(" IS NOT NULL THEN 2 END)");
            sql.push(dir);
            num_expr(term, ctx, sql);
            sql.push(dir);
            text_expr(term, ctx, sql);
            sql.push(" COLLATE \"C\"");
            sql.push(dir);
        }
    }
}

/// The table, or the virtual row standing in for it.
fn from_source(q: &Select, ctx: &Ctx, sql: &mut Sql) {
    let Some(row) = &q.virtual_row else {
        sql.push(&ctx.table);
        return;
    };
    sql.push("(SELECT ");
    for f in &q.collection.fields {
        sql.bind(crate::codec::encode(
            f,
            row.get(&f.name).unwrap_or(&serde_json::Value::Null),
        ));
        sql.push(&format!(
            "::{} AS {}, ",
            crate::ddl::column_type(f),
            quote(&f.name)
        ));
    }
    sql.push(&format!("0::bigint AS \"_rowid\") AS {}", ctx.table));
}

fn where_clause(q: &Select, ctx: &mut Ctx, sql: &mut Sql) {
    if let Some(cond) = &q.filter {
        sql.push(" WHERE ");
        render_cond(cond, ctx, sql);
    }
}

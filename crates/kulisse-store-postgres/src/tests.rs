//! Plans PostgreSQL picks for the SQL this engine renders (needs the test server named by
//! `KULISSE_TEST_PG_URL`; skipped without it).

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, Select, StoreError, Term, transact};
use serde_json::json;
use tokio_postgres::NoTls;
use tokio_postgres::types::{ToSql, Type};

use crate::PostgresStore;
use crate::codec::Param;

/// A filter through a to-one relation is planned as one semi-join (or one hashed subplan),
/// never as a subplan run again for every row of the outer table.
#[tokio::test]
async fn relation_filters_plan_as_semi_joins() {
    let Some(url) = kulisse_testkit_store::pg::fresh_database().await else {
        eprintln!("skipped: KULISSE_TEST_PG_URL is not set");
        return;
    };
    let store = PostgresStore::connect(&url).await.unwrap();
    let people = Arc::new(
        Collection::from_create_input(&json!({
            "id": "pbc_people", "name": "people", "fields": [{"name": "name", "type": "text"}]
        }))
        .unwrap(),
    );
    let notes = Arc::new(
        Collection::from_create_input(&json!({
            "name": "notes", "fields": [
                {"name": "views", "type": "number"},
                {"name": "author", "type": "relation", "collectionId": "pbc_people", "maxSelect": 1}
            ]
        }))
        .unwrap(),
    );
    let (p, n) = (Arc::clone(&people), Arc::clone(&notes));
    transact::<_, StoreError, _>(&store, move |tx| {
        tx.create_collection(&p)?;
        tx.create_collection(&n)
    })
    .await
    .unwrap();
    let cond = Cond::ExistsInner {
        joins: vec![Join {
            alias: "author".into(),
            source: JoinSource::Record {
                collection: Arc::clone(&people),
                key: Term::Column("author".into()),
            },
        }],
        cond: Box::new(Cond::Compare {
            left: Term::Field {
                alias: "author".into(),
                column: "name".into(),
            },
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text("Ann".into())),
        }),
    };
    let q = Select {
        count_total: true,
        ..Select::all(Arc::clone(&notes)).and(cond)
    };
    let (client, conn) = tokio_postgres::connect(&url, NoTls).await.unwrap();
    tokio::spawn(conn);
    for sql in [
        crate::render::select_rows(&q),
        crate::render::count_rows(&q),
    ] {
        let types: Vec<Type> = sql.params.iter().map(Param::pg_type).collect();
        let stmt = client
            .prepare_typed(&format!("EXPLAIN {}", sql.text), &types)
            .await
            .unwrap();
        let params: Vec<&(dyn ToSql + Sync)> = sql.params.iter().map(Param::as_sql).collect();
        let plan: Vec<String> = client
            .query(&stmt, &params)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect();
        let plan = plan.join("\n");
        let per_row_subplan = plan
            .lines()
            .any(|l| l.contains("SubPlan") && !l.contains("hashed SubPlan"));
        assert!(!per_row_subplan, "{}\n{plan}", sql.text);
        assert!(
            plan.contains("Semi Join")
                || plan.contains("hashed SubPlan")
                || plan.contains("Hash Join"),
            "{}\n{plan}",
            sql.text
        );
    }
}

//! The conformance suite every [`Store`] implementation runs: what the services rely on from
//! any engine, checked the same way on each. An engine's `tests/conformance.rs` opens its
//! store and calls [`crate::store_conformance!`], which declares one test per check (so a
//! failure names the broken promise and the checks run in parallel, each on its own store).
//!
//! A check is a `pub async fn name(&Subject)` in the file of its area, re-exported here and
//! listed in [`crate::store_conformance!`]. Cascades and change sets are not here: they are
//! services' work (kulisse-core, tested through the API on both engines), above the port.

mod append;
mod concurrency;
mod groups;
mod hits;
mod notify;
mod params;
mod schema;
mod select;
mod writes;

use std::any::Any;
use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Row, Select, Store, StoreError, StoreTx, transact};
use serde_json::{Value, json};

pub use append::appended_rows_read_back_like_inserted_ones;
pub use concurrency::{
    concurrent_read_then_update_jobs_lose_no_update, readers_see_only_committed_states,
};
pub use groups::counts_per_key_follow_the_filter_in_key_order;
pub use hits::hits_count_per_key_in_fixed_windows;
pub use notify::notifications_are_delivered_only_on_commit;
pub use params::params_are_written_and_read_back;
pub use schema::{schema_rebuilds_keep_values_by_field_id, views_read_their_tables};
pub use select::selects_filter_sort_page_and_count;
pub use writes::{
    after_commit_hooks_run_even_when_the_caller_stopped_waiting,
    missing_rows_and_duplicates_are_refused, write_jobs_commit_whole_or_roll_back_with_their_error,
};

/// A store under test and what its engine promises beyond the common contract.
pub struct Subject {
    /// The store, fresh and empty but for the engine's own tables.
    pub store: Arc<dyn Store>,
    /// How [`StoreTx::notify`] behaves on this engine.
    pub notify: Notify,
    /// Whatever must live as long as the store (an SQLite data dir).
    _keep: Box<dyn Any + Send + Sync>,
}

impl Subject {
    /// `store`, keeping `keep` alive as long as it is tested.
    pub fn new(store: Arc<dyn Store>, notify: Notify, keep: impl Any + Send + Sync) -> Subject {
        Subject {
            store,
            notify,
            _keep: Box::new(keep),
        }
    }
}

/// What [`StoreTx::notify`] must do on an engine.
#[derive(Debug, Clone)]
pub enum Notify {
    /// The engine serves one process and refuses to notify (SQLite).
    Refused,
    /// Listeners on another connection to the database at `url` hear a notification
    /// if, and only if, its transaction commits (PostgreSQL's NOTIFY).
    Delivered {
        /// The database's URL, for a listening connection of the suite's own.
        url: String,
    },
}

/// Declares one `#[tokio::test]` per conformance check, each on a fresh store from `$open`:
/// an async fn returning `Option<Subject>` (`None` skips, e.g. when no PostgreSQL server
/// was started; `kulisse_testkit_store::pg` fails that under CI).
#[macro_export]
macro_rules! store_conformance {
    ($open:path) => {
        $crate::store_conformance!(@each $open;
            selects_filter_sort_page_and_count,
            counts_per_key_follow_the_filter_in_key_order,
            appended_rows_read_back_like_inserted_ones,
            write_jobs_commit_whole_or_roll_back_with_their_error,
            missing_rows_and_duplicates_are_refused,
            after_commit_hooks_run_even_when_the_caller_stopped_waiting,
            schema_rebuilds_keep_values_by_field_id,
            views_read_their_tables,
            params_are_written_and_read_back,
            hits_count_per_key_in_fixed_windows,
            notifications_are_delivered_only_on_commit,
            concurrent_read_then_update_jobs_lose_no_update,
            readers_see_only_committed_states,
        );
    };
    (@each $open:path; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                match $open().await {
                    Some(subject) => $crate::conformance::$check(&subject).await,
                    None => eprintln!("skipped: no store to test"),
                }
            }
        )*
    };
}

/// A JSON object as a row.
fn row(v: Value) -> Row {
    v.as_object().expect("a row is a JSON object").clone()
}

/// Runs `f` as one write job, returning its value or its error.
async fn write<T, F>(store: &Arc<dyn Store>, f: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&mut dyn StoreTx) -> Result<T, StoreError> + Send + 'static,
{
    transact::<T, StoreError, F>(&**store, f).await
}

/// Creates `collection` and inserts `rows` in one job.
async fn create_with(store: &Arc<dyn Store>, collection: &Arc<Collection>, rows: Vec<Value>) {
    let c = Arc::clone(collection);
    write(store, move |tx| {
        tx.create_collection(&c)?;
        for r in rows {
            tx.insert(&c, &row(r))?;
        }
        Ok(())
    })
    .await
    .expect("create and seed a collection");
}

/// The ids `select` returns, in order.
async fn ids(store: &Arc<dyn Store>, select: Select) -> Vec<String> {
    store
        .select(select)
        .await
        .expect("select")
        .rows
        .iter()
        .map(|r| r["id"].as_str().expect("rows have ids").to_owned())
        .collect()
}

/// A base collection from PocketBase's create input.
fn collection(input: Value) -> Arc<Collection> {
    Arc::new(Collection::from_create_input(&input).expect("a valid collection"))
}

/// `counters`: one number per row, for the concurrency checks.
fn counters() -> Arc<Collection> {
    collection(json!({"name": "counters", "fields": [{"name": "n", "type": "number"}]}))
}

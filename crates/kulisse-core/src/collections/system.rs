//! kulisse's own collections (`_superusers`, `users`, and those later issues add, such as
//! `_otps`, `_mfas`, `_externalAuths`, `_authOrigins`), created in numbered steps above
//! the storage port, so a data dir made by any earlier release gains the ones it lacks.
//!
//! The engines version their own tables (`kulisse_store::migrations`); these are
//! collections, defined by core and created through the writer like any other, so each
//! step is announced to the other nodes. The version reached is the `_params` entry
//! [`VERSION_KEY`]. Released steps are never edited; a change is a new step.
//!
//! A data dir from before this series (no version, but collections) is at step 1, which is
//! what every release created in an empty data dir; adopting it creates nothing, so a
//! `users` collection its owner deleted stays deleted.

use std::collections::HashSet;

use kulisse_schema::collection;
use kulisse_store::{Store, StoreError, StoreTx};
use serde_json::json;

use crate::changes::Writer;
use crate::error::CoreError;

/// The `_params` key holding the last step applied.
pub(crate) const VERSION_KEY: &str = "systemCollections";

/// One step: its number (from 1, consecutive) and what it creates, given the names of the
/// collections that exist (lower case).
struct Step {
    version: i64,
    run: fn(&mut dyn StoreTx, &HashSet<String>) -> Result<(), StoreError>,
}

const STEPS: &[Step] = &[
    Step {
        version: 1,
        run: |tx, _| {
            tx.create_collection(&collection::superusers())?;
            tx.create_collection(&collection::users())
        },
    },
    // Auth's state (OTP, MFA, login origins, OAuth2 links). A data dir PocketBase made
    // has them already, and a user may have taken a name: only missing ones are made.
    Step {
        version: 2,
        run: |tx, existing| {
            for c in collection::auth_system_collections() {
                if !existing.contains(&c.name.to_lowercase()) {
                    tx.create_collection(&c)?;
                }
            }
            Ok(())
        },
    },
];

/// Applies the steps the store has not seen, each in its own transaction.
///
/// # Errors
/// A step that fails (and no other node applied it meanwhile), a store made by a newer
/// kulisse ([`StoreError::SchemaTooNew`]), or an unreadable store.
pub(crate) async fn bring_up_to_date(store: &dyn Store, writer: &Writer) -> Result<(), CoreError> {
    let known = STEPS.last().map_or(0, |s| s.version);
    let mut reached = version_of(store).await?;
    if reached == 0 && !store.load_collections().await?.is_empty() {
        writer
            .transact::<_, StoreError, _>(|tx| tx.set_param(VERSION_KEY, &json!(1)))
            .await?;
        reached = 1;
    }
    if reached > known {
        return Err(StoreError::SchemaTooNew {
            found: reached,
            known,
        }
        .into());
    }
    for step in STEPS.iter().filter(|s| s.version > reached) {
        let (run, version) = (step.run, step.version);
        let existing: HashSet<String> = store
            .load_collections()
            .await?
            .iter()
            .filter_map(|c| c.get("name").and_then(serde_json::Value::as_str))
            .map(str::to_lowercase)
            .collect();
        let applied = writer
            .transact::<_, StoreError, _>(move |tx| {
                run(tx, &existing)?;
                tx.set_param(VERSION_KEY, &json!(version))
            })
            .await;
        // NOTE: nodes starting together all find the step missing; the engine serialises
        // their schema changes, so one applies it and the others fail on what exists. A
        // version that moved on meanwhile means another node did the work.
        if let Err(e) = applied
            && version_of(store).await? < version
        {
            return Err(e.into());
        }
    }
    Ok(())
}

/// The last step applied (0: none, or a data dir from before this series).
async fn version_of(store: &dyn Store) -> Result<i64, StoreError> {
    Ok(store
        .param(VERSION_KEY)
        .await?
        .and_then(|v| v.as_i64())
        .unwrap_or(0))
}

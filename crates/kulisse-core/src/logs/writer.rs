//! The log's writer: takes queued requests in batches, adds them to the analytics, makes
//! PocketBase's entries of them (who asked, what the `logs` settings keep) and writes each
//! batch in one transaction of the log's store, while its CPU budget lasts.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use kulisse_schema::ids::RECORD_ID_ALPHABET;
use kulisse_store::{Engine, Literal};
use serde_json::Value;
use tokio::sync::mpsc;

use super::RequestFacts;
use super::budget::CpuBudget;
use super::entry::{Keep, Requester};
use super::service::Inner;
use crate::Auth;
use crate::ids::IdSource;

/// The most entries written in one transaction.
const BATCH: usize = 1_000;
/// How long the writer gathers entries after the first of a batch: a transaction per
/// request would cost more than the request (a commit each), so entries wait up to this
/// long to share one. It is also how late an entry may show in `GET /api/logs`.
const GATHER: Duration = Duration::from_millis(200);

pub(super) async fn run(
    inner: Arc<Inner>,
    mut received: mpsc::Receiver<(jiff::Timestamp, RequestFacts)>,
    config: super::Config,
) {
    let mut budget = CpuBudget::new(config.cpu_share, Instant::now());
    let mut batch = Vec::with_capacity(BATCH);
    while received.recv_many(&mut batch, BATCH).await > 0 {
        // Sleep rather than wait on the queue: waking for every request would cost the
        // writer a task switch per entry.
        if batch.len() < BATCH {
            tokio::time::sleep(GATHER).await;
            while batch.len() < BATCH {
                match received.try_recv() {
                    Ok(entry) => batch.push(entry),
                    Err(_) => break,
                }
            }
        }
        if !budget.allows(Instant::now()) {
            inner
                .dropped
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            batch.clear();
            // Requests stop being captured until the budget is back.
            inner.paused.store(true, Ordering::Relaxed);
            tokio::time::sleep(budget.refilled_in()).await;
            inner.paused.store(false, Ordering::Relaxed);
            continue;
        }
        let settings = inner.settings.snapshot();
        let keep = Keep {
            ip: settings.logs.log_ip,
            auth_id: settings.logs.log_auth_id,
            max_data_size: usize::try_from(settings.logs.max_data_size).unwrap_or(0),
        };
        let min_level = settings.logs.min_level;
        // The budget pays for the whole batch: who asked, the analytics, the write.
        let started = Instant::now();
        let mut entries = Vec::with_capacity(batch.len());
        for (at, facts) in batch.drain(..) {
            let requester = requester(&inner, &facts).await;
            entries.push((at, facts, requester));
        }
        // The analytics count every request, whatever level the log keeps.
        inner.analytics.add(
            entries
                .iter()
                .map(|(at, f, r)| (*at, f, r.collection.as_str(), r.id.as_str())),
        );
        entries.retain(|(_, facts, _)| facts.level().number() >= min_level);
        let prepared = started.elapsed();
        budget.spend(prepared + write(&inner, entries, keep).await);
    }
}

/// Writes `entries` in one transaction; how long it took, from the job's queueing to its
/// commit. That is what the budget charges: more than the writer's CPU time when other
/// threads preempt it (then the log keeps less), never less (the commit, its WAL frames and
/// checkpoints included, which the job's own CPU time leaves out). The entries are made into
/// rows there: on SQLite that is the log store's own writer thread, which then runs only
/// when a core would otherwise idle (see [`crate::priority`]). PostgreSQL runs write jobs
/// on the runtime's shared blocking threads, whose priority must stay as it is.
async fn write(
    inner: &Arc<Inner>,
    entries: Vec<(jiff::Timestamp, RequestFacts, Requester)>,
    keep: Keep,
) -> Duration {
    if entries.is_empty() {
        return Duration::ZERO;
    }
    let started = Instant::now();
    let n = entries.len() as u64;
    let collection = Arc::clone(&inner.collection);
    let ids = Arc::clone(&inner.ambient.ids);
    let own_thread = inner.store.engine() == Engine::Sqlite;
    let written = inner
        .store
        .write(Box::new(move |tx| {
            if own_thread {
                crate::priority::run_only_when_idle();
            }
            let rows: Vec<Vec<Literal>> = entries
                .iter()
                .map(|(at, facts, requester)| {
                    let (message, data) = facts.entry(requester, &keep);
                    let (mut message, mut data) = (Some(message), Some(data));
                    collection
                        .fields
                        .iter()
                        .map(|f| match f.name.as_str() {
                            "id" => Literal::Text(log_id(*at, &*ids)),
                            "level" => Literal::Number(facts.level().number() as f64),
                            "message" => Literal::Text(message.take().unwrap_or_default()),
                            "data" => Literal::Text(data.take().unwrap_or_default()),
                            "created" => Literal::Text(kulisse_schema::datetime::format(*at)),
                            _ => Literal::Null,
                        })
                        .collect()
                })
                .collect();
            tx.append(&collection, &rows).map(|()| None)
        }))
        .await;
    if let Err(e) = written {
        inner.dropped.fetch_add(n, Ordering::Relaxed);
        tracing::warn!(error = %e, entries = n, "request log entries lost");
    }
    started.elapsed()
}

/// An entry's id in PocketBase's shape (15 of `[a-z0-9]`) that sorts by time: the
/// microsecond (base 36, 11 characters), then 4 random characters. Random ids made every
/// insert into the id index a search of the whole index; these land at its end, as the
/// rows do in the table.
fn log_id(at: jiff::Timestamp, ids: &dyn IdSource) -> String {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut micros = u64::try_from(at.as_microsecond()).unwrap_or(0);
    let mut time = [b'0'; 11];
    for slot in time.iter_mut().rev() {
        *slot = DIGITS[(micros % 36) as usize];
        micros /= 36;
    }
    let mut id = String::from_utf8_lossy(&time).into_owned();
    id.push_str(&ids.random(RECORD_ID_ALPHABET, 4));
    id
}

/// Who made the request: its token resolved now (through the verified-token cache; the
/// request itself never paid for it).
async fn requester(inner: &Inner, facts: &RequestFacts) -> Requester {
    match inner
        .auth
        .authenticate(facts.authorization.as_deref())
        .await
    {
        Auth::Record { collection, record } => Requester {
            collection: collection.name.clone(),
            id: record
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        },
        Auth::Guest => Requester {
            collection: String::new(),
            id: String::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ids_have_pocketbases_shape_and_sort_by_time() {
        let ids = crate::ids::RandomIds;
        let early = log_id(
            jiff::Timestamp::from_second(1_800_000_000).unwrap_or_default(),
            &ids,
        );
        let later = log_id(
            jiff::Timestamp::from_second(1_800_000_000).unwrap_or_default()
                + jiff::SignedDuration::from_micros(1),
            &ids,
        );
        assert_eq!(early.len(), 15);
        assert!(
            early
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        );
        assert!(early[..11] < later[..11], "{early} {later}");
    }
}

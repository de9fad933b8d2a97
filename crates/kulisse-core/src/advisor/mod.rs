//! The index advisor (`/api/advisor/...`, superusers only): the slow-query log, and the
//! indexes that would serve what the app asks, each with its estimated gain, applied with
//! one call that goes through the collections service like any index change.
//!
//! Proposals come from what the analytics saw and from the schema ([`candidates`]): the
//! fields list requests filter and sort on, the fields list and view rules compare, and
//! the relation fields back-relations join on. One an index of the collection already
//! leads with is left out, as is one on a collection of fewer than [`MIN_ROWS`] rows,
//! where a scan costs less than keeping an index.
//!
//! The gain is estimated from the data: a scan reads every row; an index on the first
//! column reads about `rows / distinct values` of them.

mod candidates;

use std::collections::HashMap;
use std::sync::Arc;

use kulisse_store::{Select, Store, Term};
use serde::Serialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use candidates::Candidate;
pub use candidates::Reason;

use crate::Auth;
use crate::analytics::{AnalyticsService, Metric, Totals, Window, sums, text};
use crate::collections::{CollectionsService, Registry};
use crate::error::CoreError;

/// Collections with fewer rows get no proposal: scanning them is cheap.
pub const MIN_ROWS: u64 = 1_000;

/// The slow-query log and the index advisor.
#[derive(Clone)]
pub struct AdvisorService {
    analytics: AnalyticsService,
    collections: CollectionsService,
    registry: Registry,
    data: Arc<dyn Store>,
}

/// `GET /api/advisor/queries`: reads slower than the threshold, by shape, the most time
/// spent first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlowReport {
    /// The hours covered.
    #[serde(flatten)]
    pub window: Window,
    /// The most time spent first.
    pub items: Vec<SlowItem>,
}

/// One SQL shape's slow runs (with one plan: a changed plan is another item).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SlowItem {
    /// The SQL, values as parameters.
    pub sql: String,
    /// The engine's plan, one step a line.
    pub plan: String,
    /// How many.
    pub count: u64,
    /// Average time, milliseconds.
    pub avg_ms: f64,
    /// The longest, milliseconds.
    pub max_ms: f64,
    /// All their time, milliseconds.
    pub total_ms: f64,
}

/// `GET /api/advisor/suggestions`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SuggestionsReport {
    /// The hours covered.
    #[serde(flatten)]
    pub window: Window,
    /// The most time saved first.
    pub items: Vec<Suggestion>,
}

/// A proposed index.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Suggestion {
    /// Names the proposal for [`AdvisorService::apply`]: the same for the same collection
    /// and columns.
    pub id: String,
    /// The collection.
    pub collection: String,
    /// The index's columns, in order.
    pub fields: Vec<String>,
    /// The index as the collection's `indexes` would list it.
    pub index: String,
    /// What it serves.
    pub reason: Reason,
    /// The filter shape, sort or rule it serves.
    pub source: String,
    /// Requests in the window it would serve, and their average time.
    pub requests: u64,
    /// Average time, milliseconds.
    pub avg_ms: f64,
    /// Rows in the collection: what a scan reads.
    pub rows: u64,
    /// About what a read through the index reads.
    pub estimated_rows_read: u64,
    /// `rows / estimatedRowsRead`.
    pub estimated_speedup: f64,
}

impl AdvisorService {
    /// The advisor over what `analytics` saw, proposing indexes of `collections`, whose
    /// records are in `data`.
    pub fn new(
        analytics: AnalyticsService,
        collections: CollectionsService,
        data: Arc<dyn Store>,
    ) -> AdvisorService {
        AdvisorService {
            analytics,
            registry: collections.registry().clone(),
            collections,
            data,
        }
    }

    /// `GET /api/advisor/queries`: the `limit` shapes that took the most time.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub async fn slow_queries(
        &self,
        auth: &Auth,
        window: Window,
        limit: usize,
    ) -> Result<SlowReport, CoreError> {
        let rows = self.analytics.rows(auth, Metric::Slow, &window).await?;
        let mut groups: HashMap<(String, String), crate::analytics::Sums> = HashMap::new();
        for row in &rows {
            groups
                .entry((text(row, "key"), text(row, "detail")))
                .or_default()
                .add(&sums(row));
        }
        let mut items: Vec<SlowItem> = groups
            .into_iter()
            .map(|((sql, plan), s)| {
                let t = Totals::from(&s);
                SlowItem {
                    sql,
                    plan,
                    count: t.count,
                    avg_ms: t.avg_ms,
                    max_ms: t.max_ms,
                    total_ms: (s.time_sum * 1000.0).round() / 1000.0,
                }
            })
            .collect();
        items.sort_by(|a, b| b.total_ms.total_cmp(&a.total_ms));
        items.truncate(limit);
        Ok(SlowReport { window, items })
    }

    /// `GET /api/advisor/suggestions`: the indexes worth having, the most time they
    /// would save first.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub async fn suggestions(
        &self,
        auth: &Auth,
        window: Window,
    ) -> Result<SuggestionsReport, CoreError> {
        let schema = self.registry.snapshot();
        let mut found: Vec<(Candidate, Totals)> = Vec::new();
        for (metric, is_filter) in [(Metric::Filter, true), (Metric::Sort, false)] {
            for row in self.analytics.rows(auth, metric, &window).await? {
                let Some(c) = schema.get(&text(&row, "collection")) else {
                    continue;
                };
                let shape = text(&row, "key");
                let candidates = if is_filter {
                    let fields: Vec<String> = text(&row, "detail")
                        .split(',')
                        .filter(|f| !f.is_empty())
                        .map(str::to_owned)
                        .collect();
                    candidates::for_filter(&schema, c, &shape, &fields)
                } else {
                    candidates::for_sort(c, &shape).into_iter().collect()
                };
                let t = Totals::from(&sums(&row));
                found.extend(candidates.into_iter().map(|c| (c, t.clone())));
            }
        }
        // A rule serves every list and view request of its collection.
        let mut served: HashMap<String, crate::analytics::Sums> = HashMap::new();
        for row in self.analytics.rows(auth, Metric::Requests, &window).await? {
            if matches!(text(&row, "action").as_str(), "list" | "view") {
                served
                    .entry(text(&row, "collection").to_lowercase())
                    .or_default()
                    .add(&sums(&row));
            }
        }
        for c in candidates::for_rules(&schema) {
            let s = served
                .get(&c.served.to_lowercase())
                .copied()
                .unwrap_or_default();
            found.push((c, Totals::from(&s)));
        }
        // The same index from several sources: their requests add up.
        let mut merged: Vec<(Candidate, u64, f64)> = Vec::new();
        for (c, t) in found {
            let time = t.avg_ms * t.count as f64;
            match merged.iter_mut().find(|(m, _, _)| {
                m.collection.eq_ignore_ascii_case(&c.collection) && m.columns == c.columns
            }) {
                Some((_, count, total)) => {
                    *count += t.count;
                    *total += time;
                }
                None => merged.push((c, t.count, time)),
            }
        }
        let keep: Vec<Candidate> = merged.iter().map(|(c, _, _)| c.clone()).collect();
        let keep = candidates::unserved(&schema, keep);
        let mut items = Vec::new();
        for (c, count, total) in merged {
            if !keep.contains(&c) {
                continue;
            }
            let Some(collection) = schema.get(&c.collection) else {
                continue;
            };
            let (rows, read) = self.estimate(collection, &c.columns[0]).await?;
            if rows < MIN_ROWS {
                continue;
            }
            items.push(Suggestion {
                id: suggestion_id(&collection.name, &c.columns),
                index: index_sql(collection, &c.columns),
                collection: collection.name.clone(),
                fields: c.columns,
                reason: c.reason,
                source: c.source,
                requests: count,
                avg_ms: if count == 0 {
                    0.0
                } else {
                    (total / count as f64 * 1000.0).round() / 1000.0
                },
                rows,
                estimated_rows_read: read,
                estimated_speedup: (rows as f64 / read.max(1) as f64 * 10.0).round() / 10.0,
            });
        }
        items.sort_by(|a, b| {
            let saved = |s: &Suggestion| {
                s.requests as f64 * s.avg_ms * (1.0 - 1.0 / s.estimated_speedup.max(1.0))
            };
            saved(b)
                .total_cmp(&saved(a))
                .then_with(|| b.estimated_speedup.total_cmp(&a.estimated_speedup))
        });
        Ok(SuggestionsReport { window, items })
    }

    /// Rows in `collection`, and about how many a read through an index on `column` reads
    /// (rows over distinct values).
    async fn estimate(
        &self,
        collection: &Arc<kulisse_schema::Collection>,
        column: &str,
    ) -> Result<(u64, u64), CoreError> {
        let q = Select {
            limit: Some(0),
            count_total: true,
            ..Select::all(Arc::clone(collection))
        };
        let rows = self.data.select(q).await?.total.unwrap_or(0);
        if rows < MIN_ROWS {
            return Ok((rows, rows));
        }
        let distinct = self
            .data
            .count_per(
                Select::all(Arc::clone(collection)),
                Term::Column(column.to_owned()),
            )
            .await?
            .len() as u64;
        Ok((rows, rows.div_ceil(distinct.max(1))))
    }

    /// `POST /api/advisor/suggestions/{id}/apply`: adds the proposed index (as of the
    /// `window`'s suggestions) to its collection, through the collections service.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 404 when no suggestion has that id (any more);
    /// the collections service's refusals.
    pub async fn apply(
        &self,
        auth: &Auth,
        window: Window,
        id: &str,
    ) -> Result<(Suggestion, Arc<kulisse_schema::Collection>), CoreError> {
        let suggestion = self
            .suggestions(auth, window)
            .await?
            .items
            .into_iter()
            .find(|s| s.id == id)
            .ok_or(CoreError::NotFound)?;
        let collection = self
            .registry
            .get(&suggestion.collection)
            .ok_or(CoreError::NotFound)?;
        let mut indexes = collection.indexes.clone();
        indexes.push(suggestion.index.clone());
        // What was timed before the index is stored apart from what comes after it.
        self.analytics.flush().await?;
        let updated = self
            .collections
            .update(auth, &collection.id, &json!({ "indexes": indexes }))
            .await?;
        Ok((suggestion, updated))
    }
}

/// A suggestion's id: of its collection and columns.
fn suggestion_id(collection: &str, columns: &[String]) -> String {
    let hash = Sha256::digest(format!(
        "{}\u{1f}{}",
        collection.to_lowercase(),
        columns.join("\u{1f}")
    ));
    let mut id = data_encoding::BASE32_DNSSEC.encode(&hash);
    id.truncate(15);
    id
}

/// `CREATE INDEX` of `columns` on `collection`, named after them (and made unique among
/// the collection's index names).
fn index_sql(collection: &kulisse_schema::Collection, columns: &[String]) -> String {
    let base = format!("idx_{}_{}", collection.name, columns.join("_"));
    let taken: Vec<String> = collection
        .index_defs()
        .into_iter()
        .map(|d| d.name)
        .collect();
    let mut name = base.clone();
    let mut n = 2;
    while taken.iter().any(|t| t.eq_ignore_ascii_case(&name)) {
        name = format!("{base}_{n}");
        n += 1;
    }
    let cols: Vec<String> = columns.iter().map(|c| format!("`{c}`")).collect();
    format!(
        "CREATE INDEX `{name}` ON `{}` ({})",
        collection.name,
        cols.join(", ")
    )
}

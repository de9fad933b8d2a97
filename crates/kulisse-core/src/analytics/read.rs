//! Reading the analytics (superusers only): a window of hours, summed the way each chart
//! groups them. Every report carries the requests the log dropped in its window, so a
//! chart can say when its numbers are a lower bound.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use kulisse_schema::errors::{FieldError, FieldErrors};
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, Term};
use serde::Serialize;
use serde_json::Value;

use super::AnalyticsService;
use super::rollup::{Metric, Sums, start_of};
use crate::Auth;
use crate::collections::service::require_superuser;
use crate::error::{CoreError, Form};

/// The longest window a report may span.
const MAX_DAYS: i64 = 400;
/// The window when none is given.
const DEFAULT_DAYS: i64 = 7;
/// The most rows one report reads.
const MAX_ROWS: u64 = 200_000;

/// The hours a report covers, in PocketBase's datetime format (which sorts as it reads).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Window {
    /// The first hour's start.
    pub from: String,
    /// The end (inclusive).
    pub to: String,
}

impl Window {
    /// The window of `from` and `to` (dates or datetimes, as the records' date fields take
    /// them; empty for the default: the last seven days to `now`).
    ///
    /// # Errors
    /// A 400 naming the parameter that is not a date, or a window that ends before it
    /// starts or spans more than 400 days.
    pub fn parse(from: &str, to: &str, now: Timestamp) -> Result<Window, CoreError> {
        let invalid = |name: &str, message: &str| {
            let mut errors = FieldErrors::default();
            errors.add(name, FieldError::new("validation_invalid_value", message));
            CoreError::invalid(Form::Request, errors)
        };
        let at = |name: &str, text: &str| -> Result<Option<Timestamp>, CoreError> {
            if text.trim().is_empty() {
                return Ok(None);
            }
            kulisse_schema::datetime::parse(text)
                .and_then(|s| s.parse::<Timestamp>().ok())
                .map(Some)
                .ok_or_else(|| {
                    invalid(
                        name,
                        "Must be a date, such as 2026-12-01 or 2026-12-01 10:00:00.000Z.",
                    )
                })
        };
        let to = at("to", to)?.unwrap_or(now);
        let from = at("from", from)?.unwrap_or(to - SignedDuration::from_hours(24 * DEFAULT_DAYS));
        if from > to {
            return Err(invalid("from", "Must not be after to."));
        }
        if to.duration_since(from) > SignedDuration::from_hours(24 * MAX_DAYS) {
            return Err(invalid("from", "The window may span at most 400 days."));
        }
        let hour = Timestamp::from_second(start_of(from, 3600)).unwrap_or(from);
        Ok(Window {
            from: kulisse_schema::datetime::format(hour),
            to: kulisse_schema::datetime::format(to),
        })
    }
}

/// `GET /api/analytics/requests`: requests per collection and action over time.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestsReport {
    /// The hours covered.
    #[serde(flatten)]
    pub window: Window,
    /// `hour` or `day`.
    pub interval: &'static str,
    /// Requests the log dropped in the window (not counted here).
    pub dropped: u64,
    /// By time, then by count.
    pub items: Vec<RequestsItem>,
}

/// Requests to one collection with one action in one interval.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestsItem {
    /// The interval's start.
    pub time: String,
    /// The collection (empty for routes of none).
    pub collection: String,
    /// PocketBase's action name (empty for routes of none).
    pub action: String,
    /// Their counts and times.
    #[serde(flatten)]
    pub sums: Totals,
}

/// Counts and times of a group of requests.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Totals {
    /// How many.
    pub count: u64,
    /// Answered 400–499.
    pub client_errors: u64,
    /// Answered 500 or above.
    pub server_errors: u64,
    /// Answered 400 or above, of all.
    pub error_rate: f64,
    /// Average time, milliseconds.
    pub avg_ms: f64,
    /// The longest, milliseconds.
    pub max_ms: f64,
}

impl From<&Sums> for Totals {
    fn from(s: &Sums) -> Totals {
        let count = s.count.max(1) as f64;
        Totals {
            count: s.count,
            client_errors: s.client_errors,
            server_errors: s.server_errors,
            error_rate: round((s.client_errors + s.server_errors) as f64 / count),
            avg_ms: round(s.time_sum / count),
            max_ms: round(s.time_max),
        }
    }
}

/// `GET /api/analytics/routes`: each route's time and errors, slowest first.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutesReport {
    /// The hours covered.
    #[serde(flatten)]
    pub window: Window,
    /// Requests the log dropped in the window (not counted here).
    pub dropped: u64,
    /// Slowest first.
    pub items: Vec<RouteItem>,
}

/// One route (method and template).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteItem {
    /// The method and the route's template (`GET /api/collections/{collection}/records`).
    pub route: String,
    /// Their counts and times.
    #[serde(flatten)]
    pub sums: Totals,
}

/// `GET /api/analytics/users`: active users per day and week, and sign-ups.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsersReport {
    /// The hours covered.
    #[serde(flatten)]
    pub window: Window,
    /// Requests the log dropped in the window (not counted here).
    pub dropped: u64,
    /// Distinct users in the whole window.
    pub active: u64,
    /// Per day.
    pub daily: Vec<ActiveUsers>,
    /// Per week, by its Monday.
    pub weekly: Vec<ActiveUsers>,
    /// Per day and auth collection.
    pub signups: Vec<Signups>,
}

/// Distinct signed-in users (superusers aside) in a day or a week (from its Monday).
#[derive(Debug, Serialize)]
pub struct ActiveUsers {
    /// The day (`YYYY-MM-DD`).
    pub date: String,
    /// Distinct users.
    pub active: u64,
}

/// Records created in an auth collection in a day.
#[derive(Debug, Serialize)]
pub struct Signups {
    /// The day (`YYYY-MM-DD`).
    pub date: String,
    /// The collection.
    pub collection: String,
    /// How many.
    pub count: u64,
}

/// `GET /api/analytics/filters`: the filters and sorts list requests use most.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FiltersReport {
    /// The hours covered.
    #[serde(flatten)]
    pub window: Window,
    /// Requests the log dropped in the window (not counted here).
    pub dropped: u64,
    /// Filters, most used first.
    pub filters: Vec<FilterItem>,
    /// Sorts, most used first.
    pub sorts: Vec<FilterItem>,
}

/// A filter's or a sort's shape in one collection.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FilterItem {
    /// The collection.
    pub collection: String,
    /// The shape (values as `?`).
    pub shape: String,
    /// For a filter, the fields it compares with a value, each with its sign.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// Their counts and times.
    #[serde(flatten)]
    pub sums: Totals,
}

/// A stored row's text column.
pub(crate) fn text(row: &Row, name: &str) -> String {
    row.get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// A stored row's sums.
pub(crate) fn sums(row: &Row) -> Sums {
    let number = |name: &str| row.get(name).and_then(Value::as_f64).unwrap_or(0.0);
    Sums {
        count: number("count") as u64,
        client_errors: number("clientErrors") as u64,
        server_errors: number("serverErrors") as u64,
        time_sum: number("timeSum"),
        time_max: number("timeMax"),
    }
}

fn round(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Groups `rows` by `key`, summing; the groups by count, most first (then by key).
fn grouped<K: Ord + Clone + std::hash::Hash>(
    rows: &[Row],
    key: impl Fn(&Row) -> K,
) -> Vec<(K, Sums)> {
    let mut groups: HashMap<K, Sums> = HashMap::new();
    for row in rows {
        groups.entry(key(row)).or_default().add(&sums(row));
    }
    let mut groups: Vec<(K, Sums)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.count.cmp(&a.1.count).then_with(|| a.0.cmp(&b.0)));
    groups
}

impl AnalyticsService {
    /// The flushed rows of `metric` in `window` (this node's rollup flushed first, so
    /// its latest requests are in).
    pub(crate) async fn rows(
        &self,
        auth: &Auth,
        metric: Metric,
        window: &Window,
    ) -> Result<Vec<Row>, CoreError> {
        require_superuser(auth)?;
        self.flush().await?;
        let text = |s: &str| Term::Value(Literal::Text(s.to_owned()));
        let column = |s: &str| Term::Column(s.to_owned());
        // A day's users are stored at its midnight, which may be before the window's
        // first hour.
        let from = if metric == Metric::User {
            let at = window.from.parse::<Timestamp>().unwrap_or_default();
            kulisse_schema::datetime::format(
                Timestamp::from_second(start_of(at, 86_400)).unwrap_or(at),
            )
        } else {
            window.from.clone()
        };
        let q = Select {
            limit: Some(MAX_ROWS),
            ..Select::all(Arc::clone(&self.inner.collection))
        }
        .and(Cond::Compare {
            left: column("metric"),
            op: CmpOp::Eq,
            right: text(metric.as_str()),
        })
        .and(Cond::Compare {
            left: column("hour"),
            op: CmpOp::Gte,
            right: text(&from),
        })
        .and(Cond::Compare {
            left: column("hour"),
            op: CmpOp::Lte,
            right: text(&window.to),
        });
        Ok(self.inner.store.select(q).await?.rows)
    }

    /// Requests the log dropped in `window`.
    async fn dropped(&self, auth: &Auth, window: &Window) -> Result<u64, CoreError> {
        let rows = self.rows(auth, Metric::Dropped, window).await?;
        Ok(rows.iter().map(|r| sums(r).count).sum())
    }

    /// `GET /api/analytics/requests`: by `interval` (`hour` or `day`), collection and
    /// action; only `collection`'s when given.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; 400 for an unknown interval.
    pub async fn requests(
        &self,
        auth: &Auth,
        window: Window,
        interval: &str,
        collection: &str,
    ) -> Result<RequestsReport, CoreError> {
        let interval = match interval {
            "" | "hour" => "hour",
            "day" => "day",
            _ => {
                let mut errors = FieldErrors::default();
                errors.add(
                    "interval",
                    FieldError::new("validation_invalid_value", "Must be hour or day."),
                );
                return Err(CoreError::invalid(Form::Request, errors));
            }
        };
        let mut rows = self.rows(auth, Metric::Requests, &window).await?;
        if !collection.is_empty() {
            rows.retain(|r| text(r, "collection").eq_ignore_ascii_case(collection));
        }
        let bucket = |row: &Row| {
            let hour = text(row, "hour");
            match interval {
                "day" => format!("{} 00:00:00.000Z", hour.get(..10).unwrap_or_default()),
                _ => hour,
            }
        };
        let mut items: Vec<RequestsItem> = grouped(&rows, |r| {
            (bucket(r), text(r, "collection"), text(r, "action"))
        })
        .into_iter()
        .map(|((time, collection, action), s)| RequestsItem {
            time,
            collection,
            action,
            sums: Totals::from(&s),
        })
        .collect();
        items.sort_by(|a, b| a.time.cmp(&b.time));
        Ok(RequestsReport {
            dropped: self.dropped(auth, &window).await?,
            window,
            interval,
            items,
        })
    }

    /// `GET /api/analytics/routes`: the `limit` slowest routes by their average time.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub async fn routes(
        &self,
        auth: &Auth,
        window: Window,
        limit: usize,
    ) -> Result<RoutesReport, CoreError> {
        let rows = self.rows(auth, Metric::Requests, &window).await?;
        let mut items: Vec<RouteItem> = grouped(&rows, |r| text(r, "route"))
            .into_iter()
            .map(|(route, s)| RouteItem {
                route,
                sums: Totals::from(&s),
            })
            .collect();
        items.sort_by(|a, b| b.sums.avg_ms.total_cmp(&a.sums.avg_ms));
        items.truncate(limit);
        Ok(RoutesReport {
            dropped: self.dropped(auth, &window).await?,
            window,
            items,
        })
    }

    /// `GET /api/analytics/users`.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub async fn users(&self, auth: &Auth, window: Window) -> Result<UsersReport, CoreError> {
        let rows = self.rows(auth, Metric::User, &window).await?;
        let mut daily: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        let mut weekly: BTreeMap<String, HashSet<String>> = BTreeMap::new();
        let mut all = HashSet::new();
        for row in &rows {
            if text(row, "collection") == kulisse_schema::collection::SUPERUSERS {
                continue;
            }
            let day = text(row, "hour").get(..10).unwrap_or_default().to_owned();
            let user = text(row, "key");
            weekly
                .entry(monday_of(&day))
                .or_default()
                .insert(user.clone());
            daily.entry(day).or_default().insert(user.clone());
            all.insert(user);
        }
        let count = |m: BTreeMap<String, HashSet<String>>| {
            m.into_iter()
                .map(|(date, users)| ActiveUsers {
                    date,
                    active: users.len() as u64,
                })
                .collect()
        };
        Ok(UsersReport {
            dropped: self.dropped(auth, &window).await?,
            active: all.len() as u64,
            daily: count(daily),
            weekly: count(weekly),
            signups: self.signups(&window).await?,
            window,
        })
    }

    /// Records created per day in each auth collection (superusers aside), read from
    /// the records themselves: a sign-up through OAuth2 or the dashboard counts too.
    async fn signups(&self, window: &Window) -> Result<Vec<Signups>, CoreError> {
        let snapshot = self.inner.registry.snapshot();
        let mut out = Vec::new();
        for c in snapshot.all() {
            if c.kind != kulisse_schema::CollectionKind::Auth
                || c.name == kulisse_schema::collection::SUPERUSERS
            {
                continue;
            }
            let created = || Term::Column("created".to_owned());
            let q = Select::all(Arc::clone(c))
                .and(Cond::Compare {
                    left: created(),
                    op: CmpOp::Gte,
                    right: Term::Value(Literal::Text(window.from.clone())),
                })
                .and(Cond::Compare {
                    left: created(),
                    op: CmpOp::Lte,
                    right: Term::Value(Literal::Text(window.to.clone())),
                });
            let day = Term::Strftime {
                format: "%Y-%m-%d".into(),
                value: Some(Box::new(created())),
                modifiers: vec![],
            };
            for (date, count) in self.inner.data.count_per(q, day).await? {
                out.push(Signups {
                    date,
                    collection: c.name.clone(),
                    count,
                });
            }
        }
        out.sort_by(|a, b| {
            a.date
                .cmp(&b.date)
                .then_with(|| a.collection.cmp(&b.collection))
        });
        Ok(out)
    }

    /// `GET /api/analytics/filters`: the `limit` filters and sorts used most, in
    /// `collection` only when given.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub async fn filters(
        &self,
        auth: &Auth,
        window: Window,
        collection: &str,
        limit: usize,
    ) -> Result<FiltersReport, CoreError> {
        let items = |rows: Vec<Row>| {
            let mut items: Vec<FilterItem> = grouped(&rows, |r| {
                (text(r, "collection"), text(r, "key"), text(r, "detail"))
            })
            .into_iter()
            .filter(|((c, _, _), _)| collection.is_empty() || c.eq_ignore_ascii_case(collection))
            .map(|((collection, shape, fields), s)| FilterItem {
                collection,
                shape,
                fields: fields
                    .split(',')
                    .filter(|f| !f.is_empty())
                    .map(str::to_owned)
                    .collect(),
                sums: Totals::from(&s),
            })
            .collect();
            items.truncate(limit);
            items
        };
        Ok(FiltersReport {
            filters: items(self.rows(auth, Metric::Filter, &window).await?),
            sorts: items(self.rows(auth, Metric::Sort, &window).await?),
            dropped: self.dropped(auth, &window).await?,
            window,
        })
    }
}

/// The Monday of the week `day` (`YYYY-MM-DD`) is in.
fn monday_of(day: &str) -> String {
    day.parse::<jiff::civil::Date>()
        .ok()
        .and_then(|d| {
            let back = i64::from(d.weekday().to_monday_zero_offset());
            d.checked_sub(jiff::Span::new().days(back)).ok()
        })
        .map_or_else(|| day.to_owned(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_default_to_the_last_week_and_refuse_nonsense() {
        let now: Timestamp = "2026-12-05T09:30:00Z".parse().unwrap();
        let w = Window::parse("", "", now).unwrap();
        assert_eq!(w.from, "2026-11-28 09:00:00.000Z");
        assert_eq!(w.to, "2026-12-05 09:30:00.000Z");
        let w = Window::parse("2026-12-01", "2026-12-02 10:00:00.000Z", now).unwrap();
        assert_eq!(w.from, "2026-12-01 00:00:00.000Z");
        assert!(Window::parse("yesterday", "", now).is_err());
        assert!(Window::parse("2026-12-03", "2026-12-02", now).is_err());
        assert!(Window::parse("2020-01-01", "", now).is_err());
    }

    #[test]
    fn weeks_start_on_monday() {
        assert_eq!(monday_of("2026-12-05"), "2026-11-30");
        assert_eq!(monday_of("2026-11-30"), "2026-11-30");
    }
}

//! The rollup: what the request log's writer saw since the last flush, summed by hour and
//! by what the operator's charts group by. It lives in memory for about a minute
//! ([`super::flush`]), so a request costs the writer a map update, not a database row.

use std::collections::HashMap;

use jiff::Timestamp;
use kulisse_store::SlowQuery;
use sha2::{Digest, Sha256};

use crate::logs::RequestFacts;

/// The most rows held between two flushes: a client sending ever new filters cannot grow
/// the rollup without bound. What does not fit is counted as dropped.
const MAX_ROWS: usize = 10_000;

/// What a row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Metric {
    /// Requests by collection, action and route.
    Requests,
    /// One signed-in user's requests in a day.
    User,
    /// List requests by their filter's shape.
    Filter,
    /// List requests by their sort.
    Sort,
    /// Slow reads by their SQL.
    Slow,
    /// Requests the log dropped (and so did not count).
    Dropped,
}

impl Metric {
    /// As stored.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Metric::Requests => "requests",
            Metric::User => "user",
            Metric::Filter => "filter",
            Metric::Sort => "sort",
            Metric::Slow => "slow",
            Metric::Dropped => "dropped",
        }
    }
}

/// A row's dimensions: its hour and what it is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct Dims {
    /// The hour's start, unix seconds (a day's start for [`Metric::User`]).
    pub(crate) hour: i64,
    pub(crate) metric: Metric,
    pub(crate) collection: String,
    pub(crate) action: String,
    pub(crate) route: String,
    pub(crate) key: String,
    pub(crate) detail: String,
}

impl Dims {
    fn new(hour: i64, metric: Metric) -> Dims {
        Dims {
            hour,
            metric,
            collection: String::new(),
            action: String::new(),
            route: String::new(),
            key: String::new(),
            detail: String::new(),
        }
    }

    /// The row's id: the same on every node for the same dimensions, so each adds to one
    /// row.
    pub(crate) fn id(&self) -> String {
        let mut hash = Sha256::new();
        for part in [
            &self.hour.to_string(),
            self.metric.as_str(),
            &self.collection,
            &self.action,
            &self.route,
            &self.key,
            &self.detail,
        ] {
            hash.update(part.as_bytes());
            hash.update([0x1f]);
        }
        let mut id = data_encoding::BASE32_DNSSEC.encode(&hash.finalize());
        id.truncate(15);
        id
    }
}

/// A row's sums.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Sums {
    pub(crate) count: u64,
    /// Answered 400–499.
    pub(crate) client_errors: u64,
    /// Answered 500 or above.
    pub(crate) server_errors: u64,
    /// Summed time, milliseconds.
    pub(crate) time_sum: f64,
    /// The longest, milliseconds.
    pub(crate) time_max: f64,
}

impl Sums {
    fn one(status: u16, ms: f64) -> Sums {
        Sums {
            count: 1,
            client_errors: u64::from((400..500).contains(&status)),
            server_errors: u64::from(status >= 500),
            time_sum: ms,
            time_max: ms,
        }
    }

    /// Adds `other` in.
    pub(crate) fn add(&mut self, other: &Sums) {
        self.count += other.count;
        self.client_errors += other.client_errors;
        self.server_errors += other.server_errors;
        self.time_sum += other.time_sum;
        self.time_max = self.time_max.max(other.time_max);
    }
}

/// Who made a request: an auth record, by its collection's name and id.
pub(crate) struct Requester<'a> {
    pub(crate) collection: &'a str,
    pub(crate) id: &'a str,
}

/// Sums since the last flush.
#[derive(Debug, Default)]
pub(crate) struct Rollup {
    rows: HashMap<Dims, Sums>,
    /// Requests that did not fit, to be counted as dropped.
    overflow: u64,
}

impl Rollup {
    /// Adds a request answered at `at` to `collection` (its name, resolved from the URL's
    /// spelling; empty for other routes), made by `requester` (none for a guest).
    pub(crate) fn add_request(
        &mut self,
        at: Timestamp,
        facts: &RequestFacts,
        collection: &str,
        requester: Option<Requester<'_>>,
    ) {
        let hour = start_of(at, 3600);
        let sums = Sums::one(facts.status, facts.took.as_secs_f64() * 1000.0);
        let mut requests = Dims::new(hour, Metric::Requests);
        requests.collection = collection.to_owned();
        requests.action = facts.action.to_owned();
        requests.route = format!("{} {}", facts.method, facts.route);
        self.add(requests, &sums);
        if let Some(requester) = requester {
            let mut user = Dims::new(start_of(at, 86_400), Metric::User);
            user.collection = requester.collection.to_owned();
            user.key = user_key(requester.collection, requester.id);
            self.add(user, &sums);
        }
        // Only lists that ran: a refused filter or sort served no query.
        if facts.action == "list" && facts.status < 400 {
            let (filter, sort) = list_params(&facts.url);
            if let Some((shape, fields)) = filter.as_deref().and_then(filter_shape) {
                let mut dims = Dims::new(hour, Metric::Filter);
                dims.collection = collection.to_owned();
                dims.key = shape;
                dims.detail = fields;
                self.add(dims, &sums);
            }
            if let Some(shape) = sort.as_deref().and_then(sort_shape) {
                let mut dims = Dims::new(hour, Metric::Sort);
                dims.collection = collection.to_owned();
                dims.key = shape;
                self.add(dims, &sums);
            }
        }
    }

    /// Adds the slow reads of one drain, made before `at`.
    pub(crate) fn add_slow(&mut self, at: Timestamp, slow: Vec<SlowQuery>) {
        let hour = start_of(at, 3600);
        for q in slow {
            let mut dims = Dims::new(hour, Metric::Slow);
            dims.key = q.sql;
            dims.detail = q.plan;
            let sums = Sums {
                count: q.count,
                time_sum: q.total.as_secs_f64() * 1000.0,
                time_max: q.max.as_secs_f64() * 1000.0,
                ..Sums::default()
            };
            self.add(dims, &sums);
        }
    }

    /// Adds `n` requests the log dropped before `at`.
    pub(crate) fn add_dropped(&mut self, at: Timestamp, n: u64) {
        if n > 0 {
            let sums = Sums {
                count: n,
                ..Sums::default()
            };
            self.add(Dims::new(start_of(at, 3600), Metric::Dropped), &sums);
        }
    }

    fn add(&mut self, dims: Dims, sums: &Sums) {
        if let Some(row) = self.rows.get_mut(&dims) {
            row.add(sums);
        } else if self.rows.len() < MAX_ROWS {
            self.rows.insert(dims, *sums);
        } else if dims.metric == Metric::Requests {
            self.overflow += 1;
        }
    }

    /// Whether nothing was added since the last [`Self::take`].
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.overflow == 0
    }

    /// The rows (requests that did not fit counted as dropped at `at`), emptying the
    /// rollup.
    pub(crate) fn take(&mut self, at: Timestamp) -> Vec<(Dims, Sums)> {
        let overflow = std::mem::take(&mut self.overflow);
        let mut rows: Vec<(Dims, Sums)> = self.rows.drain().collect();
        if overflow > 0 {
            let sums = Sums {
                count: overflow,
                ..Sums::default()
            };
            rows.push((Dims::new(start_of(at, 3600), Metric::Dropped), sums));
        }
        rows
    }
}

/// The start of the `period` (seconds, a divisor of a day) `at` is in, unix seconds.
pub(crate) fn start_of(at: Timestamp, period: i64) -> i64 {
    let s = at.as_second();
    s - s.rem_euclid(period)
}

/// A signed-in user as the analytics keep them: a hash of who they are, so active users
/// can be counted without the table naming anyone.
fn user_key(collection: &str, id: &str) -> String {
    let hash = Sha256::digest(format!(
        "kulisse analytics user\u{1f}{collection}\u{1f}{id}"
    ));
    data_encoding::HEXLOWER.encode(&hash[..12])
}

/// A list request's `filter` and `sort`, from its URL.
fn list_params(url: &str) -> (Option<String>, Option<String>) {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    let (mut filter, mut sort) = (None, None);
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match &*name {
            "filter" => filter = Some(value.into_owned()),
            "sort" => sort = Some(value.into_owned()),
            _ => {}
        }
    }
    (filter, sort)
}

/// A filter's shape and the fields it compares with a value, each with its sign
/// (`status =,total >`): what an index on them would serve. `None` for an empty or
/// invalid filter (answered 400, it ran no query).
fn filter_shape(filter: &str) -> Option<(String, String)> {
    if filter.trim().is_empty() {
        return None;
    }
    let expr = kulisse_filter::parse(filter).ok()?;
    let field = |o: &kulisse_filter::Operand| match o {
        kulisse_filter::Operand::Ident { name, .. }
            if !name.starts_with('@') && !matches!(name.as_str(), "null" | "true" | "false") =>
        {
            Some(name.clone())
        }
        _ => None,
    };
    let mut fields: Vec<String> = Vec::new();
    for cmp in expr.comparisons() {
        let (left, right) = (field(&cmp.left), field(&cmp.right));
        let compared = match (left, right) {
            (Some(f), None) => format!("{f} {}", cmp.op),
            (None, Some(f)) => format!("{f} {}", cmp.op),
            _ => continue,
        };
        if !fields.contains(&compared) {
            fields.push(compared);
        }
    }
    Some((expr.shape(), fields.join(",")))
}

/// A sort's shape: its fields, as given, without spaces; `None` for text no sort is made
/// of (the request was refused anyway), so nothing odd is ever stored.
fn sort_shape(sort: &str) -> Option<String> {
    let fields: Vec<&str> = sort
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .collect();
    let plain = |f: &&str| {
        f.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.:@+-".contains(&b))
    };
    (!fields.is_empty() && fields.iter().all(plain)).then(|| fields.join(","))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::Method;

    use super::*;

    fn list(url: &str, status: u16, ms: u64) -> RequestFacts {
        RequestFacts {
            method: Method::GET,
            url: url.into(),
            route: "/api/collections/{collection}/records",
            action: "list",
            collection: "posts".into(),
            status,
            took: Duration::from_millis(ms),
            remote_ip: None,
            user_ip: None,
            user_agent: String::new(),
            referer: String::new(),
            authorization: None,
            error: None,
            error_data: None,
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(1_800_000_000 + s).unwrap()
    }

    #[test]
    fn requests_sum_by_hour_route_and_filter_shape() {
        let mut rollup = Rollup::default();
        let alice = || {
            Some(Requester {
                collection: "users",
                id: "alice",
            })
        };
        let url = "/api/collections/posts/records?filter=status%3D%27paid%27%26%26total%3E20&sort=-created";
        rollup.add_request(at(0), &list(url, 200, 10), "posts", alice());
        let other = "/api/collections/posts/records?filter=status='open' %26%26 total>5";
        rollup.add_request(at(1), &list(other, 200, 30), "posts", alice());
        // A refused list ran no query: it counts as a request, not as a filter.
        rollup.add_request(at(1), &list(url, 400, 1), "posts", alice());
        rollup.add_request(
            at(2),
            &list("/api/collections/posts/records", 500, 2),
            "posts",
            None,
        );
        let rows = rollup.take(at(3));
        let find = |metric| {
            rows.iter()
                .filter(move |(d, _)| d.metric == metric)
                .collect::<Vec<_>>()
        };
        let requests = find(Metric::Requests);
        assert_eq!(requests.len(), 1);
        let (dims, sums) = requests[0];
        assert_eq!(dims.route, "GET /api/collections/{collection}/records");
        assert_eq!(
            (dims.collection.as_str(), dims.action.as_str()),
            ("posts", "list")
        );
        assert_eq!(
            (sums.count, sums.client_errors, sums.server_errors),
            (4, 1, 1)
        );
        assert_eq!((sums.time_sum, sums.time_max), (43.0, 30.0));
        let filters = find(Metric::Filter);
        assert_eq!(filters.len(), 1, "{filters:?}");
        assert_eq!(filters[0].0.key, "status = ? && total > ?");
        assert_eq!(filters[0].0.detail, "status =,total >");
        assert_eq!(filters[0].1.count, 2);
        assert_eq!(find(Metric::Sort)[0].0.key, "-created");
        assert_eq!(find(Metric::Sort)[0].1.count, 1);
        assert_eq!(sort_shape("-created,\u{0}x"), None);
        let users = find(Metric::User);
        assert_eq!(users.len(), 1);
        assert_eq!(users[0].1.count, 3);
        assert!(!users[0].0.key.contains("alice"));
        assert_eq!(users[0].0.hour % 86_400, 0);
        assert!(rollup.is_empty());
    }

    #[test]
    fn row_ids_are_made_of_the_dimensions() {
        let a = Dims::new(3600, Metric::Dropped);
        let mut b = a.clone();
        assert_eq!(a.id(), b.id());
        assert_eq!(a.id().len(), 15);
        assert!(
            a.id()
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        b.hour += 3600;
        assert_ne!(a.id(), b.id());
    }

    #[test]
    fn a_full_rollup_counts_new_requests_as_dropped() {
        let mut rollup = Rollup::default();
        for i in 0..MAX_ROWS {
            let mut dims = Dims::new(0, Metric::Slow);
            dims.key = i.to_string();
            rollup.add(dims, &Sums::default());
        }
        rollup.add_request(at(0), &list("/x", 200, 1), "posts", None);
        let rows = rollup.take(at(0));
        let dropped: u64 = rows
            .iter()
            .filter(|(d, _)| d.metric == Metric::Dropped)
            .map(|(_, s)| s.count)
            .sum();
        assert_eq!(dropped, 1);
    }
}

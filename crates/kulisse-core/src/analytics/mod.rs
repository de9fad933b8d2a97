//! Usage analytics for the operator (`/api/analytics/...`, superusers only): requests per
//! collection and action over time, the slowest routes and their errors, active users per
//! day and week, sign-ups, and the filters and sorts list requests use most.
//!
//! The request log's writer adds every request it takes to an in-memory rollup (hourly
//! sums by collection, action, route, filter shape, hashed user), whatever `logs.minLevel`
//! keeps; about once a minute, and before every read, a node adds its rollup to the rows
//! of `_analytics` in the log's store, together with the data store's slow reads (the
//! index advisor's source). The rows are not deleted with the log's entries. No address
//! is kept, and users only as a hash. Requests the log dropped under overload are counted
//! too, so a report says how many it is missing.
//!
//! Analytics follow the request log: with logging off (`logs.maxDays` 0) no request is
//! captured, so none is counted.

mod flush;
mod read;
mod rollup;
mod service;

pub use read::{
    ActiveUsers, FilterItem, FiltersReport, RequestsItem, RequestsReport, RouteItem, RoutesReport,
    Signups, Totals, UsersReport, Window,
};
pub(crate) use read::{sums, text};
pub(crate) use rollup::{Metric, Sums};
pub use service::AnalyticsService;

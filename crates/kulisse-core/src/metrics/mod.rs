//! Metrics: the series the services record, the gauges read at each scrape, and the port
//! that renders them for a scraper.
//!
//! Series are recorded through the `metrics` facade, as `tracing` records events: until
//! the binary installs a recorder (only when the operator turns metrics on), recording is
//! a call into a no-op. Which series exist, and what they mean, is in [`series`].

mod exporter;
pub mod series;
mod service;

pub use exporter::MetricsExporter;
pub use service::MetricsService;

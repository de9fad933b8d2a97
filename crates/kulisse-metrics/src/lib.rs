//! The `MetricsExporter` adapter: the `metrics` facade's Prometheus recorder
//! (metrics-exporter-prometheus, without its own HTTP server: HTTP serves `/metrics`), and
//! the process's resident memory, CPU time, threads and open files (metrics-process).
//!
//! Must not depend on: HTTP, the store, the engines.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use kulisse_core::metrics::MetricsExporter;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Latency buckets, in seconds: from half a millisecond (a cached view) to ten seconds.
const SECONDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
/// Jobs per commit: SQLite's group commit folds at most 256.
const JOBS: [f64; 9] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
/// How often histograms' recorded values are folded into their buckets between scrapes,
/// so memory stays flat when nobody scrapes.
const UPKEEP: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder.
pub struct Prometheus {
    handle: PrometheusHandle,
    process: metrics_process::Collector,
}

/// Why the recorder could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The exporter's configuration was refused.
    #[error("cannot build the metrics recorder: {0}")]
    Build(#[from] BuildError),
    /// Another recorder (not this crate's) is already the process's.
    #[error("another metrics recorder is installed")]
    Taken,
    /// The thread that keeps histograms small could not start.
    #[error("cannot start the metrics upkeep thread: {0}")]
    Upkeep(#[from] std::io::Error),
}

/// The recorder installed by the first [`Prometheus::install`] (a process has one).
static INSTALLED: OnceLock<Arc<Prometheus>> = OnceLock::new();

impl Prometheus {
    /// Installs the recorder as the process's (the first call; later calls, such as a
    /// second node in one test process, share it) and starts its upkeep thread.
    ///
    /// # Errors
    /// When the recorder cannot be built or another one is installed.
    pub fn install() -> Result<Arc<Prometheus>, InstallError> {
        if let Some(installed) = INSTALLED.get() {
            return Ok(Arc::clone(installed));
        }
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS)?
            .set_buckets_for_metric(Matcher::Suffix("_jobs".into()), &JOBS)?
            .build_recorder();
        let handle = recorder.handle();
        metrics::set_global_recorder(recorder).map_err(|_| InstallError::Taken)?;
        let upkeep = handle.clone();
        std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP);
                    upkeep.run_upkeep();
                }
            })?;
        let process = metrics_process::Collector::default();
        process.describe();
        let prometheus = Arc::new(Prometheus { handle, process });
        Ok(Arc::clone(INSTALLED.get_or_init(|| prometheus)))
    }
}

impl MetricsExporter for Prometheus {
    fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }

    fn content_type(&self) -> &'static str {
        "text/plain; version=0.0.4; charset=utf-8"
    }
}

//! [`MetricsService`]: a scrape's answer, with the gauges read at that moment.

use std::sync::Arc;

use kulisse_store::Store;
use metrics::{counter, gauge};

use super::MetricsExporter;
use super::series;
use crate::logs::LogService;
use crate::realtime::RealtimeService;

/// Answers scrapes. Gauges of state the services keep anyway (connections, queues,
/// realtime clients) are read when a scrape asks rather than updated on every change:
/// their hot paths stay as they are, and a scrape sees the state of that moment.
#[derive(Clone)]
pub struct MetricsService {
    exporter: Arc<dyn MetricsExporter>,
    store: Arc<dyn Store>,
    realtime: RealtimeService,
    logs: Option<LogService>,
}

impl MetricsService {
    pub(crate) fn new(
        exporter: Arc<dyn MetricsExporter>,
        store: Arc<dyn Store>,
        realtime: RealtimeService,
        logs: Option<LogService>,
    ) -> MetricsService {
        series::describe();
        MetricsService {
            exporter,
            store,
            realtime,
            logs,
        }
    }

    /// Every series, in the exporter's format.
    pub fn render(&self) -> String {
        self.sample();
        self.exporter.render()
    }

    /// The scrape's media type.
    pub fn content_type(&self) -> &'static str {
        self.exporter.content_type()
    }

    fn sample(&self) {
        let stores = std::iter::once(("data", &self.store))
            .chain(self.logs.as_ref().map(|l| ("logs", l.store())));
        for (db, store) in stores {
            let status = store.pool_status();
            gauge!(series::DB_CONNECTIONS, "db" => db, "state" => "open").set(status.open as f64);
            if let Some(idle) = status.idle {
                gauge!(series::DB_CONNECTIONS, "db" => db, "state" => "idle").set(idle as f64);
            }
            gauge!(series::DB_CONNECTIONS_MAX, "db" => db).set(status.max as f64);
            gauge!(series::DB_WAITING, "db" => db, "op" => "read").set(status.waiting_reads as f64);
            gauge!(series::DB_WAITING, "db" => db, "op" => "write")
                .set(status.waiting_writes as f64);
        }
        let census = self.realtime.census();
        gauge!(series::REALTIME_CLIENTS).set(census.clients as f64);
        gauge!(series::REALTIME_SUBSCRIPTIONS).set(census.subscriptions as f64);
        if let Some(logs) = &self.logs {
            gauge!(series::LOG_QUEUE).set(logs.queued() as f64);
            counter!(series::LOG_DROPPED).absolute(logs.dropped());
        }
    }
}

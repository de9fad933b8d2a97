//! What [`crate::Finalize`] gathers for the request log: taken as a request comes in
//! (owned copies of the URL and three headers; see `kulisse_core::logs::RequestFacts`),
//! handed to the log service with the answer's status and time. Nothing is gathered while
//! logging is off.

use std::time::Instant;

use axum::extract::Request;
use axum::http::header::{AUTHORIZATION, REFERER, USER_AGENT};
use axum::response::Response;
use kulisse_core::Services;
use kulisse_core::logs::{LogService, RequestFacts};

use crate::error::LoggedError;
use crate::extract::{peer, real_ip};
use crate::limits::Route;
use crate::request_metrics::RouteTemplates;

/// A request on its way, for its log entry.
pub(crate) struct Capture {
    logs: LogService,
    started: Instant,
    facts: RequestFacts,
}

impl Capture {
    /// The facts of `req` (whose `route` the limits read; its template is one of
    /// `templates`), when the log wants them.
    pub(crate) fn start(
        services: &Services,
        req: &Request,
        templates: &RouteTemplates,
        route: &Route<'_>,
    ) -> Option<Capture> {
        let logs = services.logs.as_ref().filter(|l| l.wants())?;
        let headers = req.headers();
        let text = |name| {
            headers
                .get(name)
                .and_then(|v: &axum::http::HeaderValue| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        let remote_ip = peer(req.extensions());
        let user_ip = if logs.behind_proxy() {
            real_ip(headers, remote_ip, &services.settings.trusted_proxy())
        } else {
            remote_ip
        };
        Some(Capture {
            logs: logs.clone(),
            started: Instant::now(),
            facts: RequestFacts {
                method: req.method().clone(),
                url: req
                    .uri()
                    .path_and_query()
                    .map_or_else(|| req.uri().path(), |p| p.as_str())
                    .to_owned(),
                route: templates.of(req.uri().path()),
                action: route.tags.first().copied().unwrap_or_default(),
                collection: route.collection.unwrap_or_default().to_owned(),
                status: 0,
                took: std::time::Duration::ZERO,
                remote_ip,
                user_ip,
                user_agent: text(USER_AGENT),
                referer: text(REFERER),
                authorization: headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned),
                error: None,
                error_data: None,
            },
        })
    }

    /// Logs the request with its answer `res`.
    pub(crate) fn finish(self, res: &Response) {
        let Capture {
            logs,
            started,
            mut facts,
        } = self;
        facts.status = res.status().as_u16();
        facts.took = started.elapsed();
        if let Some(e) = res.extensions().get::<LoggedError>() {
            facts.error = Some(e.message.clone());
            facts.error_data = Some(e.data.clone());
        }
        logs.record(facts);
    }
}

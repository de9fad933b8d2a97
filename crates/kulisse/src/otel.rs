//! OpenTelemetry export (builds with the `otel` feature only): the request spans
//! (`kulisse::request`, see kulisse-http's `request_trace.rs`) and the warnings logged
//! within them, sent over OTLP/HTTP with protobuf to the collector that the standard
//! variables name (`OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`;
//! headers, timeout and batching from the other `OTEL_*` variables). Without either, nothing
//! is exported and the build behaves as the default one.
//!
//! The service is named `kulisse` unless `OTEL_SERVICE_NAME` says otherwise.

use anyhow::Context;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing_subscriber::Layer;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::registry::LookupSpan;

/// The spans exported: the requests'.
const TARGET: &str = "kulisse::request";

/// The exporter, flushed and stopped on drop (when the process ends).
pub struct Export(SdkTracerProvider);

impl Drop for Export {
    fn drop(&mut self) {
        // Spans not sent by now are lost either way; the collector may be gone.
        let _ = self.0.shutdown();
    }
}

/// The tracing layer exporting request spans, when an endpoint is configured.
///
/// # Errors
/// When the exporter cannot be built from the `OTEL_*` variables.
pub fn layer<S>() -> anyhow::Result<Option<(impl Layer<S>, Export)>>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    let configured = [
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()));
    if !configured {
        return Ok(None);
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .context("cannot set up the OpenTelemetry exporter")?;
    let mut resource = Resource::builder().with_attribute(opentelemetry::KeyValue::new(
        "service.version",
        env!("CARGO_PKG_VERSION"),
    ));
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name("kulisse");
    }
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build();
    let tracer = provider.tracer("kulisse");
    let layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(Targets::new().with_target(TARGET, LevelFilter::INFO));
    Ok(Some((layer, Export(provider))))
}

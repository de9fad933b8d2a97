//! [`MetricsExporter`]: the port a metrics format plugs into.

/// Renders every recorded series for a scraper (the adapter installs itself as the
/// process's recorder, so it holds what the services recorded).
pub trait MetricsExporter: Send + Sync {
    /// The series in the exporter's text format, with the process's own (memory, CPU)
    /// read just now.
    fn render(&self) -> String;

    /// The format's media type, for the scrape's `Content-Type`.
    fn content_type(&self) -> &'static str;
}

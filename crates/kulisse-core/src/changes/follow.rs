//! Other nodes' change sets, applied to this node.

use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use super::{Event, EventBus};
use crate::collections::Registry;
use crate::settings::SettingsService;

/// Keeps this node in step with the others sharing the database: reloads the schema and
/// settings snapshots when another node changed them (or when changes may have been
/// missed), then publishes the event on this node's bus, as if the write had been local.
/// Runs until the feed closes.
pub(crate) async fn follow_feed(
    mut feed: broadcast::Receiver<Event>,
    registry: Registry,
    settings: SettingsService,
    bus: EventBus,
) {
    loop {
        let event = match feed.recv().await {
            Ok(event) => event,
            Err(RecvError::Lagged(_)) => Event::Missed,
            Err(RecvError::Closed) => return,
        };
        let (schema, params) = match &event {
            Event::Committed(set) => (set.collections, set.params),
            Event::Missed => (true, true),
        };
        if schema && let Err(e) = registry.reload().await {
            tracing::warn!(error = %e, "schema reload after another node's change failed");
        }
        if params && let Err(e) = settings.reload().await {
            tracing::warn!(error = %e, "settings reload after another node's change failed");
        }
        bus.publish(&event);
    }
}

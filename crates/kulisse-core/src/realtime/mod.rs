//! Realtime (spec §6): clients that hold an SSE stream, their subscriptions, and the
//! delivery of committed record changes to the subscribers whose rules let them see them.
//!
//! The HTTP layer opens a [`Connection`] per `GET /api/realtime` and writes its
//! [`Message`]s as server-sent events; `POST /api/realtime` sets a client's subscriptions
//! ([`RealtimeService::set_subscriptions`]). Delivery never runs in the writing request:
//! the service subscribes to the change bus, whose callback only queues the event; one
//! dispatcher thread (`dispatch.rs`) takes events in commit order, reads each changed
//! record once, checks every matching subscription's rule and filter in memory
//! (`query::eval`, with related records fetched once per event), and queues the message on
//! each client's bounded outbox. A client whose outbox is full is disconnected rather than
//! allowed to stall the others.

mod client;
mod config;
mod dispatch;
mod error;
mod joins;
mod log;
mod position;
mod resume;
mod service;
mod topic;

pub use config::Config;
pub use error::RealtimeError;
pub use position::Position;
pub use service::{Census, Connection, Message, RealtimeService, RecordEvent};
pub use topic::{Options, Subscription, Target};

//! What a committed write changed, and who hears of it.
//!
//! Every write goes through [`Writer::transact`]. Inside the transaction a [`Recorder`]
//! wraps the store's transaction and notes each record created, updated or deleted (by the
//! request itself, a cascade or an unlink), each truncated table and each schema or
//! settings change: the write's [`ChangeSet`]. Nobody has to remember to report a change;
//! a path that writes through the store is recorded by construction. After COMMIT the
//! writer publishes the set, once, on this node's [`EventBus`], and a [`ChangeFeed`] (when
//! several nodes share the database) carries it to the other nodes, whose
//! [`follow_feed`] task publishes it on their buses.
//!
//! Consumers subscribe to the bus: the auth record cache today, realtime, request logs and
//! webhooks later. None of them needs to know which path wrote.

mod bus;
mod feed;
mod follow;
mod recorder;
mod set;
mod writer;

pub use bus::{Event, EventBus, RowsWanted, Subscriber};
pub use feed::ChangeFeed;
pub(crate) use follow::follow_feed;
pub use recorder::Recorder;
pub use set::{Action, ChangeSet, RecordChange};
pub use writer::Writer;

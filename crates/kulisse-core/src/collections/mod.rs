//! Collection definitions: the in-memory registry and the schema-changing service.

mod registry;
mod service;
mod view;

pub use registry::{Registry, Snapshot};
pub use service::CollectionsService;

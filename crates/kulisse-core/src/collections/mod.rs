//! Collection definitions: the in-memory registry and the schema-changing service.

mod error;
mod import;
mod preview;
mod registry;
pub(crate) mod service;
mod system;
mod validate;
mod view;

pub use error::CollectionsError;
pub use preview::ViewPreview;
pub use registry::{Registry, Snapshot};
pub use service::CollectionsService;

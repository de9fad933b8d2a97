//! Record CRUD: the only path from a request to stored records (spec §2).
//!
//! Rule checks, input modifiers, validation and output visibility all happen here, so HTTP
//! and later callers (batch, realtime, admin UI) behave the same.

mod apply;
mod batch;
mod download;
mod error;
mod expand;
mod files;
mod input;
pub(crate) use input::check_plain_password;
pub(crate) use prepare::{hash_blocking, password_cost};
mod output;
mod prepare;
mod record;
pub(crate) mod references;
pub(crate) mod rules;
mod service;
mod write;

pub use batch::{BatchFailure, BatchItem, BatchOutcome, admit_batch};
pub use download::StoredFile;
pub use error::{BatchError, RecordsError};
pub use expand::{ExpandBudget, ExpandTree, MAX_EMBEDDED, MAX_READ};
pub use files::{DEFAULT_MAX_SIZE, Upload, has_files, mime_of};
pub use output::visible;
pub use record::{EXPAND_KEY, Embedded, Record};
pub use service::{ListParams, ListResult, MAX_PER_PAGE, RecordsService};
pub use write::{PreparedWrite, WriteOp};

//! Time and randomness as the services see them: one bundle handed to every service that
//! stamps, expires or names something, so that tests control them all at once.

use std::sync::Arc;

use crate::clock::{Clock, SystemClock};
use crate::ids::{IdSource, RandomIds};

/// The clock and the id source of one server.
#[derive(Clone)]
pub struct Ambient {
    /// Now.
    pub clock: Arc<dyn Clock>,
    /// Record ids and secret keys.
    pub ids: Arc<dyn IdSource>,
}

impl Ambient {
    /// The system clock and the CSPRNG: what the server runs on.
    pub fn system() -> Ambient {
        Ambient {
            clock: Arc::new(SystemClock),
            ids: Arc::new(RandomIds),
        }
    }

    /// Now, in PocketBase's datetime format (autodates).
    pub fn now_text(&self) -> String {
        kulisse_schema::datetime::format(self.clock.now())
    }
}

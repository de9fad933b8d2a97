//! The random identifiers services make: record ids and secret keys (`tokenKey`).
//!
//! Behind [`IdSource`] so that a test can make them reproducible ([`SeededIds`]); the
//! server uses the thread's CSPRNG ([`RandomIds`]).

use std::sync::Mutex;

use kulisse_schema::ids::{RECORD_ID_ALPHABET, random_string};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// A source of random identifiers.
pub trait IdSource: Send + Sync + 'static {
    /// `len` characters drawn uniformly from `alphabet`.
    fn random(&self, alphabet: &str, len: usize) -> String;

    /// A new record id, PocketBase's `[a-z0-9]{15}`.
    fn record_id(&self) -> String {
        self.random(RECORD_ID_ALPHABET, 15)
    }
}

/// Identifiers from the thread's CSPRNG: unguessable, as keys must be.
#[derive(Debug, Default, Clone, Copy)]
pub struct RandomIds;

impl IdSource for RandomIds {
    fn random(&self, alphabet: &str, len: usize) -> String {
        random_string(alphabet, len)
    }
}

/// Identifiers from a seeded generator: the same sequence for the same seed. For tests
/// only: its keys are predictable.
#[derive(Debug)]
pub struct SeededIds {
    rng: Mutex<StdRng>,
}

impl SeededIds {
    /// A source whose sequence is fixed by `seed`.
    pub fn new(seed: u64) -> SeededIds {
        SeededIds {
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
        }
    }
}

impl IdSource for SeededIds {
    fn random(&self, alphabet: &str, len: usize) -> String {
        let chars: Vec<char> = alphabet.chars().collect();
        let Ok(mut rng) = self.rng.lock() else {
            return String::new();
        };
        if chars.is_empty() {
            return String::new();
        }
        (0..len)
            .map(|_| chars[rng.random_range(0..chars.len())])
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_ids_repeat_for_the_same_seed_and_keep_pocketbase_shapes() {
        let (a, b) = (SeededIds::new(7), SeededIds::new(7));
        let id = a.record_id();
        assert_eq!(id, b.record_id());
        assert_eq!(id.len(), 15);
        assert!(
            id.bytes()
                .all(|c| RECORD_ID_ALPHABET.as_bytes().contains(&c))
        );
        assert_ne!(a.record_id(), id, "a sequence, not one value");
        assert_ne!(RandomIds.record_id(), RandomIds.record_id());
    }
}

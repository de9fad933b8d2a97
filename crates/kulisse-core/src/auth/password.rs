//! Password hashing.
//!
//! Decision: bcrypt (cost 10 by default, or the password field's `cost`), the format
//! PocketBase stores. A PocketBase data dir imported into kulisse keeps every user's
//! password, and a kulisse data dir can go back to PocketBase. bcrypt's 72-byte input limit
//! is why PocketBase caps passwords at 71 characters; we keep the same cap.

/// Default bcrypt cost (PocketBase's).
pub const DEFAULT_COST: u32 = 10;

/// Hashes a password with `cost` (0 = default).
pub fn hash_password(password: &str, cost: u32) -> String {
    let cost = if cost == 0 { DEFAULT_COST } else { cost };
    bcrypt::hash(password, cost).unwrap_or_default()
}

/// Verifies a password against a stored hash; a malformed hash never verifies.
pub fn verify_password(password: &str, hash: &str) -> bool {
    bcrypt::verify(password, hash).unwrap_or(false)
}

/// A valid hash of a random password, verified against when the identity is unknown so
/// that "no such user" and "wrong password" take the same time.
pub(crate) fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| {
        hash_password(
            &kulisse_schema::ids::random_string("abcdefghijklmnopqrstuvwxyz", 32),
            DEFAULT_COST,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifies_pocketbase_bcrypt_hashes() {
        let h = hash_password("1234567890", 4);
        assert!(h.starts_with("$2"));
        assert!(verify_password("1234567890", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }
}

//! Backup names: PocketBase's rule for names a client gives, and its default name.

use kulisse_schema::{FieldError, FieldErrors};

use crate::error::{CoreError, Form};

/// The longest name.
const MAX_LEN: usize = 150;

/// Whether `name` is a backup's name: `^[a-z0-9_-]+\.zip$`, 1–150 characters. Every key
/// the backups API touches is checked with it first, so no path ever reaches a store.
pub(super) fn is_valid(name: &str) -> bool {
    name.len() <= MAX_LEN
        && name.strip_suffix(".zip").is_some_and(|stem| {
            !stem.is_empty()
                && stem
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
        })
}

/// The prefix of scheduled backups' names: PocketBase's, which no name a client gives can
/// have, so that pruning never deletes a backup someone made by hand.
pub(super) const AUTO_PREFIX: &str = "@auto_";

/// Whether `key` names a stored backup: a valid name, or one with [`AUTO_PREFIX`].
pub(super) fn is_stored(key: &str) -> bool {
    is_valid(key.strip_prefix(AUTO_PREFIX).unwrap_or(key))
}

/// `name` when valid; PocketBase's 400 on `name` otherwise.
pub(super) fn checked(name: &str) -> Result<&str, CoreError> {
    if is_valid(name) {
        return Ok(name);
    }
    let mut errors = FieldErrors::default();
    errors.add(
        "name",
        FieldError::new("validation_match_invalid", "Must be in a valid format."),
    );
    Err(CoreError::invalid(Form::Request, errors))
}

/// PocketBase's default name: `pb_backup_<app name, lower-cased>_<YYYYMMDDhhmmss>.zip`,
/// with what the rule refuses left out of the app name.
pub(super) fn default(app_name: &str, at: jiff::Timestamp) -> String {
    let app: String = app_name
        .to_lowercase()
        .chars()
        .filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-')
        .collect();
    let stamp = at.strftime("%Y%m%d%H%M%S");
    format!("pb_backup_{app}_{stamp}.zip")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_pocketbases_rule() {
        assert!(is_valid("pb_backup_acme_20261123050851.zip"));
        assert!(is_valid("a-b_c.zip"));
        for bad in [
            "", ".zip", "A.zip", "a.ZIP", "../a.zip", "a/b.zip", "a.tar", "a b.zip",
        ] {
            assert!(!is_valid(bad), "{bad}");
        }
        assert!(!is_valid(&format!("{}.zip", "a".repeat(147))));
        assert!(is_valid(&format!("{}.zip", "a".repeat(146))));
    }

    #[test]
    fn scheduled_backups_are_stored_under_the_auto_prefix() {
        assert!(is_stored("@auto_pb_backup_acme_20261123050851.zip"));
        assert!(is_stored("mine.zip"));
        assert!(!is_valid("@auto_pb_backup_acme_20261123050851.zip"));
        assert!(!is_stored("@other.zip"));
    }

    #[test]
    fn the_default_name_is_pocketbases() {
        let at: jiff::Timestamp = "2026-11-23T05:08:51Z".parse().unwrap_or_default();
        assert_eq!(
            default("Acme Shop!", at),
            "pb_backup_acmeshop_20261123050851.zip"
        );
        assert!(is_valid(&default("Acme", at)));
    }
}

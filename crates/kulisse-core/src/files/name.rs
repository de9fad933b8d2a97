//! Stored file names (spec §7.2) and the keys blobs live under.

use crate::ids::IdSource;

/// The alphabet of the random parts of a stored name.
const RANDOM_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
/// Longest stem kept, and longest extension.
const MAX_STEM: usize = 100;
const MAX_EXT: usize = 20;

/// PocketBase's stored name for an upload called `original`:
/// `{snake_case stem}_{10 random}{.ext}`. Path components are dropped, the extension keeps
/// its case (cleaned of odd characters), a stem shorter than 3 characters gets 10 random
/// characters appended first, a longer one than 100 is cut.
pub fn stored_name(original: &str, ids: &dyn IdSource) -> String {
    let base = original
        .rsplit(['/', '\\'])
        .next()
        .unwrap_or_default()
        .trim_matches('.');
    let (stem, ext) = match base.rfind('.') {
        Some(dot) if dot > 0 => (&base[..dot], &base[dot..]),
        _ => (base, ""),
    };
    let mut ext: String = ext
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || "_.*-+=#".contains(*c))
        .collect();
    if ext.len() > MAX_EXT {
        ext.truncate(MAX_EXT);
    }
    if ext == "." {
        ext.clear();
    }
    let mut stem = snake_case(stem);
    if stem.len() < 3 {
        stem.push_str(&ids.random(RANDOM_ALPHABET, 10));
    } else if stem.len() > MAX_STEM {
        stem.truncate(MAX_STEM);
    }
    format!("{stem}_{}{ext}", ids.random(RANDOM_ALPHABET, 10))
}

/// Words split at anything but ASCII letters and digits, joined with `_`, with a `_`
/// before an uppercase letter that follows a lowercase one, lowercased
/// (`My File (1)` → `my_file_1`, `photoID` → `photo_id`).
fn snake_case(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        let mut previous_upper = true;
        for c in word.chars() {
            if c.is_ascii_uppercase() && !previous_upper {
                out.push('_');
            }
            previous_upper = c.is_ascii_uppercase();
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// Whether `name` can be a stored file's name: what [`stored_name`] makes (ASCII letters,
/// digits and `_.*-+=#`, not starting with a dot). Anything else named in a request (a
/// path, `..`, control characters) is no file of any record.
pub fn is_stored_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_STEM + 1 + 10 + MAX_EXT + 10
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.*-+=#".contains(c))
}

/// The key of record `record`'s file `name` in collection `collection` (ids as stored,
/// `name` checked by [`is_stored_name`]).
pub fn key(collection_id: &str, record_id: &str, name: &str) -> String {
    format!("{collection_id}/{record_id}/{name}")
}

/// The key of thumb `size` (as asked for: `100x100`, `0x50f`) of a record's file `name`:
/// `thumbs_{name}/{size}_{name}` beside it, PocketBase's layout.
pub fn thumb_key(collection_id: &str, record_id: &str, name: &str, size: &str) -> String {
    format!("{collection_id}/{record_id}/thumbs_{name}/{size}_{name}")
}

/// The prefix of every thumb of a record's file `name`.
pub fn thumbs_prefix(collection_id: &str, record_id: &str, name: &str) -> String {
    format!("{collection_id}/{record_id}/thumbs_{name}/")
}

/// The prefix of all of a record's files (and their thumbnails).
pub fn record_prefix(collection_id: &str, record_id: &str) -> String {
    format!("{collection_id}/{record_id}/")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::SeededIds;

    fn name(original: &str) -> String {
        stored_name(original, &SeededIds::new(7))
    }

    /// `(stem, extension)` of `{stem}_{10 random}{ext}`.
    fn shape(stored: &str) -> (String, String) {
        let (stem, rest) = stored.rsplit_once('_').unwrap();
        let (random, ext) = rest.split_at(10);
        assert!(
            random
                .bytes()
                .all(|b| RANDOM_ALPHABET.as_bytes().contains(&b)),
            "{stored}"
        );
        (stem.to_owned(), ext.to_owned())
    }

    #[test]
    fn names_follow_pocketbases_rules() {
        assert_eq!(
            shape(&name("My File (1).TXT")),
            ("my_file_1".into(), ".TXT".into())
        );
        assert_eq!(
            shape(&name("../../evil.png")),
            ("evil".into(), ".png".into())
        );
        assert_eq!(
            shape(&name("photoID.jpeg")),
            ("photo_id".into(), ".jpeg".into())
        );
        assert_eq!(shape(&name("README")), ("readme".into(), String::new()));
        let short = name("a.txt");
        let (stem, ext) = shape(&short);
        assert_eq!((stem.len(), ext.as_str()), (11, ".txt"), "{short}");
        assert!(stem.starts_with('a'));
        let long = name(&format!("{}.md", "x".repeat(150)));
        assert_eq!(shape(&long).0.len(), 100);
        for stored in [short, long, name("My File (1).TXT")] {
            assert!(is_stored_name(&stored), "{stored}");
        }
        for bad in ["", "..", ".hidden", "a/b", "a\\b", "a\nb", "ä.png"] {
            assert!(!is_stored_name(bad), "{bad:?}");
        }
    }
}

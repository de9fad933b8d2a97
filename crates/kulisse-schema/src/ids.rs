//! Identifier generation the way PocketBase shapes them (spec §1.5).

use rand::RngExt;

/// Alphabet of record ids: PocketBase's default `autogeneratePattern` `[a-z0-9]{15}`.
pub const RECORD_ID_ALPHABET: &str = "abcdefghijklmnopqrstuvwxyz0123456789";

/// Alphabet of auth `tokenKey`s (`[a-zA-Z0-9]{50}`) and token secrets.
pub const TOKEN_KEY_ALPHABET: &str =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

/// A fresh 15-char record id.
pub fn new_record_id() -> String {
    random_string(RECORD_ID_ALPHABET, 15)
}

/// `n` characters drawn uniformly from `alphabet` with the thread's CSPRNG.
pub fn random_string(alphabet: &str, n: usize) -> String {
    let chars: Vec<char> = alphabet.chars().collect();
    if chars.is_empty() {
        return String::new();
    }
    let mut rng = rand::rng();
    (0..n)
        .map(|_| chars[rng.random_range(0..chars.len())])
        .collect()
}

/// Generates a string from an `autogeneratePattern`.
///
/// PB compat: PocketBase accepts any regex here; in practice every pattern in the wild is a
/// sequence of `[class]{n}` and literal characters (`[a-z0-9]{15}`, `[a-zA-Z0-9]{50}`), which
/// is what we support. Returns `None` for anything else so the schema validator can refuse it.
pub fn generate_from_pattern(pattern: &str) -> Option<String> {
    let mut out = String::new();
    let mut rest = pattern.strip_prefix('^').unwrap_or(pattern);
    rest = rest.strip_suffix('$').unwrap_or(rest);
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let close = after.find(']')?;
            let alphabet = expand_class(&after[..close])?;
            rest = &after[close + 1..];
            let (count, remaining) = parse_count(rest)?;
            rest = remaining;
            out.push_str(&random_string(&alphabet, count));
        } else {
            let c = rest.chars().next()?;
            if "\\.*+?(){}|".contains(c) {
                return None;
            }
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    Some(out)
}

/// Expands a character class body like `a-z0-9_` into its characters.
fn expand_class(class: &str) -> Option<String> {
    let chars: Vec<char> = class.chars().collect();
    if chars.first() == Some(&'^') {
        return None;
    }
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        if i + 2 < chars.len() && chars[i + 1] == '-' {
            let (lo, hi) = (chars[i], chars[i + 2]);
            if lo > hi {
                return None;
            }
            out.extend(lo..=hi);
            i += 3;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Parses an optional `{n}` quantifier (a missing one means 1).
fn parse_count(rest: &str) -> Option<(usize, &str)> {
    match rest.strip_prefix('{') {
        None => Some((1, rest)),
        Some(after) => {
            let close = after.find('}')?;
            let n: usize = after[..close].parse().ok()?;
            (n <= 255).then_some((n, &after[close + 1..]))
        }
    }
}

/// `pbc_<crc32(type+name)>`: PocketBase's id for a new collection.
pub fn collection_id(kind: &str, name: &str) -> String {
    format!(
        "pbc_{}",
        crc32fast::hash(format!("{kind}{name}").as_bytes())
    )
}

/// `<type><crc32(name)>`: PocketBase's id for a new field, stable across collections.
pub fn field_id(kind: &str, name: &str) -> String {
    format!("{kind}{}", crc32fast::hash(name.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_match_pocketbase() {
        assert_eq!(collection_id("base", "authors"), "pbc_526341563");
        assert_eq!(field_id("text", "name"), "text1579384326");
    }

    #[test]
    fn patterns_generate_matching_strings() {
        let s = generate_from_pattern("[a-z0-9]{15}").unwrap();
        assert_eq!(s.len(), 15);
        assert!(
            s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        );
        assert_eq!(generate_from_pattern("[a-zA-Z0-9]{50}").unwrap().len(), 50);
        assert!(
            generate_from_pattern("post_[0-9]{3}")
                .unwrap()
                .starts_with("post_")
        );
        assert_eq!(generate_from_pattern("(a|b)+"), None);
    }
}

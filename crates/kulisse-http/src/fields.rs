//! The `fields` query parameter: picking keys out of any 2xx JSON response (spec §2.5),
//! including the `:excerpt(max, withEllipsis)` modifier.

use std::collections::BTreeMap;

use kulisse_core::records::{EXPAND_KEY, Embedded, Record};
use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};
use serde_json::{Map, Value};

use super::error::ApiError;

/// `:excerpt(max, withEllipsis)` options.
type Excerpt = Option<(usize, bool)>;
/// A path as segments plus its excerpt, borrowed while picking.
type PathRef<'a> = (&'a [String], Excerpt);

/// One requested path, e.g. `expand.author.name` or `body:excerpt(20,true)`.
#[derive(Debug, Clone, PartialEq)]
struct FieldPath {
    segments: Vec<String>,
    excerpt: Excerpt,
}

/// A parsed `fields` list.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldsFilter(Vec<FieldPath>);

impl FieldsFilter {
    /// Parses `id,title,body:excerpt(10,true)`; `None` when empty.
    ///
    /// # Errors
    /// 400 for a malformed or non-positive excerpt.
    pub fn parse(raw: &str) -> Result<Option<FieldsFilter>, ApiError> {
        let mut out = Vec::new();
        for item in split_top_level(raw) {
            let item: String = item.chars().filter(|c| !c.is_whitespace()).collect();
            if item.is_empty() {
                continue;
            }
            let (path, excerpt) = match item.split_once(":excerpt(") {
                Some((path, args)) => {
                    let args = args.strip_suffix(')').ok_or_else(ApiError::bad_request)?;
                    let mut parts = args.split(',');
                    let max: i64 = parts
                        .next()
                        .unwrap_or_default()
                        .parse()
                        .map_err(|_| ApiError::bad_request())?;
                    if max <= 0 {
                        return Err(ApiError::bad_request());
                    }
                    let ellipsis = parts
                        .next()
                        .is_some_and(|b| super::extract::parse_go_bool(b).unwrap_or(false));
                    (
                        path.to_owned(),
                        Some((usize::try_from(max).unwrap_or(usize::MAX), ellipsis)),
                    )
                }
                None => (item, None),
            };
            out.push(FieldPath {
                segments: path.split('.').map(str::to_owned).collect(),
                excerpt,
            });
        }
        Ok((!out.is_empty()).then_some(FieldsFilter(out)))
    }

    /// Applies the filter to a response body; list envelopes keep their paging keys and
    /// only their items are picked.
    pub fn apply(&self, body: Value) -> Value {
        match body {
            Value::Object(mut map) if is_list_envelope(&map) => {
                if let Some(Value::Array(items)) = map.remove("items") {
                    map.insert(
                        "items".into(),
                        Value::Array(items.into_iter().map(|i| self.pick(i)).collect()),
                    );
                }
                Value::Object(map)
            }
            Value::Array(items) => Value::Array(items.into_iter().map(|i| self.pick(i)).collect()),
            other => self.pick(other),
        }
    }

    fn pick(&self, v: Value) -> Value {
        pick_paths(v, &self.paths())
    }

    fn paths(&self) -> Vec<PathRef<'_>> {
        self.0
            .iter()
            .map(|p| (p.segments.as_slice(), p.excerpt))
            .collect()
    }

    /// `record` with the filter applied as it is written: the answer [`Self::apply`] gives
    /// for the record's JSON, without first writing an expanded record (which may repeat
    /// shared records millions of times) as a whole and parsing it back.
    pub fn record<'a>(&'a self, record: &'a Record) -> impl Serialize + 'a {
        Picked {
            record,
            paths: self.paths(),
        }
    }
}

/// Marks an answer whose handler applied `fields` itself, so [`super::finalize`] leaves
/// it alone.
#[derive(Debug, Clone, Copy)]
pub struct FieldsPicked;

/// A record with `paths` picked, written like [`pick_paths`] would pick its JSON.
struct Picked<'a> {
    record: &'a Record,
    paths: Vec<PathRef<'a>>,
}

impl Serialize for Picked<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let expand = self.record.expansions();
        let mut pending = expand;
        for (key, value) in &self.record.fields {
            if expand.is_some() && key.as_str() == EXPAND_KEY {
                continue;
            }
            if key.as_str() > EXPAND_KEY
                && let Some(expand) = pending.take()
            {
                self.expansions(&mut map, expand)?;
            }
            let (whole, nested) = select(&self.paths, key);
            if let Some(excerpt) = whole {
                match (value, excerpt) {
                    (Value::String(text), Some((max, ellipsis))) => {
                        map.serialize_entry(key, &excerpt_text(text, max, ellipsis))?;
                    }
                    _ => map.serialize_entry(key, value)?,
                }
            } else if !nested.is_empty() {
                map.serialize_entry(key, &pick_paths(value.clone(), &nested))?;
            }
        }
        if let Some(expand) = pending {
            self.expansions(&mut map, expand)?;
        }
        map.end()
    }
}

impl<'a> Picked<'a> {
    /// The `expand` entry, if the paths ask for it.
    fn expansions<M: SerializeMap>(
        &self,
        map: &mut M,
        expand: &'a BTreeMap<String, Embedded>,
    ) -> Result<(), M::Error> {
        let (whole, nested) = select(&self.paths, EXPAND_KEY);
        if whole.is_some() {
            // An excerpt leaves objects as they are.
            map.serialize_entry(EXPAND_KEY, &PickedExpansions(expand, None))
        } else if !nested.is_empty() {
            map.serialize_entry(EXPAND_KEY, &PickedExpansions(expand, Some(nested)))
        } else {
            Ok(())
        }
    }
}

/// The `expand` object, whole (`None`) or with paths picked inside it.
struct PickedExpansions<'a>(&'a BTreeMap<String, Embedded>, Option<Vec<PathRef<'a>>>);

impl Serialize for PickedExpansions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, embedded) in self.0 {
            let Some(paths) = &self.1 else {
                map.serialize_entry(key, embedded)?;
                continue;
            };
            let (whole, nested) = select(paths, key);
            if whole.is_some() {
                map.serialize_entry(key, embedded)?;
            } else if !nested.is_empty() {
                map.serialize_entry(key, &PickedEmbedded(embedded, nested))?;
            }
        }
        map.end()
    }
}

/// One expand value with paths picked in its record(s); lists pass the paths to each
/// element, as [`pick_paths`] does.
struct PickedEmbedded<'a>(&'a Embedded, Vec<PathRef<'a>>);

impl<'a> Serialize for PickedEmbedded<'a> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let picked = |record: &'a Record| Picked {
            record,
            paths: self.1.clone(),
        };
        match self.0 {
            Embedded::One(record) => picked(record).serialize(serializer),
            Embedded::Many(records) => {
                let mut seq = serializer.serialize_seq(Some(records.len()))?;
                for record in records {
                    seq.serialize_element(&picked(record))?;
                }
                seq.end()
            }
        }
    }
}

fn is_list_envelope(map: &Map<String, Value>) -> bool {
    ["items", "page", "perPage", "totalItems", "totalPages"]
        .iter()
        .all(|k| map.contains_key(*k))
}

/// What `paths` ask of `key` at one level: the whole value (with its excerpt), or these
/// paths inside it; neither when both are `None`/empty.
fn select<'a>(paths: &[PathRef<'a>], key: &str) -> (Option<Excerpt>, Vec<PathRef<'a>>) {
    let mut nested: Vec<PathRef<'a>> = Vec::new();
    let mut whole = None;
    for (segments, excerpt) in paths {
        let Some(first) = segments.first() else {
            continue;
        };
        if first != "*" && first != key {
            continue;
        }
        if segments.len() == 1 {
            // An explicit key beats `*`; an excerpt on either applies.
            if whole.is_none() || first != "*" {
                whole = Some(*excerpt);
            }
        } else if first == key {
            nested.push((&segments[1..], *excerpt));
        }
    }
    (whole, nested)
}

fn pick_paths(v: Value, paths: &[PathRef<'_>]) -> Value {
    match v {
        Value::Array(items) => {
            Value::Array(items.into_iter().map(|i| pick_paths(i, paths)).collect())
        }
        Value::Object(map) => {
            let mut out = Map::new();
            for (key, value) in map {
                let (whole, nested) = select(paths, &key);
                if let Some(excerpt) = whole {
                    out.insert(key, apply_excerpt(value, excerpt));
                } else if !nested.is_empty() {
                    out.insert(key, pick_paths(value, &nested));
                }
            }
            Value::Object(out)
        }
        other => other,
    }
}

fn apply_excerpt(v: Value, excerpt: Excerpt) -> Value {
    match (v, excerpt) {
        (Value::String(s), Some((max, ellipsis))) => Value::String(excerpt_text(&s, max, ellipsis)),
        (v, _) => v,
    }
}

/// Plain text of HTML, whitespace collapsed, cut to `max` characters.
pub fn excerpt_text(html: &str, max: usize, ellipsis: bool) -> String {
    let text = strip_html(html);
    let collapsed: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if collapsed.chars().count() <= max {
        return collapsed;
    }
    let mut cut: String = collapsed.chars().take(max).collect();
    cut = cut.trim_end().to_owned();
    if ellipsis {
        cut.push_str("...");
    }
    cut
}

/// Drops tags (and the content of script/style and similar non-text elements); tags
/// become spaces so block boundaries separate words.
fn strip_html(html: &str) -> String {
    const SKIP_CONTENT: &[&str] = &[
        "script", "style", "svg", "noscript", "iframe", "select", "textarea", "button", "object",
    ];
    let mut out = String::with_capacity(html.len());
    let mut rest = html;
    let mut skipping: Option<String> = None;
    while let Some(start) = rest.find('<') {
        if skipping.is_none() {
            out.push_str(&rest[..start]);
        }
        let Some(end) = rest[start..].find('>') else {
            rest = "";
            break;
        };
        let tag = rest[start + 1..start + end].trim().to_ascii_lowercase();
        let name: String = tag
            .trim_start_matches('/')
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric())
            .collect();
        match &skipping {
            Some(open) if tag.starts_with('/') && name == *open => skipping = None,
            None if !tag.starts_with('/')
                && SKIP_CONTENT.contains(&name.as_str())
                && !tag.ends_with('/') =>
            {
                skipping = Some(name);
            }
            _ => {}
        }
        out.push(' ');
        rest = &rest[start + end + 1..];
    }
    if skipping.is_none() {
        out.push_str(rest);
    }
    out.replace("&nbsp;", " ")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
}

/// Splits on commas outside parentheses (`a,b:excerpt(5,true)` → two items).
fn split_top_level(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn picks_paths_and_keeps_list_envelope() {
        let f = FieldsFilter::parse("id, expand.author.name")
            .unwrap()
            .unwrap();
        let body = json!({"items":[{"id":"a","title":"t","expand":{"author":{"name":"n","x":1}}}],"page":1,"perPage":30,"totalItems":1,"totalPages":1});
        assert_eq!(
            f.apply(body),
            json!({"items":[{"id":"a","expand":{"author":{"name":"n"}}}],"page":1,"perPage":30,"totalItems":1,"totalPages":1})
        );
        let star = FieldsFilter::parse("*,body:excerpt(9,true)")
            .unwrap()
            .unwrap();
        assert_eq!(
            star.apply(json!({"id":"a","body":"<p>Some <b>bold</b> body text</p>"})),
            json!({"id":"a","body":"Some bold..."})
        );
        assert!(FieldsFilter::parse("body:excerpt(0)").is_err());
        assert_eq!(FieldsFilter::parse(" , ").unwrap(), None);
    }

    #[test]
    fn excerpts_strip_markup() {
        assert_eq!(
            excerpt_text(
                "<p>Hi</p><script>alert(1)</script><div>there</div>",
                100,
                false
            ),
            "Hi there"
        );
        assert_eq!(
            excerpt_text("Some bold body text here", 20, true),
            "Some bold body text..."
        );
    }
}

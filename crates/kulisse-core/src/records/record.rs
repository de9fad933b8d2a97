//! A record as one requester sees it, with what `expand` embedded (spec §2.1, §2.4).
//!
//! Expanded records are shared, never copied: every related record is built once per
//! level of a response and held in an `Arc` by each record that refers to it. With a
//! self-relation of five links expanded six levels deep, a page of 300 records embeds
//! 5.9 million records; copying each into every referrer (as the first version did, into
//! `serde_json` values) took 9 GB, while the shared graph holds 6 × 300 records. The JSON
//! is written straight from the graph (see the `Serialize` impl), so the repetition only
//! ever exists in the output stream.

use std::collections::BTreeMap;
use std::sync::Arc;

use kulisse_store::Row;
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use serde_json::Value;

/// The key expansions are written under.
pub const EXPAND_KEY: &str = "expand";

/// A record shaped for output: its visible fields and, once expanded, the related records
/// under `expand`.
#[derive(Debug, Clone, Default)]
pub struct Record {
    /// Visible fields plus `collectionId` and `collectionName`.
    pub fields: Row,
    /// `None`: no `expand` key (nothing valid was requested); `Some` may be empty (`{}`).
    expand: Option<BTreeMap<String, Embedded>>,
    /// Records embedded under `expand`, at any depth, counting each appearance.
    embedded: u64,
}

/// What one expand key holds: one record (a single relation) or a list.
#[derive(Debug, Clone)]
pub enum Embedded {
    /// A single relation, or a back-relation through a unique field.
    One(Arc<Record>),
    /// A multiple relation or a back-relation, in PocketBase's order.
    Many(Vec<Arc<Record>>),
}

impl Embedded {
    /// Records this value puts in the output, theirs included.
    fn embedded(&self) -> u64 {
        let each = |r: &Arc<Record>| r.embedded.saturating_add(1);
        match self {
            Embedded::One(r) => each(r),
            Embedded::Many(rs) => rs.iter().map(each).fold(0, u64::saturating_add),
        }
    }
}

impl From<Row> for Record {
    fn from(fields: Row) -> Self {
        Record {
            fields,
            expand: None,
            embedded: 0,
        }
    }
}

impl Record {
    /// The record's `id`, if it has one.
    pub fn id(&self) -> Option<&str> {
        self.fields.get("id")?.as_str()
    }

    /// How many records the output embeds under this one's `expand`, at any depth, each
    /// appearance counted (a record referred to twice is written twice).
    pub fn embedded(&self) -> u64 {
        self.embedded
    }

    /// What is written under `expand`, by key; `None` when there is no `expand` key.
    pub fn expansions(&self) -> Option<&BTreeMap<String, Embedded>> {
        self.expand.as_ref()
    }

    /// Adds (or replaces) the expansion `key`, and makes the `expand` key appear.
    pub(crate) fn add_expansion(&mut self, key: String, value: Option<Embedded>) {
        let map = self.expand.get_or_insert_with(BTreeMap::new);
        if let Some(value) = value {
            self.embedded = self.embedded.saturating_add(value.embedded());
            if let Some(old) = map.insert(key, value) {
                self.embedded = self.embedded.saturating_sub(old.embedded());
            }
        }
    }
}

/// Writes the fields in key order with `expand` in its sorted place, as PocketBase's
/// records (alphabetical keys) are; shared expansions are written where they appear.
impl Serialize for Record {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let Some(expand) = &self.expand else {
            let mut map = serializer.serialize_map(Some(self.fields.len()))?;
            for (key, value) in &self.fields {
                map.serialize_entry(key, &FieldValue(value))?;
            }
            return map.end();
        };
        let mut map = serializer.serialize_map(Some(self.fields.len() + 1))?;
        let mut pending = Some(expand);
        for (key, value) in &self.fields {
            if key.as_str() == EXPAND_KEY {
                continue;
            }
            if key.as_str() > EXPAND_KEY
                && let Some(expand) = pending.take()
            {
                map.serialize_entry(EXPAND_KEY, &Expansions(expand))?;
            }
            map.serialize_entry(key, &FieldValue(value))?;
        }
        if let Some(expand) = pending {
            map.serialize_entry(EXPAND_KEY, &Expansions(expand))?;
        }
        map.end()
    }
}

/// A field's value as PocketBase writes it. PB compat: a geoPoint is `{"lon":…,"lat":…}`,
/// lon first (its Go struct's order), where a JSON map sorts `lat` first. Told apart by
/// shape: an object of exactly `lon` and `lat`, which a JSON field's value may also be; key
/// order means nothing to JSON readers, so that costs nothing.
struct FieldValue<'a>(&'a Value);

impl Serialize for FieldValue<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if let Value::Object(point) = self.0
            && point.len() == 2
            && let (Some(lon), Some(lat)) = (point.get("lon"), point.get("lat"))
        {
            let mut map = serializer.serialize_map(Some(2))?;
            map.serialize_entry("lon", lon)?;
            map.serialize_entry("lat", lat)?;
            return map.end();
        }
        self.0.serialize(serializer)
    }
}

/// The `expand` object.
struct Expansions<'a>(&'a BTreeMap<String, Embedded>);

impl Serialize for Expansions<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl Serialize for Embedded {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Embedded::One(r) => r.serialize(serializer),
            Embedded::Many(rs) => {
                let mut seq = serializer.serialize_seq(Some(rs.len()))?;
                for r in rs {
                    seq.serialize_element(&**r)?;
                }
                seq.end()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn record(v: serde_json::Value) -> Record {
        match v {
            serde_json::Value::Object(m) => Record::from(m),
            _ => Record::default(),
        }
    }

    #[test]
    fn expand_is_written_in_its_sorted_place_and_shared_records_counted_per_appearance() {
        let leaf = Arc::new(record(json!({"id": "c", "name": "leaf"})));
        let mut mid = record(json!({"id": "b", "zz": 1}));
        mid.add_expansion(
            "next".into(),
            Some(Embedded::Many(vec![Arc::clone(&leaf), Arc::clone(&leaf)])),
        );
        mid.add_expansion("none".into(), None);
        let mid = Arc::new(mid);
        let mut top = record(json!({"a": 1, "id": "a"}));
        top.add_expansion("one".into(), Some(Embedded::One(Arc::clone(&mid))));
        top.add_expansion("two".into(), Some(Embedded::Many(vec![mid])));
        assert_eq!(top.embedded(), 6);
        let leaf_json = json!({"id": "c", "name": "leaf"});
        let mid_json = json!({"expand": {"next": [leaf_json, leaf_json]}, "id": "b", "zz": 1});
        let text = serde_json::to_string(&top).unwrap();
        assert!(
            text.starts_with(r#"{"a":1,"expand":{"one":{"expand":"#),
            "{text}"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&text).unwrap(),
            json!({"a": 1, "expand": {"one": mid_json, "two": [mid_json]}, "id": "a"})
        );
        let located = record(json!({"id": "x", "loc": {"lat": 1.5, "lon": 2.5}}));
        assert_eq!(
            serde_json::to_string(&located).unwrap(),
            r#"{"id":"x","loc":{"lon":2.5,"lat":1.5}}"#,
            "PocketBase's geoPoint key order"
        );
        let bare = record(json!({"id": "x"}));
        assert_eq!(serde_json::to_string(&bare).unwrap(), r#"{"id":"x"}"#);
        let mut empty = record(json!({"id": "x"}));
        empty.add_expansion("a".into(), None);
        assert_eq!(
            serde_json::to_string(&empty).unwrap(),
            r#"{"expand":{},"id":"x"}"#
        );
    }
}

//! Change sets as NOTIFY payloads: compact JSON of ids (and of deleted records, which the
//! other nodes cannot read afterwards, when they fit), split into numbered parts that each
//! fit PostgreSQL's payload limit, and put back together on the receiving node.

use kulisse_core::changes::{Action, ChangeSet, RecordChange};
use kulisse_store::{MAX_NOTIFY_PAYLOAD, Row, StoreError};
use rand::distr::{Alphanumeric, SampleString};
use serde::{Deserialize, Serialize};

/// Room kept in each part for its header (node, numbers, flags).
const HEADER_ROOM: usize = 256;

/// One notification.
#[derive(Debug, Serialize, Deserialize)]
struct Part {
    /// The announcing node.
    n: String,
    /// Its announcement number.
    t: u64,
    /// This part's number, from 1.
    i: u32,
    /// How many parts the change set has.
    of: u32,
    /// Records: collection id, record id, action (`c`, `u`, `d`), and a deleted record as
    /// it was (when it fits a payload).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    r: Vec<Entry>,
    /// Truncated collection ids (first part only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    x: Vec<String>,
    /// Collection definitions changed (first part only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    s: bool,
    /// Parameters changed (first part only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    p: bool,
}

/// One record change on the wire.
#[derive(Debug, Serialize, Deserialize)]
struct Entry(
    String,
    String,
    char,
    #[serde(default, skip_serializing_if = "Option::is_none")] Option<Row>,
);

/// A random id for this node's lifetime.
pub(crate) fn node_id() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 16)
}

/// The payloads announcing `set`, each at most [`MAX_NOTIFY_PAYLOAD`] bytes.
///
/// # Errors
/// When a single record's ids do not fit a payload (ids are far shorter in practice).
pub(crate) fn encode(node: &str, number: u64, set: &ChangeSet) -> Result<Vec<String>, StoreError> {
    let budget = MAX_NOTIFY_PAYLOAD - HEADER_ROOM - node.len();
    let mut groups: Vec<Vec<Entry>> = vec![Vec::new()];
    let mut used = 0;
    for r in &set.records {
        // `["collection","id","c"],` with JSON escapes at their longest.
        let ids = 2 * (r.collection.len() + r.id.len()) + 16;
        // Only a delete's record travels: the others can be read by id.
        let row = r
            .row
            .as_ref()
            .filter(|_| r.action == Action::Delete)
            .and_then(|row| {
                serde_json::to_string(row)
                    .ok()
                    .map(|json| (row, json.len()))
            })
            .filter(|(_, len)| ids + len < budget);
        let len = ids + row.as_ref().map_or(0, |(_, len)| len + 1);
        let entry = Entry(
            r.collection.clone(),
            r.id.clone(),
            action_code(r.action),
            row.map(|(row, _)| row.clone()),
        );
        if len > budget {
            return Err(StoreError::Other(format!(
                "record id too long to announce: {}",
                r.id
            )));
        }
        if used + len > budget {
            groups.push(Vec::new());
            used = 0;
        }
        used += len;
        if let Some(group) = groups.last_mut() {
            group.push(entry);
        }
    }
    let of = u32::try_from(groups.len()).unwrap_or(u32::MAX);
    let mut first = true;
    let mut out = Vec::with_capacity(groups.len());
    for (i, r) in (1..).zip(groups) {
        let part = Part {
            n: node.to_owned(),
            t: number,
            i,
            of,
            r,
            x: if first {
                set.truncated.clone()
            } else {
                Vec::new()
            },
            s: first && set.collections,
            p: first && set.params,
        };
        first = false;
        let payload = serde_json::to_string(&part).map_err(|e| StoreError::Other(e.to_string()))?;
        if payload.len() > MAX_NOTIFY_PAYLOAD {
            return Err(StoreError::Other(
                "change set part too long to announce".into(),
            ));
        }
        out.push(payload);
    }
    Ok(out)
}

fn action_code(action: Action) -> char {
    match action {
        Action::Create => 'c',
        Action::Update => 'u',
        Action::Delete => 'd',
    }
}

/// Puts parts back together. One transaction's notifications arrive together and in
/// order, so at most one change set is in progress at a time.
pub(crate) struct Assembler {
    /// This node: its own announcements were published locally already.
    node: String,
    /// The change set in progress: its node, number, the next part expected, and what
    /// arrived so far.
    pending: Option<(String, u64, u32, ChangeSet)>,
}

impl Assembler {
    pub(crate) fn new(node: String) -> Assembler {
        Assembler {
            node,
            pending: None,
        }
    }

    /// Takes one payload; returns a change set once its last part arrived. Another node's
    /// own numbering out of step (a part missing) is an error: the caller resynchronises.
    ///
    /// # Errors
    /// An unreadable payload, or a part that does not continue the set in progress.
    pub(crate) fn push(&mut self, payload: &str) -> Result<Option<ChangeSet>, String> {
        let part: Part = serde_json::from_str(payload).map_err(|e| e.to_string())?;
        if part.n == self.node {
            return Ok(None);
        }
        let continues = matches!(&self.pending,
            Some((n, t, next, _)) if *n == part.n && *t == part.t && *next == part.i);
        let (node, number, _, mut set) = match self.pending.take() {
            Some(p) if continues => p,
            Some(_) => return Err("a change set arrived incomplete".into()),
            None if part.i == 1 => (part.n.clone(), part.t, 1, ChangeSet::default()),
            None => return Err("a change set arrived without its first part".into()),
        };
        set.truncated.extend(part.x);
        set.collections |= part.s;
        set.params |= part.p;
        for Entry(collection, id, code, row) in part.r {
            let action = match code {
                'c' => Action::Create,
                'u' => Action::Update,
                'd' => Action::Delete,
                other => return Err(format!("unknown action {other:?}")),
            };
            set.records.push(RecordChange {
                collection,
                id,
                action,
                row,
            });
        }
        if part.i >= part.of {
            return Ok(Some(set));
        }
        self.pending = Some((node, number, part.i + 1, set));
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn record(i: usize, action: Action) -> RecordChange {
        RecordChange {
            collection: "pbc_1234567890".into(),
            id: format!("r{i:014}"),
            action,
            row: None,
        }
    }

    #[test]
    fn a_large_change_set_is_split_into_payloads_that_fit_and_reassembled() {
        let set = ChangeSet {
            records: (0..1000)
                .map(|i| record(i, [Action::Create, Action::Update, Action::Delete][i % 3]))
                .collect(),
            truncated: vec!["pbc_truncated".into()],
            collections: true,
            params: false,
        };
        let payloads = encode("other", 7, &set).unwrap();
        assert!(payloads.len() > 1, "{} parts", payloads.len());
        assert!(payloads.iter().all(|p| p.len() <= MAX_NOTIFY_PAYLOAD));
        let mut assembler = Assembler::new("me".into());
        let (last, init) = payloads.split_last().unwrap();
        for p in init {
            assert_eq!(assembler.push(p).unwrap(), None);
        }
        assert_eq!(assembler.push(last).unwrap(), Some(set));
    }

    #[test]
    fn a_deleted_record_travels_with_its_delete_when_it_fits() {
        let row = |text: &str| -> Row {
            serde_json::from_value(serde_json::json!({"id": "r1", "text": text})).unwrap()
        };
        let mut small = record(1, Action::Delete);
        small.row = Some(row("short"));
        let mut huge = record(2, Action::Delete);
        huge.row = Some(row(&"x".repeat(9000)));
        let mut update = record(3, Action::Update);
        update.row = Some(row("read by id instead"));
        let set = ChangeSet {
            records: vec![small, huge, update],
            ..ChangeSet::default()
        };
        let payloads = encode("other", 1, &set).unwrap();
        assert!(payloads.iter().all(|p| p.len() <= MAX_NOTIFY_PAYLOAD));
        let mut assembler = Assembler::new("me".into());
        let mut got = None;
        for p in &payloads {
            got = assembler.push(p).unwrap();
        }
        let got = got.unwrap();
        assert_eq!(got.records[0].row, Some(row("short")));
        assert_eq!(got.records[1].row, None, "too big for a payload");
        assert_eq!(got.records[2].row, None, "updates travel as ids");
    }

    #[test]
    fn a_nodes_own_announcements_are_ignored() {
        let set = ChangeSet {
            params: true,
            ..ChangeSet::default()
        };
        let payloads = encode("me", 1, &set).unwrap();
        assert_eq!(
            Assembler::new("me".into()).push(&payloads[0]).unwrap(),
            None
        );
        assert_eq!(
            Assembler::new("you".into()).push(&payloads[0]).unwrap(),
            Some(set)
        );
    }

    #[test]
    fn a_missing_part_is_reported_not_papered_over() {
        let set = ChangeSet {
            records: (0..1000).map(|i| record(i, Action::Delete)).collect(),
            ..ChangeSet::default()
        };
        let a = encode("other", 1, &set).unwrap();
        let b = encode("other", 2, &set).unwrap();
        let mut assembler = Assembler::new("me".into());
        assert_eq!(assembler.push(&a[0]).unwrap(), None);
        assert!(assembler.push(&b[0]).is_err(), "set 1 never finished");
        assert!(Assembler::new("me".into()).push(&a[1]).is_err());
    }
}

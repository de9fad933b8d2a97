//! Which indexes could serve what an app asks: the fields list requests filter and sort
//! on (from the analytics), the fields the collections' list and view rules compare (every
//! list request runs its rule), and the relation fields back-relations in rules and
//! filters join through (`comments_via_post` joins `comments` on `post`).

use std::collections::HashSet;

use kulisse_schema::{Collection, CollectionKind};

use crate::collections::Snapshot;

/// Why an index is proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Reason {
    /// List requests filter on the fields.
    Filter,
    /// List requests sort by the field.
    Sort,
    /// A list or view rule compares the field.
    Rule,
    /// A back-relation (in a rule or a filter) joins on the relation field.
    BackRelation,
}

/// An index that could serve some requests.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Candidate {
    /// The collection to index.
    pub(super) collection: String,
    /// Its columns, in order.
    pub(super) columns: Vec<String>,
    pub(super) reason: Reason,
    /// The filter's shape, the sort, or the rule it serves.
    pub(super) source: String,
    /// The collection whose requests it serves (itself, or the one with the rule).
    pub(super) served: String,
}

/// The most columns proposed for one index.
const MAX_COLUMNS: usize = 3;

/// Candidates for the list requests of `collection` whose filter compares `fields` (each
/// `name sign`, as the analytics keep them) in the filter `shape`.
pub(super) fn for_filter(
    schema: &Snapshot,
    collection: &Collection,
    shape: &str,
    fields: &[String],
) -> Vec<Candidate> {
    let mut equal = Vec::new();
    let mut range = None;
    let mut out = Vec::new();
    for compared in fields {
        let Some((name, sign)) = compared.rsplit_once(' ') else {
            continue;
        };
        if let Some(back) = back_relation(schema, name, shape, collection, Reason::BackRelation) {
            out.push(back);
            continue;
        }
        if !is_column(collection, name) {
            continue;
        }
        match sign.trim_start_matches('?') {
            "=" if !equal.contains(&name.to_owned()) => equal.push(name.to_owned()),
            ">" | ">=" | "<" | "<=" => {
                range.get_or_insert_with(|| name.to_owned());
            }
            _ => {}
        }
    }
    let mut columns = equal;
    if let Some(range) = range
        && !columns.contains(&range)
    {
        columns.push(range);
    }
    columns.truncate(MAX_COLUMNS);
    if !columns.is_empty() {
        out.push(Candidate {
            collection: collection.name.clone(),
            columns,
            reason: Reason::Filter,
            source: shape.to_owned(),
            served: collection.name.clone(),
        });
    }
    out
}

/// The candidate for list requests of `collection` sorted by `sort` (its first key).
pub(super) fn for_sort(collection: &Collection, sort: &str) -> Option<Candidate> {
    let first = sort.split(',').next()?.trim();
    let name = first.trim_start_matches(['-', '+']);
    is_column(collection, name).then(|| Candidate {
        collection: collection.name.clone(),
        columns: vec![name.to_owned()],
        reason: Reason::Sort,
        source: sort.to_owned(),
        served: collection.name.clone(),
    })
}

/// Candidates for the list and view rules of every collection in `schema`.
pub(super) fn for_rules(schema: &Snapshot) -> Vec<Candidate> {
    let mut out = Vec::new();
    for c in schema.all() {
        if c.kind == CollectionKind::View {
            continue;
        }
        for rule in [&c.rules.list, &c.rules.view].into_iter().flatten() {
            let Ok(expr) = kulisse_filter::parse(rule) else {
                continue;
            };
            for cmp in expr.comparisons() {
                for (side, other) in [(&cmp.left, &cmp.right), (&cmp.right, &cmp.left)] {
                    let kulisse_filter::Operand::Ident { name, .. } = side else {
                        continue;
                    };
                    if let Some(back) = back_relation(schema, name, rule, c, Reason::BackRelation) {
                        out.push(back);
                    } else if is_column(c, name) && is_value(other) {
                        out.push(Candidate {
                            collection: c.name.clone(),
                            columns: vec![name.clone()],
                            reason: Reason::Rule,
                            source: rule.clone(),
                            served: c.name.clone(),
                        });
                    }
                }
            }
        }
    }
    out
}

/// The candidate of a back-relation path (`comments_via_post.author`): an index on the
/// relation field of the collection that points back.
fn back_relation(
    schema: &Snapshot,
    path: &str,
    source: &str,
    served: &Collection,
    reason: Reason,
) -> Option<Candidate> {
    let first = path.split('.').next()?;
    let (other, field) = first.split_once("_via_")?;
    let other = schema.get(other)?;
    other.field(field)?;
    Some(Candidate {
        collection: other.name.clone(),
        columns: vec![field.to_owned()],
        reason,
        source: source.to_owned(),
        served: served.name.clone(),
    })
}

/// Whether `name` is a column of `c` an index could lead with: a field of its own (not
/// its id, already the primary key).
fn is_column(c: &Collection, name: &str) -> bool {
    name != "id" && !name.contains(['.', ':']) && c.field(name).is_some()
}

/// Whether a rule compares against something known before the query runs: a value, the
/// request (`@request.auth.id`), or a constant such as `null`.
fn is_value(operand: &kulisse_filter::Operand) -> bool {
    match operand {
        kulisse_filter::Operand::Ident { name, .. } => {
            name.starts_with("@request.") || matches!(name.as_str(), "null" | "true" | "false")
        }
        kulisse_filter::Operand::Number { .. } | kulisse_filter::Operand::Text { .. } => true,
        kulisse_filter::Operand::Call { .. } => false,
    }
}

/// `candidates` without those an index of their collection already serves (one leading
/// with the same columns), one per collection and columns (the first reason kept).
pub(super) fn unserved(schema: &Snapshot, candidates: Vec<Candidate>) -> Vec<Candidate> {
    let mut seen: HashSet<(String, Vec<String>)> = HashSet::new();
    candidates
        .into_iter()
        .filter(|c| {
            let Some(collection) = schema.get(&c.collection) else {
                return false;
            };
            let served = collection.index_defs().iter().any(|d| {
                d.predicate.is_empty()
                    && d.columns.len() >= c.columns.len()
                    && d.columns
                        .iter()
                        .zip(&c.columns)
                        .all(|(a, b)| a.name.eq_ignore_ascii_case(b))
            });
            !served && seen.insert((c.collection.to_lowercase(), c.columns.clone()))
        })
        .collect()
}

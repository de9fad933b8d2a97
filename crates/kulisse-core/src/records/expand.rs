//! `expand` (spec §2.4): related records embedded under `expand`, each one passing its own
//! collection's view rule for the requester.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use kulisse_schema::{Collection, FieldKind, value::as_list};
use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, Select, Term};

use super::record::{Embedded, Record};
use super::rules::Action;
use super::service::RecordsService;
use crate::error::CoreError;
use crate::query::{QueryError, RequestInfo};

/// Deepest nesting PocketBase expands.
const MAX_DEPTH: usize = 6;
/// Most back-referencing records expanded per record.
const MAX_BACK_RELATIONS: usize = 1000;

/// A parsed `expand` list as a tree of path segments.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct ExpandTree {
    children: BTreeMap<String, ExpandTree>,
    /// A requested path ends here (`a` in `a,a.b`).
    leaf: bool,
}

impl ExpandTree {
    /// Parses `a,a.b, c` (spaces stripped, duplicates and prefixes merged).
    pub fn parse(raw: &str) -> ExpandTree {
        let mut tree = ExpandTree::default();
        for path in raw.split(',') {
            let path: String = path.chars().filter(|c| !c.is_whitespace()).collect();
            if path.is_empty() {
                continue;
            }
            let mut node = &mut tree;
            for seg in path.split('.').take(MAX_DEPTH) {
                node = node.children.entry(seg.to_owned()).or_default();
            }
            node.leaf = true;
        }
        tree
    }

    /// Whether nothing was requested.
    pub fn is_empty(&self) -> bool {
        self.children.is_empty()
    }
}

/// Most records one answer may embed under `expand`, counting every appearance (a record
/// referred to from two places is written twice).
///
/// PocketBase has no such limit (only the depth of 6): it answers a page of 300 records,
/// each linked to 5 others, expanded 6 levels deep, with 5.9 million embedded records,
/// 1.2 GB of JSON. Sharing and streaming keep our memory bounded for such answers, but
/// writing them still costs seconds of CPU and the bandwidth, all for one guest request.
/// A million is far above real use (it takes a full page of 1,000 records with ten
/// expansions of a hundred records each) and is still an answer of some 200 MB for small
/// records. A bigger one gets PocketBase's generic 400 rather than a silently cut
/// expansion, which a client could not tell from missing relations.
pub const MAX_EMBEDDED: u64 = 1_000_000;

/// Most related records one answer's expansion may read, each query of it included (its
/// `LIMIT`, a constant so the statement stays the same). Unlike [`MAX_EMBEDDED`] this
/// bounds memory: these are the records held while the answer is written (in the order
/// of a kilobyte each for small records). Sharing makes them far fewer than the embedded
/// records (at most 1,500 for the 976,250 embedded by a five-level self expand of 250
/// records); a page of 1,000 posts with 100 comments each reads 100,000. Past it, the same 400: such an answer embeds (nearly)
/// as many records as it reads, so most of these would be over [`MAX_EMBEDDED`] anyway,
/// and it stops an expand listing many branches (`a.b.c,a.c.b,…`), each read anew, or a
/// back-relation to a huge collection before they are read.
pub const MAX_READ: u64 = 100_000;

/// What an answer may still embed ([`MAX_EMBEDDED`]) and read ([`MAX_READ`]). One per
/// response: a batch shares one across its sub-responses.
#[derive(Debug, Clone)]
pub struct ExpandBudget {
    embed_left: u64,
    read_left: u64,
}

impl ExpandBudget {
    /// The budget of one response.
    pub fn per_response() -> Self {
        Self {
            embed_left: MAX_EMBEDDED,
            read_left: MAX_READ,
        }
    }

    fn embed(&mut self, records: &[Record]) -> Result<(), CoreError> {
        let used = records
            .iter()
            .map(Record::embedded)
            .fold(0, u64::saturating_add);
        self.embed_left = self
            .embed_left
            .checked_sub(used)
            .ok_or(QueryError::ExpandTooLarge { max: MAX_EMBEDDED })?;
        Ok(())
    }

    fn read(&mut self, rows: usize) -> Result<(), CoreError> {
        self.read_left = u64::try_from(rows)
            .ok()
            .and_then(|rows| self.read_left.checked_sub(rows))
            .ok_or(QueryError::ExpandTooLarge { max: MAX_READ })?;
        Ok(())
    }
}

impl RecordsService {
    /// Expands `tree` on output `rows` of `c` in place, within one response's budget.
    ///
    /// # Errors
    /// Storage failures, and [`QueryError::ExpandTooLarge`]; invalid paths are skipped
    /// silently, as PocketBase does.
    pub async fn expand(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        rows: &mut [Record],
        tree: &ExpandTree,
    ) -> Result<(), CoreError> {
        self.expand_within(req, c, rows, tree, &mut ExpandBudget::per_response())
            .await
    }

    /// [`Self::expand`] spending from `budget`, which several calls for one response share.
    ///
    /// # Errors
    /// As [`Self::expand`].
    pub async fn expand_within(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        rows: &mut [Record],
        tree: &ExpandTree,
        budget: &mut ExpandBudget,
    ) -> Result<(), CoreError> {
        if tree.is_empty() || rows.is_empty() {
            return Ok(());
        }
        let mut req = req.clone();
        req.context = "expand";
        Box::pin(self.expand_level(&req, c, rows, tree, budget)).await?;
        budget.embed(rows)
    }

    /// Expands one level; returns whether any requested path was valid here.
    async fn expand_level(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        rows: &mut [Record],
        tree: &ExpandTree,
        budget: &mut ExpandBudget,
    ) -> Result<bool, CoreError> {
        let mut found_by_seg = Vec::new();
        for (seg, node) in &tree.children {
            if let Some(found) = self.expand_segment(req, c, rows, seg, node, budget).await? {
                found_by_seg.push((seg, found));
            }
        }
        let any_valid = !found_by_seg.is_empty();
        for (seg, found) in found_by_seg {
            for (row, value) in rows.iter_mut().zip(found) {
                row.add_expansion(seg.clone(), value);
            }
        }
        Ok(any_valid)
    }

    /// One segment for every row, or `None` when the path is invalid: an unknown segment, a
    /// target whose view rule is `null` for the requester, or (PB compat) nested paths of
    /// which none is valid once there are related records to check them on.
    async fn expand_segment(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        rows: &[Record],
        seg: &str,
        node: &ExpandTree,
        budget: &mut ExpandBudget,
    ) -> Result<Option<Vec<Option<Embedded>>>, CoreError> {
        if let Some(field) = c.field(seg)
            && let FieldKind::Relation { collection_id, .. } = &field.kind
        {
            let Some(target) = self.registry.get(collection_id) else {
                return Ok(None);
            };
            let per_row: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.fields.get(seg).map(as_list).unwrap_or_default())
                .collect();
            let mut ids: Vec<String> = per_row.iter().flatten().cloned().collect();
            ids.sort();
            ids.dedup();
            let Some(related) = self
                .visible_related(req, &target, id_in(&ids), node, budget)
                .await?
            else {
                return Ok(None);
            };
            let by_id: HashMap<&str, &Arc<Record>> =
                related.iter().filter_map(|r| Some((r.id()?, r))).collect();
            let multiple = field.kind.is_multiple();
            let out = per_row
                .iter()
                .map(|ids| {
                    let found: Vec<Arc<Record>> = ids
                        .iter()
                        .filter_map(|id| by_id.get(id.as_str()))
                        .map(|r| Arc::clone(r))
                        .collect();
                    embedded(found, !multiple)
                })
                .collect();
            return Ok(Some(out));
        }
        // `comments_via_post`, or the legacy `comments(post)` (whose key stays as written).
        let legacy = seg.strip_suffix(')').and_then(|s| s.split_once('('));
        let Some((coll, fname)) = seg.split_once("_via_").or(legacy) else {
            return Ok(None);
        };
        let Some(target) = self.registry.get(coll) else {
            return Ok(None);
        };
        let Some(field) = target.field(fname) else {
            return Ok(None);
        };
        let FieldKind::Relation { collection_id, .. } = &field.kind else {
            return Ok(None);
        };
        if *collection_id != c.id {
            return Ok(None);
        }
        let ids: Vec<String> = rows
            .iter()
            .filter_map(|r| r.id().map(str::to_owned))
            .collect();
        let refers = if field.kind.is_multiple() {
            let joins = vec![Join {
                alias: "bk".into(),
                source: JoinSource::Elements {
                    array: Term::Column(fname.to_owned()),
                },
            }];
            Cond::Exists {
                joins,
                cond: Box::new(any_eq(
                    Term::Field {
                        alias: "bk".into(),
                        column: "value".into(),
                    },
                    &ids,
                )),
            }
        } else {
            any_eq(Term::Column(fname.to_owned()), &ids)
        };
        let Some(related) = self
            .visible_related(req, &target, refers, node, budget)
            .await?
        else {
            return Ok(None);
        };
        // Who refers to whom, in the order the related records came: one pass instead of
        // a scan of every related record per row.
        let mut referrers: HashMap<String, Vec<Arc<Record>>> = HashMap::new();
        for r in &related {
            let mut targets = r.fields.get(fname).map(as_list).unwrap_or_default();
            targets.sort();
            targets.dedup();
            for id in targets {
                let list = referrers.entry(id).or_default();
                if list.len() < MAX_BACK_RELATIONS {
                    list.push(Arc::clone(r));
                }
            }
        }
        // PB compat: a back-relation through a field with a unique index is one record.
        let single = target.has_unique_index_on(fname);
        let out = rows
            .iter()
            .map(|r| {
                let found = r
                    .id()
                    .and_then(|id| referrers.get(id))
                    .cloned()
                    .unwrap_or_default();
                embedded(found, single)
            })
            .collect();
        Ok(Some(out))
    }

    /// Related records matching `cond` that the requester may view, shaped for output and
    /// expanded further, each built once and shared by every record that refers to it;
    /// `None` when the path is invalid (see [`Self::expand_segment`]).
    async fn visible_related(
        &self,
        req: &RequestInfo,
        target: &Arc<Collection>,
        cond: Cond,
        node: &ExpandTree,
        budget: &mut ExpandBudget,
    ) -> Result<Option<Vec<Arc<Record>>>, CoreError> {
        let rule = match self.rule_cond(target, Action::View, req) {
            Ok(rule) => rule,
            Err(CoreError::SuperusersOnly) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut q = Select {
            limit: Some(MAX_READ + 1),
            ..Select::all(Arc::clone(target))
        }
        .and(cond);
        if let Some(rule) = rule {
            q = q.and(rule);
        }
        let rows = self.store.select(q).await?.rows;
        budget.read(rows.len())?;
        let mut out: Vec<Record> = rows
            .into_iter()
            .map(|r| Record::from(super::visible(target, r, &req.auth)))
            .collect();
        if !node.is_empty() && !out.is_empty() {
            let children_valid =
                Box::pin(self.expand_level(req, target, &mut out, node, budget)).await?;
            if !children_valid && !node.leaf {
                return Ok(None);
            }
        }
        Ok(Some(out.into_iter().map(Arc::new).collect()))
    }
}

/// The value of one expand key: `None` when nothing was found (the key is left out).
fn embedded(mut found: Vec<Arc<Record>>, single: bool) -> Option<Embedded> {
    if found.is_empty() {
        None
    } else if single {
        Some(Embedded::One(found.swap_remove(0)))
    } else {
        Some(Embedded::Many(found))
    }
}

fn any_eq(term: Term, ids: &[String]) -> Cond {
    Cond::Any(
        ids.iter()
            .map(|id| Cond::Compare {
                left: term.clone(),
                op: CmpOp::Eq,
                right: Term::Value(Literal::Text(id.clone())),
            })
            .collect(),
    )
}

fn id_in(ids: &[String]) -> Cond {
    any_eq(Term::Column("id".into()), ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_response_budget_is_spent_across_calls() {
        let mut budget = ExpandBudget::per_response();
        let limit = usize::try_from(MAX_READ).unwrap();
        assert!(budget.read(limit - 1).is_ok());
        assert!(budget.read(1).is_ok());
        assert!(matches!(
            budget.read(1),
            Err(CoreError::Query(QueryError::ExpandTooLarge {
                max: MAX_READ
            }))
        ));
        let many = |n: u64| {
            let mut r = Record::default();
            let leaf = Arc::new(Record::default());
            let list = (0..n).map(|_| Arc::clone(&leaf)).collect();
            r.add_expansion("a".into(), Some(Embedded::Many(list)));
            r
        };
        assert!(budget.embed(&[many(MAX_EMBEDDED - 1), many(1)]).is_ok());
        assert!(matches!(
            budget.embed(&[many(1)]),
            Err(CoreError::Query(QueryError::ExpandTooLarge {
                max: MAX_EMBEDDED
            }))
        ));
    }

    #[test]
    fn expand_lists_merge_into_a_tree() {
        let t =
            ExpandTree::parse(" author , comments_via_post.author,author.team,,a.b.c.d.e.f.g.h");
        assert_eq!(t.children.len(), 3);
        assert!(t.children["author"].leaf && t.children["author"].children.contains_key("team"));
        let mut depth = 0;
        let mut node = &t.children["a"];
        while let Some((_, next)) = node.children.iter().next() {
            depth += 1;
            node = next;
        }
        assert_eq!(depth, MAX_DEPTH - 1);
    }
}

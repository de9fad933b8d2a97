//! `expand` (spec §2.4): related records embedded under `expand`, each one passing its own
//! collection's view rule for the requester.

use std::collections::BTreeMap;
use std::sync::Arc;

use kulisse_schema::{Collection, FieldKind, value::as_list};
use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, Row, Select, Term};
use serde_json::{Map, Value};

use super::service::{Action, RecordsService};
use crate::error::CoreError;
use crate::query::RequestInfo;

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

impl RecordsService {
    /// Expands `tree` on output `rows` of `c` in place.
    ///
    /// # Errors
    /// Storage failures; invalid paths are skipped silently, as PocketBase does.
    pub async fn expand(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        rows: &mut [Row],
        tree: &ExpandTree,
    ) -> Result<(), CoreError> {
        if tree.is_empty() || rows.is_empty() {
            return Ok(());
        }
        let mut req = req.clone();
        req.context = "expand";
        Box::pin(self.expand_level(&req, c, rows, tree))
            .await
            .map(|_| ())
    }

    /// Expands one level; returns whether any requested path was valid here.
    async fn expand_level(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        rows: &mut [Row],
        tree: &ExpandTree,
    ) -> Result<bool, CoreError> {
        let mut any_valid = false;
        let mut expansions: Vec<Map<String, Value>> = vec![Map::new(); rows.len()];
        for (seg, node) in &tree.children {
            let Some(found) = self.expand_segment(req, c, rows, seg, node).await? else {
                continue;
            };
            any_valid = true;
            for (i, value) in found.into_iter().enumerate() {
                if let Some(v) = value {
                    expansions[i].insert(seg.clone(), v);
                }
            }
        }
        if any_valid {
            for (row, expansion) in rows.iter_mut().zip(expansions) {
                match row.get_mut("expand") {
                    Some(Value::Object(existing)) => existing.extend(expansion),
                    _ => {
                        row.insert("expand".into(), Value::Object(expansion));
                    }
                }
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
        rows: &[Row],
        seg: &str,
        node: &ExpandTree,
    ) -> Result<Option<Vec<Option<Value>>>, CoreError> {
        if let Some(field) = c.field(seg)
            && let FieldKind::Relation { collection_id, .. } = &field.kind
        {
            let Some(target) = self.registry.get(collection_id) else {
                return Ok(None);
            };
            let per_row: Vec<Vec<String>> = rows
                .iter()
                .map(|r| r.get(seg).map(as_list).unwrap_or_default())
                .collect();
            let mut ids: Vec<String> = per_row.iter().flatten().cloned().collect();
            ids.sort();
            ids.dedup();
            let Some(related) = self
                .visible_related(req, &target, id_in(&ids), node)
                .await?
            else {
                return Ok(None);
            };
            let by_id: BTreeMap<&str, &Row> = related
                .iter()
                .filter_map(|r| Some((r.get("id")?.as_str()?, r)))
                .collect();
            let multiple = field.kind.is_multiple();
            let out = per_row
                .iter()
                .map(|ids| {
                    let found: Vec<Value> = ids
                        .iter()
                        .filter_map(|id| by_id.get(id.as_str()))
                        .map(|r| Value::Object((*r).clone()))
                        .collect();
                    match (multiple, found.is_empty()) {
                        (_, true) => None,
                        (false, false) => found.into_iter().next(),
                        (true, false) => Some(Value::Array(found)),
                    }
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
            .filter_map(|r| r.get("id")?.as_str().map(str::to_owned))
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
        let Some(related) = self.visible_related(req, &target, refers, node).await? else {
            return Ok(None);
        };
        // PB compat: a back-relation through a field with a unique index is one record.
        let single = target.has_unique_index_on(fname);
        let out = ids
            .iter()
            .map(|id| {
                let found: Vec<Value> = related
                    .iter()
                    .filter(|r| {
                        r.get(fname)
                            .map(as_list)
                            .unwrap_or_default()
                            .iter()
                            .any(|v| v == id)
                    })
                    .take(MAX_BACK_RELATIONS)
                    .map(|r| Value::Object(r.clone()))
                    .collect();
                match (single, found.is_empty()) {
                    (_, true) => None,
                    (true, false) => found.into_iter().next(),
                    (false, false) => Some(Value::Array(found)),
                }
            })
            .collect();
        Ok(Some(out))
    }

    /// Related records matching `cond` that the requester may view, shaped for output and
    /// expanded further; `None` when the path is invalid (see [`Self::expand_segment`]).
    async fn visible_related(
        &self,
        req: &RequestInfo,
        target: &Arc<Collection>,
        cond: Cond,
        node: &ExpandTree,
    ) -> Result<Option<Vec<Row>>, CoreError> {
        let rule = match self.rule_cond(target, Action::View, req) {
            Ok(rule) => rule,
            Err(CoreError::SuperusersOnly) => return Ok(None),
            Err(e) => return Err(e),
        };
        let mut q = Select::all(Arc::clone(target)).and(cond);
        if let Some(rule) = rule {
            q = q.and(rule);
        }
        let rows = self.store.select(q).await?.rows;
        let mut out: Vec<Row> = rows
            .into_iter()
            .map(|r| super::visible(target, r, &req.auth))
            .collect();
        if !node.is_empty() && !out.is_empty() {
            let children_valid = Box::pin(self.expand_level(req, target, &mut out, node)).await?;
            if !children_valid && !node.leaf {
                return Ok(None);
            }
        }
        Ok(Some(out))
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

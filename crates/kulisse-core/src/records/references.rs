//! What deleting a record does to the records that point at it, as PocketBase does:
//! cascade, unlink, or refuse while a required relation still points at it.

use std::sync::Arc;

use kulisse_schema::collection::{AUTH_ORIGINS, EXTERNAL_AUTHS, MFAS, OTPS};
use kulisse_schema::{Collection, CollectionKind, Field, FieldKind};
use kulisse_store::{
    CmpOp, Cond, Join, JoinSource, Literal, Row, Select, StoreError, StoreTx, Term,
};

use super::error::RecordsError;
use crate::error::CoreError;

/// Cascading deletes deeper than this are refused rather than recursing without end.
const MAX_CASCADE_DEPTH: usize = 32;

pub(crate) fn delete_with_references(
    tx: &mut dyn StoreTx,
    all: &[Arc<Collection>],
    c: &Arc<Collection>,
    id: &str,
    depth: usize,
) -> Result<(), CoreError> {
    if depth > MAX_CASCADE_DEPTH {
        return Err(RecordsError::CascadeTooDeep.into());
    }
    if c.is_superusers() {
        // Read with row locks: on PostgreSQL two concurrent deletes of the last two
        // superusers then run one after the other, and the second sees one left.
        let q = Select {
            for_update: true,
            limit: Some(2),
            ..Select::all(Arc::clone(c))
        };
        if tx.select(&q)?.len() < 2 {
            return Err(RecordsError::OnlySuperuser.into());
        }
    }
    for other in all.iter().filter(|o| o.kind != CollectionKind::View) {
        for f in &other.fields {
            let FieldKind::Relation {
                collection_id,
                cascade_delete,
                ..
            } = &f.kind
            else {
                continue;
            };
            if *collection_id != c.id {
                continue;
            }
            let refers = refers_to(f, id);
            let rows = tx.select(&Select::all(Arc::clone(other)).and(refers))?;
            for row in rows {
                let Some(ref_id) = row.get("id").and_then(|v| v.as_str()) else {
                    continue;
                };
                if other.id == c.id && ref_id == id {
                    continue;
                }
                if *cascade_delete {
                    delete_with_references(tx, all, other, ref_id, depth + 1)?;
                } else if f.required {
                    return Err(RecordsError::RequiredReference.into());
                } else {
                    let remaining: Vec<String> = kulisse_schema::value::as_list(&row[&f.name])
                        .into_iter()
                        .filter(|v| v != id)
                        .collect();
                    let mut changes = Row::new();
                    changes.insert(
                        f.name.clone(),
                        kulisse_schema::value::normalize(&f.kind, &remaining.into()),
                    );
                    tx.update(other, ref_id, &changes)?;
                }
            }
        }
    }
    if c.is_auth() {
        forget_auth_state(tx, all, c, id)?;
    }
    match tx.delete(c, id) {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Deletes what the auth system collections keep about auth record `id` of `c` (its
/// OAuth2 links, login origins, MFA sessions and one-time passwords), as PocketBase does:
/// a link left behind would sign its provider's user into nothing.
fn forget_auth_state(
    tx: &mut dyn StoreTx,
    all: &[Arc<Collection>],
    c: &Collection,
    id: &str,
) -> Result<(), StoreError> {
    let eq = |column: &str, value: &str| Cond::Compare {
        left: Term::Column(column.into()),
        op: CmpOp::Eq,
        right: Term::Value(Literal::Text(value.into())),
    };
    let kept = all
        .iter()
        .filter(|s| [EXTERNAL_AUTHS, AUTH_ORIGINS, MFAS, OTPS].contains(&s.name.as_str()));
    for system in kept {
        let q = Select::all(Arc::clone(system))
            .and(eq("collectionRef", &c.id))
            .and(eq("recordRef", id));
        for row in tx.select(&q)? {
            if let Some(row_id) = row.get("id").and_then(|v| v.as_str()) {
                tx.delete(system, row_id)?;
            }
        }
    }
    Ok(())
}

/// The condition "relation field `f` holds `id`" (one of its ids, for multiple relations).
pub(crate) fn refers_to(f: &Field, id: &str) -> Cond {
    if f.kind.is_multiple() {
        Cond::Exists {
            joins: vec![Join {
                alias: "ref".into(),
                source: JoinSource::Elements {
                    array: Term::Column(f.name.clone()),
                },
            }],
            cond: Box::new(Cond::Compare {
                left: Term::Field {
                    alias: "ref".into(),
                    column: "value".into(),
                },
                op: CmpOp::Eq,
                right: Term::Value(Literal::Text(id.into())),
            }),
        }
    } else {
        Cond::Compare {
            left: Term::Column(f.name.clone()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(id.into())),
        }
    }
}

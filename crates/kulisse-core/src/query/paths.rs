//! Field paths: own columns, JSON paths, and hops through relations, back-relations and
//! `@collection` that become joins (spec §3.4–§3.7, §3.9).

use std::sync::Arc;

use kulisse_schema::{Collection, FieldKind};
use kulisse_store::{CmpOp, Cond, Join, JoinSource, Literal, Term};

use super::error::FilterError;
use super::filter::{Resolver, compile_at};
use crate::auth::Auth;

/// Most relation hops in one path (PocketBase's limit).
const MAX_HOPS: usize = 6;

/// Where a path starts: the resolver, and the alias of the current row when it is not the
/// queried table itself (related list rules).
pub(crate) struct PathCtx<'r, 'a> {
    pub r: &'r Resolver<'a>,
    pub base: Option<&'r str>,
    pub depth: usize,
}

impl PathCtx<'_, '_> {
    /// A column of the current row.
    pub(crate) fn column(&self, name: &str) -> Term {
        column_of(self.base, name)
    }
}

fn column_of(alias: Option<&str>, name: &str) -> Term {
    match alias {
        None => Term::Column(name.to_owned()),
        Some(a) => Term::Field {
            alias: a.to_owned(),
            column: name.to_owned(),
        },
    }
}

/// A resolved operand and the joins it needs.
pub(crate) struct Resolved {
    pub term: Term,
    pub joins: Vec<Join>,
    /// Whether the path can yield several values per row.
    pub fan_out: bool,
    /// List rules of collections a client filter reached, over their join aliases.
    pub rules: Vec<Cond>,
    /// Conditions the value's own row must meet for the requester to see it (an email its
    /// owner made visible): ANDed with the comparison itself, so they hold for the same
    /// joined row, at whatever hop the value was reached.
    pub guards: Vec<Cond>,
}

impl Resolved {
    pub(crate) fn value(l: Literal) -> Self {
        Self::term(Term::Value(l))
    }

    pub(crate) fn term(term: Term) -> Self {
        Resolved {
            term,
            joins: vec![],
            fan_out: false,
            rules: vec![],
            guards: vec![],
        }
    }
}

/// Walk state: the collection reached so far and where its row is.
struct Walk<'c> {
    collection: &'c Collection,
    alias: Option<String>,
    alias_path: String,
    joins: Vec<Join>,
    fan_out: bool,
    hops: usize,
    rules: Vec<Cond>,
}

/// A field a client may not name reads the same as one that does not exist.
fn unknown_field(name: &str, ctx: &PathCtx<'_, '_>) -> FilterError {
    let what = if ctx.r.allow_hidden {
        "unknown"
    } else {
        "unknown or hidden"
    };
    FilterError::new(format!("{what} field \"{name}\""))
}

fn unknown_collection(name: &str) -> FilterError {
    FilterError::new(format!("unknown collection \"{name}\""))
}

/// Resolves `a.b.c[:modifier]` from the queried collection.
pub(crate) fn resolve_path<'a>(
    name: &str,
    ctx: &PathCtx<'_, 'a>,
    prefix: &str,
) -> Result<Resolved, FilterError> {
    let walk = Walk {
        collection: ctx.r.collection,
        alias: ctx.base.map(str::to_owned),
        alias_path: format!("{prefix}__{}", ctx.base.unwrap_or("r")),
        joins: vec![],
        fan_out: false,
        hops: 0,
        rules: vec![],
    };
    walk_path(name, walk, ctx)
}

/// `@request.auth.<relation>.<path>` joins the requester's record; plain fields are
/// literals (`None` lets the caller read them from the request).
pub(crate) fn resolve_auth_path<'a>(
    rest: &str,
    ctx: &PathCtx<'_, 'a>,
    prefix: &str,
) -> Result<Option<Resolved>, FilterError> {
    let Some((head, _)) = rest.split_once('.') else {
        return Ok(None);
    };
    let Auth::Record { collection, record } = &ctx.r.request.auth else {
        return Ok(Some(Resolved::value(Literal::Null)));
    };
    if !collection
        .field(head)
        .is_some_and(|f| matches!(f.kind, FieldKind::Relation { .. }))
    {
        return Ok(None);
    }
    let alias = format!("{prefix}__auth");
    let id = record
        .get("id")
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned();
    let join = Join {
        alias: alias.clone(),
        source: JoinSource::Record {
            collection: Arc::clone(collection),
            key: Term::Value(Literal::Text(id)),
        },
    };
    let walk = Walk {
        collection,
        alias: Some(alias.clone()),
        alias_path: alias,
        joins: vec![join],
        fan_out: false,
        hops: 0,
        rules: vec![],
    };
    walk_path(
        rest,
        walk,
        &PathCtx {
            r: &rules_mode(ctx.r),
            base: ctx.base,
            depth: ctx.depth,
        },
    )
    .map(Some)
}

/// `@collection.<name>[:alias].<path>`: every row of another collection (fan-out).
pub(crate) fn resolve_collection_path<'a>(
    rest: &str,
    ctx: &PathCtx<'_, 'a>,
    prefix: &str,
) -> Result<Resolved, FilterError> {
    let (head, path) = rest
        .split_once('.')
        .ok_or_else(|| FilterError::new("@collection needs a field after the collection name"))?;
    let (name, alias_name) = head.split_once(':').unwrap_or((head, ""));
    let target = ctx
        .r
        .schema
        .get(name)
        .ok_or_else(|| unknown_collection(name))?;
    let alias = format!("{prefix}__c__{}__{alias_name}", target.name);
    let rules = related_rule(target, &alias, ctx)?.into_iter().collect();
    let join = Join {
        alias: alias.clone(),
        source: JoinSource::Every {
            collection: Arc::clone(target),
        },
    };
    let walk = Walk {
        collection: target,
        alias: Some(alias.clone()),
        alias_path: alias,
        joins: vec![join],
        fan_out: true,
        hops: 0,
        rules,
    };
    walk_path(path, walk, ctx)
}

/// The same resolver with rule privileges (traversal of the requester's own record).
fn rules_mode<'a>(r: &Resolver<'a>) -> Resolver<'a> {
    Resolver {
        collection: r.collection,
        schema: r.schema,
        request: r.request,
        allow_hidden: true,
    }
}

fn walk_path<'a>(
    name: &str,
    mut w: Walk<'a>,
    ctx: &PathCtx<'_, 'a>,
) -> Result<Resolved, FilterError> {
    let (path, modifier) = match name.rsplit_once(':') {
        Some((p, m)) if !m.contains('.') => (p, Some(m)),
        _ => (name, None),
    };
    let segments: Vec<&str> = path.split('.').collect();
    let mut i = 0;
    loop {
        let seg = segments[i];
        let last = i + 1 == segments.len();
        let current: &'a Collection = w.collection;
        if let Some(field) = current.field(seg) {
            let secret = matches!(field.kind, FieldKind::Password { .. })
                || (current.is_auth() && field.name == "tokenKey");
            if (field.hidden || secret) && !ctx.r.allow_hidden {
                return Err(unknown_field(seg, ctx));
            }
            let col = column_of(w.alias.as_deref(), seg);
            if last {
                let guard = email_guard(current, seg, &w, ctx);
                let mut resolved = leaf(col, &field.kind, modifier, w, seg)?;
                resolved.guards.extend(guard);
                return Ok(resolved);
            }
            match &field.kind {
                FieldKind::Json { .. } | FieldKind::GeoPoint => {
                    let path = segments[i + 1..].iter().map(|s| (*s).to_owned()).collect();
                    let term = Term::JsonPath {
                        source: Box::new(col),
                        path,
                    };
                    return with_modifier(term, modifier, w);
                }
                FieldKind::Relation { collection_id, .. } => {
                    let target = ctx.r.schema.get(collection_id).ok_or_else(|| {
                        FilterError::new(format!(
                            "relation \"{seg}\" points to a missing collection"
                        ))
                    })?;
                    let multiple = field.kind.is_multiple();
                    // PB compat: `rel.id` on a single relation is the column itself.
                    if !multiple && i + 2 == segments.len() && segments[i + 1] == "id" {
                        return with_modifier(col, modifier, w);
                    }
                    w = hop(w, seg)?;
                    let alias = w.alias_path.clone();
                    let key = if multiple {
                        let elements = format!("{alias}__el");
                        w.joins.push(Join {
                            alias: elements.clone(),
                            source: JoinSource::Elements { array: col },
                        });
                        w.fan_out = true;
                        Term::Field {
                            alias: elements,
                            column: "value".into(),
                        }
                    } else {
                        col
                    };
                    w.rules.extend(related_rule(target, &alias, ctx)?);
                    w.joins.push(Join {
                        alias: alias.clone(),
                        source: JoinSource::Record {
                            collection: Arc::clone(target),
                            key,
                        },
                    });
                    w.alias = Some(alias);
                    w.collection = target;
                }
                _ => {
                    return Err(FilterError::new(format!(
                        "field \"{seg}\" is not a relation"
                    )));
                }
            }
        } else if let Some((coll, fname)) = seg.split_once("_via_") {
            let target = ctx
                .r
                .schema
                .get(coll)
                .ok_or_else(|| unknown_collection(coll))?;
            let not_back_relation = || {
                FilterError::new(format!(
                    "\"{seg}\": \"{fname}\" is not a relation of \"{coll}\" to \"{}\"",
                    current.name
                ))
            };
            let rel = target.field(fname).ok_or_else(not_back_relation)?;
            let FieldKind::Relation { collection_id, .. } = &rel.kind else {
                return Err(not_back_relation());
            };
            if *collection_id != current.id || (rel.hidden && !ctx.r.allow_hidden) {
                return Err(not_back_relation());
            }
            let key = column_of(w.alias.as_deref(), "id");
            w = hop(w, seg)?;
            let alias = w.alias_path.clone();
            w.rules.extend(related_rule(target, &alias, ctx)?);
            w.joins.push(Join {
                alias: alias.clone(),
                source: JoinSource::Referencing {
                    collection: Arc::clone(target),
                    field: fname.to_owned(),
                    multiple: rel.kind.is_multiple(),
                    key,
                },
            });
            w.fan_out = true;
            w.alias = Some(alias);
            w.collection = target;
            if last {
                return Err(FilterError::new(format!(
                    "\"{seg}\" needs a field after it"
                )));
            }
        } else {
            return Err(unknown_field(seg, ctx));
        }
        i += 1;
    }
}

/// PB compat: a client only matches emails their owners made visible (§3.11), the owner
/// included, on the queried collection and at every hop through relations and
/// back-relations alike.
fn email_guard(
    current: &Collection,
    seg: &str,
    w: &Walk<'_>,
    ctx: &PathCtx<'_, '_>,
) -> Option<Cond> {
    (!ctx.r.allow_hidden && current.is_auth() && seg == "email").then(|| Cond::Compare {
        left: column_of(w.alias.as_deref(), "emailVisibility"),
        op: CmpOp::Eq,
        right: Term::Value(Literal::Bool(true)),
    })
}

fn hop<'c>(mut w: Walk<'c>, seg: &str) -> Result<Walk<'c>, FilterError> {
    w.hops += 1;
    if w.hops > MAX_HOPS {
        return Err(FilterError::new(format!(
            "too many relation hops (at most {MAX_HOPS})"
        )));
    }
    w.alias_path = format!("{}__{seg}", w.alias_path);
    Ok(w)
}

/// The last segment: a column with an optional modifier.
fn leaf(
    col: Term,
    kind: &FieldKind,
    modifier: Option<&str>,
    mut w: Walk<'_>,
    seg: &str,
) -> Result<Resolved, FilterError> {
    match modifier {
        Some("each") if kind.is_multiple() => {
            let alias = format!("{}__{seg}__each", w.alias_path);
            w.joins.push(Join {
                alias: alias.clone(),
                source: JoinSource::Elements { array: col },
            });
            Ok(Resolved {
                term: Term::Field {
                    alias,
                    column: "value".into(),
                },
                joins: w.joins,
                fan_out: true,
                rules: w.rules,
                guards: vec![],
            })
        }
        Some("length") if kind.is_multiple() => Ok(Resolved {
            term: Term::JsonLength(Box::new(col)),
            joins: w.joins,
            fan_out: w.fan_out,
            rules: w.rules,
            guards: vec![],
        }),
        Some(m @ ("each" | "length")) => Err(FilterError::new(format!(
            ":{m} needs a field with several values, not \"{seg}\""
        ))),
        _ => with_modifier(col, modifier, w),
    }
}

fn with_modifier(term: Term, modifier: Option<&str>, w: Walk<'_>) -> Result<Resolved, FilterError> {
    let term = match modifier {
        None => term,
        Some("lower") => Term::Lower(Box::new(term)),
        Some(m) => return Err(FilterError::new(format!("unknown modifier \":{m}\""))),
    };
    Ok(Resolved {
        term,
        joins: w.joins,
        fan_out: w.fan_out,
        rules: w.rules,
        guards: vec![],
    })
}

/// PB compat: a client filter reaching another collection only matches rows that
/// collection's list rule shows, ANDed into the filter like a WHERE condition (so a
/// related row failing it removes the record, while a missing related row passes through
/// NULL folding), and a `null` list rule refuses the filter (§3.11).
fn related_rule(
    target: &Arc<Collection>,
    alias: &str,
    ctx: &PathCtx<'_, '_>,
) -> Result<Option<Cond>, FilterError> {
    if ctx.r.allow_hidden {
        return Ok(None);
    }
    let Some(rule) = &target.rules.list else {
        return Err(FilterError::new(format!(
            "only superusers can filter by \"{}\" records",
            target.name
        )));
    };
    let sub = Resolver {
        collection: target,
        schema: ctx.r.schema,
        request: ctx.r.request,
        allow_hidden: true,
    };
    compile_at(rule, &sub, Some(alias), ctx.depth + 1)
}

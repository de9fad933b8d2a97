//! Reading and deleting records, and the rule plumbing every action shares.

use std::sync::Arc;

use kulisse_schema::{Collection, CollectionKind, FieldKind};
use kulisse_store::{
    CmpOp, Cond, Join, JoinSource, Literal, Row, Select, Store, StoreError, StoreTx, Term,
};

use crate::Ambient;
use crate::changes::Writer;
use crate::collections::{Registry, Snapshot};
use crate::error::CoreError;
use crate::query::{RequestInfo, Resolver, compile_filter, parse_sort};

/// Largest page PocketBase serves; bigger requests are clamped, not refused.
pub const MAX_PER_PAGE: u64 = 1000;
/// Cascading deletes deeper than this are refused rather than recursing without end.
const MAX_CASCADE_DEPTH: usize = 32;

/// The record CRUD service.
#[derive(Clone)]
pub struct RecordsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: Writer,
    pub(crate) ambient: Ambient,
    pub(crate) registry: Registry,
}

/// Parsed list parameters.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// 1-based page.
    pub page: u64,
    /// Items per page (clamped to 1..=1000).
    pub per_page: u64,
    /// `sort` as sent.
    pub sort: String,
    /// `filter` as sent.
    pub filter: String,
    /// Skip the COUNT query (totals become -1).
    pub skip_total: bool,
    /// `expand` as sent.
    pub expand: String,
}

impl Default for ListParams {
    fn default() -> Self {
        Self {
            page: 1,
            per_page: 30,
            sort: String::new(),
            filter: String::new(),
            skip_total: false,
            expand: String::new(),
        }
    }
}

/// One page of records, already shaped for the requester.
#[derive(Debug, Clone)]
pub struct ListResult {
    /// Visible records, expanded.
    pub items: Vec<super::Record>,
    /// Page served.
    pub page: u64,
    /// Page size used.
    pub per_page: u64,
    /// Total matches, or -1 with `skipTotal`.
    pub total_items: i64,
    /// Total pages, or -1 with `skipTotal`.
    pub total_pages: i64,
}

/// Which API rule an action checks.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    List,
    View,
    Create,
    Update,
    Delete,
}

impl RecordsService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        writer: Writer,
        registry: Registry,
        ambient: Ambient,
    ) -> Self {
        Self {
            store,
            writer,
            ambient,
            registry,
        }
    }

    pub(crate) fn collection(&self, id_or_name: &str) -> Result<Arc<Collection>, CoreError> {
        self.registry
            .get(id_or_name)
            .ok_or(CoreError::UnknownCollection)
    }

    /// The rule text for `action`, or `None` when the requester bypasses rules.
    /// A `null` rule is refused here for non-superusers.
    pub(crate) fn rule_text(
        c: &Collection,
        action: Action,
        req: &RequestInfo,
    ) -> Result<Option<String>, CoreError> {
        if req.auth.is_superuser() {
            return Ok(None);
        }
        let rule = match action {
            Action::List => &c.rules.list,
            Action::View => &c.rules.view,
            Action::Create => &c.rules.create,
            Action::Update => &c.rules.update,
            Action::Delete => &c.rules.delete,
        };
        rule.clone().map(Some).ok_or(CoreError::SuperusersOnly)
    }

    /// The compiled rule condition for `action`, or `None` when the requester bypasses it.
    pub(crate) fn rule_cond(
        &self,
        c: &Collection,
        action: Action,
        req: &RequestInfo,
    ) -> Result<Option<Cond>, CoreError> {
        match Self::rule_text(c, action, req)? {
            Some(rule) if !rule.trim().is_empty() => {
                compile_rule(&rule, c, &self.registry.snapshot(), req).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// `GET /records`: rule ANDed with the client filter, paging, sorting, totals.
    ///
    /// # Errors
    /// Unknown collection, `null` rule (403), bad parameters (400).
    pub async fn list(
        &self,
        req: &RequestInfo,
        collection: &str,
        p: &ListParams,
    ) -> Result<ListResult, CoreError> {
        let c = self.collection(collection)?;
        let rule = self.rule_cond(&c, Action::List, req)?;
        let superuser = req.auth.is_superuser();
        for text in [&p.filter, &p.sort] {
            if !superuser && text.contains("@request.") {
                return Err(CoreError::Forbidden(
                    "Only superusers can filter by @request.".into(),
                ));
            }
            if !superuser && text.contains("@collection.") {
                return Err(CoreError::Forbidden(
                    "Only superusers can filter by @collection.".into(),
                ));
            }
        }
        if !p.filter.is_empty() && p.filter.trim().is_empty() {
            return Err(CoreError::InvalidParam {
                param: "filter",
                reason: "the filter is only whitespace".into(),
            });
        }
        let schema = self.registry.snapshot();
        let resolver = Resolver {
            collection: &c,
            schema: &schema,
            request: req,
            allow_hidden: superuser,
        };
        let filter = compile_filter(&p.filter, &resolver)
            .map_err(|e| CoreError::invalid_param("filter", &e, &p.filter))?;
        let sort = parse_sort(&p.sort, &resolver)
            .map_err(|e| CoreError::invalid_param("sort", &e, &p.sort))?;
        let per_page = p.per_page.clamp(1, MAX_PER_PAGE);
        let page = p.page.max(1);
        let mut query = Select {
            order: sort.order,
            limit: Some(per_page),
            offset: (page - 1).saturating_mul(per_page),
            count_total: !p.skip_total,
            ..Select::all(Arc::clone(&c))
        };
        for cond in [rule, filter].into_iter().flatten().chain(sort.conditions) {
            query = query.and(cond);
        }
        let result = self.store.select(query).await?;
        let mut items: Vec<super::Record> = result
            .rows
            .into_iter()
            .map(|r| super::visible(&c, r, &req.auth).into())
            .collect();
        self.expand(req, &c, &mut items, &super::ExpandTree::parse(&p.expand))
            .await?;
        let (total_items, total_pages) = match result.total {
            Some(t) => (
                i64::try_from(t).unwrap_or(i64::MAX),
                i64::try_from(t.div_ceil(per_page)).unwrap_or(i64::MAX),
            ),
            None => (-1, -1),
        };
        Ok(ListResult {
            items,
            page,
            per_page,
            total_items,
            total_pages,
        })
    }

    /// `GET /records/{id}`: hidden and missing records are both 404.
    ///
    /// # Errors
    /// Unknown collection, `null` rule (403), not found (404).
    pub async fn view(
        &self,
        req: &RequestInfo,
        collection: &str,
        id: &str,
        expand: &super::ExpandTree,
    ) -> Result<super::Record, CoreError> {
        let c = self.collection(collection)?;
        let rule = self.rule_cond(&c, Action::View, req)?;
        let row = self.fetch(&c, id, rule).await?.ok_or(CoreError::NotFound)?;
        let mut rows = [super::visible(&c, row, &req.auth).into()];
        self.expand(req, &c, &mut rows, expand).await?;
        let [row] = rows;
        Ok(row)
    }

    /// The stored row `id` if it also satisfies `cond`.
    ///
    /// A condition on the row alone (an owner rule such as `author = @request.auth.id`) is
    /// checked on the record read by id rather than sent along: the read stays the plain
    /// read by id that engines keep prepared, and the evaluator gives the SQL's answer
    /// (they are checked against each other by property tests). Made the owner-rule view
    /// as cheap as the anonymous one.
    pub(crate) async fn fetch(
        &self,
        c: &Arc<Collection>,
        id: &str,
        cond: Option<Cond>,
    ) -> Result<Option<Row>, CoreError> {
        let mut q = Select::by_id(Arc::clone(c), id);
        let local = match cond {
            Some(cond) if cond.is_row_local() => Some(cond),
            Some(cond) => {
                q = q.and(cond);
                None
            }
            None => None,
        };
        let row = self.store.select(q).await?.rows.into_iter().next();
        Ok(row.filter(|row| local.is_none_or(|cond| crate::query::eval::matches(c, &cond, row))))
    }
}

/// Compiles a rule (rules may reference anything, hidden fields included).
pub(crate) fn compile_rule(
    rule: &str,
    c: &Collection,
    schema: &Snapshot,
    req: &RequestInfo,
) -> Result<Cond, CoreError> {
    if rule.trim().is_empty() {
        return Ok(Cond::True);
    }
    let resolver = Resolver {
        collection: c,
        schema,
        request: req,
        allow_hidden: true,
    };
    Ok(compile_filter(rule, &resolver)
        .map_err(|e| CoreError::broken_rule(&e, rule))?
        .unwrap_or(Cond::True))
}

pub(crate) fn delete_with_references(
    tx: &mut dyn StoreTx,
    all: &[Arc<Collection>],
    c: &Arc<Collection>,
    id: &str,
    depth: usize,
) -> Result<(), CoreError> {
    if depth > MAX_CASCADE_DEPTH {
        return Err(CoreError::BadRequest(
            "Failed to delete record: the cascade is too deep.".into(),
        ));
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
            return Err(CoreError::BadRequest(
                "You can't delete the only existing superuser.".into(),
            ));
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
            let refers = if f.kind.is_multiple() {
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
            };
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
                    return Err(CoreError::BadRequest(
                        "Failed to delete record. Make sure that the record is not part of a required relation reference.".into(),
                    ));
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
    match tx.delete(c, id) {
        Ok(()) | Err(StoreError::NotFound) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

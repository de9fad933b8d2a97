//! The records service: listing and viewing records (spec §2.4, §2.5) under their rules.

use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_store::{Cond, Row, Select, Store};

use super::rules::Action;
use crate::Ambient;
use crate::changes::Writer;
use crate::collections::Registry;
use crate::error::CoreError;
use crate::query::{QueryError, RequestInfo, Resolver, compile_filter, parse_sort};

/// Largest page PocketBase serves; bigger requests are clamped, not refused.
pub const MAX_PER_PAGE: u64 = 1000;

/// The record CRUD service.
#[derive(Clone)]
pub struct RecordsService {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) writer: Writer,
    pub(crate) ambient: Ambient,
    pub(crate) registry: Registry,
    /// Where uploaded files go; without one, uploads are refused.
    pub(crate) files: Option<crate::files::FileStorage>,
    /// Makes thumbs; without it, `?thumb=` serves the original.
    pub(crate) thumbs: Option<crate::files::Thumbs>,
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

impl RecordsService {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        writer: Writer,
        registry: Registry,
        ambient: Ambient,
        files: Option<crate::files::FileStorage>,
        thumbs: Option<crate::files::Thumbs>,
    ) -> Self {
        Self {
            store,
            writer,
            ambient,
            registry,
            files,
            thumbs,
        }
    }

    pub(crate) fn collection(&self, id_or_name: &str) -> Result<Arc<Collection>, CoreError> {
        self.registry
            .get(id_or_name)
            .ok_or(CoreError::UnknownCollection)
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
                return Err(QueryError::FilterByRequest.into());
            }
            if !superuser && text.contains("@collection.") {
                return Err(QueryError::FilterByCollection.into());
            }
        }
        if !p.filter.is_empty() && p.filter.trim().is_empty() {
            return Err(QueryError::BlankFilter.into());
        }
        let schema = self.registry.snapshot();
        let resolver = Resolver {
            collection: &c,
            schema: &schema,
            request: req,
            allow_hidden: superuser,
        };
        let filter =
            compile_filter(&p.filter, &resolver).map_err(|e| QueryError::filter(&e, &p.filter))?;
        let sort = parse_sort(&p.sort, &resolver).map_err(|e| QueryError::sort(&e, &p.sort))?;
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

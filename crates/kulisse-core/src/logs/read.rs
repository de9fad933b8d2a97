//! Reading the log (superusers only): pages filtered and sorted with the records'
//! language over `id`, `created`, `level`, `message` and `data.*`, hourly counts, one
//! entry, and clearing it all.

use std::sync::Arc;

use kulisse_store::{Row, Select, Term};

use super::LogService;
use crate::Auth;
use crate::collections::Snapshot;
use crate::collections::service::require_superuser;
use crate::error::CoreError;
use crate::query::{QueryError, RequestInfo, Resolver, compile_filter, parse_sort};
use crate::records::{ListParams, MAX_PER_PAGE};

/// A page of entries.
#[derive(Debug)]
pub struct LogPage {
    /// The entries (`id`, `created`, `level`, `message`, `data`).
    pub items: Vec<Row>,
    /// 1-based page.
    pub page: u64,
    /// Entries per page.
    pub per_page: u64,
    /// All matching entries (-1 when skipped).
    pub total_items: i64,
    /// Pages (-1 when skipped).
    pub total_pages: i64,
}

/// Entries in one hour.
#[derive(Debug, PartialEq, Eq)]
pub struct LogStats {
    /// The hour (`YYYY-MM-DD HH:00:00.000Z`).
    pub date: String,
    /// Entries in it.
    pub total: u64,
}

impl LogService {
    fn snapshot(&self) -> Snapshot {
        Snapshot::new(vec![(*self.inner.collection).clone()])
    }

    /// The query of `filter` over the log, as superuser `auth` may ask.
    fn query(&self, auth: &Auth, filter: &str, sort: &str) -> Result<Select, CoreError> {
        require_superuser(auth)?;
        if !filter.is_empty() && filter.trim().is_empty() {
            return Err(QueryError::BlankFilter.into());
        }
        let schema = self.snapshot();
        let request = RequestInfo::for_auth(auth.clone(), "GET");
        let resolver = Resolver {
            collection: &self.inner.collection,
            schema: &schema,
            request: &request,
            allow_hidden: true,
        };
        let cond = compile_filter(filter, &resolver).map_err(|e| QueryError::filter(&e, filter))?;
        let sort = parse_sort(sort, &resolver).map_err(|e| QueryError::sort(&e, sort))?;
        let mut q = Select {
            order: sort.order,
            ..Select::all(Arc::clone(&self.inner.collection))
        };
        for c in cond.into_iter().chain(sort.conditions) {
            q = q.and(c);
        }
        Ok(q)
    }

    /// `GET /api/logs`.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser; the filter's and sort's 400s.
    pub async fn list(&self, auth: &Auth, p: &ListParams) -> Result<LogPage, CoreError> {
        let per_page = p.per_page.clamp(1, MAX_PER_PAGE);
        let page = p.page.max(1);
        let q = Select {
            limit: Some(per_page),
            offset: (page - 1).saturating_mul(per_page),
            count_total: !p.skip_total,
            ..self.query(auth, &p.filter, &p.sort)?
        };
        let result = self.inner.store.select(q).await?;
        let (total_items, total_pages) = match result.total {
            Some(t) => (
                i64::try_from(t).unwrap_or(i64::MAX),
                i64::try_from(t.div_ceil(per_page)).unwrap_or(i64::MAX),
            ),
            None => (-1, -1),
        };
        Ok(LogPage {
            items: result.rows,
            page,
            per_page,
            total_items,
            total_pages,
        })
    }

    /// `GET /api/logs/stats?filter=`: matching entries per hour, oldest first.
    ///
    /// # Errors
    /// As [`Self::list`].
    pub async fn stats(&self, auth: &Auth, filter: &str) -> Result<Vec<LogStats>, CoreError> {
        let q = self.query(auth, filter, "")?;
        let hour = Term::Strftime {
            format: "%Y-%m-%d %H:00:00.000Z".into(),
            value: Some(Box::new(Term::Column("created".into()))),
            modifiers: vec![],
        };
        let groups = self.inner.store.count_per(q, hour).await?;
        Ok(groups
            .into_iter()
            .map(|(date, total)| LogStats { date, total })
            .collect())
    }

    /// `GET /api/logs/{id}`.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser, 404 for an unknown id.
    pub async fn view(&self, auth: &Auth, id: &str) -> Result<Row, CoreError> {
        require_superuser(auth)?;
        let q = Select::by_id(Arc::clone(&self.inner.collection), id);
        self.inner
            .store
            .select(q)
            .await?
            .rows
            .into_iter()
            .next()
            .ok_or(CoreError::NotFound)
    }

    /// `DELETE /api/logs`: every entry.
    ///
    /// # Errors
    /// 401/403 for anyone but a superuser.
    pub async fn clear(&self, auth: &Auth) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let c = Arc::clone(&self.inner.collection);
        self.inner
            .store
            .write(Box::new(move |tx| tx.truncate(&c).map(|()| None)))
            .await?;
        Ok(())
    }
}

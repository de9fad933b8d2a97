//! A view query's first rows before it is saved, for the dashboard's SQL editor: the query
//! is made into a view collection inside one transaction, read, and dropped again, so it
//! is checked exactly as saving it would check it and nothing of it stays.

use std::sync::Arc;

use kulisse_schema::{Collection, CollectionKind, ids};
use kulisse_store::{Row, Select};

use super::service::{CollectionsService, ddl_error, require_superuser, with_view_fields};
use super::validate::validate;
use crate::auth::Auth;
use crate::error::{CoreError, Form};

/// The rows a view query lists, and its columns in order.
#[derive(Debug, Clone)]
pub struct ViewPreview {
    /// The view's fields, as saving it would make them.
    pub columns: Vec<String>,
    /// Up to the asked number of rows, as stored.
    pub rows: Vec<Row>,
}

impl CollectionsService {
    /// Up to `limit` rows of `query` as a view collection would list them, saving nothing.
    ///
    /// # Errors
    /// Unless superuser; the errors saving a view with that query would have.
    pub async fn preview_view(
        &self,
        auth: &Auth,
        query: &str,
        limit: u64,
    ) -> Result<ViewPreview, CoreError> {
        require_superuser(auth)?;
        const FORM: Form = Form::CollectionCreate;
        let name = format!(
            "preview_{}",
            ids::random_string(ids::RECORD_ID_ALPHABET, 15)
        );
        let mut c = Collection::new(&name, CollectionKind::View);
        c.view_query = Some(query.to_owned());
        let snapshot = self.registry.snapshot();
        validate(&c, None, &snapshot).map_err(|errs| CoreError::invalid(FORM, errs))?;
        self.writer
            .transact::<_, CoreError, _>(move |tx| {
                let c = Arc::new(with_view_fields(tx, c, &snapshot, FORM)?);
                tx.create_collection(&c).map_err(|e| ddl_error(FORM, e))?;
                let first = Select {
                    limit: Some(limit),
                    ..Select::all(Arc::clone(&c))
                };
                let rows = tx.select(&first)?;
                tx.drop_collection(&c)?;
                Ok(ViewPreview {
                    columns: c.fields.iter().map(|f| f.name.clone()).collect(),
                    rows,
                })
            })
            .await
    }
}

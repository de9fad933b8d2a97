//! Creating, changing and deleting collections (superusers only; spec §4.6).

use std::sync::Arc;

use kulisse_schema::collection::CollectionInputError;
use kulisse_schema::{
    Collection, CollectionKind, FieldError, FieldErrors, FieldKind, IndexDef, datetime,
};
use kulisse_store::{StoreError, StoreTx};

use crate::changes::Writer;
use serde_json::Value;

use super::error::CollectionsError;
use super::registry::{Registry, Snapshot};
use super::validate::{dependent_rules_still_compile, validate, validate_rules};
use super::view;
use crate::auth::Auth;
use crate::auth::AuthError;
use crate::error::{CoreError, Form};
use crate::query::{QueryError, RequestInfo, Resolver, compile_filter};

/// The collections API.
#[derive(Clone)]
pub struct CollectionsService {
    pub(super) writer: Writer,
    pub(super) registry: Registry,
}

/// Only superusers manage collections: guests get 401, other records 403.
pub fn require_superuser(auth: &Auth) -> Result<(), CoreError> {
    match auth {
        Auth::Guest => Err(AuthError::TokenRequired.into()),
        a if a.is_superuser() => Ok(()),
        _ => Err(AuthError::SuperuserRequired.into()),
    }
}

fn input_error(form: Form, e: CollectionInputError) -> CoreError {
    match e {
        CollectionInputError::NotAnObject => CollectionsError::BodyNotAnObject.into(),
        CollectionInputError::Malformed => CollectionsError::MalformedField.into(),
        CollectionInputError::Invalid(errs) => CoreError::invalid(form, errs),
    }
}

impl CollectionsService {
    pub(crate) fn new(writer: Writer, registry: Registry) -> Self {
        Self { writer, registry }
    }

    /// The registry (read access for other layers).
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// All collections in creation order.
    ///
    /// # Errors
    /// Unless the requester is a superuser.
    pub fn all(&self, auth: &Auth) -> Result<Vec<Arc<Collection>>, CoreError> {
        require_superuser(auth)?;
        Ok(self.registry.snapshot().all().to_vec())
    }

    /// `GET /api/collections`: the records list semantics (filter, sort, paging) over
    /// collection properties, evaluated in memory.
    ///
    /// # Errors
    /// Unless superuser; 400 for bad filter/sort.
    pub fn list(
        &self,
        auth: &Auth,
        p: &crate::records::ListParams,
    ) -> Result<(Vec<Value>, Option<u64>), CoreError> {
        require_superuser(auth)?;
        let meta = properties_schema();
        let req = RequestInfo::for_auth(auth.clone(), "GET");
        let none = Snapshot::default();
        let resolver = Resolver {
            collection: &meta,
            schema: &none,
            request: &req,
            allow_hidden: true,
        };
        let filter =
            compile_filter(&p.filter, &resolver).map_err(|e| QueryError::filter(&e, &p.filter))?;
        let order = crate::query::parse_sort(&p.sort, &resolver)
            .map_err(|e| QueryError::sort(&e, &p.sort))?
            .order;
        let mut items: Vec<kulisse_store::Row> = self
            .registry
            .snapshot()
            .all()
            .iter()
            .filter_map(|c| match serde_json::to_value(c.json(false)) {
                Ok(Value::Object(m)) => Some(m),
                _ => None,
            })
            .filter(|row| {
                filter
                    .as_ref()
                    .is_none_or(|f| crate::query::eval::matches(&meta, f, row))
            })
            .collect();
        items.sort_by(|a, b| crate::query::eval::compare_rows(&meta, &order, a, b));
        let total = items.len() as u64;
        let per_page = p.per_page.clamp(1, crate::records::MAX_PER_PAGE);
        let skip =
            usize::try_from((p.page.max(1) - 1).saturating_mul(per_page)).unwrap_or(usize::MAX);
        let page = items
            .into_iter()
            .skip(skip)
            .take(usize::try_from(per_page).unwrap_or(usize::MAX))
            .map(Value::Object)
            .collect();
        Ok((page, (!p.skip_total).then_some(total)))
    }

    /// One collection by id or name.
    ///
    /// # Errors
    /// Unless superuser; `NotFound` for unknown collections.
    pub fn view(&self, auth: &Auth, id_or_name: &str) -> Result<Arc<Collection>, CoreError> {
        require_superuser(auth)?;
        self.registry.get(id_or_name).ok_or(CoreError::NotFound)
    }

    /// Creates a collection from its JSON definition.
    ///
    /// # Errors
    /// Validation failures as `Invalid` of `Form::CollectionCreate`.
    pub async fn create(&self, auth: &Auth, input: &Value) -> Result<Arc<Collection>, CoreError> {
        require_superuser(auth)?;
        const FORM: Form = Form::CollectionCreate;
        let mut c = Collection::from_create_input(input).map_err(|e| input_error(FORM, e))?;
        let snapshot = self.registry.snapshot();
        let explicit_id = input
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty());
        if !explicit_id {
            // PB compat: a generated id that clashes gets a numeric suffix.
            let base = c.id.clone();
            let mut n = 2;
            while snapshot.all().iter().any(|o| o.id == c.id) && n < 1000 {
                c.id = format!("{base}{n}");
                n += 1;
            }
        }
        validate(&c, None, &snapshot).map_err(|errs| CoreError::invalid(FORM, errs))?;
        let id = c.id.clone();
        let snap = Arc::clone(&snapshot);
        self.writer
            .transact::<_, CoreError, _>(move |tx| {
                let c = with_view_fields(tx, c, &snap, FORM)?;
                tx.create_collection(&c).map_err(|e| ddl_error(FORM, e))
            })
            .await?;
        self.registry.reload().await?;
        self.registry.get(&id).ok_or(CoreError::NotFound)
    }

    /// Applies a partial update (`fields` replaces the list).
    ///
    /// # Errors
    /// `NotFound`, or validation failures as `Invalid` of `Form::CollectionUpdate`.
    pub async fn update(
        &self,
        auth: &Auth,
        id_or_name: &str,
        input: &Value,
    ) -> Result<Arc<Collection>, CoreError> {
        require_superuser(auth)?;
        const FORM: Form = Form::CollectionUpdate;
        let old = self.registry.get(id_or_name).ok_or(CoreError::NotFound)?;
        let mut next = (*old).clone();
        next.apply_input(input).map_err(|e| input_error(FORM, e))?;
        next.id = old.id.clone();
        next.updated = datetime::now();
        if next.name != old.name {
            rename_index_tables(&mut next, &old.name);
        }
        let snapshot = self.registry.snapshot();
        validate(&next, Some(&old), &snapshot).map_err(|errs| CoreError::invalid(FORM, errs))?;
        dependent_rules_still_compile(&next, &snapshot)
            .map_err(|errs| CoreError::invalid(FORM, errs))?;
        let id = next.id.clone();
        self.writer
            .transact::<_, CoreError, _>(move |tx| {
                let next = with_view_fields(tx, next, &snapshot, FORM)?;
                tx.alter_collection(&old, &next)
                    .map_err(|e| ddl_error(FORM, e))?;
                view::rebuild_dependents(tx, &old, &next, &snapshot)
                    .map_err(|broken| view_dependency_error(FORM, &broken))
            })
            .await?;
        self.registry.reload().await?;
        self.registry.get(&id).ok_or(CoreError::NotFound)
    }

    /// Deletes a collection and its data.
    ///
    /// # Errors
    /// `NotFound`; 400 for system collections and collections still referenced.
    pub async fn delete(&self, auth: &Auth, id_or_name: &str) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let c = self.registry.get(id_or_name).ok_or(CoreError::NotFound)?;
        if c.system {
            return Err(CollectionsError::SystemNotDeletable.into());
        }
        let snapshot = self.registry.snapshot();
        let others = || snapshot.all().iter().filter(|o| o.id != c.id);
        if others().any(|o| view::reads(o, &c.name)) {
            return Err(CollectionsError::ReadByView.into());
        }
        let referrers: Vec<String> = others()
            .filter(|o| references(o, &c))
            .map(|o| o.name.clone())
            .collect();
        if !referrers.is_empty() {
            return Err(CollectionsError::Referenced { by: referrers }.into());
        }
        let after = snapshot.without(&c.id);
        for other in after
            .all()
            .iter()
            .filter(|o| o.kind != CollectionKind::View)
        {
            let mut errs = FieldErrors::new();
            validate_rules(other, &after, &mut errs);
            if !errs.is_empty() {
                return Err(CollectionsError::ReferencedByRules {
                    by: other.name.clone(),
                }
                .into());
            }
        }
        self.writer
            .transact::<_, CoreError, _>(move |tx| Ok(tx.drop_collection(&c)?))
            .await?;
        self.registry.reload().await
    }

    /// Deletes every record of a collection.
    ///
    /// # Errors
    /// `NotFound`; 400 for view collections.
    pub async fn truncate(&self, auth: &Auth, id_or_name: &str) -> Result<(), CoreError> {
        require_superuser(auth)?;
        let c = self.registry.get(id_or_name).ok_or(CoreError::NotFound)?;
        if c.kind == CollectionKind::View {
            return Err(CollectionsError::ViewNotTruncatable.into());
        }
        if c.is_superusers() {
            // PB compat: its truncate fails on the last superuser, which cannot be deleted,
            // and rolls back; nothing would be left to administer the app with.
            return Err(CollectionsError::SuperusersNotTruncatable.into());
        }
        self.writer
            .transact::<_, CoreError, _>(move |tx| Ok(tx.truncate(&c)?))
            .await
    }
}

/// The filterable properties of a collection, described as a collection so the filter
/// language resolves them like record fields.
fn properties_schema() -> Collection {
    let text = |n: &str| serde_json::json!({"name": n, "type": "text"});
    let fields: Vec<Value> = [
        "name",
        "type",
        "listRule",
        "viewRule",
        "createRule",
        "updateRule",
        "deleteRule",
        "created",
        "updated",
        "viewQuery",
    ]
    .iter()
    .map(|n| text(n))
    .chain([
        serde_json::json!({"name": "system", "type": "bool"}),
        serde_json::json!({"name": "fields", "type": "json"}),
        serde_json::json!({"name": "indexes", "type": "json"}),
    ])
    .collect();
    let mut c = Collection::new("collections", CollectionKind::Base);
    let _ = c.apply_input(&serde_json::json!({ "fields": fields }));
    c
}

/// For view collections, describes the query and infers the fields.
pub(super) fn with_view_fields(
    tx: &mut dyn StoreTx,
    mut c: Collection,
    snapshot: &Snapshot,
    form: Form,
) -> Result<Collection, CoreError> {
    if c.kind != CollectionKind::View {
        return Ok(c);
    }
    let query = c.view_query.clone().unwrap_or_default();
    let columns = tx.describe_view(&query).map_err(|e| ddl_error(form, e))?;
    let fields =
        view::infer_fields(&columns, snapshot).map_err(|errs| CoreError::invalid(form, errs))?;
    view::apply(&mut c, fields);
    Ok(c)
}

/// A change refused because a view reading the collection would no longer compile.
pub(super) fn view_dependency_error(form: Form, broken: &view::BrokenView) -> CoreError {
    let mut errs = FieldErrors::new();
    errs.add(
        "fields",
        FieldError::new(
            "validation_view_dependency",
            format!(
                "The view collection \"{}\" reads this collection and would no longer work; change or delete the view first.",
                broken.name
            ),
        ),
    );
    CoreError::invalid(form, errs)
}

pub(super) fn ddl_error(form: Form, e: StoreError) -> CoreError {
    match e {
        StoreError::InvalidQuery(detail) => {
            let mut errs = FieldErrors::new();
            errs.add(
                "viewQuery",
                FieldError::new(
                    "validation_invalid_view_query",
                    format!("Invalid query - {detail}"),
                ),
            );
            CoreError::invalid(form, errs)
        }
        StoreError::Unique(_) => {
            let mut errs = FieldErrors::new();
            errs.add(
                "indexes",
                FieldError::new(
                    "validation_invalid_index_expression",
                    "Failed to create index: duplicated values or name.",
                ),
            );
            CoreError::invalid(form, errs)
        }
        other => CoreError::Store(other),
    }
}

/// Whether `c` has a relation field pointing at `target`.
fn references(c: &Collection, target: &Collection) -> bool {
    c.fields.iter().any(|f| matches!(&f.kind, FieldKind::Relation { collection_id, .. } if *collection_id == target.id))
}

/// Index strings name their table; keep them pointing at the renamed table.
fn rename_index_tables(c: &mut Collection, old_name: &str) {
    for idx in &mut c.indexes {
        if IndexDef::table_of(idx).is_some_and(|t| t.eq_ignore_ascii_case(old_name))
            && let Some(def) = IndexDef::parse(idx)
        {
            *idx = def.to_definition(&c.name);
        }
    }
}

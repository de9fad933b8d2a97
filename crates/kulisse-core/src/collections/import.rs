//! `PUT /api/collections/import` (spec §4.7): many definitions replaced in one transaction.

use std::sync::Arc;

use kulisse_schema::errors::FieldErrorNode;
use kulisse_schema::{Collection, FieldError, FieldErrors};
use serde_json::Value;

use super::service::{
    CollectionsService, ddl_error, require_superuser, view_dependency_error, with_view_fields,
};
use super::view;
use crate::auth::Auth;
use crate::error::{CoreError, Form};

impl CollectionsService {
    /// Imports definitions: existing ones (matched by id, then name) are updated, new ones
    /// created, all in one transaction; with `delete_missing`, unlisted non-system
    /// collections are dropped.
    ///
    /// # Errors
    /// `Invalid` of `Form::CollectionsImport` when any definition is invalid.
    pub async fn import(
        &self,
        auth: &Auth,
        items: &[Value],
        delete_missing: bool,
    ) -> Result<(), CoreError> {
        require_superuser(auth)?;
        const FORM: Form = Form::CollectionsImport;
        if items.is_empty() {
            // PB compat: with `deleteMissing` an empty list would drop every collection.
            let mut errs = FieldErrors::new();
            errs.add("collections", FieldError::required());
            return Err(CoreError::invalid(Form::Request, errs));
        }
        let snapshot = self.registry.snapshot();
        let mut plan: Vec<(Option<Arc<Collection>>, Collection)> = Vec::new();
        let import_error = |detail: String| {
            let mut errs = FieldErrors::new();
            errs.add(
                "collections",
                FieldError::new("validation_collections_import_failure", detail),
            );
            CoreError::invalid(FORM, errs)
        };
        for item in items {
            let by_id = item
                .get("id")
                .and_then(Value::as_str)
                .and_then(|id| snapshot.get(id).cloned());
            let existing = by_id.or_else(|| {
                item.get("name")
                    .and_then(Value::as_str)
                    .and_then(|n| snapshot.get(n).cloned())
            });
            let next = match &existing {
                Some(old) => {
                    let mut next = (**old).clone();
                    next.apply_input(item)
                        .map_err(|e| import_error(format!("{e:?}")))?;
                    next.id = old.id.clone();
                    next
                }
                None => Collection::from_create_input(item)
                    .map_err(|e| import_error(format!("{e:?}")))?,
            };
            let mut errs = next.validate();
            if let Some(old) = &existing {
                errs.0.extend(next.validate_change(old).0);
            }
            if !errs.is_empty() {
                // PB compat: the collection's errors as `{"key": "message"}`, indented.
                let detail =
                    serde_json::to_string_pretty(&error_messages(&errs)).unwrap_or_default();
                return Err(import_error(format!(
                    "Data validations failed for collection {:?} ({}):\n{detail}",
                    next.name, next.id
                )));
            }
            plan.push((existing, next));
        }
        let doomed: Vec<Arc<Collection>> = if delete_missing {
            snapshot
                .all()
                .iter()
                .filter(|c| !c.system && !plan.iter().any(|(_, n)| n.id == c.id))
                .cloned()
                .collect()
        } else {
            vec![]
        };
        self.writer
            .transact::<_, CoreError, _>(move |tx| {
                for c in &doomed {
                    tx.drop_collection(c)?;
                }
                let mut applied = Vec::with_capacity(plan.len());
                for (old, next) in plan {
                    let next = with_view_fields(tx, next, &snapshot, FORM)?;
                    match &old {
                        Some(old) => tx.alter_collection(old, &next),
                        None => tx.create_collection(&next),
                    }
                    .map_err(|e| ddl_error(FORM, e))?;
                    applied.push((old, next));
                }
                // Views reading a rebuilt collection are built again, from the imported schema
                // (which may change the views too), once everything is in place.
                let mut imported = Arc::clone(&snapshot);
                for c in &doomed {
                    imported = Arc::new(imported.without(&c.id));
                }
                for (_, next) in &applied {
                    imported = Arc::new(imported.with(next));
                }
                for (old, next) in &applied {
                    if let Some(old) = old {
                        view::rebuild_dependents(tx, old, next, &imported)
                            .map_err(|broken| view_dependency_error(FORM, &broken))?;
                    }
                }
                Ok(())
            })
            .await?;
        self.registry.reload().await
    }
}

/// Field errors as nested `{"key": "message"}` objects (PocketBase's import failure text).
fn error_messages(errs: &FieldErrors) -> Value {
    let map = errs
        .0
        .iter()
        .map(|(key, node)| {
            let v = match node {
                FieldErrorNode::Leaf(e) => Value::String(e.message.clone()),
                FieldErrorNode::Nested(n) => error_messages(n),
            };
            (key.clone(), v)
        })
        .collect();
    Value::Object(map)
}

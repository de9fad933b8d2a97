//! Whether a collection definition can be stored next to the others: its own checks, its
//! rules compiled against the schema it would join, and the rules of other collections that
//! read it.

use kulisse_schema::errors::FieldErrorNode;
use kulisse_schema::{Collection, CollectionKind, FieldError, FieldErrors, FieldKind};

use super::registry::Snapshot;
use crate::query::{RequestInfo, Resolver, compile_filter};

/// Checks that need the other collections: unique name and id, relation targets, rules.
pub(super) fn validate(
    c: &Collection,
    old: Option<&Collection>,
    snapshot: &Snapshot,
) -> Result<(), FieldErrors> {
    let mut errs = c.validate();
    let own_id = old.map(|o| o.id.as_str());
    if let Some(other) = snapshot.get(&c.name)
        && Some(other.id.as_str()) != own_id
    {
        errs.add(
            "name",
            FieldError::new(
                "validation_collection_name_exists",
                "Collection name must be unique (case insensitive).",
            ),
        );
    }
    if old.is_none() && snapshot.all().iter().any(|o| o.id == c.id) {
        errs.add(
            "id",
            FieldError::new(
                "validation_collection_id_exists",
                "Collection id must be unique.",
            ),
        );
    }
    if let Some(old) = old {
        let change = c.validate_change(old);
        if change.contains("fields") {
            // An index on a renamed system field fails as a consequence; PocketBase names
            // only the rename.
            errs.0.retain(|(k, _)| k != "indexes");
        }
        for (key, node) in change.0 {
            match node {
                FieldErrorNode::Leaf(e) => errs.add(key, e),
                FieldErrorNode::Nested(n) => errs.add_nested(key, n),
            }
        }
    }
    let mut field_errs = FieldErrors::new();
    for (i, f) in c.fields.iter().enumerate() {
        if let FieldKind::Relation { collection_id, .. } = &f.kind
            && !collection_id.is_empty()
            && !snapshot.all().iter().any(|o| o.id == *collection_id)
            && *collection_id != c.id
        {
            let mut fe = FieldErrors::new();
            fe.add(
                "collectionId",
                FieldError::new(
                    "validation_field_relation_missing_collection",
                    "The relation collection doesn't exist.",
                ),
            );
            field_errs.add_nested(i.to_string(), fe);
        }
    }
    errs.add_nested("fields", field_errs);
    if c.kind != CollectionKind::View {
        validate_rules(c, snapshot, &mut errs);
    }
    errs.into_result()
}

/// A change must not break the rules of other collections that reach into this one (a
/// renamed or removed field would otherwise silently change what those rules allow).
pub(super) fn dependent_rules_still_compile(
    next: &Collection,
    snapshot: &Snapshot,
) -> Result<(), FieldErrors> {
    let after = snapshot.with(next);
    for other in after
        .all()
        .iter()
        .filter(|o| o.id != next.id && o.kind != CollectionKind::View)
    {
        let mut errs = FieldErrors::new();
        validate_rules(other, &after, &mut errs);
        if !errs.is_empty() {
            let mut out = FieldErrors::new();
            out.add(
                "fields",
                FieldError::new(
                    "validation_rule_dependency",
                    format!(
                        "The change breaks the API rules of collection {}: {}",
                        other.name,
                        errs.to_json()
                    ),
                ),
            );
            return Err(out);
        }
    }
    Ok(())
}

pub(super) fn validate_rules(c: &Collection, snapshot: &Snapshot, errs: &mut FieldErrors) {
    let request = RequestInfo::default();
    let resolver = Resolver {
        collection: c,
        schema: snapshot,
        request: &request,
        allow_hidden: true,
    };
    let mut rules = vec![
        ("listRule", &c.rules.list),
        ("viewRule", &c.rules.view),
        ("createRule", &c.rules.create),
        ("updateRule", &c.rules.update),
        ("deleteRule", &c.rules.delete),
    ];
    if let Some(a) = &c.auth {
        rules.push(("authRule", &a.auth_rule));
        rules.push(("manageRule", &a.manage_rule));
    }
    let invalid = |text: &str| {
        compile_filter(text, &resolver).err().map(|e| {
            FieldError::new(
                "validation_invalid_rule",
                format!("Invalid rule. Raw error: {}.", e.describe(text)),
            )
        })
    };
    for (key, rule) in rules {
        if let Some(e) = rule
            .as_deref()
            .filter(|t| !t.trim().is_empty())
            .and_then(invalid)
        {
            errs.add(key, e);
        }
    }
    // The MFA rule picks the records that need a second factor: a filter on the record.
    if let Some(e) = c
        .auth
        .as_ref()
        .map(|a| a.mfa().rule)
        .filter(|t| !t.trim().is_empty())
        .and_then(|t| invalid(&t))
    {
        let mut mfa = FieldErrors::new();
        mfa.add("rule", e);
        errs.add_nested("mfa", mfa);
    }
}

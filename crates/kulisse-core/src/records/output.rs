//! What a requester may see of a record (spec §2.1).

use kulisse_schema::{Collection, FieldKind};
use kulisse_store::Row;
use serde_json::Value;

use crate::auth::Auth;

/// Turns a stored row into its output form for `auth`: secrets never leave, hidden fields
/// only for superusers, auth emails only when visible, and the collection keys added.
pub fn visible(c: &Collection, mut row: Row, auth: &Auth) -> Row {
    let superuser = auth.is_superuser();
    for f in &c.fields {
        let auth_secret =
            c.is_auth() && f.system && matches!(f.name.as_str(), "password" | "tokenKey");
        if auth_secret || (f.hidden && !superuser) {
            row.remove(&f.name);
        } else if matches!(f.kind, FieldKind::Password { .. }) {
            // PB compat: other password fields show their key with an empty value.
            row.insert(f.name.clone(), Value::String(String::new()));
        }
    }
    if c.is_auth() && !superuser {
        let shown = row
            .get("emailVisibility")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let own = row
            .get("id")
            .and_then(Value::as_str)
            .is_some_and(|id| auth.is_record(&c.id, id));
        if !shown && !own {
            row.remove("email");
        }
    }
    row.insert("collectionId".into(), Value::String(c.id.clone()));
    row.insert("collectionName".into(), Value::String(c.name.clone()));
    row
}

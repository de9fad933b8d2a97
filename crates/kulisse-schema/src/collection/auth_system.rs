//! The system collections auth keeps its state in: `_mfas` (MFA sessions), `_otps`
//! (one-time passwords), `_authOrigins` (where records logged in from) and
//! `_externalAuths` (OAuth2 links). Their definitions are PocketBase 0.40's, ids and field
//! ids included, as recorded from a running PocketBase (`auth_system.json`), so a data dir
//! and an export look the same on either server.

use serde_json::Value;

use super::Collection;

/// MFA sessions: a first method passed, waiting for a second.
pub const MFAS: &str = "_mfas";
/// One-time passwords sent by mail (hashed).
pub const OTPS: &str = "_otps";
/// Fingerprints of the devices a record logged in from.
pub const AUTH_ORIGINS: &str = "_authOrigins";
/// Links between records and OAuth2 provider accounts.
pub const EXTERNAL_AUTHS: &str = "_externalAuths";

const DEFINITIONS: &str = include_str!("auth_system.json");

/// The four collections, in PocketBase's creation order.
pub fn auth_system_collections() -> Vec<Collection> {
    let Ok(Value::Array(defs)) = serde_json::from_str::<Value>(DEFINITIONS) else {
        unreachable!("auth_system.json is a JSON array (checked by a test)");
    };
    defs.iter()
        .map(|def| match Collection::from_stored(def) {
            Ok(c) => c,
            Err(e) => unreachable!("auth_system.json holds valid collections: {e:?}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_definitions_load_as_system_base_collections_that_render_back_unchanged() {
        let expected: Vec<Value> = serde_json::from_str(DEFINITIONS).unwrap();
        let loaded = auth_system_collections();
        let names: Vec<&str> = loaded.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, [MFAS, OTPS, AUTH_ORIGINS, EXTERNAL_AUTHS]);
        for (c, want) in loaded.iter().zip(expected) {
            assert!(c.system && !c.is_auth(), "{}", c.name);
            assert!(c.validate().is_empty(), "{}: {:?}", c.name, c.validate());
            let mut got = serde_json::to_value(c.json(false)).unwrap();
            let got = got.as_object_mut().unwrap();
            got.remove("created");
            got.remove("updated");
            assert_eq!(Value::Object(got.clone()), want, "{}", c.name);
        }
    }
}

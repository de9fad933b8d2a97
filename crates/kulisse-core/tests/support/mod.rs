//! What the core's integration tests share (each test binary includes it with
//! `mod support;` and uses part of it).
#![allow(dead_code, clippy::unwrap_used)]

use std::sync::Arc;

use kulisse_core::auth::{Client, Login};
use kulisse_core::{Auth, Row, Services};
use kulisse_schema::Collection;

/// Makes the superuser `root@example.com` and logs it in: its collection, record and token.
pub async fn superuser_login(services: &Services) -> (Arc<Collection>, Row, String) {
    services
        .auth
        .upsert_superuser("root@example.com", "1234567890", false)
        .await
        .unwrap();
    let Ok(Login::Token(superusers, root, token)) = services
        .auth
        .auth_with_password(
            "_superusers",
            "root@example.com",
            "1234567890",
            None,
            None,
            &Client::default(),
        )
        .await
    else {
        panic!("a password login without MFA gives a token")
    };
    (superusers, root, token)
}

/// The superuser `root@example.com` as a requester.
pub async fn superuser(services: &Services) -> Auth {
    let (collection, record, _) = superuser_login(services).await;
    Auth::Record {
        collection,
        record: Arc::new(record),
    }
}

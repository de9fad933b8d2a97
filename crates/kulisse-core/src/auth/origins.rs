//! Where records log in from (PocketBase's `_authOrigins` and `authAlert`): each login
//! remembers its origin, a fingerprint of the client's address and user agent (PocketBase's:
//! MD5 of the two, concatenated). A login from an origin the record has not used mails it
//! "Login from a new location" (the collection's `authAlert.emailTemplate`), unless it is
//! the record's first login. A record keeps its five most recent origins.
//!
//! All of it happens after the answer: a login waits neither for the write nor the mail.

use std::net::IpAddr;
use std::sync::Arc;

use kulisse_schema::Collection;
use kulisse_schema::collection::AUTH_ORIGINS;
use kulisse_store::{CmpOp, Cond, Literal, Order, Row, Select, StoreError, Term};
use md5::{Digest, Md5};
use serde_json::{Value, json};

use super::forms::{field, public};
use super::service::AuthService;
use crate::error::CoreError;
use crate::mail::{Placeholders, TemplateKind};

/// Origins a record keeps (PocketBase: 5).
const MAX_ORIGINS: usize = 5;

/// The client a login came from.
#[derive(Debug, Clone, Default)]
pub struct Client {
    /// Its address (the `trustedProxy` header's, or the connection's).
    pub ip: Option<IpAddr>,
    /// Its `User-Agent`.
    pub user_agent: String,
}

impl Client {
    fn ip_text(&self) -> String {
        self.ip
            .map(|ip| ip.to_canonical().to_string())
            .unwrap_or_default()
    }

    /// PocketBase's fingerprint: the MD5 of the address and the user agent, in hex.
    fn fingerprint(&self) -> String {
        let digest = Md5::digest(format!("{}{}", self.ip_text(), self.user_agent));
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

impl AuthService {
    /// Remembers where `record` of `c` logged in from, and alerts it of a new origin,
    /// after the answer.
    pub(super) fn note_origin_later(&self, c: Arc<Collection>, record: Row, client: Client) {
        let service = self.clone();
        tokio::spawn(async move {
            if let Err(e) = service.note_origin(&c, &record, &client).await {
                tracing::error!(error = %e, collection = %c.name, "login origin not recorded");
            }
        });
    }

    async fn note_origin(
        &self,
        c: &Arc<Collection>,
        record: &Row,
        client: &Client,
    ) -> Result<(), CoreError> {
        let origins = self.system_collection(AUTH_ORIGINS)?;
        let record_id = field(record, "id").as_str().unwrap_or_default().to_owned();
        let eq = |column: &str, value: &str| Cond::Compare {
            left: Term::Column(column.into()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(value.into())),
        };
        let known = self
            .store
            .select(
                Select {
                    order: vec![Order::By {
                        term: Term::Column("updated".into()),
                        desc: true,
                    }],
                    ..Select::all(Arc::clone(&origins))
                }
                .and(eq("collectionRef", &c.id))
                .and(eq("recordRef", &record_id)),
            )
            .await?
            .rows;
        let fingerprint = client.fingerprint();
        let now = self.ambient.now_text();
        let seen = known
            .iter()
            .find(|o| field(o, "fingerprint").as_str() == Some(fingerprint.as_str()))
            .and_then(|o| field(o, "id").as_str())
            .map(str::to_owned);
        if let Some(id) = seen {
            let changes = json!({"updated": now});
            let changes = changes.as_object().cloned().unwrap_or_default();
            return Ok(self
                .writer
                .transact::<_, StoreError, _>(move |tx| tx.update(&origins, &id, &changes))
                .await?);
        }
        let row = json!({"id": self.ambient.ids.record_id(), "collectionRef": c.id,
            "recordRef": record_id, "fingerprint": fingerprint, "created": now, "updated": now});
        // The oldest go, so that the record keeps the most recent ones, this one included.
        let forgotten: Vec<String> = known
            .iter()
            .skip(MAX_ORIGINS - 1)
            .filter_map(|o| field(o, "id").as_str().map(str::to_owned))
            .collect();
        let table = Arc::clone(&origins);
        self.writer
            .transact::<_, StoreError, _>(move |tx| {
                for id in &forgotten {
                    tx.delete(&table, id)?;
                }
                tx.insert(&table, row.as_object().unwrap_or(&Row::new()))
            })
            .await?;
        if !known.is_empty() {
            self.alert(c, record, client, &now);
        }
        Ok(())
    }

    /// Mails "Login from a new location", if the collection alerts and the record has an
    /// address.
    fn alert(&self, c: &Collection, record: &Row, client: &Client, now: &str) {
        let enabled = c
            .auth
            .as_ref()
            .and_then(|a| a.extra.get("authAlert"))
            .and_then(|a| a.get("enabled"))
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let email = field(record, "email").as_str().unwrap_or_default();
        let Some(mail) = self.mail.as_ref().filter(|_| enabled && !email.is_empty()) else {
            return;
        };
        let values = Placeholders {
            alert_info: format!("{now} - {} {}", client.ip_text(), client.user_agent),
            record: public(record),
            ..Placeholders::default()
        };
        mail.send_later(mail.compose(c, TemplateKind::LoginAlert, email, values));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_pocketbases() {
        let client = Client {
            ip: Some("127.0.0.1".parse().unwrap()),
            user_agent: "UA-one".into(),
        };
        // Recorded from PocketBase 0.40.6 for a login from 127.0.0.1 with `UA-one`.
        assert_eq!(client.fingerprint(), "d8178d87b3d31a474310d9a22ab6fc46");
    }
}

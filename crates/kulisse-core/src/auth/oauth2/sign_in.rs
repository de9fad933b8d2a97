//! `auth-with-oauth2` (spec §5.7): a code from a provider becomes a signed-in record.
//!
//! Which record: the one already linked to the provider's user in `_externalAuths`; else
//! the requester, when it is a record of the collection; else the record with the
//! provider's email, **only** when the provider vouches that the email is verified; else a
//! new record, made through the records service like any create (`createRule`,
//! validation, `@request.context = "oauth2"`).
//!
//! Two account-takeover holes PocketBase had (advisories of 2024 and 2026) stay closed:
//! an email the provider did not verify never links or verifies anything (the adapter
//! leaves it out), and the client's `createData.email` only ever names the new record's
//! address, never the record to link.

use std::io::Write as _;
use std::sync::Arc;

use kulisse_schema::collection::{EXTERNAL_AUTHS, MappedFields, ProviderConfig};
use kulisse_schema::field::FieldKind;
use kulisse_schema::ids::TOKEN_KEY_ALPHABET;
use kulisse_schema::{Collection, FieldError, FieldErrors};
use kulisse_store::{CmpOp, Cond, Literal, Row, Select, StoreError, Term};
use serde_json::{Map, Value, json};

use super::OAuth2Service;
use super::port::{CodeGrant, ExternalUser};
use crate::Auth;
use crate::auth::error::AuthError;
use crate::auth::forms::field;
use crate::auth::{Client, Login, Method, hash_password};
use crate::error::{CoreError, Form};
use crate::query::RequestInfo;
use crate::records::{ExpandTree, Upload};

/// Characters of the password a record made by OAuth2 gets (nobody knows it; the owner
/// sets one through a password reset).
const RANDOM_PASSWORD_LEN: usize = 40;

/// A submitted `auth-with-oauth2` form.
#[derive(Debug, Clone, Default)]
pub struct OAuth2Form {
    /// The provider's name.
    pub provider: String,
    /// The authorization code.
    pub code: String,
    /// The PKCE verifier.
    pub code_verifier: String,
    /// The redirect URL the code was asked for with.
    pub redirect_url: String,
    /// Values for a record made by this sign-in.
    pub create_data: Map<String, Value>,
}

/// An existing record a sign-in found without a link.
enum Found {
    /// The signed-in requester.
    Requester(Row),
    /// The record with the provider's verified email.
    ByEmail(Row),
}

/// Whether `record`'s email is the provider's verified email.
fn has_email(record: &Row, user: &ExternalUser) -> bool {
    !user.email.is_empty()
        && field(record, "email")
            .as_str()
            .is_some_and(|e| e.eq_ignore_ascii_case(&user.email))
}

/// A finished OAuth2 sign-in: the login and the provider's user (`meta`).
#[derive(Debug)]
pub struct OAuth2Login {
    /// The login (a token, or the MFA challenge).
    pub login: Login,
    /// Who signed in at the provider.
    pub user: ExternalUser,
    /// Whether the record was made by this sign-in.
    pub is_new: bool,
}

impl OAuth2Service {
    /// `POST /api/collections/{c}/auth-with-oauth2`.
    ///
    /// # Errors
    /// 403 when OAuth2 is off; 400 for an unknown provider, a missing code, a refused
    /// code or unreadable user (PocketBase's messages), and whatever the create of a new
    /// record refuses.
    pub async fn auth_with_oauth2(
        &self,
        req: &RequestInfo,
        collection: &str,
        form: OAuth2Form,
        mfa_id: Option<&str>,
        client: &Client,
    ) -> Result<OAuth2Login, CoreError> {
        let c = self.auth.auth_collection(collection)?;
        let options = c.auth.as_ref().map(|a| a.oauth2()).unwrap_or_default();
        if !options.enabled {
            return Err(AuthError::OAuth2Disabled.into());
        }
        let provider = options
            .providers
            .iter()
            .find(|p| p.name == form.provider)
            .cloned();
        let mut errs = FieldErrors::new();
        let port = self.providers.as_ref();
        if provider.is_none() || port.is_none() {
            errs.add(
                "provider",
                FieldError::new(
                    "validation_invalid_provider",
                    format!(
                        "Provider with name {} is missing or is not enabled.",
                        form.provider
                    ),
                )
                .with_param("name", form.provider.clone()),
            );
        }
        if form.code.is_empty() {
            errs.add("code", FieldError::required());
        }
        let (Some(provider), Some(port), true) = (provider, port, errs.is_empty()) else {
            return Err(CoreError::invalid(Form::Load, errs));
        };
        let grant = CodeGrant {
            code: form.code.clone(),
            code_verifier: form.code_verifier.clone(),
            redirect_url: form.redirect_url.clone(),
        };
        let user = port.identify(&provider, &grant).await.map_err(|e| {
            tracing::info!(provider = %provider.name, error = %e, "OAuth2 sign-in refused");
            CoreError::from(match e {
                super::ProviderError::User(_) => AuthError::OAuth2User,
                _ => AuthError::OAuth2Token,
            })
        })?;
        let (record, is_new) = match self.linked_record(&c, &provider, &user).await? {
            Some(record) => (record, false),
            None => match self.own_or_same_email(req, &c, &user).await? {
                Some(found) => (self.adopt(&c, found, &user).await?, false),
                None => (
                    self.create(req, &c, &options.mapped_fields, &user, form.create_data)
                        .await?,
                    true,
                ),
            },
        };
        self.link(&c, &record, &provider, &user).await?;
        let login = self
            .auth
            .finish_login(c, record, Method::OAuth2, mfa_id, client)
            .await?;
        Ok(OAuth2Login {
            login,
            user,
            is_new,
        })
    }

    /// The record `_externalAuths` links to the provider's user.
    async fn linked_record(
        &self,
        c: &Arc<Collection>,
        provider: &ProviderConfig,
        user: &ExternalUser,
    ) -> Result<Option<Row>, CoreError> {
        let Some(row) = self.link_of(c, provider, user).await? else {
            return Ok(None);
        };
        let record_id = field(&row, "recordRef").as_str().unwrap_or_default();
        self.auth.load(c, record_id).await
    }

    async fn link_of(
        &self,
        c: &Arc<Collection>,
        provider: &ProviderConfig,
        user: &ExternalUser,
    ) -> Result<Option<Row>, CoreError> {
        let links = self.auth.system_collection(EXTERNAL_AUTHS)?;
        let eq = |column: &str, value: &str| Cond::Compare {
            left: Term::Column(column.into()),
            op: CmpOp::Eq,
            right: Term::Value(Literal::Text(value.into())),
        };
        let q = Select {
            limit: Some(1),
            ..Select::all(links)
        }
        .and(eq("collectionRef", &c.id))
        .and(eq("provider", &provider.name))
        .and(eq("providerId", &user.id));
        Ok(self.auth.store.select(q).await?.rows.into_iter().next())
    }

    /// The requester, when it is a record of `c`; else the record with the provider's
    /// (verified) email.
    async fn own_or_same_email(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        user: &ExternalUser,
    ) -> Result<Option<Found>, CoreError> {
        if let Auth::Record { collection, record } = &req.auth
            && collection.id == c.id
        {
            return Ok(Some(Found::Requester((**record).clone())));
        }
        if user.email.is_empty() {
            return Ok(None);
        }
        Ok(self
            .auth
            .find_by_email(c, &user.email)
            .await?
            .map(Found::ByEmail))
    }

    /// An existing record about to be linked, verified when it has the provider's verified
    /// email. One found by that email that was not verified was made by someone who never
    /// proved the address: its password and sessions are reset too, so that whoever signed
    /// up with another person's address beforehand loses the account to its owner.
    async fn adopt(
        &self,
        c: &Arc<Collection>,
        found: Found,
        user: &ExternalUser,
    ) -> Result<Row, CoreError> {
        let (record, by_email) = match found {
            Found::Requester(record) => (record, false),
            Found::ByEmail(record) => (record, true),
        };
        if !has_email(&record, user) || field(&record, "verified").as_bool() == Some(true) {
            return Ok(record);
        }
        let mut changes = Row::new();
        changes.insert("verified".into(), Value::Bool(true));
        if by_email {
            let cost = match c.field("password").map(|f| &f.kind) {
                Some(FieldKind::Password { cost, .. }) => u32::try_from(*cost).unwrap_or(0),
                _ => 0,
            };
            let password = self
                .ambient
                .ids
                .random(TOKEN_KEY_ALPHABET, RANDOM_PASSWORD_LEN);
            let hash = tokio::task::spawn_blocking(move || hash_password(&password, cost))
                .await
                .map_err(|e| CoreError::Store(StoreError::Other(e.to_string())))?;
            changes.insert("password".into(), Value::String(hash));
            changes.insert(
                "tokenKey".into(),
                Value::String(self.ambient.ids.random(TOKEN_KEY_ALPHABET, 50)),
            );
        }
        self.change(c, &record, changes).await
    }

    /// Writes `changes` to the stored `record` of `c` (fields the sign-in sets itself,
    /// past the update rule) and reads it back.
    async fn change(
        &self,
        c: &Arc<Collection>,
        record: &Row,
        mut changes: Row,
    ) -> Result<Row, CoreError> {
        changes.insert("updated".into(), Value::String(self.ambient.now_text()));
        let id = field(record, "id").as_str().unwrap_or_default().to_owned();
        let target = Arc::clone(c);
        let written = id.clone();
        self.auth
            .writer
            .transact::<_, StoreError, _>(move |tx| tx.update(&target, &written, &changes))
            .await?;
        self.auth.load(c, &id).await?.ok_or(CoreError::NotFound)
    }

    /// A new record for the provider's user: `createData`, the provider's email (unless
    /// `createData` names one), the mapped fields and a random password, made through the
    /// records service. Verified when its email is the provider's verified email.
    async fn create(
        &self,
        req: &RequestInfo,
        c: &Arc<Collection>,
        mapped: &MappedFields,
        user: &ExternalUser,
        create_data: Map<String, Value>,
    ) -> Result<Row, CoreError> {
        if c.is_superusers() {
            // Superusers are made by superusers, never by signing in.
            return Err(AuthError::InvalidCredentials.into());
        }
        let mut body = create_data;
        if !user.email.is_empty() && !body.contains_key("email") {
            body.insert("email".into(), Value::String(user.email.clone()));
        }
        let mut uploads = Vec::new();
        let mut keep_files = Vec::new();
        for (name, value) in [
            (&mapped.id, &user.id),
            (&mapped.name, &user.name),
            (&mapped.username, &user.username),
        ] {
            if !name.is_empty() && !value.is_empty() && !body.contains_key(name) {
                body.insert(name.clone(), Value::String(value.clone()));
            }
        }
        if !mapped.avatar_url.is_empty()
            && !user.avatar_url.is_empty()
            && !body.contains_key(&mapped.avatar_url)
        {
            match c.field(&mapped.avatar_url).map(|f| &f.kind) {
                Some(FieldKind::File { .. }) => {
                    if let Some((upload, file)) = self.avatar(c, &mapped.avatar_url, user).await {
                        uploads.push(upload);
                        keep_files.push(file);
                    }
                }
                Some(_) => {
                    body.insert(
                        mapped.avatar_url.clone(),
                        Value::String(user.avatar_url.clone()),
                    );
                }
                None => {}
            }
        }
        if !body.contains_key("password") {
            let password = self
                .ambient
                .ids
                .random(TOKEN_KEY_ALPHABET, RANDOM_PASSWORD_LEN);
            body.insert("password".into(), Value::String(password.clone()));
            body.insert("passwordConfirm".into(), Value::String(password));
        }
        let mut create_req = req.clone();
        create_req.context = "oauth2";
        create_req.body = Map::new();
        let created = self
            .records
            .create(create_req, &c.id, body, uploads, &ExpandTree::default())
            .await?;
        drop(keep_files);
        let id = created.id().unwrap_or_default();
        let record = self.auth.load(c, id).await?.ok_or(CoreError::NotFound)?;
        if !has_email(&record, user) {
            return Ok(record);
        }
        let mut changes = Row::new();
        changes.insert("verified".into(), Value::Bool(true));
        self.change(c, &record, changes).await
    }

    /// The provider's avatar as an upload to the file field `name` (none when it cannot
    /// be fetched: the account matters more than its picture).
    async fn avatar(
        &self,
        c: &Arc<Collection>,
        name: &str,
        user: &ExternalUser,
    ) -> Option<(Upload, tempfile::TempPath)> {
        let port = self.providers.as_ref()?;
        let max = match c.field(name).map(|f| &f.kind) {
            Some(FieldKind::File { max_size, .. }) if *max_size > 0 => *max_size,
            _ => crate::records::DEFAULT_MAX_SIZE,
        };
        let bytes = match port.download(&user.avatar_url, max).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::info!(error = %e, "OAuth2 avatar left out");
                return None;
            }
        };
        let extension = infer::get(&bytes).map_or("png", |t| t.extension());
        let mut file = tempfile::NamedTempFile::new().ok()?;
        file.write_all(&bytes).ok()?;
        let path = file.into_temp_path();
        let upload = Upload {
            key: name.to_owned(),
            name: format!("avatar.{extension}"),
            path: path.to_path_buf(),
            size: bytes.len() as u64,
        };
        Some((upload, path))
    }

    /// Links `record` to the provider's user in `_externalAuths`, unless it already is. A
    /// link to a record that is gone (its collection was truncated) is moved to `record`.
    async fn link(
        &self,
        c: &Arc<Collection>,
        record: &Row,
        provider: &ProviderConfig,
        user: &ExternalUser,
    ) -> Result<(), CoreError> {
        let links = self.auth.system_collection(EXTERNAL_AUTHS)?;
        let now = self.ambient.now_text();
        if let Some(link) = self.link_of(c, provider, user).await? {
            if field(&link, "recordRef") == field(record, "id") {
                return Ok(());
            }
            let link_id = field(&link, "id").as_str().unwrap_or_default().to_owned();
            let changes: Row = json!({"recordRef": field(record, "id"), "updated": now})
                .as_object()
                .cloned()
                .unwrap_or_default();
            self.auth
                .writer
                .transact::<_, StoreError, _>(move |tx| tx.update(&links, &link_id, &changes))
                .await?;
            return Ok(());
        }
        let row = json!({
            "id": self.ambient.ids.record_id(),
            "collectionRef": c.id,
            "recordRef": field(record, "id"),
            "provider": provider.name,
            "providerId": user.id,
            "created": now,
            "updated": now,
        });
        let written = self
            .auth
            .writer
            .transact::<_, StoreError, _>(move |tx| {
                tx.insert(&links, row.as_object().unwrap_or(&Row::new()))
            })
            .await;
        match written {
            // Linked meanwhile (the same first sign-in twice at once), or the record is
            // already linked to another user of this provider: one per provider and record
            // (PocketBase's unique index), and the first stays.
            Err(StoreError::Unique(_)) => Ok(()),
            other => other.map_err(CoreError::from),
        }
    }
}

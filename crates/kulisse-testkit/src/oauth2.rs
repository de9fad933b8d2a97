//! A fake OAuth2 / OpenID Connect provider on a loopback port, speaking the real protocol:
//! discovery, the authorization redirect, the code exchange (client authentication, PKCE,
//! redirect URL, single use), user info with a bearer token, GitHub's `/user/emails`
//! shape, a JWKS, and RS256 ID tokens. The providers kulisse signs in with cannot run
//! here; this one lets a test decide who signs in and how the provider misbehaves.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use data_encoding::{BASE64, BASE64URL_NOPAD};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The provider's signing key (test only), published in its JWKS as `provider-key`.
const PROVIDER_KEY: &[u8] = include_bytes!("oauth2_keys/provider.pem");
/// Another key, for ID tokens signed by someone else under the provider's key id.
const FORGER_KEY: &[u8] = include_bytes!("oauth2_keys/forger.pem");
/// The public modulus of [`PROVIDER_KEY`], base64url.
const PROVIDER_N: &str = "5VAkcenNqy2Uq-Dxwo4fSIk2Dfr20I4p6HzRPbZRRt0lzl0tO8R02tCXcNQkVZimWBf5aYvetAfcSh7UneHdynNhRqKmHsfp777nfZ6Ij9iDieQrmzK4OIN0zp9TIYErz-mpxUyO-HroVQlLcoWneQfwZeqtU64Dmp-MyqEIKSX3GXpsD9aiSlXUVhm1kwa0IVmyU4cfVHOYZC9NH3_YuEt9sfDe6DS7vNgELxhFaGhq9XAl7_wH1VudD__07cX56oa06LcsTma4iCsijpRGbojt-C1YPZ1IqxYeWS7wpjZ1tm56Pm0BOtmuCupGuQ9Jge8z9dUdgsvC13XF9TGJ-Q";
const KEY_ID: &str = "provider-key";

/// A 1×1 PNG, the avatar every user has.
pub const AVATAR_PNG: &[u8] = &[
    137, 80, 78, 71, 13, 10, 26, 10, 0, 0, 0, 13, 73, 72, 68, 82, 0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0,
    0, 0, 144, 119, 83, 222, 0, 0, 0, 12, 73, 68, 65, 84, 120, 156, 99, 248, 207, 192, 0, 0, 3, 1,
    1, 0, 201, 254, 146, 239, 0, 0, 0, 0, 73, 69, 78, 68, 174, 66, 96, 130,
];

/// How the ID token of a grant looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdToken {
    /// Signed by the provider for this client.
    Valid,
    /// None is sent.
    Missing,
    /// Signed with another key under the provider's key id.
    Forged,
    /// Issued to another client.
    OtherAudience,
    /// Expired an hour ago.
    Expired,
}

/// Who a code signs in, and how.
#[derive(Debug, Clone)]
pub struct Grant {
    /// What the user info endpoint answers (and the ID token's claims).
    pub user: Value,
    /// What `/userinfo/emails` answers (GitHub's shape).
    pub emails: Value,
    /// The ID token sent with the access token.
    pub id_token: IdToken,
    /// The PKCE challenge the code was asked with (checked against the verifier).
    pub challenge: Option<String>,
    /// The redirect URL the code was asked with (checked at the exchange).
    pub redirect_uri: Option<String>,
}

impl Grant {
    /// A grant for `user` with a valid ID token and no PKCE.
    pub fn of(user: Value) -> Self {
        Self {
            user,
            emails: json!([]),
            id_token: IdToken::Valid,
            challenge: None,
            redirect_uri: None,
        }
    }
}

#[derive(Default)]
struct Inner {
    base: String,
    client_id: String,
    client_secret: String,
    codes: HashMap<String, Grant>,
    tokens: HashMap<String, Grant>,
    next_user: Option<Value>,
    exchanges: Vec<Value>,
    counter: u64,
}

/// The running provider.
#[derive(Clone)]
pub struct FakeProvider {
    inner: Arc<Mutex<Inner>>,
    base: String,
}

impl FakeProvider {
    /// Starts a provider for the app `client_id` with secret `client_secret`.
    pub async fn start(client_id: &str, client_secret: &str) -> FakeProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let inner = Arc::new(Mutex::new(Inner {
            base: base.clone(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            ..Inner::default()
        }));
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/authorize", get(authorize))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .route("/userinfo/emails", get(emails))
            .route("/jwks", get(jwks))
            .route(
                "/avatar.png",
                get(|| async { ([(header::CONTENT_TYPE, "image/png")], AVATAR_PNG) }),
            )
            .with_state(Arc::clone(&inner));
        tokio::spawn(async move { axum::serve(listener, app).await.ok() });
        FakeProvider { inner, base }
    }

    /// `path` on the provider.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A fresh authorization code for `grant`.
    pub fn code(&self, grant: Grant) -> String {
        let mut inner = self.inner.lock().unwrap();
        inner.counter += 1;
        let code = format!("code-{}", inner.counter);
        inner.codes.insert(code.clone(), grant);
        code
    }

    /// A fresh code for `user` (valid ID token, no PKCE).
    pub fn code_for(&self, user: Value) -> String {
        self.code(Grant::of(user))
    }

    /// Who the next visit to `/authorize` signs in (the popup flow).
    pub fn sign_in_next(&self, user: Value) {
        self.inner.lock().unwrap().next_user = Some(user);
    }

    /// Every code exchange so far: `{"authorization", "form"}`.
    pub fn exchanges(&self) -> Vec<Value> {
        self.inner.lock().unwrap().exchanges.clone()
    }
}

type Shared = Arc<Mutex<Inner>>;

async fn discovery(State(s): State<Shared>) -> Response {
    let base = s.lock().unwrap().base.clone();
    axum::Json(json!({
        "issuer": base,
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/jwks"),
        "response_types_supported": ["code"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }))
    .into_response()
}

async fn authorize(State(s): State<Shared>, RawQuery(query): RawQuery) -> Response {
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(&query.unwrap_or_default()).unwrap_or_default();
    let mut inner = s.lock().unwrap();
    let Some(user) = inner.next_user.take() else {
        return (StatusCode::BAD_REQUEST, "nobody to sign in").into_response();
    };
    let redirect = q.get("redirect_uri").cloned().unwrap_or_default();
    inner.counter += 1;
    let code = format!("code-{}", inner.counter);
    inner.codes.insert(
        code.clone(),
        Grant {
            challenge: q.get("code_challenge").cloned(),
            redirect_uri: Some(redirect.clone()),
            ..Grant::of(user)
        },
    );
    let state = q.get("state").cloned().unwrap_or_default();
    let sep = if redirect.contains('?') { '&' } else { '?' };
    Redirect::to(&format!("{redirect}{sep}code={code}&state={state}")).into_response()
}

fn invalid(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({ "error": error })),
    )
        .into_response()
}

async fn token(State(s): State<Shared>, headers: HeaderMap, body: String) -> Response {
    let form: HashMap<String, String> = serde_urlencoded::from_str(&body).unwrap_or_default();
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut inner = s.lock().unwrap();
    inner
        .exchanges
        .push(json!({"authorization": authorization, "form": form}));
    let (id, secret) = match authorization.strip_prefix("Basic ") {
        Some(b) => {
            let decoded = String::from_utf8(BASE64.decode(b.as_bytes()).unwrap_or_default())
                .unwrap_or_default();
            let (id, secret) = decoded.split_once(':').unwrap_or_default();
            let decode = |s: &str| form_urlencoded_decode(s);
            (decode(id), decode(secret))
        }
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if id != inner.client_id || secret != inner.client_secret {
        return invalid("invalid_client");
    }
    if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
        return invalid("unsupported_grant_type");
    }
    let Some(grant) = form.get("code").and_then(|c| inner.codes.remove(c)) else {
        return invalid("invalid_grant");
    };
    if let Some(challenge) = &grant.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        if BASE64URL_NOPAD.encode(&Sha256::digest(verifier.as_bytes())) != *challenge {
            return invalid("invalid_grant");
        }
    }
    if let Some(redirect) = &grant.redirect_uri
        && form.get("redirect_uri") != Some(redirect)
    {
        return invalid("invalid_grant");
    }
    inner.counter += 1;
    let access = format!("access-{}", inner.counter);
    let id_token = id_token(&inner, &grant);
    inner.tokens.insert(access.clone(), grant);
    let mut answer = json!({
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": 3600,
        "refresh_token": format!("refresh-{}", inner.counter),
    });
    if let Some(t) = id_token {
        answer["id_token"] = json!(t);
    }
    axum::Json(answer).into_response()
}

fn form_urlencoded_decode(s: &str) -> String {
    serde_urlencoded::from_str::<Vec<(String, String)>>(&format!("v={s}"))
        .ok()
        .and_then(|v| v.into_iter().next())
        .map(|(_, v)| v)
        .unwrap_or_default()
}

fn id_token(inner: &Inner, grant: &Grant) -> Option<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut claims = grant.user.as_object().cloned().unwrap_or_default();
    claims.insert("iss".into(), json!(inner.base));
    claims.insert("aud".into(), json!(inner.client_id));
    claims.insert("iat".into(), json!(now));
    claims.insert("exp".into(), json!(now + 3600));
    let key = match grant.id_token {
        IdToken::Missing => return None,
        IdToken::Forged => FORGER_KEY,
        IdToken::OtherAudience => {
            claims.insert("aud".into(), json!("another-app"));
            PROVIDER_KEY
        }
        IdToken::Expired => {
            claims.insert("exp".into(), json!(now - 3600));
            PROVIDER_KEY
        }
        IdToken::Valid => PROVIDER_KEY,
    };
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(KEY_ID.to_owned());
    jsonwebtoken::encode(&header, &claims, &EncodingKey::from_rsa_pem(key).unwrap()).ok()
}

fn bearer<'a>(inner: &'a Inner, headers: &HeaderMap) -> Option<&'a Grant> {
    let token = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")?;
    inner.tokens.get(token)
}

async fn userinfo(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let inner = s.lock().unwrap();
    match bearer(&inner, &headers) {
        Some(grant) => axum::Json(grant.user.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn emails(State(s): State<Shared>, headers: HeaderMap) -> Response {
    let inner = s.lock().unwrap();
    match bearer(&inner, &headers) {
        Some(grant) => axum::Json(grant.emails.clone()).into_response(),
        None => StatusCode::UNAUTHORIZED.into_response(),
    }
}

async fn jwks() -> Response {
    axum::Json(json!({"keys": [{"kty": "RSA", "kid": KEY_ID, "use": "sig", "alg": "RS256", "n": PROVIDER_N, "e": "AQAB"}]}))
        .into_response()
}

/// A Sign in with Apple key (PKCS #8, P-256; test only).
pub const APPLE_PRIVATE_KEY: &str = include_str!("oauth2_keys/apple.p8");
const APPLE_PUBLIC_KEY: &[u8] = include_bytes!("oauth2_keys/apple.pub.pem");

/// The claims of a client secret signed with [`APPLE_PRIVATE_KEY`] (ES256), if its
/// signature checks; expiry and audience are the caller's to look at.
pub fn apple_secret_claims(secret: &str) -> Option<Value> {
    let key = jsonwebtoken::DecodingKey::from_ec_pem(APPLE_PUBLIC_KEY).ok()?;
    let mut validation = jsonwebtoken::Validation::new(Algorithm::ES256);
    validation.validate_aud = false;
    jsonwebtoken::decode::<Value>(secret, &key, &validation)
        .ok()
        .map(|d| d.claims)
}

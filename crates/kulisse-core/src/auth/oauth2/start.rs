//! The start of a sign-in: what `auth-methods` lists per provider (spec §5.7). The client
//! keeps the state and the PKCE verifier, sends its user to the authorization URL (with
//! its redirect URL appended), and comes back with a code.

use data_encoding::BASE64URL_NOPAD;
use kulisse_schema::collection::ProviderConfig;
use kulisse_schema::ids::TOKEN_KEY_ALPHABET;
use sha2::{Digest, Sha256};

use crate::Ambient;

/// Characters of a state (PocketBase: 30).
const STATE_LEN: usize = 30;
/// Characters of a PKCE verifier (RFC 7636 allows 43 to 128; PocketBase uses 43).
const VERIFIER_LEN: usize = 43;

/// One provider as `auth-methods` lists it.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderStart {
    /// The provider's name.
    pub name: String,
    /// The name to show.
    pub display_name: String,
    /// An image to show (kulisse ships none: empty).
    pub logo: String,
    /// The state the client checks when the provider redirects back.
    pub state: String,
    /// The authorization URL, ending in `redirect_uri=` for the client to complete.
    #[serde(rename = "authURL")]
    pub auth_url: String,
    /// The same (the SDKs' older name).
    #[serde(rename = "authUrl")]
    pub auth_url_legacy: String,
    /// The PKCE verifier the client sends back with the code.
    pub code_verifier: String,
    /// Its challenge (empty without PKCE).
    pub code_challenge: String,
    /// `S256` (empty without PKCE).
    pub code_challenge_method: String,
}

/// A fresh state and verifier for `provider`, whose endpoints are resolved.
pub(super) fn start(provider: &ProviderConfig, ambient: &Ambient) -> ProviderStart {
    let state = ambient.ids.random(TOKEN_KEY_ALPHABET, STATE_LEN);
    let code_verifier = ambient.ids.random(TOKEN_KEY_ALPHABET, VERIFIER_LEN);
    let (code_challenge, method) = if provider.pkce {
        let digest = Sha256::digest(code_verifier.as_bytes());
        (BASE64URL_NOPAD.encode(&digest), "S256")
    } else {
        (String::new(), "")
    };
    // The parameters in name order and `redirect_uri` last and empty, as PocketBase
    // builds them: the SDKs append the (encoded) redirect URL to this string.
    let mut params: Vec<(&str, String)> = vec![
        ("client_id", provider.client_id.clone()),
        ("response_type", "code".to_owned()),
        ("scope", provider.scopes.join(" ")),
        ("state", state.clone()),
    ];
    if provider.pkce {
        params.push(("code_challenge", code_challenge.clone()));
        params.push(("code_challenge_method", method.to_owned()));
    }
    params.extend(
        provider
            .auth_params
            .iter()
            .map(|(k, v)| (*k, (*v).to_owned())),
    );
    params.sort_by(|a, b| a.0.cmp(b.0));
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &params {
        query.append_pair(k, v);
    }
    let separator = if provider.auth_url.contains('?') {
        '&'
    } else {
        '?'
    };
    let auth_url = format!(
        "{}{separator}{}&redirect_uri=",
        provider.auth_url,
        query.finish()
    );
    ProviderStart {
        name: provider.name.clone(),
        display_name: provider.display_name.clone(),
        logo: String::new(),
        state,
        auth_url_legacy: auth_url.clone(),
        auth_url,
        code_verifier,
        code_challenge,
        code_challenge_method: method.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_url_ends_in_an_empty_redirect_and_carries_the_challenge_of_the_verifier() {
        let provider = kulisse_schema::collection::ProviderConfig {
            name: "oidc".into(),
            client_id: "cid".into(),
            auth_url: "https://id.example.com/auth".into(),
            pkce: true,
            scopes: &["openid", "email"],
            ..Default::default()
        };
        let s = start(&provider, &Ambient::system());
        assert_eq!(s.state.len(), 30);
        assert_eq!(s.code_verifier.len(), 43);
        let digest = Sha256::digest(s.code_verifier.as_bytes());
        assert_eq!(s.code_challenge, BASE64URL_NOPAD.encode(&digest));
        assert_eq!(
            s.auth_url,
            format!(
                "https://id.example.com/auth?client_id=cid&code_challenge={}&code_challenge_method=S256&response_type=code&scope=openid+email&state={}&redirect_uri=",
                s.code_challenge, s.state
            )
        );
        let plain = start(
            &ProviderConfig {
                pkce: false,
                ..provider
            },
            &Ambient::system(),
        );
        assert!(!plain.auth_url.contains("code_challenge"));
        assert_eq!(plain.code_challenge_method, "");
    }
}

//! OAuth2 sign-in (issue #16, spec §5.7) against a fake provider that speaks the real
//! protocol on a loopback port: discovery, PKCE, the code exchange, ID tokens checked
//! against the provider's keys, linking through `_externalAuths`, `createData` and
//! `mappedFields`, the two account-takeover holes PocketBase had, and the popup flow's
//! redirect over realtime.

use std::time::Duration;

use kulisse_testkit::{
    APPLE_PRIVATE_KEY, FakeProvider, Grant, IdToken, Sse, TestServer, apple_secret_claims,
    engine_tests,
};
use serde_json::{Value, json};

engine_tests!(
    a_first_sign_in_creates_a_linked_verified_record_and_the_next_finds_it,
    an_email_the_provider_did_not_verify_never_links_or_verifies,
    create_data_email_never_picks_the_record_to_link,
    a_verified_email_takes_over_an_unverified_account_and_resets_its_password,
    tokens_and_codes_that_fail_a_check_are_refused,
    the_form_and_the_collection_get_pocketbases_answers,
    client_secrets_are_never_output_and_survive_a_save,
    github_users_sign_in_with_their_verified_primary_address,
    oauth2_can_be_the_first_of_two_factors,
    the_popup_redirect_hands_the_code_to_the_waiting_page_once,
    superusers_make_apples_client_secret,
    a_deleted_or_truncated_account_leaves_no_link_behind,
    a_signed_in_user_links_a_provider_to_their_own_account,
    every_named_provider_signs_in_through_its_endpoint_settings,
);

const CLIENT_ID: &str = "kulisse-app";
const CLIENT_SECRET: &str = "s3cret value/+";
const REDIRECT: &str = "http://app.test/oauth2-callback";

/// A server whose `users` sign in with the fake provider as `oidc` (by its discovery
/// document), and the provider.
async fn oauth2_server() -> (TestServer, FakeProvider, String) {
    let provider = FakeProvider::start(CLIENT_ID, CLIENT_SECRET).await;
    let srv = TestServer::start().await;
    srv.without_rate_limits().await;
    let su = srv.superuser_token().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"oauth2": {"enabled": true, "providers": [{
                "name": "oidc", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "displayName": "Fake ID",
                "extra": {"discoveryURL": provider.url("/.well-known/openid-configuration")},
            }]}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    (srv, provider, su)
}

fn person(sub: &str, email: &str, verified: bool) -> Value {
    json!({"sub": sub, "name": format!("Person {sub}"), "preferred_username": sub,
        "email": email, "email_verified": verified})
}

async fn sign_in(srv: &TestServer, token: Option<&str>, body: Value) -> (u16, Value) {
    srv.send(
        "POST",
        "/api/collections/users/auth-with-oauth2",
        token,
        Some(body),
    )
    .await
}

fn form(code: &str) -> Value {
    json!({"provider": "oidc", "code": code, "codeVerifier": "", "redirectURL": REDIRECT})
}

async fn links_of(srv: &TestServer, su: &str, record: &str) -> Vec<Value> {
    let filter = kulisse_testkit::urlencode(&format!("recordRef='{record}'"));
    let (s, body) = srv
        .send(
            "GET",
            &format!("/api/collections/_externalAuths/records?filter={filter}"),
            Some(su),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    body["items"].as_array().unwrap().clone()
}

async fn a_first_sign_in_creates_a_linked_verified_record_and_the_next_finds_it() {
    let (srv, provider, su) = oauth2_server().await;
    let (s, methods) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(s, 200, "{methods}");
    let listed = &methods["oauth2"]["providers"][0];
    assert_eq!(methods["oauth2"]["enabled"], true);
    assert_eq!(listed["name"], "oidc");
    assert_eq!(listed["displayName"], "Fake ID");
    let auth_url = listed["authURL"].as_str().unwrap();
    assert!(
        auth_url.starts_with(&format!(
            "{}?client_id={CLIENT_ID}&code_challenge=",
            provider.url("/authorize")
        )),
        "{auth_url}"
    );
    assert!(auth_url.ends_with("&redirect_uri="), "{auth_url}");
    assert!(auth_url.contains("&scope=openid+email+profile&state="));
    assert_eq!(listed["authUrl"], listed["authURL"]);
    assert_eq!(listed["state"].as_str().unwrap().len(), 30);
    assert_eq!(listed["codeVerifier"].as_str().unwrap().len(), 43);
    assert_eq!(listed["codeChallengeMethod"], "S256");
    assert_eq!(methods["authProviders"][0]["name"], "oidc");

    let mut user = person("ada", "ada@example.com", true);
    user["picture"] = json!(provider.url("/avatar.png"));
    let code = provider.code(Grant {
        challenge: Some(listed["codeChallenge"].as_str().unwrap().to_owned()),
        redirect_uri: Some(REDIRECT.to_owned()),
        ..Grant::of(user)
    });
    let mut body = form(&code);
    body["codeVerifier"] = listed["codeVerifier"].clone();
    let (s, first) = sign_in(&srv, None, body).await;
    assert_eq!(s, 200, "{first}");
    assert_eq!(first.as_object().unwrap().len(), 3, "meta, record, token");
    let meta = &first["meta"];
    assert_eq!(meta["isNew"], true);
    assert_eq!(meta["id"], "ada");
    assert_eq!(meta["email"], "ada@example.com");
    assert_eq!(meta["username"], "ada");
    assert_eq!(meta["rawUser"]["sub"], "ada");
    assert!(meta["accessToken"].as_str().unwrap().starts_with("access-"));
    assert!(
        meta["refreshToken"]
            .as_str()
            .unwrap()
            .starts_with("refresh-")
    );
    assert!(meta["expiry"].as_str().unwrap().ends_with('Z'), "{meta}");
    let record = &first["record"];
    assert_eq!(record["email"], "ada@example.com");
    assert_eq!(record["verified"], true);
    assert_eq!(record["name"], "Person ada");
    assert!(
        record["avatar"].as_str().unwrap().starts_with("avatar"),
        "the avatar was downloaded into the file field: {record}"
    );
    let id = record["id"].as_str().unwrap();
    let (s, refreshed) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            first["token"].as_str(),
            None,
        )
        .await;
    assert_eq!(s, 200, "the token signs in: {refreshed}");

    let exchange = &provider.exchanges()[0];
    assert!(
        exchange["authorization"]
            .as_str()
            .unwrap()
            .starts_with("Basic "),
        "the client authenticates with Basic: {exchange}"
    );
    assert_eq!(exchange["form"]["code_verifier"], listed["codeVerifier"]);
    assert_eq!(exchange["form"]["redirect_uri"], REDIRECT);

    let links = links_of(&srv, &su, id).await;
    assert_eq!(links.len(), 1, "{links:?}");
    assert_eq!(links[0]["provider"], "oidc");
    assert_eq!(links[0]["providerId"], "ada");

    let (s, second) = sign_in(
        &srv,
        None,
        form(&provider.code_for(person("ada", "ada@example.com", true))),
    )
    .await;
    assert_eq!(s, 200, "{second}");
    assert_eq!(second["meta"]["isNew"], false);
    assert_eq!(second["record"]["id"], id);
    assert_eq!(links_of(&srv, &su, id).await.len(), 1, "linked once");
}

async fn an_email_the_provider_did_not_verify_never_links_or_verifies() {
    let (srv, provider, su) = oauth2_server().await;
    let victim = srv.create_user("victim@example.com", "victim-pass").await;
    let victim_id = victim["id"].as_str().unwrap();
    let code = provider.code_for(person("mallory", "victim@example.com", false));
    let (s, body) = sign_in(&srv, None, form(&code)).await;
    if s == 200 {
        assert_ne!(body["record"]["id"], victim_id, "{body}");
        assert_ne!(body["record"]["email"], "victim@example.com", "{body}");
        assert_eq!(
            body["meta"]["email"], "",
            "an unverified email is not the user's"
        );
    } else {
        assert_eq!(s, 400, "the new record lacks its required email: {body}");
    }
    assert!(links_of(&srv, &su, victim_id).await.is_empty());
    let (_, stored) = srv
        .send(
            "GET",
            &format!("/api/collections/users/records/{victim_id}"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(stored["verified"], false);
    assert!(
        !srv.login("users", "victim@example.com", "victim-pass")
            .await
            .is_empty(),
        "the victim's password still works"
    );
}

async fn create_data_email_never_picks_the_record_to_link() {
    let (srv, provider, su) = oauth2_server().await;
    let victim = srv.create_user("target@example.com", "target-pass").await;
    let victim_id = victim["id"].as_str().unwrap();
    let code = provider.code_for(person("eve", "eve@example.com", true));
    let mut body = form(&code);
    body["createData"] = json!({"email": "target@example.com"});
    let (s, answer) = sign_in(&srv, None, body).await;
    assert_eq!(
        s, 400,
        "the address is taken, so no record is made: {answer}"
    );
    assert!(links_of(&srv, &su, victim_id).await.is_empty());

    // A new address from createData is the record's, but not verified by the provider.
    let code = provider.code_for(person("eve", "eve@example.com", true));
    let mut body = form(&code);
    body["createData"] = json!({"email": "eve.other@example.com", "name": "Eve"});
    let (s, answer) = sign_in(&srv, None, body).await;
    assert_eq!(s, 200, "{answer}");
    assert_eq!(answer["record"]["email"], "eve.other@example.com");
    assert_eq!(answer["record"]["verified"], false);
    assert_eq!(
        answer["record"]["name"], "Eve",
        "createData beats the mapped name"
    );

    // createData cannot set what a guest's create may not.
    let code = provider.code_for(person("trent", "trent@example.com", true));
    let mut body = form(&code);
    body["createData"] = json!({"verified": true, "email": "trent.other@example.com"});
    let (s, answer) = sign_in(&srv, None, body).await;
    assert_eq!(s, 400, "{answer}");
}

async fn a_verified_email_takes_over_an_unverified_account_and_resets_its_password() {
    let (srv, provider, su) = oauth2_server().await;
    let squatted = srv.create_user("owner@example.com", "squatter-pass").await;
    let id = squatted["id"].as_str().unwrap();
    let squatter = srv
        .login("users", "owner@example.com", "squatter-pass")
        .await;
    let code = provider.code_for(person("owner", "owner@example.com", true));
    let (s, body) = sign_in(&srv, None, form(&code)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["record"]["id"], id);
    assert_eq!(body["record"]["verified"], true);
    assert_eq!(body["meta"]["isNew"], false);
    assert_eq!(links_of(&srv, &su, id).await.len(), 1);
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-password",
            None,
            Some(json!({"identity": "owner@example.com", "password": "squatter-pass"})),
        )
        .await;
    assert_eq!(s, 400, "the squatter's password is gone");
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&squatter),
            None,
        )
        .await;
    assert_eq!(s, 401, "and so are the squatter's sessions");
}

async fn tokens_and_codes_that_fail_a_check_are_refused() {
    let (srv, provider, _) = oauth2_server().await;
    let token_error =
        json!({"data": {}, "message": "Failed to fetch OAuth2 token.", "status": 400});
    for (kind, why) in [
        (IdToken::Forged, "signed by another key"),
        (IdToken::OtherAudience, "issued to another app"),
        (IdToken::Expired, "expired"),
    ] {
        let code = provider.code(Grant {
            id_token: kind,
            ..Grant::of(person("ivan", "ivan@example.com", true))
        });
        let (s, body) = sign_in(&srv, None, form(&code)).await;
        assert_eq!((s, &body), (400, &token_error), "an ID token {why}");
    }
    let code = provider.code_for(person("ivan", "ivan@example.com", true));
    let (s, _) = sign_in(&srv, None, form(&code)).await;
    assert_eq!(s, 200);
    let (s, body) = sign_in(&srv, None, form(&code)).await;
    assert_eq!((s, &body), (400, &token_error), "a code is used once");

    let code = provider.code(Grant {
        challenge: Some("not-the-challenge-of-anything".into()),
        ..Grant::of(person("ivan", "ivan@example.com", true))
    });
    let mut body = form(&code);
    body["codeVerifier"] = json!("a-verifier-that-does-not-match-the-challenge");
    let (s, answer) = sign_in(&srv, None, body).await;
    assert_eq!((s, &answer), (400, &token_error), "PKCE");

    let code = provider.code(Grant {
        redirect_uri: Some("http://elsewhere.test/".into()),
        ..Grant::of(person("ivan", "ivan@example.com", true))
    });
    let (s, answer) = sign_in(&srv, None, form(&code)).await;
    assert_eq!((s, &answer), (400, &token_error), "another redirect URL");

    let code = provider.code(Grant {
        id_token: IdToken::Missing,
        ..Grant::of(json!({"name": "no subject"}))
    });
    let (s, answer) = sign_in(&srv, None, form(&code)).await;
    assert_eq!(s, 400, "{answer}");
    assert_eq!(answer["message"], "Failed to fetch OAuth2 user.");
}

async fn the_form_and_the_collection_get_pocketbases_answers() {
    let (srv, provider, su) = oauth2_server().await;
    let (s, body) = sign_in(&srv, None, json!({"provider": "nope", "code": "x"})).await;
    assert_eq!(s, 400);
    assert_eq!(
        body,
        json!({"data": {"provider": {"code": "validation_invalid_provider",
            "message": "Provider with name nope is missing or is not enabled.", "params": {"name": "nope"}}},
            "message": "An error occurred while loading the submitted data.", "status": 400})
    );
    let (s, body) = sign_in(&srv, None, json!({"provider": "oidc"})).await;
    assert_eq!(s, 400);
    assert_eq!(body["data"]["code"]["code"], "validation_required");
    let (s, body) = sign_in(
        &srv,
        None,
        json!({"provider": "oidc", "code": "x", "createData": "text"}),
    )
    .await;
    assert_eq!(
        (s, body["message"].as_str()),
        (
            400,
            Some("An error occurred while loading the submitted data.")
        )
    );
    // The old name of redirectURL still works.
    let code = provider.code(Grant {
        redirect_uri: Some(REDIRECT.to_owned()),
        ..Grant::of(person("olga", "olga@example.com", true))
    });
    let (s, body) = sign_in(
        &srv,
        None,
        json!({"provider": "oidc", "code": code, "redirectUrl": REDIRECT}),
    )
    .await;
    assert_eq!(s, 200, "{body}");

    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"oauth2": {"enabled": true, "providers": [
                {"name": "oidc", "clientId": "a", "clientSecret": "b", "authURL": "not a url"},
                {"name": "myspace", "clientId": "a", "clientSecret": "b"},
                {"name": "github", "clientId": "a"},
            ]}})),
        )
        .await;
    assert_eq!(s, 400, "{body}");
    let p = &body["data"]["oauth2"]["providers"];
    assert_eq!(p["0"]["authURL"]["code"], "validation_is_url");
    assert_eq!(p["1"]["name"]["code"], "validation_missing_provider");
    assert_eq!(p["2"]["clientSecret"]["code"], "validation_required");

    let (s, _) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"oauth2": {"enabled": false}})),
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = sign_in(&srv, None, form("x")).await;
    assert_eq!(s, 403);
    assert_eq!(
        body["message"],
        "The collection is not configured to allow OAuth2 authentication."
    );
    let (_, methods) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(
        methods["oauth2"],
        json!({"providers": [], "enabled": false})
    );
}

async fn client_secrets_are_never_output_and_survive_a_save() {
    let (srv, provider, su) = oauth2_server().await;
    let (s, c) = srv
        .send("GET", "/api/collections/users", Some(&su), None)
        .await;
    assert_eq!(s, 200);
    let listed = &c["oauth2"]["providers"][0];
    assert_eq!(listed["clientId"], CLIENT_ID);
    assert!(listed.get("clientSecret").is_none(), "{listed}");
    // Saving what was read (without the secret) keeps it.
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"oauth2": c["oauth2"]})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let code = provider.code_for(person("sam", "sam@example.com", true));
    let (s, body) = sign_in(&srv, None, form(&code)).await;
    assert_eq!(s, 200, "the stored secret still signs in: {body}");
    let (_, all) = srv.send("GET", "/api/collections", Some(&su), None).await;
    assert!(!all.to_string().contains(CLIENT_SECRET));
}

async fn github_users_sign_in_with_their_verified_primary_address() {
    let (srv, provider, su) = oauth2_server().await;
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"oauth2": {"enabled": true, "providers": [{
                "name": "github", "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "authURL": provider.url("/authorize"), "tokenURL": provider.url("/token"),
                "userInfoURL": provider.url("/userinfo"),
            }]}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let octo = json!({"id": 583231, "login": "octocat", "name": "The Octocat",
        "email": "public@example.com", "avatar_url": provider.url("/avatar.png")});
    let code = provider.code(Grant {
        emails: json!([
            {"email": "old@example.com", "primary": false, "verified": true},
            {"email": "octo@example.com", "primary": true, "verified": true},
        ]),
        id_token: IdToken::Missing,
        ..Grant::of(octo.clone())
    });
    let (s, body) = sign_in(
        &srv,
        None,
        json!({"provider": "github", "code": code, "redirectURL": REDIRECT}),
    )
    .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["meta"]["id"], "583231");
    assert_eq!(body["meta"]["username"], "octocat");
    assert_eq!(body["meta"]["email"], "octo@example.com");
    assert_eq!(body["record"]["email"], "octo@example.com");
    assert_eq!(body["record"]["verified"], true);

    // An unverified primary address is no address: the public one is never used either.
    let mut other = octo;
    other["id"] = json!(1);
    let code = provider.code(Grant {
        emails: json!([{"email": "new@example.com", "primary": true, "verified": false}]),
        id_token: IdToken::Missing,
        ..Grant::of(other)
    });
    let form = json!({"provider": "github", "code": code, "redirectURL": REDIRECT,
        "createData": {"email": "chosen@example.com"}});
    let (s, body) = sign_in(&srv, None, form).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["meta"]["email"], "");
    assert_eq!(body["record"]["email"], "chosen@example.com");
    assert_eq!(body["record"]["verified"], false);
}

async fn oauth2_can_be_the_first_of_two_factors() {
    let (srv, provider, su) = oauth2_server().await;
    let user = srv.create_user("two@example.com", "two-factors").await;
    let path = format!(
        "/api/collections/users/records/{}",
        user["id"].as_str().unwrap()
    );
    let (s, body) = srv
        .send("PATCH", &path, Some(&su), Some(json!({"verified": true})))
        .await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"mfa": {"enabled": true}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let code = provider.code_for(person("two", "two@example.com", true));
    let (s, challenge) = sign_in(&srv, None, form(&code)).await;
    assert_eq!(s, 401, "{challenge}");
    let mfa_id = challenge["mfaId"].as_str().unwrap();
    assert_eq!(challenge.as_object().unwrap().len(), 1);
    // A second OAuth2 sign-in is the same method again.
    let code = provider.code_for(person("two", "two@example.com", true));
    let mut body = form(&code);
    body["mfaId"] = json!(mfa_id);
    let (s, answer) = sign_in(&srv, None, body).await;
    assert_eq!(s, 400, "{answer}");
    assert_eq!(
        answer["message"],
        "A different authentication method is required."
    );
    let (s, body) = srv
        .send(
            "POST",
            "/api/collections/users/auth-with-password",
            None,
            Some(
                json!({"identity": "two@example.com", "password": "two-factors", "mfaId": mfa_id}),
            ),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["record"]["id"], user["id"]);
}

async fn the_popup_redirect_hands_the_code_to_the_waiting_page_once() {
    let srv = TestServer::start().await;
    let no_follow = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut sse = Sse::connect(&srv.client, &srv.base).await;
    let (s, body) = srv
        .send(
            "POST",
            "/api/realtime",
            None,
            Some(json!({"clientId": sse.client_id, "subscriptions": ["@oauth2"]})),
        )
        .await;
    assert_eq!(s, 204, "{body}");
    let redirect = |query: String| {
        let url = srv.url(&format!("/api/oauth2-redirect?{query}"));
        let client = no_follow.clone();
        async move { client.get(url).send().await.unwrap() }
    };
    let answer = redirect(format!("state={}&code=the-code", sse.client_id)).await;
    assert_eq!(answer.status().as_u16(), 307);
    assert_eq!(
        answer.headers()["location"],
        "http://localhost:8090/_/#/auth/oauth2-redirect-success"
    );
    let frame = sse.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame.event, "@oauth2");
    assert_eq!(
        frame.data,
        json!({"state": sse.client_id, "code": "the-code"})
    );

    let again = redirect(format!("state={}&code=the-code", sse.client_id)).await;
    assert_eq!(
        again.headers()["location"],
        "http://localhost:8090/_/#/auth/oauth2-redirect-failure",
        "the subscription ended with its code"
    );
    let unknown = redirect("state=nobody&code=x".into()).await;
    assert!(
        unknown.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("failure")
    );

    // Apple posts the form back: 303, so the browser follows with a GET.
    let mut apple = Sse::connect(&srv.client, &srv.base).await;
    srv.send(
        "POST",
        "/api/realtime",
        None,
        Some(json!({"clientId": apple.client_id, "subscriptions": ["@oauth2"]})),
    )
    .await;
    let posted = no_follow
        .post(srv.url("/api/oauth2-redirect"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("state={}&code=0123&user=%7B%7D", apple.client_id))
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status().as_u16(), 303);
    assert!(
        posted.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("success")
    );
    let frame = apple.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame.data["code"], "0123", "the code stays text");

    // A provider's error reaches the page, and the popup shows the failure.
    let mut refused = Sse::connect(&srv.client, &srv.base).await;
    srv.send(
        "POST",
        "/api/realtime",
        None,
        Some(json!({"clientId": refused.client_id, "subscriptions": ["@oauth2"]})),
    )
    .await;
    let answer = redirect(format!("state={}&error=access_denied", refused.client_id)).await;
    assert!(
        answer.headers()["location"]
            .to_str()
            .unwrap()
            .ends_with("failure")
    );
    let frame = refused.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!(frame.data["error"], "access_denied");
}

async fn superusers_make_apples_client_secret() {
    let srv = TestServer::start().await;
    let su = srv.superuser_token().await;
    let path = "/api/settings/apple/generate-client-secret";
    let form = json!({"clientId": "com.example.app", "teamId": "TEAM123456",
        "keyId": "KEY1234567", "privateKey": APPLE_PRIVATE_KEY, "duration": 3600});
    let (s, body) = srv.send("POST", path, Some(&su), Some(form.clone())).await;
    assert_eq!(s, 200, "{body}");
    let secret = body["secret"].as_str().unwrap();
    let claims = apple_secret_claims(secret).expect("signed with the given key");
    assert_eq!(claims["iss"], "TEAM123456");
    assert_eq!(claims["sub"], "com.example.app");
    assert_eq!(claims["aud"], json!(["https://appleid.apple.com"]));
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        3600
    );
    let header: Value = serde_json::from_slice(
        &data_encoding::BASE64URL_NOPAD
            .decode(secret.split('.').next().unwrap().as_bytes())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["kid"].as_str()),
        (Some("ES256"), Some("KEY1234567"))
    );

    let (s, body) = srv
        .send(
            "POST",
            path,
            Some(&su),
            Some(json!({"clientId": "c", "teamId": "t", "keyId": "k", "privateKey": "nope", "duration": 99_999_999})),
        )
        .await;
    assert_eq!(s, 400);
    assert_eq!(body["message"], "Invalid client secret data.");
    assert_eq!(body["data"]["teamId"]["code"], "validation_length_invalid");
    assert_eq!(body["data"]["keyId"]["code"], "validation_length_invalid");
    assert_eq!(
        body["data"]["privateKey"]["code"],
        "validation_match_invalid"
    );
    assert_eq!(body["data"]["duration"]["params"]["threshold"], 15_777_000);
    let (s, _) = srv.send("POST", path, None, Some(form.clone())).await;
    assert_eq!(s, 401);
    srv.create_user("apple@example.com", "apple-pass").await;
    let token = srv.login("users", "apple@example.com", "apple-pass").await;
    let (s, _) = srv.send("POST", path, Some(&token), Some(form)).await;
    assert_eq!(s, 403);
}

async fn a_deleted_or_truncated_account_leaves_no_link_behind() {
    let (srv, provider, su) = oauth2_server().await;
    let sign_in_as = |sub: &'static str| {
        let code = provider.code_for(person(sub, &format!("{sub}@example.com"), true));
        let srv = &srv;
        async move { sign_in(srv, None, form(&code)).await }
    };
    let (s, first) = sign_in_as("dora").await;
    assert_eq!(s, 200, "{first}");
    let id = first["record"]["id"].as_str().unwrap().to_owned();
    assert_eq!(links_of(&srv, &su, &id).await.len(), 1);
    let filter = kulisse_testkit::urlencode(&format!("recordRef='{id}'"));
    let origins_path = format!("/api/collections/_authOrigins/records?filter={filter}");
    // The login's origin is noted after its answer.
    for _ in 0..100 {
        let (_, origins) = srv.send("GET", &origins_path, Some(&su), None).await;
        if origins["totalItems"] == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (s, _) = srv
        .send(
            "DELETE",
            &format!("/api/collections/users/records/{id}"),
            Some(&su),
            None,
        )
        .await;
    assert_eq!(s, 204);
    assert!(
        links_of(&srv, &su, &id).await.is_empty(),
        "the link went with the record"
    );
    let (_, origins) = srv.send("GET", &origins_path, Some(&su), None).await;
    assert_eq!(
        origins["totalItems"], 0,
        "and so did its login origins: {origins}"
    );
    let (s, again) = sign_in_as("dora").await;
    assert_eq!((s, &again["meta"]["isNew"]), (200, &json!(true)), "{again}");

    let (s, _) = srv
        .send("DELETE", "/api/collections/users/truncate", Some(&su), None)
        .await;
    assert_eq!(s, 204);
    let (s, after) = sign_in_as("dora").await;
    assert_eq!((s, &after["meta"]["isNew"]), (200, &json!(true)), "{after}");
    let (s, next) = sign_in_as("dora").await;
    assert_eq!(s, 200, "{next}");
    assert_eq!(
        next["meta"]["isNew"], false,
        "the stale link now points at the new record"
    );
    assert_eq!(next["record"]["id"], after["record"]["id"]);
}

async fn a_signed_in_user_links_a_provider_to_their_own_account() {
    let (srv, provider, su) = oauth2_server().await;
    let me = srv.create_user("me@example.com", "my-password").await;
    let id = me["id"].as_str().unwrap();
    let token = srv.login("users", "me@example.com", "my-password").await;
    // Another address at the provider: linked to the requester all the same.
    let code = provider.code_for(person("me-elsewhere", "other@example.com", true));
    let (s, body) = sign_in(&srv, Some(&token), form(&code)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["record"]["id"], id);
    assert_eq!(body["meta"]["isNew"], false);
    assert_eq!(
        body["record"]["verified"], false,
        "not the record's address"
    );
    // The record's own address, verified by the provider: verified, nothing reset.
    let code = provider.code_for(person("me", "me@example.com", true));
    let (s, body) = sign_in(&srv, Some(&token), form(&code)).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(body["record"]["verified"], true);
    let links = links_of(&srv, &su, id).await;
    assert_eq!(
        links.len(),
        1,
        "one link per provider and record: {links:?}"
    );
    assert_eq!(links[0]["providerId"], "me-elsewhere", "the first stays");
    let (s, _) = srv
        .send(
            "POST",
            "/api/collections/users/auth-refresh",
            Some(&token),
            None,
        )
        .await;
    assert_eq!(s, 200, "the session the link was made in goes on");
    assert!(
        !srv.login("users", "me@example.com", "my-password")
            .await
            .is_empty()
    );
}

async fn every_named_provider_signs_in_through_its_endpoint_settings() {
    let (srv, provider, su) = oauth2_server().await;
    let avatar = provider.url("/avatar.png");
    // (provider, its user as it shapes it, the id, username and email kulisse reads)
    let cases = [
        (
            "google",
            json!({"sub": "g1", "name": "G", "email": "g@example.com", "email_verified": true, "picture": avatar}),
            "g1",
            "",
            "g@example.com",
        ),
        (
            "apple",
            json!({"sub": "a1", "email": "a@example.com", "email_verified": "true"}),
            "a1",
            "",
            "a@example.com",
        ),
        (
            "microsoft",
            json!({"id": "m1", "displayName": "M", "mail": "m@example.com"}),
            "m1",
            "",
            "",
        ),
        (
            "gitlab",
            json!({"id": 11, "username": "gl", "name": "GL", "email": "gl@example.com", "confirmed_at": "2024-01-01T00:00:00Z", "avatar_url": avatar}),
            "11",
            "gl",
            "gl@example.com",
        ),
        (
            "discord",
            json!({"id": "d1", "username": "dd", "global_name": "D D", "email": "d@example.com", "verified": true}),
            "d1",
            "dd",
            "d@example.com",
        ),
        (
            "facebook",
            json!({"id": "f1", "name": "F", "email": "f@example.com", "picture": {"data": {"url": avatar}}}),
            "f1",
            "",
            "f@example.com",
        ),
        (
            "twitch",
            json!({"data": [{"id": "t1", "login": "tw", "display_name": "T", "email": "t@example.com"}]}),
            "t1",
            "tw",
            "t@example.com",
        ),
        (
            "twitter",
            json!({"data": {"id": "x1", "username": "ex", "name": "X"}}),
            "x1",
            "ex",
            "",
        ),
        (
            "spotify",
            json!({"id": "s1", "display_name": "S", "email": "s@example.com"}),
            "s1",
            "",
            "",
        ),
        (
            "gitea",
            json!({"id": 5, "login": "gt", "full_name": "G T", "email": "gt@example.com"}),
            "5",
            "gt",
            "",
        ),
    ];
    let providers: Vec<Value> = cases
        .iter()
        .map(|(name, ..)| {
            let user_info = if *name == "apple" {
                String::new()
            } else {
                provider.url("/userinfo")
            };
            json!({"name": name, "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET,
                "authURL": provider.url("/authorize"), "tokenURL": provider.url("/token"),
                "userInfoURL": user_info,
                "extra": {"jwksURL": provider.url("/jwks"), "issuers": [provider.url("")]}})
        })
        .collect();
    let (s, body) = srv
        .send(
            "PATCH",
            "/api/collections/users",
            Some(&su),
            Some(json!({"oauth2": {"enabled": true, "providers": providers}})),
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let (_, methods) = srv
        .send("GET", "/api/collections/users/auth-methods", None, None)
        .await;
    assert_eq!(
        methods["oauth2"]["providers"].as_array().unwrap().len(),
        cases.len()
    );
    for (name, user, id, username, email) in cases {
        // Apple's user is its ID token; the others send one too, and it must name the same
        // subject as their user data where that has a `sub`.
        let mut grant = Grant::of(user.clone());
        if name != "apple" && user.get("sub").is_none() {
            grant.id_token = IdToken::Missing;
        }
        let code = provider.code(grant);
        let mut create = json!({});
        if email.is_empty() {
            create = json!({"email": format!("{name}.chosen@example.com")});
        }
        let (s, body) = sign_in(
            &srv,
            None,
            json!({"provider": name, "code": code, "redirectURL": REDIRECT, "createData": create}),
        )
        .await;
        assert_eq!(s, 200, "{name}: {body}");
        let meta = &body["meta"];
        assert_eq!(meta["id"], id, "{name}: {meta}");
        assert_eq!(meta["username"], username, "{name}: {meta}");
        assert_eq!(meta["email"], email, "{name}: {meta}");
        assert_eq!(body["record"]["verified"], !email.is_empty(), "{name}");
    }
    let twitch = provider
        .exchanges()
        .into_iter()
        .find(|e| e["form"]["client_id"] == CLIENT_ID)
        .expect("Twitch takes the client's credentials in the form");
    assert_eq!(twitch["authorization"], "");
}

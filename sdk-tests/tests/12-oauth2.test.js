// OAuth2 through the SDK (issue 16): the popup flow (`authWithOAuth2` with a urlCallback,
// its code handed over realtime `@oauth2`) and `authWithOAuth2Code`, against
// oauth2-mock-server, an OpenID Connect provider on a loopback port (discovery, PKCE, ID
// tokens signed with its own key).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { OAuth2Server } from "oauth2-mock-server";
import { BASE_URL, newClient, superuserClient, uniqueName, uniqueEmail, cleanupCollections } from "./helpers.js";

const CLIENT_ID = "sdk-app";
const CLIENT_SECRET = "sdk-secret";

let provider;
let collection;
let su;

let signingIn = {};
/** The next sign-in at the provider is `user` (its user info, and the claims of the
 * tokens it signs: the access token and the ID token). */
function nextUser(user) {
  signingIn = user;
}

/** What a browser does with the provider's page: follows it back to the redirect URL. */
async function visit(url) {
  const atProvider = await fetch(url, { redirect: "manual" });
  assert.equal(atProvider.status, 302, await atProvider.text());
  const back = atProvider.headers.get("location");
  return fetch(back, { redirect: "manual" });
}

before(async () => {
  provider = new OAuth2Server();
  await provider.issuer.keys.generate("RS256");
  await provider.start(0, "127.0.0.1");
  provider.service.on("beforeTokenSigning", (token) => {
    Object.assign(token.payload, signingIn, { aud: CLIENT_ID });
  });
  provider.service.on("beforeUserinfo", (response) => {
    response.body = signingIn;
  });
  su = await superuserClient();
  collection = uniqueName("oauth");
  await su.collections.create({
    name: collection,
    type: "auth",
    createRule: "",
    fields: [{ name: "name", type: "text" }],
    oauth2: {
      enabled: true,
      mappedFields: { name: "name" },
      providers: [
        {
          name: "oidc",
          clientId: CLIENT_ID,
          clientSecret: CLIENT_SECRET,
          displayName: "Mock",
          extra: { discoveryURL: `${provider.issuer.url}/.well-known/openid-configuration` },
        },
      ],
    },
  });
});

after(async () => {
  await cleanupCollections(su, [collection]);
  await provider.stop();
});

test("the popup flow signs in through the realtime @oauth2 handoff", async () => {
  const email = uniqueEmail("popup");
  nextUser({ sub: email, email, email_verified: true, name: "Popup User" });
  const pb = newClient();
  let redirected;
  const auth = await pb.collection(collection).authWithOAuth2({
    provider: "oidc",
    urlCallback: async (url) => {
      assert.ok(url.startsWith(`${provider.issuer.url}/authorize?`), url);
      assert.ok(url.includes(`redirect_uri=${encodeURIComponent(`${BASE_URL}/api/oauth2-redirect`)}`), url);
      redirected = await visit(url);
    },
  });
  assert.equal(redirected.status, 307);
  assert.match(redirected.headers.get("location"), /\/_\/#\/auth\/oauth2-redirect-success$/);
  assert.equal(auth.meta.isNew, true);
  assert.equal(auth.meta.email, email);
  assert.equal(auth.record.email, email);
  assert.equal(auth.record.verified, true);
  assert.equal(auth.record.name, "Popup User");
  assert.ok(pb.authStore.isValid);
  pb.realtime.unsubscribe();
});

test("authWithOAuth2Code with the listed PKCE verifier finds the same account again", async () => {
  const email = uniqueEmail("code");
  const redirect = "http://app.test/callback";
  const pb = newClient();
  const signIn = async () => {
    nextUser({ sub: email, email, email_verified: true, name: "Code User" });
    const methods = await pb.collection(collection).listAuthMethods();
    const listed = methods.oauth2.providers.find((p) => p.name === "oidc");
    assert.equal(listed.displayName, "Mock");
    assert.equal(listed.codeChallengeMethod, "S256");
    const atProvider = await fetch(listed.authURL + encodeURIComponent(redirect), { redirect: "manual" });
    const back = new URL(atProvider.headers.get("location"));
    assert.equal(back.searchParams.get("state"), listed.state);
    return pb
      .collection(collection)
      .authWithOAuth2Code("oidc", back.searchParams.get("code"), listed.codeVerifier, redirect, { name: "Chosen" });
  };
  const first = await signIn();
  assert.equal(first.meta.isNew, true);
  assert.equal(first.record.name, "Chosen", "createData beats the mapped name");
  const second = await signIn();
  assert.equal(second.meta.isNew, false);
  assert.equal(second.record.id, first.record.id);
});

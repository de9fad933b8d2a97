// The default `users` auth collection: sign-up, password auth, refresh, auth methods,
// password change and token revocation.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { getTokenPayload } from "pocketbase";
import {
  superuserClient,
  newClient,
  uniqueEmail,
  expectError,
  RECORD_ID_RE,
  DATETIME_RE,
} from "./helpers.js";

const createdUserIds = [];

after(async () => {
  const su = await superuserClient();
  for (const id of createdUserIds) {
    try {
      await su.collection("users").delete(id);
    } catch {
      // best effort
    }
  }
});

async function signUp(extra = {}) {
  const email = uniqueEmail("u");
  const password = "pass-" + Math.random().toString(36).slice(2, 12);
  const pb = newClient();
  const rec = await pb.collection("users").create({
    email,
    password,
    passwordConfirm: password,
    name: "Test User",
    ...extra,
  });
  createdUserIds.push(rec.id);
  return { email, password, rec };
}

test("the default users collection exists and is an auth collection", async () => {
  const su = await superuserClient();
  const users = await su.collections.getOne("users");
  assert.equal(users.id, "_pb_users_auth_");
  assert.equal(users.type, "auth");
  assert.equal(users.system, false);
  assert.deepEqual(users.passwordAuth, { enabled: true, identityFields: ["email"] });
  assert.equal(users.createRule, "");
  assert.equal(users.listRule, "id = @request.auth.id");
  assert.equal(users.manageRule, null);
  assert.equal(users.authRule, "");
  const names = users.fields.map((f) => f.name);
  for (const n of ["id", "password", "tokenKey", "email", "emailVisibility", "verified", "name", "avatar", "created", "updated"]) {
    assert.ok(names.includes(n), `users has field ${n}`);
  }
  const byName = Object.fromEntries(users.fields.map((f) => [f.name, f]));
  assert.equal(byName.password.type, "password");
  assert.equal(byName.password.hidden, true);
  assert.equal(byName.tokenKey.hidden, true);
  assert.equal(byName.email.type, "email");
  // token secrets are never output
  assert.equal("secret" in users.authToken, false);
  assert.equal(typeof users.authToken.duration, "number");
});

test("guest sign-up creates a user; password and tokenKey are never returned", async () => {
  const { email, rec } = await signUp();
  assert.match(rec.id, RECORD_ID_RE);
  assert.equal(rec.collectionId, "_pb_users_auth_");
  assert.equal(rec.collectionName, "users");
  assert.equal(rec.name, "Test User");
  assert.equal(rec.verified, false);
  assert.equal(rec.emailVisibility, false);
  assert.equal(rec.avatar, "");
  assert.match(rec.created, DATETIME_RE);
  assert.equal("password" in rec, false);
  assert.equal("tokenKey" in rec, false);
  assert.equal("passwordConfirm" in rec, false);
  // emailVisibility is false and the guest creator is not the record itself
  assert.equal("email" in rec, false);

  // the superuser sees the email
  const su = await superuserClient();
  const full = await su.collection("users").getOne(rec.id);
  assert.equal(full.email, email);
  assert.equal("password" in full, false);
  assert.equal("tokenKey" in full, false);
});

test("sign-up validation: password mismatch, short password, duplicate email, bad email", async () => {
  const pb = newClient();
  const email = uniqueEmail("bad");

  await expectError(
    pb.collection("users").create({ email, password: "12345678", passwordConfirm: "12345679" }),
    400,
    {
      message: "Failed to create record.",
      data: { passwordConfirm: { code: "validation_values_mismatch", message: "Values don't match." } },
    },
  );

  await expectError(
    pb.collection("users").create({ email, password: "1234", passwordConfirm: "1234" }),
    400,
    (err) => {
      assert.equal(err.response.message, "Failed to create record.");
      // no params on the password min constraint
      assert.deepEqual(err.response.data, {
        password: { code: "validation_min_text_constraint", message: "Must be at least 8 character(s)." },
      });
    },
  );

  await expectError(pb.collection("users").create({ email, password: "12345678" }), 400, {
    data: { passwordConfirm: { code: "validation_required", message: "Cannot be blank." } },
  });
  await expectError(pb.collection("users").create({ email }), 400, {
    data: {
      password: { code: "validation_required", message: "Cannot be blank." },
      passwordConfirm: { code: "validation_required", message: "Cannot be blank." },
    },
  });

  // regular field errors are reported together ...
  const longName = "x".repeat(300);
  await expectError(
    pb.collection("users").create({ email: "nope", password: "12345678", passwordConfirm: "12345678", name: longName }),
    400,
    {
      data: {
        email: { code: "validation_is_email", message: "Must be a valid email address." },
        name: {
          code: "validation_max_text_constraint",
          message: "Must be no more than 255 character(s).",
          params: { max: 255 },
        },
      },
    },
  );
  // ... but password-form errors are checked first and mask all others
  await expectError(
    pb.collection("users").create({ email: "nope", password: "12345678", passwordConfirm: "1", name: longName }),
    400,
    { data: { passwordConfirm: { code: "validation_values_mismatch", message: "Values don't match." } } },
  );

  const { email: taken } = await signUp();
  await expectError(
    pb.collection("users").create({ email: taken, password: "12345678", passwordConfirm: "12345678" }),
    400,
    {
      message: "Failed to create record.",
      data: { email: { code: "validation_not_unique", message: "Value must be unique." } },
    },
  );
});

test("user authWithPassword, authRefresh and own-record access", async () => {
  const { email, password, rec } = await signUp();
  const pb = newClient(); // a second, independent client
  const auth = await pb.collection("users").authWithPassword(email, password);

  assert.equal(typeof auth.token, "string");
  assert.equal(auth.record.id, rec.id);
  assert.equal(auth.record.email, email, "own email is always returned on auth");
  assert.equal(auth.record.collectionName, "users");
  assert.equal("password" in auth.record, false);
  assert.equal("tokenKey" in auth.record, false);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.isSuperuser, false);
  assert.equal(pb.authStore.record.id, rec.id);
  const claims = getTokenPayload(auth.token);
  assert.equal(claims.type, "auth");
  assert.equal(claims.collectionId, "_pb_users_auth_");
  assert.equal(claims.id, rec.id);
  assert.equal(claims.refreshable, true);

  // the listRule `id = @request.auth.id` lets the user see only themselves
  const mine = await pb.collection("users").getFullList();
  assert.deepEqual(mine.map((r) => r.id), [rec.id]);
  assert.equal(mine[0].email, email);
  const guestList = await newClient().collection("users").getList();
  assert.equal(guestList.totalItems, 0);

  await new Promise((r) => setTimeout(r, 1100)); // tokens have second resolution
  const refreshed = await pb.collection("users").authRefresh();
  assert.notEqual(refreshed.token, auth.token);
  assert.equal(refreshed.record.id, rec.id);
  assert.equal(refreshed.record.email, email);
  assert.equal(pb.authStore.token, refreshed.token);

  // user updates their own record; the SDK syncs the auth store
  const upd = await pb.collection("users").update(rec.id, { name: "Renamed" });
  assert.equal(upd.name, "Renamed");
  assert.equal(pb.authStore.record.name, "Renamed");
});

test("user authWithPassword with a wrong password -> 400", async () => {
  const { email } = await signUp();
  const pb = newClient();
  await expectError(pb.collection("users").authWithPassword(email, "wrong-password"), 400, {
    message: "Failed to authenticate.",
    data: {},
  });
  assert.equal(pb.authStore.isValid, false);
});

test("a superuser token cannot authRefresh on users (403)", async () => {
  const su = await superuserClient();
  await expectError(su.collection("users").authRefresh(), 403, {
    message: "The request requires auth record from _superusers collection.",
    data: {},
  });
});

test("listAuthMethods: password auth with email identity", async () => {
  const pb = newClient();
  const methods = await pb.collection("users").listAuthMethods();
  assert.deepEqual(methods.password, { identityFields: ["email"], enabled: true });
  assert.deepEqual(methods.oauth2, { providers: [], enabled: false });
  assert.deepEqual(methods.mfa, { enabled: false, duration: 0 });
  assert.deepEqual(methods.otp, { enabled: false, duration: 0 });
  // the SDK asks for fields=mfa,otp,password,oauth2 only
  assert.deepEqual(Object.keys(methods).sort(), ["mfa", "oauth2", "otp", "password"]);
});

test("password change requires oldPassword and revokes existing tokens", async () => {
  const { email, password, rec } = await signUp();
  const pb = newClient();
  const auth = await pb.collection("users").authWithPassword(email, password);
  const oldToken = auth.token;
  const newPassword = password + "-new";

  await expectError(
    pb.collection("users").update(rec.id, { password: newPassword, passwordConfirm: newPassword }),
    400,
    {
      message: "Failed to update record.",
      data: { oldPassword: { code: "validation_required", message: "Cannot be blank." } },
    },
  );
  await expectError(
    pb.collection("users").update(rec.id, {
      oldPassword: "not-the-password",
      password: newPassword,
      passwordConfirm: newPassword,
    }),
    400,
    {
      message: "Failed to update record.",
      data: {
        oldPassword: { code: "validation_invalid_old_password", message: "Missing or invalid old password." },
      },
    },
  );

  const upd = await pb.collection("users").update(rec.id, {
    oldPassword: password,
    password: newPassword,
    passwordConfirm: newPassword,
  });
  assert.equal(upd.id, rec.id);
  assert.equal("password" in upd, false);

  // the old token no longer works
  const stale = newClient();
  stale.authStore.save(oldToken, auth.record);
  await expectError(stale.collection("users").authRefresh(), 401, {
    message: "The request requires valid record authorization token.",
    data: {},
  });
  // ... and the request with it just runs as a guest
  const asGuest = await stale.collection("users").getList();
  assert.equal(asGuest.totalItems, 0);

  // old password fails, new password works
  await expectError(newClient().collection("users").authWithPassword(email, password), 400, {
    message: "Failed to authenticate.",
  });
  const again = await newClient().collection("users").authWithPassword(email, newPassword);
  assert.equal(again.record.id, rec.id);
});

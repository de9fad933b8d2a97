// Superuser auth (`_superusers`), auth refresh and health check.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  newClient,
  superuserClient,
  expectError,
  SU_EMAIL,
  SU_PASSWORD,
  SUPERUSERS_COLLECTION_ID,
  RECORD_ID_RE,
  DATETIME_RE,
} from "./helpers.js";

test("superuser authWithPassword returns a token and a superuser auth store", async () => {
  const pb = newClient();
  assert.equal(pb.authStore.isValid, false);

  const auth = await pb.collection("_superusers").authWithPassword(SU_EMAIL, SU_PASSWORD);

  assert.equal(typeof auth.token, "string");
  assert.equal(auth.token.split(".").length, 3, "token is a JWT");
  assert.equal(auth.meta, undefined, "no meta for password auth");
  assert.equal(auth.record.collectionId, SUPERUSERS_COLLECTION_ID);
  assert.equal(auth.record.collectionName, "_superusers");
  assert.equal(auth.record.email, SU_EMAIL);
  assert.match(auth.record.id, RECORD_ID_RE);
  assert.match(auth.record.created, DATETIME_RE);
  assert.match(auth.record.updated, DATETIME_RE);
  assert.equal(auth.record.verified, true);
  assert.equal("password" in auth.record, false);
  assert.equal("tokenKey" in auth.record, false);

  assert.equal(pb.authStore.token, auth.token);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.isSuperuser, true);
  assert.equal(pb.authStore.record.id, auth.record.id);

  // JWT claims as decoded by the SDK helper.
  const { getTokenPayload } = await import("pocketbase");
  const claims = getTokenPayload(auth.token);
  assert.equal(claims.type, "auth");
  assert.equal(claims.collectionId, SUPERUSERS_COLLECTION_ID);
  assert.equal(claims.id, auth.record.id);
  assert.equal(claims.refreshable, true);
  assert.equal(typeof claims.exp, "number");
});

test("superuser authWithPassword with a wrong password fails with 400", async () => {
  const pb = newClient();
  await expectError(
    pb.collection("_superusers").authWithPassword(SU_EMAIL, "definitely-wrong-password"),
    400,
    { message: "Failed to authenticate.", data: {} },
  );
  assert.equal(pb.authStore.isValid, false);
  assert.equal(pb.authStore.token, "");

  // unknown identity gives the very same answer (no user enumeration)
  await expectError(
    pb.collection("_superusers").authWithPassword("nobody-here@example.com", SU_PASSWORD),
    400,
    { message: "Failed to authenticate.", data: {} },
  );
});

test("superuser authRefresh returns a token and the record", async () => {
  const pb = newClient();
  const first = await pb.collection("_superusers").authWithPassword(SU_EMAIL, SU_PASSWORD);

  // The token has no iat/jti, so two tokens issued within the same second are
  // byte-identical; wait so the refreshed token's exp differs.
  await new Promise((r) => setTimeout(r, 1100));
  const refreshed = await pb.collection("_superusers").authRefresh();

  assert.equal(typeof refreshed.token, "string");
  assert.notEqual(refreshed.token, first.token);
  assert.equal(refreshed.record.id, first.record.id);
  assert.equal(refreshed.record.collectionId, SUPERUSERS_COLLECTION_ID);
  assert.equal(refreshed.record.email, SU_EMAIL);
  assert.equal(pb.authStore.token, refreshed.token);
  assert.equal(pb.authStore.isValid, true);
  assert.equal(pb.authStore.isSuperuser, true);

  // the old token is still valid for requests (refresh does not revoke it)
  const other = newClient();
  other.authStore.save(first.token, first.record);
  const again = await other.collection("_superusers").authRefresh();
  assert.equal(again.record.id, first.record.id);
});

test("authRefresh without a token fails with 401", async () => {
  const pb = newClient();
  await expectError(pb.collection("_superusers").authRefresh(), 401, {
    message: "The request requires valid record authorization token.",
    data: {},
  });
});

test("health check", async () => {
  const pb = newClient();
  const health = await pb.health.check();
  assert.equal(health.code, 200);
  assert.equal(health.message, "API is healthy.");
  assert.deepEqual(health.data, {});
});

test("health check as superuser exposes extra data", async () => {
  const pb = await superuserClient();
  const health = await pb.health.check();
  assert.equal(health.code, 200);
  assert.equal(health.message, "API is healthy.");
  // No backup is being made or restored, so one could be taken (as PocketBase says).
  assert.equal(health.data.canBackup, true);
  assert.equal(typeof health.data.realIP, "string");
  assert.equal(typeof health.data.possibleProxyHeader, "string");
});

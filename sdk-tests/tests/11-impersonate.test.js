// Impersonation through the SDK (issue 16): a superuser's `impersonate` returns a client
// acting as the record, whose token cannot be refreshed.
import { test } from "node:test";
import assert from "node:assert/strict";
import { superuserClient, createVerifiedUser } from "./helpers.js";

test("a superuser impersonates a user with a token that is not refreshed", async () => {
  const su = await superuserClient();
  const { record } = await createVerifiedUser(su);
  const as = await su.collection("users").impersonate(record.id, 60);
  assert.equal(as.authStore.record.id, record.id);
  const claims = JSON.parse(Buffer.from(as.authStore.token.split(".")[1], "base64url"));
  assert.equal(claims.refreshable, false);
  assert.ok(claims.exp - Date.now() / 1000 <= 61, `${claims.exp}`);
  const own = await as.collection("users").getOne(record.id);
  assert.equal(own.id, record.id);
  const before = as.authStore.token;
  await as.collection("users").authRefresh();
  assert.equal(as.authStore.token, before, "the same token back");
});

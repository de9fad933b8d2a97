// Shared helpers for the kulisse SDK compatibility suite.
import assert from "node:assert/strict";
import PocketBase, { BaseAuthStore, ClientResponseError } from "pocketbase";
import { EventSource } from "eventsource";

// The SDK's realtime service opens `new EventSource(url)`; Node 20 has no global one.
if (typeof globalThis.EventSource === "undefined") {
  globalThis.EventSource = EventSource;
}

export const BASE_URL = process.env.KULISSE_URL || "http://127.0.0.1:8091";
export const SU_EMAIL = process.env.KULISSE_SUPERUSER_EMAIL || "admin@example.com";
export const SU_PASSWORD = process.env.KULISSE_SUPERUSER_PASSWORD || "1234567890";

export const SUPERUSERS_COLLECTION_ID = "pbc_3142635823";
export const DATETIME_RE = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}Z$/;
export const RECORD_ID_RE = /^[a-z0-9]{15}$/;

/** A fresh, unauthenticated client (in-memory auth store, no auto-cancellation). */
export function newClient() {
  const pb = new PocketBase(BASE_URL, new BaseAuthStore());
  pb.autoCancellation(false);
  return pb;
}

let cachedSuperuser = null; // { token, record }

/** A client authenticated as the superuser; the login is done once per process. */
export async function superuserClient() {
  const pb = newClient();
  if (!cachedSuperuser) {
    const auth = await pb.collection("_superusers").authWithPassword(SU_EMAIL, SU_PASSWORD);
    cachedSuperuser = { token: auth.token, record: auth.record };
  } else {
    pb.authStore.save(cachedSuperuser.token, cachedSuperuser.record);
  }
  return pb;
}

let counter = 0;
/** Unique, valid collection/field-safe name: `<prefix>_<time36><rand><n>`. */
export function uniqueName(prefix = "t") {
  counter += 1;
  const rnd = Math.random().toString(36).slice(2, 7);
  return `${prefix}_${Date.now().toString(36)}${rnd}${counter}`;
}

/** Unique email address. */
export function uniqueEmail(prefix = "user") {
  return `${uniqueName(prefix)}@example.com`.toLowerCase();
}

/** A valid client-suppliable record id (15 chars [a-z0-9]). */
export function uniqueRecordId() {
  let s = "";
  while (s.length < 15) s += Math.random().toString(36).slice(2);
  return s.slice(0, 15);
}

/** Assert the generic shape every ClientResponseError must have. */
export function assertErrorShape(err) {
  assert.ok(err instanceof ClientResponseError, `expected ClientResponseError, got ${err}`);
  assert.equal(typeof err.status, "number");
  assert.equal(typeof err.response, "object");
  assert.notEqual(err.response, null);
  assert.equal(typeof err.response.message, "string");
  assert.equal(typeof err.response.data, "object");
  assert.notEqual(err.response.data, null);
  assert.ok(!Array.isArray(err.response.data));
}

/**
 * Await `promise`, expecting it to reject with a ClientResponseError of `status`.
 * `check` is either a function(err) or an object `{message?, data?}` compared
 * (message exact, data deep-equal). Returns the error.
 */
export async function expectError(promise, status, check) {
  let err;
  try {
    const res = await promise;
    assert.fail(`expected an error with status ${status}, got success: ${JSON.stringify(res)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    err = e;
  }
  assertErrorShape(err);
  assert.equal(err.status, status, `status mismatch; response: ${JSON.stringify(err.response)}`);
  if (typeof check === "function") {
    await check(err);
  } else if (check && typeof check === "object") {
    if ("message" in check) assert.equal(err.response.message, check.message);
    if ("data" in check) assert.deepEqual(err.response.data, check.data);
  }
  return err;
}

/** Best-effort deletion of collections (in the given order). */
export async function cleanupCollections(pb, names) {
  for (const name of names) {
    try {
      await pb.collections.delete(name);
    } catch {
      // best effort
    }
  }
}

/**
 * Create a user in the default `users` collection through the superuser client
 * (already `verified`), log it in with its own client and return
 * `{ pb, record, email, password }`.
 */
export async function createVerifiedUser(su, extra = {}) {
  const email = uniqueEmail("u");
  const password = "pass-" + Math.random().toString(36).slice(2, 12);
  const created = await su.collection("users").create({
    email,
    password,
    passwordConfirm: password,
    verified: true,
    ...extra,
  });
  const pb = newClient();
  const auth = await pb.collection("users").authWithPassword(email, password);
  assert.equal(auth.record.id, created.id);
  return { pb, record: auth.record, email, password };
}

/** Best-effort deletion of records of one collection. */
export async function cleanupRecords(pb, collection, ids) {
  for (const id of ids) {
    try {
      await pb.collection(collection).delete(id);
    } catch {
      // best effort
    }
  }
}

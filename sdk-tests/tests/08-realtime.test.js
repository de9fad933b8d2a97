// Realtime (SSE) through the SDK's `subscribe`/`unsubscribe`: the wire protocol of
// GET/POST /api/realtime, create/update/delete events and their payloads, the `filter`,
// `expand` and `fields` options, rules per subscriber, unsubscribing, and the SDK's
// reconnect-and-resubscribe when the stream drops.
//
// Absence of an event is never checked with a sleep: a later write that the same
// subscriber does see (a "sentinel") must be the next event, which holds because a
// subscriber receives the events of sequential writes in commit order.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import PocketBase, { BaseAuthStore } from "pocketbase";
import {
  BASE_URL,
  SU_EMAIL,
  SU_PASSWORD,
  superuserClient,
  newClient,
  uniqueName,
  expectError,
  cleanupCollections,
  cleanupRecords,
  createVerifiedUser,
} from "./helpers.js";

const WAIT_MS = 5000;
const AUTH_MISMATCH = "The current and the previous request authorization don't match.";

let su;
let tags; // { label }, public
let hiddenTags; // { label }, superusers only
let notes; // { title, n, secret (hidden), tag -> tags, htag -> hiddenTags }, public
let mine; // { title, owner -> users }, rules: owner or title = "public"
let split; // { title }, list rule: title = "public", view rule: everyone
let alice; // { pb, record, email, password }
let bob;
const createdUserIds = [];
const clients = []; // every client that subscribed, unsubscribed in after()

/** Events pushed by subscription callbacks, taken in order with a bounded wait. */
class Inbox {
  #items = [];
  #waiter = null;

  push = (e) => {
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = null;
      w(e);
    } else {
      this.#items.push(e);
    }
  };

  /** The next event; fails the test if none arrives within `timeoutMs`. */
  next(timeoutMs = WAIT_MS) {
    if (this.#items.length) return Promise.resolve(this.#items.shift());
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = null;
        reject(new assert.AssertionError({ message: `no realtime event within ${timeoutMs} ms` }));
      }, timeoutMs);
      this.#waiter = (e) => {
        clearTimeout(timer);
        resolve(e);
      };
    });
  }

  /** Events that arrived and were not taken yet. */
  get queued() {
    return this.#items.slice();
  }
}

/** A client (guest unless `auth` is a user from createVerifiedUser) registered for cleanup. */
function track(pb) {
  clients.push(pb);
  return pb;
}

/** Subscribe `pb` to `topic` of `collection` with a fresh inbox. */
async function listen(pb, collection, topic, options) {
  const inbox = new Inbox();
  inbox.unsubscribe = await pb.collection(collection).subscribe(topic, inbox.push, options);
  return inbox;
}

/**
 * Listen to raw SSE frames of one event name on the SDK's current EventSource, below the
 * SDK's own listeners (which it removes on unsubscribe). This shows what the server still
 * sends after an unsubscribe. `eventSource` is private in the SDK's types only.
 */
function tap(pb, eventName) {
  const inbox = new Inbox();
  pb.realtime.eventSource.addEventListener(eventName, (e) => inbox.push(JSON.parse(e.data)));
  return inbox;
}

/** The record as `pb` would get it from the view endpoint (the event payload must match). */
function viewAs(pb, collection, id, options) {
  return pb.collection(collection).getOne(id, options);
}

/** Wait (bounded) until `check()` is true. */
async function until(check, what, timeoutMs = WAIT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  su = await superuserClient();
  tags = await su.collections.create({
    name: uniqueName("rt_tags"),
    listRule: "",
    viewRule: "",
    fields: [{ name: "label", type: "text" }],
  });
  hiddenTags = await su.collections.create({
    name: uniqueName("rt_htags"),
    fields: [{ name: "label", type: "text" }],
  });
  notes = await su.collections.create({
    name: uniqueName("rt_notes"),
    listRule: "",
    viewRule: "",
    fields: [
      { name: "title", type: "text" },
      { name: "n", type: "number" },
      { name: "secret", type: "text", hidden: true },
      { name: "tag", type: "relation", collectionId: tags.id, maxSelect: 1 },
      { name: "htag", type: "relation", collectionId: hiddenTags.id, maxSelect: 1 },
    ],
  });
  const rule = 'owner = @request.auth.id || title = "public"';
  mine = await su.collections.create({
    name: uniqueName("rt_mine"),
    listRule: rule,
    viewRule: rule,
    fields: [
      { name: "title", type: "text" },
      { name: "owner", type: "relation", collectionId: "_pb_users_auth_", maxSelect: 1 },
    ],
  });
  split = await su.collections.create({
    name: uniqueName("rt_split"),
    listRule: 'title = "public"',
    viewRule: "",
    fields: [{ name: "title", type: "text" }],
  });
  alice = await createVerifiedUser(su);
  bob = await createVerifiedUser(su);
  createdUserIds.push(alice.record.id, bob.record.id);
  track(alice.pb);
  track(bob.pb);
});

after(async () => {
  for (const pb of clients) {
    try {
      await pb.realtime.unsubscribe();
    } catch {
      // best effort
    }
  }
  const pb = await superuserClient();
  await cleanupCollections(
    pb,
    [split?.name, mine?.name, notes?.name, hiddenTags?.name, tags?.name].filter(Boolean),
  );
  await cleanupRecords(pb, "users", createdUserIds);
});

/** Read the response body of a streaming fetch until it holds `\n\n`. */
async function readFrame(res) {
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + WAIT_MS;
  while (!text.includes("\n\n")) {
    assert.ok(Date.now() < deadline, `no complete SSE frame, got ${JSON.stringify(text)}`);
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return text;
}

test("GET /api/realtime is an event stream whose first frame is PB_CONNECT with a 40-character client id", async () => {
  const ac = new AbortController();
  try {
    const res = await fetch(`${BASE_URL}/api/realtime`, { signal: ac.signal });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream");
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    const frame = await readFrame(res);
    const m = /^id:([0-9A-Za-z]{40})\nevent:PB_CONNECT\ndata:\{"clientId":"([0-9A-Za-z]{40})"\}\n\n$/.exec(
      frame,
    );
    assert.ok(m, `unexpected first frame ${JSON.stringify(frame)}`);
    assert.equal(m[1], m[2], "the id field is the client id");
  } finally {
    ac.abort();
  }
});

test("POST /api/realtime answers 204, validates the client id, the limits and the bound authorization", async () => {
  const ac = new AbortController();
  try {
    const res = await fetch(`${BASE_URL}/api/realtime`, { signal: ac.signal });
    const clientId = /^id:(\S+)\n/.exec(await readFrame(res))[1];
    const guest = newClient();
    const post = (pb, body) => pb.send("/api/realtime", { method: "POST", body });

    const raw = await fetch(`${BASE_URL}/api/realtime`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ clientId, subscriptions: [`${notes.name}/*`] }),
    });
    assert.equal(raw.status, 204);
    assert.equal(await raw.text(), "");

    await expectError(post(guest, { subscriptions: [] }), 400, {
      message: "Something went wrong while processing your request.",
      data: { clientId: { code: "validation_required", message: "Cannot be blank." } },
    });
    await expectError(post(guest, { clientId: "x".repeat(40), subscriptions: [] }), 404, {
      message: "Missing or invalid client id.",
      data: {},
    });
    await expectError(
      post(guest, { clientId, subscriptions: Array.from({ length: 1001 }, (_, i) => `t${i}/*`) }),
      400,
      {
        data: {
          subscriptions: {
            code: "validation_length_too_long",
            message: "The length must be no more than 1000.",
            params: { max: 1000, min: 0 },
          },
        },
      },
    );
    await expectError(post(guest, { clientId, subscriptions: ["ok/*", "a".repeat(2501)] }), 400, {
      data: {
        subscriptions: {
          1: {
            code: "validation_length_too_long",
            message: "The length must be no more than 2500.",
            params: { max: 2500, min: 0 },
          },
        },
      },
    });
    await post(guest, { clientId, subscriptions: Array.from({ length: 1000 }, (_, i) => `t${i}/*`) });
    await post(guest, { clientId, subscriptions: ["a".repeat(2500)] });

    // Guest to auth is the one allowed change; after that the auth is fixed.
    await post(alice.pb, { clientId, subscriptions: [] });
    await post(alice.pb, { clientId, subscriptions: [] });
    await expectError(post(bob.pb, { clientId, subscriptions: [] }), 403, {
      message: AUTH_MISMATCH,
      data: {},
    });
    await expectError(post(guest, { clientId, subscriptions: [] }), 403, { message: AUTH_MISMATCH });
  } finally {
    ac.abort();
  }
});

test("subscribe('*') delivers create, update and delete events whose record equals the view response", async () => {
  const pb = track(newClient());
  const inbox = await listen(pb, notes.name, "*");
  assert.match(pb.realtime.clientId, /^[0-9A-Za-z]{40}$/);

  const created = await su.collection(notes.name).create({ title: "first", n: 1, secret: "s1" });
  const ev1 = await inbox.next();
  assert.deepEqual(Object.keys(ev1).sort(), ["action", "record"]);
  assert.equal(ev1.action, "create");
  assert.deepEqual(ev1.record, await viewAs(pb, notes.name, created.id));
  assert.equal(ev1.record.collectionName, notes.name);
  assert.equal(ev1.record.collectionId, notes.id);
  assert.equal(ev1.record.title, "first");
  assert.ok(!("secret" in ev1.record), "hidden field must not reach a guest");

  await su.collection(notes.name).update(created.id, { title: "second", n: 2 });
  const ev2 = await inbox.next();
  assert.equal(ev2.action, "update");
  const before = await viewAs(pb, notes.name, created.id);
  assert.deepEqual(ev2.record, before);
  assert.equal(ev2.record.title, "second");

  await su.collection(notes.name).delete(created.id);
  const ev3 = await inbox.next();
  assert.equal(ev3.action, "delete");
  assert.deepEqual(ev3.record, before, "a delete event carries the record as it was");

  await pb.realtime.unsubscribe();
  assert.deepEqual(inbox.queued, []);
});

test("subscribe(recordId) delivers only that record's events, and the collection id works as the topic", async () => {
  const target = await su.collection(notes.name).create({ title: "target" });
  const other = await su.collection(notes.name).create({ title: "other" });
  const pb = track(newClient());
  const one = await listen(pb, notes.name, target.id);
  const byId = await listen(pb, notes.id, "*");

  await su.collection(notes.name).update(other.id, { title: "other2" });
  await su.collection(notes.name).update(target.id, { title: "target2" });

  const ev = await one.next();
  assert.equal(ev.action, "update");
  assert.equal(ev.record.id, target.id, "the other record's update must not reach a record topic");
  assert.equal(ev.record.title, "target2");

  assert.equal((await byId.next()).record.id, other.id);
  assert.equal((await byId.next()).record.id, target.id);

  await su.collection(notes.name).delete(target.id);
  const del = await one.next();
  assert.equal(del.action, "delete");
  assert.equal(del.record.id, target.id);
  assert.equal((await byId.next()).action, "delete");

  await pb.realtime.unsubscribe();
  await su.collection(notes.name).delete(other.id);
});

test("the filter option delivers only records that match it, also on update", async () => {
  const pb = track(newClient());
  const inbox = await listen(pb, notes.name, "*", { filter: "n > 5" });

  const low = await su.collection(notes.name).create({ title: "low", n: 1 });
  const high = await su.collection(notes.name).create({ title: "high", n: 10 });
  let ev = await inbox.next();
  assert.equal(ev.action, "create");
  assert.equal(ev.record.id, high.id, "n = 1 must be filtered out");

  await su.collection(notes.name).update(high.id, { n: 2 }); // leaves the filter
  await su.collection(notes.name).update(low.id, { n: 50 }); // enters it
  ev = await inbox.next();
  assert.equal(ev.action, "update");
  assert.equal(ev.record.id, low.id, "an update that leaves the filter is not delivered");
  assert.equal(ev.record.n, 50);

  await pb.realtime.unsubscribe();
  await cleanupRecords(su, notes.name, [low.id, high.id]);
});

test("the expand and fields options shape the record and expand only relations the subscriber may view", async () => {
  const tag = await su.collection(tags.name).create({ label: "visible" });
  const htag = await su.collection(hiddenTags.name).create({ label: "hidden" });
  const options = { expand: "tag,htag", fields: "id,title,secret,expand" };

  const guest = track(newClient());
  const g = await listen(guest, notes.name, "*", options);
  const sup = track(await superuserClient());
  const s = await listen(sup, notes.name, "*", options);
  const plain = await listen(sup, notes.name, "*", { fields: "id,title" });

  const rec = await su
    .collection(notes.name)
    .create({ title: "expanded", secret: "s3", tag: tag.id, htag: htag.id });

  const ge = await g.next();
  assert.equal(ge.action, "create");
  assert.deepEqual(ge.record, await viewAs(guest, notes.name, rec.id, options));
  assert.deepEqual(Object.keys(ge.record).sort(), ["expand", "id", "title"]);
  assert.deepEqual(Object.keys(ge.record.expand), ["tag"], "a superusers-only relation is not expanded for a guest");
  assert.equal(ge.record.expand.tag.label, "visible");

  const se = await s.next();
  assert.deepEqual(se.record, await viewAs(sup, notes.name, rec.id, options));
  assert.equal(se.record.secret, "s3");
  assert.equal(se.record.expand.tag.label, "visible");
  assert.equal(se.record.expand.htag.label, "hidden");

  const pe = await plain.next();
  assert.deepEqual(pe, { action: "create", record: { id: rec.id, title: "expanded" } });

  await guest.realtime.unsubscribe();
  await sup.realtime.unsubscribe();
  await cleanupRecords(su, notes.name, [rec.id]);
  await cleanupRecords(su, tags.name, [tag.id]);
  await cleanupRecords(su, hiddenTags.name, [htag.id]);
});

test("a superuser subscriber receives hidden fields, a guest does not", async () => {
  const sup = track(await superuserClient());
  const s = await listen(sup, notes.name, "*");
  const guest = track(newClient());
  const g = await listen(guest, notes.name, "*");

  const rec = await su.collection(notes.name).create({ title: "with secret", secret: "top" });
  const se = await s.next();
  assert.equal(se.record.secret, "top");
  assert.deepEqual(se.record, await viewAs(sup, notes.name, rec.id));
  const ge = await g.next();
  assert.ok(!("secret" in ge.record));

  await sup.realtime.unsubscribe();
  await guest.realtime.unsubscribe();
  await cleanupRecords(su, notes.name, [rec.id]);
});

test("the list rule decides per subscriber: the owner receives its record, a guest and another user do not, also for updates and deletes", async () => {
  const guest = track(newClient());
  const g = await listen(guest, mine.name, "*");
  const a = await listen(alice.pb, mine.name, "*");
  const b = await listen(bob.pb, mine.name, "*");
  const M = su.collection(mine.name);

  // Alice's private record, then a public sentinel everyone sees.
  const priv = await M.create({ title: "private", owner: alice.record.id });
  const pub = await M.create({ title: "public" });
  let ev = await a.next();
  assert.deepEqual([ev.action, ev.record.id], ["create", priv.id]);
  assert.deepEqual(ev.record, await viewAs(alice.pb, mine.name, priv.id));
  assert.equal((await a.next()).record.id, pub.id);
  assert.equal((await g.next()).record.id, pub.id, "a guest must not receive alice's record");
  assert.equal((await b.next()).record.id, pub.id, "bob must not receive alice's record");

  // The record moves to bob: the rule is checked against the new state.
  await M.update(priv.id, { owner: bob.record.id });
  await M.update(pub.id, { title: "public" });
  ev = await b.next();
  assert.deepEqual([ev.action, ev.record.id], ["update", priv.id]);
  assert.equal((await b.next()).record.id, pub.id);
  ev = await a.next();
  assert.deepEqual([ev.action, ev.record.id], ["update", pub.id], "the old owner gets no update for a record it can no longer see");
  assert.equal((await g.next()).record.id, pub.id);

  // Delete events go to those who could view the record.
  await M.delete(priv.id);
  await M.delete(pub.id);
  ev = await b.next();
  assert.deepEqual([ev.action, ev.record.id], ["delete", priv.id]);
  assert.equal((await b.next()).record.id, pub.id);
  ev = await a.next();
  assert.deepEqual([ev.action, ev.record.id], ["delete", pub.id]);
  ev = await g.next();
  assert.deepEqual([ev.action, ev.record.id], ["delete", pub.id]);

  await guest.realtime.unsubscribe();
  await alice.pb.realtime.unsubscribe();
  await bob.pb.realtime.unsubscribe();
});

test("a record topic uses the view rule and a collection topic the list rule", async () => {
  const hidden = await su.collection(split.name).create({ title: "unlisted" });
  const guest = track(newClient());
  const all = await listen(guest, split.name, "*");
  const one = await listen(guest, split.name, hidden.id);

  await su.collection(split.name).update(hidden.id, { title: "still unlisted" });
  const listed = await su.collection(split.name).create({ title: "public" });

  const ev = await one.next();
  assert.deepEqual([ev.action, ev.record.id, ev.record.title], ["update", hidden.id, "still unlisted"]);
  const first = await all.next();
  assert.deepEqual([first.action, first.record.id], ["create", listed.id], "the unlisted update must not reach the collection topic");

  await guest.realtime.unsubscribe();
  await cleanupRecords(su, split.name, [hidden.id, listed.id]);
});

test("after a password change the subscriber's stored auth is dropped and owner-only records stop arriving", async () => {
  const carol = await createVerifiedUser(su);
  createdUserIds.push(carol.record.id);
  track(carol.pb);
  const c = await listen(carol.pb, mine.name, "*");
  const M = su.collection(mine.name);

  const r1 = await M.create({ title: "carol 1", owner: carol.record.id });
  assert.equal((await c.next()).record.id, r1.id);

  await su.collection("users").update(carol.record.id, { password: "changed-123456", passwordConfirm: "changed-123456" });
  const r2 = await M.create({ title: "carol 2", owner: carol.record.id });
  const pub = await M.create({ title: "public" });
  const ev = await c.next();
  assert.deepEqual([ev.action, ev.record.id], ["create", pub.id], "an owner-only record must not reach a subscriber whose token is no longer valid");
  assert.notEqual(ev.record.id, r2.id);

  await carol.pb.realtime.unsubscribe();
  await cleanupRecords(su, mine.name, [r1.id, r2.id, pub.id]);
});

test("unsubscribe(topic) ends one topic; the server stops sending it while other topics go on", async () => {
  const target = await su.collection(notes.name).create({ title: "kept" });
  const pb = track(newClient());
  const all = await listen(pb, notes.name, "*");
  const one = await listen(pb, notes.name, target.id);
  const rawAll = tap(pb, `${notes.name}/*`);

  await pb.collection(notes.name).unsubscribe("*");
  assert.ok(pb.realtime.isConnected, "other subscriptions keep the connection");

  const other = await su.collection(notes.name).create({ title: "unseen" });
  await su.collection(notes.name).update(target.id, { title: "kept2" });
  const ev = await one.next();
  assert.deepEqual([ev.action, ev.record.id], ["update", target.id]);
  assert.deepEqual(all.queued, []);
  assert.deepEqual(rawAll.queued, [], "the server still sent events of an unsubscribed topic");

  await pb.realtime.unsubscribe();
  await cleanupRecords(su, notes.name, [target.id, other.id]);
});

test("unsubscribeByPrefix ends every topic of the prefix, with or without options, and keeps the rest", async () => {
  const target = await su.collection(notes.name).create({ title: "t" });
  const pb = track(newClient());
  const star = await listen(pb, notes.name, "*");
  const starFiltered = await listen(pb, notes.name, "*", { filter: "n >= 0" });
  const one = await listen(pb, notes.name, target.id);
  const tagInbox = await listen(pb, tags.name, "*");
  const rawStar = tap(pb, `${notes.name}/*`);

  // `notes/*` matches both `*` keys (the filtered one has a `?options=` suffix), not the record topic.
  await pb.realtime.unsubscribeByPrefix(`${notes.name}/*`);
  await su.collection(notes.name).update(target.id, { title: "t2" });
  let ev = await one.next();
  assert.deepEqual([ev.action, ev.record.id], ["update", target.id]);
  assert.deepEqual(star.queued, []);
  assert.deepEqual(starFiltered.queued, []);
  assert.deepEqual(rawStar.queued, []);

  // RecordService.unsubscribe() without a topic is unsubscribeByPrefix(collection).
  await pb.collection(notes.name).unsubscribe();
  await su.collection(notes.name).update(target.id, { title: "t3" });
  const tag = await su.collection(tags.name).create({ label: "after" });
  ev = await tagInbox.next();
  assert.deepEqual([ev.action, ev.record.id], ["create", tag.id]);
  assert.deepEqual(one.queued, []);

  await pb.realtime.unsubscribe();
  await cleanupRecords(su, notes.name, [target.id]);
  await cleanupRecords(su, tags.name, [tag.id]);
});

test("the unsubscribe function of one listener keeps the other listener of the same topic", async () => {
  const pb = track(newClient());
  const first = await listen(pb, tags.name, "*");
  const second = await listen(pb, tags.name, "*");
  await first.unsubscribe();

  const tag = await su.collection(tags.name).create({ label: "two listeners" });
  assert.equal((await second.next()).record.id, tag.id);
  assert.deepEqual(first.queued, []);

  await pb.realtime.unsubscribe();
  await cleanupRecords(su, tags.name, [tag.id]);
});

test("unsubscribe() ends all topics, closes the stream and the server forgets the client id", async () => {
  const pb = track(newClient());
  await listen(pb, notes.name, "*");
  await listen(pb, tags.name, "*");
  const clientId = pb.realtime.clientId;
  assert.ok(pb.realtime.isConnected);

  await pb.realtime.unsubscribe();
  assert.equal(pb.realtime.isConnected, false);
  assert.equal(pb.realtime.clientId, "");

  const guest = newClient();
  await until(async () => {
    try {
      await guest.send("/api/realtime", { method: "POST", body: { clientId, subscriptions: [] } });
      return false;
    } catch (err) {
      return err.status === 404;
    }
  }, "the closed client id to be unknown (404)");
});

/**
 * A TCP proxy in front of the server, so the test can cut the realtime stream the way a
 * server or network drop would. `hold()` parks new connections until `release()`.
 */
async function startProxy(url = BASE_URL) {
  const target = new URL(url);
  const pairs = new Set();
  let held = null; // array of parked client sockets while holding
  const connect = (client) => {
    const upstream = net.connect(Number(target.port || 80), target.hostname);
    const pair = [client, upstream];
    pairs.add(pair);
    const end = () => {
      client.destroy();
      upstream.destroy();
      pairs.delete(pair);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server = net.createServer((client) => {
    if (held) {
      client.pause();
      held.push(client);
      client.on("error", () => client.destroy());
    } else {
      connect(client);
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    dropAll() {
      for (const [c, u] of pairs) {
        c.destroy();
        u.destroy();
      }
      pairs.clear();
    },
    hold() {
      held = held || [];
    },
    release() {
      const parked = held || [];
      held = null;
      for (const c of parked) {
        if (!c.destroyed) {
          connect(c);
          c.resume();
        }
      }
    },
    async close() {
      this.release();
      this.dropAll();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A guest client talking to the server through `proxy`. */
function clientVia(proxy) {
  const pb = new PocketBase(proxy.url, new BaseAuthStore());
  pb.autoCancellation(false);
  return track(pb);
}

test("when the stream drops, the SDK reconnects with a new client id and resubscribes", async () => {
  const proxy = await startProxy();
  try {
    const pb = clientVia(proxy);
    const connects = new Inbox();
    await pb.realtime.subscribe("PB_CONNECT", connects.push);
    const inbox = await listen(pb, notes.name, "*");
    const firstId = pb.realtime.clientId;
    assert.equal((await connects.next()).clientId, firstId, "PB_CONNECT listeners also see the first connect");

    const r1 = await su.collection(notes.name).create({ title: "before drop" });
    assert.equal((await inbox.next()).record.id, r1.id);

    proxy.dropAll();
    const reconnected = await connects.next(10000);
    assert.match(reconnected.clientId, /^[0-9A-Za-z]{40}$/);
    assert.notEqual(reconnected.clientId, firstId);
    assert.equal(pb.realtime.clientId, reconnected.clientId);

    const r2 = await su.collection(notes.name).create({ title: "after reconnect" });
    const ev = await inbox.next();
    assert.deepEqual([ev.action, ev.record.id], ["create", r2.id]);

    await pb.realtime.unsubscribe();
    await cleanupRecords(su, notes.name, [r1.id, r2.id]);
  } finally {
    await proxy.close();
  }
});

// Beyond PocketBase (issue 14, "Resume"): when the server ends a stream (its maximum
// lifetime, the idle timeout, or a client too slow to keep up), events written before
// the SDK's reconnect still reach it. The SDK opens a fresh EventSource (no
// Last-Event-ID, a new client id) and sends its subscriptions again; kulisse matches that
// to the ended client (same requester, address, user agent and topics) and replays what
// it missed. This needs a server whose streams end soon: KULISSE_SHORT_LIVED_URL, a
// kulisse started with `--realtime-max-lifetime 2s` (scripts/test.sh starts one).
// PocketBase drops these events.
const SHORT_LIVED_URL = process.env.KULISSE_SHORT_LIVED_URL;

test(
  "events written after the server ended the stream are delivered after the SDK reconnects (kulisse resume)",
  { skip: SHORT_LIVED_URL ? false : "set KULISSE_SHORT_LIVED_URL (see the comment above)" },
  async () => {
    const admin = new PocketBase(SHORT_LIVED_URL, new BaseAuthStore());
    admin.autoCancellation(false);
    await admin.collection("_superusers").authWithPassword(SU_EMAIL, SU_PASSWORD);
    const name = uniqueName("resume");
    await admin.collections.create({
      name,
      type: "base",
      listRule: "",
      viewRule: "",
      fields: [{ name: "title", type: "text" }],
    });
    const proxy = await startProxy(SHORT_LIVED_URL);
    try {
      const pb = clientVia(proxy);
      const connects = new Inbox();
      await pb.realtime.subscribe("PB_CONNECT", connects.push);
      const inbox = await listen(pb, name, "*");
      const firstId = (await connects.next()).clientId;

      const r1 = await admin.collection(name).create({ title: "before" });
      assert.equal((await inbox.next()).record.id, r1.id);

      // The reconnect waits at the proxy while the server's end of the stream is seen.
      proxy.hold();
      const ended = new Promise((resolve) => {
        pb.realtime.onDisconnect = resolve;
      });
      await Promise.race([
        ended,
        new Promise((_, reject) => setTimeout(() => reject(new Error("the stream never ended")), 10000)),
      ]);
      const missed = await admin.collection(name).create({ title: "while down" });
      await admin.collection(name).update(missed.id, { title: "while down 2" });
      proxy.release();
      const reconnected = await connects.next(15000);
      assert.notEqual(reconnected.clientId, firstId, "the SDK's reconnect is a new client");

      let ev = await inbox.next(10000);
      assert.deepEqual([ev.action, ev.record.id, ev.record.title], ["create", missed.id, "while down"]);
      ev = await inbox.next();
      assert.deepEqual([ev.action, ev.record.id, ev.record.title], ["update", missed.id, "while down 2"]);

      const live = await admin.collection(name).create({ title: "live" });
      ev = await inbox.next();
      assert.deepEqual([ev.action, ev.record.id], ["create", live.id]);
      assert.deepEqual(inbox.queued, [], "nothing twice");

      await pb.realtime.unsubscribe();
    } finally {
      await proxy.close();
      await admin.collections.delete(name);
    }
  },
);

// Records CRUD through `pb.collection(name)` as a guest on a collection with public rules.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  superuserClient,
  newClient,
  uniqueName,
  uniqueRecordId,
  expectError,
  cleanupCollections,
  DATETIME_RE,
  RECORD_ID_RE,
} from "./helpers.js";

const PUBLIC_RULES = { listRule: "", viewRule: "", createRule: "", updateRule: "", deleteRule: "" };
let su;
let target; // referenced collection
let col; // main collection
const extra = []; // per-test collections
const pb = newClient(); // guest, like a public app

before(async () => {
  su = await superuserClient();
  target = await su.collections.create({
    name: uniqueName("crudref"),
    fields: [{ name: "label", type: "text" }],
    ...PUBLIC_RULES,
  });
  col = await su.collections.create({
    name: uniqueName("crud"),
    fields: [
      { name: "title", type: "text", required: true, min: 3, max: 50 },
      { name: "num", type: "number", min: 0, onlyInt: true },
      { name: "flag", type: "bool" },
      { name: "contact", type: "email" },
      { name: "site", type: "url" },
      { name: "when", type: "date" },
      { name: "tags", type: "select", values: ["a", "b", "c"], maxSelect: 2 },
      { name: "meta", type: "json" },
      { name: "ref", type: "relation", collectionId: target.id, maxSelect: 1 },
      { name: "created", type: "autodate", onCreate: true, onUpdate: false },
      { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
    ],
    ...PUBLIC_RULES,
  });
});

after(async () => {
  await cleanupCollections(su, [...extra, col?.name, target?.name].filter(Boolean));
});

/** A fresh collection with only `title` + `num`, for list tests that need exact contents. */
async function freshListCollection() {
  const c = await su.collections.create({
    name: uniqueName("crudlist"),
    fields: [
      { name: "title", type: "text" },
      { name: "num", type: "number" },
    ],
    ...PUBLIC_RULES,
  });
  extra.push(c.name);
  return c;
}

test("create returns the full record with alphabetical keys", async () => {
  const ref = await pb.collection(target.name).create({ label: "L1" });
  const rec = await pb.collection(col.name).create({
    title: "Hello",
    num: 3,
    flag: true,
    contact: "a@example.com",
    site: "https://example.com/x",
    when: "2024-01-02T03:04:05.123456+02:00",
    tags: ["b", "a"],
    meta: { z: 1, a: [1, 2] },
    ref: ref.id,
  });

  assert.deepEqual(Object.keys(rec), [
    "collectionId", "collectionName", "contact", "created", "flag", "id", "meta", "num",
    "ref", "site", "tags", "title", "updated", "when",
  ]);
  assert.match(rec.id, RECORD_ID_RE);
  assert.equal(rec.collectionId, col.id);
  assert.equal(rec.collectionName, col.name);
  assert.equal(rec.title, "Hello");
  assert.equal(rec.num, 3);
  assert.equal(rec.flag, true);
  assert.equal(rec.contact, "a@example.com");
  assert.equal(rec.site, "https://example.com/x");
  assert.equal(rec.when, "2024-01-02 01:04:05.123Z");
  assert.deepEqual(rec.tags, ["b", "a"]);
  assert.deepEqual(rec.meta, { a: [1, 2], z: 1 });
  assert.deepEqual(Object.keys(rec.meta), ["a", "z"], "json object keys are re-sorted");
  assert.equal(rec.ref, ref.id);
  assert.match(rec.created, DATETIME_RE);
  assert.match(rec.updated, DATETIME_RE);
  assert.equal(rec.created, rec.updated);
  assert.equal("expand" in rec, false);
});

test("create with only required data fills zero values", async () => {
  const rec = await pb.collection(col.name).create({ title: "Zero" });
  assert.equal(rec.num, 0);
  assert.equal(rec.flag, false);
  assert.equal(rec.contact, "");
  assert.equal(rec.site, "");
  assert.equal(rec.when, "");
  assert.deepEqual(rec.tags, []);
  assert.equal(rec.meta, null);
  assert.equal(rec.ref, "");
});

test("create with a client-supplied 15-char id, then getOne", async () => {
  const id = uniqueRecordId();
  const rec = await pb.collection(col.name).create({ id, title: "Custom id" });
  assert.equal(rec.id, id);

  const got = await pb.collection(col.name).getOne(id);
  assert.deepEqual(got, rec);

  const picked = await pb.collection(col.name).getOne(id, { fields: "id,title" });
  assert.deepEqual(picked, { id, title: "Custom id" });
});

test("getList envelope and paging", async () => {
  const c = await freshListCollection();
  for (let i = 1; i <= 5; i++) {
    await pb.collection(c.name).create({ title: `item${i}`, num: i });
  }

  const page1 = await pb.collection(c.name).getList(1, 2);
  assert.deepEqual(Object.keys(page1), ["items", "page", "perPage", "totalItems", "totalPages"]);
  assert.equal(page1.page, 1);
  assert.equal(page1.perPage, 2);
  assert.equal(page1.totalItems, 5);
  assert.equal(page1.totalPages, 3);
  // no implicit sort: insertion order
  assert.deepEqual(page1.items.map((r) => r.title), ["item1", "item2"]);

  const page3 = await pb.collection(c.name).getList(3, 2);
  assert.deepEqual(page3.items.map((r) => r.title), ["item5"]);

  const past = await pb.collection(c.name).getList(10, 2);
  assert.deepEqual(past.items, []);
  assert.equal(past.page, 10);
  assert.equal(past.totalItems, 5);
  assert.equal(past.totalPages, 3);

  const defaults = await pb.collection(c.name).getList();
  assert.equal(defaults.page, 1);
  assert.equal(defaults.perPage, 30);
  assert.equal(defaults.items.length, 5);

  const filtered = await pb.collection(c.name).getList(1, 2, { filter: "num >= 2", sort: "-num" });
  assert.equal(filtered.totalItems, 4);
  assert.equal(filtered.totalPages, 2);
  assert.deepEqual(filtered.items.map((r) => r.num), [5, 4]);

  const none = await pb.collection(c.name).getList(1, 2, { filter: "num > 100" });
  assert.deepEqual(none.items, []);
  assert.equal(none.totalItems, 0);
  assert.equal(none.totalPages, 0);
});

test("getFullList walks all pages with a small batch size", async () => {
  const c = await freshListCollection();
  const titles = ["delta", "alpha", "echo", "charlie", "bravo"];
  for (const [i, t] of titles.entries()) {
    await pb.collection(c.name).create({ title: t, num: i });
  }

  const urls = [];
  const countingFetch = (url, opts) => {
    urls.push(String(url));
    return fetch(url, opts);
  };
  const all = await pb.collection(c.name).getFullList({ batch: 2, sort: "title", fetch: countingFetch });
  assert.deepEqual(all.map((r) => r.title), ["alpha", "bravo", "charlie", "delta", "echo"]);
  assert.equal(urls.length, 3, "5 records / batch 2 => 3 requests");
  for (const u of urls) assert.match(u, /[?&]skipTotal=1(&|$)/);

  // exact multiple of the batch size: needs one extra (empty) page
  const urls2 = [];
  const four = await pb.collection(c.name).getFullList({
    batch: 2,
    filter: "num < 4",
    sort: "-num",
    fetch: (url, opts) => (urls2.push(String(url)), fetch(url, opts)),
  });
  assert.deepEqual(four.map((r) => r.num), [3, 2, 1, 0]);
  assert.equal(urls2.length, 3);

  const defaultBatch = await pb.collection(c.name).getFullList({ sort: "title" });
  assert.equal(defaultBatch.length, 5);
});

test("getFirstListItem returns the first match or a 404", async () => {
  const c = await freshListCollection();
  await pb.collection(c.name).create({ title: "x", num: 1 });
  await pb.collection(c.name).create({ title: "x", num: 2 });
  await pb.collection(c.name).create({ title: "y", num: 3 });

  const first = await pb.collection(c.name).getFirstListItem('title="x"', { sort: "-num" });
  assert.equal(first.title, "x");
  assert.equal(first.num, 2);

  await expectError(pb.collection(c.name).getFirstListItem('title="nope"'), 404, {
    message: "The requested resource wasn't found.",
    data: {},
  });
});

test("update (PATCH) with number and select modifiers", async () => {
  const rec = await pb.collection(col.name).create({ title: "Mod me", num: 10, tags: ["a", "b"] });
  await new Promise((r) => setTimeout(r, 5)); // let `updated` advance

  const upd = await pb.collection(col.name).update(rec.id, { "num+": 5, title: "Modded" });
  assert.equal(upd.num, 15);
  assert.equal(upd.title, "Modded");
  assert.deepEqual(upd.tags, ["a", "b"], "untouched fields keep their value");
  assert.equal(upd.created, rec.created);
  assert.match(upd.updated, DATETIME_RE);
  assert.ok(upd.updated > rec.updated, "updated advanced");

  const minus = await pb.collection(col.name).update(rec.id, { "num-": 3 });
  assert.equal(minus.num, 12);

  const removed = await pb.collection(col.name).update(rec.id, { "tags-": "a" });
  assert.deepEqual(removed.tags, ["b"]);

  const appended = await pb.collection(col.name).update(rec.id, { "tags+": "c" });
  assert.deepEqual(appended.tags, ["b", "c"]);

  // both in one request
  const both = await pb.collection(col.name).update(rec.id, { "tags-": "b", "tags+": "a" });
  assert.deepEqual(both.tags.slice().sort(), ["a", "c"]);

  // null resets to the zero value
  const reset = await pb.collection(col.name).update(rec.id, { tags: null, num: null, meta: null });
  assert.deepEqual(reset.tags, []);
  assert.equal(reset.num, 0);
  assert.equal(reset.meta, null);

  const got = await pb.collection(col.name).getOne(rec.id);
  assert.deepEqual(got, reset);
});

test("update of a missing record is a 404", async () => {
  await expectError(pb.collection(col.name).update(uniqueRecordId(), { title: "nothing" }), 404, {
    message: "The requested resource wasn't found.",
    data: {},
  });
});

test("delete, then getOne is a 404", async () => {
  const rec = await pb.collection(col.name).create({ title: "Doomed" });
  assert.equal(await pb.collection(col.name).delete(rec.id), true);
  await expectError(pb.collection(col.name).getOne(rec.id), 404, {
    message: "The requested resource wasn't found.",
    data: {},
  });
  await expectError(pb.collection(col.name).delete(rec.id), 404);
});

test("records are addressable by collection id as well as name", async () => {
  const rec = await pb.collection(col.name).create({ title: "By id" });
  const got = await pb.collection(col.id).getOne(rec.id);
  assert.equal(got.id, rec.id);
  assert.equal(got.collectionName, col.name);
});

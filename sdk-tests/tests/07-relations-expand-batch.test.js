// Relation filters and sorting, auth rules with two users, `expand` and `fields`,
// and batch requests through `pb.createBatch()`.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  superuserClient,
  newClient,
  uniqueName,
  uniqueRecordId,
  expectError,
  cleanupCollections,
  cleanupRecords,
  createVerifiedUser,
} from "./helpers.js";

const NOT_FOUND = "The requested resource wasn't found.";
const ONLY_SUPERUSERS = "Only superusers can perform this action.";

let su;
let authors; // { name }
let posts; // { title, author -> authors (single), coauthors -> authors (multiple) }
let comments; // { message, post -> posts (single) }
let via; // back-relation name: `<comments collection name>_via_post`
const A = {}; // author records by name
const P = {}; // post records by title
const C = {}; // comment records by message
const extraCollections = []; // per-test collections, removed first
const createdUserIds = [];
let originalBatch = null; // settings.batch before the batch test touched it

before(async () => {
  su = await superuserClient();
  authors = await su.collections.create({
    name: uniqueName("authors"),
    fields: [{ name: "name", type: "text" }],
  });
  posts = await su.collections.create({
    name: uniqueName("posts"),
    fields: [
      { name: "title", type: "text" },
      { name: "author", type: "relation", collectionId: authors.id, maxSelect: 1 },
      { name: "coauthors", type: "relation", collectionId: authors.id, maxSelect: 5 },
    ],
  });
  comments = await su.collections.create({
    name: uniqueName("comments"),
    fields: [
      { name: "message", type: "text" },
      { name: "post", type: "relation", collectionId: posts.id, maxSelect: 1 },
    ],
  });

  via = `${comments.name}_via_post`;

  for (const name of ["Alice", "Bob", "Carol", "Dave"]) {
    A[name] = await su.collection(authors.name).create({ name });
  }
  // title, author, coauthors (stored order matters)
  const rows = [
    ["one", "Alice", ["Alice"]],
    ["two", "Bob", ["Bob", "Alice"]],
    ["three", "Carol", []],
    ["four", "Dave", ["Carol"]],
  ];
  for (const [title, author, coauthors] of rows) {
    P[title] = await su.collection(posts.name).create({
      title,
      author: A[author].id,
      coauthors: coauthors.map((n) => A[n].id),
    });
  }
  // message, post
  const commentRows = [
    ["hello x", "one"],
    ["plain", "one"],
    ["nothing here", "two"],
    ["xylophone", "four"],
    ["nope", "four"],
  ];
  for (const [message, post] of commentRows) {
    C[message] = await su.collection(comments.name).create({ message, post: P[post].id });
  }
});

after(async () => {
  const pb = await superuserClient();
  if (originalBatch) {
    try {
      await pb.settings.update({ batch: { ...originalBatch, enabled: false } });
    } catch {
      // best effort
    }
  }
  await cleanupCollections(
    pb,
    [...extraCollections.slice().reverse(), comments?.name, posts?.name, authors?.name].filter(Boolean),
  );
  await cleanupRecords(pb, "users", createdUserIds);
});

async function postTitles(filter, sort = "title") {
  const res = await su.collection(posts.name).getList(1, 50, { filter, sort });
  assert.equal(res.totalItems, res.items.length);
  return res.items.map((r) => r.title);
}

test("relation filters: single, multiple (any vs all), back-relation, sort by relation field", async () => {
  // single relation
  assert.deepEqual(await postTitles('author.name = "Bob"'), ["two"]);
  assert.deepEqual(await postTitles('author.name != "Bob"'), ["four", "one", "three"]);
  assert.deepEqual(await postTitles('author.name ~ "a"'), ["four", "one", "three"]);
  assert.deepEqual(await postTitles('author.name = "nobody"'), []);

  // multiple relation: `?=` any element, `=` every element
  assert.deepEqual(await postTitles('coauthors.name ?= "Alice"'), ["one", "two"]);
  assert.deepEqual(await postTitles('coauthors.name = "Alice"'), ["one"]);
  assert.deepEqual(await postTitles('coauthors.name ?= "Carol"'), ["four"]);
  assert.deepEqual(await postTitles('coauthors.name ?= "Bob" && author.name = "Bob"'), ["two"]);
  assert.deepEqual(await postTitles("coauthors:length = 0"), ["three"]);
  assert.deepEqual(await postTitles("coauthors:length = 2"), ["two"]);

  // back-relation
  assert.deepEqual(await postTitles(`${via}.message ?~ "x"`), ["four", "one"]);
  assert.deepEqual(await postTitles(`${via}.message ?= "plain"`), ["one"]);
  assert.deepEqual(await postTitles(`${via}.message ?~ "nothing"`), ["two"]);
  assert.deepEqual(await postTitles(`${via}.id != ""`), ["four", "one", "two"]);

  // sort by a relation field
  assert.deepEqual(await postTitles("", "-author.name"), ["four", "three", "two", "one"]);
  assert.deepEqual(await postTitles("", "author.name"), ["one", "two", "three", "four"]);
  // relation traversal from the other side
  const cs = await su.collection(comments.name).getFullList({
    filter: 'post.author.name = "Dave"',
    sort: "message",
  });
  assert.deepEqual(cs.map((c) => c.message), ["nope", "xylophone"]);
});

test("auth rules: owner = @request.auth.id with two users; null listRule; failing createRule", async () => {
  const ownRule = "owner = @request.auth.id";
  const owned = await su.collections.create({
    name: uniqueName("owned"),
    fields: [
      { name: "title", type: "text" },
      { name: "owner", type: "relation", collectionId: "_pb_users_auth_", maxSelect: 1 },
    ],
    listRule: ownRule,
    viewRule: ownRule,
    createRule: ownRule,
  });
  extraCollections.push(owned.name);
  const locked = await su.collections.create({
    name: uniqueName("lockedlist"),
    fields: [{ name: "title", type: "text" }],
    listRule: null,
    viewRule: "",
  });
  extraCollections.push(locked.name);

  const u1 = await createVerifiedUser(su, { name: "User One" });
  createdUserIds.push(u1.record.id);
  const u2 = await createVerifiedUser(su, { name: "User Two" });
  createdUserIds.push(u2.record.id);
  assert.equal(u1.record.verified, true);
  assert.equal(u1.pb.authStore.isValid, true);
  assert.equal(u1.pb.authStore.isSuperuser, false);
  assert.equal(u2.pb.authStore.record.id, u2.record.id);

  const r1a = await su.collection(owned.name).create({ title: "1a", owner: u1.record.id });
  const r1b = await su.collection(owned.name).create({ title: "1b", owner: u1.record.id });
  const r2 = await su.collection(owned.name).create({ title: "2", owner: u2.record.id });
  const unowned = await su.collection(owned.name).create({ title: "nobody's" });

  const l1 = await u1.pb.collection(owned.name).getFullList({ sort: "title" });
  assert.deepEqual(l1.map((r) => r.id), [r1a.id, r1b.id]);
  const l2 = await u2.pb.collection(owned.name).getFullList({ sort: "title" });
  assert.deepEqual(l2.map((r) => r.id), [r2.id]);
  const page = await u2.pb.collection(owned.name).getList(1, 10);
  assert.equal(page.totalItems, 1);
  // for a guest the rule is a filter, not a 403: @request.auth.id is "" and so
  // matches exactly the record whose (empty) owner is ""
  const guestList = await newClient().collection(owned.name).getFullList();
  assert.deepEqual(guestList.map((r) => r.id), [unowned.id]);
  // the superuser sees everything
  assert.equal((await su.collection(owned.name).getList(1, 10)).totalItems, 4);

  assert.equal((await u1.pb.collection(owned.name).getOne(r1a.id)).title, "1a");
  await expectError(u1.pb.collection(owned.name).getOne(r2.id), 404, { message: NOT_FOUND, data: {} });
  await expectError(u2.pb.collection(owned.name).getOne(r1b.id), 404, { message: NOT_FOUND, data: {} });

  // null listRule -> 403 for a non-superuser, while view (rule "") still works
  const lockedRec = await su.collection(locked.name).create({ title: "locked" });
  await expectError(u1.pb.collection(locked.name).getList(), 403, { message: ONLY_SUPERUSERS, data: {} });
  await expectError(u1.pb.collection(locked.name).getFullList(), 403, { message: ONLY_SUPERUSERS, data: {} });
  assert.equal((await u1.pb.collection(locked.name).getOne(lockedRec.id)).title, "locked");

  // createRule: creating a record owned by someone else fails with a bare 400
  await expectError(u1.pb.collection(owned.name).create({ title: "spoof", owner: u2.record.id }), 400, {
    message: "Failed to create record.",
    data: {},
  });
  await expectError(newClient().collection(owned.name).create({ title: "guest", owner: u1.record.id }), 400, {
    message: "Failed to create record.",
    data: {},
  });
  // ... while a guest leaving `owner` empty passes the rule ("" = "")
  const guestMade = await newClient().collection(owned.name).create({ title: "guest" });
  assert.equal(guestMade.owner, "");
  const mine = await u1.pb.collection(owned.name).create({ title: "mine", owner: u1.record.id });
  assert.equal(mine.owner, u1.record.id);
  assert.equal((await su.collection(owned.name).getList(1, 10)).totalItems, 6);
});

test("expand: single and multiple relations, back-relation, nested, fields, on create", async () => {
  // single + multiple relation on getOne; multiple keeps the stored order
  const two = await su.collection(posts.name).getOne(P.two.id, { expand: "author,coauthors" });
  assert.equal(two.author, A.Bob.id);
  assert.deepEqual(two.coauthors, [A.Bob.id, A.Alice.id]);
  assert.equal(typeof two.expand, "object");
  assert.ok(!Array.isArray(two.expand.author));
  assert.equal(two.expand.author.id, A.Bob.id);
  assert.equal(two.expand.author.name, "Bob");
  assert.equal(two.expand.author.collectionName, authors.name);
  assert.equal(two.expand.author.collectionId, authors.id);
  assert.ok(Array.isArray(two.expand.coauthors));
  assert.deepEqual(two.expand.coauthors.map((a) => a.id), [A.Bob.id, A.Alice.id]);
  assert.deepEqual(two.expand.coauthors.map((a) => a.name), ["Bob", "Alice"]);

  // an empty multiple relation is left out of `expand`
  const three = await su.collection(posts.name).getOne(P.three.id, { expand: "author,coauthors" });
  assert.equal(three.expand.author.name, "Carol");
  assert.equal("coauthors" in three.expand, false);
  // without `expand` there is no `expand` key at all
  const plain = await su.collection(posts.name).getOne(P.two.id);
  assert.equal("expand" in plain, false);

  // back-relation expand on a list (array, one entry per referencing record)
  const list = await su.collection(posts.name).getList(1, 10, { expand: via, sort: "title" });
  assert.deepEqual(list.items.map((p) => p.title), ["four", "one", "three", "two"]);
  const byTitle = Object.fromEntries(list.items.map((p) => [p.title, p]));
  const msgs = (p) => p.expand[via].map((c) => c.message).sort();
  assert.ok(Array.isArray(byTitle.one.expand[via]));
  assert.deepEqual(msgs(byTitle.one), ["hello x", "plain"]);
  assert.deepEqual(msgs(byTitle.two), ["nothing here"]);
  assert.deepEqual(msgs(byTitle.four), ["nope", "xylophone"]);
  assert.equal(byTitle.one.expand[via][0].collectionName, comments.name);
  // a requested expand that resolves to nothing still yields an empty `expand` object
  assert.deepEqual(byTitle.three.expand, {});
  const threeCo = await su.collection(posts.name).getOne(P.three.id, { expand: "coauthors" });
  assert.deepEqual(threeCo.expand, {});
  const threeVia = await su.collection(posts.name).getOne(P.three.id, { expand: via });
  assert.deepEqual(threeVia.expand, {});
  // an unknown expand path is silently ignored (no error, no `expand` key)
  const unknown = await su.collection(posts.name).getOne(P.three.id, { expand: "nosuchfield" });
  assert.equal("expand" in unknown, false);

  // nested expand from the comments side
  const cs = await su.collection(comments.name).getFullList({ expand: "post.author", sort: "message" });
  assert.deepEqual(cs.map((c) => c.message), ["hello x", "nope", "nothing here", "plain", "xylophone"]);
  for (const c of cs) {
    assert.equal(c.expand.post.id, c.post);
    assert.equal(typeof c.expand.post.expand.author, "object");
  }
  assert.equal(cs[0].expand.post.title, "one");
  assert.equal(cs[0].expand.post.expand.author.name, "Alice");
  assert.equal(cs[2].expand.post.expand.author.name, "Bob");
  assert.equal(cs[4].expand.post.expand.author.name, "Dave");
  assert.equal("coauthors" in cs[0].expand.post.expand, false, "only the requested path is expanded");

  // `fields` can reach into expand
  const slim = await su.collection(posts.name).getOne(P.one.id, {
    expand: "author",
    fields: "id,expand.author.name",
  });
  assert.deepEqual(slim, { id: P.one.id, expand: { author: { name: "Alice" } } });
  const slimList = await su.collection(posts.name).getList(1, 10, {
    expand: "author",
    fields: "id,expand.author.name",
    sort: "-author.name",
  });
  assert.deepEqual(slimList.items, [
    { id: P.four.id, expand: { author: { name: "Dave" } } },
    { id: P.three.id, expand: { author: { name: "Carol" } } },
    { id: P.two.id, expand: { author: { name: "Bob" } } },
    { id: P.one.id, expand: { author: { name: "Alice" } } },
  ]);

  // expand on create (and on update)
  const made = await su.collection(posts.name).create(
    { title: "five", author: A.Carol.id, coauthors: [A.Dave.id, A.Alice.id] },
    { expand: "author,coauthors" },
  );
  assert.equal(made.expand.author.id, A.Carol.id);
  assert.equal(made.expand.author.name, "Carol");
  assert.deepEqual(made.expand.coauthors.map((a) => a.name), ["Dave", "Alice"]);
  const upd = await su.collection(posts.name).update(made.id, { author: A.Dave.id }, { expand: "author" });
  assert.equal(upd.expand.author.name, "Dave");
  await su.collection(posts.name).delete(made.id);
});

test("batch: create/update/upsert/delete in one transaction; a failure rolls back everything", async () => {
  const settings = await su.settings.getAll();
  originalBatch = { ...settings.batch };
  const items = await su.collections.create({
    name: uniqueName("batched"),
    fields: [{ name: "title", type: "text", required: true }],
  });
  extraCollections.push(items.name);
  const col = () => su.collection(items.name);

  try {
    const enabled = await su.settings.update({ batch: { enabled: true, maxRequests: 20 } });
    assert.equal(enabled.batch.enabled, true);
    assert.equal(enabled.batch.maxRequests, 20);

    const rA = await col().create({ title: "a" });
    const rB = await col().create({ title: "b" });
    const rC = await col().create({ title: "c" });
    const newId = uniqueRecordId();
    const upsertNewId = uniqueRecordId();

    const batch = su.createBatch();
    batch.collection(items.name).create({ id: newId, title: "new" });
    batch.collection(items.name).update(rA.id, { title: "a2" });
    batch.collection(items.name).upsert({ id: rB.id, title: "b2" }); // existing id -> update
    batch.collection(items.name).upsert({ id: upsertNewId, title: "upserted" }); // unknown id -> create
    batch.collection(items.name).delete(rC.id);
    const result = await batch.send();

    assert.ok(Array.isArray(result));
    assert.equal(result.length, 5);
    for (const r of result) assert.deepEqual(Object.keys(r).sort(), ["body", "status"]);
    assert.deepEqual(result.map((r) => r.status), [200, 200, 200, 200, 204]);
    assert.equal(result[0].body.id, newId);
    assert.equal(result[0].body.title, "new");
    assert.equal(result[0].body.collectionName, items.name);
    assert.equal(result[1].body.id, rA.id);
    assert.equal(result[1].body.title, "a2");
    assert.equal(result[2].body.id, rB.id);
    assert.equal(result[2].body.title, "b2");
    assert.equal(result[3].body.id, upsertNewId);
    assert.equal(result[3].body.title, "upserted");
    assert.equal(result[4].body, null);

    let all = await col().getFullList({ sort: "title" });
    assert.deepEqual(all.map((r) => r.title), ["a2", "b2", "new", "upserted"]);
    await expectError(col().getOne(rC.id), 404, { message: NOT_FOUND });

    // a failing sub-request (index 2: required title missing) rolls back the whole batch
    const keptId = uniqueRecordId();
    const failing = su.createBatch();
    failing.collection(items.name).create({ id: keptId, title: "rolled back" });
    failing.collection(items.name).update(rA.id, { title: "a3" });
    failing.collection(items.name).create({ title: "" });
    failing.collection(items.name).delete(rB.id);
    const err = await expectError(failing.send(), 400, { message: "Batch transaction failed." });
    assert.deepEqual(Object.keys(err.response.data), ["requests"]);
    const failed = err.response.data.requests[2];
    assert.equal(failed.code, "batch_request_failed");
    assert.equal(failed.message, "Batch request failed.");
    assert.equal(failed.response.status, 400);
    assert.equal(failed.response.message, "Failed to create record.");
    assert.equal(failed.response.data.title.code, "validation_required");
    assert.deepEqual(Object.keys(err.response.data.requests), ["2"]);

    await expectError(col().getOne(keptId), 404, { message: NOT_FOUND });
    all = await col().getFullList({ sort: "title" });
    assert.deepEqual(all.map((r) => r.title), ["a2", "b2", "new", "upserted"]);

    // maxRequests is enforced before anything runs; an empty batch is invalid too
    const tooMany = su.createBatch();
    for (let i = 0; i < 21; i++) tooMany.collection(items.name).create({ title: `many${i}` });
    await expectError(tooMany.send(), 400, {
      message: "Invalid batch request data.",
      data: {
        requests: {
          code: "validation_length_too_long",
          message: "The length must be no more than 20.",
          params: { max: 20, min: 0 },
        },
      },
    });
    await expectError(su.createBatch().send(), 400, {
      message: "Invalid batch request data.",
      data: { requests: { code: "validation_required", message: "Cannot be blank." } },
    });

    // a failing first request: nothing afterwards runs either
    const failFirst = su.createBatch();
    failFirst.collection(items.name).update(uniqueRecordId(), { title: "x" });
    failFirst.collection(items.name).create({ title: "never" });
    const err2 = await expectError(failFirst.send(), 400);
    assert.equal(err2.response.data.requests[0].code, "batch_request_failed");
    assert.equal(err2.response.data.requests[0].response.status, 404);
    assert.equal((await col().getList(1, 1)).totalItems, 4);
  } finally {
    await su.settings.update({ batch: { ...originalBatch, enabled: false } });
  }

  const restored = await su.settings.getAll();
  assert.equal(restored.batch.enabled, false);
  assert.equal(restored.batch.maxRequests, originalBatch.maxRequests);
  // with batch disabled the endpoint refuses
  const off = su.createBatch();
  off.collection(items.name).create({ title: "off" });
  await expectError(off.send(), 403, { message: "Batch requests are not allowed.", data: {} });
  assert.equal((await col().getList(1, 1)).totalItems, 4);
});

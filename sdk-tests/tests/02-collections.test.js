// Collections API through `pb.collections`.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { crc32 } from "node:zlib";
import {
  superuserClient,
  newClient,
  uniqueName,
  expectError,
  cleanupCollections,
  DATETIME_RE,
} from "./helpers.js";

const created = []; // collections to remove at the end, dependents first

after(async () => {
  const pb = await superuserClient();
  await cleanupCollections(pb, created.slice().reverse());
});

const PUBLIC_RULES = { listRule: "", viewRule: "", createRule: "", updateRule: "", deleteRule: "" };

async function createTarget(pb) {
  const name = uniqueName("target");
  const col = await pb.collections.create({
    name,
    type: "base",
    fields: [{ name: "label", type: "text" }],
    ...PUBLIC_RULES,
  });
  created.push(name);
  return col;
}

function allFieldsSpec(targetId) {
  return [
    { name: "title", type: "text", required: true, min: 3, max: 50 },
    { name: "num", type: "number", min: 0, onlyInt: true },
    { name: "flag", type: "bool" },
    { name: "contact", type: "email" },
    { name: "site", type: "url" },
    { name: "when", type: "date" },
    { name: "tags", type: "select", values: ["a", "b", "c"], maxSelect: 2 },
    { name: "meta", type: "json" },
    { name: "ref", type: "relation", collectionId: targetId, maxSelect: 1 },
    { name: "created", type: "autodate", onCreate: true, onUpdate: false },
    { name: "updated", type: "autodate", onCreate: true, onUpdate: true },
  ];
}

test("create a base collection with many field types", async () => {
  const pb = await superuserClient();
  const target = await createTarget(pb);
  const name = uniqueName("things");

  const col = await pb.collections.create({
    name,
    type: "base",
    fields: allFieldsSpec(target.id),
    ...PUBLIC_RULES,
  });
  created.push(name);

  assert.match(col.id, /^pbc_\d+$/);
  // id = "pbc_" + CRC32(type + name) (no clash with unique names)
  assert.equal(col.id, `pbc_${crc32("base" + name)}`);
  assert.equal(col.name, name);
  assert.equal(col.type, "base");
  assert.equal(col.system, false);
  assert.deepEqual(col.indexes, []);
  assert.match(col.created, DATETIME_RE);
  assert.match(col.updated, DATETIME_RE);
  for (const [rule, value] of Object.entries(PUBLIC_RULES)) {
    assert.equal(col[rule], value, rule);
  }

  // The id field is prepended automatically.
  const names = col.fields.map((f) => f.name);
  assert.deepEqual(names, [
    "id", "title", "num", "flag", "contact", "site", "when", "tags", "meta", "ref", "created", "updated",
  ]);
  const idField = col.fields[0];
  assert.equal(idField.type, "text");
  assert.equal(idField.primaryKey, true);
  assert.equal(idField.system, true);
  assert.equal(idField.required, true);
  assert.equal(idField.min, 15);
  assert.equal(idField.max, 15);
  assert.equal(idField.pattern, "^[a-z0-9]+$");
  assert.equal(idField.autogeneratePattern, "[a-z0-9]{15}");

  for (const f of col.fields) {
    assert.match(f.id, new RegExp(`^${f.type}\\d+$`), `field id of ${f.name}`);
    // field id = type + CRC32(name)
    assert.equal(f.id, `${f.type}${crc32(f.name)}`, `field id of ${f.name}`);
    for (const key of ["id", "name", "type", "system", "hidden", "presentable"]) {
      assert.ok(key in f, `${f.name} has ${key}`);
    }
    if (f.type !== "autodate") assert.equal(f.help, "", `${f.name}.help`);
  }

  const byName = Object.fromEntries(col.fields.map((f) => [f.name, f]));
  assert.equal(byName.title.required, true);
  assert.equal(byName.title.min, 3);
  assert.equal(byName.title.max, 50);
  assert.equal(byName.title.primaryKey, false);
  assert.equal(byName.num.min, 0);
  assert.equal(byName.num.max, null);
  assert.equal(byName.num.onlyInt, true);
  assert.equal(byName.flag.type, "bool");
  assert.equal(byName.when.min, "");
  assert.equal(byName.when.max, "");
  assert.deepEqual(byName.tags.values, ["a", "b", "c"]);
  assert.equal(byName.tags.maxSelect, 2);
  assert.equal(byName.ref.collectionId, target.id);
  assert.equal(byName.ref.maxSelect, 1);
  assert.equal(byName.ref.cascadeDelete, false);
  assert.equal(byName.created.onCreate, true);
  assert.equal(byName.created.onUpdate, false);
  assert.equal(byName.updated.onCreate, true);
  assert.equal(byName.updated.onUpdate, true);
});

test("collection defaults: rules null, only the id field", async () => {
  const pb = await superuserClient();
  const name = uniqueName("bare");
  const col = await pb.collections.create({ name });
  created.push(name);
  assert.equal(col.type, "base");
  for (const rule of Object.keys(PUBLIC_RULES)) assert.equal(col[rule], null, rule);
  assert.deepEqual(col.fields.map((f) => f.name), ["id"]);
});

test("getOne, getFullList, getList with filter", async () => {
  const pb = await superuserClient();
  const target = await createTarget(pb);

  const byName = await pb.collections.getOne(target.name);
  assert.equal(byName.id, target.id);
  assert.equal(byName.name, target.name);
  const byId = await pb.collections.getOne(target.id);
  assert.equal(byId.name, target.name);

  const all = await pb.collections.getFullList();
  assert.ok(all.some((c) => c.id === target.id));
  assert.ok(all.some((c) => c.name === "users" && c.type === "auth"));
  assert.ok(all.some((c) => c.name === "_superusers" && c.system === true));

  const list = await pb.collections.getList(1, 5, { filter: `name = "${target.name}"` });
  assert.equal(list.totalItems, 1);
  assert.equal(list.items[0].id, target.id);

  await expectError(pb.collections.getOne(uniqueName("missing")), 404, {
    message: "The requested resource wasn't found.",
  });
});

test("collections API requires a superuser", async () => {
  const guest = newClient();
  await expectError(guest.collections.getFullList(), 401, {
    message: "The request requires valid record authorization token.",
    data: {},
  });
});

test("update adds a field (full list) and keeps record data; rename by field id keeps data", async () => {
  const pb = await superuserClient();
  const name = uniqueName("evolve");
  const col = await pb.collections.create({
    name,
    fields: [
      { name: "title", type: "text" },
      { name: "num", type: "number" },
    ],
    ...PUBLIC_RULES,
  });
  created.push(name);
  const rec = await pb.collection(name).create({ title: "keep me", num: 7 });

  // add a field, sending the full list back
  const withExtra = await pb.collections.update(name, {
    fields: [...col.fields, { name: "extra", type: "bool" }],
  });
  assert.deepEqual(withExtra.fields.map((f) => f.name), ["id", "title", "num", "extra"]);
  let got = await pb.collection(name).getOne(rec.id);
  assert.equal(got.title, "keep me");
  assert.equal(got.num, 7);
  assert.equal(got.extra, false);

  // rename `title` -> `headline` via its id
  const titleField = withExtra.fields.find((f) => f.name === "title");
  const renamed = await pb.collections.update(name, {
    fields: withExtra.fields.map((f) => (f.id === titleField.id ? { ...f, name: "headline" } : f)),
  });
  const headline = renamed.fields.find((f) => f.name === "headline");
  assert.equal(headline.id, titleField.id, "renamed field keeps its id");
  assert.equal(renamed.fields.some((f) => f.name === "title"), false);
  got = await pb.collection(name).getOne(rec.id);
  assert.equal(got.headline, "keep me");
  assert.equal("title" in got, false);
  assert.equal(got.num, 7);

  // update a rule only; fields untouched
  const ruled = await pb.collections.update(name, { listRule: null });
  assert.equal(ruled.listRule, null);
  assert.equal(ruled.viewRule, "");
  assert.deepEqual(ruled.fields.map((f) => f.name), ["id", "headline", "num", "extra"]);
});

test("omitting a field on update drops it and its data", async () => {
  const pb = await superuserClient();
  const name = uniqueName("dropper");
  const col = await pb.collections.create({
    name,
    fields: [
      { name: "a", type: "text" },
      { name: "b", type: "text" },
    ],
  });
  created.push(name);
  const rec = await pb.collection(name).create({ a: "x", b: "y" });
  const updated = await pb.collections.update(name, {
    fields: col.fields.filter((f) => f.name !== "b"),
  });
  assert.deepEqual(updated.fields.map((f) => f.name), ["id", "a"]);
  const got = await pb.collection(name).getOne(rec.id);
  assert.equal(got.a, "x");
  assert.equal("b" in got, false);
});

test("invalid collection name is rejected", async () => {
  const pb = await superuserClient();
  const err = await expectError(pb.collections.create({ name: "bad name!" }), 400, {
    message: "Failed to create collection.",
  });
  assert.deepEqual(err.response.data, {
    name: { code: "validation_match_invalid", message: "Must be in a valid format." },
  });
});

test("duplicate collection name is rejected (case-insensitively)", async () => {
  const pb = await superuserClient();
  const name = uniqueName("dup");
  await pb.collections.create({ name });
  created.push(name);

  let err = await expectError(pb.collections.create({ name }), 400, {
    message: "Failed to create collection.",
  });
  assert.deepEqual(err.response.data, {
    name: {
      code: "validation_collection_name_exists",
      message: "Collection name must be unique (case insensitive).",
    },
  });

  err = await expectError(pb.collections.create({ name: name.toUpperCase() }), 400);
  assert.equal(err.response.data.name.code, "validation_collection_name_exists");
});

test("deleting a collection referenced by a relation fails with 400", async () => {
  const pb = await superuserClient();
  const target = await createTarget(pb);
  const refName = uniqueName("referrer");
  await pb.collections.create({
    name: refName,
    fields: [{ name: "ref", type: "relation", collectionId: target.id, maxSelect: 1 }],
  });
  created.push(refName);

  const err = await expectError(pb.collections.delete(target.name), 400);
  assert.equal(
    err.response.message,
    `Failed to delete collection probably due to existing reference in ${refName}.`,
  );
  assert.deepEqual(err.response.data, {});

  // still there
  const still = await pb.collections.getOne(target.id);
  assert.equal(still.name, target.name);

  // after removing the referrer the target can be deleted (204 -> true)
  assert.equal(await pb.collections.delete(refName), true);
  assert.equal(await pb.collections.delete(target.name), true);
  await expectError(pb.collections.getOne(target.name), 404);
});

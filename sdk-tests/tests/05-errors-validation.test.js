// Record validation errors, not-found / bad-request / forbidden errors and the error shape.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { ClientResponseError } from "pocketbase";
import {
  superuserClient,
  newClient,
  uniqueName,
  uniqueRecordId,
  expectError,
  assertErrorShape,
  cleanupCollections,
} from "./helpers.js";

const PUBLIC_RULES = { listRule: "", viewRule: "", createRule: "", updateRule: "", deleteRule: "" };
const GENERIC_400 = "Something went wrong while processing your request.";
const NOT_FOUND = "The requested resource wasn't found.";
const ONLY_SUPERUSERS = "Only superusers can perform this action.";

let su;
let col; // public collection with validated fields
let locked; // all rules null
let ruled; // plain-field rules
const pb = newClient();

before(async () => {
  su = await superuserClient();
  col = await su.collections.create({
    name: uniqueName("val"),
    fields: [
      { name: "title", type: "text", required: true, min: 3, max: 50 },
      { name: "num", type: "number", min: 0, max: 100, onlyInt: true },
      { name: "tags", type: "select", values: ["a", "b", "c"], maxSelect: 2 },
      { name: "contact", type: "email" },
      { name: "site", type: "url" },
      { name: "code", type: "text" },
    ],
    ...PUBLIC_RULES,
  });
  // unique index on `code` (the index name must be unique database-wide)
  col = await su.collections.update(col.id, {
    indexes: [`CREATE UNIQUE INDEX idx_code_${col.name} ON ${col.name} (code) WHERE code != ''`],
  });
  locked = await su.collections.create({
    name: uniqueName("locked"),
    fields: [{ name: "title", type: "text" }],
  });
  ruled = await su.collections.create({
    name: uniqueName("ruled"),
    fields: [
      { name: "title", type: "text" },
      { name: "visible", type: "bool" },
    ],
    listRule: "visible = true",
    viewRule: "visible = true",
    createRule: "title != 'forbidden'",
    updateRule: "visible = true",
    deleteRule: "visible = true",
  });
});

after(async () => {
  await cleanupCollections(su, [col?.name, locked?.name, ruled?.name].filter(Boolean));
});

function createErr(body, check) {
  return expectError(pb.collection(col.name).create(body), 400, (err) => {
    assert.equal(err.response.message, "Failed to create record.");
    return check(err.response.data);
  });
}

test("text min length -> validation_min_text_constraint with params", async () => {
  await createErr({ title: "ab" }, (data) => {
    assert.deepEqual(data, {
      title: {
        code: "validation_min_text_constraint",
        message: "Must be at least 3 character(s).",
        params: { min: 3 },
      },
    });
  });
  await createErr({ title: "x".repeat(51) }, (data) => {
    assert.deepEqual(data.title, {
      code: "validation_max_text_constraint",
      message: "Must be no more than 50 character(s).",
      params: { max: 50 },
    });
  });
  // length is counted in characters, not bytes
  const ok = await pb.collection(col.name).create({ title: "äöü" });
  assert.equal(ok.title, "äöü");
});

test("missing / empty required field -> validation_required", async () => {
  await createErr({}, (data) => {
    assert.deepEqual(data, { title: { code: "validation_required", message: "Cannot be blank." } });
  });
  await createErr({ title: "" }, (data) => assert.equal(data.title.code, "validation_required"));
});

test("number min, max and onlyInt", async () => {
  await createErr({ title: "abc", num: -1 }, (data) => {
    assert.deepEqual(data, {
      num: {
        code: "validation_min_number_constraint",
        message: "Must be greater or equal than 0.",
        params: { min: 0 },
      },
    });
  });
  await createErr({ title: "abc", num: 101 }, (data) => {
    assert.deepEqual(data.num, {
      code: "validation_max_number_constraint",
      message: "Must be less or equal than 100.",
      params: { max: 100 },
    });
  });
  await createErr({ title: "abc", num: 1.5 }, (data) => {
    assert.deepEqual(data.num, {
      code: "validation_only_int_constraint",
      message: "Decimal numbers are not allowed.",
    });
    assert.equal("params" in data.num, false, "no params when the validator has none");
  });
});

test("select: invalid value and too many values", async () => {
  await createErr({ title: "abc", tags: ["x"] }, (data) => {
    assert.deepEqual(data.tags, {
      code: "validation_invalid_value",
      message: "Invalid value x.",
      params: { value: "x" },
    });
  });
  await createErr({ title: "abc", tags: ["a", "b", "c"] }, (data) => {
    assert.deepEqual(data.tags, {
      code: "validation_too_many_values",
      message: "Select no more than 2.",
      params: { maxSelect: 2 },
    });
  });
});

test("email and url format", async () => {
  await createErr({ title: "abc", contact: "not-an-email" }, (data) => {
    assert.deepEqual(data.contact, { code: "validation_is_email", message: "Must be a valid email address." });
  });
  await createErr({ title: "abc", site: "not a url" }, (data) => {
    assert.deepEqual(data.site, { code: "validation_invalid_url", message: "Must be a valid url." });
  });
});

test("all failing fields are reported at once", async () => {
  await createErr({ title: "ab", num: -2, contact: "x", tags: ["z"] }, (data) => {
    assert.deepEqual(Object.keys(data).sort(), ["contact", "num", "tags", "title"]);
    assert.equal(data.title.code, "validation_min_text_constraint");
    assert.equal(data.num.code, "validation_min_number_constraint");
    assert.equal(data.contact.code, "validation_is_email");
    assert.equal(data.tags.code, "validation_invalid_value");
  });
});

test("record id: duplicate -> validation_not_unique on `id`; bad format/length", async () => {
  const id = uniqueRecordId();
  await pb.collection(col.name).create({ id, title: "first" });
  await createErr({ id, title: "second" }, (data) => {
    assert.deepEqual(data, { id: { code: "validation_not_unique", message: "Value must be unique." } });
  });
  await createErr({ id: "short", title: "abc" }, (data) => {
    assert.deepEqual(data.id, {
      code: "validation_min_text_constraint",
      message: "Must be at least 15 character(s).",
      params: { min: 15 },
    });
  });
  await createErr({ id: "ABCDEFGHIJ12345", title: "abc" }, (data) => {
    assert.deepEqual(data.id, { code: "validation_invalid_format", message: "Invalid value format." });
  });
});

test("unique index violation -> validation_not_unique on the field", async () => {
  const code = uniqueName("code");
  await pb.collection(col.name).create({ title: "uniq1", code });
  await createErr({ title: "uniq2", code }, (data) => {
    assert.deepEqual(data, { code: { code: "validation_not_unique", message: "Value must be unique." } });
  });
});

test("update validation -> Failed to update record.", async () => {
  const rec = await pb.collection(col.name).create({ title: "valid" });
  await expectError(pb.collection(col.name).update(rec.id, { title: "ab", num: 0.5 }), 400, (err) => {
    assert.equal(err.response.message, "Failed to update record.");
    assert.equal(err.response.data.title.code, "validation_min_text_constraint");
    assert.equal(err.response.data.num.code, "validation_only_int_constraint");
  });
  // unchanged
  const got = await pb.collection(col.name).getOne(rec.id);
  assert.equal(got.title, "valid");
});

test("unknown collection -> 404", async () => {
  const missing = uniqueName("nosuch");
  // list/view/delete and create/update word it differently
  const expected = { message: "Missing collection context.", data: {} };
  await expectError(pb.collection(missing).getList(), 404, expected);
  await expectError(pb.collection(missing).getOne(uniqueRecordId()), 404, expected);
  await expectError(pb.collection(missing).delete(uniqueRecordId()), 404, expected);
  const expectedWrite = { message: "Missing or invalid collection context.", data: {} };
  await expectError(pb.collection(missing).create({ title: "x" }), 404, expectedWrite);
  await expectError(pb.collection(missing).update(uniqueRecordId(), { title: "x" }), 404, expectedWrite);
});

test("invalid filter or sort -> PocketBase's generic 400, with the reason under data", async () => {
  // PocketBase answers these with an empty `data`; kulisse keeps its status and message and
  // says what is wrong and where under data.filter / data.sort.
  const cases = [
    [{ filter: "title =" }, "filter", "expected an operand, found end of input at 1:8"],
    [{ filter: "(title = 'x'" }, "filter", null],
    [{ filter: "nosuchfield = 1" }, "filter", 'unknown or hidden field "nosuchfield" at 1:1'],
    [{ filter: "   " }, "filter", null],
    [{ sort: "nosuchfield" }, "sort", 'unknown or hidden field "nosuchfield" at 1:1'],
  ];
  for (const [options, param, reason] of cases) {
    const err = await expectError(pb.collection(col.name).getList(1, 10, options), 400, { message: GENERIC_400 });
    assert.deepEqual(Object.keys(err.response.data), [param], JSON.stringify(options));
    assert.equal(err.response.data[param].code, `validation_invalid_${param}`);
    if (reason) assert.equal(err.response.data[param].message, reason);
  }
  const err = await expectError(pb.collection(col.name).getFirstListItem("title ~~ 'x'"), 400, { message: GENERIC_400 });
  assert.equal(err.response.data.filter.code, "validation_invalid_filter");
});

test("view of an unknown record -> 404", async () => {
  await expectError(pb.collection(col.name).getOne(uniqueRecordId()), 404, { message: NOT_FOUND, data: {} });
  await expectError(pb.collection(col.name).delete(uniqueRecordId()), 404, { message: NOT_FOUND, data: {} });
});

test("null rules: guests get 403, superusers bypass", async () => {
  const expected = { message: ONLY_SUPERUSERS, data: {} };
  await expectError(pb.collection(locked.name).getList(), 403, expected);
  await expectError(pb.collection(locked.name).getFullList(), 403, expected);
  await expectError(pb.collection(locked.name).create({ title: "x" }), 403, expected);

  const rec = await su.collection(locked.name).create({ title: "su only" });
  await expectError(pb.collection(locked.name).getOne(rec.id), 403, expected);
  await expectError(pb.collection(locked.name).update(rec.id, { title: "y" }), 403, expected);
  await expectError(pb.collection(locked.name).delete(rec.id), 403, expected);

  const list = await su.collection(locked.name).getList();
  assert.equal(list.totalItems, 1);
});

test("plain-field rules: filtered list, 404 on view/update/delete, 400 on create", async () => {
  const hidden = await su.collection(ruled.name).create({ title: "hidden", visible: false });
  const shown = await su.collection(ruled.name).create({ title: "shown", visible: true });

  const list = await pb.collection(ruled.name).getFullList();
  assert.deepEqual(list.map((r) => r.id), [shown.id]);

  await expectError(pb.collection(ruled.name).getOne(hidden.id), 404, { message: NOT_FOUND, data: {} });
  await expectError(pb.collection(ruled.name).update(hidden.id, { title: "x" }), 404, { message: NOT_FOUND });
  await expectError(pb.collection(ruled.name).delete(hidden.id), 404, { message: NOT_FOUND });
  assert.equal((await pb.collection(ruled.name).getOne(shown.id)).title, "shown");

  await expectError(pb.collection(ruled.name).create({ title: "forbidden" }), 400, {
    message: "Failed to create record.",
    data: {},
  });
  const ok = await pb.collection(ruled.name).create({ title: "allowed" });
  assert.equal(ok.title, "allowed");
});

test("every ClientResponseError has status, response.message and response.data", async () => {
  const errors = [];
  const attempts = [
    () => pb.collection(col.name).create({}),
    () => pb.collection(col.name).getOne(uniqueRecordId()),
    () => pb.collection(col.name).getList(1, 1, { filter: "title =" }),
    () => pb.collection(locked.name).getList(),
    () => pb.collection(uniqueName("nosuch")).getList(),
    () => pb.collection(col.name).getFirstListItem("title = 'no such title'"),
    () => pb.collection("_superusers").authWithPassword("x@example.com", "wrongpassword"),
    () => pb.collection("users").authRefresh(),
    () => pb.collections.getFullList(),
  ];
  for (const attempt of attempts) {
    try {
      await attempt();
      assert.fail("expected failure");
    } catch (e) {
      if (e instanceof assert.AssertionError) throw e;
      errors.push(e);
    }
  }
  assert.deepEqual(errors.map((e) => e.status), [400, 404, 400, 403, 404, 404, 400, 401, 401]);
  for (const e of errors) {
    assert.ok(e instanceof ClientResponseError);
    assertErrorShape(e);
    assert.equal(e.message, e.response.message, "Error.message mirrors response.message");
    assert.deepEqual(e.data, e.response, "legacy .data alias");
    assert.match(e.response.message, /^[A-Z].*\.$/, "sentenized message");
    if (e.response.status !== undefined) assert.equal(e.response.status, e.status);
  }
});

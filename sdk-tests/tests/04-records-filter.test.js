// Plain-field filters, sorting and skipTotal through the SDK.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { superuserClient, newClient, uniqueName, cleanupCollections } from "./helpers.js";

let su;
let col;
const pb = newClient();

// title, num, flag, tags, note
const ROWS = [
  ["alpha", 1, true, ["a"], "Red apple"],
  ["bravo", 2, false, ["b"], "green pear"],
  ["charlie", 3, true, ["a", "b"], "RED cherry"],
  ["delta", 3, false, [], ""],
  ["echo", 5, true, ["c"], "x'y \"quoted\""],
  ["foxtrot", 8, false, ["b", "c"], "100% juice"],
];

before(async () => {
  su = await superuserClient();
  col = await su.collections.create({
    name: uniqueName("filt"),
    fields: [
      { name: "title", type: "text" },
      { name: "num", type: "number" },
      { name: "flag", type: "bool" },
      { name: "tags", type: "select", values: ["a", "b", "c"], maxSelect: 3 },
      { name: "note", type: "text" },
    ],
    listRule: "",
    viewRule: "",
    createRule: "",
  });
  for (const [title, num, flag, tags, note] of ROWS) {
    await pb.collection(col.name).create({ title, num, flag, tags, note });
  }
});

after(async () => {
  await cleanupCollections(su, [col?.name].filter(Boolean));
});

async function titles(filter, sort = "title") {
  const items = await pb.collection(col.name).getFullList({ filter, sort });
  return items.map((r) => r.title);
}

test("pb.filter() placeholders with numbers and strings", async () => {
  const f = pb.filter("num > {:n} && title != {:t}", { n: 2, t: "echo" });
  assert.equal(f, 'num > 2 && title != "echo"');
  assert.deepEqual(await titles(f), ["charlie", "delta", "foxtrot"]);

  // quotes inside a bound string are escaped by the SDK and matched literally
  const q = pb.filter("note = {:v}", { v: "x'y \"quoted\"" });
  assert.deepEqual(await titles(q), ["echo"]);

  const b = pb.filter("flag = {:f} && num <= {:max}", { f: true, max: 3 });
  assert.deepEqual(await titles(b), ["alpha", "charlie"]);
});

test("comparison operators on plain fields", async () => {
  assert.deepEqual(await titles("num = 3"), ["charlie", "delta"]);
  assert.deepEqual(await titles("num != 3"), ["alpha", "bravo", "echo", "foxtrot"]);
  assert.deepEqual(await titles("num >= 5"), ["echo", "foxtrot"]);
  assert.deepEqual(await titles("num < 2"), ["alpha"]);
  assert.deepEqual(await titles("title = 'bravo'"), ["bravo"]);
  assert.deepEqual(await titles('title > "d"'), ["delta", "echo", "foxtrot"]);
  assert.deepEqual(await titles("flag = false"), ["bravo", "delta", "foxtrot"]);
  assert.deepEqual(await titles("note = ''"), ["delta"]);
  assert.deepEqual(await titles("note = null"), ["delta"]);
});

test("~ and !~ (LIKE, case-insensitive) and = is case-sensitive", async () => {
  assert.deepEqual(await titles('note ~ "red"'), ["alpha", "charlie"]);
  assert.deepEqual(await titles('note = "red apple"'), []);
  assert.deepEqual(await titles('note = "Red apple"'), ["alpha"]);
  assert.deepEqual(await titles('note !~ "red"'), ["bravo", "delta", "echo", "foxtrot"]);
  // explicit wildcard: no implicit %...% wrapping
  assert.deepEqual(await titles('title ~ "%o"'), ["bravo", "echo"]);
  assert.deepEqual(await titles('title ~ "o"'), ["bravo", "echo", "foxtrot"]);
});

test("?= / ?~ (any-of), :each, :length and :lower on plain fields", async () => {
  // on a single-value column the any-operators behave like the plain ones
  assert.deepEqual(await titles("num ?= 3"), ["charlie", "delta"]);
  assert.deepEqual(await titles('title ?~ "ha"'), ["alpha", "charlie"]);
  // a multi-select column referenced directly is its JSON text: = and ?= never match an element
  assert.deepEqual(await titles('tags = "b"'), []);
  assert.deepEqual(await titles('tags ?= "b"'), []);
  // `~` on a multi-select matches against its JSON text
  assert.deepEqual(await titles('tags ~ "c"'), ["echo", "foxtrot"]);
  // :each fans out over the elements: ?= any, = all
  assert.deepEqual(await titles('tags:each ?= "b"'), ["bravo", "charlie", "foxtrot"]);
  assert.deepEqual(await titles('tags:each ?= "c" && num > 5'), ["foxtrot"]);
  assert.deepEqual(await titles('tags:each = "b"'), ["bravo"]);
  // != on an empty fan-out matches (NULL IS NOT 'a')
  assert.deepEqual(await titles('tags:each != "a"'), ["bravo", "delta", "echo", "foxtrot"]);
  assert.deepEqual(await titles("tags:length = 2"), ["charlie", "foxtrot"]);
  assert.deepEqual(await titles("tags:length = 0"), ["delta"]);
  assert.deepEqual(await titles("title:lower = 'alpha' || note:lower ~ 'red cherry'"), ["alpha", "charlie"]);
});

test("&& binds tighter than ||, parentheses override", async () => {
  // a || (b && c)
  assert.deepEqual(await titles("num = 1 || num = 3 && flag = false"), ["alpha", "delta"]);
  // (a || b) && c
  assert.deepEqual(await titles("(num = 1 || num = 3) && flag = false"), ["delta"]);
  assert.deepEqual(await titles("flag = true && num > 1 || title = 'bravo'"), ["bravo", "charlie", "echo"]);
  // comments and newlines are allowed
  assert.deepEqual(await titles("num > 4 // big ones\n && flag = true"), ["echo"]);
});

test("multi-key sort: -num,title", async () => {
  const items = await pb.collection(col.name).getList(1, 10, { sort: "-num,title" });
  assert.deepEqual(items.items.map((r) => r.title), [
    "foxtrot", "echo", "charlie", "delta", "bravo", "alpha",
  ]);
  const items2 = await pb.collection(col.name).getList(1, 10, { sort: "-num,-title" });
  assert.deepEqual(items2.items.map((r) => r.title), [
    "foxtrot", "echo", "delta", "charlie", "bravo", "alpha",
  ]);
  const items3 = await pb.collection(col.name).getList(1, 3, { sort: "+num,title" });
  assert.deepEqual(items3.items.map((r) => r.title), ["alpha", "bravo", "charlie"]);
});

test("skipTotal returns -1 totals", async () => {
  const res = await pb.collection(col.name).getList(1, 10, { skipTotal: true });
  assert.equal(res.totalItems, -1);
  assert.equal(res.totalPages, -1);
  assert.equal(res.page, 1);
  assert.equal(res.perPage, 10);
  assert.equal(res.items.length, ROWS.length);

  const filtered = await pb.collection(col.name).getList(2, 2, {
    skipTotal: true,
    filter: "num >= 2",
    sort: "num,title",
  });
  assert.equal(filtered.totalItems, -1);
  assert.equal(filtered.totalPages, -1);
  assert.deepEqual(filtered.items.map((r) => r.title), ["delta", "echo"]);
});

test("perPage above 1000 is clamped", async () => {
  const res = await pb.collection(col.name).getList(1, 5000);
  assert.equal(res.perPage, 1000);
  assert.equal(res.totalItems, ROWS.length);
});

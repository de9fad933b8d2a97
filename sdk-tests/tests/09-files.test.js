// Files through the SDK (issue 15): FormData uploads with Node's Blob/File,
// `pb.files.getURL` downloads and thumbs, `field+` and `field-` on update, a deleted
// record's files gone, protected files with `pb.files.getToken()`, and batches with files.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import {
  superuserClient,
  newClient,
  uniqueName,
  cleanupCollections,
  createVerifiedUser,
} from "./helpers.js";

let su;
let docs; // { title, files (up to 3), cover (one png) }
let papers; // { owner -> users, paper (protected) }, view rule: the owner

before(async () => {
  su = await superuserClient();
  // With an S3-compatible server (the test script passes moto's on PostgreSQL), the files
  // go to a fresh bucket of it.
  const s3 = process.env.KULISSE_S3_URL;
  if (s3) {
    const bucket = uniqueName("kulisse-sdk").toLowerCase().replace(/_/g, "-");
    const made = await fetch(`${s3}/${bucket}`, { method: "PUT" });
    assert.ok(made.ok, `create bucket ${bucket}`);
    await su.settings.update({
      s3: { enabled: true, bucket, region: "us-east-1", endpoint: s3, accessKey: "test",
        secret: "test", forcePathStyle: true },
    });
  }
  docs = await su.collections.create({
    name: uniqueName("docs"),
    listRule: "",
    viewRule: "",
    createRule: "",
    updateRule: "",
    deleteRule: "",
    fields: [
      { name: "title", type: "text" },
      { name: "files", type: "file", maxSelect: 3 },
      { name: "cover", type: "file", maxSelect: 1, mimeTypes: ["image/png"], thumbs: ["10x0"] },
    ],
  });
  papers = await su.collections.create({
    name: uniqueName("papers"),
    viewRule: "owner = @request.auth.id",
    fields: [
      { name: "owner", type: "relation", collectionId: "_pb_users_auth_", maxSelect: 1 },
      { name: "paper", type: "file", maxSelect: 1, protected: true },
    ],
  });
});

after(async () => {
  await su.settings.update({ batch: { enabled: false }, s3: { enabled: false } });
  await cleanupCollections(su, [docs.name, papers.name]);
});

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

async function fetchFile(pb, record, name, query) {
  const res = await fetch(pb.files.getURL(record, name, query));
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

test("FormData uploads are stored under PocketBase's names and served by pb.files.getURL", async () => {
  const pb = newClient();
  const form = new FormData();
  form.append("title", "with files");
  form.append("files", new Blob(["first notes"], { type: "text/plain" }), "Notes One.txt");
  form.append("files", new File(["second"], "b.txt", { type: "text/plain" }));
  form.append("cover", new Blob([PNG], { type: "image/png" }), "cover.png");
  const record = await pb.collection(docs.name).create(form);

  assert.equal(record.title, "with files");
  assert.equal(record.files.length, 2);
  assert.match(record.files[0], /^notes_one_[a-z0-9]{10}\.txt$/);
  assert.match(record.files[1], /^b[a-z0-9]{10}_[a-z0-9]{10}\.txt$/, "short stems are padded");
  assert.match(record.cover, /^cover_[a-z0-9]{10}\.png$/);

  const text = await fetchFile(pb, record, record.files[0]);
  assert.equal(text.status, 200);
  assert.equal(text.body.toString(), "first notes");
  assert.match(text.headers.get("content-disposition"), /^attachment; filename="/);
  const image = await fetchFile(pb, record, record.cover);
  assert.deepEqual([image.status, image.headers.get("content-type")], [200, "image/png"]);
  assert.deepEqual(new Uint8Array(image.body), PNG);
  assert.match(image.headers.get("content-disposition"), /^inline; /);
  const forced = await fetchFile(pb, record, record.cover, { download: 1 });
  assert.match(forced.headers.get("content-disposition"), /^attachment; /);
});

test("files+ appends, files- removes, and a deleted record's files are gone", async () => {
  const pb = newClient();
  const form = new FormData();
  form.append("files", new Blob(["one"]), "one.txt");
  let record = await pb.collection(docs.name).create(form);
  const [one] = record.files;

  const more = new FormData();
  more.append("files+", new Blob(["two"]), "two.txt");
  record = await pb.collection(docs.name).update(record.id, more);
  assert.equal(record.files.length, 2);
  assert.equal(record.files[0], one);
  const two = record.files[1];

  record = await pb.collection(docs.name).update(record.id, { "files-": [one] });
  assert.deepEqual(record.files, [two]);
  assert.equal((await fetchFile(pb, record, one)).status, 404);
  assert.equal((await fetchFile(pb, record, two)).body.toString(), "two");

  await pb.collection(docs.name).delete(record.id);
  assert.equal((await fetchFile(pb, record, two)).status, 404);
});

test("a file of the wrong type is refused with PocketBase's error and nothing is kept", async () => {
  const pb = newClient();
  const form = new FormData();
  form.append("title", "refused");
  form.append("cover", new Blob(["not an image"]), "cover.txt");
  await assert.rejects(pb.collection(docs.name).create(form), (err) => {
    assert.equal(err.status, 400);
    assert.equal(err.response.data.cover.code, "validation_invalid_mime_type");
    return true;
  });
  const list = await su.collection(docs.name).getList(1, 50, { filter: "title = 'refused'" });
  assert.equal(list.totalItems, 0);
});

test("a protected file downloads only with pb.files.getToken() of a record the view rule lets see it", async () => {
  const owner = await createVerifiedUser(su);
  const other = await createVerifiedUser(su);
  const form = new FormData();
  form.append("owner", owner.record.id);
  form.append("paper", new Blob(["%PDF-1.4 secret"]), "secret.pdf");
  const record = await su.collection(papers.name).create(form);

  assert.equal((await fetchFile(newClient(), record, record.paper)).status, 404, "no token");
  const token = await owner.pb.files.getToken();
  const mine = await fetchFile(owner.pb, record, record.paper, { token });
  assert.deepEqual([mine.status, mine.body.toString()], [200, "%PDF-1.4 secret"]);
  const theirs = await fetchFile(other.pb, record, record.paper, { token: await other.pb.files.getToken() });
  assert.equal(theirs.status, 404, "the view rule decides");
  await assert.rejects(newClient().files.getToken(), (err) => err.status === 401);
  await su.collection("users").delete(owner.record.id);
  await su.collection("users").delete(other.record.id);
});

// 40 x 20 pixels: the left half blue, the right half red.
const PICTURE = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAACgAAAAUCAIAAABwJOjsAAAALElEQVR4nO3NwQ0AAAjCQHD/nXEHTHy1/+YsRW2R63fq8xgwMDAwMDAw8H8LZi4CJxCbxwYAAAAASUVORK5CYII=",
  "base64",
);

/** Width and height from a PNG's header. */
function pngSize(bytes) {
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

test("pb.files.getURL with thumb serves declared sizes and 100x100, the original otherwise", async () => {
  const pb = newClient();
  const form = new FormData();
  form.append("cover", new Blob([PICTURE], { type: "image/png" }), "picture.png");
  const record = await pb.collection(docs.name).create(form);

  let got = await fetchFile(pb, record, record.cover, { thumb: "10x0" });
  assert.equal(got.status, 200);
  assert.equal(got.headers.get("content-type"), "image/png");
  assert.deepEqual(pngSize(got.body), [10, 5]);
  assert.equal(got.headers.get("content-disposition"), `inline; filename="10x0_${record.cover}"`);
  got = await fetchFile(pb, record, record.cover, { thumb: "100x100" });
  assert.deepEqual(pngSize(got.body), [100, 100]);
  got = await fetchFile(pb, record, record.cover, { thumb: "20x20" });
  assert.deepEqual(got.body, PICTURE, "an undeclared size: the original");
});

test("a batch with files stores each sub-request's files", async () => {
  await su.settings.update({ batch: { enabled: true } });
  const pb = newClient();
  const batch = pb.createBatch();
  batch.collection(docs.name).create({
    title: "batched",
    files: [new File(["one"], "one.txt"), new File(["two"], "two.txt")],
  });
  batch.collection(docs.name).create({ title: "also", cover: new File([PICTURE], "c.png") });
  const [first, second] = await batch.send();
  assert.equal(first.status, 200);
  assert.equal(first.body.files.length, 2);
  const got = await fetchFile(pb, first.body, first.body.files[1]);
  assert.equal(got.body.toString(), "two");
  assert.match(second.body.cover, /^c[a-z0-9]{10}_[a-z0-9]{10}\.png$/, "a short stem is padded");
});

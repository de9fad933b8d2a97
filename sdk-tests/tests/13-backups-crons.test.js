// Backups and scheduled jobs through the official SDK (`pb.backups`, `pb.crons`).
import { test } from "node:test";
import assert from "node:assert/strict";
import { superuserClient, newClient, expectError } from "./helpers.js";

test("backups: create, list, download, upload and delete", async () => {
  const pb = await superuserClient();
  const name = `sdk_${Date.now()}.zip`;
  await pb.backups.create(name);
  const item = (await pb.backups.getFullList()).find((b) => b.key === name);
  assert.ok(item, "the new backup is listed");
  assert.ok(item.size > 0);
  assert.match(item.modified, /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}Z$/);

  const token = await pb.files.getToken();
  const res = await fetch(pb.backups.getDownloadURL(token, name));
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "application/zip");
  const bytes = new Uint8Array(await res.arrayBuffer());
  assert.deepEqual([...bytes.slice(0, 4)], [0x50, 0x4b, 0x03, 0x04], "a zip");

  const copy = `sdk_copy_${Date.now()}.zip`;
  await pb.backups.upload({ file: new File([bytes], copy, { type: "application/zip" }) });
  assert.ok((await pb.backups.getFullList()).some((b) => b.key === copy));

  await pb.backups.delete(copy);
  await pb.backups.delete(name);
  const left = (await pb.backups.getFullList()).map((b) => b.key);
  assert.ok(!left.includes(name) && !left.includes(copy));

  await expectError(pb.backups.create("Not Valid.zip"), 400);
  await expectError(newClient().backups.getFullList(), 401);
});

test("crons: PocketBase's jobs are listed and run on demand", async () => {
  const pb = await superuserClient();
  const jobs = await pb.crons.getFullList();
  const ids = jobs.map((j) => j.id);
  for (const id of ["__pbDBOptimize__", "__pbMFACleanup__", "__pbOTPCleanup__", "__pbLogsCleanup__"]) {
    assert.ok(ids.includes(id), `${id} in ${ids}`);
  }
  assert.equal(jobs.find((j) => j.id === "__pbLogsCleanup__").expression, "0 */6 * * *");
  await pb.crons.run("__pbDBOptimize__");
  await expectError(pb.crons.run("nope"), 404);
});

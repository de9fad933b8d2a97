// Accounts' mailed flows through the SDK (issue 16): requestVerification /
// confirmVerification, requestPasswordReset / confirmPasswordReset and requestEmailChange /
// confirmEmailChange, with the mails read from the test script's SMTP sink (a Maildir).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { simpleParser } from "mailparser";
import { superuserClient, newClient, uniqueEmail, uniqueName, cleanupCollections } from "./helpers.js";

const SMTP = process.env.KULISSE_TEST_SMTP; // host:port of the sink
const MAILDIR = process.env.KULISSE_TEST_MAILDIR;
// Without the sink (a run outside the test script) there is nothing to read; under CI the
// script always starts it.
const skip = !SMTP && process.env.CI !== "true" ? "KULISSE_TEST_SMTP is not set" : false;

let su;

before(async () => {
  if (skip) return;
  su = await superuserClient();
  const [host, port] = SMTP.split(":");
  await su.settings.update({
    smtp: { enabled: true, host, port: Number(port) },
    meta: { appURL: "https://app.test" },
  });
});

after(async () => {
  if (skip) return;
  await su.settings.update({ smtp: { enabled: false } });
});

/**
 * The messages the sink got for `address`, oldest first, waiting until there are `n`.
 * Ordered by when the sink wrote them: the `Date` header counts whole seconds, so two mails
 * of one second would come in any order.
 */
async function mailsTo(address, n) {
  for (let i = 0; i < 100; i++) {
    const found = [];
    for (const name of await readdir(join(MAILDIR, "new"))) {
      const path = join(MAILDIR, "new", name);
      const mail = await simpleParser(await readFile(path));
      if (mail.to?.text.includes(address)) found.push({ mail, written: (await stat(path)).mtimeMs });
    }
    if (found.length >= n) return found.sort((a, b) => a.written - b.written).map((f) => f.mail);
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.fail(`no ${n} mails to ${address}`);
}

/** The token of the link to `path` in a mail. */
function tokenIn(mail, path) {
  const match = mail.html.match(new RegExp(`https://app\\.test/_/#/auth/${path}/([\\w.-]+)`));
  assert.ok(match, `a ${path} link in ${mail.html}`);
  return match[1];
}

test("verification, password reset and email change go by mail and work once", { skip }, async () => {
  const email = uniqueEmail("mailed");
  const password = "first-password";
  await su.collection("users").create({ email, password, passwordConfirm: password });
  const pb = newClient();

  assert.equal(await pb.collection("users").requestVerification(email), true);
  let [mail] = await mailsTo(email, 1);
  assert.equal(mail.subject.startsWith("Verify your"), true, mail.subject);
  assert.equal(await pb.collection("users").confirmVerification(tokenIn(mail, "confirm-verification")), true);
  const user = await su.collection("users").getFirstListItem(`email = "${email}"`);
  assert.equal(user.verified, true);

  assert.equal(await pb.collection("users").requestPasswordReset(email), true);
  mail = (await mailsTo(email, 2))[1];
  const reset = tokenIn(mail, "confirm-password-reset");
  await pb.collection("users").confirmPasswordReset(reset, "second-password", "second-password");
  await assert.rejects(
    pb.collection("users").confirmPasswordReset(reset, "third-password", "third-password"),
    (e) => e.status === 400 && e.response.data.token?.code === "validation_invalid_token",
  );
  await pb.collection("users").authWithPassword(email, "second-password");

  const newEmail = uniqueEmail("changed");
  assert.equal(await pb.collection("users").requestEmailChange(newEmail), true);
  [mail] = await mailsTo(newEmail, 1);
  await pb.collection("users").confirmEmailChange(tokenIn(mail, "confirm-email-change"), "second-password");
  const again = newClient();
  const auth = await again.collection("users").authWithPassword(newEmail, "second-password");
  assert.equal(auth.record.email, newEmail);
});

/** The one-time password in a mail (the default template's `<strong>{OTP}</strong>`). */
function codeIn(mail) {
  const match = mail.html.match(/<strong>(\d+)<\/strong>/);
  assert.ok(match, `a code in ${mail.html}`);
  return match[1];
}

test("requestOTP / authWithOTP sign in with a mailed code, and MFA asks a second method", { skip }, async () => {
  const name = uniqueName("otp");
  await su.collections.create({ name, type: "auth", otp: { enabled: true, length: 6 } });
  try {
    const email = uniqueEmail("otp");
    const password = "otp-password";
    await su.collection(name).create({ email, password, passwordConfirm: password });
    const pb = newClient();

    const { otpId } = await pb.collection(name).requestOTP(email);
    const auth = await pb.collection(name).authWithOTP(otpId, codeIn((await mailsTo(email, 1))[0]));
    assert.equal(auth.record.email, email);
    assert.equal(auth.record.verified, true, "the code came to the record's address");
    assert.equal(pb.authStore.isValid, true);
    await assert.rejects(
      pb.collection(name).authWithOTP(otpId, codeIn((await mailsTo(email, 1))[0])),
      (e) => e.status === 400 && e.response.message === "Invalid or expired OTP.",
    );

    await su.collections.update(name, { mfa: { enabled: true } });
    const second = newClient();
    let mfaId;
    await assert.rejects(second.collection(name).authWithPassword(email, password), (e) => {
      mfaId = e.response.mfaId;
      return e.status === 401 && typeof mfaId === "string" && mfaId.length === 15;
    });
    const next = await second.collection(name).requestOTP(email);
    const code = codeIn((await mailsTo(email, 2))[1]);
    const done = await second.collection(name).authWithOTP(next.otpId, code, { mfaId });
    assert.equal(done.record.email, email);
    assert.equal(second.authStore.isValid, true);
  } finally {
    await cleanupCollections(su, [name]);
  }
});

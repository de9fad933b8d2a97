// Starts a fresh `kulisse serve` (no superuser yet) for the dashboard tests, and drives
// Chromium against it.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
export const ROOT = path.resolve(here, "..");
const BIN = process.env.KULISSE_BIN || path.resolve(ROOT, "../target/debug/kulisse");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
/** Where screenshots go (test artefacts). */
export const ARTIFACTS = path.resolve(ROOT, "artifacts", process.env.KULISSE_DB ? "postgres" : "sqlite");

/**
 * A fresh server: `{url, install, stop}`. `install` is the first-run link the server
 * prints while there is no superuser. `KULISSE_DB` picks PostgreSQL.
 */
export async function startKulisse() {
  const dir = mkdtempSync(path.join(tmpdir(), "kulisse-dash-"));
  const args = ["serve", "--http", "127.0.0.1:0", "--dir", dir];
  if (process.env.KULISSE_DB) args.push("--db", process.env.KULISSE_DB);
  const child = spawn(BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => process.stderr.write(d));
  const deadline = Date.now() + 30_000;
  while (!/\/_\/install\/\S+/.test(out)) {
    if (Date.now() > deadline || child.exitCode !== null) {
      child.kill();
      throw new Error(`kulisse did not print an install link:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  const url = out.match(/^Server started at (\S+)/m)[1];
  const install = out.match(/(http:\/\/\S+\/_\/install\/\S+)/)[1];
  return {
    url,
    install,
    stop: () => new Promise((resolve) => {
      child.once("exit", resolve);
      child.kill("SIGTERM");
    }),
  };
}

/** Headless Chromium (Debian's), and a page of a fresh context at `viewport`. */
export async function openBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
}

/**
 * A page whose script dialogs fail the test: markup slipping into a page as code would
 * open one. (The context bypasses the CSP so that axe can be injected; that also means a
 * script that slipped through would run, which is what the dialog check wants.)
 */
export async function newPage(browser, viewport = { width: 1280, height: 720 }, colorScheme = "light") {
  const context = await browser.newContext({ viewport, bypassCSP: true, colorScheme });
  const page = await context.newPage();
  page.dialogs = [];
  page.on("dialog", async (d) => {
    page.dialogs.push(d.message());
    await d.dismiss();
  });
  return page;
}

const AXE = readFileSync(path.resolve(ROOT, "node_modules/axe-core/axe.min.js"), "utf8");

/** axe-core's serious and critical violations on the page (WCAG A and AA rules). */
export async function accessibilityProblems(page) {
  await page.addScriptTag({ content: AXE });
  const result = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }),
  );
  return result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join(", ")})`);
}

/** Saves a screenshot of the page as `name.png` under the artefacts. */
export async function screenshot(page, name) {
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: path.join(ARTIFACTS, `${name}.png`), fullPage: false });
}

/** A superuser token through the REST API (for setting up data the UI cannot make yet). */
export async function apiLogin(url, email, password) {
  const res = await fetch(`${url}/api/collections/_superusers/auth-with-password`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identity: email, password }),
  });
  if (!res.ok) throw new Error(`login failed: ${res.status} ${await res.text()}`);
  return (await res.json()).token;
}

/** `fetch` of the REST API as `token`, JSON in and out. */
export async function api(url, token, method, p, body) {
  const res = await fetch(`${url}${p}`, {
    method,
    headers: { "content-type": "application/json", authorization: token },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = await res.json().catch(() => null);
  if (!res.ok) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

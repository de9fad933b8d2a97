// The dashboard in headless Chromium: first run, sign-in, the records browser, keyboard
// use, accessibility (axe-core), forgery from another site, and screenshots at a laptop's
// and a phone's size. Controls are found by role and accessible name.
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import {
  accessibilityProblems,
  api,
  apiLogin,
  newPage,
  openBrowser,
  screenshot,
  startKulisse,
} from "./kulisse.js";

const EMAIL = "owner@example.com";
const PASSWORD = "correct horse battery";
const PHONE = { width: 390, height: 844 };
const EVIL = `<script>alert("xss")</script>"onmouseover="alert(2)`;

let server;
let browser;
let page;

before(async () => {
  server = await startKulisse();
  browser = await openBrowser();
  page = await newPage(browser);
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function expectNoAccessibilityProblems(name) {
  const problems = await accessibilityProblems(page);
  assert.deepEqual(problems, [], `${name}: axe-core found serious or critical problems`);
}

test("the first-run link creates the first superuser and signs them in", async () => {
  await page.goto(server.install);
  await page.getByRole("heading", { name: "Create the first superuser" }).waitFor();
  await expectNoAccessibilityProblems("install page");
  await screenshot(page, "install-1280");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Password again").fill(PASSWORD + "x");
  await page.getByRole("button", { name: "Create superuser and sign in" }).click();
  await page.getByText("Values don't match.").waitFor();
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByLabel("Password again").fill(PASSWORD);
  await page.getByRole("button", { name: "Create superuser and sign in" }).click();
  await page.waitForURL(/\/_\/collections\/users$/);
  await page.getByRole("heading", { name: "users" }).waitFor();
  await page.getByText(EMAIL).first().waitFor();
});

test("the link works once", async () => {
  const other = await newPage(browser);
  await other.goto(server.install);
  await other.waitForURL(/\/_\/login$/);
  await other.getByRole("heading", { name: "Sign in" }).waitFor();
  await other.context().close();
});

test("signing out and in again, with the keyboard", async () => {
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.waitForURL(/\/_\/login$/);
  await expectNoAccessibilityProblems("login page");
  await screenshot(page, "login-1280");
  await page.getByLabel("Email").fill(EMAIL);
  await page.getByLabel("Password").fill("wrong password");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("alert").filter({ hasText: "Wrong email or password." }).waitFor();
  // The keyboard alone: from the email field the form comes back with, to the password, and
  // in; on the next page the skip link comes first and leads to the content.
  assert.equal(await page.evaluate(() => document.activeElement.id), "email");
  await page.keyboard.press("Tab");
  await page.keyboard.type(PASSWORD);
  await page.keyboard.press("Enter");
  await page.waitForURL(/\/_\/collections\/users$/);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.textContent), "Skip to content");
  // Focus is visible: the dashboard's own 3 px focus ring, on a link and on the next control.
  const ring = () =>
    page.evaluate(() => {
      const style = getComputedStyle(document.activeElement);
      return `${style.outlineStyle} ${style.outlineWidth}`;
    });
  assert.equal(await ring(), "solid 3px");
  await page.keyboard.press("Tab");
  assert.equal(await ring(), "solid 3px");
  await page.keyboard.press("Shift+Tab");
  await page.keyboard.press("Enter");
  assert.equal(await page.evaluate(() => document.activeElement.id), "main");
});

test("the records browser lists, filters, explains a bad filter and sorts", async () => {
  const token = await apiLogin(server.url, EMAIL, PASSWORD);
  await api(server.url, token, "POST", "/api/collections", {
    name: "products",
    type: "base",
    listRule: "",
    fields: [
      { name: "title", type: "text", required: true },
      { name: "price", type: "number" },
      { name: "photo", type: "file", maxSelect: 1, maxSize: 1048576, mimeTypes: ["image/png"] },
    ],
  });
  for (const [title, price] of [["Boots", 120], ["Socks", 8], ["Scarf", 35], [EVIL, 1]]) {
    await api(server.url, token, "POST", "/api/collections/products/records", { title, price });
  }
  await page.reload();
  await page.getByRole("navigation", { name: "Collections" }).getByRole("link", { name: /products/ }).click();
  await page.getByRole("heading", { name: "products" }).waitFor();
  const table = page.getByRole("table", { name: /Records of products/ });
  await table.getByRole("cell", { name: "Boots" }).waitFor();
  // Markup in a value is shown as text, and never runs.
  await table.getByRole("cell", { name: EVIL }).waitFor();
  assert.deepEqual(page.dialogs, []);
  await expectNoAccessibilityProblems("records page");
  await screenshot(page, "records-1280");

  await page.getByLabel("Filter").fill("price > 10");
  await page.getByRole("button", { name: "Apply" }).click();
  await table.getByRole("cell", { name: "Boots" }).waitFor();
  await page.waitForFunction(() => !document.body.textContent.includes("Socks"));
  await page.getByText("2 records").waitFor();
  assert.match(page.url(), /filter=price/);

  await page.getByLabel("Filter").fill("price >");
  await page.getByRole("button", { name: "Apply" }).click();
  const error = page.getByRole("alert");
  await error.waitFor();
  assert.notEqual((await error.textContent()).trim(), "");
  assert.equal(await page.getByLabel("Filter").getAttribute("aria-invalid"), "true");
  await screenshot(page, "filter-error-1280");

  await page.getByLabel("Filter").fill("");
  await page.getByRole("button", { name: "Apply" }).click();
  await page.getByRole("alert").waitFor({ state: "detached" });
  await page.getByRole("columnheader", { name: "price" }).getByRole("link").click();
  await page.waitForURL(/sort=price/);
  const first = await table.getByRole("row").nth(1).getByRole("cell").allTextContents();
  assert.ok(first.includes("1"), `cheapest first: ${first}`);
  await page.getByRole("columnheader", { name: "price" }).getByRole("link").click();
  await page.waitForURL(/sort=-price/);
  const top = await table.getByRole("row").nth(1).getByRole("cell").allTextContents();
  assert.ok(top.includes("Boots"), `dearest first: ${top}`);
});

// A 2x2 red PNG.
const PNG = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAIAAAACCAIAAAD91JpzAAAAFklEQVR4nGP8z8DAwMDAxMDAwMDAAAANHQEDasKb6QAAAABJRU5ErkJggg==",
  "base64",
);

test("records are created with a file, edited and deleted through the forms", async () => {
  await page.goto(`${server.url}/_/collections/products`);
  await page.getByRole("link", { name: "New record" }).click();
  await page.getByRole("heading", { name: "New record" }).waitFor();
  await expectNoAccessibilityProblems("new record form");
  await page.getByLabel("price").fill("12");
  await page.getByLabel("photo").setInputFiles({ name: "hat.png", mimeType: "image/png", buffer: PNG });
  await page.getByRole("button", { name: "Create record" }).click();
  // The server's own message, beside the field, with what was typed kept.
  await page.getByRole("alert").waitFor();
  assert.equal(await page.getByLabel("title").getAttribute("aria-invalid"), "true");
  await page.getByText("Cannot be blank.").waitFor();
  assert.equal(await page.getByLabel("price").inputValue(), "12");
  await page.getByLabel("title").fill("Hat");
  await page.getByLabel("photo").setInputFiles({ name: "hat.png", mimeType: "image/png", buffer: PNG });
  await page.getByRole("button", { name: "Create record" }).click();
  await page.waitForURL(/\/_\/collections\/products$/);
  const table = page.getByRole("table", { name: /Records of products/ });
  const row = table.getByRole("row").filter({ hasText: "Hat" });
  await row.waitFor();

  await row.getByRole("link", { name: /Open record/ }).click();
  await page.getByRole("heading", { name: /Record / }).waitFor();
  const thumb = page.locator(".files img");
  await thumb.waitFor();
  assert.ok(await thumb.evaluate((img) => img.complete && img.naturalWidth > 0), "the thumbnail loads");
  await page.getByRole("link", { name: /^hat.*\.png$/ }).waitFor();
  await screenshot(page, "record-1280");
  await page.getByLabel("price").fill("15");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/\/_\/collections\/products$/);
  await row.getByRole("cell", { name: "15", exact: true }).waitFor();

  await row.getByRole("link", { name: /Open record/ }).click();
  await page.getByRole("link", { name: "Delete this record" }).click();
  await page.getByRole("heading", { name: /Delete record/ }).waitFor();
  await page.getByRole("button", { name: "Delete record" }).click();
  await page.waitForURL(/\/_\/collections\/products$/);
  await table.waitFor();
  assert.equal(await row.count(), 0);
});

test("rich text is formatted with the toolbar, and stored markup never runs", async () => {
  const token = await apiLogin(server.url, EMAIL, PASSWORD);
  await api(server.url, token, "POST", "/api/collections", {
    name: "pages",
    type: "base",
    fields: [{ name: "body", type: "editor" }],
  });
  const evil = await api(server.url, token, "POST", "/api/collections/pages/records", {
    body: `<p>Old</p><img src="x" onerror="alert('rich')"><script>alert('rich2')</script>`,
  });
  await page.goto(`${server.url}/_/collections/pages/records/new`);
  const area = page.getByRole("textbox", { name: "body (formatted)" });
  await area.click();
  await page.keyboard.type("Hello");
  await page.keyboard.press("Control+A");
  await page.getByRole("toolbar", { name: "Formatting of body" }).getByRole("button", { name: "Bold" }).click();
  assert.match(await page.getByLabel("body", { exact: true }).inputValue(), /<b>Hello<\/b>/);
  await expectNoAccessibilityProblems("rich text form");
  await page.getByRole("button", { name: "Create record" }).click();
  await page.waitForURL(/\/_\/collections\/pages$/);
  const list = await api(server.url, token, "GET", `/api/collections/pages/records?filter=${encodeURIComponent('body ~ "Hello"')}`);
  assert.equal(list.items.length, 1);
  assert.match(list.items[0].body, /<b>Hello<\/b>/);

  await page.goto(`${server.url}/_/collections/pages/records/${evil.id}`);
  await area.waitFor();
  const html = await area.innerHTML();
  assert.match(html, /Old/);
  assert.ok(!/onerror|<script/i.test(html), html);
  assert.deepEqual(page.dialogs, []);
});

test("the list exports as CSV, and chosen records are deleted together", async () => {
  await page.goto(`${server.url}/_/collections/products?sort=price`);
  const download = page.waitForEvent("download");
  await page.getByRole("link", { name: "CSV" }).click();
  const file = await download;
  assert.equal(file.suggestedFilename(), "products.csv");
  const csv = await (await import("node:fs/promises")).readFile(await file.path(), "utf8");
  assert.match(csv, /^id,title,price,photo/);
  assert.match(csv, /Boots,120/);

  const table = page.getByRole("table", { name: /Records of products/ });
  for (const title of ["Socks", "Scarf"]) {
    await table.getByRole("row").filter({ hasText: title }).getByRole("checkbox").check();
  }
  await page.getByRole("button", { name: "Delete chosen records…" }).click();
  await page.getByRole("heading", { name: "Delete 2 records of products?" }).waitFor();
  await page.getByRole("button", { name: "Delete 2 records" }).click();
  await page.waitForURL(/\/_\/collections\/products$/);
  await table.getByRole("cell", { name: "Boots" }).waitFor();
  assert.equal(await table.getByRole("row").filter({ hasText: "Socks" }).count(), 0);
  assert.equal(await table.getByRole("row").filter({ hasText: "Scarf" }).count(), 0);
});

test("a collection is designed in the dashboard: fields of five types, and a rule the server refuses", async () => {
  await page.goto(`${server.url}/_/`);
  await page.getByRole("link", { name: "New collection" }).click();
  await page.getByRole("heading", { name: "New collection" }).waitFor();
  await expectNoAccessibilityProblems("new collection form");
  await page.getByLabel("Name", { exact: true }).fill("orders");
  await page.getByLabel("Name of the new field").fill("note");
  await page.getByRole("button", { name: "Save collection" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();

  // Each type's common options have controls of their own, loaded when the type is picked.
  const fields = [
    ["qty", "number", { "Whole numbers only": true }],
    ["size", "select", { "Choices (comma-separated)": "S, M, L", "Most choices at once": "1" }],
    ["customer", "relation", { "Related collection": "users", "Most records at once": "1" }],
    ["receipt", "file", { "Most files": "1", "Allowed types (comma-separated, e.g. image/png)": "image/png" }],
  ];
  for (const [name, type, options] of fields) {
    const row = page.getByRole("group", { name: "Add a field" });
    await row.getByLabel("Name of the new field").fill(name);
    await row.getByLabel("Type of the new field").selectOption(type);
    for (const [label, value] of Object.entries(options)) {
      const control = row.getByLabel(label, { exact: true });
      await control.waitFor();
      if (value === true) await control.check();
      else if (label === "Related collection") await control.selectOption({ label: value });
      else await control.fill(value);
    }
    await page.getByRole("button", { name: "Save collection" }).click();
    await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
    await page.getByRole("group", { name: new RegExp(`^${name} ${type}`) }).waitFor();
  }
  await screenshot(page, "collection-1280");

  // A rule the server cannot compile: its message, beside the rule.
  await page.getByLabel("List rule").fill("qty >");
  await page.getByLabel("List: superusers only").uncheck();
  await page.getByRole("button", { name: "Save collection" }).click();
  const ruleError = page.locator("#rule-listRule-error");
  await ruleError.waitFor();
  assert.notEqual((await ruleError.textContent()).trim(), "");
  assert.equal(await page.getByLabel("List rule").getAttribute("aria-invalid"), "true");
  await screenshot(page, "rule-error-1280");
  await page.getByLabel("List rule").fill("qty > 0");
  await page.getByLabel("List: superusers only").uncheck();
  await page.getByRole("button", { name: "Save collection" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();

  const token = await apiLogin(server.url, EMAIL, PASSWORD);
  const orders = await api(server.url, token, "GET", "/api/collections/orders");
  assert.equal(orders.listRule, "qty > 0");
  const types = Object.fromEntries(orders.fields.map((f) => [f.name, f.type]));
  assert.deepEqual(
    { note: types.note, qty: types.qty, size: types.size, customer: types.customer, receipt: types.receipt },
    { note: "text", qty: "number", size: "select", customer: "relation", receipt: "file" },
  );
  const field = (name) => orders.fields.find((f) => f.name === name);
  assert.deepEqual(field("size").values, ["S", "M", "L"]);
  assert.equal(field("size").maxSelect, 1);
  assert.equal(field("qty").onlyInt, true);
  assert.equal(field("customer").collectionId, "_pb_users_auth_");
  assert.deepEqual(field("receipt").mimeTypes, ["image/png"]);

  // Its record form has a control for each.
  await page.getByRole("link", { name: "Records", exact: true }).click();
  await page.getByRole("link", { name: "New record" }).click();
  for (const label of ["note", "qty", "size", "customer", "receipt"]) {
    await page.getByLabel(label, { exact: true }).waitFor();
  }
  assert.deepEqual(await page.getByLabel("size").locator("option").allTextContents(), ["(none)", "S", "M", "L"]);
});

test("collections are imported after a review of the changes", async () => {
  await page.getByRole("link", { name: "Import and export" }).click();
  await page.getByRole("heading", { name: "Import and export collections" }).waitFor();
  await expectNoAccessibilityProblems("import page");
  const exported = JSON.parse(await page.getByLabel("The collections as JSON").inputValue());
  exported.push({ name: "blog", type: "base", fields: [{ name: "headline", type: "text" }] });
  await page.getByLabel("Collections to import (a JSON list)").fill(JSON.stringify(exported));
  await page.getByRole("button", { name: "Review the changes" }).click();
  const review = page.getByRole("table", { name: "Changes, by collection" });
  await review.getByRole("row").filter({ hasText: "blog" }).getByRole("cell", { name: "new" }).waitFor();
  await screenshot(page, "import-review-1280");
  await page.getByRole("button", { name: "Apply these changes" }).click();
  await page.getByRole("status").filter({ hasText: "Imported." }).waitFor();
  await page.getByRole("navigation", { name: "Collections" }).getByRole("link", { name: /blog/ }).waitFor();
});

test("a user is created, given a new password and impersonated", async () => {
  await page.goto(`${server.url}/_/collections/users`);
  await page.getByRole("link", { name: "New record" }).click();
  await page.getByRole("textbox", { name: "email", exact: true }).fill("buyer@example.com");
  await page.getByLabel("Password", { exact: true }).fill("buyer-password-1");
  await page.getByLabel("Password again").fill("buyer-password-1");
  await page.getByRole("button", { name: "Create record" }).click();
  await page.waitForURL(/\/_\/collections\/users$/);
  const row = page.getByRole("row").filter({ hasText: "buyer@example.com" });
  await row.getByRole("link", { name: /Open record/ }).click();
  await page.getByLabel("New password", { exact: true }).fill("buyer-password-2");
  await page.getByLabel("New password again").fill("buyer-password-2");
  await page.getByRole("button", { name: "Save changes" }).click();
  await page.waitForURL(/\/_\/collections\/users$/);
  const login = await fetch(`${server.url}/api/collections/users/auth-with-password`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ identity: "buyer@example.com", password: "buyer-password-2" }),
  });
  assert.equal(login.status, 200, "the new password works");
  const { record } = await login.json();

  await row.getByRole("link", { name: /Open record/ }).click();
  await expectNoAccessibilityProblems("auth record form");
  await page.getByLabel(/Token lifetime/).fill("600");
  await page.getByRole("button", { name: "Impersonate" }).click();
  await page.getByRole("heading", { name: "Acting as buyer@example.com" }).waitFor();
  const token = await page.getByLabel("Token of buyer@example.com").inputValue();
  const me = await fetch(`${server.url}/api/collections/users/records/${record.id}`, {
    headers: { authorization: token },
  });
  assert.equal(me.status, 200, "the token acts as the user");
  assert.equal((await me.json()).email, "buyer@example.com");

  // The relation picker finds the user by what is typed and puts their id in the field.
  await page.goto(`${server.url}/_/collections/orders/records/new`);
  await page.getByLabel("note", { exact: true }).fill("first order");
  await page.getByLabel("Find a record of users").fill("buyer");
  await page.getByRole("button", { name: `Choose buyer@example.com (${record.id})` }).click();
  assert.equal(await page.getByLabel("customer", { exact: true }).inputValue(), record.id);
  await screenshot(page, "relation-picker-1280");
  await page.getByRole("button", { name: "Create record" }).click();
  await page.waitForURL(/\/_\/collections\/orders$/);
  const orders = await api(server.url, await apiLogin(server.url, EMAIL, PASSWORD), "GET", "/api/collections/orders/records");
  assert.equal(orders.items[0].customer, record.id);
});

test("the app's name is changed in the settings", async () => {
  await page.getByRole("link", { name: "Settings" }).click();
  await page.getByRole("heading", { name: "Settings", level: 1 }).waitFor();
  await expectNoAccessibilityProblems("settings page");
  await page.getByLabel("Application name").fill("Corner Shop");
  await page.getByRole("button", { name: "Save application settings" }).click();
  await page.getByRole("status").filter({ hasText: "Saved." }).waitFor();
  await page.getByRole("link", { name: "Corner Shop" }).waitFor();
  assert.match(await page.title(), /Corner Shop/);
  const token = await apiLogin(server.url, EMAIL, PASSWORD);
  const settings = await api(server.url, token, "GET", "/api/settings");
  assert.equal(settings.meta.appName, "Corner Shop");
  await screenshot(page, "settings-1280");
});

test("a phone-sized screen shows the same pages", async () => {
  const phone = await newPage(browser, PHONE);
  await phone.context().addCookies(await page.context().cookies());
  const screens = [
    ["records", "/_/collections/products", "products"],
    ["record", "/_/collections/orders/records/new", "New record"],
    ["collection", "/_/collections/orders/edit", "Collection orders"],
    ["settings", "/_/settings", "Settings"],
    ["import", "/_/import-collections", "Import and export collections"],
  ];
  for (const [name, path, heading] of screens) {
    await phone.goto(`${server.url}${path}`);
    await phone.getByRole("heading", { name: heading, level: 1 }).waitFor();
    await phone.getByRole("navigation", { name: "Collections" }).waitFor();
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: the page is ${overflow}px wider than the phone`);
    await screenshot(phone, `${name}-390`);
  }
  await phone.goto(`${server.url}/_/login`);
  await screenshot(phone, "login-390");
  await phone.context().close();
});

test("the dark theme follows the system and keeps its contrast", async () => {
  const dark = await newPage(browser, undefined, "dark");
  await dark.context().addCookies(await page.context().cookies());
  for (const [name, path] of [["records", "/_/collections/products"], ["collection", "/_/collections/orders/edit"], ["settings", "/_/settings"]]) {
    await dark.goto(`${server.url}${path}`);
    const background = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, "rgb(20, 23, 28)", "the dark background");
    const problems = await accessibilityProblems(dark);
    assert.deepEqual(problems, [], `${name} in the dark theme`);
    await screenshot(dark, `${name}-dark-1280`);
  }
  await dark.context().close();
});

test("a form on another site cannot sign the superuser out", async () => {
  // A page on another origin that posts to the dashboard as soon as it loads.
  const evil = createServer((_, res) => {
    res.setHeader("content-type", "text/html");
    res.end(`<form id="f" method="post" action="${server.url}/_/logout"><input name="_csrf" value="guess"></form>
      <script>document.getElementById("f").submit()</script>`);
  });
  await new Promise((r) => evil.listen(0, "127.0.0.2", r));
  const { port } = evil.address();
  const tab = await page.context().newPage();
  await tab.goto(`http://127.0.0.2:${port}/`);
  await tab.waitForLoadState("load");
  await tab.close();
  evil.close();
  await page.goto(`${server.url}/_/collections/products`);
  await page.getByRole("heading", { name: "products" }).waitFor();
  assert.match(page.url(), /\/_\/collections\/products$/);
});

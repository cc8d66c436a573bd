// End-to-end: the real Crosswalk window (tauri-driver + WebKitWebDriver, under Xvfb and a
// D-Bus session with an unlocked gnome-keyring) against the Twenty simulator.
//
// APP_BIN, SIM_BIN: the debug binaries. ARTIFACTS: where screenshots and logs go.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Session, sleep } from "./webdriver.mjs";

const APP_BIN = process.env.APP_BIN;
const SIM_BIN = process.env.SIM_BIN;
const ARTIFACTS = process.env.ARTIFACTS ?? path.resolve("target/e2e-artifacts");
const DRIVER = "http://127.0.0.1:4444";
const SECRET = `e2e-secret-${process.pid}-${Date.now()}`;
const SIM_PORT = 39000 + (process.pid % 900);
const SIM = `http://127.0.0.1:${SIM_PORT}`;
const FRAPPE_PORT = SIM_PORT + 1000;
const FRAPPE = `http://127.0.0.1:${FRAPPE_PORT}`;
const FRAPPE_KEY = "e2e-frappe-key";
const FRAPPE_SECRET = `e2e-frappe-secret-${process.pid}`;
const ZOHO_PORT = SIM_PORT + 2000;
const ZOHO = `http://127.0.0.1:${ZOHO_PORT}`;
// crosswalk-sim zoho's documented defaults for org A.
const ZOHO_CLIENT = { id: "1000.SIMACLIENT", secret: "sim-a-client-secret-8d1f", refresh: "1000.sim-a-refresh-token-77c2" };
const home = fs.mkdtempSync(path.join(os.tmpdir(), "crosswalk-e2e-"));
const workbook = path.join(home, "crm.xlsx");
const children = [];
let s;

function start(cmd, args, env, log) {
  const out = fs.openSync(path.join(ARTIFACTS, log), "w");
  const p = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ["ignore", out, out] });
  children.push(p);
  return p;
}

async function waitHttp(url, ms = 20000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      await fetch(url);
      return;
    } catch {
      await sleep(100);
    }
  }
  throw new Error(`${url} did not come up`);
}

const api = async (method, p, body) => {
  const r = await fetch(`${SIM}/rest/${p}`, { method, headers: { authorization: `Bearer ${SECRET}`, "content-type": "application/json" }, body: body && JSON.stringify(body) });
  return r.json();
};

async function shot(name) {
  await sleep(300); // let WebKit paint the last change before the X screenshot
  // The root window via Debian imagemagick (WebDriver screenshots can be stale on a first paint).
  try {
    execFileSync("/usr/bin/import", ["-window", "root", path.join(ARTIFACTS, `${name}.png`)]);
  } catch {
    fs.writeFileSync(path.join(ARTIFACTS, `${name}.png`), await s.screenshot());
  }
}

/** Clicks a navigation button and waits for the screen it renders (old elements go stale). */
async function nav(id) {
  const before = await s.exec("return document.getElementById('screen').dataset.rendered ?? '0'");
  await s.click(id);
  const end = Date.now() + 15000;
  while (Date.now() < end) {
    if ((await s.exec("return document.getElementById('screen').dataset.rendered ?? '0'")) !== before) return;
    await sleep(50);
  }
  throw new Error(`${id} did not render a screen`);
}

function editWorkbook(sheet, id, column, value) {
  execFileSync("python3", [path.join(import.meta.dirname, "edit_workbook.py"), workbook, sheet, id, column, value]);
}

function filesUnder(dir) {
  return fs.readdirSync(dir, { withFileTypes: true, recursive: true }).filter((d) => d.isFile()).map((d) => path.join(d.parentPath ?? d.path, d.name));
}

before(async () => {
  assert.ok(APP_BIN && SIM_BIN, "APP_BIN and SIM_BIN must point at the built binaries");
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  start(SIM_BIN, ["twenty", "--port", String(SIM_PORT), "--api-key", SECRET, "--records", "5"], {}, "sim.log");
  start(SIM_BIN, ["zoho", "--port", String(ZOHO_PORT), "--records", "2"], {}, "sim-zoho.log");
  start(SIM_BIN, ["frappe", "--port", String(FRAPPE_PORT), "--api-key", FRAPPE_KEY, "--api-secret", FRAPPE_SECRET], {}, "sim-frappe.log");
  // The app inherits this environment from tauri-driver → WebKitWebDriver.
  start("tauri-driver", [], { CROSSWALK_HOME: home, RUST_LOG: "info" }, "tauri-driver.log");
  await waitHttp(`${SIM}/rest/companies`);
  await waitHttp(`${FRAPPE}/api/method/ping`);
  await waitHttp(`${ZOHO}/oauth/v2/auth`);
  await waitHttp("http://127.0.0.1:4445/status");
  const t0 = Date.now();
  s = await Session.start(DRIVER, APP_BIN);
  await s.waitText("#nav-connections", /Connections/);
  console.log(`# window with UI after ${Date.now() - t0} ms`);
});

after(async () => {
  if (s) await s.end();
  for (const c of children) c.kill("SIGTERM");
  await sleep(300);
  try {
    fs.cpSync(path.join(home, "data", "logs"), path.join(ARTIFACTS, "app-logs"), { recursive: true });
  } catch {
    /* no logs */
  }
});

test("sign in to Twenty: test connection shows who, the key goes to the keyring", async () => {
  await s.click("#nav-connections");
  await s.type("#conn-url", SIM);
  await s.type("#conn-secret", "wrong-key");
  await s.click("#conn-test");
  await s.waitText("#error", /./);
  await s.type("#conn-secret", SECRET);
  await s.click("#conn-test");
  const who = await s.waitText("#conn-result", /^Signed in as .+/);
  assert.match(who, /Signed in as/, "Test connection names the account");
  await s.click("#conn-save");
  await s.waitText('#conn-list tr[data-name="crm"]', /Yes/);
  const items = execFileSync("secret-tool", ["search", "--all", "service", "crosswalk"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.match(items, /crm/, "the secret is an item in the Secret Service keyring (service crosswalk, account crm)");
  await shot("01-connections");
});

test("sign in to Frappe/ERPNext: a wrong secret is refused with code auth; key and secret go to the keyring together", async () => {
  await nav("#nav-connections");
  await s.select("#conn-kind", "frappe");
  await s.type("#conn-name", "erp");
  await s.type("#conn-url", FRAPPE);
  await s.type("#conn-api_key", FRAPPE_KEY);
  await s.type("#conn-secret", "not-the-secret");
  await s.click("#conn-test");
  await s.waitText("#error", /./);
  const code = await s.exec("return document.getElementById('error').dataset.code");
  assert.equal(code, "auth", "a rejected Frappe key:secret reaches the form as {code: auth}");
  assert.match(await s.waitText("#conn-result", /Not signed in/), /Not signed in/, "the form says it did not sign in");
  await shot("01b-frappe-refused");
  await s.type("#conn-secret", FRAPPE_SECRET);
  await s.click("#conn-test");
  const who = await s.waitText("#conn-result", /^Signed in as .+/);
  assert.match(who, /on http:\/\/127\.0\.0\.1/, "Test connection names the Frappe user and site");
  await s.click("#conn-save");
  await s.waitText('#conn-list tr[data-name="erp"]', /Yes/);
  const cfg = fs.readFileSync(path.join(home, "config", "crosswalk.toml"), "utf8");
  assert.ok(!cfg.includes(FRAPPE_KEY) && !cfg.includes(FRAPPE_SECRET), "neither the API key nor the secret is in the config");
  const items = execFileSync("secret-tool", ["search", "--all", "service", "crosswalk"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.match(items, /erp/, "the Frappe credential is a keyring item (account erp)");
});

test("create a twenty-excel sync, preview it, sync now and see the counts", async () => {
  await s.click("#nav-syncs");
  await s.type("#sync-workbook", workbook);
  await s.select("#sync-conflict", "ask");
  await s.click("#sync-create");
  await s.waitText('#sync-list tr[data-link="companies"]', /companies/);
  await s.click("#preview-companies");
  const preview = await s.waitText('#sync-output .card[data-link="companies"]', /dry_run/);
  assert.match(preview, /would create 0 \/ 5/, "the preview plans 5 new workbook rows and writes nothing");
  assert.ok(!fs.existsSync(workbook), "a preview writes no workbook");
  await s.click("#sync-companies");
  const done = await s.waitText('#sync-output .card[data-link="companies"]', /companies: ok/, 30000);
  assert.match(done, /created 0 \/ 5/, "five companies reached the workbook");
  assert.ok(fs.existsSync(workbook), "the workbook was created");
  await s.click("#sync-people");
  await s.waitText('#sync-output .card[data-link="people"]', /people: ok/, 30000);
  await shot("02-syncs");
});

test("edit a sync: conflict policy, schedule and a field's direction land in the config; a bad field is refused", async () => {
  const cfgPath = path.join(home, "config", "crosswalk.toml");
  await nav("#nav-syncs");
  await s.click("#edit-people");
  await s.waitText("#link-editor h3", /Edit sync people/);
  await s.waitText("#mapping tbody", /jobTitle/);
  await s.select("#edit-conflict", "newest_wins");
  await s.type("#edit-every", "15");
  await s.click('#mapping tr[data-left="city"] button[id^=edit-remove-]');
  await s.waitText("#edit-fields-note", /fields on the left/);
  await s.type("#edit-add-left", "city");
  await s.type("#edit-add-right", "city");
  await s.select("#edit-add-direction", "left_to_right");
  await s.click("#edit-add-field");
  await s.waitText('#mapping tr[data-left="city"]', /city/);
  await s.click("#edit-save");
  await s.waitText("#status", /Saved sync people/);
  const text = fs.readFileSync(cfgPath, "utf8");
  const people = text.slice(text.indexOf("[links.people]"));
  assert.match(people, /conflict = "newest_wins"/, "the conflict policy is in the config");
  assert.match(people, /every_minutes = 15/, "the schedule is in the config");
  assert.match(people, /\{ left = "city", right = "city", direction = "left-to-right" \}/, "the re-added field is one-way");
  assert.match(text, /# The workbook's `id` column holds the Twenty id/, "the preset's comments survive the edit");
  await s.exec("document.getElementById('link-editor').scrollIntoView()");
  await shot("02b-sync-editor");
  await s.type("#edit-add-left", "city");
  await s.type("#edit-add-right", "no such column");
  await s.click("#edit-add-field");
  await s.click("#edit-save");
  const err = await s.waitText("#error", /./);
  const code = await s.exec("return document.getElementById('error').dataset.code");
  assert.equal(code, "bad_input", `a bad edit is refused as {code: bad_input}: ${err}`);
  assert.equal(fs.readFileSync(cfgPath, "utf8"), text, "a refused edit writes nothing");
  await s.click("#edit-close");
});

test("sign in with Zoho: the browser round trip (PKCE, loopback redirect) stores the refresh token in the keyring", async () => {
  await nav("#nav-connections");
  await s.select("#conn-kind", "zoho");
  await s.type("#conn-name", "zoho");
  await s.type("#conn-client_id", ZOHO_CLIENT.id);
  await s.type("#conn-accounts_url", ZOHO);
  await s.type("#conn-redirect_uri", "http://127.0.0.1:0/callback");
  await s.type("#conn-secret", ZOHO_CLIENT.secret);
  await s.click("#conn-zoho");
  await s.waitText("#zoho-waiting", /./);
  const url = await s.exec("return document.getElementById('zoho-url').value");
  assert.ok(url.startsWith(`${ZOHO}/oauth/v2/auth?`) && url.includes("code_challenge_method=S256"), `the app shows Zoho's sign-in page with a PKCE challenge: ${url}`);
  await shot("01c-zoho-waiting");
  // What the browser does: Zoho's page redirects to the app's loopback address.
  const back = await fetch(url);
  assert.ok(back.ok, `the app's loopback page answered the browser (${back.status})`);
  const who = await s.waitText("#status", /Signed in to Zoho as/, 20000);
  console.log(`# ${who}`);
  await s.waitText('#conn-list tr[data-name="zoho"]', /Yes/);
  const items = execFileSync("secret-tool", ["search", "--all", "service", "crosswalk"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  assert.match(items, /zoho/, "the Zoho credentials are a keyring item (account zoho)");
  const cfg = fs.readFileSync(path.join(home, "config", "crosswalk.toml"), "utf8");
  assert.ok(cfg.includes("[connections.zoho]") && !cfg.includes(ZOHO_CLIENT.secret) && !cfg.includes(ZOHO_CLIENT.refresh), "the config has the client id, never the secret or token");
});

test("saving the workbook syncs by itself within 3 s", async () => {
  const companies = (await api("GET", "companies?limit=10")).data.companies;
  const target = companies[0];
  const t0 = Date.now();
  editWorkbook("Companies", target.id, "name", "Saved In Excel Ltd");
  let name = "";
  while (Date.now() - t0 < 3000) {
    name = (await api("GET", `companies/${target.id}`)).data.company.name;
    if (name === "Saved In Excel Ltd") break;
    await sleep(100);
  }
  console.log(`# workbook save reached the CRM after ${Date.now() - t0} ms`);
  assert.equal(name, "Saved In Excel Ltd", "an edit saved in the workbook reaches the CRM within 3 s, with no click");
});

test("a conflicting edit raises a notification; resolve it in the Conflicts screen", async () => {
  const target = (await api("GET", "companies?limit=10")).data.companies[1];
  await api("PATCH", `companies/${target.id}`, { name: "Changed In CRM" });
  editWorkbook("Companies", target.id, "name", "Changed In Workbook");
  await s.click("#nav-conflicts");
  const t0 = Date.now();
  let row = "";
  while (Date.now() - t0 < 15000) {
    try {
      row = await s.waitText("#conflict-list tbody tr", /Changed In/, 1000);
      break;
    } catch {
      await s.click("#nav-conflicts");
    }
  }
  assert.match(row, /Changed In CRM/, "left (CRM) value is shown");
  assert.match(row, /Changed In Workbook/, "right (workbook) value is shown beside it");
  await shot("03-conflicts");
  const logs = filesUnder(path.join(home, "data", "logs")).map((f) => fs.readFileSync(f, "utf8")).join("\n");
  assert.match(logs, /Notification shown.*conflict/, "a notification was raised for the new conflict");
  await s.click("#conflict-list tbody tr button[id^=take-left-]");
  await s.waitText("#status", /Resolved 1/);
  const end = Date.now() + 15000;
  let wbName = "";
  while (Date.now() < end) {
    wbName = execFileSync("python3", [path.join(import.meta.dirname, "edit_workbook.py"), workbook, "Companies", target.id, "name"], { encoding: "utf8" }).trim();
    if (wbName === "Changed In CRM") break;
    await sleep(250);
  }
  assert.equal(wbName, "Changed In CRM", "taking left writes the CRM value into the workbook");
  await s.click("#nav-conflicts");
  await s.waitText("#no-conflicts", /No conflicts/);
});

test("activity lists the runs with counts and each record's before → after", async () => {
  await s.click("#nav-activity");
  await s.waitText("#run-list", /companies/);
  const runId = await s.exec("return [...document.querySelectorAll('#run-list tbody tr')].find((r) => /created 0 \\/ 5/.test(r.textContent))?.dataset.run ?? null");
  assert.ok(runId, "the first sync's run is listed with its counts (created 0 / 5)");
  await s.click(`#run-${runId}`);
  const changes = await s.waitText("#run-changes", /change/);
  assert.match(changes, /create/, "the first run's created records are listed");
  await shot("04-activity");
  await s.click("#nav-settings");
  await s.waitText("#h-set", /Settings/);
  await shot("05-settings");
});

test("the secret is nowhere in the config, the state database or the logs; sign out deletes it", async () => {
  await sleep(300);
  const files = filesUnder(home);
  assert.ok(files.some((f) => f.endsWith(".db")) && files.some((f) => f.endsWith(".toml")) && files.some((f) => f.includes("logs")), `config, database and logs exist: ${files.join(", ")}`);
  for (const f of files) {
    const bytes = fs.readFileSync(f);
    assert.ok(!bytes.includes(Buffer.from(SECRET)), `${f} must not contain the API key`);
    assert.ok(!bytes.includes(Buffer.from(FRAPPE_SECRET)), `${f} must not contain the Frappe API secret`);
    assert.ok(!bytes.includes(Buffer.from(ZOHO_CLIENT.secret)) && !bytes.includes(Buffer.from(ZOHO_CLIENT.refresh)), `${f} must not contain the Zoho client secret or refresh token`);
  }
  await s.click("#nav-connections");
  await s.click('#conn-list tr[data-name="crm"] button[aria-label^="Sign out"]');
  await s.waitText('#conn-list tr[data-name="crm"]', /No/);
  let left = "";
  try {
    left = execFileSync("secret-tool", ["search", "--all", "service", "crosswalk"], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
  } catch {
    left = "";
  }
  assert.doesNotMatch(left, /crm/, "signing out deleted the keyring item");
});

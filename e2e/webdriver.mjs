// A dependency-free W3C WebDriver client for tauri-driver (which drives WebKitWebDriver).
const ELEMENT = "element-6066-11e4-a52e-4f735466cecf";

export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async start(base, application, args = []) {
    const caps = { capabilities: { alwaysMatch: { "tauri:options": { application, args } } } };
    const r = await req(`${base}/session`, "POST", caps);
    return new Session(base, r.sessionId);
  }

  cmd(path, method = "GET", body) {
    return req(`${this.base}/session/${this.id}${path}`, method, body);
  }

  async find(css) {
    const el = await this.cmd("/element", "POST", { using: "css selector", value: css });
    return el[ELEMENT];
  }

  /** Waits until `css` exists (and, when given, its text matches `pattern`); returns its text. */
  async waitText(css, pattern, timeoutMs = 15000) {
    const end = Date.now() + timeoutMs;
    let last = "";
    while (Date.now() < end) {
      try {
        const id = await this.find(css);
        last = await this.cmd(`/element/${id}/text`);
        if (!pattern || pattern.test(last)) return last;
      } catch {
        /* not there yet */
      }
      await sleep(150);
    }
    throw new Error(`timed out waiting for ${css} to match ${pattern}; last text: ${JSON.stringify(last)}`);
  }

  async click(css) {
    await this.waitText(css);
    await this.cmd(`/element/${await this.find(css)}/click`, "POST", {});
  }

  async type(css, text) {
    await this.waitText(css);
    const id = await this.find(css);
    await this.cmd(`/element/${id}/clear`, "POST", {});
    await this.cmd(`/element/${id}/value`, "POST", { text });
  }

  async select(css, value) {
    await this.click(`${css} option[value="${value}"]`);
  }

  async exec(script, args = []) {
    return this.cmd("/execute/sync", "POST", { script, args });
  }

  async screenshot() {
    return Buffer.from(await this.cmd("/screenshot"), "base64");
  }

  async end() {
    try {
      await req(`${this.base}/session/${this.id}`, "DELETE");
    } catch {
      /* app already gone */
    }
  }
}

async function req(url, method, body) {
  const r = await fetch(url, { method, headers: { "content-type": "application/json" }, body: body ? JSON.stringify(body) : undefined });
  const j = await r.json();
  if (!r.ok || (j.value && j.value.error)) throw new Error(`${method} ${url}: ${JSON.stringify(j.value)}`);
  return j.value;
}

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

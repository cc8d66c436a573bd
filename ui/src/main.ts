// Crosswalk's window: five screens over the shell's typed commands (bindings.ts, generated
// from Rust). No network access here; every action is a command, every update an event.
import "./style.css";
import {
  commands,
  events,
  type ChangeView,
  type ConflictView,
  type ConflictPolicyView,
  type ConnectionView,
  type DeletePolicyView,
  type DirectionView,
  type FieldChoiceView,
  type FieldMappingView,
  type EngineEvent,
  type Overview,
  type RunOutcome,
  type RunView,
  type SignInFormView,
  type TakeView,
  type UiError,
} from "./bindings";

type Screen = "connections" | "syncs" | "activity" | "conflicts" | "settings";
type Res<T> = { status: "ok"; data: T } | { status: "error"; error: UiError };

let screen: Screen = "connections";
let overview: Overview | null = null;
let lastOutcomes: RunOutcome[] | undefined;
const progress = new Map<string, string>();

// ---------- tiny DOM helpers ----------
type Attrs = Record<string, string | boolean | number | ((e: Event) => void) | undefined>;
function h(tag: string, attrs: Attrs = {}, ...kids: (Node | string | null | undefined | false)[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  for (const k of kids) if (k !== null && k !== undefined && k !== false) el.append(k);
  return el;
}
const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const field = (label: string, input: HTMLElement, hint?: string) =>
  h("label", { class: "field" }, h("span", {}, label), input, hint ? h("small", { class: "muted" }, hint) : null);

function say(msg: string) {
  const s = $("status");
  s.textContent = msg;
  s.hidden = !msg;
  $("error").hidden = true;
}
function fail(e: UiError) {
  const el = $("error");
  el.textContent = `${e.message}`;
  el.dataset.code = e.code;
  el.hidden = false;
}
async function call<T>(p: Promise<Res<T>>, busy?: HTMLButtonElement): Promise<T | undefined> {
  if (busy) busy.disabled = true;
  try {
    const r = await p;
    if (r.status === "ok") return r.data;
    fail(r.error);
    return undefined;
  } catch (e) {
    fail({ code: "internal", message: String(e) });
    return undefined;
  } finally {
    if (busy) busy.disabled = false;
  }
}
const side = (pair: number[] | undefined) => (pair ? `${pair[0]} / ${pair[1]}` : "");
const when = (t: string | null | undefined) => (t ? new Date(t).toLocaleString() : "—");

// ---------- navigation ----------
function go(s: Screen) {
  screen = s;
  for (const b of document.querySelectorAll<HTMLButtonElement>("nav button")) {
    if (b.dataset.screen === s) b.setAttribute("aria-current", "page");
    else b.removeAttribute("aria-current");
  }
  $("error").hidden = true;
  $("status").hidden = true;
  lastOutcomes = undefined;
  void render();
}

async function refreshOverview() {
  const ov = await call(commands.overview());
  if (!ov) return;
  overview = ov;
  $("header-status").textContent = ov.tooltip;
  const badge = $("conflict-badge");
  badge.textContent = String(ov.open_conflicts);
  badge.hidden = ov.open_conflicts === 0;
  badge.setAttribute("aria-label", `${ov.open_conflicts} open`);
}

let renders = 0;
async function render() {
  const root = $("screen");
  const view = await { connections, syncs, activity, conflicts, settings }[screen]();
  root.replaceChildren(view);
  // Tests wait for this to change after a navigation (a new render replaces every element).
  root.dataset.rendered = String(++renders);
}

// ---------- Connections ----------
let forms: SignInFormView[] = [];
const formOf = (kind: string) => forms.find((f) => f.kind === kind);

async function connections(): Promise<HTMLElement> {
  if (!forms.length) forms = (await call(commands.signInForms())) ?? [];
  const list = (await call(commands.listConnections())) ?? [];
  const kind = h("select", { id: "conn-kind" }) as HTMLSelectElement;
  for (const f of forms) kind.append(h("option", { value: f.kind }, f.label));
  const name = h("input", { id: "conn-name", value: "crm", required: true, autocomplete: "off", "aria-describedby": "conn-name-hint" }) as HTMLInputElement;
  const fieldsBox = h("div", {});
  const result = h("p", { id: "conn-result", "aria-live": "polite" });
  const buttons = h("div", { class: "row" });
  const test = h("button", { id: "conn-test", type: "button" }, "Test connection") as HTMLButtonElement;
  const save = h("button", { id: "conn-save", type: "submit", class: "primary" }, "Save and sign in") as HTMLButtonElement;
  const inputs = () => [...fieldsBox.querySelectorAll<HTMLInputElement>("input[data-key]")];
  const drawFields = () => {
    const f = formOf(kind.value);
    result.textContent = "";
    if (!f) return;
    fieldsBox.replaceChildren(
      ...f.fields.map((x) =>
        h(
          "label",
          { class: "field" },
          h("span", {}, x.label + (x.required ? "" : " (optional)")),
          h("input", {
            id: `conn-${x.key}`,
            "data-key": x.key,
            type: x.secret ? "password" : "text",
            inputmode: x.key === "url" ? "url" : undefined,
            placeholder: x.placeholder || undefined,
            autocomplete: "off",
            spellcheck: "false",
            required: x.required && !x.secret,
            "aria-describedby": x.hint ? `conn-${x.key}-hint` : undefined,
          }),
          x.hint ? h("small", { class: "muted", id: `conn-${x.key}-hint` }, x.hint) : null,
        ),
      ),
    );
    buttons.replaceChildren(...(f.oauth ? [zohoButton(form, result)] : [test, save]));
  };
  kind.addEventListener("change", drawFields);
  const form = (): ConnForm => {
    const all = inputs();
    const secret = all.find((i) => i.dataset.key === "secret")?.value ?? "";
    return {
      name: name.value.trim(),
      kind: kind.value,
      settings: Object.fromEntries(all.filter((i) => i.dataset.key !== "secret").map((i) => [i.dataset.key!, i.value.trim()])),
      secret: secret || null,
    };
  };
  drawFields();
  test.onclick = async () => {
    result.textContent = "Checking…";
    result.className = "";
    const who = await call(commands.testConnection(form()), test);
    result.textContent = who ? `Signed in as ${who}` : "Not signed in: see the message above.";
    result.className = who ? "ok" : "warn";
  };
  const el = h(
    "form",
    {
      id: "conn-form",
      "aria-labelledby": "conn-form-title",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        if (formOf(kind.value)?.oauth) return;
        const f = form();
        const hadSecret = inputs().some((i) => i.type === "password" && i.value);
        const ok = await call(commands.saveConnection(f), save);
        if (ok !== undefined) {
          for (const i of inputs()) if (i.type === "password") i.value = "";
          say(`Saved ${f.name}${hadSecret ? "; its secret is in the OS keyring" : ""}.`);
          void render();
        }
      },
    },
    h("h3", { id: "conn-form-title" }, "Sign in to a system"),
    field("System", kind),
    h("label", { class: "field" }, h("span", {}, "Connection name"), name, h("small", { class: "muted", id: "conn-name-hint" }, "Letters, digits, - and _. The presets use crm, workbook, cloud/local, finance.")),
    fieldsBox,
    buttons,
    result,
  );
  const again = (c: ConnectionView) => {
    if (!formOf(c.kind)) return;
    kind.value = c.kind;
    drawFields();
    name.value = c.name;
    for (const i of inputs()) {
      const saved = c.settings[i.dataset.key!];
      if (i.type !== "password" && saved !== undefined) i.value = saved;
    }
    (inputs().find((i) => i.type === "password" && !i.value) ?? name).focus();
  };
  return h(
    "section",
    { "aria-labelledby": "h-conn" },
    h("h2", { id: "h-conn" }, "Connections"),
    list.length ? connectionTable(list, again) : h("p", { class: "muted" }, "No connections yet. Sign in to your CRM or ERP below."),
    el,
  );
}

type ConnForm = { name: string; kind: string; settings: Record<string, string>; secret: string | null };

/// Zoho signs in through the system browser (OAuth with PKCE and a loopback redirect): the
/// app opens Zoho's page, shows its address in case no browser opened, and waits.
function zohoButton(form: () => ConnForm, result: HTMLElement): HTMLElement {
  const box = h("span", { class: "row" });
  const go = h("button", { id: "conn-zoho", type: "button", class: "primary" }, "Sign in with Zoho") as HTMLButtonElement;
  go.onclick = async () => {
    const f = form();
    result.className = "";
    result.textContent = "Opening Zoho in your browser…";
    const started = await call(commands.zohoSignInStart(f), go);
    if (!started) {
      result.textContent = "Not signed in: see the message above.";
      result.className = "warn";
      return;
    }
    for (const i of document.querySelectorAll<HTMLInputElement>("#conn-form input[type=password]")) i.value = "";
    const url = h("input", { id: "zoho-url", readonly: true, value: started.url, "aria-label": "Zoho sign-in address", size: 40 }) as HTMLInputElement;
    const cancel = h("button", { id: "zoho-cancel", type: "button" }, "Cancel") as HTMLButtonElement;
    cancel.onclick = () => void commands.zohoSignInCancel(f.name);
    result.replaceChildren(
      h("span", { id: "zoho-waiting" }, started.opened ? "Allow Crosswalk in the browser window that opened; this waits up to 5 minutes. " : "No browser opened: open this address yourself. "),
      h("span", { class: "row" }, url, cancel),
    );
    go.disabled = true;
    const who = await call(commands.zohoSignInFinish(f.name));
    go.disabled = false;
    result.replaceChildren(who ? `Signed in as ${who}` : "Not signed in: see the message above.");
    result.className = who ? "ok" : "warn";
    if (who) {
      say(`Signed in to Zoho as ${who}; the refresh token is in the OS keyring.`);
      void render();
    }
  };
  box.append(go);
  return box;
}

function secretState(c: ConnectionView): [string, string] {
  if (c.secret_error) return [`Unknown: ${c.secret_error}`, "warn"];
  if (c.needs_secret) return c.signed_in ? ["Yes", "ok"] : ["No — sign in", "warn"];
  if (c.secret_optional) return c.signed_in ? ["Yes (signing secret)", "ok"] : ["No secret (optional)", "muted"];
  return ["Not needed", "ok"];
}

function connectionTable(list: ConnectionView[], again: (c: ConnectionView) => void) {
  return h(
    "table",
    { id: "conn-list" },
    h("thead", {}, h("tr", {}, h("th", {}, "Name"), h("th", {}, "System"), h("th", {}, "Where"), h("th", {}, "Signed in"), h("th", {}, h("span", { class: "sr" }, "Actions")))),
    h(
      "tbody",
      {},
      ...list.map((c) => {
        const [state, cls] = secretState(c);
        return h(
          "tr",
          { "data-name": c.name },
          h("td", {}, c.name),
          h("td", {}, formOf(c.kind)?.label ?? c.kind),
          h("td", {}, c.location ?? ""),
          h("td", { class: cls }, state),
          h(
            "td",
            {},
            formOf(c.kind) ? h("button", { type: "button", "aria-label": `Sign in to ${c.name} again`, onclick: () => again(c) }, c.signed_in ? "Change" : "Sign in") : null,
            (c.needs_secret || c.secret_optional) && c.signed_in
              ? h("button", { type: "button", "aria-label": `Sign out of ${c.name}`, onclick: async () => { if ((await call(commands.signOut(c.name))) !== undefined) { say(`Signed out of ${c.name}; its secret was deleted.`); void render(); } } }, "Sign out")
              : null,
            h("button", { type: "button", "aria-label": `Remove ${c.name}`, onclick: async () => { if ((await call(commands.removeConnection(c.name))) !== undefined) void render(); } }, "Remove"),
          ),
        );
      }),
    ),
  );
}

// ---------- Syncs ----------
async function syncs(): Promise<HTMLElement> {
  await refreshOverview();
  const conns = (await call(commands.listConnections())) ?? [];
  const twenty = conns.filter((c) => c.kind === "twenty");
  const conn = h("select", { id: "sync-connection" }, ...twenty.map((c) => h("option", { value: c.location ?? "" }, `${c.name} — ${c.location ?? ""}`))) as HTMLSelectElement;
  const wb = h("input", { id: "sync-workbook", placeholder: "/home/me/Documents/crm.xlsx", required: true }) as HTMLInputElement;
  const browse = h("button", { type: "button", id: "sync-browse" }, "Choose…") as HTMLButtonElement;
  browse.onclick = async () => {
    const p = await call(commands.pickWorkbook(), browse);
    if (p) wb.value = p;
  };
  const conflict = h(
    "select",
    { id: "sync-conflict" },
    h("option", { value: "ask" }, "Ask me"),
    h("option", { value: "newest_wins" }, "Newest change wins"),
    h("option", { value: "crm_wins" }, "CRM wins"),
    h("option", { value: "excel_wins" }, "Workbook wins"),
  ) as HTMLSelectElement;
  const every = h("input", { id: "sync-every", type: "number", min: 1, value: 30 }) as HTMLInputElement;
  const create = h("button", { id: "sync-create", type: "submit", class: "primary" }, "Create sync") as HTMLButtonElement;
  const form = h(
    "form",
    {
      id: "sync-form",
      "aria-labelledby": "sync-form-title",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const made = await call(
          commands.createSync({
            preset: "twenty-excel",
            replace: false,
            values: { TWENTY_API_URL: conn.value, EXCEL_FILE_PATH: wb.value.trim(), CONFLICT_STRATEGY: conflict.value, SYNC_INTERVAL_MINUTES: every.value },
          }),
          create,
        );
        if (made) {
          say(`Created syncs ${made.links.join(", ")}.${made.secrets_missing.length ? ` Sign in to ${made.secrets_missing.join(", ")} first.` : ""}`);
          void render();
        }
      },
    },
    h("h3", { id: "sync-form-title" }, "New sync from a preset: Twenty CRM ↔ Excel workbook"),
    twenty.length ? field("Twenty connection", conn) : h("p", { class: "warn" }, "Sign in to Twenty on the Connections screen first."),
    field("Workbook", h("div", { class: "row" }, wb, browse), "Created when missing; kept versions let you restore it."),
    field("When both sides changed", conflict),
    field("Sync every (minutes)", every, "It also syncs whenever you save the workbook."),
    h("div", { class: "row" }, create),
  );
  const links = overview?.links ?? [];
  const out = h("div", { id: "sync-output", "aria-live": "polite" });
  const editorBox = h("div", { id: "link-editor-box" });
  const table = h(
    "table",
    { id: "sync-list" },
    h("thead", {}, h("tr", {}, ...["Sync", "From", "To", "Pairs", "Last run", "Conflicts", ""].map((t) => h("th", {}, t)))),
    h(
      "tbody",
      {},
      ...links.map((l) =>
        h(
          "tr",
          { "data-link": l.link },
          h("td", {}, l.link),
          h("td", {}, l.left),
          h("td", {}, l.right),
          h("td", { class: "num" }, String(l.pairs)),
          h("td", {}, `${l.last_status ?? "never"}${l.waiting_for ? ` — ${l.waiting_for}` : ""}`),
          h("td", { class: "num" }, String(l.open_conflicts)),
          h(
            "td",
            {},
            actionButton("Edit", `edit-${l.link}`, `Edit the fields, policies and schedule of ${l.link}`, async (b) => {
              const ed = await linkEditor(l.link, b);
              if (ed) {
                editorBox.replaceChildren(ed);
                ed.querySelector<HTMLElement>("h3")?.focus();
              }
            }),
            actionButton("Preview", `preview-${l.link}`, `Preview the next run of ${l.link}`, async (b) => showOutcomes(out, await call(commands.syncNow(l.link, true), b))),
            actionButton("Sync now", `sync-${l.link}`, `Sync ${l.link} now`, async (b) => {
              lastOutcomes = await call(commands.syncNow(l.link, false), b);
              await render();
            }),
            actionButton("Remove", `remove-${l.link}`, `Remove sync ${l.link}`, async (b) => {
              if ((await call(commands.removeSync(l.link), b)) !== undefined) void render();
            }),
          ),
        ),
      ),
    ),
  );
  const all = actionButton("Sync all now", "sync-all", "Sync all now", async (b) => {
    lastOutcomes = await call(commands.syncNow(null, false), b);
    await render();
  });
  showOutcomes(out, lastOutcomes);
  return h(
    "section",
    { "aria-labelledby": "h-syncs" },
    h("h2", { id: "h-syncs" }, "Syncs"),
    links.length ? h("div", {}, table, h("div", { class: "row" }, all)) : h("p", { class: "muted" }, "No syncs yet."),
    out,
    editorBox,
    form,
  );
}

// ---------- Sync editor: field mapping, policies, schedule ----------
const DIRECTIONS: [string, string][] = [
  ["", "Same as the sync"],
  ["two_way", "Both ways"],
  ["left_to_right", "Left → right only"],
  ["right_to_left", "Right → left only"],
];
const arrow = (d: DirectionView | null | undefined, link: DirectionView) => ({ two_way: "↔", left_to_right: "→", right_to_left: "←" })[d ?? link];

async function linkEditor(link: string, busy: HTMLButtonElement): Promise<HTMLElement | undefined> {
  const cur = await call(commands.linkSettings(link), busy);
  if (!cur) return undefined;
  let mapping: FieldMappingView[] = cur.fields.map((f) => ({ ...f }));
  const L = `${cur.left_connection} ${cur.left_object}`;
  const R = `${cur.right_connection} ${cur.right_object}`;
  const id = (s: string) => `edit-${s}`;
  const select = (sid: string, value: string, options: [string, string][]) =>
    h("select", { id: id(sid) }, ...options.map(([v, t]) => h("option", { value: v, selected: v === value }, t))) as HTMLSelectElement;
  const conflict = select("conflict", cur.conflict, [
    ["newest_wins", "Newest change wins"],
    ["left_wins", `${L} wins (left)`],
    ["right_wins", `${R} wins (right)`],
    ["ask", "Ask me (park it under Conflicts)"],
  ]);
  const deletes = select("deletes", cur.deletes, [
    ["ignore", "Keep the record on the other side"],
    ["propagate", "Delete it on the other side too"],
    ["ask", "Ask me (park it under Conflicts)"],
  ]);
  const scheduled = h("input", { type: "checkbox", id: id("scheduled"), checked: cur.every_minutes !== null }) as HTMLInputElement;
  const every = h("input", { type: "number", id: id("every"), min: 1, value: cur.every_minutes ?? 30, "aria-label": "Minutes between scheduled syncs", disabled: cur.every_minutes === null }) as HTMLInputElement;
  scheduled.onchange = () => (every.disabled = !scheduled.checked);
  const onSave = h("input", { type: "checkbox", id: id("on-save"), checked: cur.on_save }) as HTMLInputElement;
  const onHook = h("input", { type: "checkbox", id: id("on-webhook"), checked: cur.on_webhook }) as HTMLInputElement;
  const fieldsNote = h("p", { id: id("fields-note"), class: "muted", "aria-live": "polite" }, "Loading the fields of both systems…");
  const leftList = h("datalist", { id: "left-fields" });
  const rightList = h("datalist", { id: "right-fields" });
  const suggestions = h("div", { id: id("suggestions"), class: "row", role: "group", "aria-label": "Suggested field matches" });
  const isKey = (f: FieldMappingView) => !!cur.match_key && f.left === cur.match_key[0] && f.right === cur.match_key[1];
  const body = h("tbody", {});
  const drawMapping = () => {
    body.replaceChildren(
      ...mapping.map((f, i) => {
        const dir = select(`dir-${i}`, f.direction ?? "", DIRECTIONS);
        dir.setAttribute("aria-label", `Direction of ${f.left} ↔ ${f.right}`);
        dir.onchange = () => {
          f.direction = (dir.value || null) as DirectionView | null;
          drawMapping();
          document.getElementById(id(`dir-${i}`))?.focus();
        };
        const remove = h("button", { type: "button", id: id(`remove-${i}`), "aria-label": `Remove ${f.left} ↔ ${f.right}`, disabled: isKey(f), title: isKey(f) ? "Records are matched on this field" : undefined }, "Remove") as HTMLButtonElement;
        remove.onclick = () => {
          mapping = mapping.filter((m) => m !== f);
          drawMapping();
          (document.getElementById(id(`remove-${Math.min(i, mapping.length - 1)}`)) ?? document.getElementById(id("add-left")))?.focus();
        };
        return h(
          "tr",
          { "data-left": f.left, "data-right": f.right },
          h("td", {}, f.left, isKey(f) ? h("small", { class: "muted" }, " (match key)") : null),
          h("td", { class: "arrow", "aria-hidden": "true" }, arrow(f.direction, cur.direction)),
          h("td", {}, f.right),
          h("td", {}, dir),
          h("td", {}, remove),
        );
      }),
    );
  };
  drawMapping();
  const addLeft = h("input", { id: id("add-left"), list: "left-fields", autocomplete: "off", spellcheck: "false" }) as HTMLInputElement;
  const addRight = h("input", { id: id("add-right"), list: "right-fields", autocomplete: "off", spellcheck: "false" }) as HTMLInputElement;
  const addDir = select("add-direction", "", DIRECTIONS);
  const add = (l: string, r: string, d: string) => {
    if (!l.trim() || !r.trim()) {
      fail({ code: "bad_input", message: "Choose a field on both sides to add a row." });
      return false;
    }
    mapping.push({ left: l.trim(), right: r.trim(), direction: (d || null) as DirectionView | null });
    drawMapping();
    say(`Added ${l.trim()} ↔ ${r.trim()}; save to keep it.`);
    return true;
  };
  const addBtn = h("button", { type: "button", id: id("add-field") }, "Add field") as HTMLButtonElement;
  addBtn.onclick = () => {
    if (add(addLeft.value, addRight.value, addDir.value)) {
      addLeft.value = addRight.value = addDir.value = "";
      addLeft.focus();
    }
  };
  void commands.linkFields(link).then((r) => {
    if (r.status !== "ok") {
      fieldsNote.textContent = `The fields could not be listed (${r.error.message}); type the names by hand.`;
      return;
    }
    const opts = (list: FieldChoiceView[]) => list.map((f) => h("option", { value: f.name }, f.label !== f.name ? f.label : f.field_type));
    leftList.replaceChildren(...opts(r.data.left));
    rightList.replaceChildren(...opts(r.data.right));
    fieldsNote.textContent = `${r.data.left.length} fields on the left, ${r.data.right.length} on the right: start typing to pick one.`;
    suggestions.replaceChildren(
      ...(r.data.suggestions.length ? [h("span", { class: "muted" }, "Suggested:")] : []),
      ...r.data.suggestions.map((g) => {
        const b = h("button", { type: "button", "aria-label": `Add suggested ${g.left} ↔ ${g.right}` }, `${g.left} ↔ ${g.right}`) as HTMLButtonElement;
        b.onclick = () => {
          if (add(g.left, g.right, "")) b.remove();
        };
        return b;
      }),
    );
  });
  const saveBtn = h("button", { type: "submit", id: id("save"), class: "primary" }, "Save changes") as HTMLButtonElement;
  const close = h("button", { type: "button", id: id("close") }, "Close") as HTMLButtonElement;
  const form = h(
    "form",
    {
      id: "link-editor",
      "aria-labelledby": id("title"),
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const saved = await call(
          commands.saveLink(link, {
            conflict: conflict.value as ConflictPolicyView,
            deletes: deletes.value as DeletePolicyView,
            every_minutes: scheduled.checked ? Math.max(1, Math.floor(Number(every.value) || 0)) : null,
            on_save: onSave.checked,
            on_webhook: onHook.checked,
            fields: mapping,
          }),
          saveBtn,
        );
        if (saved) {
          mapping = saved.fields.map((f) => ({ ...f }));
          drawMapping();
          say(`Saved sync ${link}: ${saved.fields.length} fields, ${saved.conflict.replace("_", " ")}, ${saved.every_minutes ? `every ${saved.every_minutes} min` : "no schedule"}.`);
          await refreshOverview();
        }
      },
    },
    h("h3", { id: id("title"), tabindex: -1 }, `Edit sync ${link}: ${L} ${arrow(null, cur.direction)} ${R}`),
    h("p", { class: "muted" }, cur.direction === "two_way" ? "Changes flow both ways." : `Changes flow ${cur.direction === "left_to_right" ? "from left to right" : "from right to left"} only.`,
      cur.id_field ? ` The ${cur.id_field[0]} side's field “${cur.id_field[1]}” holds the other side's record id.` : ""),
    field("When a field changed differently on both sides", conflict),
    field("When a record is deleted on one side", deletes),
    h(
      "fieldset",
      {},
      h("legend", {}, "When to sync"),
      h("div", { class: "row" }, h("label", { class: "check inline" }, scheduled, " Every"), every, h("span", {}, "minutes")),
      h("label", { class: "check" }, onSave, " When a workbook in this sync is saved"),
      h("label", { class: "check" }, onHook, " When a webhook from either system arrives"),
    ),
    h("h4", { id: id("mapping-title") }, "Field mapping"),
    h(
      "table",
      { id: "mapping", "aria-labelledby": id("mapping-title") },
      h("thead", {}, h("tr", {}, h("th", {}, `Left: ${L}`), h("th", {}, h("span", { class: "sr" }, "Flow")), h("th", {}, `Right: ${R}`), h("th", {}, "Direction"), h("th", {}, h("span", { class: "sr" }, "Remove")))),
      body,
    ),
    fieldsNote,
    suggestions,
    h(
      "div",
      { class: "row", role: "group", "aria-label": "Add a mapped field" },
      field("Left field", addLeft),
      field("Right field", addRight),
      field("Direction", addDir),
      addBtn,
    ),
    leftList,
    rightList,
    h("div", { class: "row" }, saveBtn, close),
  );
  close.onclick = () => {
    form.remove();
    document.getElementById(`edit-${link}`)?.focus();
  };
  return form;
}

function actionButton(label: string, id: string, aria: string, onclick: (b: HTMLButtonElement) => Promise<void>) {
  const b = h("button", { type: "button", id, "aria-label": aria }, label) as HTMLButtonElement;
  b.onclick = () => void onclick(b);
  return b;
}

function counts(r: RunView) {
  const c = r.counts;
  if (r.status === "dry_run")
    return `would create ${side(c.planned_create)}, update ${side(c.planned_update)}, delete ${side(c.planned_delete)} (left / right)`;
  return `read ${side(c.read)} · created ${side(c.created)} · updated ${side(c.updated)} · deleted ${side(c.deleted)}${c.failed[0] + c.failed[1] ? ` · failed ${side(c.failed)}` : ""}${c.conflicts_open ? ` · ${c.conflicts_open} conflict(s)` : ""}`;
}

function showOutcomes(out: HTMLElement, outcomes: RunOutcome[] | undefined) {
  if (!outcomes) return;
  out.replaceChildren(
    ...outcomes.map((o) =>
      h(
        "div",
        { class: "card", "data-link": o.link },
        h("h4", {}, `${o.link}: ${o.run ? o.run.status : "failed"}`),
        o.run ? h("p", { class: "counts" }, counts(o.run)) : h("p", { class: "warn" }, o.error?.message ?? ""),
        o.run?.counts.waiting_for ? h("p", { class: "warn" }, o.run.counts.waiting_for) : null,
        ...(o.run?.counts.errors ?? []).map((e) => h("p", { class: "warn" }, e)),
        o.run && o.run.preview.length ? h("ul", { class: "preview" }, ...o.run.preview.map((l) => h("li", {}, l))) : null,
      ),
    ),
  );
}

// ---------- Activity ----------
async function activity(): Promise<HTMLElement> {
  const runs = (await call(commands.runs(null, 50))) ?? [];
  const detail = h("div", { id: "run-changes", "aria-live": "polite" });
  const live = h("div", { id: "progress", role: "status" }, ...[...progress.entries()].map(([l, t]) => h("p", {}, `${l}: ${t}`)));
  return h(
    "section",
    { "aria-labelledby": "h-act" },
    h("h2", { id: "h-act" }, "Activity"),
    live,
    runs.length
      ? h(
          "table",
          { id: "run-list" },
          h("thead", {}, h("tr", {}, ...["When", "Sync", "Trigger", "Result", "Counts (left / right)", ""].map((t) => h("th", {}, t)))),
          h(
            "tbody",
            {},
            ...runs.map((r) =>
              h(
                "tr",
                { "data-run": String(r.id), class: r.status === "ok" || r.status === "dry_run" ? "" : "warn" },
                h("td", {}, when(r.started_at)),
                h("td", {}, r.link),
                h("td", {}, r.trigger),
                h("td", {}, r.status + (r.message ? ` — ${r.message}` : "")),
                h("td", { class: "counts" }, counts(r)),
                h("td", {}, actionButton("Details", `run-${r.id}`, `Show the records run ${r.id} changed`, async (b) => showChanges(detail, r, await call(commands.runChanges(r.id), b)))),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No runs yet."),
    detail,
  );
}

function showChanges(el: HTMLElement, r: RunView, changes: ChangeView[] | undefined) {
  if (!changes) return;
  el.replaceChildren(
    h("h3", {}, `Run ${r.id} (${r.link}): ${changes.length} change(s)`),
    ...(r.counts.errors.length ? [h("ul", { class: "warn" }, ...r.counts.errors.map((e) => h("li", {}, e)))] : []),
    h(
      "table",
      {},
      h("thead", {}, h("tr", {}, ...["Side", "Record", "Action", "Field", "Before", "After"].map((t) => h("th", {}, t)))),
      h(
        "tbody",
        {},
        ...changes.map((c) =>
          h("tr", {}, h("td", {}, c.side), h("td", {}, c.record_id), h("td", {}, c.action), h("td", {}, c.field ?? ""), h("td", { class: "before" }, c.before ?? ""), h("td", { class: "after" }, `→ ${c.after ?? ""}`)),
        ),
      ),
    ),
  );
}

// ---------- Conflicts ----------
async function conflicts(): Promise<HTMLElement> {
  const list = (await call(commands.conflicts())) ?? [];
  await refreshOverview();
  const resolve = async (ids: number[], take: TakeView, b?: HTMLButtonElement) => {
    const n = await call(commands.resolveConflicts(ids, take), b);
    if (n !== undefined) {
      say(`Resolved ${n} conflict(s); the sync runs now to apply ${n === 1 ? "it" : "them"}.`);
      void render();
    }
  };
  const checked = () => [...document.querySelectorAll<HTMLInputElement>("#conflict-list input[type=checkbox]:checked")].map((c) => Number(c.value));
  const bulk = h(
    "div",
    { class: "row", role: "group", "aria-label": "Resolve the selected conflicts" },
    actionButton("Select all", "conflicts-select-all", "Select all conflicts", async () => {
      document.querySelectorAll<HTMLInputElement>("#conflict-list input[type=checkbox]").forEach((c) => (c.checked = true));
    }),
    actionButton("Take left for selected", "conflicts-take-left", "Take the left value for the selected conflicts", (b) => resolve(checked(), { take: "left" }, b)),
    actionButton("Take right for selected", "conflicts-take-right", "Take the right value for the selected conflicts", (b) => resolve(checked(), { take: "right" }, b)),
  );
  const row = (c: ConflictView) => {
    const value = h("input", { "aria-label": `Value for ${c.field} of ${c.left_id}`, value: c.left, size: 14 }) as HTMLInputElement;
    return h(
      "tr",
      { "data-conflict": String(c.id) },
      h("td", {}, h("input", { type: "checkbox", value: String(c.id), "aria-label": `Select conflict ${c.id}` })),
      h("td", {}, c.link, h("br"), h("small", { class: "muted" }, `${c.left_id} ↔ ${c.right_id}`)),
      h("td", {}, c.kind === "field" ? c.field : c.kind.replace("_", " ")),
      h("td", { class: "base" }, c.base),
      h("td", { class: "left" }, c.left),
      h("td", { class: "right" }, c.right),
      h(
        "td",
        {},
        actionButton("Take left", `take-left-${c.id}`, `Take left value ${c.left}`, (b) => resolve([c.id], { take: "left" }, b)),
        actionButton("Take right", `take-right-${c.id}`, `Take right value ${c.right}`, (b) => resolve([c.id], { take: "right" }, b)),
        c.kind === "field" ? h("span", { class: "row" }, value, actionButton("Use value", `take-value-${c.id}`, "Use the typed value", (b) => resolve([c.id], { take: "value", value: value.value }, b))) : null,
      ),
    );
  };
  return h(
    "section",
    { "aria-labelledby": "h-conf" },
    h("h2", { id: "h-conf" }, "Conflicts"),
    list.length
      ? h(
          "div",
          {},
          h("p", { class: "muted" }, "These fields changed differently on both sides since they last agreed (the base). Nothing is written until you choose."),
          bulk,
          h(
            "table",
            { id: "conflict-list" },
            h("thead", {}, h("tr", {}, ...["", "Sync / records", "Field", "Base", "Left", "Right", "Choose"].map((t) => h("th", {}, t)))),
            h("tbody", {}, ...list.map(row)),
          ),
        )
      : h("p", { id: "no-conflicts", class: "muted" }, "No conflicts waiting."),
  );
}

// ---------- Settings ----------
async function settings(): Promise<HTMLElement> {
  await refreshOverview();
  const paused = h("input", { type: "checkbox", id: "set-paused", checked: !!overview?.paused }) as HTMLInputElement;
  paused.onchange = async () => {
    await call(commands.setPaused(paused.checked));
    await refreshOverview();
    say(paused.checked ? "Paused: no scheduled, on-save or webhook syncs until you resume." : "Resumed.");
  };
  const auto = h("input", { type: "checkbox", id: "set-autostart" }) as HTMLInputElement;
  void commands.startAtLogin(null).then((r) => {
    if (r.status === "ok") auto.checked = r.data;
  });
  auto.onchange = async () => {
    const on = await call(commands.startAtLogin(auto.checked));
    if (on !== undefined) auto.checked = on;
  };
  const versions = (overview?.configured ? await call(commands.workbookVersions()) : []) ?? [];
  return h(
    "section",
    { "aria-labelledby": "h-set" },
    h("h2", { id: "h-set" }, "Settings"),
    h("label", { class: "check" }, paused, " Pause all syncing"),
    h("label", { class: "check" }, auto, " Start Crosswalk when I log in"),
    h(
      "div",
      { class: "row" },
      actionButton("Open log folder", "open-logs", "Open the log folder", async (b) => {
        const dir = await call(commands.openLogFolder(), b);
        if (dir) say(`Logs are in ${dir}`);
      }),
    ),
    h("p", { class: "muted" }, `Config: ${overview?.config_path ?? ""}`),
    h("h3", {}, "Restore an earlier workbook version"),
    versions.length
      ? h(
          "table",
          { id: "versions" },
          h("thead", {}, h("tr", {}, ...["Workbook", "Version", "Saved", "Size", ""].map((t) => h("th", {}, t)))),
          h(
            "tbody",
            {},
            ...versions.map((v) =>
              h(
                "tr",
                {},
                h("td", {}, v.path),
                h("td", { class: "num" }, String(v.number)),
                h("td", {}, when(v.saved_at)),
                h("td", { class: "num" }, `${Math.round(v.bytes / 1024)} KB`),
                h("td", {}, actionButton("Restore", `restore-${v.connection}-${v.number}`, `Restore version ${v.number}`, async (b) => {
                  if ((await call(commands.restoreWorkbook(v.connection, v.number), b)) !== undefined) say(`Restored version ${v.number}; the replaced file was kept as a version too.`);
                })),
              ),
            ),
          ),
        )
      : h("p", { class: "muted" }, "No versions kept yet: one is kept before every write Crosswalk makes to a workbook."),
  );
}

// ---------- events ----------
function onEngine(e: EngineEvent) {
  switch (e.type) {
    case "run_started":
      progress.set(e.link, `started (${e.trigger})`);
      break;
    case "run_progress":
      progress.set(e.link, e.total ? `${e.stage} ${e.done}/${e.total}` : e.stage);
      break;
    case "run_finished":
      progress.delete(e.run.link);
      void refreshOverview();
      break;
    case "run_failed":
      progress.delete(e.link);
      void refreshOverview();
      break;
    default:
      void refreshOverview();
  }
  const live = document.getElementById("progress");
  if (live) live.replaceChildren(...[...progress.entries()].map(([l, t]) => h("p", {}, `${l}: ${t}`)));
  if ((e.type === "run_finished" || e.type === "run_failed") && screen === "activity") void render();
  if (e.type === "conflicts_waiting" && screen === "conflicts") void render();
}

for (const b of document.querySelectorAll<HTMLButtonElement>("nav button")) b.onclick = () => go(b.dataset.screen as Screen);
void events.engineEvent.listen((ev) => onEngine(ev.payload));
void refreshOverview().then(() => go(overview && overview.links.length ? "syncs" : "connections"));

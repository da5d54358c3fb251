// Outputs, Snapshots and Applets tabs, written against the routes of issues 5 and 6.
// Stored content is only ever shown as text, JSON text or <img>; applets run in a
// sandboxed frame of their own /view URL, never as live HTML in the UI's origin.
import { api, fetchBlob, getJSON, sendJSON, sessionUrl } from "./api.js";
import { confirmDialog, formatBytes, formatTime, h, link, toast } from "./dom.js";
import { navigate, uiPath } from "./app.js";
import { feed } from "./session.js";

const KINDS = { file: "FILE", terminal: "TERM", image: "IMG", embed: "EMBED", raw: "RAW" };
const kind = (type) => h("span", { class: "kind", title: type }, KINDS[type] || "RAW");
const items = (body) => (Array.isArray(body) ? body : body.data || []);
const missing = (err) => err.status === 404 || err.status === 405;

function unavailable(body, what, err) {
  body.replaceChildren(h("p", { class: "muted" }, missing(err) ? `${what} are not available on this server.` : (err.detail || String(err))));
}

// -- outputs -------------------------------------------------------------------------------

export async function renderOutputs(body, agent, session, rest) {
  const base = `${sessionUrl(agent, session)}/outputs`;
  let list;
  try { list = items(await getJSON(`${base}?limit=200`)); } catch (err) { unavailable(body, "Outputs", err); return; }
  const viewer = h("div", { class: "output-view", "aria-live": "polite" });
  const ul = h("ul", { class: "outputs" }, list.map((o) => {
    const type = (o.metadata && o.metadata.type) || o.type || "raw";
    return h("li", {}, kind(type),
      link(`${uiPath.session(agent, session, "outputs")}/${encodeURIComponent(o.id)}`, o.id),
      h("span", { class: "muted" }, ` ${type} ${(o.metadata && (o.metadata.path || o.metadata.command)) || ""}`));
  }));
  if (!list.length) ul.append(h("li", { class: "muted" }, "No outputs yet."));
  body.replaceChildren(h("div", { class: "split" }, ul, viewer));
  if (rest && rest[0]) await showOutput(viewer, base, rest[0]);
  feed.listeners.add((c) => { if (c.volume === "outputs" && !rest.length) navigate(location.pathname, { replace: true }); });
}

async function showOutput(viewer, base, id) {
  const out = await getJSON(`${base}/${encodeURIComponent(id)}`);
  const meta = out.metadata || {};
  const type = meta.type || "raw";
  const mime = meta.mimeType || "";
  let content;
  if (type === "image" || mime.startsWith("image/")) {
    const src = URL.createObjectURL(await fetchBlob(`${base}/${encodeURIComponent(id)}`));
    content = h("img", { class: "preview", src, alt: `Output ${id}` });
  } else {
    let text = out.encoding === "base64" ? `(binary, ${formatBytes(out.size_bytes || 0)})` : String(out.data ?? "");
    if (mime.includes("json") || (typeof out.data === "object" && out.data !== null)) {
      try { text = JSON.stringify(typeof out.data === "string" ? JSON.parse(out.data) : out.data, null, 2); } catch { /* keep text */ }
    }
    content = h("pre", { class: type === "terminal" ? "terminal" : "text" }, text);
  }
  viewer.replaceChildren(h("h2", {}, kind(type), ` ${id}`),
    h("dl", { class: "meta-list" }, Object.entries(meta).flatMap(([k, v]) => [h("dt", {}, k), h("dd", {}, typeof v === "string" ? v : JSON.stringify(v))])),
    content);
}

// -- snapshots -----------------------------------------------------------------------------

function jsonDiff(a, b, path = "", out = []) {
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null || Array.isArray(a) !== Array.isArray(b)) {
    if (JSON.stringify(a) !== JSON.stringify(b)) out.push({ path: path || "/", kind: a === undefined ? "added" : b === undefined ? "removed" : "changed", a, b });
    return out;
  }
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) jsonDiff(a[key], b[key], `${path}/${key}`, out);
  return out;
}

export async function renderSnapshots(body, agent, session) {
  const base = sessionUrl(agent, session);
  let latest = null;
  let history = [];
  try { latest = await getJSON(`${base}/snapshot`); } catch (err) { if (err.status !== 404 || err.code === "not_found") { unavailable(body, "Snapshots", err); return; } }
  try { history = items(await getJSON(`${base}/snapshots`)); } catch { history = []; }
  const stamps = [...(latest ? [latest.updatedAt] : []), ...history.map((s) => s.updatedAt).filter((t) => !latest || t !== latest.updatedAt)];
  const fetchOne = (t) => (latest && t === latest.updatedAt ? latest : getJSON(`${base}/snapshots/${t}`));
  const label = (t) => `${t}${latest && t === latest.updatedAt ? " (latest)" : ""} — ${formatTime(new Date(Number(t)).toISOString())}`;
  const diffOut = h("div", { class: "diff", "aria-live": "polite" });
  const pick = (name, value) => h("select", { name, "aria-label": name }, stamps.map((t) => h("option", { value: t, selected: String(t) === String(value) }, label(t))));
  const left = pick("from", stamps[1] ?? stamps[0]);
  const right = pick("to", stamps[0]);
  const diff = async () => {
    const [a, b] = await Promise.all([fetchOne(Number(left.value)), fetchOne(Number(right.value))]);
    const changes = jsonDiff(a.snapshot, b.snapshot);
    diffOut.replaceChildren(changes.length ? h("ul", {}, changes.map((c) => h("li", { class: c.kind },
      h("code", {}, c.path), ` ${c.kind}: `, h("code", {}, JSON.stringify(c.a) ?? ""), " → ", h("code", {}, JSON.stringify(c.b) ?? ""))))
      : h("p", { class: "muted" }, "No differences."));
  };
  const rows = stamps.map((t) => h("li", {}, h("span", {}, label(t)),
    latest && t === latest.updatedAt ? null : h("button", { type: "button", class: "small", onclick: async () => {
      const ok = await confirmDialog({ title: "Restore snapshot?", message: `Snapshot ${t} becomes the latest; the current latest moves into history.`,
        confirmLabel: "Restore", danger: false, onConfirm: () => api("POST", `${base}/snapshots/${t}/restore`) });
      if (ok) { toast(`Restored snapshot ${t}`); navigate(location.pathname, { replace: true }); }
    } }, "Restore")));
  body.replaceChildren(
    h("h2", {}, "Latest"),
    latest ? h("pre", { class: "text" }, JSON.stringify(latest, null, 2)) : h("p", { class: "muted" }, "No snapshot saved yet."),
    h("h2", {}, "History"), h("ul", { class: "history" }, rows),
    stamps.length > 1 ? h("div", { class: "inline" }, left, right, h("button", { type: "button", onclick: diff }, "Diff")) : "",
    diffOut);
  feed.listeners.add((c) => { if (c.volume === "snapshots") navigate(location.pathname, { replace: true }); });
}

// -- applets -------------------------------------------------------------------------------

export async function renderApplets(body, agent, session, rest) {
  const base = `/v1/agents/${encodeURIComponent(agent)}/applets`;
  let list;
  try { list = items(await getJSON(base)); } catch (err) { unavailable(body, "Applets", err); return; }
  const here = uiPath.session(agent, session, "applets");
  const ul = h("ul", { class: "applets" }, list.map((a) => h("li", {},
    link(`${here}/${encodeURIComponent(a.slug)}`, a.name || a.slug), h("span", { class: "muted" }, ` ${a.description || ""}`))));
  if (!list.length) ul.append(h("li", { class: "muted" }, "This agent has no applets."));
  const detail = h("div", { class: "applet" });
  body.replaceChildren(h("div", { class: "split" }, ul, detail));
  if (rest && rest[0]) await showApplet(detail, `${base}/${encodeURIComponent(rest[0])}`, rest[0]);
}

async function showApplet(detail, url, slug) {
  // sandbox without allow-same-origin: the applet's scripts run in an opaque origin and
  // cannot read the UI's cookies, storage or DOM; the server adds CSP sandbox too.
  // A frame cannot send the bearer token, so it loads a short-lived signed view link.
  const frame = h("iframe", { sandbox: "allow-scripts", title: `Applet ${slug}`, class: "applet-frame", referrerpolicy: "no-referrer" });
  const showView = async () => { frame.src = (await sendJSON("POST", `${url}/view-link`)).url; };
  const state = h("textarea", { rows: 8, "aria-label": "Applet state (JSON)", spellcheck: "false" });
  const status = h("p", { role: "status" });
  let etag = null;
  const loadState = async () => {
    const res = await api("GET", `${url}/state`);
    etag = res.headers.get("ETag");
    state.value = JSON.stringify(await res.json(), null, 2);
  };
  const saveState = async () => {
    try {
      const value = JSON.parse(state.value);
      const res = await api("PUT", `${url}/state`, { json: value, headers: etag ? { "If-Match": etag } : {} });
      etag = res.headers.get("ETag");
      status.textContent = "State saved.";
    } catch (err) { status.textContent = err.status === 412 ? "The state changed meanwhile: reload it first." : `Not saved: ${err.detail || err.message}`; }
  };
  let versions = [];
  let current = null;
  try { [versions, current] = await Promise.all([getJSON(`${url}/versions`).then(items), getJSON(url).then((a) => a.version)]); } catch { versions = []; }
  detail.replaceChildren(h("h2", {}, slug), frame,
    h("h3", {}, "State"), state, h("div", { class: "inline" },
      h("button", { type: "button", onclick: loadState }, "Reload state"), h("button", { type: "button", class: "primary", onclick: saveState }, "Save state")), status,
    h("h3", {}, "Versions"), h("ul", { class: "history" }, versions.map((v) => {
      const n = v.version;
      return h("li", {}, h("span", {}, `#${n} ${v.name || ""} — ${formatTime(v.savedAt)}`), n === current ? h("span", { class: "badge" }, "current")
        : h("button", { type: "button", class: "small", "aria-label": `Restore version ${n}`, onclick: async () => {
          const ok = await confirmDialog({ title: "Restore version?", message: `Version ${n} of ${slug} is saved again as the newest version; its state is kept.`, confirmLabel: "Restore", danger: false,
            onConfirm: () => api("POST", `${url}/versions/${n}/restore`) });
          if (ok) { toast(`Restored version ${n}`); await showApplet(detail, url, slug); }
        } }, "Restore"));
    })));
  await showView();
  try { await loadState(); } catch { state.value = "{}"; }
}

// The file view: CodeMirror editor for text (loaded on demand), image preview, hex head.
import { actionUrl, api, fetchBlob, fsUrl, getJSON, sendJSON } from "./api.js";
import { formatBytes, formatTime, h, hexDump, toast } from "./dom.js";
import { feed } from "./session.js";
import { download } from "./files.js";
import { onLeave } from "./app.js";

const EDIT_LIMIT = 5 * 1024 * 1024;
const HEAD_BYTES = 512;
let codemirror = null;
const loadEditor = async () => (codemirror ??= await import("/static/vendor/codemirror.js"));

function language(cm, name) {
  const ext = name.includes(".") ? name.split(".").pop().toLowerCase() : "";
  const table = {
    js: () => cm.javascript(), mjs: () => cm.javascript(), cjs: () => cm.javascript(),
    jsx: () => cm.javascript({ jsx: true }), ts: () => cm.javascript({ typescript: true }),
    tsx: () => cm.javascript({ typescript: true, jsx: true }), py: () => cm.python(), rs: () => cm.rust(),
    json: () => cm.json(), md: () => cm.markdown(), html: () => cm.html(), htm: () => cm.html(),
    css: () => cm.css(), sql: () => cm.sql(), yaml: () => cm.yaml(), yml: () => cm.yaml(),
  };
  return table[ext] ? [table[ext]()] : [];
}

function base64Bytes(b64, limit) {
  const bin = atob(b64.slice(0, Math.ceil(limit / 3) * 4 + 4));
  return Uint8Array.from(bin.slice(0, limit), (c) => c.charCodeAt(0));
}

export async function renderFile(pane, ctx, crumbs) {
  const { agent, session, path } = ctx;
  let entry = ctx.entry;
  const url = fsUrl(agent, session, path);
  const status = h("span", { class: "status", role: "status" });
  const banner = h("div", { class: "banner", role: "alert", hidden: true });
  const meta = h("p", { class: "meta" });
  const drawMeta = () => meta.replaceChildren(
    h("span", {}, formatBytes(entry.size_bytes)), h("span", {}, entry.content_type || "unknown type"),
    h("span", {}, `modified ${formatTime(entry.updated_at)}`),
    ...(entry.is_readonly ? [h("span", { class: "badge ro" }, "read-only")] : []));
  drawMeta();
  const toolbar = h("div", { class: "toolbar" },
    h("button", { type: "button", onclick: () => download(ctx, entry) }, "Download"));
  const body = h("div", { class: "file-body" });
  pane.replaceChildren(h("div", { class: "title-row" }, crumbs), meta, toolbar, banner, body);

  const type = entry.content_type || "";
  if (type.startsWith("image/")) {
    const blobUrl = URL.createObjectURL(await fetchBlob(url));
    onLeave(() => URL.revokeObjectURL(blobUrl));
    body.append(h("img", { class: "preview", src: blobUrl, alt: `Preview of ${entry.name}` }));
    return;
  }
  let file = null;
  if (entry.size_bytes <= EDIT_LIMIT) file = await getJSON(url);
  if (!file || file.encoding !== "text") {
    const bytes = file ? base64Bytes(file.content, HEAD_BYTES)
      : new Uint8Array(await (await fetchBlob(url, [0, HEAD_BYTES - 1])).arrayBuffer());
    body.append(h("p", {}, file ? `Binary file, ${formatBytes(entry.size_bytes)}. First ${Math.min(HEAD_BYTES, entry.size_bytes)} bytes:`
      : `Too large to open here (${formatBytes(entry.size_bytes)}). First ${HEAD_BYTES} bytes:`),
    h("pre", { class: "hex", "aria-label": "Hex dump" }, hexDump(bytes)));
    return;
  }

  const cm = await loadEditor();
  let etag = file.etag;
  let dirty = false;
  let saving = false;
  const readOnly = new cm.Compartment();
  const ro = (on) => [cm.EditorState.readOnly.of(on), cm.EditorView.editable.of(!on)];
  const save = h("button", { type: "button", class: "primary", disabled: true, onclick: () => doSave(false) }, "Save");
  const setDirty = (value) => { dirty = value; save.disabled = !dirty || entry.is_readonly; status.textContent = dirty ? "unsaved changes" : ""; };
  const lock = h("button", { type: "button", "aria-pressed": String(entry.is_readonly), onclick: async () => {
    try {
      entry = await sendJSON("PUT", url, { is_readonly: !entry.is_readonly });
      etag = entry.etag;
      lock.textContent = entry.is_readonly ? "Unlock" : "Lock";
      lock.setAttribute("aria-pressed", String(entry.is_readonly));
      view.dispatch({ effects: readOnly.reconfigure(ro(entry.is_readonly)) });
      drawMeta();
      setDirty(dirty);
    } catch (err) { toast(err.detail || String(err), "error"); }
  } }, entry.is_readonly ? "Unlock" : "Lock");
  toolbar.prepend(save, lock);
  toolbar.append(status);

  const dark = matchMedia("(prefers-color-scheme: dark)").matches;
  const view = new cm.EditorView({
    parent: body,
    state: cm.EditorState.create({
      doc: file.content,
      extensions: [
        cm.basicSetup,
        cm.keymap.of([{ key: "Mod-s", preventDefault: true, run: () => { if (dirty) doSave(false); return true; } }]),
        language(cm, entry.name), dark ? cm.oneDark : [], readOnly.of(ro(entry.is_readonly)),
        cm.EditorView.contentAttributes.of({ "aria-label": `Contents of ${entry.name}` }),
        cm.EditorView.updateListener.of((u) => { if (u.docChanged) setDirty(true); }),
      ],
    }),
  });
  onLeave(() => view.destroy());

  const reload = async () => {
    const fresh = await getJSON(url);
    entry = { ...entry, ...fresh };
    etag = fresh.etag;
    view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: fresh.encoding === "text" ? fresh.content : "" } });
    setDirty(false);
    drawMeta();
    banner.hidden = true;
  };
  const showBanner = (text, ...buttons) => { banner.replaceChildren(h("p", {}, text), h("div", { class: "actions" }, buttons)); banner.hidden = false; };

  async function doSave(force) {
    if (saving) return;
    saving = true;
    try {
      const res = await api("PUT", url, { json: { content: view.state.doc.toString(), encoding: "text" }, headers: force ? {} : { "If-Match": etag } });
      entry = await res.json();
      etag = res.headers.get("ETag") || entry.etag;
      banner.hidden = true;
      setDirty(false);
      drawMeta();
      status.textContent = "saved";
    } catch (err) {
      if (err.status === 412) {
        showBanner("Someone else saved this file after you opened it. Reload their version (your changes are lost) or overwrite it with yours.",
          h("button", { type: "button", onclick: reload }, "Reload theirs"),
          h("button", { type: "button", class: "danger", onclick: () => doSave(true) }, "Overwrite with mine"));
      } else {
        showBanner(`Not saved: ${err.detail || err}`);
      }
    } finally { saving = false; }
  }

  const jump = () => {
    const m = /^#L(\d+)$/.exec(location.hash);
    if (!m) return;
    const line = view.state.doc.line(Math.min(Math.max(1, Number(m[1])), view.state.doc.lines));
    view.dispatch({ selection: { anchor: line.from, head: line.to }, effects: cm.EditorView.scrollIntoView(line.from, { y: "center" }) });
    view.focus();
  };
  jump();
  window.addEventListener("hashchange", jump);
  onLeave(() => window.removeEventListener("hashchange", jump));

  feed.listeners.add(async (change) => {
    if (change.volume !== "files") return;
    if (change.op === "delete" && (change.path === path || path.startsWith(change.path + "/"))) {
      showBanner("This file was deleted by someone else. Save to create it again.");
      return;
    }
    if (change.path !== path && change.to !== path) return;
    try {
      const now = await sendJSON("POST", actionUrl(agent, session, "stat"), { path });
      if (now.etag === etag) return;
      if (!dirty) { await reload(); status.textContent = "updated from the server"; return; }
      showBanner("This file changed on the server while you were editing.",
        h("button", { type: "button", onclick: reload }, "Reload theirs"),
        h("button", { type: "button", class: "danger", onclick: () => doSave(true) }, "Overwrite with mine"));
    } catch { /* gone: the delete event says so */ }
  });
}

// The Files tab: tree, breadcrumbs, listing, dialogs, upload, grep, live refresh.
import { actionUrl, api, fetchBlob, fsUrl, getJSON, sendJSON, upload } from "./api.js";
import { confirmDialog, formDialog, formatBytes, formatTime, h, icon, link, saveBlob, toast } from "./dom.js";
import { navigate, uiPath } from "./app.js";
import { countTree } from "./sessions.js";
import { feed } from "./session.js";
import { renderFile } from "./editor.js";

export const parentOf = (path) => (path.lastIndexOf("/") <= 0 ? "/" : path.slice(0, path.lastIndexOf("/")));
export const join = (dir, name) => (dir === "/" ? `/${name}` : `${dir}/${name}`);
const nameOf = (path) => path.slice(path.lastIndexOf("/") + 1) || "/";

async function listAll(agent, session, dir) {
  const items = [];
  let cursor = null;
  do {
    const page = await getJSON(fsUrl(agent, session, dir) + (cursor ? `?cursor=${encodeURIComponent(cursor)}` : ""));
    items.push(...page.data);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}

function pathCrumbs(agent, session, path) {
  const parts = path.split("/").filter(Boolean);
  const items = [link(uiPath.file(agent, session, "/"), "/")];
  parts.forEach((part, i) => {
    const p = "/" + parts.slice(0, i + 1).join("/");
    items.push(h("span", { class: "sep", "aria-hidden": "true" }, "/"));
    items.push(i === parts.length - 1 ? h("span", { "aria-current": "location" }, part) : link(uiPath.file(agent, session, p), part));
  });
  return h("nav", { class: "path", "aria-label": "Path" }, items);
}

export async function renderFiles(body, agent, session, rest) {
  const path = rest.length ? "/" + rest.join("/") : "/";
  const entry = await sendJSON("POST", actionUrl(agent, session, "stat"), { path });
  const tree = h("aside", { class: "tree", "aria-label": "Folders" });
  const pane = h("div", { class: "pane" });
  body.replaceChildren(h("div", { class: "files" }, tree, pane));
  const ctx = { agent, session, path, entry, tree, pane };
  drawTree(ctx);
  if (entry.is_directory) await drawDirectory(ctx);
  else await renderFile(pane, ctx, pathCrumbs(agent, session, path));
  let treeTimer = null;
  feed.listeners.add(() => {
    clearTimeout(treeTimer);
    treeTimer = setTimeout(() => drawTree(ctx), 300);
  });
}

// -- tree ----------------------------------------------------------------------------------

const expanded = new Set(["/"]);

async function drawTree(ctx) {
  const { agent, session } = ctx;
  const path = ctx.entry.is_directory ? ctx.path : parentOf(ctx.path);
  for (let p = path; ; p = parentOf(p)) { expanded.add(p); if (p === "/") break; }
  const branch = async (dir) => {
    let items;
    try { items = (await listAll(agent, session, dir)).filter((e) => e.is_directory); } catch { return null; }
    const ul = h("ul", {});
    for (const e of items) {
      const open = expanded.has(e.path);
      const toggle = h("button", { type: "button", class: "twisty", "aria-expanded": String(open), "aria-label": `${open ? "Collapse" : "Expand"} ${e.name}`,
        onclick: () => { if (open) expanded.delete(e.path); else expanded.add(e.path); drawTree(ctx); } }, open ? "▾" : "▸");
      const a = link(uiPath.file(agent, session, e.path), e.name);
      if (e.path === path) a.setAttribute("aria-current", "page");
      ul.append(h("li", {}, toggle, a, open ? await branch(e.path) : null));
    }
    return ul;
  };
  const root = link(uiPath.file(agent, session, "/"), "/ (root)");
  if (path === "/") root.setAttribute("aria-current", "page");
  const content = await branch("/");
  ctx.tree.replaceChildren(h("h2", { class: "sr" }, "Folders"), root, content || "");
}

// -- directory -----------------------------------------------------------------------------

async function drawDirectory(ctx) {
  const { agent, session, path, pane } = ctx;
  const rows = h("tbody");
  const uploads = h("ul", { class: "uploads", "aria-label": "Uploads" });
  const results = h("div", { class: "grep-results", "aria-live": "polite" });
  const picker = h("input", { type: "file", multiple: true, id: "upload-input", class: "sr", onchange: (e) => { uploadFiles(ctx, [...e.target.files], uploads); e.target.value = ""; } });

  const refresh = async () => {
    let items;
    try { items = await listAll(agent, session, path); } catch (err) {
      if (err.status === 404) { rows.replaceChildren(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "This folder no longer exists."))); return; }
      throw err;
    }
    items.sort((a, b) => (b.is_directory - a.is_directory) || a.name.localeCompare(b.name));
    rows.replaceChildren(...items.map((e) => row(ctx, e, refresh)));
    if (!items.length) rows.append(h("tr", {}, h("td", { colspan: 4, class: "muted" }, "Empty folder. Create a file or drop files here.")));
  };
  ctx.refresh = refresh;

  const toolbar = h("div", { class: "toolbar" },
    h("button", { type: "button", onclick: () => createDialog(ctx, false) }, "New file"),
    h("button", { type: "button", onclick: () => createDialog(ctx, true) }, "New folder"),
    h("label", { class: "button", for: "upload-input", tabindex: "0", role: "button",
      onkeydown: (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); picker.click(); } } }, "Upload…"), picker);

  const grep = h("form", { class: "inline grep", role: "search", onsubmit: async (e) => {
    e.preventDefault();
    const v = Object.fromEntries(new FormData(e.target).entries());
    if (!v.pattern) return;
    try {
      const body = { pattern: v.pattern, path, max_matches: 200 };
      if (v.path_pattern) body.path_pattern = v.path_pattern;
      const found = await sendJSON("POST", actionUrl(agent, session, "grep"), body);
      drawGrep(ctx, results, found.data, v.pattern);
    } catch (err) {
      results.replaceChildren(h("p", { class: "error", role: "alert" }, err.detail || String(err)));
    }
  } }, h("label", { for: "grep-pattern" }, "Search contents"),
  h("input", { id: "grep-pattern", name: "pattern", type: "search", placeholder: "regex, e.g. fn\\s+main" }),
  h("input", { name: "path_pattern", type: "search", placeholder: "*.rs", "aria-label": "File pattern", class: "narrow" }),
  h("button", { type: "submit" }, "Grep"));

  const table = h("table", { class: "list files-list" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Name"), h("th", { scope: "col", class: "num" }, "Size"),
      h("th", { scope: "col", class: "wide" }, "Modified"), h("th", { scope: "col" }, h("span", { class: "sr" }, "Actions")))), rows);
  const drop = h("div", { class: "dropzone", "aria-label": "Drop files here to upload" }, table);
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    uploadFiles(ctx, [...e.dataTransfer.files], uploads);
  });

  pane.replaceChildren(h("div", { class: "title-row" }, pathCrumbs(agent, session, path)), toolbar, grep, results, uploads, drop);
  await refresh();

  let timer = null;
  feed.listeners.add((change) => {
    const touches = change.op === "resync" || change.op === "changed" || change.volume === undefined ||
      (change.volume === "files" && [change.path, change.to].some((p) => p && (parentOf(p) === path || p === path || path.startsWith(p + "/"))));
    if (!touches) return;
    clearTimeout(timer);
    timer = setTimeout(refresh, 150);
  });
}

function row(ctx, e, refresh) {
  const { agent, session } = ctx;
  const actions = h("td", { class: "actions" },
    e.is_directory ? null : h("button", { type: "button", class: "small", "aria-label": `Download ${e.name}`, onclick: () => download(ctx, e) }, "Download"),
    h("button", { type: "button", class: "small", "aria-label": `Rename or move ${e.name}`, onclick: () => moveDialog(ctx, e, "move") }, "Rename"),
    h("button", { type: "button", class: "small", "aria-label": `Copy ${e.name}`, onclick: () => moveDialog(ctx, e, "copy") }, "Copy"),
    h("button", { type: "button", class: "small", "aria-pressed": String(e.is_readonly), "aria-label": `Read-only ${e.name}`,
      onclick: async () => {
        try { await sendJSON("PUT", fsUrl(agent, session, e.path), { is_readonly: !e.is_readonly }); await refresh(); }
        catch (err) { toast(err.detail || String(err), "error"); }
      } }, e.is_readonly ? "Unlock" : "Lock"),
    h("button", { type: "button", class: "small danger", "aria-label": `Delete ${e.name}`, onclick: () => deleteEntry(ctx, e) }, "Delete"));
  return h("tr", { dataset: { path: e.path } },
    h("td", { class: "name" }, icon(e.is_directory ? "folder" : "file"),
      link(uiPath.file(agent, session, e.path), e.name),
      e.is_readonly ? h("span", { class: "badge ro", title: "read-only" }, "read-only") : null),
    h("td", { class: "num" }, e.is_directory ? "" : formatBytes(e.size_bytes)),
    h("td", { class: "wide" }, h("time", { datetime: e.updated_at }, formatTime(e.updated_at))),
    actions);
}

async function createDialog(ctx, directory) {
  const { agent, session, path } = ctx;
  const created = await formDialog({
    title: directory ? "New folder" : "New file",
    message: `In ${path}. A name may contain "/" to create sub-folders.`,
    fields: [{ name: "name", label: "Name", placeholder: directory ? "docs" : "notes.md" }],
    submitLabel: "Create",
    onSubmit: ({ name }) => sendJSON("POST", fsUrl(agent, session, join(path, name)),
      directory ? { is_directory: true } : { content: "", encoding: "text" }),
  });
  if (!created) return;
  toast(`Created ${created.path}`);
  if (directory) await ctx.refresh();
  else navigate(uiPath.file(agent, session, created.path));
}

async function moveDialog(ctx, e, action) {
  const { agent, session } = ctx;
  const done = await formDialog({
    title: action === "move" ? `Rename or move ${e.name}` : `Copy ${e.name}`,
    fields: [{ name: "to", label: "New path", value: action === "move" ? e.path : `${e.path}.copy` },
      { name: "overwrite", label: "Replace what is there", options: ["no", "yes"], value: "no" }],
    submitLabel: action === "move" ? "Move" : "Copy",
    onSubmit: ({ to, overwrite }) => sendJSON("POST", actionUrl(agent, session, action), { from: e.path, to: to.trim(), overwrite: overwrite === "yes" }),
  });
  if (done) { toast(`${action === "move" ? "Moved" : "Copied"} to ${done.path}`); await ctx.refresh(); }
}

async function deleteEntry(ctx, e) {
  const { agent, session } = ctx;
  let message = `Delete the file ${e.path}?`;
  if (e.is_directory) {
    const inside = await countTree(agent, session, e.path);
    message = inside === "0" ? `Delete the empty folder ${e.path}?`
      : `Delete the folder ${e.path} and the ${inside} ${inside === "1" ? "entry" : "entries"} inside it?`;
  }
  let deleted = 0;
  const ok = await confirmDialog({
    title: "Delete?", message: `${message} This cannot be undone.`,
    onConfirm: async () => {
      const res = await api("DELETE", fsUrl(agent, session, e.path) + (e.is_directory ? "?recursive=true" : ""));
      deleted = (await res.json()).deleted;
      return true;
    },
  });
  if (ok) { toast(`Deleted ${deleted} ${deleted === 1 ? "entry" : "entries"}`); await ctx.refresh(); }
}

export async function download(ctx, e) {
  try { saveBlob(await fetchBlob(fsUrl(ctx.agent, ctx.session, e.path)), e.name); }
  catch (err) { toast(err.detail || String(err), "error"); }
}

async function uploadFiles(ctx, files, list) {
  for (const file of files) {
    const target = join(ctx.path, file.name);
    const bar = h("progress", { max: 1, value: 0, "aria-label": `Uploading ${file.name}` });
    const item = h("li", {}, h("span", {}, `${file.name} (${formatBytes(file.size)})`), bar);
    list.append(item);
    try {
      await upload(fsUrl(ctx.agent, ctx.session, target), file, (p) => { bar.value = p; });
      item.classList.add("done");
      item.append(h("span", { class: "ok" }, " uploaded"));
      setTimeout(() => item.remove(), 4000);
    } catch (err) {
      item.append(h("span", { class: "error", role: "alert" }, ` ${err.detail || err}`));
    }
  }
  await ctx.refresh();
}

function drawGrep(ctx, results, files, pattern) {
  const total = files.reduce((n, f) => n + f.matches.length, 0);
  results.replaceChildren(
    h("h2", {}, `${total} ${total === 1 ? "match" : "matches"} for /${pattern}/`),
    ...files.map((f) => h("div", { class: "grep-file" },
      h("h3", {}, link(uiPath.file(ctx.agent, ctx.session, f.path), f.path)),
      h("ul", {}, f.matches.map((m) => h("li", {},
        link(`${uiPath.file(ctx.agent, ctx.session, f.path)}#L${m.line_number}`,
          h("span", { class: "ln" }, String(m.line_number)), h("code", {}, m.line))))))),
    h("button", { type: "button", class: "quiet small", onclick: () => results.replaceChildren() }, "Clear results"));
}

export { nameOf };

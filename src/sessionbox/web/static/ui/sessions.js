// Agents, and an agent's sessions: filter, search, paging, create, delete.
import { Problem, api, getJSON, sendJSON, sessionUrl, fsUrl } from "./api.js";
import { confirmDialog, formDialog, formatTime, h, link, toast } from "./dom.js";
import { navigate, setCrumbs, uiPath } from "./app.js";

export async function renderAgents(main) {
  setCrumbs([{ label: "agents" }]);
  const body = await getJSON("/v1/agents?limit=1000");
  const open = h("form", { class: "inline", onsubmit: (e) => {
    e.preventDefault();
    const id = new FormData(e.target).get("agent").trim();
    if (id) navigate(uiPath.agent(id));
  } }, h("label", { for: "agent-id" }, "Open agent"),
  h("input", { id: "agent-id", name: "agent", placeholder: "agent id", required: true }),
  h("button", { type: "submit" }, "Open"));
  const list = body.data.length
    ? h("ul", { class: "cards" }, body.data.map((a) => h("li", {}, link(uiPath.agent(a), a))))
    : h("p", { class: "muted" }, "No agents yet. Open one by id to create its first session.");
  main.replaceChildren(h("section", { class: "panel" }, h("h1", {}, "Agents"), open, list));
}

/** Count entries below a directory (bounded), to say what a delete will remove. */
export async function countTree(agent, session, path, limit = 10000) {
  let count = 0;
  const queue = [path];
  while (queue.length && count < limit) {
    const dir = queue.shift();
    let cursor = null;
    do {
      const url = fsUrl(agent, session, dir) + (cursor ? `?cursor=${encodeURIComponent(cursor)}` : "");
      const page = await getJSON(url);
      for (const e of page.data) { count++; if (e.is_directory) queue.push(e.path); }
      cursor = page.next_cursor;
    } while (cursor && count < limit);
  }
  return count >= limit ? `${limit}+` : String(count);
}

export async function renderSessions(main, agent) {
  setCrumbs([{ label: "agents", href: "/" }, { label: agent }]);
  const params = new URLSearchParams(location.search);
  const mode = params.get("mode") || "";
  const type = params.get("type") || "";
  const cursor = params.get("cursor") || "";
  const query = new URLSearchParams({ limit: params.get("limit") || "50" });
  if (mode) query.set("mode", mode);
  if (type) query.set("type", type);
  if (cursor) query.set("cursor", cursor);
  const page = await getJSON(`/v1/agents/${encodeURIComponent(agent)}/sessions?${query}`);

  const filterUrl = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) { if (v) next.set(k, v); else next.delete(k); }
    const qs = next.toString();
    return uiPath.agent(agent) + (qs ? `?${qs}` : "");
  };
  const select = (name, label, options, value) => h("label", {},
    h("span", {}, label),
    h("select", { name, onchange: (e) => navigate(filterUrl({ [name]: e.target.value, cursor: "" })) },
      options.map((o) => h("option", { value: o, selected: o === value }, o || "any"))));

  const rows = h("tbody");
  const table = h("table", { class: "list" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Session"), h("th", { scope: "col" }, "Mode"),
      h("th", { scope: "col", class: "wide" }, "Type"), h("th", { scope: "col", class: "wide" }, "Last active"),
      h("th", { scope: "col" }, h("span", { class: "sr" }, "Actions")))), rows);
  const draw = (filter) => {
    const shown = page.data.filter((s) => !filter || s.id.toLowerCase().includes(filter.toLowerCase()));
    rows.replaceChildren(...shown.map((s) => h("tr", {},
      h("td", {}, link(uiPath.session(agent, s.id), s.id)),
      h("td", {}, h("span", { class: `badge ${s.mode}` }, s.mode)),
      h("td", { class: "wide" }, s.type),
      h("td", { class: "wide" }, formatTime(s.last_active_at)),
      h("td", { class: "actions" }, h("button", { type: "button", class: "danger small", "aria-label": `Delete session ${s.id}`, onclick: () => deleteSession(agent, s.id) }, "Delete")))));
    if (!shown.length) rows.append(h("tr", {}, h("td", { colspan: 5, class: "muted" }, filter ? "No session on this page matches." : "No sessions.")));
  };
  draw("");

  const search = h("form", { class: "inline", role: "search", onsubmit: async (e) => {
    e.preventDefault();
    const id = new FormData(e.target).get("q").trim();
    if (!id) return;
    try {
      const s = await getJSON(`${sessionUrl(agent, id)}`);
      navigate(uiPath.session(agent, s.id));
    } catch (err) {
      toast(err instanceof Problem ? err.detail : String(err), "error");
    }
  } }, h("label", { for: "session-q" }, "Search by id"),
  h("input", { id: "session-q", name: "q", type: "search", placeholder: "filter, Enter to open", oninput: (e) => draw(e.target.value.trim()) }),
  h("button", { type: "submit" }, "Open"));

  const create = h("button", { type: "button", class: "primary", onclick: async () => {
    const created = await formDialog({
      title: "New session",
      fields: [
        { name: "id", label: "Id (empty: a new UUID)", placeholder: "safe_named_my-work" },
        { name: "mode", label: "Mode", options: ["safe", "unsafe"], value: "safe" },
      ],
      submitLabel: "Create",
      onSubmit: async (v) => {
        const body = v.id.trim() ? { id: v.id.trim(), mode: v.mode } : { mode: v.mode };
        return sendJSON("POST", `/v1/agents/${encodeURIComponent(agent)}/sessions`, body);
      },
    });
    if (created) navigate(uiPath.session(agent, created.id));
  } }, "New session");

  const pager = h("nav", { class: "pager", "aria-label": "Pages" },
    cursor ? h("button", { type: "button", onclick: () => history.back() }, "← Previous") : null,
    page.next_cursor ? link(filterUrl({ cursor: page.next_cursor }), "Next →") : null);

  main.replaceChildren(h("section", { class: "panel" },
    h("div", { class: "title-row" }, h("h1", {}, `Sessions of ${agent}`), create),
    h("div", { class: "filters" }, select("mode", "Mode", ["", "safe", "unsafe"], mode),
      select("type", "Type", ["", "auto", "named"], type), search),
    table, pager));
}

async function deleteSession(agent, id) {
  let count = "?";
  try { count = await countTree(agent, id, "/", 5000); } catch { /* still allow deleting */ }
  const ok = await confirmDialog({
    title: "Delete session?",
    message: `Session ${id} will be deleted with everything in it: ${count} files and folders, ` +
      "all its outputs and all its snapshots. This cannot be undone.",
    confirmLabel: "Delete session",
    onConfirm: () => api("DELETE", sessionUrl(agent, id)),
  });
  if (ok) { toast(`Deleted session ${id}`); navigate(location.pathname + location.search, { replace: true }); }
}

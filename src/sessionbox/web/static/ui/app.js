// The shell: a router over bookmarkable /ui/... URLs and the page frame.
import { token } from "./api.js";
import { h, link } from "./dom.js";
import { renderAgents, renderSessions } from "./sessions.js";
import { renderSession } from "./session.js";

const main = document.getElementById("main");
let cleanup = [];

/** Views register teardown (an SSE feed, a timer) to run when the page changes. */
export function onLeave(fn) { cleanup.push(fn); }

export function navigate(href, { replace = false } = {}) {
  if (replace) history.replaceState(null, "", href);
  else history.pushState(null, "", href);
  render();
}

export const uiPath = {
  agent: (a) => `/ui/agents/${encodeURIComponent(a)}`,
  session: (a, s, tab = "files") => `/ui/agents/${encodeURIComponent(a)}/sessions/${encodeURIComponent(s)}/${tab}`,
  file: (a, s, path) => `/ui/agents/${encodeURIComponent(a)}/sessions/${encodeURIComponent(s)}/files${path === "/" ? "" : path.split("/").map(encodeURIComponent).join("/")}`,
};

export function setCrumbs(items) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren(...items.flatMap((item, i) => [
    i ? h("span", { class: "sep", "aria-hidden": "true" }, "/") : null,
    item.href && i < items.length - 1 ? link(item.href, item.label) : h("span", { "aria-current": i === items.length - 1 ? "page" : null }, item.label),
  ]).filter(Boolean));
}

function parse(pathname) {
  const parts = pathname.split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== "ui" || parts[1] !== "agents" || parts.length < 3) return { view: "agents" };
  const agent = parts[2];
  if (parts.length === 3) return { view: "sessions", agent };
  if (parts[3] !== "sessions" || parts.length < 5) return { view: "sessions", agent };
  const session = parts[4];
  const tab = parts[5] || "files";
  return { view: "session", agent, session, tab, rest: parts.slice(6) };
}

async function render() {
  for (const fn of cleanup) { try { fn(); } catch { /* ignore */ } }
  cleanup = [];
  document.getElementById("live").hidden = true;
  const route = parse(location.pathname);
  main.replaceChildren(h("p", { class: "muted" }, "Loading…"));
  try {
    if (route.view === "agents") await renderAgents(main);
    else if (route.view === "sessions") await renderSessions(main, route.agent);
    else await renderSession(main, route);
  } catch (err) {
    main.replaceChildren(h("section", { class: "panel" },
      h("h1", {}, err.status === 404 ? "Not found" : "Something went wrong"),
      h("p", { class: "error", role: "alert" }, err.detail || err.message || String(err)),
      link("/", "Back to agents")));
  }
}

document.addEventListener("click", (e) => {
  const a = e.target.closest("a[data-nav]");
  if (!a || e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const url = new URL(a.href, location.href);
  if (url.origin !== location.origin) return;
  e.preventDefault();
  if (url.pathname === location.pathname && url.hash !== location.hash) {
    history.pushState(null, "", url.pathname + url.search + url.hash);
    window.dispatchEvent(new HashChangeEvent("hashchange"));
    return;
  }
  navigate(url.pathname + url.search + url.hash);
});
window.addEventListener("popstate", render);

const forget = document.getElementById("token-button");
forget.hidden = !token.get();
forget.addEventListener("click", () => { token.clear(); forget.hidden = true; render(); });

render();

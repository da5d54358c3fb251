// A session page: tabs (Files, Outputs, Snapshots, Applets) and the live feed.
import { getJSON, sessionUrl, subscribe } from "./api.js";
import { h, link } from "./dom.js";
import { onLeave, setCrumbs, uiPath } from "./app.js";
import { renderFiles } from "./files.js";
import { renderApplets, renderOutputs, renderSnapshots } from "./panels.js";

const TABS = [["files", "Files"], ["outputs", "Outputs"], ["snapshots", "Snapshots"], ["applets", "Applets"]];

/** Listeners of the session's change feed; the Files view registers one. */
export const feed = { listeners: new Set() };

export async function renderSession(main, route) {
  const { agent, session, tab } = route;
  const record = await getJSON(sessionUrl(agent, session));
  setCrumbs([{ label: "agents", href: "/" }, { label: agent, href: uiPath.agent(agent) }, { label: record.id }]);
  const tabs = h("nav", { class: "tabs", "aria-label": "Session" }, TABS.map(([key, label]) =>
    link(uiPath.session(agent, record.id, key), label)));
  for (const a of tabs.children) if (a.getAttribute("href").endsWith(`/${tab}`)) a.setAttribute("aria-current", "page");
  const body = h("div", { class: "tab-body" });
  main.replaceChildren(h("section", { class: "panel session" },
    h("div", { class: "title-row" }, h("h1", {}, record.id),
      h("span", { class: `badge ${record.mode}` }, record.mode), h("span", { class: "badge" }, record.type)),
    tabs, body));

  const live = document.getElementById("live");
  feed.listeners.clear();
  const stop = subscribe(`${sessionUrl(agent, record.id)}/events`, (name, data) => {
    if (name === "ready") return;
    for (const fn of feed.listeners) fn(data);
  }, (state) => {
    live.hidden = false;
    live.textContent = state === "live" ? "● live" : state === "off" ? "live off" : "reconnecting…";
    live.className = `live ${state}`;
  });
  onLeave(() => { stop(); feed.listeners.clear(); });

  if (tab === "files") await renderFiles(body, agent, record.id, route.rest);
  else if (tab === "outputs") await renderOutputs(body, agent, record.id, route.rest);
  else if (tab === "snapshots") await renderSnapshots(body, agent, record.id);
  else if (tab === "applets") await renderApplets(body, agent, record.id, route.rest);
  else body.append(h("p", { class: "error" }, `Unknown tab ${tab}`));
}

// The one door to the REST API: auth (token kept in sessionStorage only), problem+json errors.
import { askToken } from "./dom.js";

const TOKEN_KEY = "sessionbox.token";

export class Problem extends Error {
  constructor(status, body) {
    super((body && (body.detail || body.title)) || `HTTP ${status}`);
    this.status = status;
    this.code = (body && body.code) || "http_error";
    this.detail = this.message;
    this.body = body;
  }
}

export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY),
  set: (value) => sessionStorage.setItem(TOKEN_KEY, value),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

const enc = encodeURIComponent;
export const encPath = (path) => path.split("/").map(enc).join("/");
export const sessionUrl = (a, s) => `/v1/agents/${enc(a)}/sessions/${enc(s)}`;
export const fsUrl = (a, s, path = "/") => `${sessionUrl(a, s)}/fs${path === "/" ? "" : encPath(path)}`;
export const actionUrl = (a, s, name) => `${sessionUrl(a, s)}/fs/_/${name}`;

async function problemOf(res) {
  let body = null;
  try { body = await res.json(); } catch { /* not JSON */ }
  return new Problem(res.status, body);
}

function authHeaders(headers) {
  const h = new Headers(headers || {});
  const t = token.get();
  if (t) h.set("Authorization", `Bearer ${t}`);
  return h;
}

async function needToken(problem) {
  const value = await askToken(problem.detail);
  if (!value) throw problem;
  token.set(value);
  document.getElementById("token-button").hidden = false;
}

/** fetch with auth; resolves to the Response when ok (or 304), throws Problem otherwise. */
export async function api(method, url, { json, body, headers, signal } = {}) {
  for (;;) {
    const h = authHeaders(headers);
    if (json !== undefined) {
      h.set("Content-Type", "application/json");
      body = JSON.stringify(json);
    }
    const res = await fetch(url, { method, headers: h, body, signal });
    if (res.ok || res.status === 304) return res;
    const problem = await problemOf(res);
    if (res.status === 401) { await needToken(problem); continue; }
    throw problem;
  }
}

export const getJSON = async (url, opts) => (await api("GET", url, opts)).json();
export const sendJSON = async (method, url, json, opts = {}) =>
  (await api(method, url, { ...opts, json })).json();

/** A raw PUT with upload progress (fetch has none); the File streams from disk. */
export function upload(url, file, onProgress) {
  return new Promise((resolve, reject) => {
    const send = () => {
      const xhr = new XMLHttpRequest();
      xhr.open("PUT", url);
      xhr.setRequestHeader("Content-Type", file.type || "application/octet-stream");
      const t = token.get();
      if (t) xhr.setRequestHeader("Authorization", `Bearer ${t}`);
      xhr.upload.onprogress = (e) => e.lengthComputable && onProgress(e.loaded / e.total);
      xhr.onerror = () => reject(new Problem(0, { detail: "the upload failed (network)" }));
      xhr.onload = async () => {
        let body = null;
        try { body = JSON.parse(xhr.responseText); } catch { /* empty */ }
        if (xhr.status >= 200 && xhr.status < 300) { onProgress(1); resolve(body); return; }
        const problem = new Problem(xhr.status, body);
        if (xhr.status === 401) {
          try { await needToken(problem); send(); } catch (e) { reject(e); }
          return;
        }
        reject(problem);
      };
      xhr.send(file);
    };
    send();
  });
}

/** Bytes of a file (optionally a Range) as a Blob. */
export async function fetchBlob(url, range) {
  const headers = range ? { Range: `bytes=${range[0]}-${range[1]}` } : {};
  const res = await api("GET", url + (url.includes("?") ? "&" : "?") + "raw=1", { headers });
  return res.blob();
}

/** Server-sent events read with fetch (EventSource cannot send a token); reconnects. */
export function subscribe(url, onEvent, onState) {
  let stopped = false;
  let ctrl = null;
  let first = true;
  const dispatch = (block) => {
    let name = "message";
    const data = [];
    for (const line of block.split("\n")) {
      if (!line || line.startsWith(":")) continue;
      const at = line.indexOf(":");
      const field = at < 0 ? line : line.slice(0, at);
      const value = at < 0 ? "" : line.slice(at + 1).replace(/^ /, "");
      if (field === "event") name = value;
      else if (field === "data") data.push(value);
    }
    if (!data.length) return;
    try { onEvent(name, JSON.parse(data.join("\n"))); } catch { /* ignore a malformed event */ }
  };
  (async () => {
    let delay = 500;
    while (!stopped) {
      try {
        ctrl = new AbortController();
        const res = await api("GET", url, { signal: ctrl.signal, headers: { Accept: "text/event-stream" } });
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        if (!first) onEvent("change", { op: "resync" });
        first = false;
        onState("live");
        delay = 500;
        let buf = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buf += value;
          const keep = buf.endsWith("\r") ? "\r" : "";
          buf = buf.slice(0, buf.length - keep.length).replace(/\r\n?/g, "\n");
          let cut;
          while ((cut = buf.indexOf("\n\n")) >= 0) {
            dispatch(buf.slice(0, cut));
            buf = buf.slice(cut + 2);
          }
          buf += keep;
        }
      } catch (e) {
        if (stopped) return;
        if (e instanceof Problem && e.status >= 400 && e.status < 500) { onState("off"); return; }
      }
      if (stopped) return;
      onState("reconnecting");
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, 5000);
    }
  })();
  return () => { stopped = true; if (ctrl) ctrl.abort(); };
}

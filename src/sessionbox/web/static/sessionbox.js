// sessionbox.js: autosave a web app's state into a sessionbox session (ES module, no build step).
//
//   import { createAutosaver } from "/static/sessionbox.js";
//   const saver = createAutosaver({ agentId, sessionId, getSnapshot, onRestore });
//   await saver.start();          // restores the latest snapshot, then saves every interval
//   saver.markDirty();            // call on every change; saves happen at most once per interval
//
// The envelope is {version, updatedAt, handleKey, snapshot}. Saves also happen when the page is
// hidden or closed (visibilitychange / pagehide, with fetch keepalive). Errors never throw into
// the app: the state stays in memory, status.error says what failed, the next tick retries.

const KEEPALIVE_LIMIT = 60000; // browsers refuse keepalive bodies over 64 KiB in flight

/**
 * @param {object} options
 * @param {string} [options.baseUrl] server origin, "" for the page's own
 * @param {string} options.agentId
 * @param {string} options.sessionId
 * @param {string} [options.token] bearer token
 * @param {() => object} options.getSnapshot returns the state to save (a plain object)
 * @param {(snapshot: object, envelope: object) => void} [options.onRestore]
 * @param {(status: object) => void} [options.onStatus] called on every status change
 * @param {number} [options.intervalMs] at most one save per interval (default 60 000)
 * @param {number} [options.version] the app's snapshot schema version (default 1)
 * @param {string|null|(() => string|null)} [options.handleKey] a file of the session, e.g. "/data.csv"
 * @param {Object<number, (snapshot: object) => object>} [options.migrations] from version n to n+1
 */
export function createAutosaver(options) {
  const {
    baseUrl = "",
    agentId,
    sessionId,
    token = null,
    getSnapshot,
    onRestore = () => {},
    onStatus = () => {},
    intervalMs = 60000,
    version = 1,
    handleKey = null,
    migrations = {},
  } = options;
  const fetchImpl = options.fetch || (typeof fetch === "function" ? fetch.bind(globalThis) : null);
  const url = `${baseUrl.replace(/\/$/, "")}/v1/agents/${encodeURIComponent(agentId)}/sessions/${encodeURIComponent(sessionId)}/snapshot`;
  const status = { restoring: false, lastSavedAt: null, error: null, supported: fetchImpl !== null };
  let dirty = false;
  let updatedAt = 0;
  let timer = null;
  let inFlight = null;

  function setStatus(changes) {
    Object.assign(status, changes);
    try {
      onStatus({ ...status });
    } catch (err) {
      console.error("sessionbox: onStatus failed", err);
    }
  }

  function headers(json) {
    const h = {};
    if (json) h["Content-Type"] = "application/json";
    if (token) h.Authorization = `Bearer ${token}`;
    return h;
  }

  async function problemOf(response) {
    try {
      const body = await response.json();
      return `${response.status} ${body.code || ""}: ${body.detail || body.title || ""}`.trim();
    } catch {
      return `HTTP ${response.status}`;
    }
  }

  function migrate(envelope) {
    let snapshot = envelope.snapshot;
    let from = envelope.version;
    if (from > version) throw new Error(`snapshot version ${from} is newer than this app (${version})`);
    while (from < version) {
      const step = migrations[from];
      if (typeof step !== "function") throw new Error(`no migration from snapshot version ${from}`);
      snapshot = step(snapshot, envelope);
      from += 1;
    }
    return snapshot;
  }

  /** Load the latest snapshot and hand it to onRestore; null when there is none. */
  async function restore() {
    if (!status.supported) return null;
    setStatus({ restoring: true });
    try {
      const response = await fetchImpl(url, { headers: headers(false), cache: "no-store" });
      if (response.status === 404) {
        setStatus({ restoring: false, error: null });
        return null;
      }
      if (!response.ok) throw new Error(await problemOf(response));
      const envelope = await response.json();
      const snapshot = migrate(envelope);
      updatedAt = Math.max(updatedAt, envelope.updatedAt);
      onRestore(snapshot, envelope);
      setStatus({ restoring: false, error: null });
      return envelope;
    } catch (err) {
      setStatus({ restoring: false, error: String(err && err.message ? err.message : err) });
      return null;
    }
  }

  /** Record a change; the next tick (or page hide) saves it. */
  function markDirty() {
    dirty = true;
    updatedAt = Math.max(Date.now(), updatedAt + 1);
  }

  async function save(keepalive) {
    const stamp = updatedAt || Date.now();
    const key = typeof handleKey === "function" ? handleKey() : handleKey;
    const body = JSON.stringify({ version, updatedAt: stamp, handleKey: key, snapshot: getSnapshot() });
    const response = await fetchImpl(url, {
      method: "PUT",
      headers: headers(true),
      body,
      keepalive: keepalive && body.length < KEEPALIVE_LIMIT,
    });
    if (response.status === 409) {
      // the state changed without markDirty(): give it a new updatedAt and retry next time
      markDirty();
    }
    if (!response.ok) throw new Error(await problemOf(response));
    if (updatedAt === stamp) dirty = false;
    setStatus({ lastSavedAt: Date.now(), error: null });
  }

  /** Save now if there are unsaved changes; resolves true when nothing is left unsaved. */
  async function flush({ keepalive = false } = {}) {
    if (!status.supported) return false;
    if (inFlight) await inFlight.catch(() => {});
    if (!dirty) return true;
    inFlight = save(keepalive);
    try {
      await inFlight;
      return !dirty;
    } catch (err) {
      setStatus({ error: String(err && err.message ? err.message : err) });
      return false;
    } finally {
      inFlight = null;
    }
  }

  function onHide() {
    if (document.visibilityState === "hidden") flush({ keepalive: true });
  }

  function onPageHide() {
    flush({ keepalive: true });
  }

  /** Restore, then save every intervalMs while dirty and whenever the page goes away. */
  async function start() {
    const envelope = await restore();
    if (timer === null && status.supported) {
      timer = setInterval(() => flush(), intervalMs);
      if (typeof document !== "undefined") document.addEventListener("visibilitychange", onHide);
      if (typeof window !== "undefined") window.addEventListener("pagehide", onPageHide);
    }
    return envelope;
  }

  /** Stop the timer and listeners after a last flush. */
  async function stop() {
    if (timer !== null) clearInterval(timer);
    timer = null;
    if (typeof document !== "undefined") document.removeEventListener("visibilitychange", onHide);
    if (typeof window !== "undefined") window.removeEventListener("pagehide", onPageHide);
    return flush();
  }

  return {
    status,
    start,
    stop,
    restore,
    markDirty,
    flush,
    get dirty() {
      return dirty;
    },
  };
}

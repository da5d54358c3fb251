// Small DOM helpers: elements built from data never go through innerHTML.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
  return el;
}

export const link = (href, ...children) => h("a", { href, "data-nav": true }, ...children);

export function formatBytes(n) {
  if (n === null || n === undefined) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

export function formatTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function toast(message, kind = "info") {
  const el = h("div", { class: `toast ${kind}`, role: kind === "error" ? "alert" : "status" }, message);
  document.getElementById("toasts").append(el);
  setTimeout(() => el.remove(), kind === "error" ? 8000 : 4000);
}

/**
 * A modal form. `fields`: [{name, label, value, type, options, placeholder}].
 * `onSubmit(values)` may throw a Problem: its detail is shown inline and the dialog stays.
 */
export function formDialog({ title, fields = [], submitLabel = "OK", danger = false, message, onSubmit }) {
  return new Promise((resolve) => {
    const error = h("p", { class: "error", role: "alert", hidden: true });
    const inputs = fields.map((f, i) => {
      const id = `f-${f.name}-${i}`;
      const input = f.options
        ? h("select", { id, name: f.name }, f.options.map((o) => h("option", { value: o, selected: o === f.value }, o || "any")))
        : h("input", { id, name: f.name, type: f.type || "text", value: f.value ?? "", placeholder: f.placeholder, autocomplete: "off", spellcheck: "false" });
      return h("label", { for: id }, h("span", {}, f.label), input);
    });
    const cancel = h("button", { type: "button", class: "quiet", onclick: () => close(null) }, "Cancel");
    const submit = h("button", { type: "submit", class: danger ? "danger" : "primary" }, submitLabel);
    const form = h("form", { method: "dialog" },
      h("h2", {}, title), message ? h("p", { class: "message" }, message) : null,
      inputs, error, h("div", { class: "actions" }, cancel, submit));
    const dialog = h("dialog", { "aria-label": title }, form);
    const close = (value) => { dialog.close(); dialog.remove(); resolve(value); };
    dialog.addEventListener("cancel", (e) => { e.preventDefault(); close(null); });
    form.addEventListener("submit", async (e) => {
      e.preventDefault();
      const values = Object.fromEntries(new FormData(form).entries());
      submit.disabled = true;
      error.hidden = true;
      try {
        const result = onSubmit ? await onSubmit(values) : values;
        close(result === undefined ? values : result);
      } catch (err) {
        error.textContent = err.detail || err.message || String(err);
        error.hidden = false;
        submit.disabled = false;
      }
    });
    document.body.append(dialog);
    dialog.showModal();
    const first = dialog.querySelector("input, select");
    if (first) { first.focus(); if (first.select) first.select(); } else submit.focus();
  });
}

export async function confirmDialog({ title, message, confirmLabel = "Delete", danger = true, onConfirm }) {
  const result = await formDialog({ title, message, submitLabel: confirmLabel, danger, onSubmit: async () => (onConfirm ? await onConfirm() : true) ?? true });
  return result !== null;
}

export async function askToken(detail) {
  const values = await formDialog({
    title: "This server needs a token",
    message: `${detail || "Sign in with a token."} It is kept only in this tab (sessionStorage).`,
    fields: [{ name: "token", label: "Bearer token", type: "password" }],
    submitLabel: "Use token",
  });
  return values && values.token ? values.token.trim() : null;
}

/** Hex dump of the first bytes of a file. */
export function hexDump(bytes) {
  const lines = [];
  for (let off = 0; off < bytes.length; off += 16) {
    const row = bytes.slice(off, off + 16);
    const hex = Array.from(row, (b) => b.toString(16).padStart(2, "0")).join(" ");
    const ascii = Array.from(row, (b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${off.toString(16).padStart(8, "0")}  ${hex.padEnd(47)}  ${ascii}`);
  }
  return lines.join("\n");
}

export function saveBlob(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = h("a", { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 60_000);
}

const SVG = "http://www.w3.org/2000/svg";
const ICON_PATHS = {
  folder: "M1.5 4.5v8h13v-6.5h-7l-1.5-1.5z",
  file: "M3.5 1.5h6l3 3v10h-9zM9.5 1.5v3h3",
};

/** A small line icon (emoji fonts are not everywhere). */
export function icon(name) {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", "0 0 16 16");
  svg.setAttribute("aria-hidden", "true");
  const path = document.createElementNS(SVG, "path");
  path.setAttribute("d", ICON_PATHS[name]);
  svg.append(path);
  return h("span", { class: "icon" }, svg);
}

// The editor component of the sessionbox web UI: CodeMirror 6 and a few languages,
// bundled once into one ES module (static/vendor/codemirror.js) that is committed.
export { EditorView, basicSetup } from "codemirror";
export { EditorState, Compartment } from "@codemirror/state";
export { keymap } from "@codemirror/view";
export { indentWithTab } from "@codemirror/commands";
export { javascript } from "@codemirror/lang-javascript";
export { python } from "@codemirror/lang-python";
export { rust } from "@codemirror/lang-rust";
export { json } from "@codemirror/lang-json";
export { markdown } from "@codemirror/lang-markdown";
export { html } from "@codemirror/lang-html";
export { css } from "@codemirror/lang-css";
export { sql } from "@codemirror/lang-sql";
export { yaml } from "@codemirror/lang-yaml";
export { oneDark } from "@codemirror/theme-one-dark";

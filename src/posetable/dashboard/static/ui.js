// Small DOM helpers shared by the pages, and the URL <-> page-state mapping.

export function parseHash() {
  const raw = location.hash.replace(/^#/, "") || "/";
  const [path, query] = raw.split("?");
  const params = Object.fromEntries(new URLSearchParams(query || ""));
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  return { parts, params };
}

export function hashFor(parts, params = {}) {
  const path = "/" + parts.map((p) => encodeURIComponent(p)).join("/");
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value !== null && value !== undefined && value !== "") query.set(key, String(value));
  }
  const text = query.toString();
  return "#" + path + (text ? "?" + text : "");
}

// Whether the page may be left: asks the page's guard (unsaved edits), once. Every in-app
// navigation goes through here (go(), links, back/forward in main.js).
export function allowLeaving() {
  const guard = window.posetable && window.posetable.guard;
  if (!guard) return true;
  if (!guard()) return false;
  window.posetable.guard = null; // leaving: do not ask again on the hashchange that follows
  return true;
}

// Navigate; the router re-renders on hashchange.
export function go(parts, params = {}) {
  if (!allowLeaving()) return;
  const hash = hashFor(parts, params);
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent("hashchange"));
  else location.hash = hash;
}

// Change the URL without re-rendering (the page already shows that state).
export function remember(parts, params = {}) {
  history.replaceState(null, "", hashFor(parts, params));
}

export function showMessage(text, { ok = false } = {}) {
  const box = document.getElementById("message");
  if (!text) {
    box.hidden = true;
    box.textContent = "";
    return;
  }
  box.hidden = false;
  box.className = ok ? "message ok" : "message";
  box.textContent = text;
}

// A success message shown after the next navigation (the page re-renders first).
let pendingFlash = null;

export function flash(text) {
  pendingFlash = text;
}

export function takeFlash() {
  const text = pendingFlash;
  pendingFlash = null;
  return text;
}

export function showError(error) {
  showMessage(`${error.type ? error.type + ": " : ""}${error.message}`);
}

export function setBusy(on) {
  document.getElementById("busy").hidden = !on;
}

export function crumbs(items) {
  const nav = document.getElementById("crumbs");
  nav.replaceChildren();
  items.forEach(([text, href], i) => {
    if (i) nav.append(" / ");
    nav.append(href ? el("a", { href, text }) : text);
  });
}

// Replace a node's children (arrays flattened, null and false skipped).
export function mount(node, ...children) {
  node.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "value" || key === "checked" || key === "disabled") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function select(options, value, onchange, attrs = {}) {
  const node = el("select", { ...attrs, onchange: (e) => onchange(e.target.value) });
  for (const option of options) {
    const [v, text] = Array.isArray(option) ? option : [option, option];
    node.append(el("option", { value: v, text }));
  }
  node.value = value;
  return node;
}

export function fmt(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toFixed(digits);
  return String(value);
}

// The keypoint-confidence slider (grid and image view): sets params.thr, then onChange().
export function confidenceSlider(params, { disabled, title = "", onChange }) {
  const value = el("span", { id: "threshold-value", text: params.thr.toFixed(2) });
  const slider = el("input", {
    id: "threshold",
    type: "range",
    min: "0",
    max: "1",
    step: "0.01",
    value: String(params.thr),
    disabled,
    oninput: (e) => {
      params.thr = Number(e.target.value);
      value.textContent = params.thr.toFixed(2);
      onChange();
    },
  });
  return el("label", { title }, "keypoint confidence ≥", slider, value);
}

// The instance-score threshold (grid and image view): sets params.ithr, then onChange().
// Predictions scoring below it are hidden and not accepted (a threshold keeps what is >= it).
export function scoreInput(params, { disabled, onChange }) {
  const input = el("input", {
    id: "instance-threshold",
    type: "number",
    class: "score",
    min: "0",
    step: "0.05",
    value: String(params.ithr),
    disabled,
    onchange: (e) => {
      const value = Number(e.target.value);
      if (e.target.value === "" || !Number.isFinite(value)) {
        e.target.value = String(params.ithr);
        return;
      }
      params.ithr = value;
      onChange();
    },
  });
  return el("label", { title: "predictions scoring below this are hidden and not accepted" }, "instance score ≥", input);
}

// Parse the instance-score threshold of a URL (default 0: every prediction scoring >= 0).
export function scoreParam(value) {
  const number = value === undefined || value === "" ? 0 : Number(value);
  return Number.isFinite(number) ? number : 0;
}

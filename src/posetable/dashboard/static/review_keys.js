// The image view's keyboard map (the review queue) and the `?` sheet that lists it.
// reviewKeys(actions) returns the keydown handler: each key calls one named action of
// `actions` (missing actions are skipped), so the sheet and the handler share one table.
import { el } from "./ui.js";

// [section, keys shown, what it does, action name, matcher]
const KEYS = [
  ["queue", "→ or j", "next image of the sorted / filtered set", "next", (e) => plain(e) && (e.key === "ArrowRight" || e.key === "j")],
  ["queue", "← or k", "previous image", "previous", (e) => plain(e) && (e.key === "ArrowLeft" || e.key === "k")],
  ["queue", "x", "reject: reviewed, labels kept as they are; go to the next image", "reject", (e) => plain(e) && e.key === "x"],
  ["queue", "n", "skip: leave for later (marked skipped); go to the next image", "skip", (e) => plain(e) && e.key === "n"],
  ["queue", "u", "the next image of the set not reviewed yet", "nextUnreviewed", (e) => plain(e) && e.key === "u"],
  ["queue", ", / .", "previous / next frame of the same video", "frame", (e) => plain(e) && (e.key === "," || e.key === ".")],
  ["instance", "Tab / Shift+Tab", "select the next / previous instance", "instance", (e) => !ctrl(e) && !e.altKey && e.key === "Tab"],
  ["instance", "a", "accept the selected instance's prediction (a new revision)", "acceptInstance", (e) => plain(e) && e.key === "a"],
  ["instance", "m", "mirror left/right: swap the left and right names of the selected instance", "swap", (e) => plain(e) && e.key === "m"],
  ["instance", "h", "flip the selected instance horizontally (names follow the flip indices)", "flip", (e) => plain(e) && e.key === "h"],
  ["instance", "Shift+arrows", "move the selected instance (or the box-selected points) by 1 px; Alt: 10 px", "nudge", (e) => e.shiftKey && !ctrl(e) && e.key.startsWith("Arrow")],
  ["instance", "+ / -", "scale the selected instance up / down by 10 %", "scale", (e) => !ctrl(e) && (e.key === "+" || e.key === "=" || e.key === "-")],
  ["instance", "b", "draw a box: the default pose is scaled into it as a new instance", "drawBox", (e) => plain(e) && e.key === "b"],
  ["instance", "Delete", "delete the selected instance", "deleteInstance", (e) => !ctrl(e) && (e.key === "Delete" || e.key === "Backspace")],
  ["instance", "drag in its box", "move the selected instance (Shift+drag pans instead)", null, null],
  ["instance", "Shift+drag a corner", "scale the selected instance with its box (a plain drag edits the box only)", null, null],
  ["point", "] / [", "select the next / previous keypoint of the selected instance", "point", (e) => !ctrl(e) && (e.key === "]" || e.key === "[")],
  ["point", "0 / 1 / 2", "set the visibility of the selected keypoint (or the one under the mouse)", "visibility", (e) => plain(e) && ["0", "1", "2"].includes(e.key)],
  ["point", "p", "snap the selected keypoint to the matched prediction (a new revision)", "snap", (e) => plain(e) && e.key === "p"],
  ["point", "Ctrl+drag", "select the points in a rectangle; drag one of them to move them together", null, null],
  ["edit", "s or Ctrl+S", "save the edits (one new revision)", "save", (e) => (plain(e) && e.key === "s") || (ctrl(e) && e.key === "s")],
  ["edit", "z or Ctrl+Z", "undo the last edit (several steps)", "undo", (e) => (plain(e) && e.key === "z") || (ctrl(e) && !e.shiftKey && (e.key === "z" || e.key === "Z"))],
  ["edit", "y or Ctrl+Shift+Z", "redo", "redo", (e) => (plain(e) && e.key === "y") || (ctrl(e) && e.shiftKey && (e.key === "z" || e.key === "Z"))],
  ["view", "f", "fit the image", "fit", (e) => plain(e) && e.key === "f"],
  ["view", "c", "crop to the selected instance (small objects), and back", "crop", (e) => plain(e) && e.key === "c"],
  ["view", "?", "show or hide this sheet", "sheet", (e) => e.key === "?"],
  ["view", "Esc", "close this sheet; leave box drawing; clear the point selection", "escape", (e) => e.key === "Escape"],
];

function ctrl(e) {
  return e.ctrlKey || e.metaKey;
}

function plain(e) {
  return !ctrl(e) && !e.altKey && !e.shiftKey;
}

// Every key and what it does (tests and the sheet read it).
export const SHORTCUTS = KEYS.map(([section, keys, text]) => ({ section, keys, text }));

export function shortcutSheet() {
  const rows = [];
  let section = null;
  for (const { section: s, keys, text } of SHORTCUTS) {
    if (s !== section) {
      section = s;
      rows.push(el("tr", { class: "section" }, el("th", { colspan: "2", text: s })));
    }
    rows.push(el("tr", { dataset: { keys } }, el("td", {}, el("kbd", { text: keys })), el("td", { text })));
  }
  return el(
    "div",
    { class: "modal-backdrop", id: "shortcuts" },
    el(
      "div",
      { class: "modal" },
      el("h3", { text: "keyboard shortcuts" }),
      el("table", { class: "data shortcuts" }, el("tbody", {}, rows)),
      el("p", { class: "muted", text: "Leaving the image (other row, frame, page, tab) with unsaved edits asks first. One-click fixes and accepting need the edits saved or discarded first." }),
    ),
  );
}

// The keydown handler: the first matching key's action, called with the event. Keys typed
// into inputs and selects are theirs, except Escape.
export function reviewKeys(actions) {
  return (event) => {
    const target = event.target;
    const typing = target instanceof HTMLInputElement || target instanceof HTMLSelectElement || target instanceof HTMLTextAreaElement;
    if (typing && event.key !== "Escape") return;
    for (const [, , , name, matches] of KEYS) {
      if (!name || !matches(event)) continue;
      const action = actions[name];
      if (!action) return;
      if (action(event) !== false) event.preventDefault();
      return;
    }
  };
}

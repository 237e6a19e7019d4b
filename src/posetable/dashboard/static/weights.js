// Sample weights (a table's `weight` column, 3LC's add_weight_column): the image view edits
// the row's weight with its other edits; the grid sets one weight on the selected rows or
// on every row its filter matches (POST /api/tables/NAME/weights, one new revision). The
// server refuses weights that are not finite numbers >= 0 and says why.
import { postJSON, tablePath } from "./api.js";
import { el, fmt } from "./ui.js";

export const WEIGHT = "weight";

export function hasWeights(columns) {
  return columns.some((c) => c.name === WEIGHT && c.source === "table");
}

// The image view's weight field: onChange(number) on a valid entry; an invalid one is
// shown as refused and nothing changes.
export function weightField(value, onChange) {
  const note = el("span", { class: "muted", id: "weight-note", text: value === 0 ? "0: left out of weighted training" : "" });
  const input = el("input", {
    id: "weight",
    type: "number",
    class: "score",
    min: "0",
    step: "0.1",
    value: value === null || value === undefined ? "" : String(value),
    onchange: (e) => {
      const text = e.target.value.trim();
      const number = Number(text);
      if (text === "" || !Number.isFinite(number) || number < 0) {
        note.textContent = `weight must be a finite number >= 0, got ${JSON.stringify(text)}`;
        note.className = "bad-text";
        return;
      }
      note.textContent = number === 0 ? "0: left out of weighted training" : "";
      note.className = "muted";
      onChange(number);
    },
  });
  return el("div", { class: "weight-row" }, el("label", { title: "the row's sample weight (0 excludes it from weighted training)" }, "sample weight", input), note);
}

// The grid's weight tools. options: name, revision, params (run, filter, thresholds),
// selected() -> row list, total (rows the filter matches), onWritten(result).
export function weightTools(options) {
  const input = el("input", { id: "grid-weight", type: "number", class: "score", min: "0", step: "0.1", value: "0" });
  const send = async (body, button) => {
    const weight = Number(input.value);
    if (input.value.trim() === "" || !Number.isFinite(weight)) {
      options.onError(new Error(`weight must be a finite number >= 0, got ${JSON.stringify(input.value)}`));
      return;
    }
    button.disabled = true;
    try {
      const result = await postJSON(`${tablePath(options.name)}/weights`, { base_revision: options.revision, weight, ...body });
      options.onWritten(result);
    } catch (error) {
      options.onError(error);
    } finally {
      button.disabled = false;
    }
  };
  const onSelected = el("button", {
    id: "weight-selected",
    text: "set on selected",
    onclick: (e) => {
      const rows = options.selected();
      if (!rows.length) {
        options.onError(new Error("select rows first (the checkboxes), or set the weight on every filtered row"));
        return;
      }
      send({ rows }, e.target);
    },
  });
  const onFiltered = el("button", {
    id: "weight-filtered",
    text: `set on all ${fmt(options.total)} ${options.params.filter ? "filtered " : ""}rows`,
    title: options.params.filter ? `every row matching: ${options.params.filter}` : "every row of the table",
    onclick: (e) => {
      if (!window.confirm(`Set weight ${input.value} on ${options.total} row(s)${options.params.filter ? ` matching "${options.params.filter}"` : ""}? (one new revision)`)) return;
      send({ filter: options.params.filter || "", run: options.params.run || null, suspect_instance: options.params.sinst === "" ? null : options.params.sinst, suspect_keypoint: options.params.skp === "" ? null : options.params.skp }, e.target);
    },
  });
  return el("span", { class: "weight-tools", id: "weight-tools" }, el("label", { title: "sample weight: 0 excludes rows from weighted training" }, "weight", input), onSelected, onFiltered);
}

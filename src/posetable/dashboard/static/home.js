// Tables and runs: every table with its lineage and counts, the runs made on it with their
// summary metrics, and a comparison of the runs you tick. Fed by GET /api/tables.
import { getJSON } from "./api.js";
import { crumbs, el, fmt, go, hashFor, mount } from "./ui.js";

const METRICS = ["ap", "ap50", "ap75", "ap_medium", "ap_large", "ar"];

function describe(args) {
  const parts = [];
  for (const [key, value] of Object.entries(args || {})) {
    if (key.endsWith("_count")) continue;
    let text = Array.isArray(value) ? value.join(", ") : typeof value === "object" ? JSON.stringify(value) : String(value);
    const count = args[`${key}_count`];
    if (count) text += ` … (${count})`;
    if (text.length > 80) text = text.slice(0, 77) + "…";
    parts.push(`${key}: ${text}`);
  }
  return parts.join("; ");
}

function revisionsTable(table) {
  const rows = table.revisions.map((r) =>
    el(
      "tr",
      { dataset: { revision: r.revision } },
      el("td", {}, el("a", { href: hashFor(["t", table.name], { rev: r.revision }), text: `@${r.revision}` })),
      el("td", { text: r.parent === null ? "–" : `@${r.parent}` }),
      el("td", { text: r.operation }),
      el("td", { class: "muted", text: describe(r.arguments) }),
      el("td", { class: "muted", text: r.timestamp ? r.timestamp.replace("T", " ").slice(0, 19) : "" }),
      el("td", {}, r.parent === null ? "" : el("a", { class: "diff-link", href: hashFor(["t", table.name, "diff"], { from: r.parent, to: r.revision }), text: "diff" })),
    ),
  );
  return el(
    "table",
    { class: "data revisions" },
    el("thead", {}, el("tr", {}, ["revision", "parent", "operation", "arguments", "time", "changes"].map((h) => el("th", { text: h })))),
    el("tbody", {}, rows),
  );
}

function runsTable(table, ticked) {
  if (!table.runs.length) return el("p", { class: "muted", text: "No runs on this table yet." });
  const head = el(
    "tr",
    {},
    el("th", { text: "compare" }),
    el("th", { text: "run" }),
    el("th", { text: "revision" }),
    el("th", { text: "model" }),
    METRICS.map((m) => el("th", { class: "num", text: m })),
    el("th", { text: "created" }),
    el("th", { text: "pages" }),
  );
  const rows = table.runs.map((run) =>
    el(
      "tr",
      { dataset: { run: run.name } },
      el("td", {}, el("input", { type: "checkbox", onchange: (e) => (e.target.checked ? ticked.add(run.name) : ticked.delete(run.name)) })),
      el("td", {}, el("a", { href: hashFor(["t", table.name], { run: run.name }), text: run.name })),
      el("td", { text: `@${run.table_revision}` }),
      el("td", {
        class: "muted",
        title: run.model_info.description || JSON.stringify(run.model_info),
        text: `${run.model_info.model || ""}${run.model_info.kind ? ` (${run.model_info.kind})` : ""}`,
      }),
      METRICS.map((m) => el("td", { class: "num", text: fmt(run.metrics[m]) })),
      el("td", { class: "muted", text: (run.created || "").replace("T", " ").slice(0, 19) }),
      el("td", {}, el("a", { class: "diagnosis-link", href: hashFor(["runs", run.name, "diagnosis"]), text: "diagnosis" }), " · ", el("a", { class: "charts-link", href: hashFor(["runs", run.name, "charts"]), text: "charts" })),
    ),
  );
  return el("table", { class: "data runs" }, el("thead", {}, head), el("tbody", {}, rows));
}

export async function renderHome(app) {
  crumbs([["tables and runs", null]]);
  const data = await getJSON("/api/tables");
  window.posetable.data = data;
  const ticked = new Set();
  const cards = data.tables.map((table) =>
    el(
      "section",
      { class: "card table-card", dataset: { table: table.name } },
      el(
        "h2",
        {},
        el("a", { href: hashFor(["t", table.name]), text: table.name }),
        " ",
        el("span", { class: "pill", text: `@${table.revision}` }),
      ),
      el(
        "p",
        { class: "muted" },
        `${table.rows} images · ${table.instances} instances · K=${table.num_keypoints} · classes: ${table.classes.join(", ")}`,
      ),
      el("h3", { text: `Runs (${table.runs.length})` }),
      runsTable(table, ticked),
      table.runs.length > 1 || data.tables.some((t) => t.runs.length)
        ? el("button", {
            class: "compare",
            text: "Compare ticked runs",
            onclick: () => ticked.size && go(["compare"], { runs: [...ticked].join(",") }),
          })
        : null,
      el("h3", { text: `Revisions (${table.revisions.length}), newest first` }),
      revisionsTable(table),
    ),
  );
  const training = (data.training_runs || []).length
    ? el(
        "section",
        { class: "card", id: "training-runs" },
        el("h2", { text: "Training runs (3LC)" }),
        el("ul", {}, data.training_runs.map((t) =>
          el("li", {}, el("a", { href: hashFor(["training", t.name]), text: t.name }), el("span", { class: "muted", text: ` on ${t.table} · ${Object.entries(t.streams).map(([s, n]) => `${s}: ${n} epochs`).join(", ")}` })),
        )),
      )
    : null;
  mount(
    app,
    el("p", { class: "muted", text: `store ${data.store}` }),
    training,
    cards.length ? cards : el("p", { text: "No tables in this store. Import one with `posetable import coco FILE --name NAME` or start with `posetable serve --sample`." }),
  );
}

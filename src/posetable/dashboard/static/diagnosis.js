// A run's diagnosis (Ronchi & Perona, as pt.diagnose computes it): AP after each fix as
// bars against the AP before, the PR curves after each fix, the error kinds per keypoint as
// stacked bars, and the background false positives and negatives with links to their rows.
// Fed by GET /api/runs/RUN/charts/diagnosis (and .../charts/background for more rows).
import { getJSON, withParams } from "./api.js";
import { chartCard, legend, lineChart, stackedRows, verticalBars } from "./charts.js";
import { crumbs, el, fmt, hashFor, mount, remember, select } from "./ui.js";

export function runPath(run) {
  return `/api/runs/${encodeURIComponent(run)}`;
}

// Where a run's pages are charted: ?table=&rev= (default: the run's own revision).
export function targetParams(params) {
  return { table: params.table || "", revision: params.rev || "" };
}

function fixBars(data) {
  return data.fixes.map((f) => ({
    label: f.fix.replace("background_", "bg "),
    value: f.ap,
    color: f.color,
    text: f.ap === null ? null : `${fmt(f.ap)}`,
    sub: f.delta === null ? "n/a" : `${f.delta >= 0 ? "+" : ""}${fmt(f.delta)}`,
  }));
}

function prChart(data, which) {
  const pr = data.pr;
  const t = pr.oks_thresholds.findIndex((v) => Math.abs(v - Number(which)) < 1e-9);
  const series = Object.entries(pr.curves).map(([name, c]) => {
    const values = c.precision[Math.max(0, t)];
    const known = values.filter((v) => v !== null);
    const ap = known.length ? known.reduce((a, b) => a + b, 0) / known.length : null;
    return {
      name: `${name === "baseline" ? "original" : "fix " + name}: ${fmt(ap)}`,
      key: name,
      color: name === "baseline" ? "#e6e8ee" : c.color,
      width: name === "baseline" ? 2.6 : 1.5,
      dash: name === "baseline" ? null : "5 3",
      points: pr.recall_thresholds.map((r, j) => [r, values[j]]),
    };
  });
  const chart = lineChart(series, { xLabel: "recall", yLabel: "precision", width: 600, height: 360 });
  return { chart, series };
}

function backgroundTable(run, kind, page, params, onMore) {
  const head = kind === "fp" ? ["row", "prediction", "class", "score", "best OKS", ""] : ["row", "ground truth", "class", "best OKS", ""];
  const rows = page.items.map((item) =>
    el(
      "tr",
      { dataset: { row: item.row } },
      el("td", {}, el("a", { href: item.link, class: "row-link", text: `row ${item.row}` })),
      el("td", { class: "num", text: String(item.index) }),
      el("td", { text: item.class }),
      kind === "fp" ? el("td", { class: "num", text: fmt(item.score) }) : null,
      el("td", { class: "num", text: fmt(item.best_oks) }),
      el("td", { class: "muted", text: `sample ${item.sample_id}` }),
    ),
  );
  const shown = page.offset + page.items.length;
  return el(
    "div",
    { class: "background-list", dataset: { kind } },
    el("p", { class: "muted", text: `${page.total} background ${kind === "fp" ? "false positives (predictions matched to no ground truth at any OKS threshold), most confident first" : "false negatives (ground truth matched by no prediction at any threshold)"}${page.total ? ` · showing ${page.offset + 1}–${shown}` : ""}` }),
    page.items.length
      ? el("table", { class: "data background" }, el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))), el("tbody", {}, rows))
      : null,
    el(
      "div",
      { class: "pager" },
      page.offset > 0 ? el("button", { class: "prev", text: "previous", onclick: () => onMore(Math.max(0, page.offset - page.items.length || 100)) }) : null,
      shown < page.total ? el("button", { class: "next", text: "next", onclick: () => onMore(shown) }) : null,
    ),
  );
}

export async function renderDiagnosis(app, run, params) {
  const target = targetParams(params);
  const data = await getJSON(`${runPath(run)}/charts/diagnosis`, target);
  const json = withParams(`${runPath(run)}/charts/diagnosis`, target);
  window.posetable.data = data;
  const charts = (window.posetable.charts = {});
  crumbs([["tables and runs", "#/"], [`${data.table}@${data.revision}`, hashFor(["t", data.table], { run, rev: data.revision })], [`${run} · diagnosis`, null]]);

  const bars = verticalBars(fixBars(data), { baseline: data.ap, baselineText: `before: ${fmt(data.ap)}`, yLabel: "AP .50:.95" });
  charts.fixes = bars.drawn;

  const oks = params.oks || "0.5";
  const prHolder = el("div", { class: "pr-holder" });
  const drawPr = (which) => {
    const { chart, series } = prChart(data, which);
    prHolder.replaceChildren(chart, legend(series));
    charts.pr = chart.drawn;
    remember(["runs", run, "diagnosis"], { ...params, oks: which === "0.5" ? "" : which });
  };
  const oksChoices = data.pr.oks_thresholds.map((v) => [String(v), `OKS ${v.toFixed(2)}`]);
  const oksSelect = select(oksChoices, oks, drawPr, { id: "diagnosis-oks" });

  const b = data.breakdown;
  const stacked = stackedRows(b.keypoint_names, b.kinds, b.counts, b.colors, { sortKind: "good", onDraw: (drawn) => (charts.breakdown = drawn) });

  const lists = {};
  const background = el("div", { class: "background-lists" });
  const drawLists = () => background.replaceChildren(
    el("div", { id: "background-fp" }, el("h3", { text: "background false positives" }), lists.fp),
    el("div", { id: "background-fn" }, el("h3", { text: "background false negatives" }), lists.fn),
  );
  const listFor = (kind, page) => {
    lists[kind] = backgroundTable(run, kind, page, params, async (offset) => {
      const next = await getJSON(`${runPath(run)}/charts/background`, { ...target, kind, offset, limit: 100 });
      listFor(kind, next);
      drawLists();
    });
  };
  listFor("fp", data.background.fp);
  listFor("fn", data.background.fn);
  drawLists();

  const noFlips = data.has_flip_indices
    ? null
    : el("div", { class: "message warn-note", id: "no-flip-note", text: "This table has no flip indices: there is no inversion analysis (a left/right mix-up counts as a swap or a miss, and the inversion fix is n/a). Give the schema flip_indices to have it." });
  mount(
    app,
    el(
      "div",
      { class: "page-head" },
      el("h2", {}, `diagnosis of ${run} `, el("span", { class: "pill", text: data.ref })),
      el(
        "p",
        { class: "muted" },
        `AP .50:.95 ${fmt(data.ap)} · `,
        el("a", { href: hashFor(["runs", run, "charts"], { table: params.table, rev: params.rev }), text: "per-keypoint charts" }),
        " · ",
        el("a", { href: hashFor(["t", data.table], { run, rev: data.revision }), text: "grid with this run" }),
        " · ",
        el("a", { href: json, target: "_blank", text: "diagnosis JSON" }),
      ),
    ),
    noFlips,
    data.notes.filter((n) => !n.startsWith("no flip indices")).map((n) => el("div", { class: "message warn-note", text: n })),
    el(
      "div",
      { class: "chart-grid" },
      chartCard("AP after fixing each error kind alone", { id: "chart-fixes", json, note: "Each bar is the AP .50:.95 once that error kind alone is fixed (coco-analyze's fixes); under it, the gain over the AP before." }, bars),
      chartCard("precision / recall after each fix", { id: "chart-pr", json }, el("div", { class: "chart-controls" }, el("label", {}, "at ", oksSelect)), prHolder),
    ),
    chartCard("error kinds per keypoint", { id: "chart-breakdown", json, note: "Share of matched prediction keypoints that are good, jitter, inversion, swap or miss (Ronchi & Perona)." }, stacked),
    chartCard("background errors", { id: "chart-background", json: withParams(`${runPath(run)}/charts/background`, { ...target, kind: "fp" }) }, background),
  );
  drawPr(oks);
}

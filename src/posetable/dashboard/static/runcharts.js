// A run's dataset-level charts: per-keypoint OKS-AP and mean similarity, PCK by visibility,
// the error kinds per keypoint, a histogram of any numeric column, the PR curves and the
// calibration of keypoint confidences and instance scores. Each chart links its JSON twin:
// /api/runs/RUN/charts/{keypoints,calibration,pr,diagnosis} and
// /api/tables/NAME/charts/histogram?column=...
import { getJSON, tablePath, withParams } from "./api.js";
import { chartCard, histogramChart, keypointBars, legend, lineChart, ramp, stackedRows } from "./charts.js";
import { runPath, targetParams } from "./diagnosis.js";
import { crumbs, el, fmt, hashFor, mount, remember, select } from "./ui.js";

const SPLITS = [
  ["", "all labeled", "#4da3ff"],
  ["_v1", "v=1 (not visible)", "#ffb454"],
  ["_v2", "v=2 (visible)", "#5fd38d"],
];

function splitSeries(per, base) {
  return SPLITS.map(([suffix, name, color]) => ({ name, color, values: per[`${base}${suffix}`] || [] }));
}

function reliability(part, name) {
  const points = part.bins.filter((b) => b.count > 0).map((b) => [b.confidence, b.accuracy]);
  return lineChart(
    [{ name: `${name} (${part.count} ${name === "keypoints" ? "points" : "predictions"})`, color: "#4da3ff", width: 2, points }],
    { width: 360, height: 300, xLabel: "confidence (bin mean)", yLabel: name === "keypoints" ? "similarity (mean)" : "OKS (mean)", diagonal: true, markers: true },
  );
}

export async function renderRunCharts(app, run, params) {
  const target = targetParams(params);
  const charts = (window.posetable.charts = {});
  const [keypoints, calibration, pr, diagnosis] = await Promise.all([
    getJSON(`${runPath(run)}/charts/keypoints`, target),
    getJSON(`${runPath(run)}/charts/calibration`, target),
    getJSON(`${runPath(run)}/charts/pr`, target),
    getJSON(`${runPath(run)}/charts/diagnosis`, { ...target, limit: 1 }),
  ]);
  const name = keypoints.table;
  const revision = keypoints.revision;
  const column = params.hist || "mean_oks";
  const histParams = { column, revision, run, filter: params.filter || "", bins: 30 };
  let histogram = null;
  let histError = null;
  try {
    histogram = await getJSON(`${tablePath(name)}/charts/histogram`, histParams);
  } catch (error) {
    histError = error.message;
  }
  window.posetable.data = { keypoints, calibration, pr, diagnosis, histogram };
  crumbs([["tables and runs", "#/"], [`${name}@${revision}`, hashFor(["t", name], { run, rev: revision })], [`${run} · charts`, null]]);
  const json = (part) => withParams(`${runPath(run)}/charts/${part}`, target);
  const names = keypoints.keypoint_names;
  const per = keypoints.per_keypoint;

  const ap = keypointBars(names, splitSeries(per, "ap"), { onDraw: (d) => (charts.ap = d) });
  const similarity = keypointBars(names, splitSeries(per, "mean_similarity"), { onDraw: (d) => (charts.similarity = d) });
  const pckHolder = el("div");
  const drawPck = (t) => {
    pckHolder.replaceChildren(keypointBars(names, splitSeries(per, `pck_${t}`), { onDraw: (d) => (charts.pck = { ...d, threshold: t }) }));
    remember(["runs", run, "charts"], { ...params, pck: t === String(keypoints.pck_thresholds[1] ?? keypoints.pck_thresholds[0]) ? "" : t });
  };
  const pckChoice = params.pck || String(keypoints.pck_thresholds[1] ?? keypoints.pck_thresholds[0]);
  const pckSelect = select(keypoints.pck_thresholds.map((t) => [String(t), `within ${t} × box side`]), pckChoice, drawPck, { id: "pck-threshold" });

  const b = diagnosis.breakdown;
  const kinds = stackedRows(b.keypoint_names, b.kinds, b.counts, b.colors, { sortKind: "good", onDraw: (d) => (charts.errors = d) });

  const prSeries = pr.oks_thresholds.map((t, i) => ({
    name: `OKS ${t.toFixed(2)}: ${fmt(pr.ap_per_threshold[i])}`,
    color: ramp(i, pr.oks_thresholds.length),
    width: 1.6,
    points: pr.recall_thresholds.map((r, j) => [r, pr.precision[i][j]]),
  }));
  const prChart = lineChart(prSeries, { xLabel: "recall", yLabel: "precision", width: 560, height: 340 });
  charts.pr = prChart.drawn;

  const histHolder = el("div");
  const numeric = histogram ? histogram.numeric_columns : [];
  const columnSelect = select(numeric.length ? numeric : [column], column, (value) => {
    remember(["runs", run, "charts"], { ...params, hist: value });
    params.hist = value;
    loadHistogram(value);
  }, { id: "histogram-column" });
  async function loadHistogram(value) {
    try {
      const h = await getJSON(`${tablePath(name)}/charts/histogram`, { ...histParams, column: value });
      drawHistogram(h);
    } catch (error) {
      histHolder.replaceChildren(el("div", { class: "message", text: error.message }));
    }
  }
  function drawHistogram(h) {
    window.posetable.data.histogram = h;
    const chart = histogramChart({ edges: h.edges, all: h.all, kept: h.filter ? h.kept : null }, { xLabel: h.column, width: 620 });
    charts.histogram = { ...chart.drawn, column: h.column };
    const s = h.stats.all;
    histHolder.replaceChildren(
      chart,
      el("p", { class: "muted", id: "histogram-stats", text: `${s.count} rows with a value · mean ${fmt(s.mean)} · median ${fmt(s.median)} · min ${fmt(s.min)} · max ${fmt(s.max)}${h.missing ? ` · ${h.missing} without` : ""}${h.filter ? ` · the filter keeps ${h.matching} rows` : ""}` }),
      el("a", { class: "json-twin", href: withParams(`${tablePath(name)}/charts/histogram`, { ...histParams, column: h.column }), target: "_blank", text: "JSON" }),
    );
  }
  if (histogram) drawHistogram(histogram);
  else histHolder.replaceChildren(el("div", { class: "message", text: histError }));

  const cal = el(
    "div",
    { class: "chart-row" },
    el("div", {}, el("p", { class: "muted", text: `keypoint confidence vs similarity · ECE ${fmt(calibration.keypoint.ece)}` }), reliability(calibration.keypoint, "keypoints")),
    el("div", {}, el("p", { class: "muted", text: `instance score vs OKS · ECE ${fmt(calibration.instance.ece)}` }), reliability(calibration.instance, "instances")),
  );
  charts.calibration = { keypoint: calibration.keypoint.ece, instance: calibration.instance.ece };

  mount(
    app,
    el(
      "div",
      { class: "page-head" },
      el("h2", {}, `charts of ${run} `, el("span", { class: "pill", text: keypoints.ref })),
      el(
        "p",
        { class: "muted" },
        `K=${names.length} · AP .50:.95 ${fmt(pr.ap)} · `,
        el("a", { href: hashFor(["runs", run, "diagnosis"], { table: params.table, rev: params.rev }), text: "diagnosis" }),
        " · ",
        el("a", { href: hashFor(["t", name], { run, rev: revision }), text: "grid with this run" }),
      ),
    ),
    el(
      "div",
      { class: "chart-grid" },
      chartCard("OKS-AP per keypoint", { id: "chart-keypoint-ap", json: json("keypoints"), note: "Each keypoint's own similarity term evaluated as an OKS (AP .50:.95), for all labeled ground truth and split by visibility." }, ap),
      chartCard("mean similarity per keypoint", { id: "chart-similarity", json: json("keypoints"), note: "exp(-d² / 2s²κ²) of the matched points at OKS .50." }, similarity),
      chartCard("PCK by visibility", { id: "chart-pck", json: json("keypoints") }, el("div", { class: "chart-controls" }, el("label", {}, "points ", pckSelect)), pckHolder),
      chartCard("error kinds per keypoint", { id: "chart-errors", json: json("diagnosis") }, kinds),
      chartCard("precision / recall", { id: "chart-run-pr", json: json("pr") }, prChart, legend(prSeries)),
      chartCard("calibration", { id: "chart-calibration", json: json("calibration"), note: "Bin means of confidence against what it should predict; the diagonal is perfect calibration." }, cal),
      chartCard("histogram", { id: "chart-histogram" }, el("div", { class: "chart-controls" }, el("label", {}, "column ", columnSelect), params.filter ? el("span", { class: "muted", text: `filter: ${params.filter}` }) : null), histHolder),
    ),
  );
  drawPck(pckChoice);
}

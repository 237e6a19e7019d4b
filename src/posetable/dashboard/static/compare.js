// Compare runs side by side: the summary metrics of pt.compare_runs and precision/recall
// curves drawn on canvas (GET /api/compare?runs=a,b). With two runs, also image by image:
// the images sorted by ΔOKS (run B minus run A; GET /api/compare/images?runs=a,b) with
// better / worse filters, and the chosen image with both runs' predictions drawn on it
// (GET /api/compare/images/ROW?runs=a,b). State (show, metric, order, offset, sel) is in the URL.
import { getJSON, withParams } from "./api.js";
import { chartCard, histogramChart, legend } from "./charts.js";
import { drawImage, drawInstances, makeView, toScreen } from "./draw.js";
import { crumbs, el, fmt, go, hashFor, mount, remember, select } from "./ui.js";

const RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const PAIR_COLORS = ["#4da3ff", "#ff6b6b"]; // run A, run B drawn on one image
const METRICS = ["ap", "ap50", "ap75", "ap_medium", "ap_large", "ar", "ar50", "ar75", "ar_medium", "ar_large"];
const PAGE = 40;

function curve(pr, which) {
  const t = pr.oks_thresholds.length;
  if (which === "mean") {
    return pr.recall_thresholds.map((_, r) => {
      const values = pr.precision.map((row) => row[r]).filter((v) => v >= 0);
      return values.length ? values.reduce((a, b) => a + b, 0) / values.length : -1;
    });
  }
  const index = Math.max(0, Math.min(t - 1, pr.oks_thresholds.findIndex((v) => Math.abs(v - Number(which)) < 1e-9)));
  return pr.precision[index];
}

function plot(canvas, data, which) {
  const ratio = window.devicePixelRatio || 1;
  const width = 560;
  const height = 400;
  canvas.width = width * ratio;
  canvas.height = height * ratio;
  canvas.style.width = `${width}px`;
  canvas.style.height = `${height}px`;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  const left = 50, right = 16, top = 16, bottom = 40;
  const w = width - left - right, h = height - top - bottom;
  ctx.fillStyle = "#ffffff";
  ctx.fillRect(0, 0, width, height);
  ctx.strokeStyle = "#dddddd";
  ctx.fillStyle = "#333333";
  ctx.font = "11px system-ui, sans-serif";
  for (let i = 0; i <= 10; i++) {
    const x = left + (w * i) / 10, y = top + h - (h * i) / 10;
    ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, top + h); ctx.stroke();
    ctx.beginPath(); ctx.moveTo(left, y); ctx.lineTo(left + w, y); ctx.stroke();
    ctx.fillText((i / 10).toFixed(1), x - 8, top + h + 14);
    ctx.fillText((i / 10).toFixed(1), left - 28, y + 4);
  }
  ctx.fillText("recall", left + w / 2 - 15, height - 6);
  ctx.save(); ctx.translate(12, top + h / 2 + 20); ctx.rotate(-Math.PI / 2); ctx.fillText("precision", 0, 0); ctx.restore();
  const drawn = {};
  Object.entries(data.pr_curves).forEach(([name, pr], i) => {
    const values = curve(pr, which);
    ctx.strokeStyle = RUN_COLORS[i % RUN_COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false, count = 0;
    pr.recall_thresholds.forEach((r, j) => {
      const p = values[j];
      if (p < 0) { started = false; return; }
      const x = left + w * r, y = top + h - h * p;
      if (started) ctx.lineTo(x, y); else ctx.moveTo(x, y);
      started = true;
      count += 1;
    });
    ctx.stroke();
    drawn[name] = count;
  });
  canvas.dataset.curves = JSON.stringify(drawn);
  return drawn;
}

// One run's predictions in one colour (so two runs read apart on one image): skeleton lines
// (run B dashed), keypoints as filled diamonds (A) or squares (B) with a dark rim; keypoints
// under `threshold` confidence are not drawn. Returns {points, lines, instances}.
export function drawRun(ctx, instances, schema, view, { color, dashed = false, square = false, threshold = 0, radius = 4 } = {}) {
  const stats = { points: 0, lines: 0, instances: 0 };
  if (!instances || !instances.count) return stats;
  const shown = (i, k) => !instances.confidence || instances.confidence[i][k] >= threshold;
  ctx.save();
  ctx.lineCap = "round";
  for (let i = 0; i < instances.count; i++) {
    const points = instances.keypoints[i];
    stats.instances += 1;
    ctx.strokeStyle = color;
    ctx.lineWidth = 2;
    ctx.setLineDash(dashed ? [6, 4] : []);
    for (const [a, b] of schema.lines) {
      if (!shown(i, a) || !shown(i, b)) continue;
      const [xa, ya] = toScreen(view, points[a][0], points[a][1]);
      const [xb, yb] = toScreen(view, points[b][0], points[b][1]);
      ctx.beginPath();
      ctx.moveTo(xa, ya);
      ctx.lineTo(xb, yb);
      ctx.stroke();
      stats.lines += 1;
    }
    ctx.setLineDash([]);
    for (let k = 0; k < points.length; k++) {
      if (!shown(i, k)) continue;
      const [sx, sy] = toScreen(view, points[k][0], points[k][1]);
      ctx.beginPath();
      if (square) {
        ctx.rect(sx - radius, sy - radius, 2 * radius, 2 * radius);
      } else {
        ctx.moveTo(sx, sy - radius * 1.3);
        ctx.lineTo(sx + radius * 1.3, sy);
        ctx.lineTo(sx, sy + radius * 1.3);
        ctx.lineTo(sx - radius * 1.3, sy);
        ctx.closePath();
      }
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 1;
      ctx.strokeStyle = "rgba(0,0,0,0.8)";
      ctx.stroke();
      stats.points += 1;
    }
  }
  ctx.restore();
  return stats;
}

function comparePair(canvas, sample, image, options) {
  const maxWidth = 760, maxHeight = 620;
  const width = sample.width || 640, height = sample.height || 480;
  const scale = Math.min(maxWidth / width, maxHeight / height);
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const ctx = canvas.getContext("2d");
  const view = makeView(scale);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  drawImage(ctx, image, width, height, view);
  const drawn = { gt: null, runs: {} };
  if (options.gt) drawn.gt = drawInstances(ctx, sample.gt, sample.schema, view, { kind: "gt", radius: 3, lineWidth: 1.2, labels: false });
  sample.runs.forEach((run, i) => {
    if (!options.runs[i]) return;
    drawn.runs[run] = drawRun(ctx, sample.predictions[run], sample.schema, view, {
      color: PAIR_COLORS[i],
      dashed: i === 1,
      square: i === 1,
      threshold: options.threshold,
    });
  });
  return drawn;
}

function deltaText(value) {
  return `${value > 0 ? "+" : ""}${fmt(value)}`;
}

async function imageSection(names, params) {
  const show = params.show || "all";
  const metric = params.metric || "mean_oks";
  const offset = Number(params.offset || 0);
  const query = { runs: names.join(","), revision: params.rev, metric, show, order: params.order, offset, limit: PAGE };
  const data = await getJSON("/api/compare/images", query);
  window.posetable.images = data;
  const [a, b] = names;
  const reload = (changes) => go(["compare"], { ...params, ...changes });
  const label = metric === "mean_oks" ? "ΔOKS" : `Δ${metric}`;
  const shows = [
    ["all", `all (${data.counts.better + data.counts.worse + data.counts.same})`],
    ["worse", `B worse (${data.counts.worse})`],
    ["better", `B better (${data.counts.better})`],
    ["same", `same (${data.counts.same})`],
  ];
  const filterButtons = el(
    "div",
    { class: "segmented", id: "compare-show" },
    shows.map(([value, text]) => el("button", { class: value === show ? "on" : "", dataset: { show: value }, text, onclick: () => reload({ show: value === "all" ? "" : value, offset: "", sel: "" }) })),
  );
  const metricSelect = select(data.metrics, metric, (value) => reload({ metric: value === "mean_oks" ? "" : value, offset: "", sel: "" }), { id: "compare-metric" });
  const orderSelect = select([["asc", `${label} ascending`], ["desc", `${label} descending`]], data.order, (value) => reload({ order: value, offset: "" }), { id: "compare-order" });
  const hist = histogramChart({ edges: data.delta_histogram.edges, all: data.delta_histogram.counts }, { xLabel: `${label} (B − A)`, width: 420, height: 180, yLabel: "images" });

  const selected = params.sel !== undefined && params.sel !== "" ? Number(params.sel) : data.images.length ? data.images[0].row : null;
  const stage = el("div", { class: "compare-stage", id: "compare-stage" });
  const list = el(
    "table",
    { class: "data compare-images", id: "compare-images" },
    el("thead", {}, el("tr", {}, ["image", "row", `A ${metric}`, `B ${metric}`, label].map((h) => el("th", { text: h })))),
    el(
      "tbody",
      {},
      data.images.map((item) =>
        el(
          "tr",
          {
            class: item.row === selected ? "selected" : "",
            dataset: { row: item.row },
            onclick: () => {
              remember(["compare"], { ...params, sel: item.row });
              params.sel = String(item.row);
              for (const tr of list.querySelectorAll("tr.selected")) tr.classList.remove("selected");
              list.querySelector(`tr[data-row="${item.row}"]`).classList.add("selected");
              showSample(stage, names, params, item.row);
            },
          },
          el("td", {}, el("img", { class: "thumb", src: `${item.thumbnail_url}&size=96`, alt: "", loading: "lazy" })),
          el("td", { text: String(item.row) }),
          el("td", { class: "num", text: fmt(item.a) }),
          el("td", { class: "num", text: fmt(item.b) }),
          el("td", { class: `num ${item.delta * (data.higher_is_better ? 1 : -1) > 0 ? "good-text" : item.delta === 0 ? "" : "bad-text"}`, text: deltaText(item.delta) }),
        ),
      ),
    ),
  );
  const pager = el(
    "div",
    { class: "pager" },
    el("button", { class: "prev", text: "previous", disabled: offset === 0, onclick: () => reload({ offset: Math.max(0, offset - PAGE) || "", sel: "" }) }),
    el("span", { class: "muted", text: data.total ? `${offset + 1}–${Math.min(offset + PAGE, data.total)} of ${data.total}` : "no images" }),
    el("button", { class: "next", text: "next", disabled: offset + PAGE >= data.total, onclick: () => reload({ offset: offset + PAGE, sel: "" }) }),
  );
  const note = data.counts.not_comparable
    ? el("p", { class: "muted", text: `${data.counts.not_comparable} images have no value of ${metric} in one of the runs (no ground truth) and are left out.` })
    : null;
  const section = chartCard(
    `image by image: ${b} (B) against ${a} (A) on ${data.ref}`,
    { id: "compare-by-image", json: withParams("/api/compare/images", query), note: `${label} is run B's per-image ${metric} minus run A's${metric === "mean_oks" ? " (an image with ground truth where a run matched nobody counts 0)" : ""}; ${data.higher_is_better ? "higher" : "lower"} is better. Mean over the compared images: A ${fmt(data.mean.a)}, B ${fmt(data.mean.b)}.` },
    el("div", { class: "chart-controls" }, filterButtons, el("label", {}, "metric ", metricSelect), el("label", {}, "sort ", orderSelect)),
    el("div", { class: "compare-layout" }, el("div", { class: "compare-list" }, hist, note, list, pager), stage),
  );
  if (selected !== null) await showSample(stage, names, params, selected);
  else stage.replaceChildren(el("p", { class: "muted", text: "No image to show." }));
  return section;
}

async function showSample(stage, names, params, row) {
  const sample = await getJSON(`/api/compare/images/${row}`, { runs: names.join(","), revision: params.rev });
  sample.runs = names;
  window.posetable.sample = sample;
  const options = { gt: params.gt !== "0", runs: [true, true], threshold: Number(params.cthr || 0.3) };
  const canvas = el("canvas", { class: "compare-canvas", id: "compare-canvas" });
  const image = new Image();
  const redraw = () => (window.posetable.compareDrawn = comparePair(canvas, sample, image, options));
  image.onload = redraw;
  image.onerror = redraw;
  image.src = sample.image_url;
  const toggle = (id, text, get, set) => el("label", {}, el("input", { id, type: "checkbox", checked: get(), onchange: (e) => { set(e.target.checked); redraw(); } }), text);
  const metricsRow = (name, i) => {
    const m = sample.metrics[name] || {};
    return el(
      "tr",
      { dataset: { run: name } },
      el("td", {}, el("span", { class: "swatch", style: `background:${PAIR_COLORS[i]}` }), `${i ? "B" : "A"} ${name}`),
      ["mean_oks", "ap", "tp_50", "fp_50", "fn_50"].map((k) => el("td", { class: "num", text: fmt(m[k]) })),
    );
  };
  const slider = el("input", { type: "range", min: "0", max: "1", step: "0.05", value: String(options.threshold), id: "compare-threshold", oninput: (e) => { options.threshold = Number(e.target.value); shownThr.textContent = options.threshold.toFixed(2); redraw(); } });
  const shownThr = el("span", { text: options.threshold.toFixed(2) });
  stage.replaceChildren(
    el(
      "div",
      { class: "chart-controls" },
      toggle("compare-gt", "ground truth", () => options.gt, (v) => (options.gt = v)),
      toggle("compare-a", `A ${names[0]}`, () => options.runs[0], (v) => (options.runs[0] = v)),
      toggle("compare-b", `B ${names[1]}`, () => options.runs[1], (v) => (options.runs[1] = v)),
      el("label", {}, "keypoint confidence ≥", slider, shownThr),
      el("a", { href: sample.link + `&run=${encodeURIComponent(names[0])}`, text: `open row ${row}` }),
    ),
    canvas,
    legend([
      { name: `A ${names[0]}: diamonds, solid skeleton`, color: PAIR_COLORS[0] },
      { name: `B ${names[1]}: squares, dashed skeleton`, color: PAIR_COLORS[1], dash: true },
      { name: "ground truth: keypoint colours (v=2 filled, v=1 hollow)", color: "#e6e8ee" },
    ]),
    el("table", { class: "data compare-metrics" }, el("thead", {}, el("tr", {}, ["run", "mean OKS", "AP", "TP .50", "FP .50", "FN .50"].map((h) => el("th", { text: h })))), el("tbody", {}, names.map(metricsRow))),
  );
  redraw();
}

export async function renderCompare(app, params) {
  const names = (params.runs || "").split(",").filter(Boolean);
  crumbs([["tables and runs", "#/"], [`compare ${names.join(", ")}`, null]]);
  const data = await getJSON("/api/compare", { runs: names.join(",") });
  window.posetable.data = data;
  const table = el(
    "table",
    { class: "data compare" },
    el("thead", {}, el("tr", {}, el("th", { text: "run" }), el("th", { text: "table" }), el("th", { text: "model" }), METRICS.map((m) => el("th", { class: "num", text: m })), el("th", { text: "" }))),
    el("tbody", {}, data.metrics.map((row, i) =>
      el(
        "tr",
        { dataset: { run: row.run } },
        el("td", {}, el("span", { class: "swatch", style: `background:${RUN_COLORS[i % RUN_COLORS.length]}` }), el("a", { href: hashFor(["t", row.table.split("@")[0]], { run: row.run, rev: row.table.split("@")[1] }), text: row.run })),
        el("td", { text: row.table }),
        el("td", { class: "muted", text: row.model }),
        METRICS.map((m) => el("td", { class: "num", text: fmt(row[m]) })),
        el("td", {}, el("a", { class: "diagnosis-link", href: hashFor(["runs", row.run, "diagnosis"]), text: "diagnosis" }), " · ", el("a", { class: "charts-link", href: hashFor(["runs", row.run, "charts"]), text: "charts" })),
      ),
    )),
  );
  const canvas = el("canvas", { class: "plot", id: "pr-plot" });
  const choices = [["0.5", "OKS .50"], ["0.75", "OKS .75"], ["mean", "mean over OKS .50:.95"]];
  const chooser = select(choices, "0.5", (v) => (window.posetable.curves = plot(canvas, data, v)), { id: "oks" });
  let byImage = null;
  if (names.length === 2) {
    byImage = await imageSection(names, params);
  } else if (names.length > 2) {
    byImage = el("p", { class: "muted", text: "Tick exactly two runs to compare them image by image." });
  }
  mount(
    app,
    el("h2", { text: "compare runs" }),
    data.warnings.length ? el("div", { class: "message" }, data.warnings.join("\n")) : null,
    table,
    el("div", { class: "toolbar" }, el("label", {}, "precision / recall at", chooser)),
    canvas,
    byImage,
  );
  window.posetable.curves = plot(canvas, data, "0.5");
}

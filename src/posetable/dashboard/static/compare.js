// Compare runs side by side: the summary metrics of pt.compare_runs and precision/recall
// curves drawn on canvas. Fed by GET /api/compare?runs=a,b.
import { getJSON } from "./api.js";
import { crumbs, el, fmt, hashFor, mount, select } from "./ui.js";

const RUN_COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];
const METRICS = ["ap", "ap50", "ap75", "ap_medium", "ap_large", "ar", "ar50", "ar75", "ar_medium", "ar_large"];

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

export async function renderCompare(app, params) {
  const names = (params.runs || "").split(",").filter(Boolean);
  crumbs([["tables and runs", "#/"], [`compare ${names.join(", ")}`, null]]);
  const data = await getJSON("/api/compare", { runs: names.join(",") });
  window.posetable.data = data;
  const table = el(
    "table",
    { class: "data compare" },
    el("thead", {}, el("tr", {}, el("th", { text: "run" }), el("th", { text: "table" }), el("th", { text: "model" }), METRICS.map((m) => el("th", { class: "num", text: m })))),
    el("tbody", {}, data.metrics.map((row, i) =>
      el(
        "tr",
        { dataset: { run: row.run } },
        el("td", {}, el("span", { class: "swatch", style: `background:${RUN_COLORS[i % RUN_COLORS.length]}` }), el("a", { href: hashFor(["t", row.table.split("@")[0]], { run: row.run, rev: row.table.split("@")[1] }), text: row.run })),
        el("td", { text: row.table }),
        el("td", { class: "muted", text: row.model }),
        METRICS.map((m) => el("td", { class: "num", text: fmt(row[m]) })),
      ),
    )),
  );
  const canvas = el("canvas", { class: "plot", id: "pr-plot" });
  const choices = [["0.5", "OKS .50"], ["0.75", "OKS .75"], ["mean", "mean over OKS .50:.95"]];
  const chooser = select(choices, "0.5", (v) => (window.posetable.curves = plot(canvas, data, v)), { id: "oks" });
  mount(
    app,
    el("h2", { text: "compare runs" }),
    data.warnings.length ? el("div", { class: "message" }, data.warnings.join("\n")) : null,
    table,
    el("div", { class: "toolbar" }, el("label", {}, "precision / recall at", chooser)),
    canvas,
  );
  window.posetable.curves = plot(canvas, data, "0.5");
}

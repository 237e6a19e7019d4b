// A 3LC training run's collected epochs: one chart per metric, a line per stream (val,
// train, ...), epochs along x; summary metrics and the per-epoch means of per-sample
// columns (losses). Fed by GET /api/training/NAME (NAME is project/run, `/` as %2F).
import { getJSON } from "./api.js";
import { crumbs, el, fmt, hashFor, mount } from "./ui.js";

const STREAM_COLORS = ["#4da3ff", "#ff9f43", "#5fd38d", "#c38bff", "#ff6b6b"];

function chart(title, series, id) {
  const canvas = el("canvas", { class: "epoch-chart", width: "300", height: "170", dataset: { metric: id } });
  const ctx = canvas.getContext("2d");
  const pad = { l: 40, r: 10, t: 20, b: 24 };
  const points = series.flatMap((s) => s.points.filter(([, y]) => y !== null && y !== undefined));
  ctx.fillStyle = "#1f2229";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "#e6e8ee";
  ctx.font = "12px system-ui, sans-serif";
  ctx.fillText(title, pad.l, 14);
  if (!points.length) return canvas;
  const xs = points.map((v) => v[0]);
  const ys = points.map((v) => v[1]);
  let [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) x1 = x0 + 1;
  if (y1 === y0) [y0, y1] = [y0 - 0.5, y1 + 0.5];
  const w = canvas.width - pad.l - pad.r;
  const h = canvas.height - pad.t - pad.b;
  const X = (x) => pad.l + ((x - x0) / (x1 - x0)) * w;
  const Y = (y) => pad.t + h - ((y - y0) / (y1 - y0)) * h;
  ctx.strokeStyle = "#333844";
  ctx.strokeRect(pad.l, pad.t, w, h);
  ctx.fillStyle = "#9aa1ae";
  ctx.font = "10px system-ui, sans-serif";
  ctx.fillText(fmt(y1, 3), 2, pad.t + 8);
  ctx.fillText(fmt(y0, 3), 2, pad.t + h);
  ctx.fillText(`epoch ${x0}`, pad.l, canvas.height - 6);
  ctx.fillText(String(x1), pad.l + w - 14, canvas.height - 6);
  series.forEach((s) => {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.lineWidth = 2;
    ctx.beginPath();
    let started = false;
    for (const [x, y] of s.points) {
      if (y === null || y === undefined) continue;
      if (!started) ctx.moveTo(X(x), Y(y));
      else ctx.lineTo(X(x), Y(y));
      started = true;
    }
    ctx.stroke();
    for (const [x, y] of s.points) if (y !== null && y !== undefined) ctx.fillRect(X(x) - 2.5, Y(y) - 2.5, 5, 5);
  });
  return canvas;
}

export async function renderTraining(app, name) {
  const data = await getJSON(`/api/training/${encodeURIComponent(name)}`);
  window.posetable.data = data;
  crumbs([
    ["tables and runs", "#/"],
    [`training ${name}`, null],
  ]);
  const streams = Object.keys(data.streams).sort();
  const color = (s) => STREAM_COLORS[streams.indexOf(s) % STREAM_COLORS.length];
  const seriesOf = (key, field) =>
    streams.map((s) => ({ stream: s, color: color(s), points: data.streams[s].map((e) => [e.epoch, e[field][key] ?? null]) }));
  const legend = el("div", { class: "legend", id: "stream-legend" }, streams.map((s) => el("span", { style: `color:${color(s)}`, text: `■ ${s} (${data.streams[s].length} epochs)` })));
  const summary = el("div", { class: "charts", id: "epoch-charts" }, data.metrics.map((m) => chart(m, seriesOf(m, "metrics"), m)));
  const means = el("div", { class: "charts", id: "sample-charts" }, data.sample_metrics.map((m) => chart(`mean ${m}`, seriesOf(m, "sample_means"), `mean_${m}`)));
  const epochRows = streams.flatMap((s) =>
    data.streams[s].map((e) =>
      el("tr", {}, el("td", { text: s }), el("td", { class: "num", text: String(e.epoch) }),
        el("td", {}, el("a", { href: hashFor(["t", data.table], { run: e.run }), text: e.run })),
        ["ap", "ap50", "ar"].map((m) => el("td", { class: "num", text: fmt(e.metrics[m]) }))),
    ),
  );
  mount(
    app,
    el("h2", { text: `training run ${name}` }),
    el("p", { class: "muted", text: `on table ${data.table}; each collected epoch is a run (open it to sort and filter its per-sample columns)` }),
    legend,
    el("h3", { text: "summary metrics per epoch" }),
    summary,
    el("h3", { text: "per-sample columns: mean per epoch" }),
    means,
    el("h3", { text: "epochs" }),
    el("table", { class: "data", id: "epochs" }, el("thead", {}, el("tr", {}, ["stream", "epoch", "run", "AP", "AP50", "AR"].map((h) => el("th", { text: h })))), el("tbody", {}, epochRows)),
  );
}

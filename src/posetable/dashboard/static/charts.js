// Small SVG charts in the dashboard's theme (no libraries: the CSP allows only our own
// scripts). Colours of axes and text come from style.css (.chart ...); bar and line colours
// from the data. Every chart returns its element with `drawn` (what it drew: bars, lines,
// points, rows) so tests can read it back; the pages put it on window.posetable.charts.
import { el, fmt } from "./ui.js";

const NS = "http://www.w3.org/2000/svg";
export const SERIES_COLORS = ["#4da3ff", "#ffb454", "#5fd38d", "#ff6b6b", "#c792ea", "#7fdbca", "#f78c6c", "#b2ccd6"];

export function svg(tag, attrs = {}, ...children) {
  const node = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    node.setAttribute(key, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function linear([d0, d1], [r0, r1]) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function ticks([d0, d1], count = 5) {
  const step = (d1 - d0) / count || 1;
  return Array.from({ length: count + 1 }, (_, i) => d0 + i * step);
}

function tickText(v) {
  if (!Number.isFinite(v)) return "";
  if (Math.abs(v) >= 1000) return v.toFixed(0);
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) < 10 ? v.toFixed(2) : v.toFixed(1);
}

// A card holding one chart: title, a link to its JSON twin, an optional note, the chart.
export function chartCard(title, { id, json, note = null } = {}, ...body) {
  return el(
    "section",
    { class: "card chart-card", id, dataset: { chart: id || title } },
    el("div", { class: "chart-head" }, el("h3", { text: title }), json ? el("a", { class: "json-twin", href: json, target: "_blank", text: "JSON" }) : null),
    note ? el("p", { class: "muted chart-note", text: note }) : null,
    ...body,
  );
}

export function legend(items) {
  return el(
    "div",
    { class: "chart-legend" },
    items.map((item) =>
      el("span", { class: "chart-legend-item" }, el("span", { class: `chart-key${item.dash ? " dashed" : ""}`, style: `background:${item.color}; border-color:${item.color}` }), item.name),
    ),
  );
}

function axes(g, x, y, { width, height, left, top, xTicks, yTicks, xLabel, yLabel, xFormat = tickText, yFormat = tickText }) {
  const axis = svg("g", { class: "axis" });
  for (const v of yTicks) {
    const py = y(v);
    axis.append(svg("line", { x1: left, x2: left + width, y1: py, y2: py, class: "grid" }));
    axis.append(svg("text", { x: left - 6, y: py + 4, "text-anchor": "end" }, yFormat(v)));
  }
  for (const v of xTicks || []) {
    const px = x(v);
    axis.append(svg("line", { x1: px, x2: px, y1: top, y2: top + height, class: "grid" }));
    axis.append(svg("text", { x: px, y: top + height + 14, "text-anchor": "middle" }, xFormat(v)));
  }
  axis.append(svg("line", { x1: left, x2: left + width, y1: top + height, y2: top + height, class: "base" }));
  axis.append(svg("line", { x1: left, x2: left, y1: top, y2: top + height, class: "base" }));
  if (xLabel) axis.append(svg("text", { x: left + width / 2, y: top + height + 30, "text-anchor": "middle", class: "label" }, xLabel));
  if (yLabel) axis.append(svg("text", { x: 12, y: top + height / 2, transform: `rotate(-90 12 ${top + height / 2})`, "text-anchor": "middle", class: "label" }, yLabel));
  g.append(axis);
}

// Vertical bars with labels under them: bars = [{label, value (null: n/a), color, text}];
// `baseline` draws a dashed reference line (e.g. the AP before any fix).
export function verticalBars(bars, { height = 260, yDomain = [0, 1], yLabel = "", baseline = null, baselineText = "" } = {}) {
  const left = 50, right = baseline === null || baseline === undefined ? 12 : 118, top = 16, bottom = 56;
  const slot = 74;
  const width = Math.max(bars.length * slot, 200);
  const total = left + width + right;
  const inner = height - top - bottom;
  const y = linear(yDomain, [top + inner, top]);
  const root = svg("svg", { class: "chart", width: total, height, viewBox: `0 0 ${total} ${height}`, role: "img" });
  axes(root, null, y, { width, height: inner, left, top, yTicks: ticks(yDomain, 5), yLabel });
  const drawn = { bars: 0, missing: 0, values: [] };
  bars.forEach((bar, i) => {
    const x = left + i * slot + 12;
    const w = slot - 24;
    const g = svg("g", { class: "bar", "data-label": bar.label });
    if (bar.value === null || bar.value === undefined) {
      g.append(svg("text", { x: x + w / 2, y: top + inner - 6, "text-anchor": "middle", class: "na" }, "n/a"));
      drawn.missing += 1;
    } else {
      const v = Math.max(yDomain[0], Math.min(yDomain[1], bar.value));
      g.append(svg("rect", { x, y: y(v), width: w, height: Math.max(0, y(yDomain[0]) - y(v)), fill: bar.color || SERIES_COLORS[0] }, svg("title", {}, `${bar.label}: ${fmt(bar.value)}`)));
      g.append(svg("text", { x: x + w / 2, y: y(v) - 4, "text-anchor": "middle", class: "value" }, bar.text ?? fmt(bar.value)));
      drawn.bars += 1;
    }
    g.append(svg("text", { x: x + w / 2, y: top + inner + 14, "text-anchor": "middle" }, bar.label));
    if (bar.sub) g.append(svg("text", { x: x + w / 2, y: top + inner + 28, "text-anchor": "middle", class: "sub" }, bar.sub));
    drawn.values.push(bar.value ?? null);
    root.append(g);
  });
  if (baseline !== null && baseline !== undefined) {
    const py = y(baseline);
    root.append(svg("line", { x1: left, x2: left + width, y1: py, y2: py, class: "reference" }));
    root.append(svg("text", { x: left + width + 6, y: py + 4, class: "reference-text" }, baselineText || fmt(baseline)));
  }
  root.drawn = drawn;
  return root;
}

// Lines over x: series = [{name, points: [[x, y], ...] (y null: a gap), color, width, dash}].
export function lineChart(series, { width = 560, height = 340, xDomain = [0, 1], yDomain = [0, 1], xLabel = "", yLabel = "", diagonal = false, markers = false } = {}) {
  const left = 50, right = 14, top = 14, bottom = 44;
  const w = width - left - right, h = height - top - bottom;
  const x = linear(xDomain, [left, left + w]);
  const y = linear(yDomain, [top + h, top]);
  const root = svg("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  axes(root, x, y, { width: w, height: h, left, top, xTicks: ticks(xDomain, 5), yTicks: ticks(yDomain, 5), xLabel, yLabel });
  if (diagonal) root.append(svg("line", { x1: x(xDomain[0]), y1: y(yDomain[0]), x2: x(xDomain[1]), y2: y(yDomain[1]), class: "reference" }));
  const drawn = { lines: 0, points: {} };
  for (const s of series) {
    let d = "";
    let pen = false;
    let count = 0;
    for (const [px, py] of s.points) {
      if (py === null || py === undefined || !Number.isFinite(py)) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${x(px).toFixed(1)},${y(py).toFixed(1)}`;
      pen = true;
      count += 1;
    }
    drawn.points[s.name] = count;
    if (!count) continue;
    const path = svg("path", { d, fill: "none", stroke: s.color, "stroke-width": s.width || 1.6, "stroke-dasharray": s.dash || null, "data-series": s.name }, svg("title", {}, s.name));
    root.append(path);
    if (markers) {
      for (const [px, py] of s.points) {
        if (py === null || py === undefined) continue;
        root.append(svg("circle", { cx: x(px), cy: y(py), r: 3.5, fill: s.color }, svg("title", {}, `${s.name}: (${fmt(px)}, ${fmt(py)})`)));
      }
    }
    drawn.lines += 1;
  }
  root.drawn = drawn;
  return root;
}

// A histogram: edges (B+1), all (B) and kept (B, the rows a filter keeps, drawn on top).
export function histogramChart({ edges, all, kept = null }, { width = 560, height = 240, xLabel = "", yLabel = "rows", logScale = false } = {}) {
  const left = 54, right = 14, top = 12, bottom = 44;
  const w = width - left - right, h = height - top - bottom;
  const root = svg("svg", { class: "chart", width, height, viewBox: `0 0 ${width} ${height}`, role: "img" });
  const drawn = { bars: 0, total: 0 };
  if (!edges || edges.length < 2) {
    root.append(svg("text", { x: width / 2, y: height / 2, "text-anchor": "middle", class: "na" }, "no values"));
    root.drawn = drawn;
    return root;
  }
  const xDomain = [edges[0], edges[edges.length - 1]];
  const top_ = Math.max(1, ...all);
  const f = logScale ? (v) => Math.log10(1 + v) : (v) => v;
  const yDomain = [0, f(top_)];
  const x = linear(xDomain, [left, left + w]);
  const y = linear(yDomain, [top + h, top]);
  axes(root, x, y, { width: w, height: h, left, top, xTicks: ticks(xDomain, 6), yTicks: ticks(yDomain, 4), xLabel, yLabel, yFormat: logScale ? (v) => tickText(Math.round(10 ** v - 1)) : tickText });
  all.forEach((count, i) => {
    const x0 = x(edges[i]), x1 = x(edges[i + 1]);
    const g = svg("g", { class: "bin" });
    g.append(svg("rect", { x: x0 + 0.5, y: y(f(count)), width: Math.max(1, x1 - x0 - 1), height: y(0) - y(f(count)), class: "bin-all" }, svg("title", {}, `[${fmt(edges[i])}, ${fmt(edges[i + 1])}): ${count}${kept ? ` (${kept[i]} kept)` : ""}`)));
    if (kept) g.append(svg("rect", { x: x0 + 0.5, y: y(f(kept[i])), width: Math.max(1, x1 - x0 - 1), height: y(0) - y(f(kept[i])), class: "bin-kept" }));
    root.append(g);
    drawn.bars += count > 0 ? 1 : 0;
    drawn.total += count;
  });
  root.drawn = drawn;
  return root;
}

// Which of `names` to show: a search text (substring, any case), a sort and a top-N.
function choose(names, key, { search = "", sort = "order", top = 0 }) {
  const needle = search.trim().toLowerCase();
  let picked = names.map((name, i) => i).filter((i) => !needle || names[i].toLowerCase().includes(needle));
  if (sort !== "order") {
    const sign = sort === "desc" ? -1 : 1;
    picked.sort((a, b) => {
      const va = key(a), vb = key(b);
      if (va === null && vb === null) return a - b;
      if (va === null) return 1;
      if (vb === null) return -1;
      return sign * (va - vb) || a - b;
    });
  }
  const matched = picked.length;
  if (top > 0) picked = picked.slice(0, top);
  return { picked, matched };
}

function rowControls(state, redraw, count, info) {
  const search = el("input", { type: "search", class: "chart-search", placeholder: `search ${count} keypoints`, value: state.search, oninput: (e) => { state.search = e.target.value; redraw(); } });
  const sort = el("select", { class: "chart-sort", onchange: (e) => { state.sort = e.target.value; redraw(); } },
    el("option", { value: "order", text: "schema order" }), el("option", { value: "desc", text: state.sortText[0] }), el("option", { value: "asc", text: state.sortText[1] }));
  sort.value = state.sort;
  const top = el("select", { class: "chart-top", onchange: (e) => { state.top = Number(e.target.value); redraw(); } },
    [0, 10, 20, 50].map((n) => el("option", { value: String(n), text: n ? `first ${n}` : "all" })));
  top.value = String(state.top);
  return el("div", { class: "chart-controls" }, search, el("label", {}, "sort ", sort), el("label", {}, "show ", top), info);
}

// One row per keypoint with grouped horizontal bars (series = [{name, values (K), color}]),
// readable for any K: the rows scroll, and a search box, a sort and a top-N pick them.
export function keypointBars(names, series, { domain = [0, 1], format = (v) => v.toFixed(3), sortBy = 0, sortText = ["highest first", "lowest first"], initial = {}, onDraw = null } = {}) {
  const state = { search: "", sort: "order", top: names.length > 40 ? 20 : 0, sortText, ...initial };
  const holder = el("div", { class: "chart-rows" });
  const info = el("span", { class: "muted chart-count" });
  const box = el("div", { class: "chart-scroll" }, holder);
  const node = el("div", { class: "keypoint-bars" });
  const redraw = () => {
    const { picked, matched } = choose(names, (i) => series[sortBy].values[i], state);
    info.textContent = `${picked.length} of ${matched} shown${matched < names.length ? ` (${names.length} keypoints)` : ""}`;
    const labelWidth = 150, valueWidth = 44;
    const barWidth = Math.max(220, 400 - valueWidth * series.length);
    const band = Math.max(6, Math.min(10, 24 / series.length));
    const rowHeight = band * series.length + 6;
    const total = labelWidth + barWidth + 6 + valueWidth * series.length;
    const height = Math.max(rowHeight * picked.length, 20);
    const root = svg("svg", { class: "chart", width: total, height, viewBox: `0 0 ${total} ${height}` });
    const x = linear(domain, [labelWidth, labelWidth + barWidth]);
    let bars = 0;
    picked.forEach((k, r) => {
      const top = r * rowHeight + 3;
      const g = svg("g", { class: "kp-row", "data-keypoint": names[k] });
      g.append(svg("text", { x: labelWidth - 8, y: top + rowHeight / 2 + 1, "text-anchor": "end", class: "name" }, names[k].length > 22 ? names[k].slice(0, 21) + "…" : names[k], svg("title", {}, names[k])));
      g.append(svg("rect", { x: labelWidth, y: top - 1, width: barWidth, height: rowHeight - 4, class: "track" }));
      series.forEach((s, j) => {
        const v = s.values[k];
        const ty = top + j * band;
        if (v !== null && v !== undefined) {
          const clipped = Math.max(domain[0], Math.min(domain[1], v));
          g.append(svg("rect", { x: labelWidth, y: ty, width: Math.max(0.5, x(clipped) - labelWidth), height: band - 1, fill: s.color }, svg("title", {}, `${names[k]} · ${s.name}: ${format(v)}`)));
          bars += 1;
        }
        g.append(svg("text", { x: labelWidth + barWidth + 8 + j * valueWidth, y: top + rowHeight / 2 + 1, class: "value small", style: `fill:${s.color}` }, v === null || v === undefined ? "–" : format(v)));
      });
      root.append(g);
    });
    holder.replaceChildren(root);
    node.drawn = { rows: picked.length, bars, names: picked.map((k) => names[k]) };
    if (onDraw) onDraw(node.drawn);
  };
  node.append(rowControls(state, redraw, names.length, info), series.length > 1 ? legend(series) : null, box);
  redraw();
  return node;
}

// One row per keypoint of stacked shares (kinds = ["good", ...], counts[kind] = K values),
// with the same search / sort / top-N as keypointBars; sorted by the share of `sortKind`.
export function stackedRows(names, kinds, counts, colors, { sortKind = null, share = true, initial = {}, onDraw = null } = {}) {
  const totals = names.map((_, k) => kinds.reduce((sum, kind) => sum + (counts[kind][k] || 0), 0));
  const errorShare = (k) => (totals[k] ? 1 - (counts[sortKind || kinds[0]][k] || 0) / totals[k] : null);
  const state = { search: "", sort: "order", top: names.length > 40 ? 20 : 0, sortText: ["most errors first", "fewest errors first"], ...initial };
  const holder = el("div", { class: "chart-rows" });
  const info = el("span", { class: "muted chart-count" });
  const node = el("div", { class: "keypoint-bars" });
  const redraw = () => {
    const { picked, matched } = choose(names, errorShare, state);
    info.textContent = `${picked.length} of ${matched} shown${matched < names.length ? ` (${names.length} keypoints)` : ""}`;
    const labelWidth = 150, barWidth = 420, valueWidth = 70;
    const rowHeight = 18;
    const total = labelWidth + barWidth + valueWidth;
    const height = Math.max(rowHeight * picked.length, 20);
    const root = svg("svg", { class: "chart", width: total, height, viewBox: `0 0 ${total} ${height}` });
    let segments = 0;
    picked.forEach((k, r) => {
      const top = r * rowHeight + 2;
      const g = svg("g", { class: "kp-row", "data-keypoint": names[k] });
      g.append(svg("text", { x: labelWidth - 8, y: top + 11, "text-anchor": "end", class: "name" }, names[k].length > 22 ? names[k].slice(0, 21) + "…" : names[k], svg("title", {}, names[k])));
      let at = labelWidth;
      const scaleTo = share ? totals[k] || 1 : Math.max(...totals, 1);
      for (const kind of kinds) {
        const n = counts[kind][k] || 0;
        if (!n) continue;
        const w = (n / scaleTo) * barWidth;
        g.append(svg("rect", { x: at, y: top, width: Math.max(0.5, w), height: rowHeight - 4, fill: colors[kind], "data-kind": kind }, svg("title", {}, `${names[k]} · ${kind}: ${n} of ${totals[k]} (${((100 * n) / (totals[k] || 1)).toFixed(1)}%)`)));
        at += w;
        segments += 1;
      }
      if (!totals[k]) g.append(svg("text", { x: labelWidth + 4, y: top + 11, class: "na small" }, "no matched points"));
      const errors = errorShare(k);
      g.append(svg("text", { x: labelWidth + barWidth + 6, y: top + 11, class: "value small" }, errors === null ? "–" : `${(100 * errors).toFixed(1)}% err`));
      root.append(g);
    });
    holder.replaceChildren(root);
    node.drawn = { rows: picked.length, segments, names: picked.map((k) => names[k]) };
    if (onDraw) onDraw(node.drawn);
  };
  node.append(rowControls(state, redraw, names.length, info), legend(kinds.map((kind) => ({ name: kind, color: colors[kind] }))), el("div", { class: "chart-scroll" }, holder));
  redraw();
  return node;
}

// A colour ramp for many lines (e.g. PR curves at OKS .50 ... .95): dark to light.
export function ramp(i, count) {
  const t = count > 1 ? i / (count - 1) : 0;
  const hue = 210 - 170 * t;
  return `hsl(${hue.toFixed(0)}, 80%, ${(62 - 10 * t).toFixed(0)}%)`;
}

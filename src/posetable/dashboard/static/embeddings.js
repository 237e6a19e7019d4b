// The embeddings scatter of a run: one point per row that has an embedding, coloured by a
// chosen column; pairs of axes, or a rotatable 3-D projection where embedding_2 exists. A
// lasso (drag) selects points; the selection becomes the grid filter `sample_id in (...)`,
// so it lives in the URL like any filter. Fed by GET /api/runs/RUN/embeddings.
import { getJSON } from "./api.js";
import { crumbs, el, fmt, go, hashFor, mount, remember, select, showMessage } from "./ui.js";

const MAX_LASSO = 1000; // the filter language's limit for `in (...)`
const PALETTE = ["#4da3ff", "#ff6b6b", "#5fd38d", "#ffcc66", "#c38bff", "#ff9f43", "#00d2d3", "#f368e0"];

function ramp(t) {
  // dark blue -> cyan -> yellow (viridis-like), t in [0, 1]
  const stops = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
  const x = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  const c = stops[i].map((v, j) => Math.round(v + (stops[i + 1][j] - v) * f));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function inside(polygon, x, y) {
  let hit = false;
  for (let i = 0, j = polygon.length - 1; i < polygon.length; j = i++) {
    const [xi, yi] = polygon[i];
    const [xj, yj] = polygon[j];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) hit = !hit;
  }
  return hit;
}

export async function renderEmbeddings(app, name, rawParams) {
  const p = {
    run: rawParams.run || "",
    rev: rawParams.rev || "",
    color: rawParams.color || "",
    prefix: rawParams.prefix || "",
    axes: rawParams.axes || "0,1",
    yaw: Number(rawParams.yaw || 0.6),
    pitch: Number(rawParams.pitch || 0.4),
  };
  if (!p.run) throw new Error("the embeddings view needs a run: open it from the grid with a run chosen");
  const data = await getJSON(`/api/runs/${encodeURIComponent(p.run)}/embeddings`, {
    table: name,
    revision: p.rev,
    color: p.color,
    prefix: p.prefix,
  });
  crumbs([
    ["tables and runs", "#/"],
    [`${name}@${data.revision}`, hashFor(["t", name], { rev: p.rev, run: p.run })],
    [`embeddings of ${p.run}`, null],
  ]);
  const dims = data.dimensions.length;
  const three = dims >= 3;
  if (p.axes === "3d" && !three) p.axes = "0,1";
  const urlParams = () => ({ run: p.run, rev: p.rev, color: p.color, prefix: p.prefix, axes: p.axes !== "0,1" ? p.axes : "", yaw: p.axes === "3d" ? p.yaw.toFixed(2) : "", pitch: p.axes === "3d" ? p.pitch.toFixed(2) : "" });
  const state = { selected: new Set(), lasso: null, screen: [] };
  window.posetable.data = data;
  window.posetable.embeddings = state;

  const canvas = el("canvas", { id: "scatter", width: "820", height: "600" });
  const info = el("span", { id: "lasso-info", class: "muted", text: "drag to lasso points" });
  const expression = el("input", { id: "lasso-filter", type: "text", class: "filter", readonly: true, placeholder: "the lasso's grid filter" });
  const gridButton = el("button", {
    id: "lasso-grid",
    class: "primary",
    text: "show selection in grid",
    disabled: true,
    onclick: () => go(["t", name], { rev: p.rev, run: p.run, filter: expression.value }),
  });

  // colours: numbers on a ramp, other values by category
  const colours = data.coordinates.map(() => "#9aa1ae");
  const legend = el("div", { class: "legend", id: "scatter-legend" });
  if (data.color) {
    const values = data.color.values;
    if (data.color.numeric) {
      const known = values.filter((v) => v !== null);
      const lo = Math.min(...known);
      const hi = Math.max(...known);
      values.forEach((v, i) => (colours[i] = v === null ? "#555" : ramp(hi > lo ? (v - lo) / (hi - lo) : 0.5)));
      legend.append(el("span", { text: `${data.color.name}: ` }), el("span", { style: `color:${ramp(0)}`, text: `■ ${fmt(lo, 3)}` }), el("span", { style: `color:${ramp(1)}`, text: `■ ${fmt(hi, 3)}` }));
    } else {
      const categories = [...new Set(values.map(String))];
      values.forEach((v, i) => (colours[i] = PALETTE[categories.indexOf(String(v)) % PALETTE.length]));
      legend.append(el("span", { text: `${data.color.name}: ` }), categories.slice(0, 12).map((c, i) => el("span", { style: `color:${PALETTE[i % PALETTE.length]}`, text: `● ${c}` })));
    }
  }

  function project() {
    const coords = data.coordinates;
    let xy;
    if (p.axes === "3d") {
      const [cy, sy, cp, sp] = [Math.cos(p.yaw), Math.sin(p.yaw), Math.cos(p.pitch), Math.sin(p.pitch)];
      xy = coords.map((c) => {
        const x = c[0] * cy - c[2] * sy;
        const z = c[0] * sy + c[2] * cy;
        return [x, c[1] * cp - z * sp];
      });
    } else {
      const [a, b] = p.axes.split(",").map(Number);
      xy = coords.map((c) => [c[a], c[b]]);
    }
    const xs = xy.map((v) => v[0]);
    const ys = xy.map((v) => v[1]);
    const [x0, x1, y0, y1] = [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
    const pad = 30;
    const w = canvas.width - 2 * pad;
    const h = canvas.height - 2 * pad;
    const sx = x1 > x0 ? w / (x1 - x0) : 1;
    const sy2 = y1 > y0 ? h / (y1 - y0) : 1;
    state.screen = xy.map(([x, y]) => [pad + (x - x0) * sx, canvas.height - pad - (y - y0) * sy2]);
  }

  function draw() {
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#1f2229";
    ctx.fillRect(0, 0, canvas.width, canvas.height);
    ctx.strokeStyle = "#333844";
    ctx.strokeRect(30, 30, canvas.width - 60, canvas.height - 60);
    ctx.fillStyle = "#9aa1ae";
    ctx.font = "12px system-ui, sans-serif";
    const axisNames = p.axes === "3d" ? ["projection (drag with shift to rotate)", ""] : p.axes.split(",").map((i) => data.dimensions[Number(i)]);
    ctx.fillText(axisNames[0], canvas.width / 2 - 40, canvas.height - 10);
    if (axisNames[1]) {
      ctx.save();
      ctx.translate(14, canvas.height / 2 + 30);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(axisNames[1], 0, 0);
      ctx.restore();
    }
    const radius = data.count > 2000 ? 2 : 5;
    state.screen.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(x, y, radius, 0, Math.PI * 2);
      ctx.fillStyle = colours[i];
      ctx.fill();
      if (state.selected.has(i)) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#ffffff";
        ctx.stroke();
      }
    });
    if (state.lasso && state.lasso.length > 1) {
      ctx.beginPath();
      ctx.moveTo(...state.lasso[0]);
      for (const point of state.lasso) ctx.lineTo(...point);
      ctx.closePath();
      ctx.strokeStyle = "#ffcc66";
      ctx.setLineDash([5, 4]);
      ctx.lineWidth = 1.5;
      ctx.stroke();
      ctx.setLineDash([]);
    }
    canvas.dataset.points = String(state.screen.length);
    canvas.dataset.selected = String(state.selected.size);
  }

  function finishLasso() {
    const polygon = state.lasso || [];
    state.selected = new Set();
    if (polygon.length > 2) state.screen.forEach(([x, y], i) => inside(polygon, x, y) && state.selected.add(i));
    const ids = [...state.selected].map((i) => data.sample_ids[i]).sort((a, b) => a - b);
    if (!ids.length) {
      expression.value = "";
      info.textContent = "no points in the lasso";
      gridButton.disabled = true;
    } else if (ids.length > MAX_LASSO) {
      expression.value = "";
      info.textContent = `${ids.length} points: a lasso filter holds at most ${MAX_LASSO}; lasso fewer`;
      gridButton.disabled = true;
    } else {
      expression.value = `${data.sample_id_field} in (${ids.join(", ")})`;
      info.textContent = `${ids.length} of ${data.count} points selected`;
      gridButton.disabled = false;
    }
    draw();
  }

  const position = (event) => {
    const rect = canvas.getBoundingClientRect();
    return [((event.clientX - rect.left) * canvas.width) / rect.width, ((event.clientY - rect.top) * canvas.height) / rect.height];
  };
  let rotating = null;
  canvas.addEventListener("mousedown", (event) => {
    if (p.axes === "3d" && event.shiftKey) {
      rotating = { start: position(event), yaw: p.yaw, pitch: p.pitch };
      return;
    }
    state.lasso = [position(event)];
  });
  canvas.addEventListener("mousemove", (event) => {
    if (rotating) {
      const [x, y] = position(event);
      p.yaw = rotating.yaw + (x - rotating.start[0]) * 0.01;
      p.pitch = rotating.pitch + (y - rotating.start[1]) * 0.01;
      project();
      draw();
      return;
    }
    if (state.lasso) {
      state.lasso.push(position(event));
      draw();
    }
  });
  const onUp = () => {
    if (rotating) {
      rotating = null;
      remember(["t", name, "embeddings"], urlParams());
      return;
    }
    if (state.lasso) {
      finishLasso();
      state.lasso = null;
      draw();
    }
  };
  window.addEventListener("mouseup", onUp);
  window.posetable.cleanup = () => window.removeEventListener("mouseup", onUp);

  const axisOptions = [];
  for (let a = 0; a < dims; a++) for (let b = a + 1; b < dims; b++) axisOptions.push([`${a},${b}`, `${data.dimensions[a]} × ${data.dimensions[b]}`]);
  if (three) axisOptions.push(["3d", "3-D (shift-drag rotates)"]);
  const reload = (changes) => go(["t", name, "embeddings"], { ...urlParams(), ...changes });
  const toolbar = el(
    "div",
    { class: "toolbar" },
    el("label", {}, "embedding", select(Object.keys(data.groups).map((g) => [g, `${g} (${data.groups[g]}-D)`]), data.prefix, (v) => reload({ prefix: v, axes: "" }), { id: "prefix" })),
    el("label", {}, "axes", select(axisOptions, p.axes, (v) => {
      p.axes = v;
      remember(["t", name, "embeddings"], urlParams());
      state.selected = new Set();
      project();
      draw();
    }, { id: "axes" })),
    el("label", {}, "colour by", select([["", "nothing"], ...data.color_options.map((c) => [c, c])], p.color, (v) => reload({ color: v }), { id: "color" })),
    el("a", { href: hashFor(["t", name], { rev: p.rev, run: p.run }), text: "back to the grid" }),
  );
  mount(
    app,
    toolbar,
    el("div", { class: "toolbar" }, info, expression, gridButton),
    el("div", { class: "card" }, canvas, legend),
    el("p", { class: "muted", text: `${data.count} points · ${data.dimensions.join(", ")} of run ${data.run} on ${data.table}@${data.revision}` }),
  );
  showMessage("");
  project();
  draw();
  state.redraw = draw;
  state.toCanvas = (i) => state.screen[i];
  state.canvasToClient = (x, y) => {
    const rect = canvas.getBoundingClientRect();
    return [rect.left + (x * rect.width) / canvas.width, rect.top + (y * rect.height) / canvas.height];
  };

}

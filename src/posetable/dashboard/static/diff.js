// A revision diff: #/t/NAME/diff?from=R1&to=R2. The rows added, deleted and edited between
// two revisions (by sample id), what changed in each (points moved, visibilities, boxes,
// labels, fields), the revisions in between with their operation, arguments and note, and
// the chosen row before and after drawn side by side with the changed points ringed.
// Fed by GET /api/tables/NAME/diff?from=&to= and GET /api/tables/NAME/diff/SAMPLE_ID.
import { getJSON, tablePath, withParams } from "./api.js";
import { chartCard } from "./charts.js";
import { drawImage, drawInstances, makeView, toScreen } from "./draw.js";
import { crumbs, el, fmt, go, hashFor, mount, remember, select } from "./ui.js";

const PAGE = 50;

function describeArguments(args) {
  return Object.entries(args || {})
    .filter(([key]) => !key.endsWith("_count") && key !== "note")
    .map(([key, value]) => {
      let text = Array.isArray(value) ? value.join(", ") : typeof value === "object" && value !== null ? JSON.stringify(value) : String(value);
      if (args[`${key}_count`]) text += ` … (${args[`${key}_count`]})`;
      return `${key}: ${text.length > 90 ? text.slice(0, 87) + "…" : text}`;
    })
    .join("; ");
}

function historyTable(entries) {
  return el(
    "table",
    { class: "data diff-history", id: "diff-history" },
    el("thead", {}, el("tr", {}, ["revision", "parent", "operation", "note", "arguments", "time"].map((h) => el("th", { text: h })))),
    el(
      "tbody",
      {},
      entries.map((r) =>
        el(
          "tr",
          { dataset: { revision: r.revision } },
          el("td", { text: `@${r.revision}` }),
          el("td", { text: r.parent === null ? "–" : `@${r.parent}` }),
          el("td", { text: r.operation }),
          el("td", { class: "note", text: (r.arguments || {}).note || "" }),
          el("td", { class: "muted", text: describeArguments(r.arguments) }),
          el("td", { class: "muted", text: r.timestamp ? r.timestamp.replace("T", " ").slice(0, 19) : "" }),
        ),
      ),
    ),
  );
}

// What changed in one row, in words: "inst 0: 3 points moved (max 5.2 px); v left_wrist 2→1".
export function summarize(change, names) {
  const parts = [];
  if (change.kind === "added") parts.push("row added");
  if (change.kind === "deleted") parts.push("row deleted");
  const inst = change.instances;
  if (inst) {
    if (change.kind === "edited" && inst.instances_before !== inst.instances_after) parts.push(`instances ${inst.instances_before} → ${inst.instances_after}`);
    if (change.kind === "edited" && inst.added.length) parts.push(`added instance ${inst.added.join(", ")}`);
    if (change.kind === "edited" && inst.removed.length) parts.push(`removed instance ${inst.removed.join(", ")}`);
    for (const c of inst.changed) {
      const bits = [];
      if (c.moved.length) bits.push(`${c.moved.length} point${c.moved.length > 1 ? "s" : ""} moved (max ${c.max_shift.toFixed(1)} px)`);
      for (const [k, v0, v1] of c.visibility.slice(0, 4)) bits.push(`v ${names[k] ?? k} ${v0}→${v1}`);
      if (c.visibility.length > 4) bits.push(`${c.visibility.length - 4} more visibility changes`);
      if (c.box) bits.push("box");
      if (c.label) bits.push(`class ${c.label[0]}→${c.label[1]}`);
      if (c.extras.length) bits.push(c.extras.join(", "));
      parts.push(`inst ${c.before}${c.after !== c.before ? `→${c.after}` : ""}: ${bits.join("; ")}`);
    }
  }
  for (const [field, [before, after]] of Object.entries(change.values || {})) {
    parts.push(`${field}: ${fmt(before)} → ${fmt(after)}`);
  }
  const others = (change.fields || []).filter((f) => f !== "keypoints" && !(f in (change.values || {})));
  if (others.length) parts.push(`changed ${others.join(", ")}`);
  return parts.join(" · ") || "changed";
}

// Rings around the points that changed (moved or visibility) on one side of the pair.
function ringChanged(ctx, instances, changes, side, view, color) {
  let rings = 0;
  if (!instances) return rings;
  for (const c of changes.changed) {
    const i = side === "from" ? c.before : c.after;
    const ks = new Set([...c.moved, ...c.visibility.map((v) => v[0])]);
    for (const k of ks) {
      const [x, y] = toScreen(view, instances.keypoints[i][k][0], instances.keypoints[i][k][1]);
      ctx.beginPath();
      ctx.lineWidth = 2;
      ctx.strokeStyle = color;
      ctx.arc(x, y, 9, 0, Math.PI * 2);
      ctx.stroke();
      rings += 1;
    }
  }
  const whole = side === "from" ? changes.removed : changes.added;
  for (const i of whole) {
    const box = instances.boxes[i];
    const [x1, y1] = toScreen(view, box[0], box[1]);
    const [x2, y2] = toScreen(view, box[2], box[3]);
    ctx.lineWidth = 3;
    ctx.strokeStyle = color;
    ctx.setLineDash([8, 4]);
    ctx.strokeRect(x1 - 3, y1 - 3, x2 - x1 + 6, y2 - y1 + 6);
    ctx.setLineDash([]);
    rings += 1;
  }
  return rings;
}

function sideCanvas(side, data, which) {
  const box = el("div", { class: "diff-side", dataset: { side: which } });
  if (!side) {
    box.append(el("h3", { text: which === "from" ? `@${data.from}: not in this revision` : `@${data.to}: deleted` }));
    return { box, drawn: null };
  }
  const canvas = el("canvas", { id: `diff-canvas-${which}` });
  const width = side.width || 640, height = side.height || 480;
  const scale = Math.min(400 / width, 420 / height);
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  const view = makeView(scale);
  const state = { drawn: null };
  const image = new Image();
  const draw = () => {
    const ctx = canvas.getContext("2d");
    drawImage(ctx, image, width, height, view);
    const stats = drawInstances(ctx, side.instances, side.schema, view, { kind: "gt", radius: 3.5 });
    stats.rings = ringChanged(ctx, side.instances, data.changes, which, view, which === "from" ? "#ff6b6b" : "#5fd38d");
    state.drawn = stats;
    const shown = window.posetable.diffDrawn || {};
    shown[which] = { filled: stats.filled, hollow: stats.hollow, lines: stats.lines, boxes: stats.boxes, rings: stats.rings };
    window.posetable.diffDrawn = shown;
  };
  image.onload = draw;
  image.onerror = draw;
  image.src = side.image_url;
  draw();
  box.append(el("h3", { text: `@${side.revision} · row ${side.row}` }), canvas);
  return { box, drawn: state };
}

async function showSample(stage, name, data, sampleId) {
  const detail = await getJSON(`${tablePath(name)}/diff/${sampleId}`, { from: data.from, to: data.to });
  window.posetable.diffSample = detail;
  window.posetable.diffDrawn = {};
  const names = (detail.sides.to || detail.sides.from).schema.keypoint_names;
  const before = sideCanvas(detail.sides.from, detail, "from");
  const after = sideCanvas(detail.sides.to, detail, "to");
  const changed = detail.changes.changed;
  const rows = [];
  for (const c of changed) {
    const ks = [...new Set([...c.moved, ...c.visibility.map((v) => v[0])])].sort((a, b) => a - b);
    const from = detail.sides.from.instances, to = detail.sides.to.instances;
    for (const k of ks) {
      const v = c.visibility.find((entry) => entry[0] === k);
      const p0 = from.keypoints[c.before][k], p1 = to.keypoints[c.after][k];
      rows.push(
        el(
          "tr",
          { dataset: { instance: c.after, keypoint: k } },
          el("td", { text: `${c.before}${c.after !== c.before ? `→${c.after}` : ""}` }),
          el("td", { text: names[k] ?? String(k) }),
          el("td", { class: "num", text: `${p0[0].toFixed(1)}, ${p0[1].toFixed(1)}` }),
          el("td", { class: "num", text: `${p1[0].toFixed(1)}, ${p1[1].toFixed(1)}` }),
          el("td", { class: "num", text: Math.hypot(p1[0] - p0[0], p1[1] - p0[1]).toFixed(1) }),
          el("td", { text: v ? `${v[1]} → ${v[2]}` : "" }),
        ),
      );
    }
  }
  stage.replaceChildren(
    el("h3", { text: `sample ${detail.sample_id}: ${detail.kind}` }),
    el("p", { class: "muted", id: "diff-summary", text: summarize({ kind: detail.kind, instances: detail.changes, fields: detail.fields, values: {} }, names) }),
    el("div", { class: "diff-pair" }, before.box, after.box),
    el("p", { class: "muted", text: "Red rings: points as they were (removed instances boxed); green rings: where they are now (added instances boxed)." }),
    rows.length
      ? el("table", { class: "data diff-points", id: "diff-points" }, el("thead", {}, el("tr", {}, ["instance", "keypoint", "before (x, y)", "after (x, y)", "moved px", "visibility"].map((h) => el("th", { text: h })))), el("tbody", {}, rows))
      : null,
    el("a", { class: "json-twin", href: withParams(`${tablePath(name)}/diff/${sampleId}`, { from: data.from, to: data.to }), target: "_blank", text: "JSON" }),
  );
}

export async function renderDiff(app, name, params) {
  const query = { from: params.from, to: params.to, kind: params.kind, offset: params.offset, limit: PAGE };
  const [data, detail] = await Promise.all([getJSON(`${tablePath(name)}/diff`, query), getJSON(tablePath(name))]);
  window.posetable.data = data;
  crumbs([["tables and runs", "#/"], [`${name}@${data.to}`, hashFor(["t", name], { rev: data.to })], [`diff @${data.from} → @${data.to}`, null]]);
  const reload = (changes) => go(["t", name, "diff"], { ...params, from: data.from, to: data.to, ...changes });
  const revisions = detail.revisions.map((r) => [String(r.revision), `@${r.revision} ${r.operation}`]);
  const fromSelect = select(revisions, String(data.from), (v) => reload({ from: v, offset: "", sel: "" }), { id: "diff-from" });
  const toSelect = select(revisions, String(data.to), (v) => reload({ to: v, offset: "", sel: "" }), { id: "diff-to" });
  const kinds = [["all", `all (${data.counts.added + data.counts.deleted + data.counts.edited})`], ["edited", `edited (${data.counts.edited})`], ["added", `added (${data.counts.added})`], ["deleted", `deleted (${data.counts.deleted})`]];
  const kindButtons = el("div", { class: "segmented", id: "diff-kind" }, kinds.map(([value, text]) => el("button", { class: value === data.kind ? "on" : "", dataset: { kind: value }, text, onclick: () => reload({ kind: value === "all" ? "" : value, offset: "", sel: "" }) })));
  const names = detail.schema.keypoint_names;
  const stage = el("div", { class: "diff-stage", id: "diff-stage" });
  const selected = params.sel ? Number(params.sel) : data.changes.length ? data.changes[0].sample_id : null;
  const list = el(
    "table",
    { class: "data diff-rows", id: "diff-rows" },
    el("thead", {}, el("tr", {}, ["sample", "change", `row @${data.from}`, `row @${data.to}`, "what changed"].map((h) => el("th", { text: h })))),
    el(
      "tbody",
      {},
      data.changes.map((c) =>
        el(
          "tr",
          {
            class: c.sample_id === selected ? "selected" : "",
            dataset: { sample: c.sample_id, kind: c.kind },
            onclick: () => {
              params.sel = String(c.sample_id);
              remember(["t", name, "diff"], { ...params, from: data.from, to: data.to });
              for (const tr of list.querySelectorAll("tr.selected")) tr.classList.remove("selected");
              list.querySelector(`tr[data-sample="${c.sample_id}"]`).classList.add("selected");
              showSample(stage, name, data, c.sample_id);
            },
          },
          el("td", { text: String(c.sample_id) }),
          el("td", {}, el("span", { class: `pill kind-${c.kind}`, text: c.kind })),
          el("td", {}, c.row_from === null ? "–" : el("a", { href: hashFor(["t", name, "row", String(c.row_from)], { rev: data.from }), text: String(c.row_from) })),
          el("td", {}, c.row_to === null ? "–" : el("a", { href: hashFor(["t", name, "row", String(c.row_to)], { rev: data.to }), text: String(c.row_to) })),
          el("td", { class: "muted", text: summarize(c, names) }),
        ),
      ),
    ),
  );
  const offset = Number(params.offset || 0);
  const pager = el(
    "div",
    { class: "pager" },
    el("button", { class: "prev", text: "previous", disabled: offset === 0, onclick: () => reload({ offset: Math.max(0, offset - PAGE) || "", sel: "" }) }),
    el("span", { class: "muted", text: data.total ? `${offset + 1}–${Math.min(offset + PAGE, data.total)} of ${data.total}` : "no changed rows" }),
    el("button", { class: "next", text: "next", disabled: offset + PAGE >= data.total, onclick: () => reload({ offset: offset + PAGE, sel: "" }) }),
  );
  const schemaNote = Object.keys(data.schema_changes).length || data.columns_added.length || data.columns_removed.length
    ? el(
        "div",
        { class: "message warn-note", id: "diff-schema" },
        [
          Object.keys(data.schema_changes).length ? `schema changed: ${Object.keys(data.schema_changes).join(", ")}` : "",
          data.columns_added.length ? `columns added: ${data.columns_added.join(", ")}` : "",
          data.columns_removed.length ? `columns removed: ${data.columns_removed.join(", ")}` : "",
        ].filter(Boolean).join("\n"),
      )
    : null;
  mount(
    app,
    el("div", { class: "page-head" }, el("h2", { text: `${name}: what changed from @${data.from} to @${data.to}` }), el("div", { class: "chart-controls" }, el("label", {}, "from ", fromSelect), el("label", {}, "to ", toSelect), kindButtons)),
    data.ancestor ? null : el("div", { class: "message warn-note", text: `@${data.from} is not an ancestor of @${data.to}: the revisions listed are those of @${data.to}'s lineage that @${data.from} does not have.` }),
    schemaNote,
    chartCard(`revisions in between (${data.between.length})`, { id: "diff-revisions" }, historyTable(data.between)),
    chartCard(
      "changed rows",
      { id: "diff-changes", json: withParams(`${tablePath(name)}/diff`, query), note: `${data.counts.edited} edited, ${data.counts.added} added, ${data.counts.deleted} deleted (rows matched by sample id; ${data.compared_rows} compared).` },
      el("div", { class: "compare-layout" }, el("div", { class: "compare-list" }, list, pager), stage),
    ),
  );
  if (selected !== null) await showSample(stage, name, data, selected);
  else stage.replaceChildren(el("p", { class: "muted", text: "Nothing changed between these revisions." }));
}

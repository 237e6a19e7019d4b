// The table grid: thumbnails with canvas overlays, ground truth and a run's predictions
// (toggled, overlaid or side by side), a keypoint-confidence slider that hides predicted
// keypoints live, sorting and filtering computed by DuckDB on the server, paging, selection
// and accepting predictions; review marks and sample weights (set on the selected or the
// filtered rows). Fed by GET /api/tables/NAME/rows.
import { getJSON, postJSON, tablePath } from "./api.js";
import { previewAccept } from "./accept.js";
import { drawImage, drawInstances, emptyStats, legendNode, loadImage, makeView, missingText } from "./draw.js";
import { filterPanel } from "./filters.js";
import { fetchMarks, reviewBadge } from "./review.js";
import { hasWeights, WEIGHT, weightTools } from "./weights.js";
import { confidenceSlider, crumbs, el, flash, fmt, go, hashFor, mount, remember, scoreInput, scoreParam, select, showError } from "./ui.js";

const VIEWS = [
  ["gt", "ground truth"],
  ["pred", "predictions"],
  ["both", "both, overlaid"],
  ["side", "side by side"],
];

function gridParams(params) {
  return {
    rev: params.rev ? Number(params.rev) : null,
    run: params.run || "",
    view: params.view || (params.run ? "both" : "gt"),
    thr: params.thr !== undefined ? Number(params.thr) : 0.5,
    ithr: scoreParam(params.ithr),
    sort: params.sort || "row",
    order: params.order === "desc" ? "desc" : "asc",
    filter: params.filter || "",
    offset: Math.max(0, Number(params.offset || 0)),
    limit: Number(params.limit || 48),
    size: Number(params.size || 240),
    sinst: params.sinst !== undefined && params.sinst !== "" ? Number(params.sinst) : "",
    skp: params.skp !== undefined && params.skp !== "" ? Number(params.skp) : "",
  };
}

// The label-error suspects' thresholds (instance score, keypoint confidence), in the URL as
// sinst / skp; shown with the server's defaults when not set.
export function suspectControls(p, shown, onChange) {
  const input = (id, key, value, title) =>
    el("input", {
      id,
      type: "number",
      class: "score",
      min: "0",
      max: "1",
      step: "0.05",
      value: String(value),
      title,
      onchange: (e) => {
        const number = Number(e.target.value);
        if (e.target.value === "" || !Number.isFinite(number) || number < 0 || number > 1) {
          e.target.value = String(value);
          return;
        }
        p[key] = number;
        onChange();
      },
    });
  return el(
    "label",
    { title: "label-error suspects ignore predictions scoring under the first and keypoints under the second" },
    "suspects: score ≥",
    input("suspect-instance", "sinst", shown.instance, "instance score of predictions used as evidence"),
    "kp conf ≥",
    input("suspect-keypoint", "skp", shown.keypoint, "keypoint confidence of predicted keypoints trusted"),
  );
}

function basename(path) {
  return String(path || "").split(/[\\/]/).pop();
}

function badges(row, data, sortName, mark) {
  const out = [el("span", { class: "badge", title: "ground-truth instances", text: `gt ${row.gt ? row.gt.count : 0}` })];
  const weight = row.values[WEIGHT];
  if (weight !== undefined && weight !== null && weight !== 1 && sortName !== WEIGHT) {
    out.push(el("span", { class: weight === 0 ? "badge bad weight" : "badge weight", title: "sample weight (0: left out of weighted training)", text: `w ${fmt(weight, 2)}` }));
  }
  if (mark) out.push(reviewBadge(mark));
  const m = row.metrics;
  if (m) {
    if (m.mean_oks !== undefined) {
      const oks = m.mean_oks;
      const cls = oks === null ? "badge" : oks < 0.5 ? "badge bad" : oks > 0.85 ? "badge good" : "badge";
      out.push(el("span", { class: cls, title: "mean OKS of matches at .50", text: `oks ${fmt(oks, 2)}` }));
    }
    if (m.tp_50 !== undefined)
      out.push(el("span", { class: m.fp_50 || m.fn_50 ? "badge bad" : "badge", title: "TP / FP / FN at OKS .50", text: `${m.tp_50}/${m.fp_50}/${m.fn_50}` }));
  }
  const f = row.findings;
  if (f && f.items.length) {
    const rules = [...new Set(f.items.map((x) => x.rule))].join(", ");
    const partial = f.complete === false ? " (checking the table-wide rules…)" : "";
    out.push(el("span", { class: `badge findings sev-${f.worst}`, title: `check findings: ${rules}${partial}`, text: `⚠ ${f.items.length}${partial ? "…" : ""}` }));
  }
  if (row.suspects) out.push(el("span", { class: "badge bad", title: row.suspects.suspect_kinds, text: `suspect ${fmt(row.suspects.suspect_score, 2)}` }));
  const known = new Set(["row", "mean_oks", "tp_50", "fp_50", "fn_50"]);
  if (!known.has(sortName)) {
    const value =
      row.values[sortName] ?? (row.metrics || {})[sortName] ?? row.derived[sortName] ?? (row.suspects || {})[sortName];
    if (value !== undefined) out.push(el("span", { class: "badge", title: sortName, text: `${sortName} ${fmt(value, 3)}` }));
  }
  return out;
}

// Background work on a large revision or run: the check (finding badges) and the run's
// label-error suspects.
function pending(data) {
  return (data.check_state && data.check_state.state === "checking") || data.suspects_state === "computing";
}

function pendingNote(data) {
  const parts = [];
  if (data.check_state && data.check_state.state === "checking") parts.push("checking… (finding badges show the per-row rules until the check is done)");
  if (data.check_state && data.check_state.state === "failed") parts.push(`the check failed: ${data.check_state.error}`);
  if (data.suspects_state === "computing") parts.push("finding label-error suspects…");
  return parts.length ? el("span", { id: "pending-note", class: "muted", text: parts.join("; ") }) : null;
}

export async function renderGrid(app, name, rawParams) {
  const p = gridParams(rawParams);
  const detail = await getJSON(tablePath(name), { revision: p.rev, run: p.run });
  const [data, marks] = await Promise.all([
    getJSON(`${tablePath(name)}/rows`, {
      revision: p.rev,
      run: p.run,
      filter: p.filter,
      sort: p.sort,
      order: p.order,
      offset: p.offset,
      limit: p.limit,
      suspect_instance: p.sinst,
      suspect_keypoint: p.skp,
    }),
    fetchMarks(name, p.rev).catch(() => null),
  ]);
  const reviewMarks = marks && marks.marks ? marks.marks : {};
  const revision = data.revision;
  crumbs([
    ["tables and runs", "#/"],
    [`${name}@${revision}`, null],
  ]);
  const selected = new Set();
  const drawn = {};
  const cells = [];
  window.posetable.data = data;
  window.posetable.grid = { data, drawn, params: p, selected };

  const urlParams = () => ({
    rev: p.rev,
    run: p.run,
    view: p.view,
    thr: p.thr,
    ithr: p.ithr !== 0 ? p.ithr : "",
    sort: p.sort !== "row" ? p.sort : "",
    order: p.order !== "asc" ? p.order : "",
    filter: p.filter,
    offset: p.offset || "",
    limit: p.limit !== 48 ? p.limit : "",
    sinst: p.sinst,
    skp: p.skp,
  });
  const reload = (changes) => go(["t", name], { ...urlParams(), ...changes });

  // --- toolbar -----------------------------------------------------------------------------
  const revisionOptions = detail.revisions.map((r) => [
    String(r.revision),
    `@${r.revision} ${r.operation}${r.revision === data.latest_revision ? " (latest)" : ""}`,
  ]);
  const runOptions = [["", "no run"], ...detail.runs.map((r) => [r.name, `${r.name} (@${r.table_revision}, AP ${fmt(r.metrics.ap)})`])];
  const sortOptions = data.columns.map((c) => [c.name, `${c.name} · ${c.source}`]);
  const confidence = confidenceSlider(p, {
    disabled: !p.run,
    title: "predicted keypoints below this confidence are hidden",
    onChange: () => {
      redrawAll();
      remember(["t", name], urlParams());
    },
  });
  const scoreControl = scoreInput(p, {
    disabled: !p.run,
    onChange: () => {
      redrawAll();
      remember(["t", name], urlParams());
    },
  });
  const filterInput = el("input", {
    id: "filter",
    type: "text",
    class: "filter",
    placeholder: "filter, e.g. mean_oks < 0.5 and num_instances > 1",
    value: p.filter,
    onkeydown: (e) => e.key === "Enter" && reload({ filter: e.target.value, offset: "" }),
  });
  const columnHint = el("datalist", { id: "columns" }, data.columns.map((c) => el("option", { value: c.name })));
  const modeSelect = select([["replace", "replace GT"], ["add_unmatched", "add unmatched only"]], "replace", () => {}, { id: "accept-mode" });
  const selectionInfo = el("span", { id: "selection", class: "muted", text: "0 selected" });
  const acceptButton = el("button", {
    id: "accept-selected",
    class: "primary",
    text: "Accept predictions for selected",
    disabled: true,
    onclick: () => {
      const rows = [...selected].sort((a, b) => a - b);
      previewAccept({
        name,
        revision,
        run: p.run,
        rows,
        thr: p.thr,
        ithr: p.ithr,
        mode: modeSelect.value,
        trigger: acceptButton,
        onClose: () => updateSelection(),
        onWritten: (result) => {
          flash(`accepted predictions of ${p.run} for rows ${(result.rows && result.rows.length ? result.rows : rows).join(", ")} at keypoint confidence ≥ ${p.thr.toFixed(2)}, instance score ≥ ${fmt(p.ithr, 2)}: revision @${result.revision}`);
          reload({ rev: result.revision });
        },
      });
    },
  });
  const updateSelection = () => {
    selectionInfo.textContent = `${selected.size} selected`;
    acceptButton.disabled = !p.run || selected.size === 0;
    for (const cell of cells) cell.node.classList.toggle("selected", selected.has(cell.row.row));
  };
  const parent = detail.history.length > 1 ? detail.history[0].parent : detail.parent;
  const toolbar = el(
    "div",
    { class: "toolbar" },
    el("label", {}, "revision", select(revisionOptions, String(revision), (v) => reload({ rev: v, offset: "" }), { id: "revision" })),
    el("label", {}, "run", select(runOptions, p.run, (v) => reload({ run: v, view: v ? "both" : "gt", offset: "" }), { id: "run" })),
    el("label", {}, "show", select(VIEWS, p.view, (v) => {
      p.view = v;
      remember(["t", name], urlParams());
      layoutCells();
    }, { id: "view" })),
    confidence,
    scoreControl,
    el("label", {}, "sort", select(sortOptions, data.sort, (v) => reload({ sort: v, offset: "" }), { id: "sort" })),
    el("button", { id: "order", text: data.order === "asc" ? "↑ asc" : "↓ desc", onclick: () => reload({ order: data.order === "asc" ? "desc" : "asc", offset: "" }) }),
    filterInput,
    columnHint,
    el("button", { id: "apply-filter", text: "filter", onclick: () => reload({ filter: filterInput.value, offset: "" }) }),
    el("button", { id: "clear-filter", text: "clear", onclick: () => reload({ filter: "", offset: "" }) }),
  );
  filterInput.setAttribute("list", "columns");
  const hasEmbedding = data.columns.some((c) => c.source === "run" && /_0$/.test(c.name)) && data.columns.some((c) => c.source === "run" && /_1$/.test(c.name));
  const explore = el(
    "div",
    { class: "toolbar" },
    p.run ? suspectControls(p, data.suspect_thresholds, () => reload({ offset: "" })) : null,
    el("button", {
      id: "review",
      text: "review ▶",
      title: "step through these rows in the image view (keys: → next, ← previous, ? for all keys)",
      disabled: !data.rows.length,
      onclick: () => go(["t", name, "row", String(data.rows[0].row)], { ...urlParams(), pos: p.offset }),
    }),
    p.run && hasEmbedding ? el("a", { id: "embeddings-link", href: hashFor(["t", name, "embeddings"], { rev: p.rev, run: p.run }), text: "embeddings scatter" }) : null,
    legendNode(),
  );
  const widgets = filterPanel({
    name,
    params: p,
    getText: () => filterInput.value,
    setText: (text) => (filterInput.value = text),
    apply: (text) => reload({ filter: text, offset: "" }),
  });
  if (p.filter) widgets.node.open = true;
  const actions = el(
    "div",
    { class: "toolbar" },
    el("button", {
      id: "select-page",
      text: "select page",
      onclick: () => {
        const all = data.rows.every((r) => selected.has(r.row));
        for (const r of data.rows) all ? selected.delete(r.row) : selected.add(r.row);
        for (const cell of cells) cell.checkbox.checked = selected.has(cell.row.row);
        updateSelection();
      },
    }),
    selectionInfo,
    modeSelect,
    acceptButton,
    hasWeights(data.columns) && revision === data.latest_revision
      ? weightTools({
          name,
          revision,
          params: p,
          total: data.total,
          selected: () => [...selected].sort((a, b) => a - b),
          onError: (error) => showError(error),
          onWritten: (result) => {
            flash(`${result.note}: revision @${result.revision}`);
            reload({ rev: result.revision });
          },
        })
      : null,
    marks && marks.reviewed ? el("span", { class: "muted", id: "review-count", text: `${marks.reviewed} of ${marks.rows} reviewed` }) : null,
    el("button", {
      id: "undo",
      text: parent !== null && parent !== undefined ? `undo (back to @${parent})` : "undo",
      disabled: parent === null || parent === undefined || revision !== data.latest_revision,
      title: "make the parent revision the latest again (a new revision)",
      onclick: async () => {
        try {
          const result = await postJSON(`${tablePath(name)}/undo`, { base_revision: revision });
          flash(`restored @${result.parent} as revision @${result.revision}`);
          reload({ rev: result.revision });
        } catch (error) {
          showError(error);
        }
      },
    }),
    revision !== data.latest_revision
      ? el("span", { class: "dirty", text: `viewing @${revision}; the latest is @${data.latest_revision} (edits start from the latest)` })
      : null,
    data.run && data.run_table_ref && data.run_table_ref !== data.ref
      ? el("span", { class: "muted", text: `run made on ${data.run_table_ref}` })
      : null,
    pendingNote(data),
    data.run && data.metrics_ref
      ? el("span", {
          id: "metrics-note",
          class: "muted",
          title: "the badges, sorting and filtering use the run's metrics against this revision",
          text: `metrics of ${data.run} on ${data.metrics_ref}${data.metrics_ref !== data.run_table_ref ? " (re-evaluated)" : ""}: AP ${fmt(data.run_metrics.ap)}`,
        })
      : null,
  );

  // --- pager -------------------------------------------------------------------------------
  const last = Math.min(p.offset + data.rows.length, data.total);
  const pager = el(
    "div",
    { class: "pager" },
    el("button", { id: "prev", text: "‹ previous", disabled: p.offset === 0, onclick: () => reload({ offset: Math.max(0, p.offset - p.limit) }) }),
    el("span", { id: "range", text: data.total ? `rows ${p.offset + 1}–${last} of ${data.total}` : "no rows match" }),
    el("button", { id: "next", text: "next ›", disabled: last >= data.total, onclick: () => reload({ offset: p.offset + p.limit }) }),
    el("label", { class: "muted" }, "per page", select(["24", "48", "96", "200"], String(p.limit), (v) => reload({ limit: v, offset: "" }), { id: "limit" })),
  );

  // --- cells -------------------------------------------------------------------------------
  const grid = el("div", { class: "grid", id: "grid" });
  grid.style.setProperty("--cell", `${p.view === "side" ? p.size * 2 : p.size}px`);

  // a row whose image file cannot be read: the cell says so, with the path the row names
  function showMissing(cell) {
    const missing = cell.loaded ? cell.loaded.missing : null;
    cell.node.classList.toggle("missing", Boolean(missing));
    if (!missing) return;
    const text = missingText(missing, cell.row.image);
    cell.node.dataset.missing = text;
    if (!cell.frames.querySelector(".missing-image")) cell.frames.append(el("div", { class: "missing-image", title: text, text }));
  }

  function draw(cell) {
    const { row, canvases } = cell;
    const image = cell.loaded ? cell.loaded.image : null;
    const stats = { gt: emptyStats(), pred: emptyStats() };
    const panes = p.view === "side" ? ["gt", "pred"] : [p.view];
    panes.forEach((pane, i) => {
      const canvas = canvases[i];
      const ratio = window.devicePixelRatio || 1;
      const width = canvas.clientWidth || p.size;
      const height = Math.round(width * 0.75);
      canvas.style.height = `${height}px`;
      canvas.width = Math.round(width * ratio);
      canvas.height = Math.round(height * ratio);
      const ctx = canvas.getContext("2d");
      ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
      ctx.fillStyle = "#000";
      ctx.fillRect(0, 0, width, height);
      const scale = Math.min(width / row.width, height / row.height);
      const view = makeView(scale, (width - row.width * scale) / 2, (height - row.height * scale) / 2);
      drawImage(ctx, image, row.width, row.height, view);
      // class names on boxes when they tell something (several classes)
      const options = { threshold: p.thr, minScore: p.ithr, radius: 2.5, lineWidth: 1.5, labels: data.schema.classes.length > 1 };
      if (pane === "gt" || pane === "both") stats.gt = drawInstances(ctx, row.gt, data.schema, view, { ...options, kind: "gt" });
      if ((pane === "pred" || pane === "both") && row.pred) {
        stats.pred = drawInstances(ctx, row.pred, data.schema, view, { ...options, kind: "pred" });
      }
      canvas.dataset.pane = pane;
    });
    drawn[row.row] = stats;
    cell.node.dataset.gtPoints = String(stats.gt.points.length);
    cell.node.dataset.predPoints = String(stats.pred.points.length);
    cell.node.dataset.predHidden = String(stats.pred.hidden);
  }

  function redrawAll() {
    for (const cell of cells) draw(cell);
  }

  function layoutCells() {
    grid.style.setProperty("--cell", `${p.view === "side" ? p.size * 2 : p.size}px`);
    for (const cell of cells) {
      const count = p.view === "side" ? 2 : 1;
      cell.frames.classList.toggle("side", count === 2);
      cell.canvases = [];
      cell.frames.replaceChildren();
      for (let i = 0; i < count; i++) {
        const canvas = el("canvas", { class: "overlay", dataset: { row: cell.row.row } });
        cell.frames.append(canvas);
        cell.canvases.push(canvas);
      }
      showMissing(cell);
    }
    requestAnimationFrame(redrawAll);
  }

  data.rows.forEach((row, i) => {
    const checkbox = el("input", {
      type: "checkbox",
      class: "pick",
      title: "select (accept predictions, set weights)",
      onchange: (e) => {
        e.target.checked ? selected.add(row.row) : selected.delete(row.row);
        updateSelection();
      },
    });
    const frames = el("div", {
      class: "frames",
      title: row.image,
      onclick: () => go(["t", name, "row", String(row.row)], { ...urlParams(), pos: p.offset + i }),
    });
    const node = el(
      "div",
      { class: "cell", dataset: { row: row.row } },
      frames,
      el("div", { class: "caption" }, checkbox, el("span", { class: "muted", text: `#${row.row}` }), el("span", { text: basename(row.image) }), el("span", { class: "badges" }, badges(row, data, data.sort, reviewMarks[String(row.row)]))),
    );
    const cell = { row, node, frames, canvases: [], loaded: null, checkbox };
    cell.loaded = loadImage(row.thumbnail_url, () => {
      showMissing(cell);
      draw(cell);
    });
    cells.push(cell);
    grid.append(node);
  });

  mount(app, toolbar, explore, widgets.node, actions, pager, data.rows.length ? grid : el("p", { class: "muted", text: "No rows match this filter." }));
  layoutCells();
  const onResize = () => redrawAll();
  window.addEventListener("resize", onResize);
  window.posetable.cleanup = () => window.removeEventListener("resize", onResize);
  window.posetable.grid.redraw = redrawAll;
  if (widgets.node.open) widgets.load();
  window.posetable.grid.hashFor = (row) => hashFor(["t", name, "row", String(row)], urlParams());
  // a large revision is checked (and a large run's suspects found) in the background: the
  // page says so, and the badges are filled in when they are ready
  if (pending(data)) {
    const rowsParams = { revision: p.rev, run: p.run, filter: p.filter, sort: p.sort, order: p.order, offset: p.offset, limit: p.limit, suspect_instance: p.sinst, suspect_keypoint: p.skp };
    const poll = async () => {
      if (window.posetable.grid.data !== data) return; // another page is shown
      const again = await getJSON(`${tablePath(name)}/rows`, rowsParams).catch(() => null);
      if (!again || window.posetable.grid.data !== data) return;
      const byRow = new Map(again.rows.map((r) => [r.row, r]));
      for (const cell of cells) {
        const fresh = byRow.get(cell.row.row);
        if (!fresh) continue;
        cell.row.findings = fresh.findings;
        cell.row.suspects = fresh.suspects;
        const holder = cell.node.querySelector(".badges");
        if (holder) holder.replaceChildren(...badges(cell.row, data, data.sort, reviewMarks[String(cell.row.row)]));
      }
      data.check_state = again.check_state;
      data.suspects_state = again.suspects_state;
      const note = document.getElementById("pending-note");
      if (note) note.replaceWith(pendingNote(data) || document.createTextNode(""));
      if (pending(again)) setTimeout(poll, 2000);
    };
    setTimeout(poll, 2000);
  }
  await new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

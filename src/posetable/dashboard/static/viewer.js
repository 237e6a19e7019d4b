// The image view: one image large with zoom (wheel) and pan (drag), per-instance and
// per-keypoint details with hover highlights, and editing of the ground truth: drag
// keypoints, set visibility 0/1/2 (buttons, or keys 0/1/2 over a keypoint), add an instance
// from the schema's default pose, delete one, edit its box (drag a corner or type) and
// label; save makes a new revision and the view follows it. Fed by GET /api/tables/NAME/rows/ROW.
import { getJSON, postJSON, tablePath } from "./api.js";
import { previewAccept } from "./accept.js";
import { drawImage, drawInstances, emptyStats, legendNode, nearestPoint, toImage, toScreen } from "./draw.js";
import { confidenceSlider, crumbs, el, flash, fmt, go, mount, remember, scoreInput, scoreParam, select, showError } from "./ui.js";

function viewerParams(params) {
  return {
    rev: params.rev ? Number(params.rev) : null,
    run: params.run || "",
    view: params.view === "side" ? "both" : params.view || (params.run ? "both" : "gt"),
    thr: params.thr !== undefined ? Number(params.thr) : 0.5,
    ithr: scoreParam(params.ithr),
    sort: params.sort || "",
    order: params.order || "",
    filter: params.filter || "",
    offset: params.offset || "",
    limit: params.limit || "",
    pos: params.pos !== undefined && params.pos !== "" ? Number(params.pos) : null,
    sinst: params.sinst ?? "",
    skp: params.skp ?? "",
  };
}

// The review queue's keys (the `?` sheet lists them).
const SHORTCUTS = [
  ["→ or j", "next image of the sorted / filtered set"],
  ["← or k", "previous image"],
  ["s or Ctrl+S", "save the edits (a new revision)"],
  ["Ctrl+Z or z", "undo the last edit (several steps)"],
  ["Ctrl+Shift+Z or y", "redo"],
  ["0 / 1 / 2", "set the visibility of the keypoint under the mouse"],
  ["f", "fit the image"],
  ["?", "show or hide this sheet"],
  ["Esc", "close this sheet"],
];

function shortcutSheet() {
  const rows = SHORTCUTS.map(([key, text]) => el("tr", {}, el("td", {}, el("kbd", { text: key })), el("td", { text })));
  return el(
    "div",
    { class: "modal-backdrop", id: "shortcuts" },
    el("div", { class: "modal" }, el("h3", { text: "keyboard shortcuts" }), el("table", { class: "data" }, el("tbody", {}, rows)), el("p", { class: "muted", text: "Moving to another image with unsaved edits asks first." })),
  );
}

function draftOf(gt) {
  const out = [];
  for (let i = 0; i < (gt ? gt.count : 0); i++) {
    out.push({
      source: i,
      keypoints: gt.keypoints[i].map((p) => [p[0], p[1]]),
      visibility: gt.visibility ? [...gt.visibility[i]] : gt.keypoints[i].map(() => 2),
      box: [...gt.boxes[i]],
      label: gt.labels[i],
    });
  }
  return out;
}

function asInstances(draft) {
  return {
    count: draft.length,
    keypoints: draft.map((d) => d.keypoints),
    visibility: draft.map((d) => d.visibility),
    boxes: draft.map((d) => d.box),
    labels: draft.map((d) => d.label),
    scores: null,
    confidence: null,
  };
}

export async function renderViewer(app, name, row, rawParams) {
  const p = viewerParams(rawParams);
  const data = await getJSON(`${tablePath(name)}/rows/${row}`, {
    revision: p.rev,
    run: p.run,
    position: p.pos,
    filter: p.filter,
    sort: p.sort,
    order: p.order,
    suspect_instance: p.sinst,
    suspect_keypoint: p.skp,
  });
  const schema = data.schema;
  const K = schema.num_keypoints;
  const gridParams = { rev: p.rev, run: p.run, view: p.view, thr: p.thr, ithr: p.ithr || "", sort: p.sort, order: p.order, filter: p.filter, offset: p.offset, limit: p.limit, sinst: p.sinst, skp: p.skp };
  crumbs([
    ["tables and runs", "#/"],
    [`${name}@${data.revision}`, `#/t/${encodeURIComponent(name)}?${new URLSearchParams(Object.entries(gridParams).filter(([, v]) => v !== "" && v !== null)).toString()}`],
    [`row ${row}`, null],
  ]);
  const ui = {
    draft: draftOf(data.gt),
    dirty: false,
    selected: data.gt && data.gt.count ? 0 : null,
    hover: null,
    view: { scale: 1, offsetX: 0, offsetY: 0 },
    stats: { gt: emptyStats(), pred: emptyStats() },
    drag: null,
    saving: false,
    history: [],
    future: [],
  };
  const original = JSON.stringify(ui.draft);
  let committed = original;
  window.posetable.data = data;
  window.posetable.viewer = ui;
  const perGt = data.per_instance ? data.per_instance.gt : [];
  const perPred = data.per_instance ? data.per_instance.pred : [];

  const urlParams = () => ({ ...gridParams, rev: p.rev, view: p.view, thr: p.thr, ithr: p.ithr || "", pos: p.pos });
  ui.undo = () => undoStep();

  // --- canvas ------------------------------------------------------------------------------
  const canvas = el("canvas", { id: "stage-canvas" });
  const stage = el("div", { class: "stage" }, canvas);
  const image = new Image();
  image.onload = () => redraw();
  image.onerror = () => redraw();
  image.src = data.image_url;

  function fit() {
    const width = stage.clientWidth || 800;
    const height = stage.clientHeight || 600;
    const scale = Math.min(width / data.width, height / data.height) * 0.98;
    ui.view = { scale, offsetX: (width - data.width * scale) / 2, offsetY: (height - data.height * scale) / 2 };
  }

  function redraw() {
    const ratio = window.devicePixelRatio || 1;
    const width = stage.clientWidth || 800;
    const height = stage.clientHeight || 600;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.fillStyle = "#000";
    ctx.fillRect(0, 0, width, height);
    drawImage(ctx, image, data.width, data.height, ui.view);
    const hover = ui.hover || {};
    const radius = Math.max(3, Math.min(7, 4 * Math.sqrt(ui.view.scale)));
    ui.stats = { gt: emptyStats(), pred: emptyStats() };
    if (p.view === "gt" || p.view === "both") {
      ui.stats.gt = drawInstances(ctx, asInstances(ui.draft), schema, ui.view, {
        kind: "gt",
        radius,
        lineWidth: 2,
        selected: ui.selected,
        dim: ui.draft.length > 1,
        highlight: hover.kind === "gt" ? hover : {},
      });
      if (ui.selected !== null && ui.draft[ui.selected]) drawHandles(ctx, ui.draft[ui.selected].box);
    }
    if ((p.view === "pred" || p.view === "both") && data.pred) {
      ui.stats.pred = drawInstances(ctx, data.pred, schema, ui.view, {
        kind: "pred",
        threshold: p.thr,
        minScore: p.ithr,
        radius,
        lineWidth: 1.5,
        highlight: hover.kind === "pred" ? hover : {},
      });
    }
    canvas.dataset.gtPoints = String(ui.stats.gt.points.length);
    canvas.dataset.predPoints = String(ui.stats.pred.points.length);
  }

  function handles(box) {
    const corners = [
      [box[0], box[1]],
      [box[2], box[1]],
      [box[2], box[3]],
      [box[0], box[3]],
    ];
    return corners.map(([x, y], corner) => ({ corner, xy: toScreen(ui.view, x, y) }));
  }

  function drawHandles(ctx, box) {
    if (!(box[2] > box[0] && box[3] > box[1])) return;
    ctx.save();
    ctx.fillStyle = "#ffffff";
    ctx.strokeStyle = "#000000";
    for (const h of handles(box)) {
      ctx.fillRect(h.xy[0] - 4, h.xy[1] - 4, 8, 8);
      ctx.strokeRect(h.xy[0] - 4, h.xy[1] - 4, 8, 8);
    }
    ctx.restore();
  }

  function mouse(event) {
    const rect = canvas.getBoundingClientRect();
    return [event.clientX - rect.left, event.clientY - rect.top];
  }

  // one undo step per edit: a drag commits when it ends, everything else at once
  function commit() {
    const now = JSON.stringify(ui.draft);
    if (now === committed) return;
    ui.history.push(committed);
    ui.future = [];
    committed = now;
  }

  function restore(text) {
    ui.draft = JSON.parse(text);
    committed = text;
    if (ui.selected !== null && ui.selected >= ui.draft.length) ui.selected = ui.draft.length ? 0 : null;
    ui.dirty = text !== original;
    saveButton.disabled = !ui.dirty || ui.saving;
    discardButton.disabled = !ui.dirty;
    status.textContent = ui.dirty ? "unsaved changes" : "no unsaved changes";
    status.className = ui.dirty ? "dirty" : "muted";
    renderPanel();
    redraw();
  }

  function undoStep() {
    if (!ui.history.length) return;
    ui.future.push(committed);
    restore(ui.history.pop());
  }

  function redoStep() {
    if (!ui.future.length) return;
    ui.history.push(committed);
    restore(ui.future.pop());
  }

  function markDirty() {
    if (!ui.drag) commit();
    ui.dirty = true;
    saveButton.disabled = ui.saving;
    discardButton.disabled = false;
    status.textContent = "unsaved changes";
    status.className = "dirty";
  }

  canvas.addEventListener("wheel", (event) => {
    event.preventDefault();
    const [sx, sy] = mouse(event);
    const [ix, iy] = toImage(ui.view, sx, sy);
    const factor = Math.exp(-event.deltaY * 0.0015);
    const scale = Math.min(64, Math.max(0.05, ui.view.scale * factor));
    ui.view = { scale, offsetX: sx - ix * scale, offsetY: sy - iy * scale };
    redraw();
  });

  canvas.addEventListener("mousedown", (event) => {
    const [sx, sy] = mouse(event);
    const editable = p.view === "gt" || p.view === "both";
    if (editable && ui.selected !== null && ui.draft[ui.selected]) {
      const hit = handles(ui.draft[ui.selected].box).find((h) => Math.hypot(h.xy[0] - sx, h.xy[1] - sy) <= 6);
      if (hit) {
        ui.drag = { type: "corner", instance: ui.selected, corner: hit.corner, start: [sx, sy], box: [...ui.draft[ui.selected].box] };
        return;
      }
    }
    const point = editable ? nearestPoint(ui.stats.gt, sx, sy, 9) : null;
    if (point) {
      const kp = ui.draft[point.instance].keypoints[point.keypoint];
      ui.drag = { type: "point", instance: point.instance, keypoint: point.keypoint, start: [sx, sy], origin: [kp[0], kp[1]] };
      if (ui.selected !== point.instance) {
        ui.selected = point.instance;
        renderPanel();
      }
      canvas.classList.add("point");
      return;
    }
    ui.drag = { type: "pan", start: [sx, sy], origin: [ui.view.offsetX, ui.view.offsetY] };
    canvas.classList.add("dragging");
  });

  const onMove = (event) => {
    const [sx, sy] = mouse(event);
    const drag = ui.drag;
    if (!drag) {
      const found = nearestPoint(ui.stats.gt, sx, sy, 9) || nearestPoint(ui.stats.pred, sx, sy, 9);
      const hover = found ? { kind: found.kind, instance: found.instance, keypoint: found.keypoint } : null;
      if (JSON.stringify(hover) !== JSON.stringify(ui.hover)) {
        ui.hover = hover;
        redraw();
        highlightRows();
      }
      return;
    }
    const dx = (sx - drag.start[0]) / ui.view.scale;
    const dy = (sy - drag.start[1]) / ui.view.scale;
    if (drag.type === "pan") {
      ui.view = { ...ui.view, offsetX: drag.origin[0] + (sx - drag.start[0]), offsetY: drag.origin[1] + (sy - drag.start[1]) };
    } else if (drag.type === "point") {
      const x = Math.min(data.width, Math.max(0, drag.origin[0] + dx));
      const y = Math.min(data.height, Math.max(0, drag.origin[1] + dy));
      ui.draft[drag.instance].keypoints[drag.keypoint] = [x, y];
      drag.moved = true;
      markDirty();
    } else if (drag.type === "corner") {
      const box = [...drag.box];
      const ix = drag.corner === 0 || drag.corner === 3 ? 0 : 2;
      const iy = drag.corner === 0 || drag.corner === 1 ? 1 : 3;
      box[ix] = Math.min(data.width, Math.max(0, drag.box[ix] + dx));
      box[iy] = Math.min(data.height, Math.max(0, drag.box[iy] + dy));
      ui.draft[drag.instance].box = [Math.min(box[0], box[2]), Math.min(box[1], box[3]), Math.max(box[0], box[2]), Math.max(box[1], box[3])];
      drag.moved = true;
      markDirty();
    }
    redraw();
  };
  const onUp = () => {
    if (ui.drag && ui.drag.moved) {
      ui.drag = null;
      commit();
      renderPanel();
    }
    ui.drag = null;
    canvas.classList.remove("dragging", "point");
  };
  let sheet = null;
  const toggleSheet = (show) => {
    if (sheet && !show) {
      sheet.remove();
      sheet = null;
    } else if (!sheet && show) {
      sheet = shortcutSheet();
      sheet.addEventListener("click", () => toggleSheet(false));
      document.body.append(sheet);
    }
  };
  const onKey = (event) => {
    if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
    const key = event.key;
    const ctrl = event.ctrlKey || event.metaKey;
    if (key === "?") {
      toggleSheet(!sheet);
      return;
    }
    if (key === "Escape") {
      toggleSheet(false);
      return;
    }
    if (ctrl && (key === "z" || key === "Z")) {
      event.preventDefault();
      event.shiftKey ? redoStep() : undoStep();
      return;
    }
    if (ctrl && key === "s") {
      event.preventDefault();
      if (!saveButton.disabled) saveButton.click();
      return;
    }
    if (ctrl || event.altKey) return;
    if (key === "z") undoStep();
    else if (key === "y") redoStep();
    else if (key === "s" && !saveButton.disabled) saveButton.click();
    else if ((key === "ArrowRight" || key === "j") && nextButton && !nextButton.disabled) nextButton.click();
    else if ((key === "ArrowLeft" || key === "k") && previousButton && !previousButton.disabled) previousButton.click();
    else if (key === "f") {
      fit();
      redraw();
    } else if (["0", "1", "2"].includes(key) && ui.hover && ui.hover.kind === "gt") {
      setVisibility(ui.hover.instance, ui.hover.keypoint, Number(key));
    }
  };
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  window.addEventListener("keydown", onKey);
  const onResize = () => redraw();
  window.addEventListener("resize", onResize);
  // unsaved edits: closing or reloading the tab asks the browser's question, and every
  // in-app navigation (other row, grid, back) asks ours (main.js calls the guard)
  const onBeforeUnload = (event) => {
    if (!ui.dirty) return;
    event.preventDefault();
    event.returnValue = "";
  };
  window.addEventListener("beforeunload", onBeforeUnload);
  window.posetable.guard = () =>
    !ui.dirty || window.confirm(`Row ${row} has unsaved keypoint edits. Leave without saving them?`);
  window.posetable.cleanup = () => {
    window.removeEventListener("beforeunload", onBeforeUnload);
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
    window.removeEventListener("keydown", onKey);
    window.removeEventListener("resize", onResize);
    toggleSheet(false);
  };

  function setVisibility(i, k, v) {
    const item = ui.draft[i];
    if (v > 0 && item.visibility[k] === 0 && item.keypoints[k][0] === 0 && item.keypoints[k][1] === 0) {
      item.keypoints[k] = [(item.box[0] + item.box[2]) / 2, (item.box[1] + item.box[3]) / 2];
    }
    item.visibility[k] = v;
    markDirty();
    renderPanel();
    redraw();
  }

  // --- actions -----------------------------------------------------------------------------
  const status = el("span", { id: "status", class: "muted", text: data.revision === data.latest_revision ? "latest revision" : `viewing @${data.revision}; the latest is @${data.latest_revision}` });
  const follow = (revision) => go(["t", name, "row", String(row)], { ...urlParams(), rev: revision });
  // one save at a time: the button (and accept) stay disabled while a save is in flight
  const saveButton = el("button", {
    id: "save",
    class: "primary",
    text: "save",
    disabled: true,
    onclick: async () => {
      if (ui.saving) return;
      ui.saving = true;
      saveButton.disabled = true;
      acceptButton.disabled = true;
      saveButton.textContent = "saving…";
      const sent = JSON.stringify(ui.draft);
      try {
        const result = await postJSON(`${tablePath(name)}/edit`, {
          base_revision: data.revision,
          rows: { [row]: { instances: JSON.parse(sent) } },
        });
        ui.dirty = JSON.stringify(ui.draft) !== sent; // edits made meanwhile are still unsaved
        flash(`saved row ${row} as revision @${result.revision} (parent @${result.parent})`);
        follow(result.revision);
      } catch (error) {
        showError(error);
      } finally {
        ui.saving = false;
        saveButton.textContent = "save";
        saveButton.disabled = !ui.dirty;
        acceptButton.disabled = !canAccept;
      }
    },
  });
  const discardButton = el("button", {
    id: "discard",
    text: "discard",
    disabled: true,
    onclick: () => {
      ui.dirty = false; // asked for: no question
      follow(data.revision);
    },
  });
  const addButton = el("button", {
    id: "add-instance",
    text: "add instance",
    onclick: async () => {
      const width = stage.clientWidth || 800;
      const height = stage.clientHeight || 600;
      const [cx, cy] = toImage(ui.view, width / 2, height / 2);
      try {
        const made = await getJSON(`${tablePath(name)}/new_instance/${row}`, {
          revision: data.revision,
          x: Math.min(data.width, Math.max(0, cx)),
          y: Math.min(data.height, Math.max(0, cy)),
        });
        ui.draft.push(made);
        ui.selected = ui.draft.length - 1;
        markDirty();
        renderPanel();
        redraw();
      } catch (error) {
        showError(error);
      }
    },
  });
  const undoButton = el("button", {
    id: "undo",
    text: data.parent !== null ? `undo (back to @${data.parent})` : "undo",
    disabled: data.parent === null,
    onclick: async () => {
      if (ui.dirty && !window.confirm(`Undo discards the unsaved edits of row ${row}. Undo anyway?`)) return;
      try {
        const result = await postJSON(`${tablePath(name)}/undo`, { base_revision: data.revision });
        ui.dirty = false;
        flash(`restored @${result.parent} as revision @${result.revision}`);
        follow(result.revision);
      } catch (error) {
        showError(error);
      }
    },
  });
  const canAccept = Boolean(p.run && data.pred);
  const acceptButton = el("button", {
    id: "accept-row",
    text: "accept predictions…",
    disabled: !canAccept,
    title: "replace this row's ground truth with the predictions kept by the thresholds (preview first)",
    onclick: () =>
      previewAccept({
        name,
        revision: data.revision,
        run: p.run,
        rows: [row],
        thr: p.thr,
        ithr: p.ithr,
        mode: "replace",
        trigger: acceptButton,
        warning: ui.dirty ? "Your unsaved edits of this row will be discarded: the row gets the plan above." : null,
        onClose: () => {
          acceptButton.disabled = !canAccept || ui.saving;
        },
        onWritten: (result) => {
          ui.dirty = false;
          flash(`accepted the predictions of ${p.run} at keypoint confidence ≥ ${p.thr.toFixed(2)}, instance score ≥ ${fmt(p.ithr, 2)}: revision @${result.revision}`);
          follow(result.revision);
        },
      }),
  });
  const confidence = confidenceSlider(p, {
    disabled: !data.pred,
    onChange: () => {
      redraw();
      renderPanel();
      remember(["t", name, "row", String(row)], urlParams());
    },
  });
  const scoreControl = scoreInput(p, {
    disabled: !data.pred,
    onChange: () => {
      redraw();
      renderPanel();
      remember(["t", name, "row", String(row)], urlParams());
    },
  });
  const nav = data.navigation || {};
  const neighbour = (target, delta) =>
    target === null || target === undefined
      ? null
      : () => go(["t", name, "row", String(target)], { ...urlParams(), pos: p.pos + delta });
  const previousButton = el("button", { id: "previous-row", text: "‹ previous", title: "previous image (← or k)", disabled: !neighbour(nav.previous, -1), onclick: neighbour(nav.previous, -1) });
  const nextButton = el("button", { id: "next-row", text: "next ›", title: "next image (→ or j)", disabled: !neighbour(nav.next, 1), onclick: neighbour(nav.next, 1) });
  const toolbar = el(
    "div",
    { class: "toolbar" },
    previousButton,
    nextButton,
    nav.total !== null && nav.total !== undefined ? el("span", { class: "muted", text: `${p.pos + 1} of ${nav.total}` }) : null,
    el("label", {}, "show", select([["gt", "ground truth"], ["pred", "predictions"], ["both", "both"]], p.view, (v) => {
      p.view = v;
      remember(["t", name, "row", String(row)], urlParams());
      redraw();
    }, { id: "view" })),
    confidence,
    scoreControl,
    el("button", { id: "fit", text: "fit", onclick: () => { fit(); redraw(); } }),
    saveButton,
    discardButton,
    addButton,
    undoButton,
    acceptButton,
    status,
    el("button", { id: "shortcuts-button", text: "?", title: "keyboard shortcuts", onclick: () => toggleSheet(!sheet) }),
  );

  // --- side panel --------------------------------------------------------------------------
  const panel = el("div", { class: "side-panel", id: "details" });

  function highlightRows() {
    for (const node of panel.querySelectorAll("tr[data-kind]")) {
      const h = ui.hover;
      const on = h && node.dataset.kind === h.kind && Number(node.dataset.instance) === h.instance && Number(node.dataset.keypoint) === h.keypoint;
      node.classList.toggle("hot", Boolean(on));
    }
  }

  function hoverRow(kind, instance, keypoint) {
    return {
      onmouseenter: () => {
        ui.hover = { kind, instance, keypoint };
        redraw();
        highlightRows();
      },
      onmouseleave: () => {
        ui.hover = null;
        redraw();
        highlightRows();
      },
    };
  }

  function gtBlock(item, i) {
    const metrics = item.source !== null ? perGt.find((m) => m.index === item.source) : null;
    const partner = metrics && metrics.partner >= 0 ? metrics.partner : null;
    const pred = partner !== null && data.pred ? partner : null;
    const head = el(
      "div",
      { class: "head" },
      el("strong", { text: `GT #${i}` }),
      item.source === null ? el("span", { class: "pill", text: "new" }) : el("span", { class: "muted", text: item.source !== i ? `(was #${item.source})` : "" }),
      select(schema.classes.map((c, j) => [String(j), c]), String(item.label), (v) => {
        item.label = Number(v);
        markDirty();
        redraw();
      }, { class: "label-select" }),
      metrics ? el("span", { class: "badge", title: "OKS with the matched prediction", text: `OKS ${fmt(metrics.oks, 3)}${partner !== null ? ` ↔ pred #${partner}` : " (unmatched)"}` }) : null,
      metrics && metrics.ignored ? el("span", { class: "pill", text: "ignored" }) : null,
      el("button", {
        class: "delete-instance",
        text: "delete",
        onclick: (e) => {
          e.stopPropagation();
          ui.draft.splice(i, 1);
          ui.selected = ui.draft.length ? Math.min(i, ui.draft.length - 1) : null;
          markDirty();
          renderPanel();
          redraw();
        },
      }),
    );
    const block = el("div", { class: `instance${ui.selected === i ? " selected" : ""}`, dataset: { instance: i }, onclick: () => { if (ui.selected !== i) { ui.selected = i; renderPanel(); redraw(); } } }, head);
    if (ui.selected !== i) return block;
    const boxInputs = item.box.map((value, j) =>
      el("input", {
        type: "number",
        step: "0.1",
        class: "box-input",
        style: "width: 82px",
        value: String(Math.round(value * 100) / 100),
        onchange: (e) => {
          item.box[j] = Number(e.target.value);
          markDirty();
          redraw();
        },
      }),
    );
    block.append(el("div", { class: "muted" }, "box x1, y1, x2, y2 (pixels)"), el("div", { class: "head" }, boxInputs));
    const rows = schema.keypoint_names.map((kpName, k) => {
      const v = item.visibility[k];
      const vis = el(
        "span",
        { class: "vis" },
        [0, 1, 2].map((value) =>
          el("button", {
            class: value === v ? "on" : "",
            dataset: { v: value },
            text: String(value),
            title: ["not labeled", "labeled, not visible", "visible"][value],
            onclick: (e) => {
              e.stopPropagation();
              setVisibility(i, k, value);
            },
          }),
        ),
      );
      const conf = pred !== null && data.pred.confidence ? data.pred.confidence[pred][k] : null;
      const kpOks = metrics && metrics.keypoint_oks ? metrics.keypoint_oks[k] : null;
      return el(
        "tr",
        { dataset: { kind: "gt", instance: i, keypoint: k }, ...hoverRow("gt", i, k) },
        el("td", {}, el("span", { class: "swatch", style: `background:${schema.keypoint_colors[k]}` }), kpName),
        el("td", { class: "num", text: v ? fmt(item.keypoints[k][0], 1) : "–" }),
        el("td", { class: "num", text: v ? fmt(item.keypoints[k][1], 1) : "–" }),
        el("td", {}, vis),
        el("td", { class: "num", title: "confidence of the matched prediction", text: fmt(conf, 2) }),
        el("td", { class: "num", title: "per-keypoint OKS term", text: fmt(kpOks, 2) }),
      );
    });
    block.append(
      el(
        "table",
        { class: "data kp-table" },
        el("thead", {}, el("tr", {}, ["keypoint", "x", "y", "v", "conf", "oks"].map((h) => el("th", { text: h })))),
        el("tbody", {}, rows),
      ),
    );
    return block;
  }

  function predBlock(j) {
    const metrics = perPred.find((m) => m.index === j);
    const score = data.pred.scores ? data.pred.scores[j] : null;
    const kept = data.pred.confidence ? data.pred.confidence[j].filter((c) => c >= p.thr).length : K;
    const below = score !== null && score < p.ithr;
    const rows = schema.keypoint_names.map((kpName, k) => {
      const c = data.pred.confidence ? data.pred.confidence[j][k] : null;
      return el(
        "tr",
        { dataset: { kind: "pred", instance: j, keypoint: k }, class: c !== null && c < p.thr ? "muted" : "", ...hoverRow("pred", j, k) },
        el("td", {}, el("span", { class: "swatch", style: `background:${schema.keypoint_colors[k]}` }), kpName),
        el("td", { class: "num", text: fmt(data.pred.keypoints[j][k][0], 1) }),
        el("td", { class: "num", text: fmt(data.pred.keypoints[j][k][1], 1) }),
        el("td", { class: "num", text: fmt(c, 2) }),
      );
    });
    return el(
      "details",
      { class: `instance pred${below ? " muted" : ""}`, dataset: { prediction: j } },
      el(
        "summary",
        {},
        `pred #${j} · score ${fmt(score, 2)}${below ? ` < ${fmt(p.ithr, 2)}: hidden, not accepted` : ""} · ${kept}/${K} keypoints ≥ ${p.thr.toFixed(2)}`,
        metrics ? ` · OKS ${fmt(metrics.oks, 3)}${metrics.partner >= 0 ? ` ↔ GT #${metrics.partner}` : " (false positive)"}` : "",
      ),
      el("table", { class: "data kp-table" }, el("thead", {}, el("tr", {}, ["keypoint", "x", "y", "conf"].map((h) => el("th", { text: h })))), el("tbody", {}, rows)),
    );
  }

  // The row's check findings (pt.check); a one-click fix where the fix is obvious, saved as a
  // new revision by POST /api/tables/NAME/fix (refused while the draft has unsaved edits).
  function fixButton(f) {
    return el("button", {
      class: "fix",
      dataset: { rule: f.rule, instance: String(f.instance) },
      text: "fix",
      title: f.fix,
      onclick: async (e) => {
        if (ui.dirty || ui.saving) {
          flash("save or discard your edits before a one-click fix");
          return;
        }
        ui.saving = true;
        e.target.disabled = true;
        try {
          const result = await postJSON(`${tablePath(name)}/fix`, { base_revision: data.revision, row: Number(row), instance: f.instance, rule: f.rule, keypoint: f.keypoint });
          flash(`${result.note}: saved as revision @${result.revision}`);
          follow(result.revision);
        } catch (error) {
          showError(error);
          e.target.disabled = false;
        } finally {
          ui.saving = false;
        }
      },
    });
  }

  function findingsBlock() {
    const items = data.findings.items;
    return el(
      "div",
      { id: "findings" },
      el("h3", { text: `check findings (${items.length})` }),
      el("table", { class: "data findings" }, el("tbody", {}, items.map((f) =>
        el("tr", { class: `finding ${f.severity}`, dataset: { rule: f.rule } },
          el("td", {}, el("span", { class: `badge sev-${f.severity}`, text: f.rule })),
          el("td", { text: f.instance !== null ? `GT #${f.instance}` : "" }),
          el("td", { text: f.keypoint !== null ? schema.keypoint_names[f.keypoint] : "" }),
          el("td", { class: "muted", text: f.message }),
          el("td", {}, f.fix && f.instance !== null ? fixButton(f) : null)),
      ))),
    );
  }

  function renderPanel() {
    const m = data.metrics;
    const blocks = [
      el("h3", { text: `row ${row} · ${String(data.image).split(/[\\/]/).pop()}` }),
      el("p", { class: "muted", text: `${data.width}×${data.height} · ${data.ref}${data.run ? ` · run ${data.run}` : ""}` }),
    ];
    if (data.run_info) {
      blocks.push(el("p", { class: "muted", text: `model: ${data.run_info.model_info.model || "?"}${data.run_info.model_info.kind ? ` (${data.run_info.model_info.kind})` : ""}` }));
    }
    if (m) {
      blocks.push(
        el(
          "p",
          {},
          el("span", { class: "badge", text: `mean OKS ${fmt(m.mean_oks, 3)}` }), " ",
          el("span", { class: "badge", text: `TP/FP/FN@.5 ${m.tp_50}/${m.fp_50}/${m.fn_50}` }), " ",
          el("span", { class: "badge", text: `AP ${fmt(m.ap, 3)}` }),
        ),
      );
      if (data.metrics_ref && data.run_info && data.metrics_ref !== data.run_info.table_ref) {
        blocks.push(el("p", { class: "muted", id: "metrics-note", text: `metrics re-evaluated on ${data.metrics_ref} (the run was made on ${data.run_info.table_ref})` }));
      }
    }
    if (data.suspect_list && data.suspect_list.length) {
      blocks.push(el("h3", { text: "label-error suspects" }));
      blocks.push(
        el(
          "table",
          { class: "data suspects" },
          el("tbody", {}, data.suspect_list.map((s) =>
            el("tr", {}, el("td", { text: s.kind }), el("td", { text: s.instance >= 0 ? `GT #${s.instance}` : "" }), el("td", { text: s.keypoint >= 0 ? schema.keypoint_names[s.keypoint] : "" }), el("td", { class: "num", text: fmt(s.score, 2) }), el("td", { class: "muted", text: s.detail })),
          )),
        ),
      );
    }
    if (data.findings && data.findings.items.length) blocks.push(findingsBlock());
    const fields = Object.entries(data.values || {}).filter(([key]) => key !== "image");
    if (fields.length) {
      blocks.push(
        el(
          "details",
          { class: "fields" },
          el("summary", { text: `columns (${fields.length})` }),
          el("table", { class: "data" }, el("tbody", {}, fields.map(([key, value]) =>
            el("tr", {}, el("th", { text: key }), el("td", { text: typeof value === "object" && value !== null ? JSON.stringify(value) : fmt(value, 4) })),
          ))),
        ),
      );
    }
    blocks.push(el("h3", { text: `ground truth (${ui.draft.length})` }));
    ui.draft.forEach((item, i) => blocks.push(gtBlock(item, i)));
    if (data.pred) {
      blocks.push(el("h3", { text: `predictions (${data.pred.count})` }));
      for (let j = 0; j < data.pred.count; j++) blocks.push(predBlock(j));
    }
    mount(panel, blocks);
    highlightRows();
  }

  mount(app, toolbar, legendNode(), el("div", { class: "viewer" }, stage, panel));
  renderPanel();
  fit();
  redraw();
  ui.redraw = redraw;
  ui.toScreen = (x, y) => toScreen(ui.view, x, y);
}

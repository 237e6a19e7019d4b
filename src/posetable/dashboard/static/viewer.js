// The image view: one image large with zoom (wheel) and pan (drag), per-instance and
// per-keypoint details with hover highlights, and editing of the ground truth: drag
// keypoints (or a rectangle selection of them, Ctrl+drag), set visibility 0/1/2, add an
// instance by drawing its box (the default pose is scaled into it), move (drag inside the
// selected box), scale (Shift+drag a corner, + / -), swap left/right or flip an instance,
// delete one, edit its box and label, and the row's sample weight; every change is one step
// of the draft's undo/redo stack and save makes them one new revision. One-click fixes,
// accepting predictions and the review keys (review_keys.js) make the page a review queue;
// rows of a video step frame by frame. Fed by GET /api/tables/NAME/rows/ROW.
import { getJSON, postJSON, tablePath } from "./api.js";
import { previewAccept } from "./accept.js";
import { boxView, drawImage, drawInstances, emptyStats, legendNode, loadImage, missingText, nearestPoint, toImage, toScreen } from "./draw.js";
import { boxFrom, clamp, fitToBox, flipHorizontal, insideBox, movePoints, moveInstance, pointsInRect, scaleInstance, swapLeftRight } from "./editor_instance.js";
import { frameBar } from "./frames.js";
import { fetchMarks, markRow, nextUnreviewed } from "./review.js";
import { reviewKeys, shortcutSheet } from "./review_keys.js";
import { makeFixer } from "./viewer_fixes.js";
import { makePanel } from "./viewer_panel.js";
import { confidenceSlider, crumbs, el, flash, fmt, go, hashFor, mount, remember, scoreInput, scoreParam, select, showError, showMessage } from "./ui.js";

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
    kpq: params.kpq || "", // the keypoint list's name search
    hide0: params.hide0 === "1" ? true : params.hide0 === "0" ? false : null, // hide v=0 rows (null: by K)
  };
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
  const [data, marks] = await Promise.all([
    getJSON(`${tablePath(name)}/rows/${row}`, {
      revision: p.rev,
      run: p.run,
      position: p.pos,
      filter: p.filter,
      sort: p.sort,
      order: p.order,
      suspect_instance: p.sinst,
      suspect_keypoint: p.skp,
    }),
    fetchMarks(name, p.rev).catch(() => null),
  ]);
  const schema = data.schema;
  const K = schema.num_keypoints;
  const gridParams = { rev: p.rev, run: p.run, view: p.view, thr: p.thr, ithr: p.ithr || "", sort: p.sort, order: p.order, filter: p.filter, offset: p.offset, limit: p.limit, sinst: p.sinst, skp: p.skp };
  crumbs([
    ["tables and runs", "#/"],
    [`${name}@${data.revision}`, `#/t/${encodeURIComponent(name)}?${new URLSearchParams(Object.entries(gridParams).filter(([, v]) => v !== "" && v !== null)).toString()}`],
    [`row ${row}`, null],
  ]);
  const values = data.values || {};
  const ui = {
    draft: draftOf(data.gt),
    hasWeight: Object.prototype.hasOwnProperty.call(values, "weight"),
    weight: values.weight ?? null,
    mark: marks && marks.marks ? marks.marks[String(row)] || null : null,
    dirty: false,
    selected: data.gt && data.gt.count ? 0 : null,
    point: null, // the keyboard's selected keypoint {instance, keypoint}
    picked: [], // a rectangle selection of points [{instance, keypoint}]
    mode: null, // "box": the next drag draws a new instance's box
    band: null, // the rectangle being drawn, screen coordinates [x1, y1, x2, y2]
    hover: null,
    view: { scale: 1, offsetX: 0, offsetY: 0 },
    cropped: null, // the instance the view is cropped to, or null
    missing: null, // the missing-image message, or null
    stats: { gt: emptyStats(), pred: emptyStats() },
    drag: null,
    saving: false,
    history: [],
    future: [],
  };
  const snapshot = () => JSON.stringify({ d: ui.draft, w: ui.weight });
  const original = snapshot();
  let committed = original;
  window.posetable.data = data;
  window.posetable.viewer = ui;
  const W = data.width;
  const H = data.height;

  const urlParams = () => ({ ...gridParams, rev: p.rev, view: p.view, thr: p.thr, ithr: p.ithr || "", pos: p.pos, kpq: p.kpq, hide0: p.hide0 === null ? "" : p.hide0 ? "1" : "0" });
  const follow = (revision) => go(["t", name, "row", String(row)], { ...urlParams(), rev: revision });
  const fixer = makeFixer({ name, row, data, ui, p, follow });
  // function declarations below are hoisted: the panel calls back into them
  const rememberUrl = () => remember(["t", name, "row", String(row)], urlParams());
  const panel = makePanel({ row, data, ui, p, fixer, markDirty, redraw, setVisibility, select: selectInstance, focusPoint, deleteInstance, setWeight, remember: rememberUrl });

  // --- canvas ------------------------------------------------------------------------------
  const canvas = el("canvas", { id: "stage-canvas" });
  const stage = el("div", { class: "stage" }, canvas);
  // the image, or a message naming the row's path when its file cannot be read
  const loaded = loadImage(data.image_url, (state) => {
    if (state.missing) {
      const text = missingText(state.missing, data.image);
      ui.missing = text;
      stage.append(el("div", { class: "missing-image", id: "missing-image", title: text, text }));
    }
    redraw();
  });
  const image = loaded.image;
  ui.image = loaded; // { image, missing, done }: tests wait for done
  const cropButton = el("button", { id: "crop", text: "crop", title: "zoom to the selected instance's box, and back (key c)", onclick: () => toggleCrop() });

  function fit() {
    const width = stage.clientWidth || 800;
    const height = stage.clientHeight || 600;
    const scale = Math.min(width / W, height / H) * 0.98;
    ui.view = { scale, offsetX: (width - W * scale) / 2, offsetY: (height - H * scale) / 2 };
    ui.cropped = null;
    cropButton.classList.remove("on");
  }

  // crop to the selected instance (small objects: hands, far people): its box, or the bounds
  // of its labelled points when the box is empty, with a margin; again (or fit) goes back
  function instanceBounds(item) {
    if (item.box[2] > item.box[0] && item.box[3] > item.box[1]) return item.box;
    const shown = item.keypoints.filter((_, k) => item.visibility[k] > 0);
    if (!shown.length) return null;
    const xs = shown.map((q) => q[0]);
    const ys = shown.map((q) => q[1]);
    return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
  }

  function toggleCrop() {
    if (ui.cropped !== null && ui.cropped === ui.selected) {
      fit();
      redraw();
      return true;
    }
    const item = selectedItem();
    if (!item) {
      showMessage("Select an instance first (Tab, or click one of its points): crop zooms to it.");
      return false;
    }
    const bounds = instanceBounds(item);
    if (!bounds) {
      showMessage(`GT #${ui.selected} has no box and no labelled keypoint to crop to.`);
      return false;
    }
    ui.view = boxView(bounds, stage.clientWidth || 800, stage.clientHeight || 600);
    ui.cropped = ui.selected;
    cropButton.classList.add("on");
    redraw();
    return true;
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
    drawImage(ctx, image, W, H, ui.view);
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
        tags: ui.draft.map((d) => (d.source !== null ? panel.gtTracks[d.source] : null)),
        focus: ui.point,
        picked: new Set(ui.picked.map((q) => `${q.instance}:${q.keypoint}`)),
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
        tags: panel.predTracks,
      });
    }
    if (ui.band) {
      const [x1, y1, x2, y2] = ui.band;
      ctx.save();
      ctx.setLineDash([6, 4]);
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = ui.drag && ui.drag.type === "newbox" ? "#ffd400" : "#00e5ff";
      ctx.strokeRect(Math.min(x1, x2), Math.min(y1, y2), Math.abs(x2 - x1), Math.abs(y2 - y1));
      ctx.restore();
    }
    canvas.dataset.gtPoints = String(ui.stats.gt.points.length);
    canvas.dataset.predPoints = String(ui.stats.pred.points.length);
    canvas.classList.toggle("drawing", ui.mode === "box");
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

  // --- the draft's undo / redo: one step per edit (a drag commits when it ends) -------------
  function commit() {
    const now = snapshot();
    if (now === committed) return;
    ui.history.push(committed);
    ui.future = [];
    committed = now;
  }

  function showDirty() {
    saveButton.disabled = !ui.dirty || ui.saving;
    discardButton.disabled = !ui.dirty;
    status.textContent = ui.dirty ? "unsaved changes" : "no unsaved changes";
    status.className = ui.dirty ? "dirty" : "muted";
  }

  function restore(text) {
    const state = JSON.parse(text);
    ui.draft = state.d;
    ui.weight = state.w;
    committed = text;
    if (ui.selected !== null && ui.selected >= ui.draft.length) ui.selected = ui.draft.length ? 0 : null;
    ui.picked = ui.picked.filter((q) => q.instance < ui.draft.length);
    if (ui.point && ui.point.instance >= ui.draft.length) ui.point = null;
    ui.dirty = text !== original;
    showDirty();
    panel.render();
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
    ui.dirty = snapshot() !== original;
    showDirty();
  }

  // an edit of the whole draft: applied, committed as one step, shown
  function edit(change) {
    if (change() === false) return;
    markDirty();
    panel.render();
    redraw();
  }

  const selectedItem = () => (ui.selected !== null ? ui.draft[ui.selected] : null);

  function selectInstance(i) {
    if (i === ui.selected) return;
    ui.selected = i;
    if (ui.point && ui.point.instance !== i) ui.point = null;
    panel.render();
    redraw();
  }

  function focusPoint(i, k) {
    ui.selected = i;
    ui.point = { instance: i, keypoint: k };
    panel.render();
    redraw();
  }

  function setVisibility(i, k, v) {
    edit(() => {
      const item = ui.draft[i];
      if (v > 0 && item.visibility[k] === 0 && item.keypoints[k][0] === 0 && item.keypoints[k][1] === 0) {
        item.keypoints[k] = [(item.box[0] + item.box[2]) / 2, (item.box[1] + item.box[3]) / 2];
      }
      item.visibility[k] = v;
    });
  }

  function deleteInstance(i) {
    edit(() => {
      ui.draft.splice(i, 1);
      ui.selected = ui.draft.length ? Math.min(i, ui.draft.length - 1) : null;
      ui.point = null;
      ui.picked = [];
    });
  }

  function setWeight(w) {
    edit(() => {
      ui.weight = w;
    });
  }

  async function addInstance(box) {
    try {
      const made = await getJSON(`${tablePath(name)}/new_instance/${row}`, { revision: data.revision, x1: box[0], y1: box[1], x2: box[2], y2: box[3] });
      edit(() => {
        delete made.pose_source;
        ui.draft.push(made);
        ui.selected = ui.draft.length - 1;
        ui.point = null;
      });
    } catch (error) {
      showError(error);
    }
  }

  // --- mouse ---------------------------------------------------------------------------------
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
    const [ix, iy] = toImage(ui.view, sx, sy);
    const editable = p.view === "gt" || p.view === "both";
    if (editable && ui.mode === "box") {
      ui.drag = { type: "newbox", start: [sx, sy] };
      ui.band = [sx, sy, sx, sy];
      return;
    }
    if (editable && (event.ctrlKey || event.metaKey)) {
      ui.drag = { type: "band", start: [sx, sy] };
      ui.band = [sx, sy, sx, sy];
      return;
    }
    const item = selectedItem();
    if (editable && item) {
      const hit = handles(item.box).find((h) => Math.hypot(h.xy[0] - sx, h.xy[1] - sy) <= 6);
      if (hit) {
        ui.drag = { type: "corner", instance: ui.selected, corner: hit.corner, start: [sx, sy], box: [...item.box], scale: event.shiftKey, origin: JSON.stringify(item) };
        return;
      }
    }
    const point = editable ? nearestPoint(ui.stats.gt, sx, sy, 9) : null;
    if (point) {
      const inPicked = ui.picked.some((q) => q.instance === point.instance && q.keypoint === point.keypoint);
      if (inPicked && ui.picked.length > 1) {
        ui.drag = { type: "points", start: [sx, sy], origins: ui.picked.map((q) => [...ui.draft[q.instance].keypoints[q.keypoint]]) };
      } else {
        const kp = ui.draft[point.instance].keypoints[point.keypoint];
        ui.drag = { type: "point", instance: point.instance, keypoint: point.keypoint, start: [sx, sy], origin: [kp[0], kp[1]] };
        ui.picked = [];
      }
      ui.selected = point.instance;
      ui.point = { instance: point.instance, keypoint: point.keypoint };
      panel.render();
      canvas.classList.add("point");
      return;
    }
    if (editable && item && insideBox(item, ix, iy) && !event.shiftKey) {
      ui.drag = { type: "instance", instance: ui.selected, start: [sx, sy], origin: JSON.stringify(item) };
      canvas.classList.add("moving");
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
        panel.highlight();
      }
      return;
    }
    const dx = (sx - drag.start[0]) / ui.view.scale;
    const dy = (sy - drag.start[1]) / ui.view.scale;
    if (drag.type === "pan") {
      ui.view = { ...ui.view, offsetX: drag.origin[0] + (sx - drag.start[0]), offsetY: drag.origin[1] + (sy - drag.start[1]) };
    } else if (drag.type === "newbox" || drag.type === "band") {
      ui.band = [drag.start[0], drag.start[1], sx, sy];
    } else if (drag.type === "point") {
      ui.draft[drag.instance].keypoints[drag.keypoint] = [clamp(drag.origin[0] + dx, 0, W), clamp(drag.origin[1] + dy, 0, H)];
      drag.moved = true;
      markDirty();
    } else if (drag.type === "points") {
      movePoints(ui.draft, ui.picked, drag.origins, dx, dy, W, H);
      drag.moved = true;
      markDirty();
    } else if (drag.type === "instance") {
      const item = JSON.parse(drag.origin);
      moveInstance(item, dx, dy, W, H);
      ui.draft[drag.instance] = item;
      drag.moved = true;
      markDirty();
    } else if (drag.type === "corner") {
      const box = [...drag.box];
      const ix = drag.corner === 0 || drag.corner === 3 ? 0 : 2;
      const iy = drag.corner === 0 || drag.corner === 1 ? 1 : 3;
      box[ix] = clamp(drag.box[ix] + dx, 0, W);
      box[iy] = clamp(drag.box[iy] + dy, 0, H);
      const ordered = [Math.min(box[0], box[2]), Math.min(box[1], box[3]), Math.max(box[0], box[2]), Math.max(box[1], box[3])];
      if (drag.scale) {
        const item = JSON.parse(drag.origin);
        fitToBox(item, drag.box, ordered);
        ui.draft[drag.instance] = item;
      } else {
        ui.draft[drag.instance].box = ordered;
      }
      drag.moved = true;
      markDirty();
    }
    redraw();
  };
  const onUp = () => {
    const drag = ui.drag;
    ui.drag = null;
    canvas.classList.remove("dragging", "point", "moving");
    if (!drag) return;
    if (drag.type === "newbox") {
      const band = ui.band;
      ui.band = null;
      ui.mode = null;
      const a = toImage(ui.view, band[0], band[1]);
      const b = toImage(ui.view, band[2], band[3]);
      const box = boxFrom(a, b, W, H);
      if (box[2] - box[0] >= 2 && box[3] - box[1] >= 2) addInstance(box);
      else showMessage("Drag a box (at least 2 pixels each way) to place the new instance.");
      redraw();
      return;
    }
    if (drag.type === "band") {
      ui.picked = pointsInRect(ui.stats.gt, ui.band);
      ui.band = null;
      if (ui.picked.length) ui.selected = ui.picked[0].instance;
      panel.render();
      redraw();
      return;
    }
    if (drag.moved) {
      commit();
      panel.render();
    }
  };

  // --- the review queue ------------------------------------------------------------------
  const nav = data.navigation || {};
  const neighbour = (target, delta) =>
    target === null || target === undefined ? null : () => go(["t", name, "row", String(target)], { ...urlParams(), pos: p.pos + delta });
  const queueParams = () => ({ revision: data.revision, run: p.run, filter: p.filter, sort: p.sort, order: p.order, suspect_instance: p.sinst, suspect_keypoint: p.skp });

  async function decide(status) {
    if (ui.dirty) {
      showMessage(`Save or discard your edits first: ${status === "rejected" ? "rejecting" : "skipping"} keeps the labels as they are.`);
      return;
    }
    try {
      const answer = await markRow(name, data.revision, row, status);
      ui.mark = answer.mark;
      const next = neighbour(nav.next, 1);
      if (next) {
        flash(`row ${row} marked ${status}`);
        next();
      } else {
        showMessage(`row ${row} marked ${status}; it is the last of this set`, { ok: true });
        panel.render();
      }
    } catch (error) {
      showError(error);
    }
  }

  async function goUnreviewed() {
    try {
      const found = await nextUnreviewed(name, { ...queueParams(), position: p.pos ?? -1 });
      if (found.row === null) showMessage("every later image of this set is reviewed", { ok: true });
      else go(["t", name, "row", String(found.row)], { ...urlParams(), pos: found.position });
    } catch (error) {
      showError(error);
    }
  }

  const frameStep = { step: () => false };
  const openFrame = (target) => go(["t", name, "row", String(target)], { ...urlParams(), pos: "" });

  // keyboard actions (review_keys.js maps the keys)
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
  const needInstance = () => {
    if (selectedItem()) return true;
    showMessage("Select an instance first (Tab, or click one of its points).");
    return false;
  };
  const focused = () => ui.point || (ui.hover && ui.hover.kind === "gt" ? ui.hover : null);
  const onKey = reviewKeys({
    next: () => (nextButton.disabled ? false : nextButton.click()),
    previous: () => (previousButton.disabled ? false : previousButton.click()),
    reject: () => decide("rejected"),
    skip: () => decide("skipped"),
    nextUnreviewed: () => goUnreviewed(),
    frame: (e) => frameStep.step(e.key === "," ? -1 : 1),
    instance: (e) => {
      if (!ui.draft.length) return false;
      const step = e.shiftKey ? -1 : 1;
      const at = ui.selected === null ? (step > 0 ? 0 : ui.draft.length - 1) : (ui.selected + step + ui.draft.length) % ui.draft.length;
      ui.point = null;
      selectInstance(at);
      return true;
    },
    point: (e) => {
      if (!needInstance()) return;
      const item = selectedItem();
      const step = e.key === "]" ? 1 : -1;
      const start = ui.point && ui.point.instance === ui.selected ? ui.point.keypoint : step > 0 ? -1 : 0;
      focusPoint(ui.selected, (start + step + K) % K);
      return item !== null;
    },
    visibility: (e) => {
      const target = focused();
      if (!target) {
        showMessage("Select a keypoint first (] / [ or click it), or point at one.");
        return;
      }
      setVisibility(target.instance, target.keypoint, Number(e.key));
    },
    acceptInstance: () => {
      if (!needInstance()) return;
      const item = selectedItem();
      const partner = fixer.partnerOf(item.source);
      if (!p.run || partner === null) {
        showMessage(p.run ? `GT #${ui.selected} has no matched prediction to accept` : "Choose a run first: accepting takes its prediction.");
        return;
      }
      fixer.runFix("accept_instance", { instance: item.source, prediction: partner }, null);
    },
    snap: () => {
      const target = focused();
      if (!target) {
        showMessage("Select a keypoint first (] / [ or click it).");
        return;
      }
      const item = ui.draft[target.instance];
      const partner = fixer.partnerOf(item.source);
      if (!p.run || partner === null) {
        showMessage(p.run ? `GT #${target.instance} has no matched prediction to snap to` : "Choose a run first: snapping takes its prediction.");
        return;
      }
      fixer.runFix("snap_keypoint", { instance: item.source, prediction: partner, keypoint: target.keypoint }, null);
    },
    swap: () => {
      if (!needInstance()) return;
      if (!schema.flip_indices) {
        showMessage("This table has no flip indices: left and right cannot be swapped.");
        return;
      }
      edit(() => swapLeftRight(selectedItem(), schema.flip_indices));
    },
    flip: () => needInstance() && edit(() => flipHorizontal(selectedItem(), schema.flip_indices)),
    nudge: (e) => {
      const step = e.altKey ? 10 : 1;
      const d = { ArrowLeft: [-step, 0], ArrowRight: [step, 0], ArrowUp: [0, -step], ArrowDown: [0, step] }[e.key];
      if (!d) return false;
      if (ui.picked.length) {
        const origins = ui.picked.map((q) => [...ui.draft[q.instance].keypoints[q.keypoint]]);
        edit(() => movePoints(ui.draft, ui.picked, origins, d[0], d[1], W, H));
      } else if (needInstance()) {
        edit(() => moveInstance(selectedItem(), d[0], d[1], W, H));
      }
    },
    scale: (e) => needInstance() && edit(() => scaleInstance(selectedItem(), e.key === "-" ? 1 / 1.1 : 1.1, W, H)),
    drawBox: () => {
      ui.mode = ui.mode === "box" ? null : "box";
      showMessage(ui.mode === "box" ? "Drag a box on the image: the default pose is scaled into it (Esc cancels)." : "", { ok: true });
      redraw();
    },
    deleteInstance: () => needInstance() && deleteInstance(ui.selected),
    save: () => (saveButton.disabled ? false : saveButton.click()),
    undo: () => undoStep(),
    redo: () => redoStep(),
    fit: () => {
      fit();
      redraw();
    },
    crop: () => toggleCrop(),
    sheet: () => toggleSheet(!sheet),
    escape: () => {
      if (sheet) toggleSheet(false);
      else if (ui.mode) {
        ui.mode = null;
        ui.band = null;
        showMessage("");
      } else {
        ui.picked = [];
        ui.point = null;
        panel.render();
      }
      redraw();
      return false;
    },
  });
  window.addEventListener("mousemove", onMove);
  window.addEventListener("mouseup", onUp);
  window.addEventListener("keydown", onKey);
  const onResize = () => redraw();
  window.addEventListener("resize", onResize);
  // unsaved edits: closing or reloading the tab asks the browser's question, and every
  // in-app navigation (other row, frame, grid, back) asks ours (main.js calls the guard)
  const onBeforeUnload = (event) => {
    if (!ui.dirty) return;
    event.preventDefault();
    event.returnValue = "";
  };
  window.addEventListener("beforeunload", onBeforeUnload);
  window.posetable.guard = () => !ui.dirty || window.confirm(`Row ${row} has unsaved keypoint edits. Leave without saving them?`);
  window.posetable.cleanup = () => {
    window.removeEventListener("beforeunload", onBeforeUnload);
    window.removeEventListener("mousemove", onMove);
    window.removeEventListener("mouseup", onUp);
    window.removeEventListener("keydown", onKey);
    window.removeEventListener("resize", onResize);
    toggleSheet(false);
  };

  // --- actions -----------------------------------------------------------------------------
  const status = el("span", { id: "status", class: "muted", text: data.revision === data.latest_revision ? "latest revision" : `viewing @${data.revision}; the latest is @${data.latest_revision}` });
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
      const sent = snapshot();
      const body = { instances: JSON.parse(sent).d };
      if (ui.hasWeight && ui.weight !== values.weight) body.weight = ui.weight;
      try {
        const result = await postJSON(`${tablePath(name)}/edit`, { base_revision: data.revision, rows: { [row]: body } });
        ui.dirty = snapshot() !== sent; // edits made meanwhile are still unsaved
        await markRow(name, result.revision, row, "edited").catch(() => null);
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
    title: "the default pose at the view's centre (to draw its box instead: draw box, or key b)",
    onclick: async () => {
      const width = stage.clientWidth || 800;
      const height = stage.clientHeight || 600;
      const [cx, cy] = toImage(ui.view, width / 2, height / 2);
      try {
        const made = await getJSON(`${tablePath(name)}/new_instance/${row}`, { revision: data.revision, x: clamp(cx, 0, W), y: clamp(cy, 0, H) });
        edit(() => {
          delete made.pose_source;
          ui.draft.push(made);
          ui.selected = ui.draft.length - 1;
        });
      } catch (error) {
        showError(error);
      }
    },
  });
  const boxButton = el("button", { id: "draw-box", text: "draw box", title: "drag a box on the image: the default pose is scaled into it (key b)", onclick: () => onKey(new KeyboardEvent("keydown", { key: "b" })) });
  const swapButton = el("button", { id: "swap-lr", text: "swap L/R", title: "swap the left and right names of the selected instance (key m)", disabled: !schema.flip_indices, onclick: () => onKey(new KeyboardEvent("keydown", { key: "m" })) });
  const flipButton = el("button", { id: "flip-h", text: "flip", title: "flip the selected instance horizontally (key h)", onclick: () => onKey(new KeyboardEvent("keydown", { key: "h" })) });
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
        onWritten: async (result) => {
          ui.dirty = false;
          await markRow(name, result.revision, row, "accepted").catch(() => null);
          flash(`accepted the predictions of ${p.run} at keypoint confidence ≥ ${p.thr.toFixed(2)}, instance score ≥ ${fmt(p.ithr, 2)}: revision @${result.revision}`);
          follow(result.revision);
        },
      }),
  });
  const onThresholds = () => {
    redraw();
    panel.render();
    remember(["t", name, "row", String(row)], urlParams());
  };
  const confidence = confidenceSlider(p, { disabled: !data.pred, onChange: onThresholds });
  const scoreControl = scoreInput(p, { disabled: !data.pred, onChange: onThresholds });
  const previousButton = el("button", { id: "previous-row", text: "‹ previous", title: "previous image (← or k)", disabled: !neighbour(nav.previous, -1), onclick: neighbour(nav.previous, -1) });
  const nextButton = el("button", { id: "next-row", text: "next ›", title: "next image (→ or j)", disabled: !neighbour(nav.next, 1), onclick: neighbour(nav.next, 1) });
  const reviewButtons = el(
    "span",
    { class: "review-buttons" },
    el("button", { id: "reject-row", text: "reject", title: "reviewed: keep the labels as they are, go to the next image (key x)", onclick: () => decide("rejected") }),
    el("button", { id: "skip-row", text: "skip", title: "leave for later, go to the next image (key n)", onclick: () => decide("skipped") }),
    marks ? el("span", { class: "muted", id: "review-count", text: `${marks.reviewed} of ${marks.rows} reviewed` }) : null,
  );
  const frameSlot = el("span", { id: "frame-slot" });
  const links = el(
    "span",
    { class: "viewer-links" },
    data.parent !== null && data.parent !== undefined
      ? el("a", { id: "diff-link", href: hashFor(["t", name, "diff"], { from: data.parent, to: data.revision, sel: data.sample_id }), title: `what revision @${data.revision} changed in this row against its parent @${data.parent}`, text: `diff with parent @${data.parent}` })
      : null,
    p.run ? el("a", { id: "diagnosis-link", href: hashFor(["runs", p.run, "diagnosis"], { table: name, rev: data.revision }), title: `the diagnosis of run ${p.run} on ${name}@${data.revision}`, text: "diagnosis" }) : null,
  );
  const toolbar = el(
    "div",
    { class: "toolbar" },
    previousButton,
    nextButton,
    nav.total !== null && nav.total !== undefined ? el("span", { class: "muted", id: "queue-position", text: `${p.pos + 1} of ${nav.total}` }) : null,
    reviewButtons,
    frameSlot,
    el("label", {}, "show", select([["gt", "ground truth"], ["pred", "predictions"], ["both", "both"]], p.view, (v) => {
      p.view = v;
      remember(["t", name, "row", String(row)], urlParams());
      redraw();
    }, { id: "view" })),
    confidence,
    scoreControl,
    el("button", { id: "fit", text: "fit", onclick: () => { fit(); redraw(); } }),
    cropButton,
    saveButton,
    discardButton,
    addButton,
    boxButton,
    swapButton,
    flipButton,
    undoButton,
    acceptButton,
    status,
    links,
    el("button", { id: "shortcuts-button", text: "?", title: "keyboard shortcuts", onclick: () => toggleSheet(!sheet) }),
  );

  mount(app, toolbar, legendNode(), el("div", { class: "viewer" }, stage, panel.node));
  panel.render();
  fit();
  redraw();
  ui.redraw = redraw;
  ui.undo = () => undoStep();
  ui.toScreen = (x, y) => toScreen(ui.view, x, y);
  if (Object.prototype.hasOwnProperty.call(values, "video")) {
    try {
      const bar = await frameBar(name, row, data.revision, openFrame);
      frameStep.step = bar.step;
      ui.frames = bar.frames;
      if (bar.node) frameSlot.replaceWith(bar.node);
    } catch (error) {
      showError(error);
    }
  }
}

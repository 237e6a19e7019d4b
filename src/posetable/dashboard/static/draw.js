// Canvas overlays: keypoints coloured per keypoint, skeleton lines, boxes and labels.
// Ground truth: v=2 filled circle, v=1 hollow circle, v=0 hidden, solid lines and boxes.
// Predictions: filled diamonds, dashed lines and boxes; keypoints whose confidence is below
// the threshold are hidden, and so are whole instances scoring below minScore. Every call returns what it drew, so tests can read it back.
// Bones are coloured by limb (left side orange, right side blue, centre grey, as COCO tools
// draw them) unless the schema names its own line colours; boxes and labels by class (the
// first six classes keep fixed colours, more classes get golden-angle hues).

const CLASS_COLORS = ["#ffffff", "#ffd400", "#00e5ff", "#ff5cf0", "#9cff57", "#ff8a65"];
const GOLDEN_ANGLE = 137.508;

function hslHex(hue, saturation, lightness) {
  const a = saturation * Math.min(lightness, 1 - lightness);
  const channel = (n) => {
    const k = (n + hue / 30) % 12;
    const value = lightness - a * Math.max(-1, Math.min(k - 3, 9 - k, 1));
    return Math.round(value * 255).toString(16).padStart(2, "0");
  };
  return `#${channel(0)}${channel(8)}${channel(4)}`;
}

// The colour of class `label`: six fixed colours, then golden-angle hues in two lightness
// and two saturation tiers, so 54 classes (AP-10K) stay apart (CIE76 distance > 10).
export function classColor(label) {
  const i = Math.max(0, Math.trunc(Number(label) || 0));
  if (i < CLASS_COLORS.length) return CLASS_COLORS[i];
  const j = i - CLASS_COLORS.length;
  const hue = (75 + j * GOLDEN_ANGLE) % 360;
  return hslHex(hue, j % 4 < 2 ? 0.9 : 0.6, j % 2 === 0 ? 0.55 : 0.7);
}

// "left" / "right" when a keypoint name says so (left_wrist, L_ear, earR, leftEye), else null.
export function nameSide(name) {
  const text = String(name);
  const tokens = text
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .replace(/([A-Z])([A-Z][a-z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z]+/)
    .filter(Boolean);
  for (const token of tokens) {
    if (token === "left" || token === "l" || token === "lt") return "left";
    if (token === "right" || token === "r" || token === "rt") return "right";
  }
  const lower = text.toLowerCase();
  if (/^left|left$/.test(lower)) return "left";
  if (/^right|right$/.test(lower)) return "right";
  return null;
}

// The body side of every keypoint: "left" / "right" from the names (a flipped point without
// a side word takes the opposite of its partner's), "centre" otherwise. Schemas whose names
// name no side at all but have flip indices: the first point of each flip pair is "left".
export function keypointSides(schema) {
  const names = schema.keypoint_names || [];
  const flips = schema.flip_indices;
  let sides = names.map(nameSide);
  const opposite = { left: "right", right: "left" };
  if (flips) {
    sides = sides.map((s, k) => s ?? (flips[k] !== k && sides[flips[k]] ? opposite[sides[flips[k]]] : null));
    if (!sides.some(Boolean)) sides = flips.map((f, k) => (f === k ? null : k < f ? "left" : "right"));
  }
  return sides.map((s) => s || "centre");
}

const SIDE_HUES = { left: 30, right: 210 };

// One colour per skeleton line and its side: left limbs in an orange family, right limbs in
// a blue family, lines on the centre (or joining left to right) grey. A schema's own line
// colours (any that differ from the default, the colour of the line's first keypoint) win.
export function boneColors(schema) {
  if (schema._bones) return schema._bones;
  const lines = schema.lines || [];
  const given = schema.line_colors && lines.some((line, l) => schema.line_colors[l] !== schema.keypoint_colors[line[0]]);
  const sides = keypointSides(schema);
  const counts = { left: 0, right: 0, centre: 0 };
  const out = { sides: [], colors: [], given: Boolean(given) };
  for (const [l, [a, b]] of lines.entries()) {
    const sa = sides[a] || "centre";
    const sb = sides[b] || "centre";
    const side = sa === sb ? sa : sa === "centre" ? sb : sb === "centre" ? sa : "centre";
    const j = counts[side]++;
    out.sides.push(side);
    if (given) out.colors.push(schema.line_colors[l]);
    else if (side === "centre") out.colors.push(hslHex(0, 0, [0.82, 0.7, 0.9][j % 3]));
    else out.colors.push(hslHex(SIDE_HUES[side] + [0, -10, 10, -5, 5][j % 5], 1, [0.55, 0.65, 0.47][j % 3]));
  }
  Object.defineProperty(schema, "_bones", { value: out, enumerable: false });
  return out;
}

// A view maps image pixels to canvas pixels: screen = image * scale + offset.
export function makeView(scale, offsetX = 0, offsetY = 0) {
  return { scale, offsetX, offsetY };
}

export function toScreen(view, x, y) {
  return [x * view.scale + view.offsetX, y * view.scale + view.offsetY];
}

export function toImage(view, sx, sy) {
  return [(sx - view.offsetX) / view.scale, (sy - view.offsetY) / view.scale];
}

function shown(instances, kind, i, k, threshold) {
  if (kind === "gt") {
    const v = instances.visibility ? instances.visibility[i][k] : 2;
    return v > 0;
  }
  const c = instances.confidence ? instances.confidence[i][k] : 1;
  return c >= threshold;
}

export function emptyStats() {
  return { points: [], lines: 0, boxes: 0, hidden: 0, filled: 0, hollow: 0, hiddenInstances: 0, picked: 0, focused: null, bones: [], labels: [] };
}

// Draw one row's instances. options: kind ("gt" | "pred"), threshold, minScore (predictions
// scoring below it are not drawn: a threshold keeps what is >= it), radius, lineWidth,
// boxes, labels, classes, highlight {instance, keypoint}, selected (instance index), dim,
// tags (per instance: a text such as "track 3" added to its label, or null), focus
// {instance, keypoint} (the keyboard's selected point: a yellow ring), picked (a Set of
// "instance:keypoint" keys: points of a rectangle selection, a square).
export function drawInstances(ctx, instances, schema, view, options = {}) {
  const stats = emptyStats();
  if (!instances || !instances.count) return stats;
  const kind = options.kind || "gt";
  const threshold = options.threshold ?? 0;
  const radius = options.radius ?? 3;
  const lineWidth = options.lineWidth ?? 1.5;
  const colors = schema.keypoint_colors;
  const bones = boneColors(schema);
  const highlight = options.highlight || {};
  ctx.save();
  ctx.lineCap = "round";
  const minScore = options.minScore ?? null;
  for (let i = 0; i < instances.count; i++) {
    if (kind === "pred" && minScore !== null && instances.scores && instances.scores[i] < minScore) {
      stats.hiddenInstances += 1;
      continue;
    }
    const points = instances.keypoints[i];
    const label = instances.labels ? instances.labels[i] : 0;
    const dim = options.dim && options.selected !== undefined && options.selected !== null && options.selected !== i;
    ctx.globalAlpha = dim ? 0.35 : 1;
    const box = instances.boxes ? instances.boxes[i] : null;
    if (box && options.boxes !== false && box[2] > box[0] && box[3] > box[1]) {
      const [x1, y1] = toScreen(view, box[0], box[1]);
      const [x2, y2] = toScreen(view, box[2], box[3]);
      ctx.setLineDash(kind === "pred" ? [5, 4] : []);
      ctx.strokeStyle = classColor(label);
      ctx.lineWidth = options.selected === i || highlight.instance === i ? 2.5 : 1;
      ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
      stats.boxes += 1;
      if (options.labels !== false) {
        const name = schema.classes[label] ?? String(label);
        const score = kind === "pred" && instances.scores ? ` ${instances.scores[i].toFixed(2)}` : "";
        const tag = options.tags && options.tags[i] ? ` · ${options.tags[i]}` : "";
        const text = `${kind === "pred" ? "pred " : ""}${name}${score}${tag}`;
        ctx.font = "11px system-ui, sans-serif";
        const width = ctx.measureText(text).width + 6;
        ctx.fillStyle = "rgba(0,0,0,0.6)";
        ctx.fillRect(x1, Math.max(0, y1 - 14), width, 14);
        ctx.fillStyle = classColor(label);
        ctx.fillText(text, x1 + 3, Math.max(0, y1 - 14) + 11);
        stats.labels.push({ instance: i, label, text, color: classColor(label) });
      }
    }
    ctx.setLineDash(kind === "pred" ? [4, 3] : []);
    ctx.lineWidth = lineWidth;
    schema.lines.forEach(([a, b], l) => {
      if (!shown(instances, kind, i, a, threshold) || !shown(instances, kind, i, b, threshold)) return;
      const [xa, ya] = toScreen(view, points[a][0], points[a][1]);
      const [xb, yb] = toScreen(view, points[b][0], points[b][1]);
      ctx.strokeStyle = bones.colors[l] || colors[a];
      ctx.beginPath();
      ctx.moveTo(xa, ya);
      ctx.lineTo(xb, yb);
      ctx.stroke();
      stats.lines += 1;
      stats.bones.push({ instance: i, line: l, side: bones.sides[l], color: bones.colors[l] || colors[a] });
    });
    ctx.setLineDash([]);
    for (let k = 0; k < points.length; k++) {
      const [sx, sy] = toScreen(view, points[k][0], points[k][1]);
      if (!shown(instances, kind, i, k, threshold)) {
        stats.hidden += 1;
        continue;
      }
      const v = kind === "gt" && instances.visibility ? instances.visibility[i][k] : 2;
      const hot = highlight.instance === i && highlight.keypoint === k;
      const r = hot ? radius * 1.8 : radius;
      ctx.beginPath();
      if (kind === "pred") {
        ctx.moveTo(sx, sy - r * 1.25);
        ctx.lineTo(sx + r * 1.25, sy);
        ctx.lineTo(sx, sy + r * 1.25);
        ctx.lineTo(sx - r * 1.25, sy);
        ctx.closePath();
      } else {
        ctx.arc(sx, sy, r, 0, Math.PI * 2);
      }
      if (v === 2) {
        ctx.fillStyle = colors[k];
        ctx.fill();
        ctx.lineWidth = 1;
        ctx.strokeStyle = "rgba(0,0,0,0.7)";
        ctx.stroke();
        stats.filled += 1;
      } else {
        ctx.lineWidth = 2;
        ctx.strokeStyle = colors[k];
        ctx.stroke();
        stats.hollow += 1;
      }
      if (hot) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#ffffff";
        ctx.beginPath();
        ctx.arc(sx, sy, r + 3, 0, Math.PI * 2);
        ctx.stroke();
      }
      if (options.focus && options.focus.instance === i && options.focus.keypoint === k) {
        ctx.lineWidth = 2;
        ctx.strokeStyle = "#ffd400";
        ctx.beginPath();
        ctx.arc(sx, sy, r + 6, 0, Math.PI * 2);
        ctx.stroke();
        stats.focused = { instance: i, keypoint: k, x: sx, y: sy };
      }
      if (options.picked && options.picked.has(`${i}:${k}`)) {
        ctx.lineWidth = 1.5;
        ctx.strokeStyle = "#00e5ff";
        ctx.strokeRect(sx - r - 4, sy - r - 4, 2 * r + 8, 2 * r + 8);
        stats.picked += 1;
      }
      stats.points.push({ instance: i, keypoint: k, x: sx, y: sy, v, color: colors[k], kind });
    }
  }
  ctx.restore();
  return stats;
}

// The image under the overlays, scaled by the same view (or a placeholder while loading).
export function drawImage(ctx, image, width, height, view) {
  const [x, y] = toScreen(view, 0, 0);
  if (image && image.complete && image.naturalWidth > 0) {
    ctx.drawImage(image, x, y, width * view.scale, height * view.scale);
  } else {
    ctx.fillStyle = "#2a2d33";
    ctx.fillRect(x, y, width * view.scale, height * view.scale);
  }
}

// Load an image from the API: { image, missing, done } where `missing` is null, or
// { path, reason } when the server sent a placeholder because the row's file cannot be read
// (its X-Posetable-Missing header: the path as the table row names it) or the request failed.
// onDone(state) is called once the image (or the placeholder) is decoded, or on failure.
export function loadImage(url, onDone) {
  const image = new Image();
  const state = { image, missing: null, done: false };
  const finish = () => {
    state.done = true;
    onDone(state);
  };
  fetch(url)
    .then(async (response) => {
      const path = response.headers.get("X-Posetable-Missing");
      if (path !== null) {
        let decoded = path;
        try {
          decoded = decodeURIComponent(path);
        } catch (error) {
          decoded = path;
        }
        state.missing = { path: decoded, reason: response.headers.get("X-Posetable-Missing-Reason") || "image not found" };
      }
      if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
      const objectUrl = URL.createObjectURL(await response.blob());
      image.onload = () => {
        URL.revokeObjectURL(objectUrl);
        finish();
      };
      image.onerror = () => {
        URL.revokeObjectURL(objectUrl);
        state.missing = state.missing || { path: null, reason: "image could not be decoded" };
        finish();
      };
      image.src = objectUrl;
    })
    .catch((error) => {
      state.missing = state.missing || { path: null, reason: `image could not be loaded (${error.message})` };
      finish();
    });
  return state;
}

// The text shown for a missing image, e.g. "image not found: images/000000000785.jpg".
export function missingText(missing, fallbackPath = "") {
  if (!missing) return "";
  const path = missing.path ?? fallbackPath;
  return path ? `${missing.reason}: ${path}` : missing.reason;
}

// The view that shows image box [x1, y1, x2, y2] in a width x height canvas with a margin
// (a fraction of the box's larger side, at least `minPixels` image pixels each way).
export function boxView(box, width, height, margin = 0.15, minPixels = 8) {
  const bw = Math.max(box[2] - box[0], 1);
  const bh = Math.max(box[3] - box[1], 1);
  const pad = Math.max(minPixels, margin * Math.max(bw, bh));
  const x1 = box[0] - pad;
  const y1 = box[1] - pad;
  const w = bw + 2 * pad;
  const h = bh + 2 * pad;
  const scale = Math.min(64, Math.min(width / w, height / h));
  return { scale, offsetX: (width - w * scale) / 2 - x1 * scale, offsetY: (height - h * scale) / 2 - y1 * scale };
}

// The keypoint nearest a canvas point within `reach` pixels, or null.
export function nearestPoint(stats, sx, sy, reach = 10) {
  let best = null;
  let bestDistance = reach;
  for (const point of stats.points) {
    const distance = Math.hypot(point.x - sx, point.y - sy);
    if (distance <= bestDistance) {
      best = point;
      bestDistance = distance;
    }
  }
  return best;
}

export function formatNumber(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") {
    if (Number.isInteger(value)) return String(value);
    return value.toFixed(digits);
  }
  return String(value);
}

// The legend of what the overlays mean, drawn by the same marks as drawInstances: GT v=2
// (filled circle), GT v=1 (hollow circle), GT skeleton and box (solid), predictions
// (diamonds, dashed skeleton and box), low-confidence predicted keypoints (not drawn).
export function legendNode() {
  const items = [
    ["gt-visible", "GT v=2 visible"],
    ["gt-hidden", "GT v=1 labeled, not visible"],
    ["gt-line", "GT skeleton / box"],
    ["pred-point", "prediction keypoint"],
    ["pred-line", "prediction skeleton / box (dashed)"],
  ];
  const box = document.createElement("div");
  box.className = "legend overlay-legend";
  box.id = "legend";
  for (const [kind, text] of items) {
    const canvas = document.createElement("canvas");
    canvas.width = 28;
    canvas.height = 16;
    canvas.dataset.kind = kind;
    const ctx = canvas.getContext("2d");
    ctx.strokeStyle = "#4da3ff";
    ctx.fillStyle = "#4da3ff";
    ctx.lineWidth = 2;
    ctx.beginPath();
    if (kind === "gt-visible") {
      ctx.arc(14, 8, 5, 0, Math.PI * 2);
      ctx.fill();
    } else if (kind === "gt-hidden") {
      ctx.arc(14, 8, 5, 0, Math.PI * 2);
      ctx.stroke();
    } else if (kind === "pred-point") {
      ctx.moveTo(14, 2);
      ctx.lineTo(20, 8);
      ctx.lineTo(14, 14);
      ctx.lineTo(8, 8);
      ctx.closePath();
      ctx.fill();
    } else {
      ctx.setLineDash(kind === "pred-line" ? [4, 3] : []);
      ctx.moveTo(2, 8);
      ctx.lineTo(26, 8);
      ctx.stroke();
    }
    const item = document.createElement("span");
    item.append(canvas, " ", text);
    box.append(item);
  }
  const limbs = document.createElement("span");
  limbs.className = "legend-bones";
  limbs.title = "skeleton lines are coloured by limb unless the table's schema names line colours";
  limbs.append("bones:");
  for (const [side, color] of [["left", hslHex(30, 1, 0.55)], ["right", hslHex(210, 1, 0.55)], ["centre", hslHex(0, 0, 0.82)]]) {
    const swatch = document.createElement("span");
    swatch.className = "bone-swatch";
    swatch.dataset.side = side;
    swatch.style.background = color;
    limbs.append(" ", swatch, ` ${side}`);
  }
  box.append(limbs);
  const note = document.createElement("span");
  note.className = "muted";
  note.textContent = "v=0 and predicted keypoints under the confidence threshold are not drawn";
  box.append(note);
  return box;
}

// Canvas overlays: keypoints coloured per keypoint, skeleton lines, boxes and labels.
// Ground truth: v=2 filled circle, v=1 hollow circle, v=0 hidden, solid lines and boxes.
// Predictions: filled diamonds, dashed lines and boxes; keypoints whose confidence is below
// the threshold are hidden, and so are whole instances scoring below minScore. Every call returns what it drew, so tests can read it back.

const CLASS_COLORS = ["#ffffff", "#ffd400", "#00e5ff", "#ff5cf0", "#9cff57", "#ff8a65"];

export function classColor(label) {
  return CLASS_COLORS[((label % CLASS_COLORS.length) + CLASS_COLORS.length) % CLASS_COLORS.length];
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
  return { points: [], lines: 0, boxes: 0, hidden: 0, filled: 0, hollow: 0, hiddenInstances: 0, picked: 0, focused: null };
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
  const lineColors = schema.line_colors;
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
      }
    }
    ctx.setLineDash(kind === "pred" ? [4, 3] : []);
    ctx.lineWidth = lineWidth;
    schema.lines.forEach(([a, b], l) => {
      if (!shown(instances, kind, i, a, threshold) || !shown(instances, kind, i, b, threshold)) return;
      const [xa, ya] = toScreen(view, points[a][0], points[a][1]);
      const [xb, yb] = toScreen(view, points[b][0], points[b][1]);
      ctx.strokeStyle = lineColors[l] || colors[a];
      ctx.beginPath();
      ctx.moveTo(xa, ya);
      ctx.lineTo(xb, yb);
      ctx.stroke();
      stats.lines += 1;
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
  const note = document.createElement("span");
  note.className = "muted";
  note.textContent = "v=0 and predicted keypoints under the confidence threshold are not drawn";
  box.append(note);
  return box;
}

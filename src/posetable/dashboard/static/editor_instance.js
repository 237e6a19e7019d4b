// Whole-instance edits of the image view's draft, as plain functions over one draft instance
// ({source, keypoints: [[x, y]...], visibility: [...], box: [x1, y1, x2, y2], label}):
// move, scale, swap left/right (the flip indices name each point's mirror partner: the
// points stay, the names swap), flip horizontally (the points mirror about the box's
// centre line and the names follow the flip indices, as a horizontal-flip augmentation
// does), and the rectangle selection of points. Every function changes the instance in
// place; the viewer commits one undo step per action.

// Clamp a value into [low, high].
export function clamp(value, low, high) {
  return Math.min(high, Math.max(low, value));
}

// A box from two corners, ordered and clamped into the image.
export function boxFrom(a, b, width, height) {
  const x1 = clamp(Math.min(a[0], b[0]), 0, width);
  const y1 = clamp(Math.min(a[1], b[1]), 0, height);
  const x2 = clamp(Math.max(a[0], b[0]), 0, width);
  const y2 = clamp(Math.max(a[1], b[1]), 0, height);
  return [x1, y1, x2, y2];
}

// Move the instance (its labeled points and box) by (dx, dy) image pixels, kept inside the
// image: the move is cut short where the box would leave it.
export function moveInstance(item, dx, dy, width, height) {
  const [x1, y1, x2, y2] = item.box;
  const hasBox = x2 > x1 && y2 > y1;
  if (hasBox) {
    dx = clamp(dx, -x1, width - x2);
    dy = clamp(dy, -y1, height - y2);
  }
  item.keypoints = item.keypoints.map(([x, y], k) =>
    item.visibility[k] > 0 ? [clamp(x + dx, 0, width), clamp(y + dy, 0, height)] : [x, y],
  );
  if (hasBox) item.box = [x1 + dx, y1 + dy, x2 + dx, y2 + dy];
  return [dx, dy];
}

// Scale the instance by `factor` about (cx, cy) (default: its box's centre), clamped into
// the image.
export function scaleInstance(item, factor, width, height, cx = null, cy = null) {
  const [x1, y1, x2, y2] = item.box;
  const ox = cx ?? (x1 + x2) / 2;
  const oy = cy ?? (y1 + y2) / 2;
  const at = ([x, y]) => [clamp(ox + (x - ox) * factor, 0, width), clamp(oy + (y - oy) * factor, 0, height)];
  item.keypoints = item.keypoints.map((p, k) => (item.visibility[k] > 0 ? at(p) : p));
  if (x2 > x1 && y2 > y1) {
    const [a, b] = [at([x1, y1]), at([x2, y2])];
    item.box = [a[0], a[1], b[0], b[1]];
  }
}

// Map the instance's points from box `from` to box `to` (each axis stretched on its own):
// what dragging a box corner with Shift does.
export function fitToBox(item, from, to) {
  const sx = from[2] > from[0] ? (to[2] - to[0]) / (from[2] - from[0]) : 1;
  const sy = from[3] > from[1] ? (to[3] - to[1]) / (from[3] - from[1]) : 1;
  item.keypoints = item.keypoints.map(([x, y], k) =>
    item.visibility[k] > 0 ? [to[0] + (x - from[0]) * sx, to[1] + (y - from[1]) * sy] : [x, y],
  );
  item.box = [...to];
}

function partner(flips, k) {
  return flips && Number.isInteger(flips[k]) ? flips[k] : k;
}

// Swap left and right: each point takes its mirror partner's position and visibility (the
// points stay where they are; "left_wrist" becomes what "right_wrist" was). Returns false
// when the schema has no flip indices.
export function swapLeftRight(item, flips) {
  if (!flips) return false;
  const points = item.keypoints.map((_, k) => [...item.keypoints[partner(flips, k)]]);
  const vis = item.visibility.map((_, k) => item.visibility[partner(flips, k)]);
  item.keypoints = points;
  item.visibility = vis;
  return true;
}

// Flip horizontally about the box's vertical centre line; names follow the flip indices
// (a left point lands where its right partner's mirror image is), so the flipped person is
// labeled as a flipped photo would be. Without flip indices the points mirror in place.
export function flipHorizontal(item, flips) {
  const [x1, , x2] = item.box;
  let cx = (x1 + x2) / 2;
  if (!(x2 > x1)) {
    const xs = item.keypoints.filter((_, k) => item.visibility[k] > 0).map((p) => p[0]);
    cx = xs.length ? (Math.min(...xs) + Math.max(...xs)) / 2 : 0;
  }
  const mirrored = item.keypoints.map(([x, y]) => [2 * cx - x, y]);
  item.keypoints = item.keypoints.map((_, k) => [...mirrored[partner(flips, k)]]);
  item.visibility = item.visibility.map((_, k) => item.visibility[partner(flips, k)]);
}

// The box around the labeled points (null without any).
export function boxOfPoints(item) {
  const labeled = item.keypoints.filter((_, k) => item.visibility[k] > 0);
  if (!labeled.length) return null;
  const xs = labeled.map((p) => p[0]);
  const ys = labeled.map((p) => p[1]);
  return [Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys)];
}

// Whether image point (x, y) lies inside the instance's box.
export function insideBox(item, x, y) {
  const [x1, y1, x2, y2] = item.box;
  return x2 > x1 && y2 > y1 && x >= x1 && x <= x2 && y >= y1 && y <= y2;
}

// The drawn ground-truth points inside a screen rectangle [sx1, sy1, sx2, sy2]:
// [{instance, keypoint}] (only points that are drawn, i.e. labeled).
export function pointsInRect(stats, rect) {
  const [a, b, c, d] = [Math.min(rect[0], rect[2]), Math.min(rect[1], rect[3]), Math.max(rect[0], rect[2]), Math.max(rect[1], rect[3])];
  return stats.points.filter((p) => p.x >= a && p.x <= c && p.y >= b && p.y <= d).map((p) => ({ instance: p.instance, keypoint: p.keypoint }));
}

// Move a set of points ([{instance, keypoint}]) from their `origins` by (dx, dy), clamped.
export function movePoints(draft, picked, origins, dx, dy, width, height) {
  picked.forEach((p, i) => {
    const [x, y] = origins[i];
    draft[p.instance].keypoints[p.keypoint] = [clamp(x + dx, 0, width), clamp(y + dy, 0, height)];
  });
}

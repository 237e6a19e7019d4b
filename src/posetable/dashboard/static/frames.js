// Video frames in the image view: a row of a table with a `video` column shows where it is
// among its video's frames (ordered by `frame_index`, else by image path) and steps to the
// previous / next frame (keys , and .). Fed by GET /api/tables/NAME/frames/ROW.
import { getJSON, tablePath } from "./api.js";
import { el, fmt } from "./ui.js";

// The frame indicator and its buttons; `open(row)` navigates (through the unsaved guard).
export async function frameBar(name, row, revision, open) {
  const frames = await getJSON(`${tablePath(name)}/frames/${row}`, { revision });
  if (!frames.video && frames.video !== 0) return { node: null, frames, step: () => false };
  const step = (delta) => {
    const target = delta < 0 ? frames.previous : frames.next;
    if (target === null || target === undefined) return false;
    open(target);
    return true;
  };
  const label = `video ${frames.video} · frame ${frames.position + 1} of ${frames.count}` + (frames.frame_index !== null ? ` (frame_index ${fmt(frames.frame_index)})` : "");
  const node = el(
    "span",
    { class: "frames-bar", id: "frame-bar", dataset: { video: String(frames.video), position: String(frames.position), count: String(frames.count) } },
    el("button", { id: "previous-frame", text: "‹ frame", title: "previous frame of this video (,)", disabled: frames.previous === null, onclick: () => step(-1) }),
    el("span", { id: "frame-indicator", class: "muted", title: `frames ordered by ${frames.ordered_by}`, text: label }),
    el("button", { id: "next-frame", text: "frame ›", title: "next frame of this video (.)", disabled: frames.next === null, onclick: () => step(1) }),
  );
  return { node, frames, step };
}

// The track (or individual) of each instance, from the instance extras, or nulls.
export function trackTags(instances) {
  if (!instances || !instances.extras) return [];
  const extras = instances.extras;
  const key = ["track_id", "track", "individual"].find((k) => Array.isArray(extras[k]));
  if (!key) return [];
  const name = key === "individual" ? "" : "track ";
  return extras[key].map((v) => (v === null || v === undefined || v === "" || v === -1 ? null : `${name}${v}`));
}

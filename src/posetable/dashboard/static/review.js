// The review queue's marks (GET / POST /api/tables/NAME/review): which rows were accepted,
// edited, fixed, rejected or skipped, kept by sample id so they follow rows across
// revisions. A mark writes no table revision; it lets the queue move on (`u`: the next
// row of the set not reviewed yet) and shows as a badge in the grid and the image view.
import { getJSON, postJSON, tablePath } from "./api.js";
import { el } from "./ui.js";

export const DECIDED = ["accepted", "edited", "fixed", "rejected"];

export async function fetchMarks(name, revision) {
  return getJSON(`${tablePath(name)}/review`, { revision });
}

export async function markRow(name, revision, row, status, note = null) {
  return postJSON(`${tablePath(name)}/review`, { base_revision: revision, row: Number(row), status, note });
}

// The queue's next row without a decided mark after `position`: {position, row} or nulls.
export async function nextUnreviewed(name, params) {
  return getJSON(`${tablePath(name)}/review/next`, params);
}

export function reviewBadge(mark) {
  if (!mark) return null;
  const decided = DECIDED.includes(mark.status);
  return el("span", {
    class: `badge review ${decided ? "good" : ""}`,
    dataset: { status: mark.status },
    title: `review: ${mark.status} on revision @${mark.revision} (${mark.time})`,
    text: `${decided ? "✓" : "…"} ${mark.status}`,
  });
}

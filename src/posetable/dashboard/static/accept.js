// Accepting a run's predictions as ground truth, safely: a dry run first (POST
// /api/tables/NAME/accept with dry_run: true, the library's accept_predictions_plan), shown
// per row (instances replaced, keeping their ids; added; kept, such as boxes without
// keypoints; removed; keypoints set to v=2 and v=1), and written only when the user
// confirms. Both requests disable their button while they are in flight.
import { postJSON, tablePath } from "./api.js";
import { el, fmt, showError } from "./ui.js";

function ids(list) {
  if (!list || !list.length) return "";
  const shown = list.slice(0, 4).join(", ");
  return list.length > 4 ? ` (ids ${shown} … ${list.length})` : ` (id${list.length > 1 ? "s" : ""} ${shown})`;
}

function planTable(plan) {
  const head = ["row", "action", "GT before → after", "replaced", "added", "kept", "removed", "v=2", "v=1"];
  const rows = plan.map((r) =>
    el(
      "tr",
      { dataset: { row: r.row, action: r.action }, class: r.action === "none" ? "muted" : "" },
      el("td", { class: "num", text: `#${r.row}` }),
      el("td", { text: r.action }),
      el("td", { class: "num", text: `${r.gt_before} → ${r.gt_after}` }),
      el("td", { class: "num replaced", text: `${r.replaced}${ids(r.replaced_ids)}` }),
      el("td", { class: "num added", text: String(r.added) }),
      el("td", { class: "num kept", text: String(r.kept) }),
      el("td", { class: `num removed${r.removed ? " bad" : ""}`, text: `${r.removed}${ids(r.removed_ids)}` }),
      el("td", { class: "num", text: String(r.keypoints_visible) }),
      el("td", { class: "num", text: String(r.keypoints_occluded) }),
    ),
  );
  return el(
    "table",
    { class: "data plan" },
    el("thead", {}, el("tr", {}, head.map((h) => el("th", { text: h })))),
    el("tbody", {}, rows),
  );
}

export function closeDialog() {
  const open = document.getElementById("accept-preview");
  if (open) open.remove();
  window.posetable.acceptPreview = null;
}

// Ask for the plan, show it, write on confirm. options: name, revision, run, rows (list or
// null), thr, ithr, mode, warning (text shown above the buttons), trigger (the button that
// opened it; disabled meanwhile), onClose() (the page re-enables what it should), and
// onWritten(result) (the page follows the new revision).
export async function previewAccept(options) {
  const { name, revision, run, rows, thr, ithr, mode, trigger } = options;
  const body = {
    base_revision: revision,
    run,
    rows,
    keypoint_confidence_threshold: thr,
    instance_confidence_threshold: ithr,
    mode,
  };
  closeDialog();
  if (trigger) trigger.disabled = true;
  let preview;
  try {
    preview = await postJSON(`${tablePath(name)}/accept`, { ...body, dry_run: true });
  } catch (error) {
    showError(error);
    if (options.onClose) options.onClose();
    return;
  }
  const totals = preview.totals;
  const planned = new Set(preview.plan.map((r) => r.row));
  const without = rows ? rows.filter((r) => !planned.has(r)) : [];
  const message = el("p", { class: "modal-error", id: "accept-error", hidden: true });
  const cancel = el("button", { id: "accept-cancel", text: "cancel" });
  const confirm = el("button", {
    id: "accept-confirm",
    class: "primary",
    text: totals.rows_changed ? `accept into ${totals.rows_changed} row${totals.rows_changed > 1 ? "s" : ""}` : "nothing would change",
    disabled: !totals.rows_changed,
  });
  const onKey = (event) => {
    if (event.key === "Escape" && !confirm.dataset.busy) finish();
  };
  function finish() {
    window.removeEventListener("keydown", onKey);
    closeDialog();
    if (options.onClose) options.onClose();
  }
  cancel.addEventListener("click", finish);
  confirm.addEventListener("click", async () => {
    if (confirm.dataset.busy) return;
    confirm.dataset.busy = "1";
    confirm.disabled = true;
    cancel.disabled = true;
    confirm.textContent = "accepting…";
    message.hidden = true;
    try {
      const result = await postJSON(`${tablePath(name)}/accept`, body);
      window.removeEventListener("keydown", onKey);
      closeDialog();
      options.onWritten(result, preview);
    } catch (error) {
      delete confirm.dataset.busy;
      confirm.disabled = false;
      cancel.disabled = false;
      confirm.textContent = "try again";
      message.hidden = false;
      message.textContent = `${error.type ? error.type + ": " : ""}${error.message}`;
      showError(error);
    }
  });
  const dialog = el(
    "div",
    { class: "modal-backdrop", id: "accept-preview", role: "dialog", "aria-modal": "true" },
    el(
      "div",
      { class: "modal" },
      el("h3", { text: `Accept predictions of ${run} into ${name}@${revision}?` }),
      el(
        "p",
        { class: "muted" },
        `${mode === "replace" ? "replace ground truth" : "add unmatched predictions only"} · keypoints with confidence ≥ ${fmt(thr, 2)} get v=2, the others v=1 · ` +
          (ithr === null || ithr === undefined ? "every prediction, whatever its score" : `predictions scoring ≥ ${fmt(ithr, 2)}`),
      ),
      el(
        "p",
        { id: "accept-totals" },
        el("strong", { text: `${totals.rows_changed} of ${preview.plan.length} row${preview.plan.length === 1 ? "" : "s"} change: ` }),
        `${totals.replaced} replaced (ids kept), ${totals.added} added, ${totals.kept} kept, `,
        el("span", { class: totals.removed ? "bad-text" : "", text: `${totals.removed} removed` }),
        ` · ${totals.keypoints_visible} keypoints v=2, ${totals.keypoints_occluded} v=1`,
      ),
      preview.plan.length ? planTable(preview.plan) : el("p", { class: "muted", text: "The run has no predictions for these rows." }),
      el("p", {
        class: "muted legend-text",
        text:
          mode === "replace"
            ? "replaced: a prediction matched the instance (OKS ≥ 0.5, or box IoU ≥ 0.5 for a box without keypoints); it keeps its id and COCO fields · added: new instances, new ids · kept: no prediction matched a box without keypoints or a crowd · removed: no prediction matched a labeled instance"
            : "added: predictions that match no instance, with new ids · every instance is kept",
      }),
      without.length ? el("p", { class: "muted", text: `no predictions, unchanged: rows ${without.join(", ")}` }) : null,
      options.warning ? el("p", { class: "dirty", id: "accept-warning", text: options.warning }) : null,
      message,
      el("div", { class: "modal-buttons" }, cancel, confirm),
    ),
  );
  document.body.append(dialog);
  window.addEventListener("keydown", onKey);
  window.posetable.acceptPreview = preview;
  confirm.focus();
}

// One-click fixes in the image view, each saved as a new revision by POST
// /api/tables/NAME/fix with a note of what was done: a check finding's fix (mirror a swapped
// pair, set num_keypoints, drop a duplicate) and, with a run's prediction as evidence, snap a
// keypoint to the prediction, accept one instance's prediction, add a missing one, swap
// left/right, drop a spurious instance. Refused while the draft has unsaved edits (a fix is
// a revision of its own); a stale revision answers the conflict message and the page stays.
import { postJSON, tablePath } from "./api.js";
import { markRow } from "./review.js";
import { el, flash, showError, showMessage } from "./ui.js";

// What a suspect kind offers (posetable.diagnose.run_fixes.SUSPECT_FIXES).
const SUSPECT_FIXES = {
  swap: [["mirror_instance", "swap L/R"], ["accept_instance", "accept"]],
  misplaced_keypoint: [["snap_keypoint", "snap"], ["accept_instance", "accept"]],
  suspicious_visibility: [["snap_keypoint", "snap"]],
  missing_annotation: [["add_prediction", "add"]],
  spurious_annotation: [["drop_instance", "drop"]],
};
const FIX_TITLES = {
  mirror_instance: "swap the left and right names of the instance (a new revision)",
  accept_instance: "replace the instance by the prediction (a new revision)",
  snap_keypoint: "move the keypoint onto the prediction's (a new revision)",
  add_prediction: "add the prediction as a new instance (a new revision)",
  drop_instance: "delete the instance (a new revision)",
};

// context: name, row, data (the row payload), ui (the viewer state), p (its params),
// follow(revision) (show the new revision).
export function makeFixer(context) {
  const { name, row, data, ui, p } = context;

  async function send(body, button, status) {
    if (ui.dirty || ui.saving) {
      showMessage("Save or discard your edits first: a one-click fix is a revision of its own.");
      return null;
    }
    ui.saving = true;
    if (button) button.disabled = true;
    try {
      const result = await postJSON(`${tablePath(name)}/fix`, { base_revision: data.revision, row: Number(row), ...body });
      try {
        await markRow(name, result.revision, row, status, result.note);
      } catch (error) {
        console.warn("the review mark was not saved", error);
      }
      flash(`${result.note}: saved as revision @${result.revision}`);
      ui.saving = false;
      context.follow(result.revision);
      return result;
    } catch (error) {
      showError(error);
      if (button) button.disabled = false;
      return null;
    } finally {
      ui.saving = false;
    }
  }

  // a check finding's fix ({rule, instance, keypoint})
  function checkFix(finding, button) {
    return send({ instance: finding.instance, rule: finding.rule, keypoint: finding.keypoint }, button, "fixed");
  }

  // a fix with the run's prediction as evidence
  function runFix(action, args, button) {
    if (!p.run && action !== "mirror_instance" && action !== "drop_instance") {
      showMessage("Choose a run first: its predictions are what this fix takes.");
      return Promise.resolve(null);
    }
    const body = { action, run: p.run || null, keypoint_confidence_threshold: p.thr, ...args };
    return send(body, button, action === "accept_instance" || action === "add_prediction" ? "accepted" : "fixed");
  }

  // the matched prediction of a ground-truth instance (the evaluation's partner), or null
  function partnerOf(source) {
    if (source === null || source === undefined || !data.per_instance) return null;
    const metrics = data.per_instance.gt.find((m) => m.index === source);
    return metrics && metrics.partner >= 0 ? metrics.partner : null;
  }

  function suspectButtons(s) {
    return (SUSPECT_FIXES[s.kind] || []).map(([action, text]) =>
      el("button", {
        class: "suspect-fix",
        dataset: { action, kind: s.kind },
        text,
        title: FIX_TITLES[action],
        onclick: (e) =>
          runFix(
            action,
            {
              instance: s.instance >= 0 ? s.instance : null,
              prediction: s.prediction >= 0 ? s.prediction : null,
              keypoint: s.keypoint >= 0 ? s.keypoint : null,
            },
            e.target,
          ),
      }),
    );
  }

  return { checkFix, runFix, partnerOf, suspectButtons };
}

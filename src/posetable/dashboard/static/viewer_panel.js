// The image view's side panel: the row's metrics, review mark, weight, label-error suspects
// and check findings (with their one-click fixes), the ground-truth instances (class, box,
// per-keypoint x / y / visibility with hover highlights, accept / snap from the matched
// prediction) and the predictions. makePanel(context) returns {node, render, highlight}.
// Large K (COCO-WholeBody's 133, DeepFashion2's 294): the keypoint lists get a name search
// and a "hide unlabeled (v=0)" toggle (on by default when K > 40), both in the URL (kpq,
// hide0), a scrolled list and an "N of K shown" count.
import { reviewBadge } from "./review.js";
import { trackTags } from "./frames.js";
import { weightField } from "./weights.js";
import { classColor } from "./draw.js";
import { el, fmt, mount, select } from "./ui.js";

export const LARGE_K = 40;

// The keypoints whose names contain every word of `query` (case-insensitive).
export function nameMatcher(query) {
  const words = String(query || "").toLowerCase().split(/\s+/).filter(Boolean);
  return (name) => {
    const text = String(name).toLowerCase();
    return words.every((w) => text.includes(w));
  };
}

// context: row, data, ui, p, fixer, and the viewer's callbacks: markDirty(), redraw(),
// setVisibility(i, k, v), select(i), focusPoint(i, k), deleteInstance(i), setWeight(w),
// remember() (writes p's keypoint-list state into the URL).
export function makePanel(context) {
  const { row, data, ui, p, fixer } = context;
  const schema = data.schema;
  const K = schema.num_keypoints;
  const perGt = data.per_instance ? data.per_instance.gt : [];
  const perPred = data.per_instance ? data.per_instance.pred : [];
  const gtTracks = trackTags(data.gt);
  const predTracks = trackTags(data.pred);
  const node = el("div", { class: "side-panel", id: "details" });
  const largeK = K > LARGE_K;

  // --- the keypoint lists' search and v=0 toggle: built once, kept across renders ---------
  const hideUnlabeled = () => (p.hide0 === null || p.hide0 === undefined ? largeK : p.hide0);
  const search = el("input", {
    id: "kp-search",
    type: "search",
    placeholder: `search ${K} keypoint names`,
    value: p.kpq || "",
    oninput: (e) => {
      p.kpq = e.target.value;
      filterRows();
      if (context.remember) context.remember();
    },
  });
  const toggle = el("input", {
    id: "kp-hide-unlabeled",
    type: "checkbox",
    onchange: (e) => {
      p.hide0 = e.target.checked;
      filterRows();
      if (context.remember) context.remember();
    },
  });
  toggle.checked = hideUnlabeled();
  const count = el("span", { id: "kp-count", class: "muted" });
  const listControls = el(
    "div",
    { class: "kp-controls", id: "kp-controls" },
    search,
    el("label", { title: "hide the keypoints not labeled (v=0) from the lists; the canvas never draws them" }, toggle, " hide unlabeled (v=0)"),
    count,
  );

  // show the rows that match the search (and are labeled, when hiding v=0); count them
  function filterRows() {
    const matches = nameMatcher(p.kpq);
    const hide = hideUnlabeled();
    const names = schema.keypoint_names;
    let shown = 0;
    let total = 0;
    let unlabeled = 0;
    for (const tr of node.querySelectorAll("tr[data-kind]")) {
      const k = Number(tr.dataset.keypoint);
      const i = Number(tr.dataset.instance);
      const gt = tr.dataset.kind === "gt";
      const isFocus = gt && ui.point && ui.point.instance === i && ui.point.keypoint === k;
      const v0 = gt && ui.draft[i] && ui.draft[i].visibility[k] === 0;
      const visible = isFocus || (matches(names[k]) && !(hide && v0));
      tr.hidden = !visible;
      if (gt && i === ui.selected) {
        total += 1;
        if (visible) shown += 1;
        if (v0) unlabeled += 1;
      }
    }
    const item = ui.selected !== null ? ui.draft[ui.selected] : null;
    count.textContent = item
      ? `${shown} of ${total} shown${hide && unlabeled ? ` · ${unlabeled} unlabeled hidden` : ""}`
      : `${K} keypoints`;
    count.dataset.shown = String(shown);
    count.dataset.total = String(total);
  }

  let scrolledTo = null;
  function highlight() {
    const h = ui.hover;
    const f = ui.point;
    const focusKey = f ? `${f.instance}:${f.keypoint}` : null;
    for (const tr of node.querySelectorAll("tr[data-kind]")) {
      const at = (x) => x && tr.dataset.kind === (x.kind || "gt") && Number(tr.dataset.instance) === x.instance && Number(tr.dataset.keypoint) === x.keypoint;
      tr.classList.toggle("hot", Boolean(at(h)));
      tr.classList.toggle("focus", Boolean(at(f)));
      if (at(f) && focusKey !== scrolledTo) {
        if (tr.hidden) filterRows(); // the focused point's row is always listed
        const box = tr.closest(".kp-scroll");
        if (box) {
          const top = tr.offsetTop - box.clientHeight / 2;
          if (tr.offsetTop < box.scrollTop || tr.offsetTop > box.scrollTop + box.clientHeight - tr.offsetHeight) box.scrollTop = Math.max(0, top);
        }
      }
    }
    scrolledTo = focusKey;
  }

  function hoverRow(kind, instance, keypoint) {
    return {
      onmouseenter: () => {
        ui.hover = { kind, instance, keypoint };
        context.redraw();
        highlight();
      },
      onmouseleave: () => {
        ui.hover = null;
        context.redraw();
        highlight();
      },
    };
  }

  function gtBlock(item, i) {
    const metrics = item.source !== null ? perGt.find((m) => m.index === item.source) : null;
    const partner = metrics && metrics.partner >= 0 ? metrics.partner : null;
    const pred = partner !== null && data.pred ? partner : null;
    const track = item.source !== null ? gtTracks[item.source] : null;
    const head = el(
      "div",
      { class: "head" },
      el("span", { class: "swatch class-swatch", title: `class ${schema.classes[item.label] ?? item.label}`, style: `background:${classColor(item.label)}` }),
      el("strong", { text: `GT #${i}` }),
      item.source === null ? el("span", { class: "pill", text: "new" }) : el("span", { class: "muted", text: item.source !== i ? `(was #${item.source})` : "" }),
      track ? el("span", { class: "pill track", text: track }) : null,
      select(schema.classes.map((c, j) => [String(j), c]), String(item.label), (v) => {
        item.label = Number(v);
        context.markDirty();
        context.redraw();
      }, { class: "label-select" }),
      metrics ? el("span", { class: "badge", title: "OKS with the matched prediction", text: `OKS ${fmt(metrics.oks, 3)}${partner !== null ? ` ↔ pred #${partner}` : " (unmatched)"}` }) : null,
      metrics && metrics.ignored ? el("span", { class: "pill", text: "ignored" }) : null,
      pred !== null && item.source !== null
        ? el("button", {
            class: "accept-instance",
            text: "accept pred",
            title: `replace this instance by pred #${pred} (keypoints ≥ ${p.thr.toFixed(2)} v=2, the others v=1): a new revision (key a)`,
            onclick: (e) => {
              e.stopPropagation();
              fixer.runFix("accept_instance", { instance: item.source, prediction: pred }, e.target);
            },
          })
        : null,
      el("button", {
        class: "delete-instance",
        text: "delete",
        onclick: (e) => {
          e.stopPropagation();
          context.deleteInstance(i);
        },
      }),
    );
    const block = el("div", { class: `instance${ui.selected === i ? " selected" : ""}`, dataset: { instance: i }, onclick: () => context.select(i) }, head);
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
          context.markDirty();
          context.redraw();
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
              context.setVisibility(i, k, value);
            },
          }),
        ),
      );
      const conf = pred !== null && data.pred.confidence ? data.pred.confidence[pred][k] : null;
      const kpOks = metrics && metrics.keypoint_oks ? metrics.keypoint_oks[k] : null;
      const snap =
        pred !== null && item.source !== null
          ? el("button", {
              class: "snap",
              text: "⤓",
              title: `snap ${kpName} to pred #${pred} (a new revision; key p)`,
              onclick: (e) => {
                e.stopPropagation();
                fixer.runFix("snap_keypoint", { instance: item.source, prediction: pred, keypoint: k }, e.target);
              },
            })
          : null;
      return el(
        "tr",
        { dataset: { kind: "gt", instance: i, keypoint: k }, ...hoverRow("gt", i, k), onclick: () => context.focusPoint(i, k) },
        el("td", {}, el("span", { class: "swatch", style: `background:${schema.keypoint_colors[k]}` }), kpName),
        el("td", { class: "num", text: v ? fmt(item.keypoints[k][0], 1) : "–" }),
        el("td", { class: "num", text: v ? fmt(item.keypoints[k][1], 1) : "–" }),
        el("td", {}, vis),
        el("td", { class: "num", title: "confidence of the matched prediction", text: fmt(conf, 2) }),
        el("td", { class: "num", title: "per-keypoint OKS term", text: fmt(kpOks, 2) }),
        el("td", {}, snap),
      );
    });
    block.append(
      el(
        "div",
        { class: largeK ? "kp-scroll" : "" },
        el(
          "table",
          { class: "data kp-table" },
          el("thead", {}, el("tr", {}, ["keypoint", "x", "y", "v", "conf", "oks", ""].map((h) => el("th", { text: h })))),
          el("tbody", {}, rows),
        ),
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
    const unmatched = metrics && metrics.partner < 0;
    return el(
      "details",
      { class: `instance pred${below ? " muted" : ""}`, dataset: { prediction: j } },
      el(
        "summary",
        {},
        `pred #${j}${predTracks[j] ? ` · ${predTracks[j]}` : ""} · score ${fmt(score, 2)}${below ? ` < ${fmt(p.ithr, 2)}: hidden, not accepted` : ""} · ${kept}/${K} keypoints ≥ ${p.thr.toFixed(2)}`,
        metrics ? ` · OKS ${fmt(metrics.oks, 3)}${metrics.partner >= 0 ? ` ↔ GT #${metrics.partner}` : " (false positive)"}` : "",
        unmatched
          ? el("button", {
              class: "add-prediction",
              text: "add as GT",
              title: "add this prediction as a new ground-truth instance (a new revision)",
              onclick: (e) => {
                e.preventDefault();
                fixer.runFix("add_prediction", { prediction: j }, e.target);
              },
            })
          : null,
      ),
      el("div", { class: largeK ? "kp-scroll" : "" }, el("table", { class: "data kp-table" }, el("thead", {}, el("tr", {}, ["keypoint", "x", "y", "conf"].map((h) => el("th", { text: h })))), el("tbody", {}, rows))),
    );
  }

  function findingsBlock() {
    const items = data.findings.items;
    return el(
      "div",
      { id: "findings" },
      el("h3", { text: `check findings (${items.length})` }),
      data.findings.complete === false ? el("p", { id: "findings-pending", class: "muted", text: "checking… the table-wide rules (bone lengths) are still running; reload to see them" }) : null,
      el("table", { class: "data findings" }, el("tbody", {}, items.map((f) =>
        el("tr", { class: `finding ${f.severity}`, dataset: { rule: f.rule } },
          el("td", {}, el("span", { class: `badge sev-${f.severity}`, text: f.rule })),
          el("td", { text: f.instance !== null ? `GT #${f.instance}` : "" }),
          el("td", { text: f.keypoint !== null ? schema.keypoint_names[f.keypoint] : "" }),
          el("td", { class: "muted", text: f.message }),
          el("td", {}, f.fix && f.instance !== null
            ? el("button", { class: "fix", dataset: { rule: f.rule, instance: String(f.instance) }, text: "fix", title: f.fix, onclick: (e) => fixer.checkFix(f, e.target) })
            : null)),
      ))),
    );
  }

  function suspectsBlock() {
    return el(
      "div",
      { id: "suspects" },
      el("h3", { text: "label-error suspects" }),
      el(
        "table",
        { class: "data suspects" },
        el("tbody", {}, data.suspect_list.map((s) =>
          el(
            "tr",
            { dataset: { kind: s.kind, instance: String(s.instance), prediction: String(s.prediction) } },
            el("td", { text: s.kind }),
            el("td", { text: s.instance >= 0 ? `GT #${s.instance}` : s.prediction >= 0 ? `pred #${s.prediction}` : "" }),
            el("td", { text: s.keypoint >= 0 ? schema.keypoint_names[s.keypoint] : "" }),
            el("td", { class: "num", text: fmt(s.score, 2) }),
            el("td", { class: "muted", text: s.detail }),
            el("td", { class: "fixes" }, fixer.suspectButtons(s)),
          ),
        )),
      ),
    );
  }

  function render() {
    const m = data.metrics;
    const blocks = [
      el("h3", {}, `row ${row} · ${String(data.image).split(/[\\/]/).pop()} `, reviewBadge(ui.mark)),
      el("p", { class: "muted", text: `${data.width}×${data.height} · ${data.ref}${data.run ? ` · run ${data.run}` : ""}` }),
    ];
    if (ui.hasWeight) blocks.push(weightField(ui.weight, (w) => context.setWeight(w)));
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
    if (data.suspect_list && data.suspect_list.length) blocks.push(suspectsBlock());
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
    blocks.push(el("h3", { text: `ground truth (${ui.draft.length})` }), listControls);
    ui.draft.forEach((item, i) => blocks.push(gtBlock(item, i)));
    if (data.pred) {
      blocks.push(el("h3", { text: `predictions (${data.pred.count})` }));
      for (let j = 0; j < data.pred.count; j++) blocks.push(predBlock(j));
    }
    const typing = document.activeElement === search;
    mount(node, blocks);
    if (typing) search.focus();
    filterRows();
    highlight();
  }

  return { node, render, highlight, filterRows, gtTracks, predTracks };
}

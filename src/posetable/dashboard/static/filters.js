// Filter widgets over the grid's text filter: a range slider with a histogram per numeric
// column and metric, a class filter, a keypoint-visibility filter and a check-rule filter. They build the SAME
// expression the filter box holds (the box shows it): terms joined by "and", each column
// spelled as the server's `field` says; terms the widgets do not own are kept as typed.
// Counts come from GET /api/tables/NAME/facets?filter=... and update while a slider moves.
import { getJSON, tablePath } from "./api.js";
import { el, fmt } from "./ui.js";

// Split an expression at top-level "and" (outside quotes and parentheses).
export function splitTerms(text) {
  const out = [];
  let depth = 0;
  let quote = null;
  let start = 0;
  const s = text || "";
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = null;
      continue;
    }
    if (c === "'" || c === '"') quote = c;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (depth === 0 && /\s/.test(c) && /^\s+and\s+/i.test(s.slice(i)) && /\s/.test(s[i] || "")) {
      const match = s.slice(i).match(/^\s+and\s+/i);
      out.push(s.slice(start, i).trim());
      i += match[0].length - 1;
      start = i + 1;
    }
  }
  out.push(s.slice(start).trim());
  return out.filter(Boolean);
}

function escapeRegex(text) {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

export function quoteText(text) {
  return `'${String(text).replace(/'/g, "''")}'`;
}

// A number as the filter language reads it (finite, no exponent surprises).
export function literal(value) {
  const number = Number(Number(value).toPrecision(8));
  return Number.isFinite(number) ? String(number) : "0";
}

// The widget state a filter holds (ranges, classes, keypoint) and the terms it does not own.
export function parseWidgets(text, facets) {
  const state = { ranges: {}, classes: new Set(), keypoint: null, check: null, others: [] };
  const fields = new Map(facets.histograms.map((h) => [h.field, h]));
  const kpFields = new Map(facets.keypoints.map((k) => [k.field, k]));
  const classRe = new RegExp(`^${escapeRegex(facets.classes_field)} has '((?:[^']|'')*)'$`);
  for (const term of splitTerms(text)) {
    const range = term.match(/^(.+?) (>=|<=) (-?[0-9.eE+-]+)$/);
    if (range && fields.has(range[1])) {
      const entry = state.ranges[range[1]] || [null, null];
      entry[range[2] === ">=" ? 0 : 1] = Number(range[3]);
      state.ranges[range[1]] = entry;
      continue;
    }
    const inner = term.startsWith("(") && term.endsWith(")") ? term.slice(1, -1) : term;
    const parts = inner.split(/\s+or\s+/i).map((t) => t.trim());
    const classes = parts.map((t) => t.match(classRe));
    if (parts.length && classes.every(Boolean)) {
      for (const m of classes) state.classes.add(m[1].replace(/''/g, "'"));
      continue;
    }
    const check = term.match(/^(.+) has '([a-z_]+)'$/);
    if (check && check[1] === facets.check_field && !state.check) {
      state.check = check[2];
      continue;
    }
    const kp = term.match(/^(.+) has ([012])$/);
    if (kp && kpFields.has(kp[1]) && !state.keypoint) {
      state.keypoint = { field: kp[1], v: Number(kp[2]) };
      continue;
    }
    state.others.push(term);
  }
  return state;
}

export function buildFilter(state, facets) {
  const terms = [...state.others];
  for (const h of facets.histograms) {
    const range = state.ranges[h.field];
    if (!range) continue;
    if (range[0] !== null && range[0] > h.min) terms.push(`${h.field} >= ${literal(range[0])}`);
    if (range[1] !== null && range[1] < h.max) terms.push(`${h.field} <= ${literal(range[1])}`);
  }
  const classes = [...state.classes].sort();
  if (classes.length) {
    const parts = classes.map((c) => `${facets.classes_field} has ${quoteText(c)}`);
    terms.push(parts.length === 1 ? parts[0] : `(${parts.join(" or ")})`);
  }
  if (state.keypoint) terms.push(`${state.keypoint.field} has ${state.keypoint.v}`);
  if (state.check) terms.push(`${facets.check_field} has ${quoteText(state.check)}`);
  return terms.join(" and ");
}

function drawHistogram(canvas, h, range) {
  const ctx = canvas.getContext("2d");
  const width = canvas.width;
  const height = canvas.height;
  ctx.clearRect(0, 0, width, height);
  const bins = h.all.length;
  if (!bins) return;
  const top = Math.max(1, ...h.all);
  const [lo, hi] = range || [h.min, h.max];
  for (let i = 0; i < bins; i++) {
    const x = (i / bins) * width;
    const w = Math.max(1, width / bins - 1);
    const hAll = (h.all[i] / top) * height;
    const hKept = (h.matching[i] / top) * height;
    const centre = (h.edges[i] + h.edges[i + 1]) / 2;
    const inside = centre >= (lo ?? h.min) && centre <= (hi ?? h.max);
    ctx.fillStyle = "#3a4050";
    ctx.fillRect(x, height - hAll, w, hAll);
    ctx.fillStyle = inside ? "#4da3ff" : "#2b5d91";
    ctx.fillRect(x, height - hKept, w, hKept);
  }
}

// The widgets panel. `getText()` / `setText(text)` read and write the filter box; `apply(text)`
// runs the filter on the grid; `params` carries revision, run and suspect thresholds.
export function filterPanel({ name, params, getText, setText, apply }) {
  const body = el("div", { class: "filters-body" }, el("span", { class: "muted", text: "loading counts…" }));
  const count = el("span", { id: "widget-count", class: "muted" });
  const panel = el("details", { id: "filters", class: "filters" }, el("summary", {}, "filter widgets ", count), body);
  let facets = null;
  let state = null;
  let timer = null;
  const views = [];

  const query = (text) =>
    getJSON(`${tablePath(name)}/facets`, {
      revision: params.rev,
      run: params.run,
      filter: text,
      suspect_instance: params.sinst,
      suspect_keypoint: params.skp,
    });

  function showCounts(data) {
    count.textContent = `· ${data.matching} of ${data.rows} rows match`;
    for (const view of views) view.update(data);
  }

  function changed(final) {
    const text = buildFilter(state, facets);
    setText(text);
    clearTimeout(timer);
    if (final) {
      apply(text);
      return;
    }
    timer = setTimeout(async () => {
      try {
        showCounts(await query(text));
      } catch (error) {
        count.textContent = `· ${error.message}`;
      }
    }, 120);
  }

  function rangeRow(h) {
    const range = state.ranges[h.field] || [h.min, h.max];
    state.ranges[h.field] = [range[0] ?? h.min, range[1] ?? h.max];
    const canvas = el("canvas", { class: "histogram", width: "160", height: "30", dataset: { column: h.name } });
    const step = h.integer ? "1" : String((h.max - h.min) / 200 || 1);
    const label = el("span", { class: "range-label num" });
    const showLabel = () => (label.textContent = `${fmt(state.ranges[h.field][0], 3)} – ${fmt(state.ranges[h.field][1], 3)}`);
    const make = (side) =>
      el("input", {
        type: "range",
        class: `range-${side === 0 ? "min" : "max"}`,
        min: String(h.min),
        max: String(h.max),
        step,
        value: String(state.ranges[h.field][side]),
        dataset: { column: h.name },
        oninput: (e) => {
          const value = Number(e.target.value);
          const r = state.ranges[h.field];
          r[side] = value;
          if (r[0] > r[1]) r[1 - side] = value;
          showLabel();
          drawHistogram(canvas, current, r);
          changed(false);
        },
        onchange: () => changed(true),
      });
    let current = h;
    const row = el("div", { class: "range-row", dataset: { column: h.name } }, el("span", { class: "range-name", title: `${h.source} · ${h.type}`, text: h.name }), canvas, make(0), make(1), label);
    showLabel();
    drawHistogram(canvas, h, state.ranges[h.field]);
    views.push({
      update: (data) => {
        const found = data.histograms.find((x) => x.field === h.field);
        if (found) {
          current = { ...h, matching: found.matching.length === h.all.length ? found.matching : h.matching };
          drawHistogram(canvas, current, state.ranges[h.field]);
        }
      },
    });
    return row;
  }

  function render() {
    const ranges = facets.histograms.filter((h) => h.min !== null && h.max > h.min).map(rangeRow);
    const classBoxes = facets.classes.map((c) => {
      const counter = el("span", { class: "muted", text: `${c.matching}/${c.all}` });
      views.push({ update: (data) => { const f = data.classes.find((x) => x.name === c.name); if (f) counter.textContent = `${f.matching}/${f.all}`; } });
      return el("label", { class: "class-pick" },
        el("input", { type: "checkbox", dataset: { class: c.name }, checked: state.classes.has(c.name), onchange: (e) => { e.target.checked ? state.classes.add(c.name) : state.classes.delete(c.name); changed(true); } }),
        c.name, counter);
    });
    const kpSelect = el("select", { id: "keypoint-filter" }, el("option", { value: "", text: "any keypoint" }), facets.keypoints.map((k) => el("option", { value: k.field, text: k.name })));
    const visSelect = el("select", { id: "visibility-filter" }, [["2", "v=2 visible"], ["1", "v=1 labeled, hidden"], ["0", "v=0 unlabeled"]].map(([v, t]) => el("option", { value: v, text: t })));
    const kpCount = el("span", { id: "keypoint-count", class: "muted" });
    const showKp = (data) => {
      const k = data.keypoints.find((x) => x.field === kpSelect.value);
      kpCount.textContent = k ? `${k.visibility[visSelect.value].matching} rows` : "";
    };
    views.push({ update: showKp });
    if (state.keypoint) {
      kpSelect.value = state.keypoint.field;
      visSelect.value = String(state.keypoint.v);
    }
    const onKp = () => {
      state.keypoint = kpSelect.value ? { field: kpSelect.value, v: Number(visSelect.value) } : null;
      changed(true);
    };
    // check: rows with a finding of one rule (pt.check), counts as "matching/all rows"
    const checkSelect = el("select", { id: "check-filter" }, el("option", { value: "", text: "any (no check filter)" }), facets.checks.map((c) => el("option", { value: c.rule, text: `${c.rule} (${c.all})` })));
    if (state.check) {
      if (![...checkSelect.options].some((o) => o.value === state.check)) checkSelect.append(el("option", { value: state.check, text: state.check }));
      checkSelect.value = state.check;
    }
    const checkCount = el("span", { id: "check-count", class: "muted" });
    const showCheck = (data) => {
      const c = data.checks.find((x) => x.rule === checkSelect.value);
      checkCount.textContent = c ? `${c.matching} rows` : `${data.checks.length} rules with findings`;
    };
    views.push({ update: showCheck });
    checkSelect.addEventListener("change", () => {
      state.check = checkSelect.value || null;
      changed(true);
    });
    kpSelect.addEventListener("change", onKp);
    visSelect.addEventListener("change", onKp);
    body.replaceChildren(
      el("div", { class: "filter-group" }, el("strong", { text: "classes " }), classBoxes),
      el("div", { class: "filter-group" }, el("strong", { text: "keypoint " }), kpSelect, " is ", visSelect, kpCount),
      el("div", { class: "filter-group" }, el("strong", { text: "check " }), checkSelect, checkCount),
      el("div", { class: "filter-ranges" }, ranges),
    );
    showKp(facets);
    showCheck(facets);
  }

  let loading = false;
  async function load() {
    if (loading || facets) return;
    loading = true;
    try {
      const [all, now] = await Promise.all([query(""), query(getText())]);
      facets = all;
      state = parseWidgets(getText(), facets);
      render();
      showCounts(now);
      panel.dataset.ready = "true";
    } catch (error) {
      body.replaceChildren(el("span", { class: "bad-text", text: error.message }));
      panel.dataset.ready = "error";
    }
  }
  panel.addEventListener("toggle", () => {
    if (panel.open) load();
  });
  return { node: panel, load };
}

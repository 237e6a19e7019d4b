// The router: #/ (tables and runs), #/t/NAME?... (grid), #/t/NAME/row/ROW?... (image view),
// #/compare?runs=a,b, #/t/NAME/embeddings?run=... (scatter), #/training/PROJECT%2FRUN (epochs),
// #/t/NAME/diff?from=R1&to=R2 (revision diff), #/runs/RUN/diagnosis and #/runs/RUN/charts. Page state lives in the URL, so every view can be linked and reloaded.
import { renderHome } from "./home.js";
import { renderGrid } from "./grid.js";
import { renderViewer } from "./viewer.js";
import { renderCompare } from "./compare.js";
import { renderEmbeddings } from "./embeddings.js";
import { renderTraining } from "./training.js";
import { renderDiagnosis } from "./diagnosis.js";
import { renderRunCharts } from "./runcharts.js";
import { renderDiff } from "./diff.js";
import { closeDialog } from "./accept.js";
import { allowLeaving, parseHash, setBusy, showError, showMessage, takeFlash } from "./ui.js";

const app = document.getElementById("app");
// Tests and curious users read the page state here (what each canvas drew, the data shown).
// A page with unsaved work sets `guard`: a function that returns true when leaving is fine
// (it asks the user); every in-app navigation (links, buttons, back) goes through it.
window.posetable = { page: null, ready: false, data: null, cleanup: null, guard: null };

async function route() {
  const current = window.posetable;
  if (current.cleanup) current.cleanup();
  current.cleanup = null;
  current.guard = null;
  closeDialog();
  current.ready = false;
  const flashed = takeFlash();
  showMessage(flashed || "", { ok: true });
  const { parts, params } = parseHash();
  setBusy(true);
  try {
    if (parts[0] === "t" && parts.length >= 3 && parts[2] === "embeddings") {
      current.page = "embeddings";
      await renderEmbeddings(app, parts[1], params);
    } else if (parts[0] === "t" && parts.length >= 3 && parts[2] === "diff") {
      current.page = "diff";
      await renderDiff(app, parts[1], params);
    } else if (parts[0] === "runs" && parts[1] && parts[2] === "diagnosis") {
      current.page = "diagnosis";
      await renderDiagnosis(app, parts[1], params);
    } else if (parts[0] === "runs" && parts[1] && parts[2] === "charts") {
      current.page = "run-charts";
      await renderRunCharts(app, parts[1], params);
    } else if (parts[0] === "training" && parts[1]) {
      current.page = "training";
      await renderTraining(app, parts[1]);
    } else if (parts[0] === "t" && parts.length >= 4 && parts[2] === "row") {
      current.page = "viewer";
      await renderViewer(app, parts[1], Number(parts[3]), params);
    } else if (parts[0] === "t" && parts[1]) {
      current.page = "grid";
      await renderGrid(app, parts[1], params);
    } else if (parts[0] === "compare") {
      current.page = "compare";
      await renderCompare(app, params);
    } else {
      current.page = "home";
      await renderHome(app);
    }
  } catch (error) {
    showError(error);
    console.error(error);
  } finally {
    setBusy(false);
    current.ready = true;
  }
}

// Links are asked before they navigate (a refused one leaves no history entry); back and
// forward are asked after the address changed, and a refusal puts the shown page's back.
document.addEventListener(
  "click",
  (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[href^="#"]') : null;
    if (link && !allowLeaving()) event.preventDefault();
  },
  true,
);
window.addEventListener("hashchange", (event) => {
  if (!allowLeaving()) {
    const shown = event.oldURL ? new URL(event.oldURL).hash : "";
    if (shown && shown !== location.hash) history.replaceState(null, "", shown);
    return;
  }
  route();
});
route();

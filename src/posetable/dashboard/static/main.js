// The router: #/ (tables and runs), #/t/NAME?... (grid), #/t/NAME/row/ROW?... (image view),
// #/compare?runs=a,b. Page state lives in the URL, so every view can be linked and reloaded.
import { renderHome } from "./home.js";
import { renderGrid } from "./grid.js";
import { renderViewer } from "./viewer.js";
import { renderCompare } from "./compare.js";
import { parseHash, setBusy, showError, showMessage, takeFlash } from "./ui.js";

const app = document.getElementById("app");
// Tests and curious users read the page state here (what each canvas drew, the data shown).
window.posetable = { page: null, ready: false, data: null, cleanup: null };

async function route() {
  const current = window.posetable;
  if (current.cleanup) current.cleanup();
  current.cleanup = null;
  current.ready = false;
  const flashed = takeFlash();
  showMessage(flashed || "", { ok: true });
  const { parts, params } = parseHash();
  setBusy(true);
  try {
    if (parts[0] === "t" && parts.length >= 4 && parts[2] === "row") {
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

window.addEventListener("hashchange", route);
route();

// The player on an exported page (nbconvert HTML, `rangevideo.export`, `share`), bundled by
// esbuild into jupyter_rangevideo/static/page.js, which embed.py inlines once per page: it
// draws every saved spec on the page that is not drawn yet, with no kernel.

import { mountPlayer } from "./player.js";

const SPEC_SELECTOR = ".jp-RangeVideo-saved:not([data-mounted])";
const SPEC_TYPE = "application/vnd.jupyter.rangevideo+json";

function mountSavedPlayers() {
  for (const holder of document.querySelectorAll(SPEC_SELECTOR)) {
    const data = holder.querySelector(`script[type="${SPEC_TYPE}"]`);
    if (!data) continue;
    holder.dataset.mounted = "1";
    try {
      mountPlayer(holder, JSON.parse(data.textContent));
    } catch (error) {
      console.error(error);
    }
  }
}

if (!globalThis.__jupyterRangevideoPage) {
  globalThis.__jupyterRangevideoPage = true;
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountSavedPlayers);
  else mountSavedPlayers();
}

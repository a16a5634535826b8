// The player's front end, bundled by esbuild (js/build.mjs) into one ES module,
// jupyter_rangevideo/static/player.js: the anywidget module of `Player` and `Grid`, and what
// the JupyterLab renderer in labextension_stub/ imports to draw saved outputs.
//
// The <video> streams from the Jupyter server extension with HTTP Range requests; the
// bytes never pass through the kernel. The URL is built here from the page's base URL,
// so the same output works under any base_url (JupyterHub's /user/<name>/ too).

import { gridSpecFromModel } from "./grid.js";
import { mountPlayer } from "./player.js";
import { registerModel } from "./registry.js";

export { sourcePoint } from "./annotate.js";
export { SOURCES_SHA256 } from "./build-info.js";
export { CommError, createCommClient, Reassembly, requestMessage } from "./comm.js";
export { COMM_BASE, commRequestOf } from "./comm-loader.js";
export { frameAtTime, frameMidTime, timeOfFrame } from "./frame-clock.js";
export { playbackAware } from "./hls-route.js";
export { shiftTimeline } from "./media.js";
export { frameRows, markColor, scoreFilter, skeletonSegments, unpackOverlay } from "./overlay-data.js";
export { drawLayer, pictureRect } from "./overlays.js";
export { mountPlayer } from "./player.js";
export { findModel, isRegisteredModel } from "./registry.js";
export { goodForMs } from "./renewal.js";
export { jupyterBaseUrl } from "./source.js";
export { latestSeq, pendingCommands, reportDue } from "./sync.js";
export { clampView, decimate, eventBars, fullView, rangeView, timeToX, xToTime, zoomView } from "./timeline-draw.js";

function specFromModel(model) {
  return { src: model.get("src"), name: model.get("name"), player_id: model.get("player_id"), options: {} };
}

export default {
  initialize({ model }) {
    return registerModel(model);
  },
  render({ model, el }) {
    return mountPlayer(el, model.get("_grid") ? gridSpecFromModel(model) : specFromModel(model), model);
  },
};

// A JupyterLab mime renderer for jupyter-rangevideo outputs.
//
// A player's output carries its own mimetype beside the widget view. This renderer is
// ranked before the widget renderer, so a notebook reopened without its kernel still
// shows a playable, seekable player instead of "Error displaying widget: model not
// found"; while the kernel holds the player, it binds to that live model and Python
// controls it. The drawing is player.js's, the same module the widget uses (built from js/src/).
import { Widget } from "@lumino/widgets";
import { findModel, isRegisteredModel, mountPlayer, SOURCES_SHA256 } from "../../jupyter_rangevideo/static/player.js";

const MIME_TYPE = "application/vnd.jupyter.rangevideo+json";
// jupyterlab-manager registers the widget renderer at rank -10; lower ranks win.
const RANK = -20;
// The widget model is created from the kernel's comm message, possibly after the output.
const WAIT_FOR_LIVE_MODEL_MS = 5000;
// show()'s first output is drawn while the widget is still on its way; the widget's output
// follows about 150 ms later. Binding the player to its live model then (the controls drawn
// anew, the <video> moved into them) held the page's first frame back by about 100 ms, so
// the player loading from the first output is bound once its first frame is in, or after
// this long at most.
const BIND_AFTER_FIRST_FRAME_MS = 1000;

/** Resolves once the media element under `node` has its first frame (or failed, or holds
 * back its loading out of view), or after `timeoutMs`. */
function firstFrameIn(node, timeoutMs) {
  const media = node.querySelector("video, audio");
  if (!media || media.readyState >= 2 || media.error || media.preload === "none") return Promise.resolve();
  return new Promise((resolve) => {
    // A frame after the event: the picture is on screen before the page's work resumes.
    const done = () => {
      clearTimeout(timer);
      requestAnimationFrame(() => requestAnimationFrame(() => resolve()));
    };
    const timer = setTimeout(done, timeoutMs);
    media.addEventListener("loadeddata", done, { once: true });
    media.addEventListener("error", done, { once: true });
  });
}

class RangeVideoRenderer extends Widget {
  constructor(options) {
    super();
    this._mimeType = options.mimeType;
    this._cleanup = null;
    this.addClass("jp-RangeVideo-output");
    // Which build of the player draws here (tests/test_labextension.py: the current one).
    this.node.dataset.rangevideoBuild = SOURCES_SHA256;
  }

  async renderModel(model) {
    const spec = model.data[this._mimeType];
    // Outputs are updated (new overlays or markers) while an earlier call may still wait
    // for the live model: only the newest call mounts.
    const generation = (this._generation = (this._generation ?? 0) + 1);
    const current = () => generation === this._generation && !this.isDisposed;
    const mount = (live) => {
      // The player drawn from the output while the live model was on its way keeps its
      // <video> and what it has loaded: the first frame is not loaded twice.
      const same = this._playerId === spec.player_id && !this._live;
      const adopted = same ? this._cleanup?.release?.() : (this._cleanup?.(), null);
      this._cleanup = mountPlayer(this.node, spec, live, adopted);
      this._live = live;
      this._playerId = spec.player_id;
    };
    // Already bound to the player's live model: the model holds the update, and
    // remounting would reload the video.
    if (this._live && this._playerId === spec.player_id && isRegisteredModel(this._live)) return;
    // The player drawn from the output is bound to its live model once its first frame is in.
    const bind = async (live) => {
      if (this._playerId === spec.player_id && !this._live) {
        await firstFrameIn(this.node, BIND_AFTER_FIRST_FRAME_MS);
        if (!current()) return;
      }
      mount(live);
    };
    const live = await findModel(spec.player_id);
    if (!current()) return;
    if (live) return bind(live);
    // Drawn from this player's output already and waiting for its live model (the widget's
    // output may come before the page has made the model): the player stays as it is.
    if (this._playerId !== spec.player_id || this._live) mount(null);
    const later = await findModel(spec.player_id, WAIT_FOR_LIVE_MODEL_MS);
    if (later && current()) await bind(later);
  }

  dispose() {
    this._cleanup?.();
    this._cleanup = null;
    super.dispose();
  }
}

const extension = {
  id: "jupyter-rangevideo:renderer",
  rendererFactory: {
    safe: true, // it only ever draws a <video> of a rangevideo/files/ URL
    mimeTypes: [MIME_TYPE],
    createRenderer: (options) => new RangeVideoRenderer(options),
  },
  rank: RANK,
  dataMimeType: MIME_TYPE,
};

export default extension;

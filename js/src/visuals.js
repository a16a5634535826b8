// Overlays and markers of one player, drawn from the live model or, with no kernel, from the
// saved output (`spec.overlays`, `spec.markers`). Shown only when there is something to show:
// a player without overlays or markers is unchanged.

import { createAnnotations } from "./annotate.js";
import { Disposables, injectStyle } from "./dom.js";
import { frameLoopOf, watchSize } from "./frame-loop.js";
import { createMarkers } from "./markers.js";
import { createOverlays } from "./overlays.js";
import { VISUALS_STYLE } from "./style.js";

/** Add overlays and markers after `video` in `root`; returns the dispose. */
export function mountVisuals({ root, video, state }) {
  injectStyle("jp-RangeVideo-visuals-style", VISUALS_STYLE);
  root.classList.add("jp-RangeVideo-visuals");
  const disposables = new Disposables();
  const frames = frameLoopOf(video);
  // The presented frame's time, from the frame loop (null from a seek until its frame shows).
  const mediaTime = () => frames.presented?.mediaTime ?? null;
  const annotations = createAnnotations({ root, state, presentedTime: mediaTime });
  const overlays = createOverlays({ video, state, onLoaded: () => update(), extras: [annotations] });
  const markers = createMarkers({ root, video, state });
  const { canvas } = overlays;
  const { bar } = markers;
  video.after(canvas, bar);

  function update() {
    const drawing = overlays.active();
    const active = markers.count() > 0 || drawing;
    bar.hidden = !active;
    canvas.hidden = !drawing;
    // The native full-screen button would take the bare video, without the canvas.
    if (active) video.controlsList?.add("nofullscreen");
    else video.controlsList?.remove("nofullscreen");
    bar.style.width = active ? `${video.offsetWidth}px` : "";
    markers.drawMarkers();
    if (drawing) overlays.place();
    overlays.draw(mediaTime());
  }

  // When to redraw: on each presented frame; on a seek's end (Chromium need not call back
  // for a seek's frame it did not composite); by time where there are no frame callbacks.
  disposables.add(
    frames.subscribe((_now, metadata) => {
      if (overlays.active()) overlays.draw(metadata.mediaTime);
      if (!bar.hidden) markers.movePlayhead(); // a hidden bar's playhead is placed when it is shown
    }),
  );
  disposables.listen(video, "seeking", () => {
    if (!bar.hidden) markers.movePlayhead();
  });
  disposables.listen(video, "seeked", () => {
    if (overlays.active()) overlays.draw(mediaTime());
  });
  disposables.listen(video, "loadeddata", update);
  disposables.listen(video, "durationchange", markers.drawMarkers);
  disposables.listen(video, "timeupdate", () => {
    if (!frames.supported) {
      overlays.draw(null);
      markers.movePlayhead();
    }
  });
  disposables.add(watchSize(video, update));
  disposables.add(state.onChange(["_overlays"], () => overlays.loadLayers()));
  disposables.add(
    state.onChange(["_overlays_hidden"], () => {
      overlays.loadHiddenLayers();
      overlays.draw(mediaTime());
    }),
  );
  disposables.add(state.onChange(["_markers", "_annotating", "_annotations"], update));
  disposables.add(state.onChange(["_overlay_styles"], () => overlays.draw(mediaTime())));
  annotations.bind({ canvas, overlays, redraw: () => overlays.draw(mediaTime()) });
  update();
  overlays.loadLayers();
  return () => {
    disposables.dispose();
    annotations.dispose();
    overlays.dispose();
    markers.dispose();
  };
}

// A player: the <video> and its parts, assembled, and disposed together.

import { createElement, Disposables, injectStyle } from "./dom.js";
import { createFrameLabel } from "./frame-label.js";
import { mountGrid } from "./grid.js";
import { bindKeys } from "./keyboard.js";
import { preloadWhenVisible, shiftTimeline } from "./media.js";
import { applyOptions } from "./options.js";
import { createPlayback } from "./playback.js";
import { createProxyLayer } from "./proxy.js";
import { renewRedirects } from "./renewal.js";
import { retryStuckSeeks } from "./seeking.js";
import { attachSource } from "./source.js";
import { playerState } from "./state.js";
import { createStatus } from "./status.js";
import { PLAYER_STYLE } from "./style.js";
import { applyCommands, createReports, reportMediaEvents } from "./sync.js";
import { mountPlayerTimelines } from "./timeline.js";
import { mountVisuals } from "./visuals.js";

/**
 * The <video> (or <audio>, for audio-only files) of a player, not loading until in view; or
 * `adopted`, the element of an earlier mount of the same player, as it is (loaded or loading).
 */
function createMediaElement(spec, audioOnly, adopted) {
  // Not one that failed (the extension absent, say): a new element tries the sources again.
  if (adopted?.tagName === (audioOnly ? "AUDIO" : "VIDEO") && !adopted.error) return adopted;
  const video = createElement(
    audioOnly ? "audio" : "video",
    audioOnly ? "jp-RangeVideo-audio" : "jp-RangeVideo-video",
    {
      preload: "none", // until the player scrolls into view (preloadWhenVisible)
      playsInline: true,
    },
  );
  video.dataset.playerId = spec.player_id;
  return video;
}

/**
 * Draw a player into `el`. `spec` is the saved output ({src, name, player_id, options});
 * `model`, when given, is the live widget model: state then syncs both ways. `adopted`: the
 * media element of an earlier mount of this player (its cleanup's `release()`), kept with
 * what it has loaded.
 * Returns a cleanup function, whose `release()` cleans up but keeps and returns the element.
 */
export function mountPlayer(el, spec, model = null, adopted = null) {
  injectStyle("jp-RangeVideo-style", PLAYER_STYLE);
  if (spec.grid) return mountGrid(el, spec, model, mountPlayer); // several players in step
  let cleanup = mountOnce(el, spec, model, adopted);
  // The kernel's probe, finished after the player was shown, may deliver the file otherwise
  // than its header promised: draw it again from the new source.
  const stopWatching = playerState(spec, model).onChange(["delivery"], () => {
    cleanup();
    cleanup = mountOnce(el, spec, model, null);
  });
  const outer = () => {
    stopWatching();
    cleanup();
  };
  outer.release = () => {
    stopWatching();
    return cleanup.release();
  };
  return outer;
}

function mountOnce(el, spec, model, adopted) {
  const state = playerState(spec, model);
  const delivery = state.value("delivery") || "direct";
  const root = createElement("div", "jp-RangeVideo");
  root.dataset.playerId = spec.player_id;
  const video = createMediaElement(spec, state.audioOnly(), adopted);
  const parts = new Disposables(); // disposed in the order they were made
  const reports = createReports({ video, state });
  const report = (throttle) => reports.report(throttle);
  const status = createStatus({ video, spec, state, delivery, onFail: () => report() });
  const frameLabel = createFrameLabel(video);
  root.append(video, frameLabel.element, status.badge, status.message);
  el.replaceChildren(root);
  // Before the rest of the mount, so that the browser fetches while the page's script runs.
  parts.add(preloadWhenVisible(root, video));
  const proxyLayer = createProxyLayer({ root, video, state });
  parts.add(proxyLayer);
  parts.add(reports);
  // Before anything asks for frames: an exported clip's frames carry the source's times.
  if (spec.export != null && typeof spec.src === "string") shiftTimeline(video, spec.export.offset || 0);
  const startTime = () =>
    Math.max(video.currentTime || 0, (state.live ? state.value("current_time") : 0) || 0, state.value("start") || 0);
  const source = attachSource({ video, spec, state, delivery, status, proxyLayer, startTime });
  parts.add(source);
  parts.add(status);
  parts.add(frameLabel);
  if (!source.playable) {
    return releasable(video, () => {
      parts.dispose();
      root.remove();
    });
  }
  parts.add(mountVisuals({ root, video, state }));
  const playback = createPlayback({ video, state, report, frameLabel });
  reports.setPlayback(playback);
  parts.add(playback);
  const renewal = renewRedirects({ video, spec, state, playback, status });
  parts.add(renewal);
  status.explainErrors(source, renewal);

  // A view drawn after the commands were sent starts from the state they left.
  playback.setRate(state.value("playback_rate"));
  parts.add(applyOptions({ video, state, playback, frameLabel }));
  parts.add(applyCommands({ state, playback, reports }));
  parts.add(reportMediaEvents({ video, state, playback, status, reports }));
  parts.add(retryStuckSeeks(video));
  parts.add(bindKeys({ root, video, playback }));
  parts.add(mountPlayerTimelines({ root, video, state, playback }));
  // A view drawn after Python said play (also out of view: play() loads the video).
  if (playback.wantPlay && video.src) playback.play();
  // An adopted element told the parts before these what it had loaded: tell these.
  if (video === adopted && video.readyState >= 1) video.dispatchEvent(new Event("loadedmetadata"));
  if (video === adopted && video.readyState >= 2) video.dispatchEvent(new Event("loadeddata"));

  return releasable(video, () => {
    parts.dispose();
    root.remove();
  });
}

/** `dispose` (which keeps the element playing) as a cleanup that also stops the element, with a
 * `release()` that hands the element over instead. */
function releasable(video, dispose) {
  let done = false;
  const cleanup = () => {
    if (done) return;
    done = true;
    dispose();
    video.pause();
    video.removeAttribute("src");
    video.load(); // let the browser drop the connection
  };
  cleanup.release = () => {
    if (done) return null;
    done = true;
    dispose();
    return video;
  };
  return cleanup;
}

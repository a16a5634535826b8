// Playing, pausing, seeking and stepping by frame; which frame is on screen (from the one
// frame-callback loop of the video) and the clip's start and end.

import { Disposables } from "./dom.js";
import { frameAtTime, frameMidTime } from "./frame-clock.js";
import { frameLoopOf } from "./frame-loop.js";

/**
 * The playback of one player. `report(throttle)` tells the kernel of a change; `frameLabel`
 * shows the presented frame. Where to be and whether to play once the video has loaded come
 * from the state at render, then from commands and the page's own events; never from the
 * model's copy, which the page's own (possibly refused) reports may have changed meanwhile.
 */
export function createPlayback({ video, state, report, frameLabel }) {
  const disposables = new Disposables();
  const clock = state.clock;
  const frames = frameLoopOf(video);
  const playback = {
    startAt: state.live ? state.value("current_time") : 0,
    wantPlay: !!state.value("autoplay") || (state.live ? !state.value("paused") : false),
    presentedFrame: state.live ? state.value("frame") : 0,
    targetFrame: null, // a frame asked for and not yet presented: steps count from it
    seekTo,
    setRate,
    play,
    pause,
    showFrame,
    step,
    seekBy,
    shownFrame,
    clipped,
    dispose: () => disposables.dispose(),
  };
  // Whether a frame was presented since the element last seeked (Chromium need not call back
  // for a frame it did not composite).
  let presentedSinceSeek = true;

  // The clip's last frame: the one presented at `end` seconds (end=14 at 25 fps: frame 350).
  const endFrame = () => (state.value("end") != null && clock() ? frameAtTime(clock(), state.value("end")) : Infinity);
  function clipped() {
    return (state.value("start") || 0) > 0 || state.value("end") != null;
  }

  function seekTo(time) {
    if (!Number.isFinite(time)) return;
    playback.startAt = Math.max(0, time);
    video.currentTime = playback.startAt;
  }

  function setRate(rate) {
    video.playbackRate = rate ?? 1;
    video.defaultPlaybackRate = video.playbackRate;
  }

  function play() {
    playback.wantPlay = true;
    video.play().catch(() => report()); // e.g. an autoplay policy, or a pause right after
  }

  function pause() {
    playback.wantPlay = false;
    video.pause();
  }

  function showFrame(n) {
    const c = clock();
    if (!c) return;
    playback.targetFrame = Math.max(0, Math.min(Math.round(n), c.frame_count - 1));
    seekTo(frameMidTime(c, playback.targetFrame));
  }

  function step(n) {
    pause();
    showFrame((playback.targetFrame ?? playback.presentedFrame) + n);
  }

  /** Seek by `delta` seconds from where the video is (keyboard). */
  function seekBy(delta) {
    playback.targetFrame = null;
    const duration = Number.isFinite(video.duration) ? video.duration : (state.facts().duration ?? Infinity);
    seekTo(Math.min(Math.max(0, video.currentTime + delta), duration));
  }

  /** The frame on screen, for reports: the last one presented, unless none has been since the
   * element last seeked; the frame at the element's time is then the one it shows. */
  function shownFrame() {
    return presentedSinceSeek || video.seeking || !clock()
      ? playback.presentedFrame
      : frameAtTime(clock(), video.currentTime);
  }

  // Without frame callbacks: the clip's end from timeupdate (coarse).
  function enforceClip() {
    const end = state.value("end");
    if (end == null || video.paused || video.currentTime < end) return;
    if (state.value("loop")) seekTo(state.value("start") || 0);
    else {
      video.pause();
      seekTo(end);
    }
  }

  function onFrame(_now, metadata) {
    const c = clock();
    if (!c) {
      enforceClip(); // no frame clock (an output saved without one): the clip's end by time
      return;
    }
    const frame = frameAtTime(c, metadata.mediaTime);
    const changed = frame !== playback.presentedFrame;
    playback.presentedFrame = frame;
    if (!video.seeking) {
      playback.targetFrame = null; // the frame asked for is presented
      presentedSinceSeek = true;
    }
    frameLabel.update(frame);
    if (!video.paused && frame >= endFrame()) {
      // Stop on the clip's last frame itself: the next one is due a frame's time later.
      if (state.value("loop")) {
        showFrame(frameAtTime(c, state.value("start") || 0));
        playback.targetFrame = null;
      } else {
        pause();
        if (frame !== endFrame()) showFrame(endFrame());
      }
    }
    if (changed) report(!video.paused);
  }

  disposables.listen(video, "seeking", () => {
    presentedSinceSeek = false;
  });
  disposables.listen(video, "timeupdate", () => {
    if (!frames.supported) enforceClip();
  });
  disposables.listen(video, "play", () => {
    const start = state.value("start") || 0;
    const end = state.value("end");
    playback.targetFrame = null;
    playback.wantPlay = !video.paused; // events arrive late: the element's state now is what counts
    if (clipped() && (video.currentTime < start || (end != null && playback.presentedFrame >= endFrame()))) {
      seekTo(clock() ? frameMidTime(clock(), frameAtTime(clock(), start)) : start);
    }
    report();
  });
  disposables.listen(video, "pause", () => {
    playback.wantPlay = !video.paused;
    report();
  });
  disposables.listen(video, "ended", () => {
    if (state.value("loop") && clipped()) {
      seekTo(state.value("start") || 0);
      play();
    }
  });
  if (frames.supported) disposables.add(frames.subscribe(onFrame));
  else {
    const estimate = () => {
      if (clock()) playback.presentedFrame = frameAtTime(clock(), video.currentTime);
      frameLabel.update(playback.presentedFrame);
    };
    disposables.listen(video, "timeupdate", estimate);
    disposables.listen(video, "seeked", estimate);
  }
  return playback;
}

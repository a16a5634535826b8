// Small facts about a media element.

/** Whether the media element holds data at `seconds`. */
export function isBuffered(video, seconds) {
  const ranges = video.buffered;
  for (let i = 0; i < ranges.length; i++) {
    if (ranges.start(i) <= seconds && seconds < ranges.end(i)) return true;
  }
  return false;
}

/**
 * Give `video` the source's clock when it plays a clip cut from the source `offset` seconds
 * in: currentTime, duration and requestVideoFrameCallback's mediaTime read in source time,
 * so clips, seeks and per-frame data saved in source time work unchanged.
 */
export function shiftTimeline(video, offset) {
  if (!offset) return;
  const proto = HTMLMediaElement.prototype;
  const time = Object.getOwnPropertyDescriptor(proto, "currentTime");
  const duration = Object.getOwnPropertyDescriptor(proto, "duration");
  // Microseconds, rounded: the browser truncates, and 12 - 1.48 must not land before a frame.
  const native = (t) => Math.max(0, Math.round((t - offset) * 1e6) / 1e6);
  Object.defineProperty(video, "currentTime", {
    configurable: true,
    get() {
      return time.get.call(this) + offset;
    },
    set(t) {
      time.set.call(this, native(t));
    },
  });
  Object.defineProperty(video, "duration", {
    configurable: true,
    get() {
      return duration.get.call(this) + offset;
    },
  });
  const frameCallback = video.requestVideoFrameCallback;
  if (frameCallback) {
    video.requestVideoFrameCallback = (callback) =>
      frameCallback.call(video, (now, meta) => callback(now, { ...meta, mediaTime: meta.mediaTime + offset }));
  }
}

/** Players out of view do not preload: metadata once `root` scrolls into view. Returns the dispose. */
export function preloadWhenVisible(root, video) {
  // Already in view (a cell's new output, as a rule): load now rather than after the observer's
  // first report, which comes a frame or more later.
  if (typeof IntersectionObserver !== "function" || inView(root)) {
    video.preload = "metadata";
    return () => {};
  }
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((entry) => entry.isIntersecting)) {
      video.preload = "metadata";
      observer.disconnect();
    }
  });
  observer.observe(root);
  return () => observer.disconnect();
}

function inView(element) {
  if (!element.isConnected) return false;
  const box = element.getBoundingClientRect();
  const height = window.innerHeight || document.documentElement.clientHeight;
  const width = window.innerWidth || document.documentElement.clientWidth;
  return box.width > 0 && box.bottom > 0 && box.right > 0 && box.top < height && box.left < width;
}

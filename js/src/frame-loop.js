// One requestVideoFrameCallback loop per video, and one ResizeObserver per video, that the
// frame label, overlays, markers, clip end, grid and seek proxy subscribe to.

const frameLoops = new WeakMap();
const sizeWatches = new WeakMap();

/**
 * The presented-frame loop of `video`: `subscribe(callback)` calls `callback(now, metadata)`
 * for every frame the video presents, in the order of subscription, and returns the
 * unsubscribe. The loop runs while it has subscribers. `presented` is the last presented
 * frame's {mediaTime, at} (null from a seek until its frame is presented).
 * `supported` is false where there are no frame callbacks (an <audio>, older browsers).
 */
export function frameLoopOf(video) {
  let loop = frameLoops.get(video);
  if (!loop) {
    loop = createFrameLoop(video);
    frameLoops.set(video, loop);
  }
  return loop;
}

function createFrameLoop(video) {
  const subscribers = new Set();
  let handle = null;
  const loop = { supported: "requestVideoFrameCallback" in video, presented: null, subscribe };
  const onSeeking = () => {
    loop.presented = null;
  };

  function onFrame(now, metadata) {
    handle = video.requestVideoFrameCallback(onFrame);
    loop.presented = { mediaTime: metadata.mediaTime, at: metadata.expectedDisplayTime ?? now };
    for (const callback of [...subscribers]) {
      if (subscribers.has(callback)) callback(now, metadata); // not one unsubscribed meanwhile
    }
  }

  function subscribe(callback) {
    if (!loop.supported) return () => {};
    subscribers.add(callback);
    if (handle === null) {
      video.addEventListener("seeking", onSeeking);
      handle = video.requestVideoFrameCallback(onFrame);
    }
    return () => {
      subscribers.delete(callback);
      if (subscribers.size || handle === null) return;
      video.cancelVideoFrameCallback?.(handle);
      video.removeEventListener("seeking", onSeeking);
      handle = null;
      loop.presented = null;
    };
  }
  return loop;
}

/**
 * Call `callback` when the size of `video` changes (and once after the first subscription);
 * returns the unsubscribe. One ResizeObserver per video, observing while it has subscribers.
 */
export function watchSize(video, callback) {
  let watch = sizeWatches.get(video);
  if (!watch) {
    const subscribers = new Set();
    const observer = new ResizeObserver(() => {
      for (const subscriber of [...subscribers]) subscriber();
    });
    watch = { subscribers, observer };
    sizeWatches.set(video, watch);
  }
  if (!watch.subscribers.size) watch.observer.observe(video);
  watch.subscribers.add(callback);
  return () => {
    watch.subscribers.delete(callback);
    if (!watch.subscribers.size) watch.observer.disconnect();
  };
}

// The picture on screen, held over the <video> while it loads its source again (renewal.js): a
// new load shows nothing (black), or its first frame, until it has decoded one where it was
// asked to be. The picture is drawn while the element can draw it: during a seek, and after the
// error that may end it, the element is at HAVE_METADATA and draws nothing into a canvas, yet
// keeps the old frame on screen until a load replaces it. One canvas, at the size the video is
// shown.
// Drawing a frame from another origin taints the canvas: that only forbids reading it back.

import { createElement } from "./dom.js";

// The still is taken away by then at the latest, whatever the new load does.
const HOLD_MAX_MS = 10_000;
// A decoded frame is on screen by then.
const PRESENT_MS = 100;

/** The still of `video`: `keep()` draws the picture now, `hold()` shows it over the video until
 * the element presents a frame where it was asked to be (not seeking), `dispose()` removes it. */
export function createStill(video) {
  const canvas = createElement("canvas", "jp-RangeVideo-held");
  let kept = false; // the canvas holds the picture on screen
  let shown = false;
  let timer = null;

  function keep() {
    if (shown || video.readyState < 2 || !video.videoWidth || video.tagName !== "VIDEO") return;
    const scale = Math.min(1, ((video.offsetWidth || video.videoWidth) * devicePixelRatio) / video.videoWidth);
    const width = Math.max(1, Math.round(video.videoWidth * scale));
    const height = Math.max(1, Math.round(video.videoHeight * scale));
    if (canvas.width !== width || canvas.height !== height) Object.assign(canvas, { width, height });
    canvas.getContext("2d").drawImage(video, 0, 0, width, height);
    kept = true;
  }

  function release() {
    clearTimeout(timer);
    canvas.remove();
    shown = false;
  }

  // The new load's own frame, once it is where it was asked to be (seeked) and on screen: its
  // frame callback, or PRESENT_MS later where the compositor calls none (a paused element may
  // present the seek's frame before the "seeked" event). Then it is the picture to keep.
  function releaseWhenPresented() {
    if (!shown) return;
    if (video.seeking || video.readyState < 2) {
      video.addEventListener("seeked", releaseWhenPresented, { once: true });
      return;
    }
    let done = false;
    const presented = () => {
      if (done || !shown) return;
      done = true;
      release();
      keep();
    };
    video.requestVideoFrameCallback?.(presented);
    setTimeout(presented, PRESENT_MS);
  }

  function hold() {
    keep(); // the latest picture, if the element can still draw it
    if (!kept || shown) return;
    Object.assign(canvas.style, {
      left: `${video.offsetLeft}px`,
      top: `${video.offsetTop}px`,
      width: `${video.offsetWidth}px`,
      height: `${video.offsetHeight}px`,
    });
    canvas.classList.toggle("jp-mod-controls", video.controls);
    video.after(canvas);
    shown = true;
    kept = false; // drawn again at the next seek or stall
    timer = setTimeout(release, HOLD_MAX_MS);
  }

  return { keep, hold, release, releaseWhenPresented, dispose: release };
}

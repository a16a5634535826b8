// The seek proxy. Where the file's keyframes are far apart, a paused seek or step decodes
// seconds of video before its frame shows. The server makes a small rendition with a keyframe
// every few frames and the source's own timestamps (proxy.py); a second, hidden <video> plays
// it with hls.js. On a seek while paused it seeks to the same time, is shown over the main
// video as soon as it has that frame, and is hidden once the main video presents its own
// frame: the same frame, so nothing jumps. Playback always shows the source. Its segments
// take the main video's route (hls-route.js): HTTP from the same server, or the widget's comm.

import { createElement, Disposables } from "./dom.js";
import { frameLoopOf, watchSize } from "./frame-loop.js";

// The proxy is small (about 5 MB a minute): keep up to ten minutes of it in the browser, so
// a seek back or far away finds its frame buffered rather than a request away.
const PROXY_BUFFER_SECONDS = 600;
const PROXY_BUFFER_BYTES = 60 * 1000 * 1000;
// The main video's seeked frame is shown by then even if no new frame was presented (a
// seek to the frame already shown presents none).
const PROXY_REVEAL_MS = 250;
// Its own seeked frame is presented within a few display frames; if no callback says so
// (a seek to the frame it shows already presents none), it is shown anyway.
const PROXY_PRESENT_MS = 100;

const near = (a, b) => a !== null && Math.abs(a - b) < 1e-4;

/** The proxy layer of a live player's <video>, or null. `attach(route)` follows the route
 * the main video plays from (hls-route.js); `dispose()` removes it. */
export function createProxyLayer({ root, video, state }) {
  if (!state.live || video.tagName !== "VIDEO") return null;
  const layer = createElement("video", "jp-RangeVideo-proxy", { muted: true, playsInline: true, preload: "auto" });
  layer.setAttribute("aria-hidden", "true");
  const disposables = new Disposables();
  let hls = null;
  let route = null;
  let seekTarget = null; // the time the main video seeks to while paused
  let layerShown = false;
  let disposed = false;
  let stopPlacing = null;
  const place = () => {
    layer.style.left = `${video.offsetLeft}px`;
    layer.style.top = `${video.offsetTop}px`;
    layer.style.width = `${video.offsetWidth}px`;
    layer.style.height = `${video.offsetHeight}px`;
    layer.classList.toggle("jp-mod-controls", video.controls);
  };

  function setShown(shown) {
    layerShown = shown;
    // Transparent rather than hidden: the browser keeps compositing it, so its frames are
    // presented (and reported by requestVideoFrameCallback) before it is shown.
    if (shown) layer.dataset.shown = "";
    else delete layer.dataset.shown;
  }

  async function start() {
    if (hls || disposed || !route || !state.value("proxy")) return;
    root.append(layer);
    stopPlacing ??= watchSize(video, place);
    place();
    const loading = route;
    let Hls;
    let config;
    try {
      ({ Hls, config } = await loading.load());
    } catch {
      return; // no proxy: seeks are as fast as the source allows
    }
    if (disposed || hls || loading !== route || !Hls.isSupported()) return;
    hls = new Hls({
      ...config,
      maxBufferLength: PROXY_BUFFER_SECONDS,
      maxMaxBufferLength: PROXY_BUFFER_SECONDS,
      maxBufferSize: PROXY_BUFFER_BYTES,
      backBufferLength: PROXY_BUFFER_SECONDS,
      startPosition: video.currentTime || 0,
    });
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (data.fatal) stop(); // the main video still shows every frame
    });
    const at = (video.currentTime || 0).toFixed(3);
    hls.loadSource(route.playlistUrl("proxy", at));
    hls.attachMedia(layer);
  }

  function stop() {
    setShown(false);
    hls?.destroy();
    hls = null;
    stopPlacing?.();
    stopPlacing = null;
    layer.removeAttribute("src");
    layer.remove();
  }

  // Shown once the layer has seeked and presented its new frame, never while it still holds
  // the last one (a frame may be presented before or after "seeked").
  let seekNumber = 0;
  let presented = false;
  let seeked = false;
  const wanted = () =>
    video.seeking && video.paused && near(seekTarget, layer.currentTime) && near(seekTarget, video.currentTime);
  const showIfReady = () => {
    if (seeked && presented && wanted()) setShown(true);
  };
  disposables.listen(video, "seeking", () => {
    if (!hls || !video.paused) {
      setShown(false);
      return;
    }
    seekTarget = video.currentTime;
    if (near(layer.currentTime, seekTarget) && !layer.seeking) {
      if (layer.readyState >= 2) setShown(true);
      return;
    }
    const number = ++seekNumber;
    presented = !layer.requestVideoFrameCallback;
    seeked = false;
    layer.requestVideoFrameCallback?.(() => {
      if (number !== seekNumber) return;
      presented = true;
      showIfReady();
    });
    layer.currentTime = seekTarget;
  });
  disposables.listen(layer, "seeked", () => {
    const number = seekNumber;
    seeked = true;
    showIfReady();
    // A seek to the frame it shows already presents none.
    setTimeout(() => {
      if (number !== seekNumber) return;
      presented = true;
      showIfReady();
    }, PROXY_PRESENT_MS);
  });
  disposables.listen(video, "seeked", () => {
    if (!layerShown) return;
    const seekedTo = video.currentTime;
    const reveal = () => {
      if (!video.seeking && video.currentTime === seekedTo) setShown(false);
    };
    const frames = frameLoopOf(video);
    if (frames.supported) {
      const unsubscribe = frames.subscribe(() => {
        unsubscribe();
        reveal();
      });
    }
    setTimeout(reveal, PROXY_REVEAL_MS);
  });
  disposables.listen(video, "playing", () => {
    if (!video.seeking) setShown(false);
  });
  disposables.add(state.onChange(["proxy"], () => (state.value("proxy") ? start() : stop())));

  return {
    attach(newRoute) {
      if (newRoute.key === route?.key) return;
      stop();
      route = newRoute;
      start();
    },
    dispose() {
      disposed = true;
      disposables.dispose();
      stop();
    },
  };
}

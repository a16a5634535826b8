// delivery="redirect": the Jupyter server answers the player's URL with a 307 to a presigned URL
// of the object in its store, good for `redirect_seconds` and handed out until half of that has
// passed, so a load of the player's URL has at least half the lifetime. Chromium asks that
// store URL for every later range of the load: once it expires, a seek or a stall fails (the
// store answers 403). The player loads its own URL again before then, keeping the time (so the
// frame), play or pause, the rate and the volume: while playing, when the load's time is up;
// while paused (a still player fetches nothing), at its next seek or play. A network error, or
// a stall while the player waits for data, loads it once more (a URL may end sooner, with
// credentials that expire first: Chromium retries a refused range for about 30 s before its
// error); a second error within a lifetime is said in plain words.

import { Disposables } from "./dom.js";
import { createStill } from "./still.js";

// A load counts as good until this long before half the lifetime has passed: the time between
// the load and its redirect, and the clocks of the server and the store.
const MARGIN_MS = 60_000;

const loads = new WeakMap(); // <video> -> {url, at}: the player's URL it last loaded, and when
let loadCount = 0;

/** Whether `delivery` plays the file itself with byte ranges (from the server, or its store). */
export const playsFile = (delivery) => delivery === "direct" || delivery === "redirect";

/** How long a load of a redirected source stays good: half the lifetime, less a margin. */
export function goodForMs(seconds) {
  const half = seconds * 500;
  return half - Math.min(MARGIN_MS, half / 4);
}

const withoutQuery = (url) => url.split("?")[0];

/**
 * Load the player's `url` into `video`, with a query no load had before: Chromium keeps a URL's
 * redirect, and would ask the store's expired URL again. An element loading it already (an
 * adopted one) keeps its load while that is good, unless `again`.
 */
export function loadRedirected(video, url, seconds, again = false) {
  const href = withoutQuery(new URL(url, location.href).href);
  const loaded = loads.get(video);
  const current = loaded?.url === href && withoutQuery(video.src) === href;
  if (!again && current && performance.now() - loaded.at < goodForMs(seconds)) return;
  loadCount += 1;
  video.src = `${href}?load=${Date.now().toString(36)}.${loadCount}`;
  loads.set(video, { url: href, at: performance.now() });
}

/**
 * Keep a redirected player's source loadable: `playback` restarts it where it was. Returns
 * {recover(error), dispose}, or null for any other delivery. `recover` (for status.js) answers
 * whether it handled the element's error: by loading again, or by saying why it failed.
 */
export function renewRedirects({ video, spec, state, playback, status }) {
  if (state.value("delivery") !== "redirect" || !(state.value("redirect_seconds") > 0)) return null;
  const seconds = () => state.value("redirect_seconds");
  const disposables = new Disposables();
  let timer = null;
  let recoveredAt = null; // when an error last loaded the URL again
  let sizeHeld = false;
  const still = createStill(video); // the picture on screen, held while the element loads again
  // Only while the element plays the player's URL (not segments over the comm, say).
  const loaded = () => {
    const load = loads.get(video);
    return load && withoutQuery(video.src) === load.url ? load : null;
  };
  const stale = () => {
    const load = loaded();
    return load !== null && performance.now() - load.at >= goodForMs(seconds());
  };
  /** Whether a failure may load the URL again: once within a lifetime. */
  function mayRecover() {
    const now = performance.now();
    if (recoveredAt !== null && now - recoveredAt < goodForMs(seconds())) return false;
    recoveredAt = now;
    return true;
  }

  /** Load the player's URL again from `time`, playing or not. */
  function renew(time, play) {
    const load = loaded();
    if (!load) return;
    still.hold();
    playback.startAt = time; // where reportMediaEvents seeks once the metadata is in
    playback.wantPlay = play;
    video.defaultPlaybackRate = video.playbackRate; // a load resets the rate to the default
    if (video.videoWidth && video.videoHeight && !video.style.aspectRatio) {
      // Without its metadata the element would fall back to 300×150 for a moment.
      video.style.aspectRatio = `${video.videoWidth} / ${video.videoHeight}`;
      sizeHeld = true;
    }
    loadRedirected(video, load.url, seconds(), true);
  }

  function schedule() {
    clearTimeout(timer);
    const load = loaded();
    if (!load) return;
    const due = Math.max(0, load.at + goodForMs(seconds()) - performance.now());
    timer = setTimeout(() => {
      if (!video.paused && !video.ended) renew(video.currentTime, true);
    }, due);
  }

  // A still player fetches nothing until it seeks or plays: renewed then, if its load is old.
  const wanted = () => playback.wantPlay;
  for (const [event, play] of [
    ["seeking", wanted],
    ["waiting", wanted],
    ["play", () => true],
  ]) {
    disposables.listen(video, event, () => {
      if (event !== "play") still.keep(); // the picture a failure would leave on screen
      if (stale()) renew(video.currentTime, play());
    });
  }
  // The picture on screen, drawn while the element can: by the "seeking" event it often has
  // dropped to HAVE_METADATA already, so also whenever a frame settles or plays on.
  for (const event of ["seeked", "pause", "timeupdate", "loadeddata"]) disposables.listen(video, event, still.keep);
  // No data for 3 s while the player waits for it: the store may be refusing an expired URL.
  disposables.listen(video, "stalled", () => {
    if (loaded() && (video.seeking || video.readyState < HTMLMediaElement.HAVE_FUTURE_DATA) && mayRecover()) {
      renew(video.currentTime, playback.wantPlay);
    }
  });
  disposables.listen(video, "loadstart", schedule);
  disposables.add(state.onChange(["redirect_seconds"], schedule));
  disposables.listen(video, "loadedmetadata", () => {
    if (sizeHeld) video.style.aspectRatio = "";
    sizeHeld = false;
  });
  disposables.listen(video, "loadeddata", still.releaseWhenPresented);
  disposables.listen(video, "error", still.release);
  disposables.add(() => clearTimeout(timer));
  disposables.add(still);
  schedule();

  /** The words for a load the store failed, or null where the Jupyter server did not redirect. */
  async function storeFailure(error) {
    const load = loaded();
    try {
      const response = await fetch(load.url, { method: "HEAD", redirect: "manual", credentials: "same-origin" });
      if (response.type !== "opaqueredirect") return null; // the server's own answer explains
    } catch {
      return null;
    }
    const format = error.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED ? ", or this browser cannot play it" : "";
    return (
      `The video could not be loaded from its store (${spec.name}): the Jupyter server sent the browser ` +
      `there with a presigned URL (delivery="redirect"), and the store refused it, or this browser cannot ` +
      `reach the store${format}. Show it without delivery="redirect" to stream it through the Jupyter server.`
    );
  }

  return {
    async recover(error) {
      const network = error.code === MediaError.MEDIA_ERR_NETWORK;
      if (!loaded() || !(network || error.code === MediaError.MEDIA_ERR_SRC_NOT_SUPPORTED)) return false;
      if (mayRecover()) {
        renew(video.currentTime, playback.wantPlay);
        return true;
      }
      const why = await storeFailure(error);
      if (why) status.fail(why);
      return why !== null;
    },
    dispose() {
      disposables.dispose();
      if (sizeHeld) video.style.aspectRatio = "";
    },
  };
}

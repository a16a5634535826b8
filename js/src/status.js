// What the player says: errors in plain words, and the "Preparing video…" badge while it waits.

import { createElement, Disposables } from "./dom.js";

// Short waits (a direct seek) show no badge.
const BUSY_DELAY_MS = 300;

/**
 * The message line and the busy badge of a player. `onFail` runs after a failure is shown
 * (the player reports it). Returns {message, badge, setMessage, setBusy, fail, loadFailure, explainErrors, dispose}.
 */
export function createStatus({ video, spec, state, delivery, onFail }) {
  const disposables = new Disposables();
  const message = createElement("div", "jp-RangeVideo-message", { hidden: true });
  const badge = createElement("div", "jp-RangeVideo-busy", { hidden: true });
  badge.setAttribute("role", "status");
  badge.append(createElement("span", "jp-RangeVideo-spinner"), "Preparing video…");
  let busyTimer = null;
  let stalled = false;
  let segmented = false; // playing an HLS playlist (remux or transcode), not the file

  function setMessage(text) {
    message.textContent = text;
    message.hidden = !text;
  }

  // Segments of a remuxed or transcoded file are made when asked for: say so rather
  // than show a frozen frame.
  const needsData = () => !video.error && (stalled || video.seeking || video.readyState < 2);
  function setBusy(shown, delayMs = 0) {
    clearTimeout(busyTimer);
    busyTimer = null;
    if (!shown) badge.hidden = true;
    else if (delayMs <= 0) badge.hidden = false;
    else busyTimer = setTimeout(() => (badge.hidden = !needsData()), delayMs);
  }
  disposables.listen(video, "waiting", () => {
    stalled = true;
    setBusy(true, BUSY_DELAY_MS);
  });
  disposables.listen(video, "seeking", () => setBusy(true, BUSY_DELAY_MS));
  for (const event of ["seeked", "playing", "canplay", "loadeddata", "error", "emptied"]) {
    disposables.listen(video, event, () => {
      if (event !== "seeked" || video.readyState >= 3) stalled = false;
      if (!needsData()) setBusy(false);
    });
  }

  // What the kernel found wrong with the file after the player was shown (its background probe).
  disposables.add(
    state.onChange(["error"], () => {
      const text = state.value("error");
      if (text && message.hidden) setMessage(text);
    }),
  );

  function fail(text) {
    setBusy(false);
    setMessage(text);
    state.save({ error: text });
    onFail();
  }

  function loadFailure(status) {
    if (status === 404) {
      return (
        `The video could not be loaded: the server does not serve ${spec.name} (HTTP 404). ` +
        `It may have been moved or deleted, the notebook may come from another user, ` +
        `or jupyter-rangevideo is not enabled on this server.`
      );
    }
    if (status === 403) return `The video could not be loaded: access to ${spec.name} was refused (HTTP 403).`;
    if (typeof status === "number" && status >= 500 && segmented) {
      return `The server could not prepare ${spec.name} for playing (${delivery}, HTTP ${status}): the file may be damaged there. The Jupyter server's log says why.`;
    }
    const why = status === "unreachable" || !status ? "no answer from the server" : `HTTP ${status}`;
    return `The video could not be loaded (${spec.name}; ${why}).`;
  }

  /** Explain the video's errors; `source` tells what it plays and may fall back to the kernel;
   * `renewal` (renewal.js, or null) may load a redirected source again first. */
  function explainErrors(source, renewal = null) {
    disposables.listen(video, "error", async () => {
      const error = video.error;
      if (!error) return;
      if (renewal && (await renewal.recover(error))) return;
      const hlsUrl = source.hlsUrl();
      if (source.usingHlsJs() && error.code !== MediaError.MEDIA_ERR_NETWORK) {
        fail(`The video could not be decoded (${spec.name}, ${delivery}): ${error.message || "media error"}.`);
        return;
      }
      if (error.code === MediaError.MEDIA_ERR_NETWORK) {
        fail(`A network error stopped the video (${spec.name}).`);
        return;
      }
      let status = null;
      try {
        // A native HLS player's source is the playlist: GET it (small), as the player did.
        const url = hlsUrl ?? (video.currentSrc || video.src);
        status = (await fetch(url, { method: hlsUrl ? "GET" : "HEAD", credentials: "same-origin" })).status;
      } catch {
        status = "unreachable";
      }
      if (source.tryKernelServer(status)) return;
      if ((status === 200 || status === 206) && hlsUrl) {
        fail(`This browser cannot play the ${delivery}ed stream of ${spec.name}.`);
      } else if (status === 200 || status === 206) {
        fail(
          `This browser cannot play this video: its format or codec is not supported (${spec.name}). ` +
            `H.264 MP4 or VP9 WebM play everywhere.`,
        );
      } else {
        fail((hlsUrl ? null : await serverReason(video.currentSrc || video.src, status)) ?? loadFailure(status));
      }
    });
  }

  /** The server's own words for a file it could not serve (a remote store's failure, which it
   * answers as plain text), or null. */
  async function serverReason(url, status) {
    if (typeof status !== "number" || status < 400 || status === 404) return null;
    try {
      const response = await fetch(url, { headers: { Range: "bytes=0-0" }, credentials: "same-origin" });
      if (!(response.headers.get("Content-Type") || "").startsWith("text/plain")) return null;
      const text = (await response.text()).trim().slice(0, 500);
      return text ? `The video could not be loaded: ${text}` : null;
    } catch {
      return null;
    }
  }

  return {
    message,
    badge,
    setMessage,
    setBusy,
    fail,
    loadFailure,
    explainErrors,
    /** Whether the player plays segments (server errors then mean the segmenting failed). */
    set segmented(value) {
      segmented = value;
    },
    dispose() {
      disposables.dispose();
      setBusy(false);
    },
  };
}

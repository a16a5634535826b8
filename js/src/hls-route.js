// Where hls.js gets a player's playlists and segments: over HTTP from a server (the extension
// or the kernel's own) or over the widget's comm (comm.js, comm-loader.js). The player's video
// (source.js) and its seek proxy (proxy.js) take the same route, so that whatever reaches the
// one reaches the other. A route is {key, load(), playlistUrl(delivery, at)}: `load()` resolves
// with {Hls, config}, hls.js and its settings for this route; `playlistUrl` names the playlist
// of `delivery` ("remux", "transcode" or "proxy") with where playback will start (`at`, seconds).

import { createCommClient, moduleUrl } from "./comm.js";
import { COMM_BASE, commLoader } from "./comm-loader.js";
import { importOnce, onceOnPage } from "./registry.js";

export const SRC_PREFIX = "rangevideo/files/";
export const HLS_VERSION = "1.6.15"; // js/package.json pins it; js/build.mjs minifies it into static/vendor/
export const HLS_FILE = "hls.light.min.mjs";
const HLS_WORKER = "hls.worker.js";

/** hls.js from the server at `base` (once per page and server). */
export function loadHls(base) {
  return importOnce(`${base}rangevideo/static/vendor/${HLS_FILE}?v=${HLS_VERSION}`);
}

/** hls.js and its transmux worker's Blob URL, as bytes over a player's comm `client` (once per page). */
export async function loadHlsOverComm(client) {
  const fetchUrl = async (name) => moduleUrl((await client.request("static", { name }).done).bytes);
  const worker = onceOnPage(`comm:${HLS_WORKER}?v=${HLS_VERSION}`, () => fetchUrl(HLS_WORKER));
  const Hls = await importOnce(`comm:${HLS_FILE}?v=${HLS_VERSION}`, () => fetchUrl(HLS_FILE));
  // Without its worker hls.js transmuxes on the page's thread, as on another origin.
  return { Hls, workerPath: await worker.catch(() => null) };
}

/** hls.js settings for segments served from `base` (null: over the comm). */
export function hlsConfig(base) {
  const sameOrigin = base !== null && new URL(base).origin === location.origin;
  const xsrf = sameOrigin ? document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/)?.[1] : null;
  const patient = { maxTimeToFirstByteMs: 30_000, maxLoadTimeMs: 120_000 };
  return {
    // A segment costs server CPU when transcoded: buffer a little ahead, not minutes.
    maxBufferLength: 12,
    maxMaxBufferLength: 30,
    backBufferLength: 30,
    // The transmuxer's worker must be same-origin; elsewhere hls.js runs it inline.
    enableWorker: true,
    workerPath: sameOrigin ? `${base}rangevideo/static/vendor/${HLS_WORKER}` : null,
    // A transcoded segment may take seconds to make on a busy machine.
    fragLoadPolicy: {
      default: {
        ...patient,
        timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 2, retryDelayMs: 500, maxRetryDelayMs: 4000 },
      },
    },
    xhrSetup: xsrf ? (xhr) => xhr.setRequestHeader("X-XSRFToken", decodeURIComponent(xsrf)) : undefined,
  };
}

const withStart = (url, at) => (at == null ? url : `${url}?at=${at}`);

/**
 * hls.js `config` whose requests say when `video` asked for them while playing on (`?play=1`),
 * not for a seek or a still frame: the server then makes a segment as playback's, without the
 * sound past its pictures and the held copies that complete a paused seek sooner (segments.py).
 */
export function playbackAware(config, video) {
  const setup = config.xhrSetup;
  const xhrSetup = (xhr, url) => {
    const playing = !video.paused && !video.seeking;
    xhr.open("GET", playing ? `${url}${url.includes("?") ? "&" : "?"}play=1` : url, true);
    return setup?.(xhr, url);
  };
  return { ...config, xhrSetup };
}

/** The route to the segments of the signed file `src` over HTTP, from the server at `base`. */
export function httpRoute(base, src) {
  return {
    key: base,
    load: async () => ({ Hls: await loadHls(base), config: hlsConfig(base) }),
    playlistUrl: (delivery, at = null) =>
      withStart(`${base}${src.replace(SRC_PREFIX, `rangevideo/hls/${delivery}/`)}/index.m3u8`, at),
  };
}

/** The route over the comm of a player's live `state` (its requests stop with `dispose()`):
 * the player's own segments are "stream/", the seek proxy's "proxy/" (comm-loader.js). */
export function commRoute(state) {
  const client = createCommClient(state);
  return {
    key: client,
    client,
    load: async () => {
      const { Hls, workerPath } = await loadHlsOverComm(client);
      return { Hls, config: { ...hlsConfig(null), workerPath, loader: commLoader(client) } };
    },
    playlistUrl: (delivery, at = null) =>
      withStart(`${COMM_BASE}${delivery === "proxy" ? "proxy" : "stream"}/index.m3u8`, at),
    dispose: () => client.dispose(),
  };
}

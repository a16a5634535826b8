// Where the bytes come from, by delivery: "direct" plays the file itself with byte ranges
// ("redirect" too, from the object's store: renewal.js keeps its presigned URL fresh);
// "remux" and "transcode" play an HLS playlist of MPEG-TS segments the server makes on demand,
// with hls.js through Media Source Extensions, or natively where a browser has HLS but no MSE
// (Chromium answers "maybe" for HLS without playing it: MSE is preferred). Without a Jupyter
// server page: the file beside an exported notebook, then the range server inside the kernel
// (through Colab's proxy on Colab). Where no server reaches the page (the kernel's server is
// probed first), or with transport="comm": segments over the widget's comm (comm.js), hls.js too.

import { Disposables } from "./dom.js";
import { commRoute, HLS_FILE, HLS_VERSION, httpRoute, playbackAware, SRC_PREFIX } from "./hls-route.js";
import { isBuffered } from "./media.js";
import { loadRedirected, playsFile } from "./renewal.js";

// How long the kernel's server has to answer before the comm carries the bytes instead.
const PROBE_MS = 3000;

/** Whether the server at `base` answers at all within PROBE_MS (its public static route). Any
 * answer counts, read or not (no-cors: Colab's proxy may want its cookies); no answer does not. */
async function answers(base) {
  try {
    const url = `${base}rangevideo/static/vendor/${HLS_FILE}?v=${HLS_VERSION}`;
    const signal = AbortSignal.timeout(PROBE_MS);
    await fetch(url, { method: "HEAD", mode: "no-cors", credentials: "include", signal });
    return true;
  } catch {
    return false;
  }
}

/** The Jupyter server's base URL as the page knows it, or null on a page without one. */
export function jupyterBaseUrl() {
  const config = document.getElementById("jupyter-config-data");
  if (config) {
    try {
      const baseUrl = JSON.parse(config.textContent).baseUrl;
      if (baseUrl) return baseUrl.endsWith("/") ? baseUrl : `${baseUrl}/`;
    } catch {
      // fall through
    }
  }
  const fromBody = document.body?.dataset?.baseUrl;
  return fromBody ? (fromBody.endsWith("/") ? fromBody : `${fromBody}/`) : null;
}

/** Not served by this page's server: 404 from a Jupyter server without the extension, 405 from
 * standalone Voilà (its GET redirects to a 403), or no answer. The kernel's server may serve it. */
const notServedHere = (status) => status === 404 || status === 405 || status === "unreachable" || !status;

/**
 * Attach the player's source to `video`. `status` shows progress and failures; `proxyLayer`
 * (or null) follows the server in use; `startTime()` is where playback will start.
 * Returns {playable, hlsUrl, usingHlsJs, tryKernelServer, dispose}; `playable` is false when
 * there is nothing to play (a message says so).
 */
export function attachSource({ video, spec, state, delivery, status, proxyLayer, startTime }) {
  const disposables = new Disposables();
  let hls = null;
  let hlsUrl = null;
  let disposed = false;
  let usingKernelServer = false;
  let usingComm = false;
  let usingLocalSrc = false;
  const transport = state.value("transport") || "auto";

  async function attach(base) {
    hls?.destroy();
    hls = null;
    const route = httpRoute(base, spec.src);
    proxyLayer?.attach(route);
    if (playsFile(delivery)) {
      const url = base + spec.src;
      // An adopted element loading this file already keeps what it has.
      if (delivery === "redirect") loadRedirected(video, url, state.value("redirect_seconds"));
      else if (video.src !== new URL(url, location.href).href) video.src = url;
      return;
    }
    hlsUrl = route.playlistUrl(delivery);
    status.segmented = true;
    status.setBusy(true);
    // The playlist at once, with where playback will start: the server begins that segment
    // while hls.js loads, and hls.js's own requests join it.
    fetch(route.playlistUrl(delivery, startTime()), { credentials: "same-origin" }).catch(() => {});
    const mse = globalThis.ManagedMediaSource || globalThis.MediaSource;
    if (!mse && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = hlsUrl;
      return;
    }
    let loaded;
    try {
      loaded = await route.load();
    } catch (error) {
      if (!disposed && !tryKernelServer("unreachable")) {
        status.fail(`The player could not load its HLS library from the server (${error?.message ?? error}).`);
      }
      return;
    }
    playSegments(loaded, hlsUrl);
  }

  /** Play the playlist at `url` with hls.js (`Hls`, with `config`), unless the player is gone. */
  function playSegments({ Hls, config }, url) {
    if (disposed) return;
    if (!Hls.isSupported()) {
      status.fail(
        `This browser cannot play ${spec.name}: it needs Media Source Extensions or native HLS for a ${delivery}ed file.`,
      );
      return;
    }
    hls = new Hls(playbackAware(config, video));
    listenForHlsErrors(Hls, hls);
    hls.loadSource(url);
    hls.attachMedia(video);
  }

  /** Play from segments sent over the widget's comm, hls.js included (the seek proxy's too);
   * false without a live model. */
  function useComm() {
    if (!state.live || usingComm || transport === "http") return false;
    usingComm = true;
    hls?.destroy();
    hls = null;
    hlsUrl = null;
    status.segmented = true;
    status.setMessage("");
    status.setBusy(true);
    const route = commRoute(state);
    disposables.add(route);
    proxyLayer?.attach(route);
    route.load().then(
      (loaded) => playSegments(loaded, route.playlistUrl(delivery, startTime())),
      (error) =>
        disposed ||
        status.fail(`The player could not load its HLS library over the kernel's comm (${error?.message ?? error}).`),
    );
    return true;
  }

  function listenForHlsErrors(Hls, player) {
    let recovered = false;
    player.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || disposed) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
        recovered = true; // one try, as hls.js advises: re-create the media source
        player.recoverMediaError();
        return;
      }
      const httpStatus = data.response?.code;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        if (data.details?.startsWith("manifest") && tryKernelServer(httpStatus)) return;
        status.fail(status.loadFailure(httpStatus || "unreachable"));
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        status.fail(`The video could not be decoded (${spec.name}, ${delivery}): ${data.details}.`);
      } else {
        status.fail(`The video could not be played (${spec.name}, ${delivery}): ${data.details}.`);
      }
    });
  }

  // hls.js lets a segment it is loading finish when a seek goes back out of the buffer (it
  // aborts only for seeks past it). A transcoded segment takes a second or more to make, all
  // of it added to the seek: stop that load and start loading at the new position.
  disposables.listen(video, "seeking", () => {
    if (!hls || isBuffered(video, video.currentTime)) return;
    hls.stopLoad();
    hls.startLoad(video.currentTime, true);
  });

  async function kernelServerBase() {
    const server = state.value("_kernel_server");
    if (!server?.port) return null;
    const colab = globalThis.google?.colab?.kernel;
    const origin = colab?.proxyPort
      ? await colab.proxyPort(server.port, { cache: true })
      : `http://127.0.0.1:${server.port}/`;
    return `${origin.endsWith("/") ? origin : `${origin}/`}${server.token}/`;
  }

  /** Play from the kernel's own range server, once; false without a live model. */
  function useKernelServer() {
    if (!state.live || usingKernelServer) return false;
    usingKernelServer = true;
    status.setMessage(`Loading ${spec.name} from the kernel…`);
    const load = async () => {
      const base = await kernelServerBase();
      if (!base || disposed) return;
      // Another port (or Colab's proxy) may not reach this page: the comm then carries the bytes.
      if (!(await answers(base)) && !disposed && useComm()) return;
      status.setMessage("");
      attach(base);
    };
    disposables.add(state.onChange(["_kernel_server"], load));
    if (state.value("_kernel_server")?.port) load();
    else state.save({ _kernel_server_requested: true });
    return true;
  }

  /** After a load failed with `httpStatus`: whether the kernel's server, or else the comm, takes over. */
  function tryKernelServer(httpStatus) {
    if (usingComm || !(notServedHere(httpStatus) || usingLocalSrc)) return false;
    return usingKernelServer ? useComm() : useKernelServer();
  }

  const source = {
    playable: true,
    hlsUrl: () => hlsUrl,
    usingHlsJs: () => hls !== null,
    usingComm: () => usingComm,
    tryKernelServer,
    dispose() {
      disposed = true;
      disposables.dispose();
      hls?.destroy();
      hls = null;
    },
  };

  // An exported page (`jupyter rangevideo export`): src is the clip beside the page, or a
  // data: URL, holding the source's frames from `spec.export.offset` seconds on.
  const exported = spec.export != null && typeof spec.src === "string";
  if (!exported && (typeof spec.src !== "string" || !spec.src.startsWith(SRC_PREFIX))) {
    status.setMessage(`Video: ${spec.name ?? "unknown file"} (no playable source).`);
    source.playable = false;
    return source;
  }
  const baseUrl = jupyterBaseUrl();
  // The file beside an export plays only as it is; segments need a server.
  const localSrc = delivery === "direct" ? state.value("_local_src") : "";
  if (exported) {
    video.src = spec.src;
  } else if (transport === "comm" && useComm()) {
    // asked for: no HTTP at all
  } else if (baseUrl) {
    attach(new URL(baseUrl, location.href).href);
  } else if (localSrc) {
    usingLocalSrc = true;
    video.src = localSrc;
  } else if (!useKernelServer()) {
    status.setMessage(`Video: ${spec.name}. It plays in Jupyter with jupyter-rangevideo.`);
  }
  return source;
}

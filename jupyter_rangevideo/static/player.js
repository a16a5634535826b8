// The player's front end: one ES module, used as the anywidget module of `Player` and,
// through the JupyterLab extension in labextension_stub/, to draw saved outputs.
//
// The <video> streams from the Jupyter server extension with HTTP Range requests; the
// bytes never pass through the kernel. The URL is built here from the page's base URL,
// so the same output works under any base_url (JupyterHub's /user/<name>/ too).

const SRC_PREFIX = "rangevideo/files/";
const HLS_VERSION = "1.6.15"; // vendored in static/vendor/, see its README
const TIME_UPDATES_PER_SECOND = 4;

// Live models by player_id, so a renderer of a saved output can bind to its kernel's player.
const registry = (globalThis.__jupyterRangevideo ??= { models: new Map(), waiting: new Map() });

function register(model) {
  const id = model.get("player_id");
  registry.models.set(id, model);
  for (const resolve of registry.waiting.get(id) ?? []) resolve(model);
  registry.waiting.delete(id);
  return () => {
    if (registry.models.get(id) === model) registry.models.delete(id);
  };
}

/** Resolve with the live model of a player, or null after `timeoutMs`. */
export function findModel(playerId, timeoutMs = 0) {
  const model = registry.models.get(playerId);
  if (model || timeoutMs <= 0) return Promise.resolve(model ?? null);
  return new Promise((resolve) => {
    const waiters = registry.waiting.get(playerId) ?? [];
    waiters.push(resolve);
    registry.waiting.set(playerId, waiters);
    setTimeout(() => resolve(null), timeoutMs);
  });
}

/** The Jupyter server's base URL as the page knows it, or null on a page without one. */
export function jupyterBaseUrl() {
  const config = document.getElementById("jupyter-config-data");
  if (config) {
    try {
      const baseUrl = JSON.parse(config.textContent).baseUrl;
      if (baseUrl) return baseUrl.endsWith("/") ? baseUrl : baseUrl + "/";
    } catch {
      // fall through
    }
  }
  const fromBody = document.body?.dataset?.baseUrl;
  return fromBody ? (fromBody.endsWith("/") ? fromBody : fromBody + "/") : null;
}

/** hls.js from the server that serves the video (once per page and server). */
function loadHls(base) {
  const url = `${base}rangevideo/static/vendor/hls.light.mjs?v=${HLS_VERSION}`;
  registry.hls ??= new Map();
  if (!registry.hls.has(url)) {
    const loading = import(/* webpackIgnore: true */ url).then((module) => module.default);
    loading.catch(() => registry.hls.delete(url)); // let a later player try again
    registry.hls.set(url, loading);
  }
  return registry.hls.get(url);
}

function cssSize(value) {
  return typeof value === "number" ? `${value}px` : value || "";
}

const STYLE = `
.jp-RangeVideo { max-width: 100%; position: relative; }
.jp-RangeVideo-video { display: block; max-width: 100%; background: #000; }
.jp-RangeVideo-audio { display: block; max-width: 100%; }
.jp-RangeVideo-proxy { position: absolute; pointer-events: none; opacity: 0; background: #000; }
.jp-RangeVideo-proxy[data-shown] { opacity: 1; }
.jp-RangeVideo:hover > .jp-RangeVideo-proxy.jp-mod-controls { clip-path: inset(0 0 48px 0); }
.jp-RangeVideo-busy { position: absolute; top: 8px; left: 8px; display: flex; align-items: center; gap: 0.5em;
  padding: 0.25em 0.7em; border-radius: 1em; background: rgba(0, 0, 0, 0.65); color: #fff;
  font: 12px var(--jp-ui-font-family, sans-serif); pointer-events: none; }
.jp-RangeVideo-busy[hidden] { display: none; }
.jp-RangeVideo-spinner { width: 10px; height: 10px; border: 2px solid rgba(255, 255, 255, 0.35);
  border-top-color: #fff; border-radius: 50%; animation: jp-RangeVideo-spin 0.8s linear infinite; }
@keyframes jp-RangeVideo-spin { to { transform: rotate(360deg); } }
.jp-RangeVideo-message { padding: 0.6em 0.8em; border: 1px solid var(--jp-border-color1, #bbb);
  border-left: 4px solid var(--jp-warn-color1, #e69500); background: var(--jp-layout-color1, #fff);
  color: var(--jp-ui-font-color1, #222); font-family: var(--jp-ui-font-family, sans-serif);
  font-size: var(--jp-ui-font-size1, 13px); max-width: 60em; }
`;

function ensureStyle() {
  if (document.getElementById("jp-RangeVideo-style")) return;
  const style = document.createElement("style");
  style.id = "jp-RangeVideo-style";
  style.textContent = STYLE;
  document.head.appendChild(style);
}

/**
 * Draw a player into `el`. `spec` is the saved output ({src, name, player_id, options});
 * `model`, when given, is the live widget model: state then syncs both ways.
 * Returns a cleanup function.
 */
export function mountPlayer(el, spec, model = null) {
  ensureStyle();
  const root = document.createElement("div");
  root.className = "jp-RangeVideo";
  root.dataset.playerId = spec.player_id;
  const get = (name) => (model ? model.get(name) : spec.options?.[name]);
  const delivery = get("delivery") || "direct";
  // Audio-only files get the browser's compact audio controls, not an empty video box.
  const audioOnly = model ? model.get("_facts")?.video === null : !!spec.options?.audio_only;
  const video = document.createElement(audioOnly ? "audio" : "video");
  video.className = audioOnly ? "jp-RangeVideo-audio" : "jp-RangeVideo-video";
  video.dataset.playerId = spec.player_id;
  video.preload = "metadata";
  video.playsInline = true;
  const message = document.createElement("div");
  message.className = "jp-RangeVideo-message";
  message.hidden = true;
  const busyBadge = document.createElement("div");
  busyBadge.className = "jp-RangeVideo-busy";
  busyBadge.hidden = true;
  busyBadge.setAttribute("role", "status");
  const spinner = document.createElement("span");
  spinner.className = "jp-RangeVideo-spinner";
  busyBadge.append(spinner, "Preparing video…");
  root.append(video, busyBadge, message);
  el.replaceChildren(root);
  const proxyLayer = proxyLayerFor(root, video, spec, model, (base) => hlsConfig(base)); // see: seek proxy

  const listeners = [];
  const on = (target, event, handler) => {
    target.addEventListener(event, handler);
    listeners.push(() => target.removeEventListener(event, handler));
  };
  const push = (values) => {
    if (!model) return;
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

  // --- attaching the source, by delivery -----------------------------------------
  // direct: the file itself, with byte ranges. remux and transcode: an HLS playlist of
  // MPEG-TS segments the server makes on demand, at the file's own times, played with
  // hls.js through Media Source Extensions, or natively where a browser has HLS but no
  // MSE (Chromium answers "maybe" for HLS without playing it: MSE is preferred).
  let hls = null;
  let hlsUrl = null;
  let disposed = false;
  let busyTimer = null; // for busy(), below
  let stalled = false;

  async function attachSource(base) {
    hls?.destroy();
    hls = null;
    proxyLayer?.attach(base);
    if (delivery === "direct") {
      video.src = base + spec.src;
      return;
    }
    hlsUrl = base + spec.src.replace(SRC_PREFIX, `rangevideo/hls/${delivery}/`) + "/index.m3u8";
    busy(true);
    const mse = globalThis.ManagedMediaSource || globalThis.MediaSource;
    if (!mse && video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = hlsUrl;
      return;
    }
    let Hls;
    try {
      Hls = await loadHls(base);
    } catch (error) {
      fail(`The player could not load its HLS library from the server (${error?.message ?? error}).`);
      return;
    }
    if (disposed) return;
    if (!Hls.isSupported()) {
      fail(`This browser cannot play ${spec.name}: it needs Media Source Extensions or native HLS for a ${delivery}ed file.`);
      return;
    }
    hls = new Hls(hlsConfig(base));
    let recovered = false;
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || disposed) return;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && !recovered) {
        recovered = true; // one try, as hls.js advises: re-create the media source
        hls.recoverMediaError();
        return;
      }
      const status = data.response?.code;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR) {
        const notServedHere = status === 404 || status === 405 || !status;
        if (data.details?.startsWith("manifest") && notServedHere && !usingKernelServer && useKernelServer()) return;
        fail(loadFailure(status || "unreachable"));
      } else if (data.type === Hls.ErrorTypes.MEDIA_ERROR) {
        fail(`The video could not be decoded (${spec.name}, ${delivery}): ${data.details}.`);
      } else {
        fail(`The video could not be played (${spec.name}, ${delivery}): ${data.details}.`);
      }
    });
    hls.loadSource(hlsUrl);
    hls.attachMedia(video);
  }

  function hlsConfig(base) {
    const sameOrigin = new URL(base).origin === location.origin;
    const xsrf = sameOrigin ? document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/)?.[1] : null;
    const patient = { maxTimeToFirstByteMs: 30_000, maxLoadTimeMs: 120_000 };
    return {
      // A segment costs server CPU when transcoded: buffer a little ahead, not minutes.
      maxBufferLength: 12,
      maxMaxBufferLength: 30,
      backBufferLength: 30,
      // The transmuxer's worker must be same-origin; elsewhere hls.js runs it inline.
      enableWorker: true,
      workerPath: sameOrigin ? `${base}rangevideo/static/vendor/hls.worker.js` : null,
      // A transcoded segment may take seconds to make on a busy machine.
      fragLoadPolicy: { default: { ...patient, timeoutRetry: { maxNumRetry: 2, retryDelayMs: 0, maxRetryDelayMs: 0 },
        errorRetry: { maxNumRetry: 2, retryDelayMs: 500, maxRetryDelayMs: 4000 } } },
      xhrSetup: xsrf ? (xhr) => xhr.setRequestHeader("X-XSRFToken", decodeURIComponent(xsrf)) : undefined,
    };
  }

  // --- where the bytes come from -------------------------------------------------
  let usingKernelServer = false;

  async function kernelServerBase() {
    const server = model?.get("_kernel_server");
    if (!server?.port) return null;
    const colab = globalThis.google?.colab?.kernel;
    const origin = colab?.proxyPort
      ? await colab.proxyPort(server.port, { cache: true })
      : `http://127.0.0.1:${server.port}/`;
    return `${origin.endsWith("/") ? origin : origin + "/"}${server.token}/`;
  }

  function useKernelServer() {
    if (!model || usingKernelServer) return false;
    usingKernelServer = true;
    say(`Loading ${spec.name} from the kernel…`);
    const load = async () => {
      const base = await kernelServerBase();
      if (base) {
        say("");
        attachSource(base);
      }
    };
    model.on("change:_kernel_server", load);
    listeners.push(() => model.off("change:_kernel_server", load));
    if (model.get("_kernel_server")?.port) load();
    else push({ _kernel_server_requested: true });
    return true;
  }

  if (typeof spec.src !== "string" || !spec.src.startsWith(SRC_PREFIX)) {
    say(`Video: ${spec.name ?? "unknown file"} (no playable source).`);
    return () => root.remove();
  }
  // No Jupyter server page (an exported HTML with its widget state, VS Code, Colab):
  // first the file's path relative to the notebook, which works for an export opened
  // beside the file; then the range server inside the kernel, if a kernel answers.
  const baseUrl = jupyterBaseUrl();
  // The file beside an export plays only as it is; segments need a server.
  const localSrc = delivery === "direct" ? get("_local_src") : "";
  let usingLocalSrc = false;
  if (baseUrl) {
    attachSource(new URL(baseUrl, location.href).href);
  } else if (localSrc) {
    usingLocalSrc = true;
    video.src = localSrc;
  } else if (!useKernelServer()) {
    say(`Video: ${spec.name}. It plays in Jupyter with jupyter-rangevideo.`);
  }

  // --- errors, in plain words ----------------------------------------------------
  async function explain() {
    const error = video.error;
    if (!error) return;
    let text;
    if (hls && error.code !== MediaError.MEDIA_ERR_NETWORK) {
      text = `The video could not be decoded (${spec.name}, ${delivery}): ${error.message || "media error"}.`;
    } else if (error.code === MediaError.MEDIA_ERR_NETWORK) {
      text = `A network error stopped the video (${spec.name}).`;
    } else {
      let status = null;
      try {
        // A native HLS player's source is the playlist: GET it (small), as the player did.
        const url = hlsUrl ?? (video.currentSrc || video.src);
        status = (await fetch(url, { method: hlsUrl ? "GET" : "HEAD", credentials: "same-origin" })).status;
      } catch {
        status = "unreachable";
      }
      // Not served by this page's server: 404 from a Jupyter server without the extension,
      // 405 from standalone Voilà (its GET redirects to a 403). Try the kernel's server.
      const notServedHere = status === 404 || status === 405 || status === "unreachable";
      if ((notServedHere || usingLocalSrc) && !usingKernelServer && useKernelServer()) return;
      if ((status === 200 || status === 206) && hlsUrl) {
        text = `This browser cannot play the ${delivery}ed stream of ${spec.name}.`;
      } else if (status === 200 || status === 206) {
        text =
          `This browser cannot play this video: its format or codec is not supported (${spec.name}). ` +
          `H.264 MP4 or VP9 WebM play everywhere.`;
      } else {
        text = loadFailure(status);
      }
    }
    fail(text);
  }
  on(video, "error", explain);

  function loadFailure(status) {
    if (status === 404) {
      return (
        `The video could not be loaded: the server does not serve ${spec.name} (HTTP 404). ` +
        `It may have been moved or deleted, the notebook may come from another user, ` +
        `or jupyter-rangevideo is not enabled on this server.`
      );
    }
    if (status === 403) return `The video could not be loaded: access to ${spec.name} was refused (HTTP 403).`;
    if (typeof status === "number" && status >= 500 && hlsUrl) {
      return `The server could not prepare ${spec.name} for playing (${delivery}, HTTP ${status}): the file may be damaged there. The Jupyter server's log says why.`;
    }
    const why = status === "unreachable" || !status ? "no answer from the server" : `HTTP ${status}`;
    return `The video could not be loaded (${spec.name}; ${why}).`;
  }

  function fail(text) {
    busy(false);
    say(text);
    push({ error: text, paused: true });
  }

  // --- "Preparing video…" while the player waits for data ------------------------
  // Segments of a remuxed or transcoded file are made when asked for: say so rather
  // than show a frozen frame. Short waits (a direct seek) show nothing.
  const needsData = () => !video.error && (stalled || video.seeking || video.readyState < 2);
  function busy(on, delayMs = 0) {
    clearTimeout(busyTimer);
    busyTimer = null;
    if (!on) busyBadge.hidden = true;
    else if (delayMs <= 0) busyBadge.hidden = false;
    else busyTimer = setTimeout(() => (busyBadge.hidden = !needsData()), delayMs);
  }
  on(video, "waiting", () => {
    stalled = true;
    busy(true, 300);
  });
  on(video, "seeking", () => busy(true, 300));
  for (const event of ["seeked", "playing", "canplay", "loadeddata", "error", "emptied"]) {
    on(video, event, () => {
      if (event !== "seeked" || video.readyState >= 3) stalled = false;
      if (!needsData()) busy(false);
    });
  }

  // --- Python -> browser ---------------------------------------------------------
  const clipped = () => (get("start") || 0) > 0 || get("end") != null;
  function apply() {
    const width = get("width") ?? "100%";
    video.playbackRate = get("playback_rate") ?? 1;
    video.defaultPlaybackRate = video.playbackRate;
    video.muted = !!get("muted");
    video.volume = get("volume") ?? 1;
    video.controls = get("controls") ?? true;
    video.loop = !!get("loop") && !clipped();
    // Audio controls as wide as a browser draws them by default, a bit more for long files.
    video.style.width = audioOnly && width === "100%" ? "min(100%, 600px)" : cssSize(width);
    // An <audio>'s height is its controls' (54 px in Chromium): "auto" would make it 0.
    const height = get("height") ?? "auto";
    video.style.height = audioOnly && height === "auto" ? "" : cssSize(height);
  }
  apply();

  function seekTo(time) {
    if (Number.isFinite(time)) video.currentTime = Math.max(0, time);
  }

  function playOrPause() {
    if (get("paused") === video.paused) return;
    if (get("paused")) video.pause();
    else video.play().catch(() => push({ paused: true })); // e.g. an autoplay policy
  }

  if (model) {
    for (const name of ["playback_rate", "muted", "volume", "controls", "loop", "width", "height", "start", "end"]) {
      const handler = () => apply();
      model.on(`change:${name}`, handler);
      listeners.push(() => model.off(`change:${name}`, handler));
    }
    const onSeek = () => seekTo(model.get("_seek_request").time);
    const onTime = () => {
      // Our own updates match the element; a value set in Python does not: seek to it.
      if (Math.abs(model.get("current_time") - video.currentTime) > 0.25) seekTo(model.get("current_time"));
    };
    model.on("change:_seek_request", onSeek);
    model.on("change:current_time", onTime);
    model.on("change:paused", playOrPause);
    listeners.push(
      () => model.off("change:_seek_request", onSeek),
      () => model.off("change:current_time", onTime),
      () => model.off("change:paused", playOrPause),
    );
  }

  // --- browser -> Python ---------------------------------------------------------
  let lastTimePush = 0;
  const pushTime = (force) => {
    const now = performance.now();
    if (!force && now - lastTimePush < 1000 / TIME_UPDATES_PER_SECOND) return;
    lastTimePush = now;
    push({ current_time: video.currentTime });
  };

  // The probe's facts win: a segmented stream's duration is rounded to its segments,
  // and a transcode may be smaller than the file.
  const probed = (name) => (model ? model.get(name) : spec.options?.[name]) || null;
  on(video, "loadedmetadata", () => {
    say("");
    push({
      ...(probed("duration") ? {} : { duration: Number.isFinite(video.duration) ? video.duration : null }),
      ...(probed("video_width") || audioOnly ? {} : { video_width: video.videoWidth, video_height: video.videoHeight }),
      error: "",
    });
    const start = get("start") || 0;
    const resumeAt = model ? model.get("current_time") : 0;
    if (resumeAt > start) seekTo(resumeAt);
    else if (start > 0) seekTo(start);
    if (get("autoplay") || (model && !model.get("paused"))) {
      video.play().catch(() => push({ paused: true }));
    }
  });
  on(video, "resize", () => {
    if (!probed("video_width") && !audioOnly) push({ video_width: video.videoWidth, video_height: video.videoHeight });
  });
  on(video, "durationchange", () => {
    if (Number.isFinite(video.duration) && !probed("duration")) push({ duration: video.duration });
  });
  on(video, "timeupdate", () => {
    enforceClip();
    pushTime(false);
  });
  on(video, "seeked", () => pushTime(true));
  on(video, "play", () => {
    const start = get("start") || 0;
    const end = get("end");
    if (clipped() && (video.currentTime < start || (end != null && video.currentTime >= end))) seekTo(start);
    push({ paused: false });
  });
  on(video, "pause", () => {
    push({ paused: true });
    pushTime(true);
  });
  on(video, "ended", () => {
    if (get("loop") && clipped()) {
      seekTo(get("start") || 0);
      video.play().catch(() => {});
    }
  });
  on(video, "ratechange", () => push({ playback_rate: video.playbackRate }));
  on(video, "volumechange", () => push({ muted: video.muted, volume: video.volume }));

  function enforceClip() {
    const end = get("end");
    if (end == null || video.paused || video.currentTime < end) return;
    if (get("loop")) seekTo(get("start") || 0);
    else {
      video.pause();
      seekTo(end);
    }
  }

  return () => {
    for (const off of listeners) off();
    disposed = true;
    proxyLayer?.dispose();
    busy(false);
    hls?.destroy();
    hls = null;
    video.pause();
    video.removeAttribute("src");
    video.load(); // let the browser drop the connection
    root.remove();
  };
}

// --- seek proxy -----------------------------------------------------------------
// Where the file's keyframes are far apart, a paused seek or step decodes seconds of video
// before its frame shows. The server makes a small rendition with a keyframe every few
// frames and the source's own timestamps (proxy.py); a second, hidden <video> plays it with
// hls.js. On a seek while paused it seeks to the same time, is shown over the main video as
// soon as it has that frame, and is hidden once the main video presents its own frame: the
// same frame, so nothing jumps. Playback always shows the source.

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

function proxyLayerFor(root, video, spec, model, baseConfig) {
  if (!model || video.tagName !== "VIDEO") return null;
  const layer = document.createElement("video");
  layer.className = "jp-RangeVideo-proxy";
  layer.muted = true;
  layer.playsInline = true;
  layer.preload = "auto";
  layer.setAttribute("aria-hidden", "true");
  let hls = null;
  let base = null;
  let target = null; // the time the main video seeks to while paused
  let shown = false;
  let disposed = false;
  const listeners = [];
  const on = (target_, event, handler) => {
    target_.addEventListener(event, handler);
    listeners.push(() => target_.removeEventListener(event, handler));
  };
  const place = () => {
    layer.style.left = `${video.offsetLeft}px`;
    layer.style.top = `${video.offsetTop}px`;
    layer.style.width = `${video.offsetWidth}px`;
    layer.style.height = `${video.offsetHeight}px`;
    layer.classList.toggle("jp-mod-controls", video.controls);
  };
  const resize = new ResizeObserver(place);

  function show(on_) {
    shown = on_;
    // Transparent rather than hidden: the browser keeps compositing it, so its frames are
    // presented (and reported by requestVideoFrameCallback) before it is shown.
    if (on_) layer.dataset.shown = "";
    else delete layer.dataset.shown;
  }

  async function start() {
    if (hls || disposed || !base || !model.get("proxy")) return;
    root.append(layer);
    resize.observe(video);
    place();
    let Hls;
    try {
      Hls = await loadHls(base);
    } catch {
      return; // no proxy: seeks are as fast as the source allows
    }
    if (disposed || hls || !Hls.isSupported()) return;
    hls = new Hls({
      ...baseConfig(base),
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
    hls.loadSource(`${base}${spec.src.replace(SRC_PREFIX, "rangevideo/hls/proxy/")}/index.m3u8?at=${at}`);
    hls.attachMedia(layer);
  }

  function stop() {
    show(false);
    hls?.destroy();
    hls = null;
    resize.disconnect();
    layer.removeAttribute("src");
    layer.remove();
  }

  const near = (a, b) => a !== null && Math.abs(a - b) < 1e-4;
  // Shown once the layer has seeked and presented its new frame, never while it still holds
  // the last one (a frame may be presented before or after "seeked").
  let seekNumber = 0;
  let presented = false;
  let seeked = false;
  const wanted = () => video.seeking && video.paused && near(target, layer.currentTime) && near(target, video.currentTime);
  const maybeShow = () => {
    if (seeked && presented && wanted()) show(true);
  };
  on(video, "seeking", () => {
    if (!hls || !video.paused) {
      show(false);
      return;
    }
    target = video.currentTime;
    if (near(layer.currentTime, target) && !layer.seeking) {
      if (layer.readyState >= 2) show(true);
      return;
    }
    const number = ++seekNumber;
    presented = !layer.requestVideoFrameCallback;
    seeked = false;
    layer.requestVideoFrameCallback?.(() => {
      if (number !== seekNumber) return;
      presented = true;
      maybeShow();
    });
    layer.currentTime = target;
  });
  on(layer, "seeked", () => {
    const number = seekNumber;
    seeked = true;
    maybeShow();
    // A seek to the frame it shows already presents none.
    setTimeout(() => {
      if (number !== seekNumber) return;
      presented = true;
      maybeShow();
    }, PROXY_PRESENT_MS);
  });
  on(video, "seeked", () => {
    if (!shown) return;
    const seekedTo = video.currentTime;
    const reveal = () => {
      if (!video.seeking && video.currentTime === seekedTo) show(false);
    };
    if (video.requestVideoFrameCallback) video.requestVideoFrameCallback(reveal);
    setTimeout(reveal, PROXY_REVEAL_MS);
  });
  on(video, "playing", () => {
    if (!video.seeking) show(false);
  });
  const onProxy = () => (model.get("proxy") ? start() : stop());
  model.on("change:proxy", onProxy);
  listeners.push(() => model.off("change:proxy", onProxy));

  return {
    attach(newBase) {
      if (newBase === base) return;
      stop();
      base = newBase;
      start();
    },
    dispose() {
      disposed = true;
      for (const off of listeners) off();
      stop();
    },
  };
}

function specFromModel(model) {
  return { src: model.get("src"), name: model.get("name"), player_id: model.get("player_id"), options: {} };
}

export default {
  initialize({ model }) {
    return register(model);
  },
  render({ model, el }) {
    return mountPlayer(el, specFromModel(model), model);
  },
};

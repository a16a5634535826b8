// The player's front end: one ES module, used as the anywidget module of `Player` and,
// through the JupyterLab extension in labextension_stub/, to draw saved outputs.
//
// The <video> streams from the Jupyter server extension with HTTP Range requests; the
// bytes never pass through the kernel. The URL is built here from the page's base URL,
// so the same output works under any base_url (JupyterHub's /user/<name>/ too).

const SRC_PREFIX = "rangevideo/files/";
const HLS_VERSION = "1.6.15"; // vendored in static/vendor/, see its README
const TIME_UPDATES_PER_SECOND = 4;
// A paused player reports its state once it has been still this long, or at the latest this long.
const REPORT_SETTLE_MS = 200;
const REPORT_MAX_WAIT_MS = 1000;
// Chromium can leave a paused <video> seeking forever when seeks to A, B and A again follow
// each other within a few milliseconds (fast `. . ,` presses): the frame is buffered, but
// readyState stays HAVE_METADATA and "seeked" never comes. Seeking again to the same time
// ends it. A seek still seeking after this long with its data buffered is asked again,
// waiting twice as long each time, so that a seek that is merely slow is not restarted often.
const SEEK_RETRY_MS = 1000;
const SEEK_RETRY_MAX_MS = 8000;

// --- frames: frame number <-> time, from the probe's FrameClock (probe.py) ---------------
// `clock.runs` holds [first_frame, first_time, frame_duration]: the stream's own timestamps,
// so variable-frame-rate files are exact. Never currentTime * fps.

/** The frame on screen at `seconds`: the last one presented at or before it. */
export function frameAtTime(clock, seconds) {
  const runs = clock?.runs ?? [];
  if (!runs.length || !(clock.frame_count > 0)) return 0;
  const t = seconds + 1e-4; // a frame's mediaTime may be rounded to microseconds
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid][1] <= t) lo = mid;
    else hi = mid - 1;
  }
  const [first, start, step] = runs[lo];
  const offset = step > 0 ? Math.floor((t - start) / step) : 0;
  return Math.max(0, Math.min(first + Math.max(offset, 0), clock.frame_count - 1));
}

/** When frame `n` (clamped to the file) is presented, in seconds. */
export function timeOfFrame(clock, n) {
  const runs = clock?.runs ?? [];
  if (!runs.length) return 0;
  const frame = Math.max(0, Math.min(n, clock.frame_count - 1));
  let run = runs[0];
  for (const candidate of runs) {
    if (candidate[0] > frame) break;
    run = candidate;
  }
  return run[1] + (frame - run[0]) * run[2];
}

/** The middle of frame `n`'s display interval: seeking there shows exactly frame n. */
export function frameMidTime(clock, n) {
  const count = clock?.frame_count ?? 0;
  if (!count) return 0;
  const frame = Math.max(0, Math.min(n, count - 1));
  const start = timeOfFrame(clock, frame);
  const runs = clock.runs;
  const next = frame + 1 < count ? timeOfFrame(clock, frame + 1) : start + runs[runs.length - 1][2];
  return start + (next - start) / 2;
}

// --- sync: Python's commands win, in order (sync.py is the kernel side) ---------------------

/** The commands not applied yet, oldest first. */
export function pendingCommands(commands, applied) {
  return (commands ?? []).filter((command) => command.seq > applied).sort((a, b) => a.seq - b.seq);
}

/** The latest sequence number in the log (what a freshly drawn view starts from). */
export function latestSeq(commands) {
  return (commands ?? []).reduce((latest, command) => Math.max(latest, command.seq), 0);
}

/** Whether a paused player's report, settling since `since`, goes now: not while a seek is
 * under way (JupyterLab's work on the kernel's answer would delay the seek's frame; the seek's
 * end reports again), but at the latest REPORT_MAX_WAIT_MS after the first change. */
export function reportDue(now, since, seeking) {
  return !seeking || now - since >= REPORT_MAX_WAIT_MS;
}

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

/** Whether the media element holds data at ``seconds``. */
function isBuffered(video, seconds) {
  const ranges = video.buffered;
  for (let i = 0; i < ranges.length; i++) {
    if (ranges.start(i) <= seconds && seconds < ranges.end(i)) return true;
  }
  return false;
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
.jp-RangeVideo:focus { outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: 1px; }
.jp-RangeVideo-frame { position: absolute; top: 4px; left: 0; transform: translateX(calc(-100% - 4px)); padding: 1px 5px; border-radius: 3px;
  background: rgba(0, 0, 0, 0.6); color: #fff; font: 12px/1.4 var(--jp-code-font-family, monospace);
  pointer-events: none; }
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
    get() { return time.get.call(this) + offset; },
    set(t) { time.set.call(this, native(t)); },
  });
  Object.defineProperty(video, "duration", { configurable: true, get() { return duration.get.call(this) + offset; } });
  const frameCallback = video.requestVideoFrameCallback;
  if (frameCallback) {
    video.requestVideoFrameCallback = (callback) =>
      frameCallback.call(video, (now, meta) => callback(now, { ...meta, mediaTime: meta.mediaTime + offset }));
  }
}

/**
 * Draw a player into `el`. `spec` is the saved output ({src, name, player_id, options});
 * `model`, when given, is the live widget model: state then syncs both ways.
 * Returns a cleanup function.
 */
export function mountPlayer(el, spec, model = null) {
  if (spec.grid) return mountGrid(el, spec, model); // several players in step: see the end of this file
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
  video.preload = "none"; // until the player scrolls into view (see "visibility" below)
  video.playsInline = true;
  const message = document.createElement("div");
  message.className = "jp-RangeVideo-message";
  message.hidden = true;
  const label = document.createElement("div"); // the current frame number (show_frame_number)
  label.className = "jp-RangeVideo-frame";
    const busyBadge = document.createElement("div");
  busyBadge.className = "jp-RangeVideo-busy";
  busyBadge.hidden = true;
  busyBadge.setAttribute("role", "status");
  const spinner = document.createElement("span");
  spinner.className = "jp-RangeVideo-spinner";
  busyBadge.append(spinner, "Preparing video…");
  root.append(video, label, busyBadge, message);
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
    // The playlist at once, with where playback will start: the server begins that segment
    // while hls.js loads, and hls.js's own requests join it.
    const at = Math.max(video.currentTime || 0, (model ? model.get("current_time") : 0) || 0, get("start") || 0);
    fetch(`${hlsUrl}?at=${at}`, { credentials: "same-origin" }).catch(() => {});
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

  // hls.js lets a segment it is loading finish when a seek goes back out of the buffer (it
  // aborts only for seeks past it). A transcoded segment takes a second or more to make, all
  // of it added to the seek: stop that load and start loading at the new position.
  video.addEventListener("seeking", () => {
    if (!hls || isBuffered(video, video.currentTime)) return;
    hls.stopLoad();
    hls.startLoad(video.currentTime, true);
  });

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

  // An exported page (`jupyter rangevideo export`): src is the clip beside the page, or a
  // data: URL, holding the source's frames from `spec.export.offset` seconds on.
  const exported = spec.export != null && typeof spec.src === "string";
  if (!exported && (typeof spec.src !== "string" || !spec.src.startsWith(SRC_PREFIX))) {
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
  if (exported) {
    shiftTimeline(video, spec.export.offset || 0);
    video.src = spec.src;
  } else if (baseUrl) {
    attachSource(new URL(baseUrl, location.href).href);
  } else if (localSrc) {
    usingLocalSrc = true;
    video.src = localSrc;
  } else if (!useKernelServer()) {
    say(`Video: ${spec.name}. It plays in Jupyter with jupyter-rangevideo.`);
  }

  listeners.push(mountVisuals(root, video, spec, model)); // overlays and markers: see the end of this file

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
    push({ error: text });
    report();
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

  // --- Python -> browser: numbered commands, applied in order (sync.py) ---------------
  // Frame state (used by the commands; tracked in the "frames" section below).
  const clock = () => get("_facts")?.clock ?? spec.clock ?? null; // a saved output keeps it
  const hasFrameCallback = "requestVideoFrameCallback" in video; // not on an <audio>
  let presentedFrame = model ? model.get("frame") : 0;
  let targetFrame = null; // a frame asked for and not yet presented: steps count from it
  let frameCallback = null;
  // The clip's last frame: the one presented at `end` seconds (end=14 at 25 fps: frame 350).
  const endFrame = () => (get("end") != null && clock() ? frameAtTime(clock(), get("end")) : Infinity);
  const clipped = () => (get("start") || 0) > 0 || get("end") != null;
  function apply() {
    const width = get("width") ?? "100%";
    video.muted = !!get("muted");
    video.volume = get("volume") ?? 1;
    video.controls = get("controls") ?? true;
    video.loop = !!get("loop") && !clipped();
    // Audio controls as wide as a browser draws them by default, a bit more for long files.
    video.style.width = audioOnly && width === "100%" ? "min(100%, 600px)" : cssSize(width);
    // An <audio>'s height is its controls' (54 px in Chromium): "auto" would make it 0.
    const height = get("height") ?? "auto";
    video.style.height = audioOnly && height === "auto" ? "" : cssSize(height);
    label.hidden = !(get("show_frame_number") ?? true) || !clock();
    drawLabel();
  }

  // Where to be and whether to play once the video has loaded: from the state at render,
  // then from commands and the page's own events; never from the model's copy, which the
  // page's own (possibly refused) reports may have changed meanwhile.
  let startAt = model ? model.get("current_time") : 0;
  let wantPlay = !!get("autoplay") || (model ? !model.get("paused") : false);

  function seekTo(time) {
    if (!Number.isFinite(time)) return;
    startAt = Math.max(0, time);
    video.currentTime = startAt;
  }

  function setRate(rate) {
    video.playbackRate = rate ?? 1;
    video.defaultPlaybackRate = video.playbackRate;
  }

  function play() {
    wantPlay = true;
    video.play().catch(() => report()); // e.g. an autoplay policy, or a pause right after
  }

  function pause() {
    wantPlay = false;
    video.pause();
  }

  // The last command applied; every report carries it, so the kernel can tell a report
  // made before its latest command from one made after (a click in the page).
  let applied = model ? latestSeq(model.get("_commands")) : 0;

  function applyCommand({ op, value }) {
    if (op === "play") play();
    else if (op === "pause") pause();
    else if (op === "rate") setRate(value);
    else if (op === "seek") {
      targetFrame = null;
      seekTo(value);
    } else if (op === "frame") showFrame(value);
    else if (op === "step") step(value);
  }

  function applyCommands() {
    for (const command of pendingCommands(model.get("_commands"), applied)) {
      applyCommand(command);
      applied = command.seq;
    }
    report();
  }

  // A view drawn after the commands were sent starts from the state they left.
  setRate(get("playback_rate"));
  apply();

  if (model) {
    for (const name of ["muted", "volume", "controls", "loop", "width", "height", "start", "end", "show_frame_number"]) {
      const handler = () => apply();
      model.on(`change:${name}`, handler);
      listeners.push(() => model.off(`change:${name}`, handler));
    }
    model.on("change:_commands", applyCommands);
    listeners.push(() => model.off("change:_commands", applyCommands));
  }

  // --- browser -> Python: reports tagged with the last command applied ---------------------
  // While playing, at most TIME_UPDATES_PER_SECOND. Otherwise (seeks, steps, pause) once the
  // player has been still for REPORT_SETTLE_MS: each report makes the kernel answer with
  // state and busy/idle messages that JupyterLab handles on the page's main thread, and
  // sent at once, that work delayed the next seek's frame by 30-70 ms (a 360p file).
  let lastReport = 0;
  let reports = 0;
  let settling = null; // the timer of a report waiting for the player to be still
  let settlingSince = 0;
  function report(throttle = false) {
    if (!model || video.readyState === 0) return; // nothing to tell before the metadata
    const now = performance.now();
    if (throttle) {
      if (now - lastReport >= 1000 / TIME_UPDATES_PER_SECOND) sendReport();
      return;
    }
    if (settling === null) settlingSince = now;
    clearTimeout(settling);
    settling = setTimeout(settled, settleDelay(now));
  }
  // REPORT_SETTLE_MS more, but never past REPORT_MAX_WAIT_MS after the first change.
  const settleDelay = (now) => Math.max(0, Math.min(REPORT_SETTLE_MS, settlingSince + REPORT_MAX_WAIT_MS - now));
  function settled() {
    settling = null;
    if (disposed) return;
    const now = performance.now();
    if (reportDue(now, settlingSince, video.seeking)) sendReport();
    else settling = setTimeout(settled, settleDelay(now));
  }
  listeners.push(() => clearTimeout(settling));

  function sendReport() {
    lastReport = performance.now();
    reports += 1; // a new object each time: always sent, never merged with an older one
    push({
      _report: {
        applied,
        n: reports,
        paused: video.paused,
        current_time: video.currentTime,
        playback_rate: video.playbackRate,
        frame: targetFrame ?? shownFrame(),
      },
    });
  }

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
    if (startAt > start) seekTo(startAt);
    else if (start > 0) seekTo(start);
    if (wantPlay) play();
  });
  on(video, "resize", () => {
    if (!probed("video_width") && !audioOnly) push({ video_width: video.videoWidth, video_height: video.videoHeight });
  });
  on(video, "durationchange", () => {
    if (Number.isFinite(video.duration) && !probed("duration")) push({ duration: video.duration });
  });
  on(video, "timeupdate", () => {
    if (!hasFrameCallback) enforceClip();
    if (!video.paused) report(true); // a paused seek is reported once it has ended
  });
  on(video, "seeked", () => report());
  on(video, "play", () => {
    const start = get("start") || 0;
    const end = get("end");
    targetFrame = null;
    wantPlay = !video.paused; // events arrive late: the element's state now is what counts
    if (clipped() && (video.currentTime < start || (end != null && presentedFrame >= endFrame()))) {
      seekTo(clock() ? frameMidTime(clock(), frameAtTime(clock(), start)) : start);
    }
    report();
  });
  on(video, "pause", () => {
    wantPlay = !video.paused;
    report();
  });
  on(video, "ended", () => {
    if (get("loop") && clipped()) {
      seekTo(get("start") || 0);
      play();
    }
  });
  on(video, "ratechange", () => report());

  // A stuck seek (see SEEK_RETRY_MS) is asked again while its frame is buffered.
  let seekRetry = null;
  let seekRetryMs = SEEK_RETRY_MS;
  const watchSeek = () => {
    clearTimeout(seekRetry);
    seekRetry = setTimeout(() => {
      if (disposed || !video.seeking) return;
      seekRetryMs = Math.min(2 * seekRetryMs, SEEK_RETRY_MAX_MS);
      if (video.paused && isBuffered(video, video.currentTime)) video.currentTime = video.currentTime;
      else watchSeek();
    }, seekRetryMs);
  };
  on(video, "seeking", watchSeek);
  on(video, "seeked", () => {
    clearTimeout(seekRetry);
    seekRetryMs = SEEK_RETRY_MS;
  });
  listeners.push(() => clearTimeout(seekRetry));
  on(video, "volumechange", () => push({ muted: video.muted, volume: video.volume }));

  // Fallback without requestVideoFrameCallback: the clip's end from timeupdate (coarse).
  function enforceClip() {
    const end = get("end");
    if (end == null || video.paused || video.currentTime < end) return;
    if (get("loop")) seekTo(get("start") || 0);
    else {
      video.pause();
      seekTo(end);
    }
  }

  // --- frames: the frame presented now, from requestVideoFrameCallback -----------------------

  function showFrame(n) {
    const c = clock();
    if (!c) return;
    targetFrame = Math.max(0, Math.min(Math.round(n), c.frame_count - 1));
    seekTo(frameMidTime(c, targetFrame));
  }

  function step(n) {
    pause();
    showFrame((targetFrame ?? presentedFrame) + n);
  }

  // The frame on screen, for reports: the last one presented, unless none has been since the
  // element last seeked (Chromium need not call back for a frame it did not composite); the
  // frame at the element's time is then the one it shows.
  let presentedSinceSeek = true;
  on(video, "seeking", () => {
    presentedSinceSeek = false;
  });
  const shownFrame = () =>
    presentedSinceSeek || video.seeking || !clock() ? presentedFrame : frameAtTime(clock(), video.currentTime);

  function onFrame(_now, metadata) {
    frameCallback = video.requestVideoFrameCallback(onFrame);
    const c = clock();
    if (!c) {
      enforceClip(); // no frame clock (an output saved without one): the clip's end by time
      return;
    }
    const frame = frameAtTime(c, metadata.mediaTime);
    const changed = frame !== presentedFrame;
    presentedFrame = frame;
    if (!video.seeking) {
      targetFrame = null; // the frame asked for is presented
      presentedSinceSeek = true;
    }
    drawLabel();
    if (!video.paused && frame >= endFrame()) {
      // Stop on the clip's last frame itself: the next one is due a frame's time later.
      if (get("loop")) {
        showFrame(frameAtTime(c, get("start") || 0));
        targetFrame = null;
      } else {
        pause();
        if (frame !== endFrame()) showFrame(endFrame());
      }
    }
    if (changed) report(!video.paused);
  }
  if (hasFrameCallback) frameCallback = video.requestVideoFrameCallback(onFrame);
  else {
    const estimate = () => {
      if (clock()) presentedFrame = frameAtTime(clock(), video.currentTime);
      drawLabel();
    };
    on(video, "timeupdate", estimate);
    on(video, "seeked", estimate);
  }
  listeners.push(() => frameCallback != null && video.cancelVideoFrameCallback?.(frameCallback));

  function drawLabel() {
    const text = `frame ${presentedFrame}`;
    if (!label.hidden && label.textContent !== text) label.textContent = text;
  }
  // The label sits at the video's right edge. Placed when the video's size changes, not per
  // frame: reading a size in a frame callback forces a layout of the whole page (a notebook's)
  // before the frame can be shown.
  const placeLabel = new ResizeObserver(() => {
    label.style.left = `${video.offsetWidth}px`;
  });
  placeLabel.observe(video);
  listeners.push(() => placeLabel.disconnect());

  // --- keyboard, in the focused player ------------------------------------------------------
  // `,` `.` one frame back / forward; space or k play/pause; arrows ±5 s; j l ±10 s.
  function userSeek(delta) {
    targetFrame = null;
    const duration = Number.isFinite(video.duration) ? video.duration : get("_facts")?.duration ?? Infinity;
    seekTo(Math.min(Math.max(0, video.currentTime + delta), duration));
  }
  const keys = {
    ",": () => step(-1),
    ".": () => step(1),
    " ": () => (video.paused ? play() : pause()),
    k: () => (video.paused ? play() : pause()),
    ArrowLeft: () => userSeek(-5),
    ArrowRight: () => userSeek(5),
    j: () => userSeek(-10),
    l: () => userSeek(10),
  };
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // JupyterLab: these keys are the player's here
  on(root, "keydown", (event) => {
    const action = keys[event.key];
    if (!action || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault(); // also the native controls' own handling of the same key
    event.stopPropagation(); // and the notebook's command-mode shortcuts (j, k, space)
    action();
  });
  on(video, "click", () => root.focus({ preventScroll: true }));

  // A view drawn after Python said play (also out of view: play() loads the video).
  if (wantPlay && video.src) play();

  // --- visibility: players out of view do not preload ----------------------------------------
  if (typeof IntersectionObserver === "function") {
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((entry) => entry.isIntersecting)) {
        video.preload = "metadata";
        observer.disconnect();
      }
    });
    observer.observe(root);
    listeners.push(() => observer.disconnect());
  } else {
    video.preload = "metadata";
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
    return mountPlayer(el, model.get("_grid") ? gridSpecFromModel(model) : specFromModel(model), model);
  },
};

// =================================================================================
// Visuals: per-frame overlays and timeline markers (overlay.py and markers.py pack them).
// mountPlayer calls mountVisuals once; everything below keeps to the root it is given.
// =================================================================================

const OVERLAY_COLUMNS = [
  ["frame", Uint32Array], ["kind", Uint8Array], ["x", Float32Array], ["y", Float32Array],
  ["a", Float32Array], ["b", Float32Array], ["color", Uint16Array], ["label", Uint32Array],
  ["width", Float32Array],
];
const OVERLAY_DEFAULT_COLOR = "#ffd000";

const VISUALS_STYLE = `
.jp-RangeVideo-visuals { position: relative; }
.jp-RangeVideo-overlay { position: absolute; left: 0; top: 0; pointer-events: none; }
.jp-RangeVideo-bar { display: flex; align-items: stretch; height: 14px; margin-top: 2px; user-select: none; }
.jp-RangeVideo-track { position: relative; flex: 1 1 auto; background: rgba(128, 128, 128, 0.25); overflow: hidden; }
.jp-RangeVideo-chapter { position: absolute; top: 0; bottom: 0; background: rgba(33, 150, 243, 0.35);
  border-left: 1px solid rgba(33, 150, 243, 0.9); font: 10px/14px sans-serif; color: var(--jp-ui-font-color1, #222);
  overflow: hidden; white-space: nowrap; text-overflow: ellipsis; padding-left: 2px; cursor: pointer; box-sizing: border-box; }
.jp-RangeVideo-chapter:nth-child(even) { background: rgba(33, 150, 243, 0.2); }
.jp-RangeVideo-tick { position: absolute; top: 0; bottom: 0; width: 3px; margin-left: -1px; background: #e53935; cursor: pointer; }
.jp-RangeVideo-playhead { position: absolute; top: 0; bottom: 0; width: 2px; margin-left: -1px; background: #fff;
  box-shadow: 0 0 1px #000; pointer-events: none; }
.jp-RangeVideo-fullscreen { flex: 0 0 18px; border: none; padding: 0; margin-left: 2px; cursor: pointer;
  background: rgba(128, 128, 128, 0.25); color: inherit; font-size: 11px; line-height: 14px; }
.jp-RangeVideo:fullscreen { display: flex; flex-direction: column; justify-content: center; background: #000; }
.jp-RangeVideo:fullscreen .jp-RangeVideo-video { width: 100% !important; height: auto !important; flex: 1 1 0;
  min-height: 0; max-width: none; }
.jp-RangeVideo:fullscreen .jp-RangeVideo-bar { flex: 0 0 14px; }
`;

/** base64 (a saved output), DataView (a widget buffer) or bytes -> Uint8Array. */
function bytesOf(data) {
  if (typeof data === "string") {
    const binary = atob(data);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

async function inflate(bytes) {
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("deflate"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** One layer's columns from its packed state (overlay.pack: shuffled bytes, deflated). */
export async function unpackOverlay(layer) {
  const raw = await inflate(bytesOf(layer.data));
  const n = layer.count;
  const columns = { count: n, palette: layer.palette ?? [], labels: layer.labels ?? [] };
  let offset = 0;
  for (const [name, Type] of OVERLAY_COLUMNS) {
    const size = Type.BYTES_PER_ELEMENT;
    const bytes = new Uint8Array(n * size);
    for (let k = 0; k < size; k++) {
      const plane = raw.subarray(offset + k * n, offset + (k + 1) * n);
      for (let i = 0; i < n; i++) bytes[i * size + k] = plane[i];
    }
    columns[name] = new Type(bytes.buffer); // little-endian, as every browser platform is
    offset += n * size;
  }
  if (offset !== raw.length) throw new Error("overlay data has the wrong length");
  return columns;
}

/** The first index i with values[i] >= target (values sorted). */
function lowerBound(values, target) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Where the picture lies inside a video element of `box` ({width, height, fit}: its CSS size and
 * object-fit), letterboxed, in CSS px. */
function pictureRect(box, sourceWidth, sourceHeight) {
  const { width, height, fit } = box;
  if (!sourceWidth || !sourceHeight || !width || !height) return null;
  if (fit === "fill") return { x: 0, y: 0, width, height };
  const scale = (fit === "cover" ? Math.max : Math.min)(width / sourceWidth, height / sourceHeight);
  return {
    x: (width - sourceWidth * scale) / 2,
    y: (height - sourceHeight * scale) / 2,
    width: sourceWidth * scale,
    height: sourceHeight * scale,
  };
}

function drawLayer(ctx, layer, frame, rect, sx, sy) {
  const start = lowerBound(layer.frame, frame);
  const end = lowerBound(layer.frame, frame + 1);
  ctx.font = "12px sans-serif";
  ctx.textBaseline = "bottom";
  for (let i = start; i < end; i++) {
    const color = layer.palette[layer.color[i] - 1] ?? OVERLAY_DEFAULT_COLOR;
    const label = layer.label[i] ? layer.labels[layer.label[i] - 1] : null;
    const x = rect.x + layer.x[i] * sx;
    const y = rect.y + layer.y[i] * sy;
    ctx.strokeStyle = color;
    ctx.fillStyle = color;
    ctx.lineWidth = layer.width[i] || 2;
    const kind = layer.kind[i];
    if (kind === 0) ctx.strokeRect(x, y, layer.a[i] * sx, layer.b[i] * sy);
    else if (kind === 1) {
      ctx.beginPath();
      ctx.arc(x, y, Math.max(3, ctx.lineWidth * 1.5), 0, 2 * Math.PI);
      ctx.fill();
    } else if (kind === 2) {
      ctx.beginPath();
      ctx.moveTo(x, y);
      ctx.lineTo(rect.x + layer.a[i] * sx, rect.y + layer.b[i] * sy);
      ctx.stroke();
    }
    if (label) {
      const [tx, ty] = kind === 3 ? [x, y] : kind === 0 ? [x, y - 2] : [x + 5, y - 3];
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.8)";
      ctx.strokeText(label, tx, ty);
      ctx.fillStyle = color;
      ctx.fillText(label, tx, ty);
    }
  }
}

/**
 * Overlays and markers for one player: a canvas over the video redrawn on each presented
 * frame, and a bar of ticks and chapters under it. Draws from the live model, or from the
 * saved output (`spec.overlays`, `spec.markers`) when there is no kernel. Returns a cleanup.
 */
function mountVisuals(root, video, spec, model) {
  if (!document.getElementById("jp-RangeVideo-visuals-style")) {
    const style = document.createElement("style");
    style.id = "jp-RangeVideo-visuals-style";
    style.textContent = VISUALS_STYLE;
    document.head.appendChild(style);
  }
  const read = (trait, saved) => (model ? model.get(trait) : spec[saved]);
  const facts = () => (model ? model.get("_facts") : spec.facts) ?? {};
  const clock = () => facts().clock ?? spec.clock;
  root.classList.add("jp-RangeVideo-visuals");
  const canvas = document.createElement("canvas");
  canvas.className = "jp-RangeVideo-overlay";
  const bar = document.createElement("div");
  bar.className = "jp-RangeVideo-bar";
  const track = document.createElement("div");
  track.className = "jp-RangeVideo-track";
  const playhead = document.createElement("div");
  playhead.className = "jp-RangeVideo-playhead";
  const fullscreen = document.createElement("button");
  fullscreen.className = "jp-RangeVideo-fullscreen";
  fullscreen.title = "Full screen (with overlays)";
  fullscreen.textContent = "⛶";
  bar.append(track, fullscreen);
  video.after(canvas, bar);

  const cleanups = [];
  const on = (target, event, handler) => {
    target.addEventListener(event, handler);
    cleanups.push(() => target.removeEventListener(event, handler));
  };
  let layers = []; // [{name, columns}] in drawing order
  let hidden = new Set();
  let mediaTime = null; // the presented frame's time, from requestVideoFrameCallback
  let generation = 0;

  function sourceSize() {
    const width = (model ? model.get("video_width") : spec.video_width) || video.videoWidth;
    const height = (model ? model.get("video_height") : spec.video_height) || video.videoHeight;
    return [width, height];
  }

  // The video's box, measured when its size changes (see `place`), never while drawing: reading
  // a size in a frame callback or on "seeked" forces a layout of the whole page (a notebook's)
  // before the frame can be shown.
  let box = { width: 0, height: 0, fit: "contain" };
  function place() {
    const dpr = window.devicePixelRatio || 1;
    box = { width: video.clientWidth, height: video.clientHeight, fit: getComputedStyle(video).objectFit };
    canvas.style.left = `${video.offsetLeft}px`;
    canvas.style.top = `${video.offsetTop}px`;
    canvas.style.width = `${box.width}px`;
    canvas.style.height = `${box.height}px`;
    if (canvas.width !== Math.round(box.width * dpr) || canvas.height !== Math.round(box.height * dpr)) {
      canvas.width = Math.round(box.width * dpr);
      canvas.height = Math.round(box.height * dpr);
    }
  }

  function draw() {
    // Measured while the video was not laid out (a view drawn before it is attached, or moved
    // between containers in one task, which no resize reports): measure again.
    if (layers.length && (!box.width || !box.height)) place();
    const dpr = window.devicePixelRatio || 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, box.width, box.height);
    const visible = layers.filter((layer) => !hidden.has(layer.name));
    if (!visible.length || video.readyState < 2) return;
    const [sourceWidth, sourceHeight] = sourceSize();
    const rect = pictureRect(box, sourceWidth, sourceHeight);
    if (!rect || !clock()) return;
    const frame = frameAtTime(clock(), mediaTime ?? video.currentTime);
    canvas.dataset.frame = String(frame); // the frame the overlay shows, for tests and tools
    for (const layer of visible) drawLayer(ctx, layer.columns, frame, rect, rect.width / sourceWidth, rect.height / sourceHeight);
  }

  async function loadLayers() {
    const mine = ++generation;
    const states = read("_overlays", "overlays") ?? {};
    hidden = new Set(read("_overlays_hidden", "overlays_hidden") ?? []);
    const loaded = [];
    for (const [name, state] of Object.entries(states)) {
      try {
        loaded.push({ name, columns: await unpackOverlay(state) });
      } catch (error) {
        console.warn(`jupyter-rangevideo: overlay ${name} could not be read`, error);
      }
    }
    if (mine !== generation) return; // a newer state arrived meanwhile
    layers = loaded;
    update();
  }

  // --- markers -------------------------------------------------------------------
  function duration() {
    return Number.isFinite(video.duration) && video.duration > 0
      ? video.duration
      : (model ? model.get("duration") : spec.duration) || null;
  }

  function seek(seconds) {
    video.currentTime = Math.max(0, seconds);
  }

  function drawMarkers() {
    const markers = read("_markers", "markers") ?? {};
    const total = duration();
    track.replaceChildren();
    if (!total) return;
    const percent = (seconds) => `${Math.min(100, Math.max(0, (seconds / total) * 100))}%`;
    for (const [start, end, label] of markers.chapters ?? []) {
      const chapter = document.createElement("div");
      chapter.className = "jp-RangeVideo-chapter";
      chapter.style.left = percent(start);
      chapter.style.width = `calc(${percent(end)} - ${percent(start)})`;
      chapter.textContent = label;
      chapter.title = label;
      chapter.addEventListener("click", () => seek(start));
      track.append(chapter);
    }
    for (const [seconds, label] of markers.ticks ?? []) {
      const tick = document.createElement("div");
      tick.className = "jp-RangeVideo-tick";
      tick.style.left = percent(seconds);
      tick.dataset.time = String(seconds);
      if (label) tick.title = label;
      tick.addEventListener("click", () => seek(seconds));
      track.append(tick);
    }
    track.append(playhead);
    movePlayhead();
  }

  function movePlayhead() {
    const total = duration();
    if (total) playhead.style.left = `${Math.min(100, (video.currentTime / total) * 100)}%`;
  }

  // Shown only when there is something to show: a player without overlays or markers is unchanged.
  function update() {
    const markers = read("_markers", "markers") ?? {};
    const hasMarkers = (markers.ticks?.length ?? 0) + (markers.chapters?.length ?? 0) > 0;
    const active = hasMarkers || layers.length > 0;
    bar.hidden = !active;
    canvas.hidden = layers.length === 0;
    // The native full-screen button would take the bare video, without the canvas.
    if (active) video.controlsList?.add("nofullscreen");
    else video.controlsList?.remove("nofullscreen");
    bar.style.width = active ? `${video.offsetWidth}px` : "";
    drawMarkers();
    if (layers.length) place();
    draw();
  }

  // --- when to redraw --------------------------------------------------------------
  let frameCallback = null;
  const watchFrames = () => {
    if (!video.requestVideoFrameCallback) return;
    frameCallback = video.requestVideoFrameCallback((now, metadata) => {
      mediaTime = metadata.mediaTime;
      if (layers.length) draw();
      if (!bar.hidden) movePlayhead(); // a hidden bar's playhead is placed when it is shown
      watchFrames();
    });
  };
  watchFrames();
  on(video, "seeking", () => {
    mediaTime = null;
    if (!bar.hidden) movePlayhead();
  });
  // Chromium need not call back (rVFC) for a seek's frame it did not composite.
  on(video, "seeked", () => {
    if (layers.length) draw();
  });
  on(video, "loadeddata", update);
  on(video, "durationchange", drawMarkers);
  on(video, "timeupdate", () => {
    if (!video.requestVideoFrameCallback) {
      mediaTime = null;
      draw();
      movePlayhead();
    }
  });
  on(fullscreen, "click", () => {
    if (document.fullscreenElement === root) document.exitFullscreen();
    else root.requestFullscreen?.().catch(() => {});
  });
  on(video, "dblclick", (event) => {
    if (bar.hidden) return;
    event.preventDefault();
    fullscreen.click();
  });
  const resized = new ResizeObserver(() => update());
  resized.observe(video);
  cleanups.push(() => resized.disconnect());

  if (model) {
    const onOverlays = () => loadLayers();
    const onHidden = () => {
      hidden = new Set(model.get("_overlays_hidden") ?? []);
      draw();
    };
    model.on("change:_overlays", onOverlays);
    model.on("change:_overlays_hidden", onHidden);
    model.on("change:_markers", update);
    cleanups.push(
      () => model.off("change:_overlays", onOverlays),
      () => model.off("change:_overlays_hidden", onHidden),
      () => model.off("change:_markers", update),
    );
  }
  update();
  loadLayers();

  return () => {
    generation++;
    if (frameCallback != null) video.cancelVideoFrameCallback?.(frameCallback);
    for (const off of cleanups) off();
    canvas.remove();
    bar.remove();
  };
}

// =================================================================================
// Grid: several players in one output, kept in step (grid.py). Each cell is a player's
// own view (mountPlayer, bound to its live model when the kernel has one); the first
// player leads and a loop keeps the others within a frame of its presented mediaTime.
// =================================================================================

const GRID_TICK_MS = 50;
const GRID_SEEK_THRESHOLD = 0.3; // seconds of drift past which a follower re-seeks
const GRID_MAX_NUDGE = 0.25; // the largest playback-rate change for small drift (25 %; pitch is preserved)
const GRID_CORRECTION_SECONDS = 0.5; // a nudge aims to cancel the drift in about this long
// A follower's re-seek aims ahead by how long its seeks take (learned), and waits between
// re-seeks: a decoder slower than the threshold would otherwise land behind, re-seek at
// once, and never play again (a seek loop that only adds work to a starved machine).
const GRID_FIRST_SEEK_GUESS = 0.15; // seconds, until a follower's own seeks are timed
const GRID_MIN_RESEEK_MS = 1000;
const GRID_MAX_RESEEK_MS = 8000;
const WAIT_FOR_PLAYER_MS = 5000;

function gridSpecFromModel(model) {
  return {
    grid: true,
    player_id: model.get("player_id"),
    columns: model.get("columns"),
    offsets: model.get("offsets"),
    players: model.get("_players").map((entry) => ({ ...entry, options: {} })),
  };
}

/** The length of a player's frames at `seconds` (frame clock), for thresholds. */
function frameDuration(clock, seconds) {
  const run = runOf(clock, frameAtTime(clock, seconds));
  return run?.[2] || 1 / 30;
}

/** The frame clock's run that holds `frame`. */
function runOf(clock, frame) {
  const runs = clock?.runs;
  if (!runs?.length) return null;
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid][0] <= frame) lo = mid;
    else hi = mid - 1;
  }
  return runs[lo];
}

function mountGrid(el, spec, model) {
  ensureStyle();
  const root = document.createElement("div");
  root.className = "jp-RangeVideo-grid";
  root.dataset.playerId = spec.player_id;
  const columns = Math.max(1, (model ? model.get("columns") : spec.columns) || 1);
  root.style.cssText = `display: grid; gap: 4px; grid-template-columns: repeat(${columns}, minmax(0, 1fr));`;
  el.replaceChildren(root);
  const offsets = () => (model ? model.get("offsets") : spec.offsets) ?? [];
  const entries = spec.players ?? [];
  const cells = entries.map(() => root.appendChild(document.createElement("div")));
  const mounted = [];
  const liveModels = [];
  let disposed = false;
  entries.forEach(async (entry, index) => {
    const live = model ? await findModel(entry.player_id, WAIT_FOR_PLAYER_MS) : null;
    if (disposed) return;
    liveModels[index] = live;
    mounted[index] = mountPlayer(cells[index], entry, live);
  });
  const clockOf = (index) => (liveModels[index] ? liveModels[index].get("_facts") : entries[index].facts)?.clock
    ?? entries[index].clock;

  // Presented frames, from requestVideoFrameCallback: what each video really shows.
  const watched = new WeakMap();
  function watch(video) {
    if (watched.has(video)) return watched.get(video);
    const state = {
      mediaTime: null, at: 0, handle: null, nudged: null,
      seekStarted: null, seekLatency: GRID_FIRST_SEEK_GUESS, nextSeekAt: 0, reseeks: 0,
      pausedWant: null, pausedTries: 0,
    };
    watched.set(video, state);
    video.addEventListener("seeked", () => {
      if (state.seekStarted == null) return;
      const took = (performance.now() - state.seekStarted) / 1000;
      state.seekLatency = Math.min(2, 0.5 * state.seekLatency + 0.5 * took);
      state.seekStarted = null;
    });
    const next = () => {
      if (disposed || !video.requestVideoFrameCallback) return;
      state.handle = video.requestVideoFrameCallback((now, metadata) => {
        state.mediaTime = metadata.mediaTime;
        state.at = metadata.expectedDisplayTime ?? now;
        next();
      });
    };
    next();
    video.addEventListener("seeking", () => (state.mediaTime = null));
    return state;
  }
  /** Where a video is now, in its media time: the presented frame's time, moved on by the
   * time since it was presented while playing. */
  function position(video) {
    const state = watch(video);
    if (state.mediaTime == null || video.seeking) return video.currentTime;
    if (video.paused) return state.mediaTime;
    return state.mediaTime + ((performance.now() - state.at) / 1000) * video.playbackRate;
  }

  // A follower's nudged rate is the grid's business, not Python's: stop its ratechange
  // before the player's own listener reports it (capture phase, on the cell).
  const hideNudges = (event) => {
    const video = event.target;
    const state = watched.get(video);
    if (state?.nudged != null && video.playbackRate === state.nudged) event.stopImmediatePropagation();
  };
  for (const cell of cells) cell.addEventListener("ratechange", hideNudges, true);

  // For tests and the curious: corrections made; `correct = false` lets the players run free.
  const stats = { seeks: 0, nudges: 0, correct: true };
  root.__rangevideoGrid = stats;
  function setRate(video, rate, base) {
    const state = watch(video);
    state.nudged = rate === base ? null : rate;
    if (video.playbackRate !== rate) video.playbackRate = rate;
  }

  function tick() {
    if (!stats.correct) return;
    const videos = cells.map((cell) => cell.querySelector("video.jp-RangeVideo-video"));
    const leader = videos[0];
    if (!leader || leader.readyState < 2) return;
    const shift = offsets();
    const gridTime = position(leader) - (shift[0] ?? 0);
    const base = leader.playbackRate;
    for (let index = 1; index < videos.length; index++) {
      const video = videos[index];
      if (!video || video.readyState < 2 || video.seeking) continue;
      const target = gridTime + (shift[index] ?? 0);
      const clock = clockOf(index);
      const step = frameDuration(clock, target);
      if (leader.paused) {
        // Paused: show the frame at the leader's time, exactly.
        setRate(video, base, base);
        if (!video.paused) video.pause();
        if (leader.seeking || target < 0) continue;
        const want = clock ? frameAtTime(clock, target) : null;
        const have = clock ? frameAtTime(clock, position(video)) : null;
        const state = watch(video);
        if (clock ? want !== have : Math.abs(position(video) - target) > step / 2) {
          // A few tries per wanted frame: a file whose presented times disagree with its clock
          // must not be re-seeked every tick.
          const key = clock ? want : Math.round(target / step);
          state.pausedTries = state.pausedWant === key ? state.pausedTries + 1 : 1;
          state.pausedWant = key;
          if (state.pausedTries > 3) continue;
          // The middle of the wanted frame: a seek there shows exactly that frame.
          video.currentTime = clock ? frameMidTime(clock, want) : target;
          stats.seeks++;
        } else {
          state.pausedTries = 0;
        }
        continue;
      }
      if (target < 0) continue;
      if (video.paused) video.play().catch(() => {});
      const drift = position(video) - target;
      const state = watch(video);
      const now = performance.now();
      if (Math.abs(drift) > GRID_SEEK_THRESHOLD && now >= state.nextSeekAt) {
        setRate(video, base, base);
        video.currentTime = target + state.seekLatency * base; // it lands that much later: aim ahead
        state.seekStarted = now;
        // Back off while re-seeks keep failing to bring it within the threshold.
        state.reseeks = now - state.nextSeekAt < GRID_MAX_RESEEK_MS ? state.reseeks + 1 : 0;
        state.nextSeekAt = now + Math.min(GRID_MAX_RESEEK_MS, GRID_MIN_RESEEK_MS * 2 ** state.reseeks);
        stats.seeks++;
        stats.lastSeek = { index, drift: Math.round(drift * 1000), at: Math.round(now) };
      } else if (Math.abs(drift) > step / 4) {
        const change = Math.max(-GRID_MAX_NUDGE, Math.min(GRID_MAX_NUDGE, drift / GRID_CORRECTION_SECONDS));
        setRate(video, base * (1 - change), base);
        stats.nudges++;
      } else {
        setRate(video, base, base);
      }
    }
  }
  const timer = setInterval(tick, GRID_TICK_MS);

  return () => {
    disposed = true;
    clearInterval(timer);
    for (const cell of cells) cell.removeEventListener("ratechange", hideNudges, true);
    for (const cleanup of mounted) cleanup?.();
    root.remove();
  };
}

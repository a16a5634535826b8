// The player's front end: one ES module, used as the anywidget module of `Player` and,
// through the JupyterLab extension in labextension_stub/, to draw saved outputs.
//
// The <video> streams from the Jupyter server extension with HTTP Range requests; the
// bytes never pass through the kernel. The URL is built here from the page's base URL,
// so the same output works under any base_url (JupyterHub's /user/<name>/ too).

const SRC_PREFIX = "rangevideo/files/";
const HLS_VERSION = "1.6.15"; // vendored in static/vendor/, see its README
const TIME_UPDATES_PER_SECOND = 4;

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
.jp-RangeVideo:focus { outline: 2px solid var(--jp-brand-color1, #1976d2); outline-offset: 1px; }
.jp-RangeVideo-frame { position: absolute; top: 4px; left: 0; transform: translateX(calc(-100% - 4px)); padding: 1px 5px; border-radius: 3px;
  background: rgba(0, 0, 0, 0.6); color: #fff; font: 12px/1.4 var(--jp-code-font-family, monospace);
  pointer-events: none; }
.jp-RangeVideo-video { display: block; max-width: 100%; background: #000; }
.jp-RangeVideo-audio { display: block; max-width: 100%; }
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
  const clock = () => get("_facts")?.clock ?? null;
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
  let lastReport = 0;
  let reports = 0;
  function report(throttle = false) {
    if (!model || video.readyState === 0) return; // nothing to tell before the metadata
    const now = performance.now();
    if (throttle && now - lastReport < 1000 / TIME_UPDATES_PER_SECOND) return;
    lastReport = now;
    reports += 1; // a new object each time: always sent, never merged with an older one
    push({
      _report: {
        applied,
        n: reports,
        paused: video.paused,
        current_time: video.currentTime,
        playback_rate: video.playbackRate,
        frame: targetFrame ?? presentedFrame,
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
    report(true);
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

  function onFrame(_now, metadata) {
    frameCallback = video.requestVideoFrameCallback(onFrame);
    const c = clock();
    if (!c) return;
    const frame = frameAtTime(c, metadata.mediaTime);
    const changed = frame !== presentedFrame;
    presentedFrame = frame;
    if (!video.seeking) targetFrame = null; // the frame asked for is presented
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
    if (label.hidden) return;
    label.textContent = `frame ${presentedFrame}`;
    label.style.left = `${video.offsetWidth}px`;
  }
  drawLabel();

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
    busy(false);
    hls?.destroy();
    hls = null;
    video.pause();
    video.removeAttribute("src");
    video.load(); // let the browser drop the connection
    root.remove();
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

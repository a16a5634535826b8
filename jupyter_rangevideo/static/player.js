// The player's front end: one ES module, used as the anywidget module of `Player` and,
// through the JupyterLab extension in labextension_stub/, to draw saved outputs.
//
// The <video> streams from the Jupyter server extension with HTTP Range requests; the
// bytes never pass through the kernel. The URL is built here from the page's base URL,
// so the same output works under any base_url (JupyterHub's /user/<name>/ too).

const SRC_PREFIX = "rangevideo/files/";
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

function cssSize(value) {
  return typeof value === "number" ? `${value}px` : value || "";
}

const STYLE = `
.jp-RangeVideo { max-width: 100%; }
.jp-RangeVideo-video { display: block; max-width: 100%; background: #000; }
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
  ensureStyle();
  const root = document.createElement("div");
  root.className = "jp-RangeVideo";
  root.dataset.playerId = spec.player_id;
  const video = document.createElement("video");
  video.className = "jp-RangeVideo-video";
  video.dataset.playerId = spec.player_id;
  video.preload = "metadata";
  video.playsInline = true;
  const message = document.createElement("div");
  message.className = "jp-RangeVideo-message";
  message.hidden = true;
  root.append(video, message);
  el.replaceChildren(root);

  const listeners = [];
  const on = (target, event, handler) => {
    target.addEventListener(event, handler);
    listeners.push(() => target.removeEventListener(event, handler));
  };
  const get = (name) => (model ? model.get(name) : spec.options?.[name]);
  const push = (values) => {
    if (!model) return;
    for (const [name, value] of Object.entries(values)) model.set(name, value);
    model.save_changes();
  };
  const say = (text) => {
    message.textContent = text;
    message.hidden = !text;
  };

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
        video.src = base + spec.src;
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
  const localSrc = get("_local_src");
  let usingLocalSrc = false;
  if (exported) {
    shiftTimeline(video, spec.export.offset || 0);
    video.src = spec.src;
  } else if (baseUrl) {
    video.src = new URL(baseUrl + spec.src, location.href).href;
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
    if (error.code === MediaError.MEDIA_ERR_NETWORK) {
      text = `A network error stopped the video (${spec.name}).`;
    } else {
      let status = null;
      try {
        status = (await fetch(video.currentSrc || video.src, { method: "HEAD", credentials: "same-origin" })).status;
      } catch {
        status = "unreachable";
      }
      // Not served by this page's server: 404 from a Jupyter server without the extension,
      // 405 from standalone Voilà (its GET redirects to a 403). Try the kernel's server.
      const notServedHere = status === 404 || status === 405 || status === "unreachable";
      if ((notServedHere || usingLocalSrc) && !usingKernelServer && useKernelServer()) return;
      if (status === 200 || status === 206) {
        text =
          `This browser cannot play this video: its format or codec is not supported (${spec.name}). ` +
          `H.264 MP4 or VP9 WebM play everywhere.`;
      } else if (status === 404) {
        text =
          `The video could not be loaded: the server does not serve ${spec.name} (HTTP 404). ` +
          `It may have been moved or deleted, the notebook may come from another user, ` +
          `or jupyter-rangevideo is not enabled on this server.`;
      } else if (status === 403) {
        text = `The video could not be loaded: access to ${spec.name} was refused (HTTP 403).`;
      } else {
        text = `The video could not be loaded (${spec.name}; ${status === "unreachable" ? "no answer from the server" : `HTTP ${status}`}).`;
      }
    }
    say(text);
    push({ error: text, paused: true });
  }
  on(video, "error", explain);

  // --- Python -> browser ---------------------------------------------------------
  const clipped = () => (get("start") || 0) > 0 || get("end") != null;
  function apply() {
    video.playbackRate = get("playback_rate") ?? 1;
    video.defaultPlaybackRate = video.playbackRate;
    video.muted = !!get("muted");
    video.volume = get("volume") ?? 1;
    video.controls = get("controls") ?? true;
    video.loop = !!get("loop") && !clipped();
    video.style.width = cssSize(get("width") ?? "100%");
    video.style.height = cssSize(get("height") ?? "auto");
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

  on(video, "loadedmetadata", () => {
    say("");
    push({
      duration: Number.isFinite(video.duration) ? video.duration : null,
      video_width: video.videoWidth,
      video_height: video.videoHeight,
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
  on(video, "resize", () => push({ video_width: video.videoWidth, video_height: video.videoHeight }));
  on(video, "durationchange", () => {
    if (Number.isFinite(video.duration)) push({ duration: video.duration });
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

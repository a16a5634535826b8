// Timeline strips under a player or a grid (timeline.py packs them): signals as min/max lines,
// events as coloured bars, a cursor at the presented frame, and a click or drag that seeks to
// the frame under the pointer. The maths is in timeline-draw.js.
//
// What is drawn when: a strip's canvas when its data, size or view (zoom) changes; only the
// cursors (one element per strip, moved with a transform) on each presented frame. Sizes are
// measured when the video's size changes, never in a frame callback.

import { createElement, Disposables, injectStyle } from "./dom.js";
import { frameAtTime, timeOfFrame } from "./frame-clock.js";
import { frameLoopOf, watchSize } from "./frame-loop.js";
import { decimate, eventBars, fullView, rangeView, timeToX, valueToY, xToTime, zoomView } from "./timeline-draw.js";

const TIMELINE_STYLE = `
.jp-RangeVideo-strips { display: flex; flex-direction: column; gap: 2px; margin-top: 2px; }
.jp-RangeVideo-strips[hidden] { display: none; }
.jp-RangeVideo-strip { position: relative; overflow: hidden; background: rgba(128, 128, 128, 0.12);
  cursor: crosshair; user-select: none; touch-action: none; }
.jp-RangeVideo-strip > canvas { position: absolute; left: 0; top: 0; pointer-events: none; }
.jp-RangeVideo-strip-name { position: absolute; right: 3px; top: 1px; font: 10px sans-serif; pointer-events: none;
  color: var(--jp-ui-font-color2, #555); background: rgba(255, 255, 255, 0.6); padding: 0 2px; }
.jp-RangeVideo-cursor { position: absolute; top: 0; bottom: 0; left: 0; width: 2px; margin-left: -1px;
  background: #e53935; pointer-events: none; will-change: transform; }
.jp-RangeVideo-zoombox { position: absolute; top: 0; bottom: 0; background: rgba(33, 150, 243, 0.25);
  border: 1px solid rgba(33, 150, 243, 0.8); pointer-events: none; box-sizing: border-box; }
`;
const MIN_FRAMES_IN_VIEW = 4;
const WHEEL_ZOOM = 0.0015; // per wheel pixel
const DRAG_PX = 3; // a pointer moved less than this is a click

/** base64 (a saved output), DataView (a widget buffer) or bytes -> a copy in a fresh ArrayBuffer. */
function bufferOf(data) {
  if (typeof data === "string") {
    const binary = atob(data);
    const bytes = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes.buffer;
  }
  if (data instanceof ArrayBuffer) return data.slice(0);
  if (ArrayBuffer.isView(data)) return data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength);
  return new ArrayBuffer(0);
}

/** A strip's data, decoded once: line strips' typed arrays. */
function decodeStrip(packed) {
  if (packed.kind !== "line") return { ...packed };
  return { ...packed, t: new Float64Array(bufferOf(packed.t)), values: new Float32Array(bufferOf(packed.values)) };
}

/** Labelled events ([start frame, end frame or null, label]) as bars in seconds; an open one
 * reaches `now` seconds. */
function labelledEvents(rows, labels, clock, now) {
  const index = new Map(labels.map((label, i) => [label, i]));
  const events = [];
  for (const [start, end, label] of rows ?? []) {
    if (!index.has(label)) index.set(label, index.size);
    const from = clock ? timeOfFrame(clock, start) : 0;
    let to;
    if (end == null) to = Math.max(from, now ?? from);
    else to = clock ? frameEnd(clock, end) : from;
    events.push([from, to, index.get(label)]);
  }
  return events;
}

/** When frame `n` stops being shown: the next frame's time (the last frame's, one step on). */
function frameEnd(clock, n) {
  if (n + 1 < clock.frame_count) return timeOfFrame(clock, n + 1);
  const runs = clock.runs;
  return timeOfFrame(clock, n) + (runs.length ? runs[runs.length - 1][2] : 0.04);
}

/**
 * Strips into `parent` (after its other children). `video` gives the presented frame;
 * `clock()` and `duration()` the time axis; `measure()` {left, width} in CSS px where the strips
 * go (called when `watched` changes size); `seekFrame(n)` / `seekTime(t)` move the player(s);
 * `labels` ({root, shownFrame}) enables label_events keys. Returns the dispose.
 */
export function mountTimelines({
  parent,
  video,
  state,
  clock,
  duration,
  measure,
  watched,
  seekFrame,
  seekTime,
  labels,
}) {
  injectStyle("jp-RangeVideo-timeline-style", TIMELINE_STYLE);
  const disposables = new Disposables();
  const container = createElement("div", "jp-RangeVideo-strips");
  container.hidden = true;
  parent.append(container);
  const frames = frameLoopOf(video);
  let strips = []; // [{name, data, element, canvas, cursor, height}]
  let place = { left: 0, width: 0 };
  let view = null; // null: the whole file
  let localEvents = null; // label rows edited with no kernel (a saved notebook)
  const dpr = () => window.devicePixelRatio || 1;
  const total = () => {
    const seconds = duration();
    return seconds > 0 ? seconds : Number.isFinite(video.duration) && video.duration > 0 ? video.duration : 0;
  };
  const currentView = () => view ?? fullView(total());
  const minSpan = () => {
    const c = clock();
    const step = c?.runs?.length ? c.runs[c.runs.length - 1][2] : 1 / 30;
    return step * MIN_FRAMES_IN_VIEW;
  };
  const eventRows = () => localEvents ?? state.value("_events") ?? [];
  const presentedTime = () => frames.presented?.mediaTime ?? video.currentTime;

  function build() {
    const packed = state.value("_timelines") ?? {};
    for (const strip of strips) strip.element.remove();
    strips = [];
    for (const [name, data] of Object.entries(packed)) {
      let decoded;
      try {
        decoded = decodeStrip(data);
      } catch (error) {
        console.warn(`jupyter-rangevideo: strip ${name} could not be read`, error);
        continue;
      }
      const height = decoded.height || 40;
      const element = createElement("div", "jp-RangeVideo-strip");
      element.dataset.name = name;
      element.dataset.kind = decoded.kind;
      element.style.height = `${height}px`;
      const canvas = createElement("canvas", "jp-RangeVideo-strip-plot");
      const cursor = createElement("div", "jp-RangeVideo-cursor");
      const title = createElement("div", "jp-RangeVideo-strip-name", { textContent: name });
      element.append(canvas, title, cursor);
      container.append(element);
      const strip = { name, data: decoded, element, canvas, cursor, height };
      bindPointer(strip);
      strips.push(strip);
    }
    container.hidden = strips.length === 0;
    layout();
  }

  function layout() {
    if (!strips.length) return;
    place = measure();
    container.style.marginLeft = `${place.left}px`;
    container.style.width = `${place.width}px`;
    for (const strip of strips) {
      const w = Math.max(1, Math.round(place.width * dpr()));
      const h = Math.max(1, Math.round(strip.height * dpr()));
      if (strip.canvas.width !== w || strip.canvas.height !== h) {
        strip.canvas.width = w;
        strip.canvas.height = h;
      }
      strip.canvas.style.width = `${place.width}px`;
      strip.canvas.style.height = `${strip.height}px`;
    }
    drawAll();
  }

  function drawAll() {
    for (const strip of strips) draw(strip);
    moveCursors(presentedTime());
  }

  function draw(strip) {
    const started = performance.now();
    const ctx = strip.canvas.getContext("2d");
    const width = strip.canvas.width;
    const height = strip.canvas.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, width, height);
    const shown = currentView();
    const data = strip.data;
    if (data.kind === "line") drawLines(ctx, data, shown, width, height);
    else {
      const events =
        data.source === "labels" ? labelledEvents(eventRows(), data.labels, clock(), presentedTime()) : data.events;
      drawEvents(ctx, data, events ?? [], shown, width, height);
      strip.open = data.source === "labels" && eventRows().some((row) => row[1] == null);
    }
    const took = performance.now() - started;
    strip.element.dataset.drawMs = took.toFixed(2);
    strip.element.dataset.viewStart = String(shown.start);
    strip.element.dataset.viewEnd = String(shown.end);
  }

  function drawLines(ctx, data, shown, width, height) {
    const count = data.count;
    const [low, high] = data.range ?? [0, 1];
    ctx.lineWidth = Math.max(1, dpr());
    ctx.lineJoin = "round";
    data.columns.forEach((_, k) => {
      ctx.strokeStyle = data.colors?.[k] ?? "#1f77b4";
      const { min, max, first, last } = decimate(data.t, data.values, shown, width, k * count);
      ctx.beginPath();
      if (last - first < width) {
        // Fewer samples than pixels: the samples themselves, from one before the view to one after.
        let started = false;
        for (let i = Math.max(0, first - 1); i < Math.min(count, last + 1); i++) {
          const v = data.values[k * count + i];
          if (Number.isNaN(v)) {
            started = false;
            continue;
          }
          const x = timeToX(data.t[i], shown, width);
          const y = valueToY(v, low, high, height);
          if (started) ctx.lineTo(x, y);
          else ctx.moveTo(x, y);
          started = true;
        }
      } else {
        let started = false;
        for (let c = 0; c < width; c++) {
          const lo = min[c];
          if (Number.isNaN(lo)) continue;
          const x = c + 0.5;
          const y0 = valueToY(lo, low, high, height);
          const y1 = valueToY(max[c], low, high, height);
          if (started) ctx.lineTo(x, y0);
          else ctx.moveTo(x, y0);
          ctx.lineTo(x, Math.min(y1, y0 - 0.5));
          started = true;
        }
      }
      ctx.stroke();
    });
  }

  function drawEvents(ctx, data, events, shown, width, height) {
    const font = Math.round(11 * dpr());
    ctx.font = `${font}px sans-serif`;
    ctx.textBaseline = "middle";
    for (const [x, w, label] of eventBars(events, shown, width)) {
      const color = data.colors?.[label] ?? "#888";
      ctx.fillStyle = color;
      ctx.fillRect(x, 0, w, height);
      const text = data.labels?.[label] ?? "";
      if (text && w > ctx.measureText(text).width + 6) {
        ctx.fillStyle = "#fff";
        ctx.fillText(text, x + 3, height / 2);
      }
    }
  }

  function moveCursors(seconds) {
    if (!strips.length || seconds == null) return;
    const shown = currentView();
    const x = timeToX(seconds, shown, place.width);
    const inside = x >= 0 && x <= place.width;
    for (const strip of strips) {
      strip.cursor.style.transform = `translateX(${x}px)`;
      strip.cursor.style.visibility = inside ? "" : "hidden";
      strip.cursor.dataset.time = String(seconds);
      if (strip.open) draw(strip); // an interval being labelled grows with the playhead
    }
  }

  function seekAt(x) {
    const seconds = xToTime(x, currentView(), place.width);
    const c = clock();
    if (c) seekFrame(frameAtTime(c, seconds));
    else seekTime(seconds);
  }

  function setView(next) {
    const full = fullView(total());
    view = next && (next.start > full.start + 1e-9 || next.end < full.end - 1e-9) ? next : null;
    drawAll();
  }

  function bindPointer(strip) {
    const { element } = strip;
    let drag = null;
    const xOf = (event) => event.clientX - drag.left;
    element.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      labels?.root.focus({ preventScroll: true }); // the player's keys (and label keys) work after a click
      element.setPointerCapture?.(event.pointerId);
      drag = { left: element.getBoundingClientRect().left, x0: event.clientX, zoom: event.shiftKey, moved: false };
      drag.x0 = xOf(event);
      if (drag.zoom) {
        drag.box = createElement("div", "jp-RangeVideo-zoombox");
        drag.box.style.left = `${drag.x0}px`;
        drag.box.style.width = "0px";
        element.append(drag.box);
      } else seekAt(drag.x0);
      event.preventDefault();
    });
    element.addEventListener("pointermove", (event) => {
      if (!drag) return;
      const x = xOf(event);
      if (Math.abs(x - drag.x0) >= DRAG_PX) drag.moved = true;
      if (drag.zoom) {
        drag.box.style.left = `${Math.min(x, drag.x0)}px`;
        drag.box.style.width = `${Math.abs(x - drag.x0)}px`;
      } else if (drag.moved) seekAt(x);
    });
    const end = (event) => {
      if (!drag) return;
      const x = xOf(event);
      if (drag.zoom) {
        drag.box.remove();
        if (Math.abs(x - drag.x0) >= DRAG_PX) {
          const shown = currentView();
          setView(rangeView(xToTime(drag.x0, shown, place.width), xToTime(x, shown, place.width), total(), minSpan()));
        }
      } else if (drag.moved) seekAt(x);
      drag = null;
    };
    element.addEventListener("pointerup", end);
    element.addEventListener("pointercancel", () => {
      drag?.box?.remove();
      drag = null;
    });
    element.addEventListener("dblclick", (event) => {
      event.preventDefault();
      setView(null);
    });
    element.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const x = event.clientX - element.getBoundingClientRect().left;
        const shown = currentView();
        if (Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
          const shift = (event.deltaX / Math.max(1, place.width)) * (shown.end - shown.start);
          setView(
            zoomView(
              { start: shown.start + shift, end: shown.end + shift },
              shown.start + shift,
              1,
              total(),
              minSpan(),
            ),
          );
        } else {
          const factor = Math.exp(event.deltaY * WHEEL_ZOOM);
          setView(zoomView(shown, xToTime(x, shown, place.width), factor, total(), minSpan()));
        }
      },
      { passive: false },
    );
  }

  // label_events: a key starts an interval at the presented frame, the same key ends it.
  if (labels) {
    disposables.listen(labels.root, "keydown", (event) => {
      const keys = state.value("_label_keys") ?? {};
      const label = keys[event.key];
      if (!label || event.ctrlKey || event.metaKey || event.altKey) return;
      event.preventDefault();
      event.stopPropagation(); // not the notebook's command-mode shortcuts
      const frame = labels.shownFrame();
      const rows = eventRows().map((row) => [...row]);
      const open = rows.findIndex((row) => row[2] === label && row[1] == null);
      if (open >= 0) {
        const start = rows[open][0];
        rows[open] = [Math.min(start, frame), Math.max(start, frame), label];
      } else rows.push([frame, null, label]);
      if (state.live) state.save({ _events: rows });
      else localEvents = rows;
      for (const strip of strips) if (strip.data.source === "labels") draw(strip);
    });
  }

  disposables.add(
    frames.subscribe((_now, metadata) => {
      moveCursors(metadata.mediaTime);
    }),
  );
  disposables.listen(video, "seeking", () => moveCursors(video.currentTime));
  disposables.listen(video, "timeupdate", () => {
    if (!frames.supported) moveCursors(video.currentTime);
  });
  disposables.listen(video, "loadedmetadata", layout);
  disposables.listen(video, "durationchange", drawAll);
  disposables.add(watchSize(watched, layout));
  disposables.add(state.onChange(["_timelines"], build));
  disposables.add(
    state.onChange(["_events"], () => {
      localEvents = null;
      for (const strip of strips) if (strip.data.source === "labels") draw(strip);
    }),
  );
  build();
  return () => {
    disposables.dispose();
    container.remove();
  };
}

/** Where the picture lies inside the video element (letterboxed), in CSS px. */
export function pictureSpan(boxWidth, boxHeight, fit, sourceWidth, sourceHeight) {
  if (!sourceWidth || !sourceHeight || !boxWidth || !boxHeight || fit === "fill") return { x: 0, width: boxWidth };
  const scale = (fit === "cover" ? Math.max : Math.min)(boxWidth / sourceWidth, boxHeight / sourceHeight);
  const width = Math.min(boxWidth, sourceWidth * scale);
  return { x: (boxWidth - width) / 2, width };
}

/** A player's strips: across the picture's displayed width, seeking frame-exactly. */
export function mountPlayerTimelines({ root, video, state, playback }) {
  return mountTimelines({
    parent: root,
    video,
    state,
    clock: state.clock,
    duration: () => state.value("duration") || 0,
    measure: () => {
      const span = pictureSpan(
        video.clientWidth,
        video.clientHeight,
        getComputedStyle(video).objectFit,
        state.value("video_width") || video.videoWidth,
        state.value("video_height") || video.videoHeight,
      );
      return { left: video.offsetLeft + span.x, width: span.width };
    },
    watched: video,
    seekFrame: (n) => playback.showFrame(n),
    seekTime: (t) => playback.seekTo(t),
    labels: { root, shownFrame: () => playback.shownFrame() },
  });
}

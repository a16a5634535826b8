// One timeline strip: its element (canvas, name, cursor), its data as timeline.py packed it
// (decoded once), and its canvas drawn for a view: a signal's columns as min/max lines, events
// as coloured bars. The maths is in timeline-draw.js; timeline.js lays the strips out.

import { createElement } from "./dom.js";
import { timeOfFrame } from "./frame-clock.js";
import { decimate, eventBars, timeToX, valueToY } from "./timeline-draw.js";

const DEFAULT_HEIGHT = 40; // CSS px
const FRAME_STEP = 0.04; // seconds, the last frame's when a clock has no runs

const pixelRatio = () => window.devicePixelRatio || 1;

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

/** When frame `n` stops being shown: the next frame's time (the last frame's, one step on). */
function frameEnd(clock, n) {
  if (n + 1 < clock.frame_count) return timeOfFrame(clock, n + 1);
  const runs = clock.runs;
  return timeOfFrame(clock, n) + (runs.length ? runs[runs.length - 1][2] : FRAME_STEP);
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

/**
 * The strip `name` for its `packed` data: {name, data, element, canvas, cursor, height};
 * null (with a warning) when the data cannot be read.
 */
export function createStrip(name, packed) {
  let data;
  try {
    data = decodeStrip(packed);
  } catch (error) {
    console.warn(`jupyter-rangevideo: strip ${name} could not be read`, error);
    return null;
  }
  const height = data.height || DEFAULT_HEIGHT;
  const element = createElement("div", "jp-RangeVideo-strip");
  element.dataset.name = name;
  element.dataset.kind = data.kind;
  element.style.height = `${height}px`;
  const canvas = createElement("canvas", "jp-RangeVideo-strip-plot");
  const cursor = createElement("div", "jp-RangeVideo-cursor");
  const title = createElement("div", "jp-RangeVideo-strip-name", { textContent: name });
  element.append(canvas, title, cursor);
  return { name, data, element, canvas, cursor, height };
}

/** Whether the strip shows the intervals labelled with label_events keys. */
export function isLabelStrip(strip) {
  return strip.data.source === "labels";
}

/** Size the strip's canvas to `width` by its height (CSS px), in device pixels. */
export function sizeStrip(strip, width) {
  const { canvas } = strip;
  const w = Math.max(1, Math.round(width * pixelRatio()));
  const h = Math.max(1, Math.round(strip.height * pixelRatio()));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  canvas.style.width = `${width}px`;
  canvas.style.height = `${strip.height}px`;
}

/** Put the strip's cursor at `x` CSS px (hidden when not `visible`), showing `seconds`. */
export function moveCursor(strip, x, visible, seconds) {
  const { cursor } = strip;
  cursor.style.transform = `translateX(${x}px)`;
  cursor.style.visibility = visible ? "" : "hidden";
  cursor.dataset.time = String(seconds);
}

/**
 * Draw the strip for `view`. A label strip reads `labelled()`: {rows, clock, now} (the
 * labelled rows, the frame clock, the presented time), and is `open` while one of its
 * intervals has no end. The element's data-draw-ms, data-view-start and data-view-end tell
 * what was drawn.
 */
export function drawStrip(strip, view, labelled) {
  const started = performance.now();
  const { canvas, data } = strip;
  const ctx = canvas.getContext("2d");
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (data.kind === "line") drawLines(ctx, data, view, canvas.width, canvas.height);
  else drawEvents(ctx, data, eventsOf(strip, labelled), view, canvas.width, canvas.height);
  const took = performance.now() - started;
  strip.element.dataset.drawMs = took.toFixed(2);
  strip.element.dataset.viewStart = String(view.start);
  strip.element.dataset.viewEnd = String(view.end);
}

/** An event strip's events, in seconds (a label strip's from `labelled()`; sets `open`). */
function eventsOf(strip, labelled) {
  const { data } = strip;
  if (!isLabelStrip(strip)) {
    strip.open = false;
    return data.events ?? [];
  }
  const { rows, clock, now } = labelled();
  strip.open = rows.some((row) => row[1] == null);
  return labelledEvents(rows, data.labels, clock, now);
}

/** A line strip's columns, each in its colour. */
function drawLines(ctx, data, view, width, height) {
  const [low, high] = data.range ?? [0, 1];
  const toY = (value) => valueToY(value, low, high, height);
  ctx.lineWidth = Math.max(1, pixelRatio());
  ctx.lineJoin = "round";
  data.columns.forEach((_, k) => {
    ctx.strokeStyle = data.colors?.[k] ?? "#1f77b4";
    ctx.beginPath();
    traceColumn(ctx, data, k, view, width, toY);
    ctx.stroke();
  });
}

/** Column `k` as a path: its samples when fewer than the pixels, else each pixel's min and max. */
function traceColumn(ctx, data, k, view, width, toY) {
  const offset = k * data.count;
  const pixels = decimate(data.t, data.values, view, width, offset);
  if (pixels.last - pixels.first < width) traceSamples(ctx, data, offset, pixels, view, width, toY);
  else tracePixels(ctx, pixels, width, toY);
}

/** The samples themselves, from one before the view to one after; a NaN breaks the line. */
function traceSamples(ctx, data, offset, { first, last }, view, width, toY) {
  let started = false;
  for (let i = Math.max(0, first - 1); i < Math.min(data.count, last + 1); i++) {
    const value = data.values[offset + i];
    if (Number.isNaN(value)) {
      started = false;
      continue;
    }
    const x = timeToX(data.t[i], view, width);
    if (started) ctx.lineTo(x, toY(value));
    else ctx.moveTo(x, toY(value));
    started = true;
  }
}

/** One vertical stroke per pixel column, from its min to its max (at least half a pixel). */
function tracePixels(ctx, { min, max }, width, toY) {
  let started = false;
  for (let c = 0; c < width; c++) {
    const lo = min[c];
    if (Number.isNaN(lo)) continue;
    const x = c + 0.5;
    const y0 = toY(lo);
    const y1 = toY(max[c]);
    if (started) ctx.lineTo(x, y0);
    else ctx.moveTo(x, y0);
    ctx.lineTo(x, Math.min(y1, y0 - 0.5));
    started = true;
  }
}

/** Events as bars in their label's colour, the label written on a bar wide enough for it. */
function drawEvents(ctx, data, events, view, width, height) {
  const font = Math.round(11 * pixelRatio());
  ctx.font = `${font}px sans-serif`;
  ctx.textBaseline = "middle";
  for (const [x, w, label] of eventBars(events, view, width)) {
    ctx.fillStyle = data.colors?.[label] ?? "#888";
    ctx.fillRect(x, 0, w, height);
    const text = data.labels?.[label] ?? "";
    if (text && w > ctx.measureText(text).width + 6) {
      ctx.fillStyle = "#fff";
      ctx.fillText(text, x + 3, height / 2);
    }
  }
}

// Per-frame overlays (overlay.py packs them): a canvas over the video, redrawn on each
// presented frame with the marks of the frame on screen, each layer in its style
// (overlay.style: colours, skeleton, min_score), then any extra layer (annotate.js).

import { createElement } from "./dom.js";
import { frameAtTime } from "./frame-clock.js";
import {
  at,
  frameRows,
  KIND_BOX,
  KIND_LINE,
  KIND_POINT,
  KIND_TEXT,
  markColor,
  scoreFilter,
  skeletonSegments,
  unpackOverlay,
} from "./overlay-data.js";

/** Where the picture lies inside a video element of `box` ({width, height, fit}: its CSS size and
 * object-fit), letterboxed, in CSS px. */
export function pictureRect(box, sourceWidth, sourceHeight) {
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

/** Text beside a mark, outlined so that it reads on any picture. */
export function drawLabel(ctx, label, x, y, color) {
  ctx.lineWidth = 3;
  ctx.strokeStyle = "rgba(0, 0, 0, 0.8)";
  ctx.strokeText(label, x, y);
  ctx.fillStyle = color;
  ctx.fillText(label, x, y);
}

function drawMark(ctx, layer, style, i, view) {
  const { rect, sx, sy } = view;
  const color = markColor(layer, style, i);
  const labelIndex = at(layer.label, i);
  const label = labelIndex ? layer.labels[labelIndex - 1] : null;
  const x = rect.x + at(layer.x, i) * sx;
  const y = rect.y + at(layer.y, i) * sy;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = at(layer.width, i) || 2;
  const kind = at(layer.kind, i);
  if (kind === KIND_BOX) ctx.strokeRect(x, y, at(layer.a, i) * sx, at(layer.b, i) * sy);
  else if (kind === KIND_POINT) {
    ctx.beginPath();
    ctx.arc(x, y, Math.max(3, ctx.lineWidth * 1.5), 0, 2 * Math.PI);
    ctx.fill();
  } else if (kind === KIND_LINE) {
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(rect.x + at(layer.a, i) * sx, rect.y + at(layer.b, i) * sy);
    ctx.stroke();
  }
  if (label) {
    const [tx, ty] = kind === KIND_TEXT ? [x, y] : kind === KIND_BOX ? [x, y - 2] : [x + 5, y - 3];
    drawLabel(ctx, label, tx, ty, color);
  }
}

/** Draw the marks of `frame` of one unpacked layer in its style; `view`: {rect, sx, sy}. */
export function drawLayer(ctx, layer, style, frame, view) {
  const [start, end] = frameRows(layer, frame);
  if (start === end) return;
  const { rect, sx, sy } = view;
  const shown = scoreFilter(layer, style);
  ctx.font = "12px sans-serif";
  ctx.textBaseline = "bottom";
  // The skeleton under its points, in the colour of its first point's track.
  for (const [i, j] of skeletonSegments(layer, style, start, end, shown)) {
    ctx.strokeStyle = markColor(layer, style, i);
    ctx.lineWidth = at(layer.width, i) || 2;
    ctx.beginPath();
    ctx.moveTo(rect.x + at(layer.x, i) * sx, rect.y + at(layer.y, i) * sy);
    ctx.lineTo(rect.x + at(layer.x, j) * sx, rect.y + at(layer.y, j) * sy);
    ctx.stroke();
  }
  for (let i = start; i < end; i++) if (shown(i)) drawMark(ctx, layer, style, i, view);
}

/**
 * The overlay canvas of a player. `onLoaded` runs when a new set of layers is ready; `extras`
 * are more layers ({active(), draw(ctx, frame, view)}), drawn on top (annotate.js).
 * Returns {canvas, layerCount(), active(), place(), draw(mediaTime), view(), frameAt(mediaTime),
 * loadLayers(), loadHiddenLayers(), dispose}.
 */
export function createOverlays({ video, state, onLoaded, extras = [] }) {
  const canvas = createElement("canvas", "jp-RangeVideo-overlay");
  let layers = []; // [{name, id, columns}] in drawing order
  let hidden = new Set();
  let generation = 0;
  // The video's box, measured when its size changes (see `place`), never while drawing: reading
  // a size in a frame callback or on "seeked" forces a layout of the whole page (a notebook's)
  // before the frame can be shown.
  let box = { width: 0, height: 0, fit: "contain" };
  const active = () => layers.length > 0 || extras.some((extra) => extra.active());

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

  /** The picture's place in the canvas and its scale (CSS px a source px), or null. */
  function view() {
    const sourceWidth = state.value("video_width") || video.videoWidth;
    const sourceHeight = state.value("video_height") || video.videoHeight;
    const rect = pictureRect(box, sourceWidth, sourceHeight);
    return rect && { rect, sx: rect.width / sourceWidth, sy: rect.height / sourceHeight };
  }

  /** The frame presented at `mediaTime` (null: the frame at the video's time), or null. */
  function frameAt(mediaTime) {
    const clock = state.clock();
    return clock ? frameAtTime(clock, mediaTime ?? video.currentTime) : null;
  }

  /** Draw the frame presented at `mediaTime` (null: the frame at the video's time). */
  function draw(mediaTime) {
    // Measured while the video was not laid out (a view drawn before it is attached, or moved
    // between containers in one task, which no resize reports): measure again.
    if (active() && (!box.width || !box.height)) place();
    const dpr = window.devicePixelRatio || 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, box.width, box.height);
    if (!active() || video.readyState < 2) return;
    const where = view();
    const frame = frameAt(mediaTime);
    if (!where || frame === null) return;
    canvas.dataset.frame = String(frame); // the frame the overlay shows, for tests and tools
    const styles = state.value("_overlay_styles") ?? {};
    for (const layer of layers) {
      if (!hidden.has(layer.name)) drawLayer(ctx, layer.columns, styles[layer.name], frame, where);
    }
    for (const extra of extras) if (extra.active()) extra.draw(ctx, frame, where);
  }

  function loadHiddenLayers() {
    hidden = new Set(state.value("_overlays_hidden") ?? []);
  }

  async function loadLayers() {
    const mine = ++generation;
    const states = state.value("_overlays") ?? {};
    loadHiddenLayers();
    const loaded = [];
    for (const [name, packed] of Object.entries(states)) {
      // A layer unpacked already (the state of another layer changed) is kept as it is.
      const known = packed.id && layers.find((layer) => layer.id === packed.id);
      try {
        loaded.push(known ? { ...known, name } : { name, id: packed.id, columns: await unpackOverlay(packed) });
      } catch (error) {
        console.warn(`jupyter-rangevideo: overlay ${name} could not be read`, error);
      }
      if (mine !== generation) return; // a newer state arrived meanwhile
    }
    layers = loaded;
    canvas.dataset.layers = String(layers.length); // for tests and tools: the layers drawn
    onLoaded();
  }

  return {
    canvas,
    layerCount: () => layers.length,
    active,
    place,
    draw,
    view,
    frameAt,
    loadLayers,
    loadHiddenLayers,
    dispose() {
      generation++;
      canvas.remove();
    },
  };
}

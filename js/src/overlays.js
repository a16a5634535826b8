// Per-frame overlays (overlay.py packs them): a canvas over the video, redrawn on each
// presented frame with the marks of the frame on screen.

import { createElement } from "./dom.js";
import { frameAtTime } from "./frame-clock.js";

const OVERLAY_COLUMNS = [
  ["frame", Uint32Array],
  ["kind", Uint8Array],
  ["x", Float32Array],
  ["y", Float32Array],
  ["a", Float32Array],
  ["b", Float32Array],
  ["color", Uint16Array],
  ["label", Uint32Array],
  ["width", Float32Array],
];
const OVERLAY_DEFAULT_COLOR = "#ffd000";
const KIND_BOX = 0;
const KIND_POINT = 1;
const KIND_LINE = 2;
const KIND_TEXT = 3;

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

function drawMark(ctx, layer, i, rect, sx, sy) {
  const color = layer.palette[layer.color[i] - 1] ?? OVERLAY_DEFAULT_COLOR;
  const label = layer.label[i] ? layer.labels[layer.label[i] - 1] : null;
  const x = rect.x + layer.x[i] * sx;
  const y = rect.y + layer.y[i] * sy;
  ctx.strokeStyle = color;
  ctx.fillStyle = color;
  ctx.lineWidth = layer.width[i] || 2;
  const kind = layer.kind[i];
  if (kind === KIND_BOX) ctx.strokeRect(x, y, layer.a[i] * sx, layer.b[i] * sy);
  else if (kind === KIND_POINT) {
    ctx.beginPath();
    ctx.arc(x, y, Math.max(3, ctx.lineWidth * 1.5), 0, 2 * Math.PI);
    ctx.fill();
  } else if (kind === KIND_LINE) {
    ctx.beginPath();
    ctx.moveTo(x, y);
    ctx.lineTo(rect.x + layer.a[i] * sx, rect.y + layer.b[i] * sy);
    ctx.stroke();
  }
  if (label) {
    const [tx, ty] = kind === KIND_TEXT ? [x, y] : kind === KIND_BOX ? [x, y - 2] : [x + 5, y - 3];
    ctx.lineWidth = 3;
    ctx.strokeStyle = "rgba(0, 0, 0, 0.8)";
    ctx.strokeText(label, tx, ty);
    ctx.fillStyle = color;
    ctx.fillText(label, tx, ty);
  }
}

function drawLayer(ctx, layer, frame, rect, sx, sy) {
  const start = lowerBound(layer.frame, frame);
  const end = lowerBound(layer.frame, frame + 1);
  ctx.font = "12px sans-serif";
  ctx.textBaseline = "bottom";
  for (let i = start; i < end; i++) drawMark(ctx, layer, i, rect, sx, sy);
}

/**
 * The overlay canvas of a player. `onLoaded` runs when a new set of layers is ready.
 * Returns {canvas, layerCount(), place(), draw(mediaTime), loadLayers(), loadHiddenLayers(), dispose}.
 */
export function createOverlays({ video, state, onLoaded }) {
  const canvas = createElement("canvas", "jp-RangeVideo-overlay");
  let layers = []; // [{name, columns}] in drawing order
  let hidden = new Set();
  let generation = 0;
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

  /** Draw the frame presented at `mediaTime` (null: the frame at the video's time). */
  function draw(mediaTime) {
    // Measured while the video was not laid out (a view drawn before it is attached, or moved
    // between containers in one task, which no resize reports): measure again.
    if (layers.length && (!box.width || !box.height)) place();
    const dpr = window.devicePixelRatio || 1;
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, box.width, box.height);
    const visible = layers.filter((layer) => !hidden.has(layer.name));
    if (!visible.length || video.readyState < 2) return;
    const sourceWidth = state.value("video_width") || video.videoWidth;
    const sourceHeight = state.value("video_height") || video.videoHeight;
    const rect = pictureRect(box, sourceWidth, sourceHeight);
    const clock = state.clock();
    if (!rect || !clock) return;
    const frame = frameAtTime(clock, mediaTime ?? video.currentTime);
    canvas.dataset.frame = String(frame); // the frame the overlay shows, for tests and tools
    const sx = rect.width / sourceWidth;
    const sy = rect.height / sourceHeight;
    for (const layer of visible) drawLayer(ctx, layer.columns, frame, rect, sx, sy);
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
      try {
        loaded.push({ name, columns: await unpackOverlay(packed) });
      } catch (error) {
        console.warn(`jupyter-rangevideo: overlay ${name} could not be read`, error);
      }
    }
    if (mine !== generation) return; // a newer state arrived meanwhile
    layers = loaded;
    onLoaded();
  }

  return {
    canvas,
    layerCount: () => layers.length,
    place,
    draw,
    loadLayers,
    loadHiddenLayers,
    dispose() {
      generation++;
      canvas.remove();
    },
  };
}

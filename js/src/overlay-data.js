// The marks of an overlay layer as the page keeps them (overlay.py packs them), and the pure
// parts of drawing them: which rows a frame has, which are scored high enough, their colour,
// and the skeleton's segments between keypoints of one track.

import { lowerBound } from "./search.js";

const TYPES = { u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, i4: Int32Array, f4: Float32Array };
// Format 1 (one deflated block of every column, byte-shuffled): the columns in order.
const FORMAT_1_COLUMNS = [
  ["frame", "u4"],
  ["kind", "u1"],
  ["x", "f4"],
  ["y", "f4"],
  ["a", "f4"],
  ["b", "f4"],
  ["color", "u2"],
  ["label", "u4"],
  ["width", "f4"],
];
export const NO_SCORE = -2147483648;
export const KIND_BOX = 0;
export const KIND_POINT = 1;
export const KIND_LINE = 2;
export const KIND_TEXT = 3;
export const DEFAULT_COLOR = "#ffd000";
// Work between two looks at the page, a few milliseconds at a time: rows rebuilt, and
// compressed bytes inflated.
const ROWS_PER_SLICE = 1 << 18;
const INFLATE_SLICE = 1 << 17;

/** base64 (a saved output), DataView (a widget buffer) or bytes -> Uint8Array. */
export function bytesOf(data) {
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

/** Let the page draw and handle input before the next slice of work. */
const pause = () => new Promise((resolve) => setTimeout(resolve, 0));

/** Inflate `bytes` fed in slices, with a pause between them: the browser inflates each chunk
 * written in one go, and a whole column (megabytes) at once would be a long task. */
async function inflate(bytes) {
  const stream = new DecompressionStream("deflate");
  const writer = stream.writable.getWriter();
  const reader = stream.readable.getReader();
  const writing = (async () => {
    for (let start = 0; start < bytes.length; start += INFLATE_SLICE) {
      await writer.write(bytes.subarray(start, start + INFLATE_SLICE));
      await pause();
    }
    await writer.close();
  })();
  const parts = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    total += value.length;
  }
  await writing;
  if (parts.length === 1) return parts[0];
  const whole = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    whole.set(part, offset);
    offset += part.length;
  }
  return whole;
}

/** A column's numbers from its byte planes (plane k: byte k of every number), in slices. */
async function unshuffle(raw, count, type) {
  const Type = TYPES[type];
  const size = Type.BYTES_PER_ELEMENT;
  if (raw.length !== count * size) throw new Error("overlay column has the wrong length");
  if (size === 1) return new Type(raw.buffer, raw.byteOffset, count);
  const words = size === 4 ? new Uint32Array(count) : new Uint16Array(count);
  const [p0, p1, p2, p3] = [0, 1, 2, 3].map((k) => (k < size ? raw.subarray(k * count, (k + 1) * count) : null));
  for (let start = 0; start < count; start += ROWS_PER_SLICE) {
    const end = Math.min(count, start + ROWS_PER_SLICE);
    if (size === 4) for (let i = start; i < end; i++) words[i] = p0[i] | (p1[i] << 8) | (p2[i] << 16) | (p3[i] << 24);
    else for (let i = start; i < end; i++) words[i] = p0[i] | (p1[i] << 8);
    if (end < count) await pause();
  }
  return new Type(words.buffer); // little-endian, as every browser platform is
}

/** The columns of a packed layer: {count, palette, labels, tracks, keypoints, frame, kind, x, ...}
 * where a column the same on every row is that number. */
export async function unpackOverlay(layer) {
  const n = layer.count;
  const bytes = bytesOf(layer.data);
  const layout = layer.format === 2 ? layer.columns : FORMAT_1_COLUMNS.map(([name, type]) => [name, type, null]);
  const columns = {
    count: n,
    palette: layer.palette ?? [],
    labels: layer.labels ?? [],
    tracks: layer.tracks ?? [],
    keypoints: layer.keypoints ?? [],
    track: 0,
    keypoint: 0,
    score: NO_SCORE,
    ...(layer.constants ?? {}),
  };
  const whole = layer.format === 2 ? null : await inflate(bytes);
  let offset = 0;
  for (const [name, type, length] of layout) {
    let raw;
    if (whole) {
      raw = whole.subarray(offset, offset + n * TYPES[type].BYTES_PER_ELEMENT);
      offset += raw.length;
    } else {
      raw = await inflate(bytes.subarray(offset, offset + length));
      offset += length;
    }
    columns[name] = await unshuffle(raw, n, type);
  }
  if (offset !== (whole ?? bytes).length) throw new Error("overlay data has the wrong length");
  if (typeof columns.frame === "number") columns.frame = new Uint32Array(n).fill(columns.frame);
  return columns;
}

/** Row i of a column (a typed array, or the one value of every row). */
export const at = (column, i) => (typeof column === "number" ? column : column[i]);

/** [start, end): the rows of `frame`, found by binary search (rows sorted by frame). */
export function frameRows(layer, frame) {
  return [lowerBound(layer.frame, frame), lowerBound(layer.frame, frame + 1)];
}

/** Whether row i is shown under the style's min_score: scores are whole thousandths rounded
 * down, so this is `score >= min_score` for any min_score of up to three decimals. */
export function scoreFilter(layer, style) {
  const min = style?.min_score;
  if (min == null || layer.score === NO_SCORE) return () => true;
  const threshold = Math.ceil(min * 1000 - 1e-6);
  return (i) => {
    const score = at(layer.score, i);
    return score === NO_SCORE || score >= threshold;
  };
}

/** Row i's colour: its own, else the layer's, else its track's, else the default. */
export function markColor(layer, style, i) {
  const own = at(layer.color, i);
  if (own) return layer.palette[own - 1] ?? DEFAULT_COLOR;
  if (style?.color) return style.color;
  const track = at(layer.track, i);
  if (track && style?.track_colors) return style.track_colors[track - 1] ?? DEFAULT_COLOR;
  return DEFAULT_COLOR;
}

/** The skeleton's segments among rows [start, end) of one frame: [i, j] pairs of point rows of
 * one track whose keypoints an edge joins (edges: [a, b] keypoint numbers, as the column holds
 * them), both shown. */
export function skeletonSegments(layer, style, start, end, shown = () => true) {
  const edges = style?.skeleton ?? [];
  if (!edges.length || layer.keypoint === 0) return [];
  const stride = layer.keypoints.length + 1;
  const rowOf = new Map(); // track * stride + keypoint -> row
  for (let i = start; i < end; i++) {
    const keypoint = at(layer.keypoint, i);
    if (keypoint && at(layer.kind, i) === KIND_POINT && shown(i)) rowOf.set(at(layer.track, i) * stride + keypoint, i);
  }
  const segments = [];
  for (const [key, i] of rowOf) {
    const track = Math.floor(key / stride);
    const keypoint = key - track * stride;
    for (const [a, b] of edges) {
      const j = a === keypoint ? rowOf.get(track * stride + b) : undefined;
      if (j !== undefined) segments.push([i, j]);
    }
  }
  return segments;
}

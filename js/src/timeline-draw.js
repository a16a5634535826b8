// The pure maths of timeline strips (timeline.js draws them): the visible time range (the
// view), x <-> time, zoom with its clamping, and the min/max decimation of a signal to one
// pair per pixel column. No DOM here: tests run it with Node.

import { lowerBound } from "./search.js";

/** The whole of a file of `duration` seconds: time 0 at the left edge, the duration at the right. */
export function fullView(duration) {
  return { start: 0, end: duration > 0 ? duration : 1 };
}

/** The time at `x` CSS px of a strip `width` px wide showing `view`, clamped to the view. */
export function xToTime(x, view, width) {
  if (!(width > 0)) return view.start;
  const fraction = Math.min(1, Math.max(0, x / width));
  return view.start + fraction * (view.end - view.start);
}

/** The x (CSS px) of `seconds` in a strip `width` px wide showing `view` (not clamped). */
export function timeToX(seconds, view, width) {
  const span = view.end - view.start;
  return span > 0 ? ((seconds - view.start) / span) * width : 0;
}

/**
 * A view zoomed by `factor` (< 1 zooms in) about `anchor` seconds, which stays at the same x;
 * clamped to [0, duration] and to at least `minSpan` seconds (a few frames).
 */
export function zoomView(view, anchor, factor, duration, minSpan) {
  const full = fullView(duration);
  const smallest = Math.min(full.end, Math.max(minSpan || 0, 1e-6));
  const span = view.end - view.start;
  const wanted = Math.min(full.end, Math.max(smallest, span * factor));
  const at = span > 0 ? (anchor - view.start) / span : 0.5;
  return clampView({ start: anchor - at * wanted, end: anchor - at * wanted + wanted }, duration);
}

/** `view` moved to lie inside [0, duration] (its span kept, at most the duration). */
export function clampView(view, duration) {
  const full = fullView(duration);
  const span = Math.min(full.end, Math.max(0, view.end - view.start));
  let start = Math.max(0, Math.min(view.start, full.end - span));
  if (!Number.isFinite(start)) start = 0;
  return { start, end: start + span };
}

/** The view from a dragged range [a, b] seconds (either order), at least `minSpan` long. */
export function rangeView(a, b, duration, minSpan) {
  const lo = Math.min(a, b);
  const hi = Math.max(a, b);
  const middle = (lo + hi) / 2;
  const span = Math.max(hi - lo, minSpan || 0);
  return clampView({ start: middle - span / 2, end: middle + span / 2 }, duration);
}

/**
 * Min and max of `values` per pixel column, for the samples whose `times` (sorted, seconds)
 * fall in `view`: column c holds [start + c * w, start + (c + 1) * w) with w = span / columns,
 * and a sample exactly at the view's end goes to the last column. `stride`/`offset` read one
 * signal of several stored one after another. Empty columns hold NaN. Returns
 * {min, max, first, last}: the first and last sample index in the view.
 */
export function decimate(times, values, view, columns, offset = 0) {
  const min = new Float32Array(columns).fill(Number.NaN);
  const max = new Float32Array(columns).fill(Number.NaN);
  const first = lowerBound(times, view.start);
  const span = view.end - view.start;
  if (!(span > 0) || columns < 1) return { min, max, first, last: first };
  const last = upperBound(times, view.end);
  // Times are sorted: each column is a run of samples between two binary searches, and the
  // inner loop only compares (a NaN compares false both ways: a gap, skipped).
  let i = first;
  for (let c = 0; c < columns; c++) {
    const stop = c === columns - 1 ? last : Math.min(last, lowerBound(times, view.start + ((c + 1) * span) / columns));
    let lo = Number.POSITIVE_INFINITY;
    let hi = Number.NEGATIVE_INFINITY;
    for (let k = offset + i, end = offset + stop; k < end; k++) {
      const v = values[k];
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (lo <= hi) {
      min[c] = lo;
      max[c] = hi;
    }
    i = Math.max(i, stop);
  }
  return { min, max, first, last };
}

/** The first index i with values[i] > target (values sorted ascending). */
export function upperBound(values, target) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] <= target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The y (px, 0 at the top) of `value` in a strip of `height` px showing [low, high]. */
export function valueToY(value, low, high, height, pad = 2) {
  const span = high - low;
  const fraction = span > 0 ? (value - low) / span : 0.5;
  return pad + (1 - fraction) * (height - 2 * pad);
}

/** The bars of events ([start, end, label index], seconds) in `view`, as px [x, width, label]:
 * each at least 1 px wide, clipped to the strip. */
export function eventBars(events, view, width) {
  const bars = [];
  for (const [start, end, label] of events) {
    if (end < view.start || start > view.end) continue;
    const x0 = Math.max(0, timeToX(start, view, width));
    const x1 = Math.min(width, timeToX(end, view, width));
    bars.push([x0, Math.max(1, x1 - x0), label]);
  }
  return bars;
}

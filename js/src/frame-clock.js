// Frame number <-> time, from the probe's FrameClock (probe.py). Pure maths.
// `clock.runs` holds [first_frame, first_time, frame_duration]: the stream's own timestamps,
// so variable-frame-rate files are exact. Never currentTime * fps.

const FIRST_FRAME = 0;
const FIRST_TIME = 1;

/** The index of the last run whose `column` is at or before `value` (runs sorted on it). */
function lastRunAtOrBefore(runs, column, value) {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (runs[mid][column] <= value) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The frame on screen at `seconds`: the last one presented at or before it. */
export function frameAtTime(clock, seconds) {
  const runs = clock?.runs ?? [];
  if (!runs.length || !(clock.frame_count > 0)) return 0;
  const t = seconds + 1e-4; // a frame's mediaTime may be rounded to microseconds
  const [first, start, step] = runs[lastRunAtOrBefore(runs, FIRST_TIME, t)];
  const offset = step > 0 ? Math.floor((t - start) / step) : 0;
  return Math.max(0, Math.min(first + Math.max(offset, 0), clock.frame_count - 1));
}

/** The clock's run that holds `frame`, or null without runs. */
export function runOfFrame(clock, frame) {
  const runs = clock?.runs;
  if (!runs?.length) return null;
  return runs[lastRunAtOrBefore(runs, FIRST_FRAME, frame)];
}

/** When frame `n` (clamped to the file) is presented, in seconds. */
export function timeOfFrame(clock, n) {
  const runs = clock?.runs ?? [];
  if (!runs.length) return 0;
  const frame = Math.max(0, Math.min(n, clock.frame_count - 1));
  const [first, start, step] = runOfFrame(clock, frame);
  return start + (frame - first) * step;
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

/** The length of a frame at `seconds`, for thresholds (1/30 s without a clock). */
export function frameDurationAt(clock, seconds) {
  return runOfFrame(clock, frameAtTime(clock, seconds))?.[2] || 1 / 30;
}

// Binary search over sorted arrays, shared by the overlays (rows of a frame) and the timeline
// strips (samples in view).

/** The first index i with values[i] >= target (values sorted ascending). */
export function lowerBound(values, target) {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (values[mid] < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

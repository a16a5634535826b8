// The pointer on a timeline strip: a click or a drag seeks to the time under the pointer, a
// shift-drag zooms to the dragged range (a box shows it while dragging), the wheel zooms about
// the pointer (a sideways wheel pans), a double-click shows the whole file again.

import { createElement, Disposables } from "./dom.js";
import { rangeView, xToTime, zoomView } from "./timeline-draw.js";

const WHEEL_ZOOM = 0.0015; // per wheel pixel
const DRAG_PX = 3; // a pointer moved less than this is a click

/**
 * Bind the pointer on a strip's `element` to `axis`: {view(), width(), total(), minSpan(),
 * setView(view or null), seekAt(x)} (timeline.js createTimeAxis); `focus()` runs on a press.
 * Returns the Disposables of the listeners.
 */
export function bindStripPointer(element, axis, focus) {
  const listeners = new Disposables();
  let drag = null; // from a press to its release: {left, x0, zoom, moved, box}
  listeners.listen(element, "pointerdown", (event) => {
    if (event.button !== 0) return;
    focus(); // the player's keys (and label keys) work after a click
    drag = startDrag(event, element, axis);
  });
  listeners.listen(element, "pointermove", (event) => {
    if (drag) moveDrag(drag, event, axis);
  });
  listeners.listen(element, "pointerup", (event) => {
    if (drag) endDrag(drag, event, axis);
    drag = null;
  });
  listeners.listen(element, "pointercancel", () => {
    drag?.box?.remove();
    drag = null;
  });
  listeners.listen(element, "dblclick", (event) => {
    event.preventDefault();
    axis.setView(null);
  });
  const onWheel = (event) => {
    event.preventDefault();
    axis.setView(wheelView(event, element, axis));
  };
  listeners.listen(element, "wheel", onWheel, { passive: false });
  return listeners;
}

/** A press: seek there, or (with shift) start a zoom box there. */
function startDrag(event, element, axis) {
  element.setPointerCapture?.(event.pointerId);
  const left = element.getBoundingClientRect().left;
  const drag = { left, x0: event.clientX - left, zoom: event.shiftKey, moved: false, box: null };
  if (drag.zoom) {
    drag.box = createElement("div", "jp-RangeVideo-zoombox");
    showBox(drag.box, drag.x0, drag.x0);
    element.append(drag.box);
  } else axis.seekAt(drag.x0);
  event.preventDefault();
  return drag;
}

/** The pointer moved while pressed: the zoom box follows, or (once dragged) seek there. */
function moveDrag(drag, event, axis) {
  const x = event.clientX - drag.left;
  if (Math.abs(x - drag.x0) >= DRAG_PX) drag.moved = true;
  if (drag.zoom) showBox(drag.box, drag.x0, x);
  else if (drag.moved) axis.seekAt(x);
}

/** The release: zoom to the dragged range (not after a mere click), or seek where a drag ended. */
function endDrag(drag, event, axis) {
  const x = event.clientX - drag.left;
  if (!drag.zoom) {
    if (drag.moved) axis.seekAt(x);
    return;
  }
  drag.box.remove();
  if (Math.abs(x - drag.x0) < DRAG_PX) return;
  const view = axis.view();
  const from = xToTime(drag.x0, view, axis.width());
  const to = xToTime(x, view, axis.width());
  axis.setView(rangeView(from, to, axis.total(), axis.minSpan()));
}

/** The zoom box between `a` and `b` CSS px. */
function showBox(box, a, b) {
  box.style.left = `${Math.min(a, b)}px`;
  box.style.width = `${Math.abs(b - a)}px`;
}

/** The view after a wheel turn: panned by a sideways turn, else zoomed about the pointer. */
function wheelView(event, element, axis) {
  const view = axis.view();
  if (Math.abs(event.deltaX) > Math.abs(event.deltaY)) {
    const shift = (event.deltaX / Math.max(1, axis.width())) * (view.end - view.start);
    const panned = { start: view.start + shift, end: view.end + shift };
    return zoomView(panned, panned.start, 1, axis.total(), axis.minSpan());
  }
  const x = event.clientX - element.getBoundingClientRect().left;
  const factor = Math.exp(event.deltaY * WHEEL_ZOOM);
  return zoomView(view, xToTime(x, view, axis.width()), factor, axis.total(), axis.minSpan());
}

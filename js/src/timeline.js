// Timeline strips under a player or a grid (timeline.py packs them): signals as min/max lines,
// events as coloured bars, a cursor at the presented frame, and a click or drag that seeks to
// the frame under the pointer. Here: the strips' time axis (zoom), their layout and cursors,
// label_events keys, and the assembly; a strip's data and canvas are timeline-strip.js, the
// pointer (seek, zoom) timeline-pointer.js, the maths timeline-draw.js.
//
// What is drawn when: a strip's canvas when its data, size or view (zoom) changes; only the
// cursors (one element per strip, moved with a transform) on each presented frame. Sizes are
// measured when the video's size changes, never in a frame callback.

import { createElement, Disposables, injectStyle } from "./dom.js";
import { frameAtTime } from "./frame-clock.js";
import { frameLoopOf, watchSize } from "./frame-loop.js";
import { fullView, timeToX, xToTime } from "./timeline-draw.js";
import { bindStripPointer } from "./timeline-pointer.js";
import { createStrip, drawStrip, isLabelStrip, moveCursor, sizeStrip } from "./timeline-strip.js";

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
const FALLBACK_FRAME_STEP = 1 / 30; // seconds, with no frame clock

/**
 * The strips' time axis: the view (the zoom; the whole file when none) across `place`
 * ({left, width} CSS px), and seeking to a point of it. `onView()` runs when the view changes.
 */
function createTimeAxis({ video, clock, duration, seekFrame, seekTime, onView }) {
  let zoom = null; // null: the whole file
  const axis = {
    place: { left: 0, width: 0 },
    width: () => axis.place.width,
    total() {
      const seconds = duration();
      return seconds > 0 ? seconds : Number.isFinite(video.duration) && video.duration > 0 ? video.duration : 0;
    },
    view: () => zoom ?? fullView(axis.total()),
    minSpan() {
      const c = clock();
      const step = c?.runs?.length ? c.runs[c.runs.length - 1][2] : FALLBACK_FRAME_STEP;
      return step * MIN_FRAMES_IN_VIEW;
    },
    setView(next) {
      const full = fullView(axis.total());
      zoom = next && (next.start > full.start + 1e-9 || next.end < full.end - 1e-9) ? next : null;
      onView();
    },
    seekAt(x) {
      const seconds = xToTime(x, axis.view(), axis.width());
      const c = clock();
      if (c) seekFrame(frameAtTime(c, seconds));
      else seekTime(seconds);
    },
  };
  return axis;
}

/**
 * The strips in `container`: built from `_timelines`, laid out where `measure()` says, drawn
 * for the axis's view, their cursors at the presented time. `dispose()` removes them and
 * their pointer listeners.
 */
function createStripList({ container, state, axis, measure, presentedTime, labelled, focus }) {
  let strips = [];
  const pointers = new Disposables(); // the current strips' listeners
  const draw = (strip) => drawStrip(strip, axis.view(), labelled);

  function build() {
    clear();
    for (const [name, packed] of Object.entries(state.value("_timelines") ?? {})) {
      const strip = createStrip(name, packed);
      if (!strip) continue;
      container.append(strip.element);
      pointers.add(bindStripPointer(strip.element, axis, focus));
      strips.push(strip);
    }
    container.hidden = strips.length === 0;
    layout();
  }

  function clear() {
    pointers.dispose();
    for (const strip of strips) strip.element.remove();
    strips = [];
  }

  function layout() {
    if (!strips.length) return;
    axis.place = measure();
    container.style.marginLeft = `${axis.place.left}px`;
    container.style.width = `${axis.place.width}px`;
    for (const strip of strips) sizeStrip(strip, axis.place.width);
    drawAll();
  }

  function drawAll() {
    for (const strip of strips) draw(strip);
    moveCursors(presentedTime());
  }

  function moveCursors(seconds) {
    if (!strips.length || seconds == null) return;
    const width = axis.width();
    const x = timeToX(seconds, axis.view(), width);
    for (const strip of strips) {
      moveCursor(strip, x, x >= 0 && x <= width, seconds);
      if (strip.open) draw(strip); // an interval being labelled grows with the playhead
    }
  }

  function drawLabelled() {
    for (const strip of strips) if (isLabelStrip(strip)) draw(strip);
  }

  return { build, layout, drawAll, moveCursors, drawLabelled, dispose: clear };
}

/** The label_events rows: the model's `_events`, or with no kernel (a saved notebook) the
 * rows edited here. */
function createEventRows(state) {
  let local = null;
  return {
    rows: () => local ?? state.value("_events") ?? [],
    save(rows) {
      if (state.live) state.save({ _events: rows });
      else local = rows;
    },
    forgetLocal() {
      local = null;
    },
  };
}

/** `rows` with `label`'s open interval closed at `frame`, or one opened there. */
function toggleInterval(rows, label, frame) {
  const next = rows.map((row) => [...row]);
  const open = next.findIndex((row) => row[2] === label && row[1] == null);
  if (open >= 0) {
    const start = next[open][0];
    next[open] = [Math.min(start, frame), Math.max(start, frame), label];
  } else next.push([frame, null, label]);
  return next;
}

/** label_events: a key starts an interval at the presented frame, the same key ends it. */
function bindLabelKeys({ labels, state, events, redraw }) {
  const listeners = new Disposables();
  listeners.listen(labels.root, "keydown", (event) => {
    const keys = state.value("_label_keys") ?? {};
    const label = keys[event.key];
    if (!label || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault();
    event.stopPropagation(); // not the notebook's command-mode shortcuts
    const frame = labels.shownFrame();
    events.save(toggleInterval(events.rows(), label, frame));
    redraw();
  });
  return listeners;
}

/** The cursors follow the video: each presented frame, each seek, and (with no frame
 * callbacks) each timeupdate. */
function followPlayhead(video, frames, moveCursors) {
  const listeners = new Disposables();
  listeners.add(frames.subscribe((_now, metadata) => moveCursors(metadata.mediaTime)));
  listeners.listen(video, "seeking", () => moveCursors(video.currentTime));
  listeners.listen(video, "timeupdate", () => {
    if (!frames.supported) moveCursors(video.currentTime);
  });
  return listeners;
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
  const container = createElement("div", "jp-RangeVideo-strips");
  container.hidden = true;
  parent.append(container);
  const frames = frameLoopOf(video);
  const presentedTime = () => frames.presented?.mediaTime ?? video.currentTime;
  const events = createEventRows(state);
  const onView = () => strips.drawAll();
  const axis = createTimeAxis({ video, clock, duration, seekFrame, seekTime, onView });
  const strips = createStripList({
    container,
    state,
    axis,
    measure,
    presentedTime,
    labelled: () => ({ rows: events.rows(), clock: clock(), now: presentedTime() }),
    focus: () => labels?.root.focus({ preventScroll: true }),
  });
  const parts = new Disposables(); // undone in the order they were added
  if (labels) parts.add(bindLabelKeys({ labels, state, events, redraw: strips.drawLabelled }));
  parts.add(followPlayhead(video, frames, strips.moveCursors));
  parts.listen(video, "loadedmetadata", strips.layout);
  parts.listen(video, "durationchange", strips.drawAll);
  parts.add(watchSize(watched, strips.layout));
  parts.add(state.onChange(["_timelines"], strips.build));
  const onEvents = () => {
    events.forgetLocal();
    strips.drawLabelled();
  };
  parts.add(state.onChange(["_events"], onEvents));
  parts.add(strips);
  strips.build();
  return () => {
    parts.dispose();
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

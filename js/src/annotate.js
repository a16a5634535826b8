// Labelling by click (labelling.py): while `_annotating` is set, the overlay canvas takes the
// pointer, so a click never reaches the video (no play, pause or seek); a click adds a point,
// a drag a box, in source pixels of the presented frame; Backspace takes the last back. The
// rows (`_annotations`, [frame, x, y, w, h, label, kind]) are drawn as a layer of their own,
// from the live model or a saved output.

import { Disposables, injectStyle } from "./dom.js";
import { drawLabel } from "./overlays.js";

const ANNOTATE_STYLE = `
.jp-RangeVideo-overlay.jp-mod-annotating { pointer-events: auto; cursor: crosshair; touch-action: none; }
`;
const COLOR = "#00e5ff";
const DRAG_MIN = 4; // CSS px: a shorter drag is a click

/** A point of the canvas (CSS px) in source pixels, given the picture's `view`; null outside it. */
export function sourcePoint(view, cssX, cssY, clamp = false) {
  if (!view) return null;
  const { rect, sx, sy } = view;
  let x = (cssX - rect.x) / sx;
  let y = (cssY - rect.y) / sy;
  const width = rect.width / sx;
  const height = rect.height / sy;
  if (clamp) {
    x = Math.min(Math.max(x, 0), width);
    y = Math.min(Math.max(y, 0), height);
  } else if (x < 0 || y < 0 || x > width || y > height) return null;
  return { x: Math.round(x * 100) / 100, y: Math.round(y * 100) / 100 };
}

/** The annotation rows' layer: {active(), draw(ctx, frame, view), bind({canvas, overlays, redraw}), dispose}. */
export function createAnnotations({ root, state, presentedTime }) {
  injectStyle("jp-RangeVideo-annotate-style", ANNOTATE_STYLE);
  const disposables = new Disposables();
  const rows = () => state.value("_annotations") ?? [];
  const mode = () => {
    const annotating = state.live ? state.value("_annotating") : null;
    return annotating?.kind ? annotating : null; // {} when stopped
  };
  let band = null; // the box being dragged: {x0, y0, x1, y1} in CSS px

  function draw(ctx, frame, view) {
    const { rect, sx, sy } = view;
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "bottom";
    ctx.strokeStyle = COLOR;
    ctx.fillStyle = COLOR;
    ctx.lineWidth = 2;
    for (const [rowFrame, x, y, w, h, label, kind] of rows()) {
      if (rowFrame !== frame) continue;
      const cx = rect.x + x * sx;
      const cy = rect.y + y * sy;
      ctx.strokeStyle = COLOR;
      ctx.fillStyle = COLOR;
      ctx.lineWidth = 2;
      if (kind === "box") ctx.strokeRect(cx, cy, w * sx, h * sy);
      else {
        ctx.beginPath();
        ctx.arc(cx, cy, 4, 0, 2 * Math.PI);
        ctx.fill();
      }
      if (label) drawLabel(ctx, label, kind === "box" ? cx : cx + 5, kind === "box" ? cy - 2 : cy - 3, COLOR);
    }
    if (band) {
      ctx.setLineDash([4, 3]);
      ctx.strokeStyle = COLOR;
      ctx.lineWidth = 1.5;
      ctx.strokeRect(band.x0, band.y0, band.x1 - band.x0, band.y1 - band.y0);
      ctx.setLineDash([]);
    }
  }

  /** Wire the pointer and keys once the canvas exists; `overlays` maps to source pixels. */
  function bind({ canvas, overlays, redraw }) {
    let start = null; // {x, y, frame, pointerId}
    const add = (row) => state.save({ _annotations: [...rows(), row] });
    const swallow = (event) => {
      event.preventDefault();
      event.stopPropagation();
    };
    const apply = () => {
      canvas.classList.toggle("jp-mod-annotating", !!mode());
      if (mode()) overlays.place();
      redraw();
    };
    disposables.add(state.onChange(["_annotating"], apply));
    disposables.add(state.onChange(["_annotations"], redraw));
    disposables.listen(canvas, "pointerdown", (event) => {
      if (!mode() || event.button !== 0) return;
      swallow(event);
      root.focus({ preventScroll: true });
      const frame = overlays.frameAt(presentedTime());
      if (frame === null) return;
      start = { x: event.offsetX, y: event.offsetY, frame, pointerId: event.pointerId };
      canvas.setPointerCapture?.(event.pointerId);
    });
    disposables.listen(canvas, "pointermove", (event) => {
      if (!start || mode()?.kind !== "box") return;
      band = { x0: start.x, y0: start.y, x1: event.offsetX, y1: event.offsetY };
      redraw();
    });
    disposables.listen(canvas, "pointerup", (event) => {
      if (!start) return;
      swallow(event);
      const { kind, label = null } = mode() ?? {};
      const dragged = Math.hypot(event.offsetX - start.x, event.offsetY - start.y) >= DRAG_MIN;
      const view = overlays.view();
      if (kind === "point" && !dragged) {
        const point = sourcePoint(view, start.x, start.y);
        if (point) add([start.frame, point.x, point.y, null, null, label, "point"]);
      } else if (kind === "box" && dragged) {
        const a = sourcePoint(view, start.x, start.y, true);
        const b = sourcePoint(view, event.offsetX, event.offsetY, true);
        const [x, y] = [Math.min(a.x, b.x), Math.min(a.y, b.y)];
        const [w, h] = [Math.abs(a.x - b.x), Math.abs(a.y - b.y)];
        if (w > 0 && h > 0) add([start.frame, x, y, w, h, label, "box"]);
      }
      start = null;
      band = null;
      redraw();
    });
    disposables.listen(canvas, "pointercancel", () => {
      start = null;
      band = null;
      redraw();
    });
    for (const type of ["click", "dblclick", "contextmenu"]) {
      disposables.listen(canvas, type, (event) => mode() && swallow(event));
    }
    disposables.listen(root, "keydown", (event) => {
      if (!mode() || event.key !== "Backspace" || event.ctrlKey || event.metaKey || event.altKey) return;
      swallow(event);
      if (rows().length) state.save({ _annotations: rows().slice(0, -1) });
    });
    apply();
  }

  return {
    active: () => !!mode() || rows().length > 0,
    draw,
    bind,
    dispose: () => disposables.dispose(),
  };
}

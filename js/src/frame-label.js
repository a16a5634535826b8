// The current frame number at the video's top right (show_frame_number).

import { createElement } from "./dom.js";
import { watchSize } from "./frame-loop.js";

/** The label element beside `video`; returns {element, update(frame), setVisible(visible), dispose}. */
export function createFrameLabel(video) {
  const element = createElement("div", "jp-RangeVideo-frame");
  let frame = 0;
  const label = {
    element,
    /** Show `presentedFrame` (written only when it changed and the label is shown). */
    update(presentedFrame) {
      frame = presentedFrame;
      const text = `frame ${frame}`;
      if (!element.hidden && element.textContent !== text) element.textContent = text;
    },
    setVisible(visible) {
      element.hidden = !visible;
      label.update(frame);
    },
    // The label sits at the video's right edge. Placed when the video's size changes, not per
    // frame: reading a size in a frame callback forces a layout of the whole page (a notebook's)
    // before the frame can be shown.
    dispose: watchSize(video, () => {
      element.style.left = `${video.offsetWidth}px`;
    }),
  };
  return label;
}

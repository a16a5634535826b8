// The player's display options (muted, volume, controls, loop, size, frame label), applied
// at render and whenever the kernel changes one.

import { cssSize } from "./dom.js";

// `_facts`: the frame clock, which a player shown from the file's header receives later.
const OPTION_TRAITS = [
  "muted",
  "volume",
  "controls",
  "loop",
  "width",
  "height",
  "start",
  "end",
  "show_frame_number",
  "_facts",
];

/** Apply the options now and on every change; returns the unsubscribe. */
export function applyOptions({ video, state, playback, frameLabel }) {
  const audioOnly = state.audioOnly();
  const applyToVideo = () => {
    const width = state.value("width") ?? "100%";
    video.muted = !!state.value("muted");
    video.volume = state.value("volume") ?? 1;
    video.controls = state.value("controls") ?? true;
    video.loop = !!state.value("loop") && !playback.clipped();
    // Audio controls as wide as a browser draws them by default, a bit more for long files.
    video.style.width = audioOnly && width === "100%" ? "min(100%, 600px)" : cssSize(width);
    // An <audio>'s height is its controls' (54 px in Chromium): "auto" would make it 0.
    const height = state.value("height") ?? "auto";
    video.style.height = audioOnly && height === "auto" ? "" : cssSize(height);
    frameLabel.setVisible((state.value("show_frame_number") ?? true) && !!state.clock());
  };
  applyToVideo();
  return state.onChange(OPTION_TRAITS, applyToVideo);
}

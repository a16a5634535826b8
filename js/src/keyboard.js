// Keys in the focused player: `,` `.` one frame back / forward; space or k play/pause;
// arrows ±5 s; j l ±10 s.

import { Disposables } from "./dom.js";

/** Make `root` focusable and bind the keys to `playback`; returns the dispose. */
export function bindKeys({ root, video, playback }) {
  const disposables = new Disposables();
  const togglePlay = () => (video.paused ? playback.play() : playback.pause());
  const actions = {
    ",": () => playback.step(-1),
    ".": () => playback.step(1),
    " ": togglePlay,
    k: togglePlay,
    ArrowLeft: () => playback.seekBy(-5),
    ArrowRight: () => playback.seekBy(5),
    j: () => playback.seekBy(-10),
    l: () => playback.seekBy(10),
  };
  root.tabIndex = 0;
  root.dataset.lmSuppressShortcuts = "true"; // JupyterLab: these keys are the player's here
  disposables.listen(root, "keydown", (event) => {
    const action = actions[event.key];
    if (!action || event.ctrlKey || event.metaKey || event.altKey) return;
    event.preventDefault(); // also the native controls' own handling of the same key
    event.stopPropagation(); // and the notebook's command-mode shortcuts (j, k, space)
    action();
  });
  disposables.listen(video, "click", () => root.focus({ preventScroll: true }));
  return () => disposables.dispose();
}

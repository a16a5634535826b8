// Timeline markers (markers.py builds them): a bar under the video with ticks and chapters
// that seek when clicked, a playhead, and a full-screen button that keeps the overlays.

import { createElement, Disposables } from "./dom.js";

/** The marker bar of a player; returns {bar, count(), drawMarkers(), movePlayhead(), dispose}. */
export function createMarkers({ root, video, state }) {
  const disposables = new Disposables();
  const bar = createElement("div", "jp-RangeVideo-bar");
  const track = createElement("div", "jp-RangeVideo-track");
  const playhead = createElement("div", "jp-RangeVideo-playhead");
  const fullscreen = createElement("button", "jp-RangeVideo-fullscreen", {
    title: "Full screen (with overlays)",
    textContent: "⛶",
  });
  bar.append(track, fullscreen);

  const markers = () => state.value("_markers") ?? {};
  const duration = () =>
    Number.isFinite(video.duration) && video.duration > 0 ? video.duration : state.value("duration") || null;
  const seek = (seconds) => {
    video.currentTime = Math.max(0, seconds);
  };

  function drawMarkers() {
    const { chapters = [], ticks = [] } = markers();
    const total = duration();
    track.replaceChildren();
    if (!total) return;
    const percent = (seconds) => `${Math.min(100, Math.max(0, (seconds / total) * 100))}%`;
    for (const [start, end, label] of chapters) {
      const chapter = createElement("div", "jp-RangeVideo-chapter", { textContent: label, title: label });
      chapter.style.left = percent(start);
      chapter.style.width = `calc(${percent(end)} - ${percent(start)})`;
      chapter.addEventListener("click", () => seek(start)); // removed with the element
      track.append(chapter);
    }
    for (const [seconds, label] of ticks) {
      const tick = createElement("div", "jp-RangeVideo-tick");
      tick.style.left = percent(seconds);
      tick.dataset.time = String(seconds);
      if (label) tick.title = label;
      tick.addEventListener("click", () => seek(seconds)); // removed with the element
      track.append(tick);
    }
    track.append(playhead);
    movePlayhead();
  }

  function movePlayhead() {
    const total = duration();
    if (total) playhead.style.left = `${Math.min(100, (video.currentTime / total) * 100)}%`;
  }

  disposables.listen(fullscreen, "click", () => {
    if (document.fullscreenElement === root) document.exitFullscreen();
    else root.requestFullscreen?.().catch(() => {});
  });
  disposables.listen(video, "dblclick", (event) => {
    if (bar.hidden) return;
    event.preventDefault();
    fullscreen.click();
  });

  return {
    bar,
    count: () => (markers().ticks?.length ?? 0) + (markers().chapters?.length ?? 0),
    drawMarkers,
    movePlayhead,
    dispose() {
      disposables.dispose();
      bar.remove();
    },
  };
}

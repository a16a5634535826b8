// Chromium can leave a paused <video> seeking forever when seeks to A, B and A again follow
// each other within a few milliseconds (fast `. . ,` presses): the frame is buffered, but
// readyState stays HAVE_METADATA and "seeked" never comes. Seeking again to the same time
// ends it. A seek still seeking after this long with its data buffered is asked again,
// waiting twice as long each time, so that a seek that is merely slow is not restarted often.

import { Disposables } from "./dom.js";
import { isBuffered } from "./media.js";

const SEEK_RETRY_MS = 1000;
const SEEK_RETRY_MAX_MS = 8000;

/** Ask `video`'s stuck seeks again; returns the dispose. */
export function retryStuckSeeks(video) {
  const disposables = new Disposables();
  let retryTimer = null;
  let retryMs = SEEK_RETRY_MS;
  const watchSeek = () => {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(() => {
      if (!video.seeking) return;
      retryMs = Math.min(2 * retryMs, SEEK_RETRY_MAX_MS);
      // biome-ignore lint/correctness/noSelfAssign: seeking to the same time again ends a stuck seek
      if (video.paused && isBuffered(video, video.currentTime)) video.currentTime = video.currentTime;
      else watchSeek();
    }, retryMs);
  };
  disposables.listen(video, "seeking", watchSeek);
  disposables.listen(video, "seeked", () => {
    clearTimeout(retryTimer);
    retryMs = SEEK_RETRY_MS;
  });
  disposables.add(() => clearTimeout(retryTimer));
  return () => disposables.dispose();
}

// The sync protocol with the kernel (sync.py is its other side). Python -> browser: numbered
// commands, applied in order. Browser -> Python: reports tagged with the last command applied,
// so the kernel can tell a report made before its latest command from one made after (a
// click in the page).

import { Disposables } from "./dom.js";

const TIME_UPDATES_PER_SECOND = 4;
// A paused player reports its state once it has been still this long, or at the latest this long.
const REPORT_SETTLE_MS = 200;
const REPORT_MAX_WAIT_MS = 1000;

/** The commands not applied yet, oldest first. */
export function pendingCommands(commands, applied) {
  return (commands ?? []).filter((command) => command.seq > applied).sort((a, b) => a.seq - b.seq);
}

/** The latest sequence number in the log (what a freshly drawn view starts from). */
export function latestSeq(commands) {
  return (commands ?? []).reduce((latest, command) => Math.max(latest, command.seq), 0);
}

/** Whether a paused player's report, settling since `since`, goes now: not while a seek is
 * under way (JupyterLab's work on the kernel's answer would delay the seek's frame; the seek's
 * end reports again), but at the latest REPORT_MAX_WAIT_MS after the first change. */
export function reportDue(now, since, seeking) {
  return !seeking || now - since >= REPORT_MAX_WAIT_MS;
}

/**
 * Reports of the player's state to the kernel. While playing, at most TIME_UPDATES_PER_SECOND.
 * Otherwise (seeks, steps, pause) once the player has been still for REPORT_SETTLE_MS: each
 * report makes the kernel answer with state and busy/idle messages that JupyterLab handles on
 * the page's main thread, and sent at once, that work delayed the next seek's frame by 30-70 ms.
 * Returns {report(throttle), appliedCommand, dispose}.
 */
export function createReports({ video, state }) {
  let playback = null;
  let lastReport = 0;
  let reportCount = 0;
  let settling = null; // the timer of a report waiting for the player to be still
  let settlingSince = 0;
  let disposed = false;
  const reports = {
    // The last command applied; every report carries it.
    appliedCommand: state.live ? latestSeq(state.value("_commands")) : 0,
    /** The playback whose state is reported (set once it exists). */
    setPlayback(value) {
      playback = value;
    },
    report,
    dispose() {
      disposed = true;
      clearTimeout(settling);
    },
  };

  function report(throttle = false) {
    if (!state.live || video.readyState === 0) return; // nothing to tell before the metadata
    const now = performance.now();
    if (throttle) {
      if (now - lastReport >= 1000 / TIME_UPDATES_PER_SECOND) sendReport();
      return;
    }
    if (settling === null) settlingSince = now;
    clearTimeout(settling);
    settling = setTimeout(settled, settleDelay(now));
  }
  // REPORT_SETTLE_MS more, but never past REPORT_MAX_WAIT_MS after the first change.
  const settleDelay = (now) => Math.max(0, Math.min(REPORT_SETTLE_MS, settlingSince + REPORT_MAX_WAIT_MS - now));
  function settled() {
    settling = null;
    if (disposed) return;
    const now = performance.now();
    if (reportDue(now, settlingSince, video.seeking)) sendReport();
    else settling = setTimeout(settled, settleDelay(now));
  }

  function sendReport() {
    lastReport = performance.now();
    reportCount += 1; // a new object each time: always sent, never merged with an older one
    state.save({
      _report: {
        applied: reports.appliedCommand,
        n: reportCount,
        paused: video.paused,
        current_time: video.currentTime,
        playback_rate: video.playbackRate,
        frame: playback.targetFrame ?? playback.shownFrame(),
      },
    });
  }

  return reports;
}

/** Apply the kernel's commands to `playback` as they arrive; returns the unsubscribe. */
export function applyCommands({ state, playback, reports }) {
  const applyCommand = ({ op, value }) => {
    if (op === "play") playback.play();
    else if (op === "pause") playback.pause();
    else if (op === "rate") playback.setRate(value);
    else if (op === "seek") {
      playback.targetFrame = null;
      playback.seekTo(value);
    } else if (op === "frame") playback.showFrame(value);
    else if (op === "step") playback.step(value);
  };
  return state.onChange(["_commands"], () => {
    for (const command of pendingCommands(state.value("_commands"), reports.appliedCommand)) {
      applyCommand(command);
      reports.appliedCommand = command.seq;
    }
    reports.report();
  });
}

/**
 * Report the video's changes (time, seeks, rate), tell the kernel what the browser learns of
 * the file (duration, size, volume) and go where the state says once the metadata is there.
 * The probe's facts win: a segmented stream's duration is rounded to its segments, and a
 * transcode may be smaller than the file. Returns the dispose.
 */
export function reportMediaEvents({ video, state, playback, status, reports }) {
  const disposables = new Disposables();
  const audioOnly = state.audioOnly();
  const probed = (name) => state.value(name) || null;
  disposables.listen(video, "loadedmetadata", () => {
    status.setMessage("");
    state.save({
      ...(probed("duration") ? {} : { duration: Number.isFinite(video.duration) ? video.duration : null }),
      ...(probed("video_width") || audioOnly ? {} : { video_width: video.videoWidth, video_height: video.videoHeight }),
      error: "",
    });
    const start = state.value("start") || 0;
    if (playback.startAt > start) playback.seekTo(playback.startAt);
    else if (start > 0) playback.seekTo(start);
    if (playback.wantPlay) playback.play();
  });
  disposables.listen(video, "resize", () => {
    if (!probed("video_width") && !audioOnly)
      state.save({ video_width: video.videoWidth, video_height: video.videoHeight });
  });
  disposables.listen(video, "durationchange", () => {
    if (Number.isFinite(video.duration) && !probed("duration")) state.save({ duration: video.duration });
  });
  disposables.listen(video, "timeupdate", () => {
    if (!video.paused) reports.report(true); // a paused seek is reported once it has ended
  });
  disposables.listen(video, "seeked", () => reports.report());
  disposables.listen(video, "ratechange", () => reports.report());
  disposables.listen(video, "volumechange", () => state.save({ muted: video.muted, volume: video.volume }));
  return () => disposables.dispose();
}

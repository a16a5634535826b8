// Several players in one output, kept in step (grid.py). Each cell is a player's own view
// (bound to its live model when the kernel has one); the first player leads and a timer keeps
// the others within a frame of its presented mediaTime.

import { Disposables } from "./dom.js";
import { frameAtTime, frameDurationAt, frameMidTime } from "./frame-clock.js";
import { frameLoopOf } from "./frame-loop.js";
import { findModel } from "./registry.js";
import { playerState } from "./state.js";
import { mountTimelines } from "./timeline.js";

const GRID_TICK_MS = 50;
const GRID_SEEK_THRESHOLD = 0.3; // seconds of drift past which a follower re-seeks
const GRID_MAX_NUDGE = 0.25; // the largest playback-rate change for small drift (25 %; pitch is preserved)
const GRID_CORRECTION_SECONDS = 0.5; // a nudge aims to cancel the drift in about this long
// A follower's re-seek aims ahead by how long its seeks take (learned), and waits between
// re-seeks: a decoder slower than the threshold would otherwise land behind, re-seek at
// once, and never play again (a seek loop that only adds work to a starved machine).
const GRID_FIRST_SEEK_GUESS = 0.15; // seconds, until a follower's own seeks are timed
const GRID_MIN_RESEEK_MS = 1000;
const GRID_MAX_RESEEK_MS = 8000;
// A player's live model is created from the kernel's comm message, possibly after the grid's.
const WAIT_FOR_PLAYER_MS = 5000;
const PAUSED_TRIES_PER_FRAME = 3;

/** The grid's saved-output form of a live grid model. */
export function gridSpecFromModel(model) {
  return {
    grid: true,
    player_id: model.get("player_id"),
    columns: model.get("columns"),
    offsets: model.get("offsets"),
    players: model.get("_players").map((entry) => ({ ...entry, options: {} })),
  };
}

/** Draw the grid of `spec` into `el`, each cell with `mountPlayer`; returns the cleanup. */
export function mountGrid(el, spec, model, mountPlayer) {
  const state = playerState(spec, model);
  const root = document.createElement("div");
  root.className = "jp-RangeVideo-grid";
  root.dataset.playerId = spec.player_id;
  const columns = Math.max(1, state.value("columns") || 1);
  root.style.cssText = `display: grid; gap: 4px; grid-template-columns: repeat(${columns}, minmax(0, 1fr));`;
  el.replaceChildren(root);
  const disposables = new Disposables();
  const entries = spec.players ?? [];
  const cells = entries.map(() => root.appendChild(document.createElement("div")));
  const cellStates = entries.map((entry) => playerState(entry, null));
  const unmountCells = [];
  let disposed = false;
  entries.forEach(async (entry, index) => {
    const live = model ? await findModel(entry.player_id, WAIT_FOR_PLAYER_MS) : null;
    if (disposed) return;
    cellStates[index] = playerState(entry, live);
    unmountCells[index] = mountPlayer(cells[index], entry, live);
    if (index === 0) mountStrips(cells[0].querySelector("video.jp-RangeVideo-video"));
  });

  // Strips under the whole grid, on the first player's time: a seek there moves the leader,
  // and the others follow it (keepInStep).
  function mountStrips(leader) {
    if (!leader) return;
    const seek = (seconds) => {
      leader.currentTime = Math.max(0, seconds);
    };
    disposables.add(
      mountTimelines({
        parent: el,
        video: leader,
        state,
        clock: () => cellStates[0].clock(),
        duration: () => cellStates[0].value("duration") || 0,
        measure: () => ({ left: 0, width: root.clientWidth }),
        watched: root,
        seekFrame: (n) => seek(frameMidTime(cellStates[0].clock(), n)),
        seekTime: seek,
        labels: null,
      }),
    );
  }

  // Each follower's seek timing and nudged rate, by video.
  const followers = new WeakMap();
  function followerOf(video) {
    let follower = followers.get(video);
    if (follower) return follower;
    follower = {
      frames: frameLoopOf(video),
      nudged: null,
      seekStarted: null,
      seekLatency: GRID_FIRST_SEEK_GUESS,
      nextSeekAt: 0,
      reseeks: 0,
      pausedWant: null,
      pausedTries: 0,
    };
    followers.set(video, follower);
    disposables.listen(video, "seeked", () => {
      if (follower.seekStarted == null) return;
      const took = (performance.now() - follower.seekStarted) / 1000;
      follower.seekLatency = Math.min(2, 0.5 * follower.seekLatency + 0.5 * took);
      follower.seekStarted = null;
    });
    disposables.add(follower.frames.subscribe(() => {})); // keeps `presented` current
    return follower;
  }

  /** Where a video is now, in its media time: the presented frame's time, moved on by the
   * time since it was presented while playing. */
  function position(video) {
    const presented = followerOf(video).frames.presented;
    if (presented == null || video.seeking) return video.currentTime;
    if (video.paused) return presented.mediaTime;
    return presented.mediaTime + ((performance.now() - presented.at) / 1000) * video.playbackRate;
  }

  // A follower's nudged rate is the grid's business, not Python's: stop its ratechange
  // before the player's own listener reports it (capture phase, on the cell).
  const hideNudges = (event) => {
    const video = event.target;
    const follower = followers.get(video);
    if (follower?.nudged != null && video.playbackRate === follower.nudged) event.stopImmediatePropagation();
  };
  for (const cell of cells) disposables.listen(cell, "ratechange", hideNudges, true);

  // For tests and the curious: corrections made; `correct = false` lets the players run free.
  const stats = { seeks: 0, nudges: 0, correct: true };
  root.__rangevideoGrid = stats;
  function setRate(video, rate, base) {
    followerOf(video).nudged = rate === base ? null : rate;
    if (video.playbackRate !== rate) video.playbackRate = rate;
  }

  // Paused: show the frame at the leader's time, exactly.
  function followPaused(video, index, target, base, leaderSeeking) {
    setRate(video, base, base);
    if (!video.paused) video.pause();
    if (leaderSeeking || target < 0) return;
    const clock = cellStates[index].clock();
    const step = frameDurationAt(clock, target);
    const want = clock ? frameAtTime(clock, target) : null;
    const have = clock ? frameAtTime(clock, position(video)) : null;
    const follower = followerOf(video);
    if (!(clock ? want !== have : Math.abs(position(video) - target) > step / 2)) {
      follower.pausedTries = 0;
      return;
    }
    // A few tries per wanted frame: a file whose presented times disagree with its clock
    // must not be re-seeked every tick.
    const key = clock ? want : Math.round(target / step);
    follower.pausedTries = follower.pausedWant === key ? follower.pausedTries + 1 : 1;
    follower.pausedWant = key;
    if (follower.pausedTries > PAUSED_TRIES_PER_FRAME) return;
    // The middle of the wanted frame: a seek there shows exactly that frame.
    video.currentTime = clock ? frameMidTime(clock, want) : target;
    stats.seeks++;
  }

  // Playing: re-seek on large drift, nudge the rate on small drift.
  function followPlaying(video, index, target, base) {
    if (target < 0) return;
    if (video.paused) video.play().catch(() => {});
    const step = frameDurationAt(cellStates[index].clock(), target);
    const drift = position(video) - target;
    const follower = followerOf(video);
    const now = performance.now();
    if (Math.abs(drift) > GRID_SEEK_THRESHOLD && now >= follower.nextSeekAt) {
      setRate(video, base, base);
      video.currentTime = target + follower.seekLatency * base; // it lands that much later: aim ahead
      follower.seekStarted = now;
      // Back off while re-seeks keep failing to bring it within the threshold.
      follower.reseeks = now - follower.nextSeekAt < GRID_MAX_RESEEK_MS ? follower.reseeks + 1 : 0;
      follower.nextSeekAt = now + Math.min(GRID_MAX_RESEEK_MS, GRID_MIN_RESEEK_MS * 2 ** follower.reseeks);
      stats.seeks++;
      stats.lastSeek = { index, drift: Math.round(drift * 1000), at: Math.round(now) };
    } else if (Math.abs(drift) > step / 4) {
      const change = Math.max(-GRID_MAX_NUDGE, Math.min(GRID_MAX_NUDGE, drift / GRID_CORRECTION_SECONDS));
      setRate(video, base * (1 - change), base);
      stats.nudges++;
    } else {
      setRate(video, base, base);
    }
  }

  function keepInStep() {
    if (!stats.correct) return;
    const videos = cells.map((cell) => cell.querySelector("video.jp-RangeVideo-video"));
    const leader = videos[0];
    if (!leader || leader.readyState < 2) return;
    const offsets = state.value("offsets") ?? [];
    const gridTime = position(leader) - (offsets[0] ?? 0);
    const base = leader.playbackRate;
    for (let index = 1; index < videos.length; index++) {
      const video = videos[index];
      if (!video || video.readyState < 2 || video.seeking) continue;
      const target = gridTime + (offsets[index] ?? 0);
      if (leader.paused) followPaused(video, index, target, base, leader.seeking);
      else followPlaying(video, index, target, base);
    }
  }
  const timer = setInterval(keepInStep, GRID_TICK_MS);

  return () => {
    disposed = true;
    clearInterval(timer);
    disposables.dispose();
    for (const unmount of unmountCells) unmount?.();
    root.remove();
  };
}

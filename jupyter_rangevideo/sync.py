"""Python's commands win, in order: the kernel side of the player's sync protocol.

Every command from Python (play, pause, seek, frame, step, rate) gets the next sequence
number and is appended to a short log that is synced to the page. The page applies the
commands it has not applied yet, in order, and reports its whole playback state in one
message (``_report``) tagged with the last sequence number it applied. A report tagged with an older number was made before
the page saw the kernel's latest command: the kernel ignores its playback state (the
command, on its way, decides). A report with nothing pending (a click in the page, a
key, the end of a clip) updates the kernel.

Pure logic, no widgets: unit-tested on its own; widget.py wires it to traits.
"""

from __future__ import annotations

from typing import Any

# The log keeps this many recent commands: enough for any burst that one comm message
# carries; a page that missed older ones still ends in the state the traits hold.
MAX_COMMANDS = 64
# The playback state that the page reports and that Python's commands set.
STATE_KEYS = ("paused", "current_time", "playback_rate", "frame")
# The file's facts come from the probe; a browser's guesses never replace them.
FACT_KEYS = ("duration", "fps", "frame_count", "video_width", "video_height", "delivery", "redirect_seconds")
OPS = ("play", "pause", "seek", "frame", "step", "rate")

Command = dict[str, Any]


class CommandLog:
    """Numbered commands, newest last, bounded to :data:`MAX_COMMANDS`."""

    def __init__(self) -> None:
        self.seq = 0
        self.recent: list[Command] = []

    def add(self, op: str, value: float | None = None) -> list[Command]:
        """Number a command; return the new log (a fresh list, so a trait sees a change)."""
        if op not in OPS:
            raise ValueError(f"unknown command {op!r}; one of {', '.join(OPS)}")
        self.seq += 1
        self.recent = [*self.recent, {"seq": self.seq, "op": op, "value": value}][-MAX_COMMANDS:]
        return self.recent

    def is_current(self, applied: Any) -> bool:
        """Whether a report made after applying command ``applied`` may update the kernel."""
        try:
            return int(applied) >= self.seq
        except (TypeError, ValueError):
            return self.seq == 0


def filter_report(sync_data: dict[str, Any], log: CommandLog) -> tuple[dict[str, Any], list[str]]:
    """Split a state update from the page into what the kernel takes and the playback keys
    it refuses. The page reports its playback state whole, in ``_report`` (tagged with the
    last command it applied, ``applied``); it counts only if nothing newer is pending.
    Playback state written directly (not in a report) counts only before any command;
    probe facts are always dropped."""
    accepted = {k: v for k, v in sync_data.items() if k not in FACT_KEYS and k != "_report"}
    refused = [k for k in STATE_KEYS if k in accepted and log.seq > 0]
    for key in refused:
        del accepted[key]
    report = sync_data.get("_report")
    if isinstance(report, dict):
        if log.is_current(report.get("applied")):
            accepted.update({k: report[k] for k in STATE_KEYS if k in report})
        else:
            refused += [k for k in STATE_KEYS if k in report and k not in refused]
    return accepted, refused

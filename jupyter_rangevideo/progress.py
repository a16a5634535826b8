"""One progress bar for the command line: writing a sample video, exporting clips."""

from __future__ import annotations

from typing import TextIO


class ProgressBar:
    """A one-line bar on a text stream, or nothing when the stream is None.

    On a terminal it is redrawn in place each time the percentage passes a multiple of
    ``step``; into a log or a pipe it writes a line each time it passes a multiple of
    ``log_step``, or (``log_step`` None) only the finished bar. Called as ``bar(done, total)``, or ``bar(fraction)``; with ``unit`` the
    line ends with ``done/total unit``.
    """

    def __init__(
        self, stream: TextIO | None, label: str, *, step: int = 1, log_step: int | None = None, unit: str = ""
    ) -> None:
        self.stream, self.label, self.step, self.log_step, self.unit = stream, label, step, log_step, unit
        self.shown = -1
        self.live = bool(stream is not None and getattr(stream, "isatty", lambda: False)())

    def __call__(self, done: float, total: float = 1) -> None:
        if self.stream is None:
            return
        percent = int(100 * done / total) if total > 0 else 100
        finished = percent >= 100
        every = self.step if self.live else self.log_step
        passed = every is not None and percent // every != self.shown // every
        if percent == self.shown or not (finished or passed):
            return
        self.shown = percent
        filled = min(percent, 100) * 30 // 100
        line = f"{self.label} [{'#' * filled}{'.' * (30 - filled)}] {percent:3d}%"
        if self.unit:
            line += f" {done}/{total} {self.unit}"
        if self.live:
            self.stream.write(f"\r{line}" + ("\n" if finished else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

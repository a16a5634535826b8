"""A player shown from its container's header, its probe finishing in the background.

``show()`` on an MP4/MOV or Matroska/WebM file that the browser plays as it is reads the
codecs, size, duration and frame rate from the header in pure Python (containers/) and sends
the widget with them: the page starts loading the file before PyAV has been imported. PyAV's
probe (the frame clock, keyframes, validation) and the poster run after the first message, in
threads; their facts are applied on the kernel's own thread when it is free, or as soon as
Python asks for anything frame-exact (``p.probe``, ``p.frame = n``, overlays, markers: these
wait for them). If the probe judges the file otherwise than its header did, its delivery
wins; if it cannot read the file at all, ``p.error`` says why in plain words.

The live widget of a player that show() displayed from its header (early.py) is held back
until then too: its comm (about 110 KB with the front end's code) and the output rewritten to
it. Sent at once, the page handled them while the video was loading, and on 2 cores its first
frame came about 90 ms later. It is sent once the probe has settled (at the end of the cell
at the latest), or as soon as Python changes the player or displays it.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from . import delivery as _delivery
from . import proxy as _proxy
from .output import WidgetBase
from .poster import poster_later
from .probe import MediaError, Probe, probe_later


def on_kernel_thread(callback: Callable[[], None]) -> None:
    """Run ``callback`` on the kernel's thread when it is free (between cells, or while a cell
    waits); at once where there is no kernel."""
    try:
        from IPython import get_ipython

        loop = getattr(getattr(get_ipython(), "kernel", None), "io_loop", None)
    except ImportError:
        loop = None
    if loop is None:
        callback()
    else:
        loop.add_callback(callback)


def when_cell_ends(callback: Callable[[], None]) -> None:
    """Run ``callback`` once, as the running cell ends (IPython's ``post_run_cell``, before the
    kernel answers that the cell is done); never where there is no IPython."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return

    def once(*_: Any) -> None:
        shell.events.unregister("post_run_cell", once)
        callback()

    shell.events.register("post_run_cell", once)


class Settling(WidgetBase):
    """Mixed into Player: ``probe`` and the file's traits, settled by a background probe."""

    _probe: Probe
    _probe_job: Future[Probe] | None = None
    _probe_failure: str = ""
    # What show() was asked: the delivery and the proxy (None: choose from the facts).
    _asked: tuple[str | None, bool | None] = (None, None)
    _poster_job: Future[str | None] | None = None
    _poster_wanted = False
    _from_header = False  # shown from the header: the probe is still to run
    _applying = False
    _quick_display = False  # show() displays it now, waiting for no poster
    _comm_held = False  # the live widget is not sent yet (show()'s first output stands for it)
    _changes_release = False  # a change of a synced trait sends it: Python's, not the setup's

    # --- the live widget, held back while the first output loads ----------------------

    def open(self) -> None:
        """Open the widget's comm, unless it is held back."""
        if not self._comm_held:
            super().open()

    @property
    def model_id(self) -> str:
        self._release_comm()  # a reference to the model (a display, a grid) needs it sent
        model_id: str = self.comm.comm_id
        return model_id

    def notify_change(self, change: Any) -> None:
        if self._comm_held and self._changes_release and change["name"] in self.keys:
            self._release_comm()  # Python drives the player: the page follows from now on
        super().notify_change(change)

    def _release_comm(self) -> None:
        """Send the held-back live widget (its state as it is now) and show it in place of
        the first output."""
        if not self._comm_held:
            return
        self._comm_held = False
        self.open()
        self._update_saved_output()

    def close(self) -> None:
        self._comm_held = False  # a closed player is not sent later
        super().close()

    @property
    def probe(self) -> Probe:
        """The file's facts (PyAV's probe): waits for it if it is still running."""
        self._probe_in_background()  # a player never displayed: probe now
        if self._probe_job is not None:
            self._probe_job.exception()  # waits; a failure is settled below
            self._settle()
        if self._probe_failure:
            raise MediaError(self._probe_failure)
        return self._probe

    @property
    def settled(self) -> bool:
        """Whether the frame-exact facts are in (False until the background probe has run)."""
        return self._probe_job is None and not self._from_header

    def _probe_in_background(self) -> None:
        """Start PyAV's probe (and the poster) of a player shown from its header."""
        if not self._from_header:
            return
        self._from_header = False
        path = self._probe.path
        if self._poster_wanted and self._probe.video is not None:
            self._poster_job = poster_later(path, self.start)
        job = probe_later(path)
        self._probe_job = job
        self._settle_lock = threading.RLock()
        job.add_done_callback(lambda _: on_kernel_thread(self._settle))
        # A notebook run by nbconvert or nbclient is saved as soon as its cells end, and its
        # kernel stopped: the saved output must have the clock and the still by then.
        when_cell_ends(self._settle_now)

    def _settle_now(self) -> None:
        """Wait for the background probe and the poster, apply them and send the widget."""
        for job in (self._poster_job, self._probe_job):
            if job is not None:
                job.exception()  # waits; a failure is settled (or shown) where it is read
        self._settle()
        self._release_comm()

    def _settle(self) -> None:
        """Apply the background probe's facts, once."""
        job = self._probe_job
        if job is None or not job.done():
            return
        with self._settle_lock:  # the job is cleared once its facts are in: `settled` says so
            if self._probe_job is None or self._applying:
                return  # applied, or being applied by this thread (a grid's output asks for them)
            self._applying = True
            releases, self._changes_release = self._changes_release, False
            try:
                error = job.exception()
                if error is not None:
                    self._probe_failure = str(error)
                    self.set_trait("error", self._probe_failure)
                else:
                    self._apply_facts(job.result())
            finally:
                self._probe_job = None
                self._applying = False
                self._changes_release = releases
        self._release_comm()  # with the settled facts and the poster

    def _apply_facts(self, facts: Probe) -> None:
        asked_delivery, asked_proxy = self._asked
        try:
            chosen = _delivery.check(asked_delivery, facts)
        except ValueError as e:
            self._probe_failure = str(e)
            self.set_trait("error", self._probe_failure)
            return
        header = self._probe
        self._probe = facts
        with self.hold_sync():
            self.set_trait("delivery", chosen)
            if asked_proxy is None:
                self.proxy = _proxy.wanted(facts, chosen)
            self._set_file_traits(facts)
        saved = self._saved_spec_facts(header) != self._saved_spec_facts(facts)
        if self._displayed and not self._comm_held and (saved or self._poster_job is not None):
            self._update_saved_output()  # what a saved notebook keeps: the clock, the poster

    def _set_file_traits(self, facts: Probe) -> None:
        """The traits that hold the file's facts (read-only to users)."""
        self.set_trait("duration", facts.duration)
        self._facts = facts.facts()
        if facts.video is not None:
            self.set_trait("fps", facts.video.fps or None)
            self.set_trait("frame_count", facts.video.frame_count)
            self.set_trait("video_width", facts.video.width)
            self.set_trait("video_height", facts.video.height)

    @staticmethod
    def _saved_spec_facts(facts: Probe) -> tuple[Any, ...]:
        video = facts.video
        return (facts.duration, None if video is None else (video.width, video.height), facts.clock)

    @functools.cached_property
    def _poster(self) -> str | None:
        """The still frame's data URL, or None; waits for it the first time it is asked for."""
        return self._poster_job.result() if self._poster_job is not None else None

    def _poster_if_ready(self) -> str | None:
        """The poster if it is made, without waiting for it."""
        job = self._poster_job
        return job.result() if job is not None and job.done() else None

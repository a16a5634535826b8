"""Play and seek local video files of any size in Jupyter.

``import jupyter_rangevideo as rangevideo; rangevideo.show("earth.mp4")`` shows a
player whose browser streams the file with HTTP Range requests from this package's
jupyter_server extension: the bytes never pass through the kernel.
"""

from __future__ import annotations

import sys
import threading

__version__ = "0.1.0"

# The function shadows its module's name on the package: rangevideo.probe(path) works. (Both
# are what show()'s first output needs: the header reader and the signed URL.)
from .probe import MediaError, Probe, probe
from .signing import url_for


def _preload() -> None:
    """In a kernel, import what show() needs in the background once the cell that imported the
    package has run: PyAV (for the probe) and the widget's ipywidgets and anywidget cost about
    0.2 s together in a fresh kernel, paid then between that cell and the one that shows a
    video. Not during the cell: `import ...; rangevideo.show(...)` in one cell would wait on
    that import (an extension module's import holds the interpreter) for its first output."""

    def load() -> None:
        try:
            import av  # noqa: F401

            from . import widget  # noqa: F401
        except Exception:  # noqa: BLE001 - show() imports them again and reports what failed
            return

    def after_cell(*_: object) -> None:
        shell.events.unregister("post_run_cell", after_cell)
        threading.Thread(target=load, name="rangevideo-preload", daemon=True).start()

    from IPython import get_ipython

    shell = get_ipython()
    if shell is not None:
        shell.events.register("post_run_cell", after_cell)


if "ipykernel" in sys.modules:
    _preload()


def _jupyter_server_extension_points() -> list[dict[str, object]]:
    from .app import RangeVideoApp

    return [{"module": "jupyter_rangevideo.app", "app": RangeVideoApp}]


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-rangevideo"}]


def __getattr__(name: str) -> object:
    if name == "show":
        # Not the widget's module: show() displays its first output before that loads (early.py).
        from .early import show

        return show
    if name == "Player":
        from .widget import Player

        return Player
    if name in ("export", "ExportError"):
        # nbconvert loads only when exporting. (The module is .share: a submodule named
        # "export" would shadow this function once imported.)
        from . import share

        return getattr(share, name)
    if name in ("read_annotations", "write_annotations", "AnnotationFormatError"):
        # pandas, h5py and sleap-io load only when a file is read or written. (Not `from .
        # import annotations`: that name is this module's `from __future__ import annotations`.)
        from .annotations import AnnotationFormatError, read_annotations, write_annotations

        globals().update(
            read_annotations=read_annotations,
            write_annotations=write_annotations,
            AnnotationFormatError=AnnotationFormatError,
        )
        return globals()[name]
    if name in ("grid", "Grid"):
        # Importing the submodule sets the package's `grid` to the module: put the function back.
        from .grid import Grid, grid

        globals().update(grid=grid, Grid=Grid)
        return globals()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AnnotationFormatError",
    "ExportError",
    "Grid",
    "MediaError",
    "Player",
    "Probe",
    "__version__",
    "export",
    "grid",
    "probe",
    "read_annotations",
    "show",
    "url_for",
    "write_annotations",
]

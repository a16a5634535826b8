"""notebooks/review.ipynb runs top to bottom in a kernel with no page open (nbclient)."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import pytest

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "review.ipynb"


def test_review_notebook_is_saved_without_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert code and all(not cell.outputs and cell.execution_count is None for cell in code)


def test_review_notebook_runs(tmp_path, runtime_dir):
    pytest.importorskip("pandas")
    pytest.importorskip("matplotlib")
    from nbclient import NotebookClient

    path = tmp_path / "review.ipynb"
    shutil.copy(NOTEBOOK, path)
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(
        notebook, timeout=240, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    outputs = {cell.source: cell.outputs for cell in notebook.cells if cell.cell_type == "code"}
    step = next(out for source, out in outputs.items() if source.startswith("p.step(6)"))
    assert step[0]["data"]["text/plain"] == "124"  # the kernel knows the frame with no page open
    plots = [out for cell in outputs.values() for out in cell if "image/png" in out.get("data", {})]
    assert len(plots) == 1  # the snapshot, plotted
    assert (tmp_path / "review.mp4").stat().st_size > 0 and (
        tmp_path / "review-small.webm"
    ).stat().st_size > 0

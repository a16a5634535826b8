"""Eight players of a large file playing on one page: Jupyter's own requests still go through.

A <video> asks for ``bytes=N-``; answered to the end, each holds one of Chromium's 6
connections per host for as long as it buffers, and saving the notebook queues behind
them. The server answers a media element's open-ended range with 8 MiB (ranges.py)."""

import time

from conftest import VIDEO, create_notebook, open_notebook, record

from jupyter_rangevideo.sample import make_large, write_sample

PLAYERS = 8

MEASURE = """async () => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    const notebook = panel.content;
    const until = async (predicate, ms = 30000) => {
        const deadline = performance.now() + ms;
        while (!predicate()) {
            if (performance.now() > deadline) return false;
            await new Promise((r) => setTimeout(r, 10));
        }
        return true;
    };
    notebook.activeCellIndex = notebook.widgets.length - 1;
    await app.commands.execute('notebook:insert-cell-below');
    const cell = notebook.activeCell;
    cell.model.sharedModel.setSource('6 * 7');
    const ran = performance.now();
    app.commands.execute('notebook:run-cell');
    const answered = await until(() => cell.model.executionCount != null && panel.sessionContext.session?.kernel?.status === 'idle'
        && JSON.stringify(cell.model.outputs.toJSON()).includes('42'));
    const cellMs = performance.now() - ran;
    const saving = performance.now();
    let saved = false;
    try {
        await app.commands.execute('docmanager:save');
        saved = true;
    } catch (e) {
        saved = String(e);
    }
    return { cellMs, saveMs: performance.now() - saving, answered, saved };
}"""


def playing(page):
    return page.evaluate(
        "(s) => [...document.querySelectorAll(s)].map((v) => (v.paused ? -1 : v.currentTime))",
        VIDEO,
    )


def test_eight_players_of_a_large_file_and_a_save_while_they_play(page, servers, tmp_path):
    server = servers("lab")
    segment = write_sample(tmp_path / "segment.mp4", duration=12, fps=25, size=(640, 360), noise=True)
    large = make_large(segment, tmp_path / "large.mp4", 300 * 2**20)
    cells = [
        (
            "import jupyter_rangevideo as rangevideo\n"
            f"ps = [rangevideo.show({str(large)!r}, muted=True, width=320) for _ in range({PLAYERS})]"
        ),
        "for p in ps:\n    p.play()",
    ]
    create_notebook(server, "many.ipynb", cells)
    open_notebook(page, server, "many.ipynb")
    # The same page with the players shown and paused first: the machine's own pace (it is shared).
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell-and-select-next')")
    page.wait_for_function(f"(s) => document.querySelectorAll(s).length === {PLAYERS}", arg=VIDEO)
    baseline = [page.evaluate(MEASURE) for _ in range(2)]
    page.evaluate("() => { window.jupyterapp.shell.currentWidget.content.activeCellIndex = 1; }")
    page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-cell')")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and min(playing(page)) < 1.0:
        time.sleep(0.2)
    first = playing(page)
    assert min(first) >= 1.0, first  # all eight play
    figures = [page.evaluate(MEASURE) for _ in range(3)]
    time.sleep(2)
    later = playing(page)
    advanced = sum(b > a for a, b in zip(first, later))
    save = max(f["saveMs"] for f in figures)
    paused_save = max(f["saveMs"] for f in baseline)
    record(
        f"lab: {PLAYERS} players of a 300 MB file playing: cell run / save (ms, 3 tries)",
        {
            "cell": [round(f["cellMs"]) for f in figures],
            "save": [round(f["saveMs"]) for f in figures],
            "same page, players paused: cell / save": [
                [round(f["cellMs"]), round(f["saveMs"])] for f in baseline
            ],
            "players still advancing": f"{advanced}/{PLAYERS}",
        },
    )
    assert all(f["answered"] and f["saved"] is True for f in figures), figures
    assert advanced == PLAYERS, (first, later)
    # Target: a couple of seconds. On this shared 2-core machine, where Chromium decodes eight
    # videos in software, compare with the same page paused (answers to the end of the file: 20 s+).
    assert save < max(8000, 3 * paused_save), (save, paused_save)
    assert max(f["cellMs"] for f in figures) < 8000

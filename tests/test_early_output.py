"""show() in a kernel displays the player's saved output before the widget exists (early.py),
then replaces it with the widget's output under the same display id; what it cannot be sure of
waits for the widget as before; bad input still raises with nothing displayed."""

import pytest
from jupyter_client.manager import start_new_kernel

from jupyter_rangevideo.delivery import first_facts
from jupyter_rangevideo.early import EarlyOutput, early_spec
from jupyter_rangevideo.embed import MIMETYPE
from jupyter_rangevideo.remote_registry import share
from jupyter_rangevideo.sample import write_sample
from jupyter_rangevideo.widget import Player

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return write_sample(tmp_path_factory.mktemp("early") / "clip.mp4", duration=1, fps=25, size=(64, 48))


@pytest.mark.parametrize("options", [{}, {"width": 320, "loop": True, "controls": False}])
def test_the_early_spec_is_the_widgets_first_spec(clip, options):
    src, path, name = share(clip)
    facts, from_header = first_facts(path, None, False)
    assert from_header
    early = EarlyOutput("0123abcd", src, path, name, facts)
    player = Player(clip, _later=True, _early=early, **options)
    assert player.player_id == "0123abcd" and player._displayed
    assert early_spec(early, options) == player._saved_spec()


@pytest.fixture(scope="module")
def kernel():
    manager, client = start_new_kernel(kernel_name="python3")
    yield client
    client.stop_channels()
    manager.shutdown_kernel(now=True)


def outputs(client, code):
    """The cell's iopub messages after its input: (type, content), in order."""
    seen = []
    reply = client.execute_interactive(
        code, timeout=60, output_hook=lambda m: seen.append((m["msg_type"], m["content"]))
    )
    kept = [(kind, content) for kind, content in seen if kind not in ("status", "execute_input")]
    return reply["content"]["status"], kept


def test_the_kernel_imports_what_show_needs_after_the_importing_cell():
    # Not during it: `import ...; rangevideo.show(...)` in one cell would wait on PyAV's import.
    manager, client = start_new_kernel(kernel_name="python3")
    try:
        during = "import sys, threading, jupyter_rangevideo\nprint('av' in sys.modules, [t.name for t in threading.enumerate() if t.name == 'rangevideo-preload'])"
        after = "[t.join(60) for t in threading.enumerate() if t.name == 'rangevideo-preload']\nprint('av' in sys.modules, 'jupyter_rangevideo.widget' in sys.modules)"
        assert outputs(client, during)[1][-1][1]["text"].strip() == "False []"
        assert outputs(client, after)[1][-1][1]["text"].split() == ["True", "True"]
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def test_show_displays_the_saved_output_before_the_widget(kernel, clip):
    status, messages = outputs(
        kernel, f"import jupyter_rangevideo as rangevideo\np = rangevideo.show({str(clip)!r})"
    )
    assert status == "ok"
    kind, first = messages[0]
    assert kind == "display_data" and MIMETYPE in first["data"] and WIDGET_VIEW not in first["data"]
    display_id = first["transient"]["display_id"]
    assert first["data"][MIMETYPE]["player_id"] == display_id
    kinds = [kind for kind, _ in messages]
    assert "comm_open" in kinds[1:]
    updates = [content for kind, content in messages if kind == "update_display_data"]
    assert updates and all(update["transient"]["display_id"] == display_id for update in updates)
    assert WIDGET_VIEW in updates[0]["data"] and updates[0]["data"][MIMETYPE]["player_id"] == display_id
    assert not [kind for kind in kinds[1:] if kind == "display_data"]  # shown once, then updated
    status, messages = outputs(kernel, "print(p.player_id, p.frame_count > 0)")
    assert messages[-1][1]["text"].split() == [display_id, "True"]


def player_opens(messages):
    """The indexes and states of the players' comm_open messages."""
    return [
        (index, content["data"]["state"])
        for index, (kind, content) in enumerate(messages)
        if kind == "comm_open" and "player_id" in content["data"]["state"]
    ]


def test_the_live_widget_follows_once_the_probe_has_settled(kernel, clip):
    # Sent at show(), the widget's comm and the output rewritten to it were handled by the page
    # while the first output's video loaded; now they come once, with the probe's facts.
    status, messages = outputs(kernel, f"r = rangevideo.show({str(clip)!r})")
    [(at, state)] = player_opens(messages)
    assert status == "ok" and messages[0][0] == "display_data" and at > 0
    assert state["_facts"]["clock"]["frame_count"] > 0  # the probe's, not the header's
    updates = [index for index, (kind, _) in enumerate(messages) if kind == "update_display_data"]
    assert len(updates) == 1 and updates[0] > at  # one rewrite, to the widget with its poster
    assert 'src="data:image/jpeg;base64,' in messages[updates[0]][1]["data"]["text/html"]


def test_a_change_from_python_sends_the_live_widget_at_once(kernel, clip):
    # Python driving the player in the cell that shows it: the page follows from the change on.
    code = f"s = rangevideo.show({str(clip)!r})\ns.muted = True\nprint('changed')"
    status, messages = outputs(kernel, code)
    [(at, state)] = player_opens(messages)
    printed = next(index for index, (kind, _) in enumerate(messages) if kind == "stream")
    assert status == "ok" and at < printed and state["muted"] is True


def test_an_option_to_check_waits_for_the_widget(kernel, clip):
    status, messages = outputs(kernel, f"q = rangevideo.show({str(clip)!r}, volume=0.5)")
    kinds = [kind for kind, _ in messages]
    first_display = next(content for kind, content in messages if kind == "display_data")
    assert status == "ok" and kinds.index("comm_open") < kinds.index("display_data")
    assert WIDGET_VIEW in first_display["data"]


def test_a_missing_file_raises_with_nothing_displayed(kernel, tmp_path):
    status, messages = outputs(kernel, f"rangevideo.show({str(tmp_path / 'missing.mp4')!r})")
    assert status == "error"
    assert [kind for kind, _ in messages] == ["error"]
    assert messages[0][1]["ename"] == "FileNotFoundError"

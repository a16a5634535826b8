"""A connection's user is asked of Jupyter's identity provider once, and again whenever its
credentials change, its time is up or it was refused; successes are logged as metrics."""

import logging
import logging.handlers

import jupyter_server.log
import pytest
from helpers import read_response
from prometheus_client import REGISTRY

from jupyter_rangevideo import identity, url_for


@pytest.fixture
def asked(jp_serverapp, monkeypatch):
    """The calls made to the server's identity provider (a list, one entry per call)."""
    provider = jp_serverapp.web_app.settings["identity_provider"]
    calls = []
    real_get_user = provider.get_user

    def counted_get_user(handler):
        calls.append(handler.request.headers.get("Authorization"))
        return real_get_user(handler)

    monkeypatch.setattr(provider, "get_user", counted_get_user)
    return calls


async def statuses(raw, url, credentials):
    """One connection's answers to a 4-byte range request with each of ``credentials``
    (Authorization header values, None for none)."""
    reader, writer = await raw()
    answers = []
    try:
        for authorization in credentials:
            request = raw.request(url, headers=["Range: bytes=0-3"])
            if authorization != "own":  # "own": the test server's token, as raw sends it
                lines = [line for line in request.split(b"\r\n") if not line.startswith(b"Authorization")]
                if authorization is not None:
                    lines.insert(1, f"Authorization: {authorization}".encode())
                request = b"\r\n".join(lines)
            writer.write(request)
            status, headers, _body = await read_response(reader)
            answers.append(status)
            if headers.get("connection", "").lower() == "close":
                break
    finally:
        writer.close()
    return answers


async def test_a_connection_is_authenticated_once_for_its_requests(raw, asked, data_file):
    assert await statuses(raw, url_for(data_file), ["own"] * 5) == [206] * 5
    assert len(asked) == 1


async def test_each_connection_is_authenticated(raw, asked, data_file):
    for _ in range(3):
        assert await statuses(raw, url_for(data_file), ["own", "own"]) == [206, 206]
    assert len(asked) == 3


async def test_changed_credentials_are_checked_again(raw, asked, data_file):
    answers = await statuses(raw, url_for(data_file), ["own", "token wrong", None, "own"])
    assert answers[0] == 206
    assert all(status in (302, 403) for status in answers[1:3]), answers
    assert answers[3:] in ([], [206]), answers  # a refusal may close the connection
    # The last request carries the first one's credentials again: answered from memory.
    assert len(asked) == 3


async def test_a_remembered_user_expires(raw, asked, data_file, monkeypatch):
    monkeypatch.setattr(identity, "REMEMBER_SECONDS", 0.0)
    assert await statuses(raw, url_for(data_file), ["own"] * 3) == [206] * 3
    assert len(asked) == 3


async def test_a_refusal_is_not_remembered(raw, jp_serverapp, data_file, monkeypatch):
    provider = jp_serverapp.web_app.settings["identity_provider"]
    real_get_user = provider.get_user
    calls = []

    def refuses_once(handler):
        calls.append(1)
        return None if len(calls) == 1 else real_get_user(handler)

    monkeypatch.setattr(provider, "get_user", refuses_once)
    answers = await statuses(raw, url_for(data_file), ["own", "own"])
    assert answers[0] in (302, 403)
    assert answers[1:] in ([], [206]), answers
    assert len(calls) == len(answers)


def requests_measured(status):
    return REGISTRY.get_sample_value(
        "http_request_duration_seconds_count",
        {"method": "GET", "handler": "jupyter_rangevideo.handlers.FileStreamHandler", "status_code": status},
    )


async def test_successes_are_measured_and_failures_logged(fetch, jp_serverapp, data_file, monkeypatch):
    # Jupyter's log_request scrubs every URI it formats: count how often it formats a line.
    formatted = []
    real_scrub_uri = jupyter_server.log._scrub_uri
    monkeypatch.setattr(
        jupyter_server.log, "_scrub_uri", lambda *args: formatted.append(1) or real_scrub_uri(*args)
    )
    # As traitlets sets up an application's log: the logger at DEBUG, the chosen level on
    # its handler.
    logger = jp_serverapp.log
    console = logging.handlers.BufferingHandler(1000)
    console.setLevel(logging.WARNING)
    monkeypatch.setattr(logger, "handlers", [console])
    monkeypatch.setattr(logger, "propagate", False)
    monkeypatch.setattr(logger, "level", logging.DEBUG)
    logged = lambda status: [r for r in console.buffer if f"{status} GET" in r.getMessage()]

    before = requests_measured("206") or 0.0
    r = await fetch(url_for(data_file), headers={"Range": "bytes=0-3"})
    assert r.code == 206
    assert requests_measured("206") == before + 1
    assert not formatted  # a success's debug line is not made when no handler takes it

    r = await fetch(url_for(data_file) + "x")  # a bad signature
    assert r.code == 404
    assert formatted and logged(404)

    console.setLevel(logging.DEBUG)
    await fetch(url_for(data_file), headers={"Range": "bytes=0-3"})
    assert logged(206)

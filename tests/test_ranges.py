"""RFC 9110 cases for the pure range and precondition logic (no server)."""

import random

import pytest

from jupyter_rangevideo import ranges
from jupyter_rangevideo.ranges import Validators, http_date, parse_range, plan_response

SIZE = 1000
ETAG = '"abc-3e8-1"'
MTIME = 1_700_000_000
V = Validators(etag=ETAG, last_modified=MTIME, now=MTIME + 3600)


@pytest.mark.parametrize(
    "header, spans",
    [
        ("bytes=0-1", [(0, 2)]),  # Safari's probe: exactly two bytes
        ("bytes=0-0", [(0, 1)]),
        ("bytes=10-19", [(10, 20)]),
        ("bytes=990-", [(990, 1000)]),
        ("bytes=-10", [(990, 1000)]),
        ("bytes=-5000", [(0, 1000)]),  # suffix longer than the file: the whole file
        ("bytes=900-5000", [(900, 1000)]),  # end past EOF is clamped
        ("bytes=999-999", [(999, 1000)]),
        ("bytes=0-", [(0, 1000)]),
        ("BYTES=0-1", [(0, 2)]),  # the unit is case-insensitive
        ("bytes= 0-1 , 5-6", [(0, 2), (5, 7)]),
        ("bytes=5-6,0-1", [(0, 2), (5, 7)]),  # sorted
        ("bytes=0-10,5-20", [(0, 21)]),  # overlapping ranges merge
        ("bytes=0-9,10-19", [(0, 20)]),  # adjacent ranges merge
        ("bytes=0-1,,5-6", [(0, 2), (5, 7)]),  # empty list elements are allowed
        ("bytes=0-1,2000-3000", [(0, 2)]),  # an unsatisfiable member is dropped
        ("bytes=0-" + "9" * 40, [(0, 1000)]),  # huge numerals never overflow
        ("bytes=" + "9" * 5000 + "-", []),  # past Python's digit limit for int()
    ],
)
def test_satisfiable_and_clamped(header, spans):
    assert parse_range(header, SIZE) == spans


@pytest.mark.parametrize("header", ["bytes=1000-", "bytes=1000-2000", "bytes=-0", "bytes=5000-5001,-0"])
def test_unsatisfiable(header):
    assert parse_range(header, SIZE) == []


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=,",
        "bytes=-",
        "bytes=abc",
        "bytes=1-0",  # last < first: invalid, so the header is ignored
        "bytes=0-1,5-2",
        "bytes=1--2",
        "bytes=+1-2",
        "bytes=0x10-20",
        "bytes=١-٢",  # Unicode digits are not ASCII digits
        "items=0-5",  # unknown units are ignored
        "0-5",
        "bytes=" + ",".join(f"{i * 10}-{i * 10}" for i in range(17)),  # too many ranges
    ],
)
def test_ignored(header):
    assert parse_range(header, SIZE) is None


def test_empty_file_has_no_satisfiable_range():
    assert parse_range("bytes=0-", 0) == []
    assert parse_range("bytes=-1", 0) == []


def plan(headers, method="GET", size=SIZE):
    return plan_response(method, headers, size, V, "video/mp4")


def test_full_response():
    p = plan({})
    assert p.status == 200
    assert p.spans == [(0, SIZE)]
    assert p.headers["Content-Length"] == str(SIZE)
    assert p.headers["Accept-Ranges"] == "bytes"
    assert p.headers["ETag"] == ETAG
    assert p.headers["Last-Modified"] == http_date(MTIME)


def test_single_range_response():
    p = plan({"Range": "bytes=-10"})
    assert (p.status, p.spans) == (206, [(990, 1000)])
    assert p.headers["Content-Range"] == "bytes 990-999/1000"
    assert p.headers["Content-Length"] == "10"


def test_unsatisfiable_response():
    p = plan({"Range": "bytes=1000-"})
    assert p.status == 416
    assert p.headers["Content-Range"] == "bytes */1000"
    assert p.headers["Content-Length"] == "0"
    assert p.spans == []


def test_multipart_response_length_is_exact():
    p = plan({"Range": "bytes=0-1,10-19"})
    assert p.status == 206
    boundary = p.boundary
    assert p.headers["Content-Type"] == f"multipart/byteranges; boundary={boundary}"
    body = b"".join(head + b"x" * (stop - start) for head, start, stop in p.parts) + p.epilogue
    assert int(p.headers["Content-Length"]) == len(body)
    assert b"Content-Range: bytes 10-19/1000\r\n" in body
    assert body.endswith(f"--{boundary}--\r\n".encode())


@pytest.mark.parametrize(
    "headers, status",
    [
        ({"If-None-Match": ETAG}, 304),
        ({"If-None-Match": f'"other", {ETAG}'}, 304),
        ({"If-None-Match": f"W/{ETAG}"}, 304),  # weak comparison for If-None-Match
        ({"If-None-Match": "*"}, 304),
        ({"If-None-Match": '"other"'}, 200),
        ({"If-Modified-Since": http_date(MTIME)}, 304),
        ({"If-Modified-Since": http_date(MTIME + 10)}, 304),
        ({"If-Modified-Since": http_date(MTIME - 10)}, 200),
        ({"If-Modified-Since": "not a date"}, 200),
        # If-None-Match takes precedence over If-Modified-Since
        ({"If-None-Match": '"other"', "If-Modified-Since": http_date(MTIME)}, 200),
        ({"If-Match": ETAG}, 200),
        ({"If-Match": '"other"'}, 412),
        ({"If-Match": f"W/{ETAG}"}, 412),  # strong comparison for If-Match
        ({"If-Unmodified-Since": http_date(MTIME - 10)}, 412),
        ({"If-Unmodified-Since": http_date(MTIME)}, 200),
    ],
)
def test_conditional_requests(headers, status):
    assert plan(headers).status == status
    assert plan(headers, method="HEAD").status == status


def test_not_modified_carries_validators_only():
    p = plan({"If-None-Match": ETAG, "Range": "bytes=0-1"})
    assert p.status == 304
    assert p.headers["ETag"] == ETAG
    assert "Content-Range" not in p.headers
    assert "Content-Length" not in p.headers  # it would have to be the full size


@pytest.mark.parametrize(
    "if_range, status",
    [
        (ETAG, 206),
        ('"stale"', 200),
        (f"W/{ETAG}", 200),  # weak tags never match If-Range
        (http_date(MTIME), 206),
        (http_date(MTIME + 1), 200),
        (http_date(MTIME - 1), 200),
        ("garbage", 200),
    ],
)
def test_if_range(if_range, status):
    assert plan({"Range": "bytes=0-1", "If-Range": if_range}).status == status


def test_if_range_date_needs_a_strong_last_modified():
    # A file modified in the same second as the response has a weak Last-Modified.
    fresh = Validators(etag=ETAG, last_modified=MTIME, now=MTIME)
    p = plan_response("GET", {"Range": "bytes=0-1", "If-Range": http_date(MTIME)}, SIZE, fresh, "video/mp4")
    assert p.status == 200


@pytest.mark.parametrize(
    "name, media_type",
    [
        ("a.mp4", "video/mp4"),
        ("a.M4V", "video/mp4"),
        ("a.mov", "video/quicktime"),
        ("a.webm", "video/webm"),
        ("a.mkv", "video/x-matroska"),
        ("a.ogv", "video/ogg"),
        ("a.ogg", "audio/ogg"),
        ("a.mp3", "audio/mpeg"),
        ("a.m4a", "audio/mp4"),
        ("a.aac", "audio/aac"),
        ("a.wav", "audio/wav"),
        ("a.flac", "audio/flac"),
        ("a.opus", "audio/ogg"),
        ("a.vtt", "text/vtt"),
        ("a.png", "image/png"),
        ("a.mp4.gz", "application/octet-stream"),  # never a Content-Encoding
        ("noext", "application/octet-stream"),
    ],
)
def test_content_type(name, media_type):
    assert ranges.content_type(name) == media_type


MIB = 2**20
LIMIT = ranges.MEDIA_ELEMENT_RESPONSE_BYTES


@pytest.mark.parametrize(
    "headers, spans",
    [
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=0-"}, [(0, LIMIT)]),
        ({"Sec-Fetch-Dest": "audio", "Range": "bytes=100-"}, [(100, 100 + LIMIT)]),
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=0-99"}, [(0, 100)]),  # an explicit end is kept
        # Chromium's next ranges name the last byte: still the rest of the file
        (
            {"Sec-Fetch-Dest": "video", "Range": f"bytes={8 * MIB}-{20 * MIB - 1}"},
            [(8 * MIB, 8 * MIB + LIMIT)],
        ),
        ({"Sec-Fetch-Dest": "video", "Range": f"bytes=5-{30 * MIB}"}, [(5, 5 + LIMIT)]),
        ({"Sec-Fetch-Dest": "video", "Range": f"bytes=0-{20 * MIB - 2}"}, [(0, 20 * MIB - 1)]),
        ({"Sec-Fetch-Dest": "video", "Range": f"bytes={20 * MIB - 10}-"}, [(20 * MIB - 10, 20 * MIB)]),
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=-500"}, [(20 * MIB - 500, 20 * MIB)]),  # a suffix
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=0-,5-"}, [(0, 20 * MIB)]),  # merged into one: not open
        ({"Sec-Fetch-Dest": "empty", "Range": "bytes=0-"}, [(0, 20 * MIB)]),  # fetch()
        ({"Sec-Fetch-Dest": "document", "Range": "bytes=0-"}, [(0, 20 * MIB)]),
        ({"Range": "bytes=0-"}, [(0, 20 * MIB)]),  # curl, wget, ffmpeg, PyAV
    ],
)
def test_only_a_media_elements_open_range_is_bounded(headers, spans):
    size = 20 * MIB
    assert ranges.bound_for_media_element(headers, parse_range(headers["Range"], size), size) == spans


@pytest.mark.parametrize(
    "headers, start",
    [
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=123-"}, 123),
        ({"Sec-Fetch-Dest": "audio", "Range": f"bytes = 7 - {20 * MIB - 1}"}, 7),
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=-500"}, None),  # a suffix
        ({"Sec-Fetch-Dest": "video", "Range": "bytes=0-9,20-"}, None),  # several
        ({"Sec-Fetch-Dest": "video"}, None),
        ({"Sec-Fetch-Dest": "empty", "Range": "bytes=123-"}, None),  # fetch()
        ({"Range": "bytes=123-"}, None),  # curl, ffmpeg, PyAV
    ],
)
def test_where_a_media_elements_range_starts(headers, start):
    assert ranges.media_element_start(headers) == start


def test_bounded_answer_is_a_normal_206():
    headers = {"Sec-Fetch-Dest": "video", "Range": "bytes=10-"}
    plan = plan_response("GET", headers, 20 * MIB, V, "video/mp4")
    assert plan.status == 206 and plan.spans == [(10, 10 + LIMIT)]
    assert plan.headers["Content-Range"] == f"bytes 10-{10 + LIMIT - 1}/{20 * MIB}"
    assert plan.headers["Content-Length"] == str(LIMIT)


def test_a_clients_first_media_streams_are_answered_in_full():
    headers = {"Sec-Fetch-Dest": "video", "Range": "bytes=10-"}
    limits = [ranges.media_element_limit(open_) for open_ in range(4)]
    assert limits == [None, None, LIMIT, LIMIT]
    assert plan_response("GET", headers, 20 * MIB, V, "video/mp4", media_limit=None).spans == [(10, 20 * MIB)]
    assert plan_response("GET", headers, 20 * MIB, V, "video/mp4", media_limit=LIMIT).spans == [
        (10, 10 + LIMIT)
    ]


class ReadHeaders(dict):
    """A request's headers that note every name looked up."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.read = set()

    def get(self, name, default=None):
        self.read.add(name)
        return super().get(name, default)

    def __getitem__(self, name):
        self.read.add(name)
        return super().__getitem__(name)

    def __contains__(self, name):
        self.read.add(name)
        return super().__contains__(name)


@pytest.mark.parametrize(
    "headers",
    [
        {"Range": "bytes=0-"},
        {"Range": "bytes=0-1,5-9", "If-Range": '"x"'},
        {"If-None-Match": '"x"', "If-Modified-Since": http_date(0)},
        {"If-Match": '"x"', "If-Unmodified-Since": http_date(0), "Sec-Fetch-Dest": "video"},
        {"Range": "bytes=0-", "Sec-Fetch-Dest": "video"},
    ],
)
def test_every_header_read_is_named_in_request_headers(headers):
    # The handler passes only REQUEST_HEADERS on: a header read but not named would be ignored.
    headers = ReadHeaders(headers)
    ranges.is_media_element(headers)
    plan_response("GET", headers, 100, V, "video/mp4", media_limit=10)
    assert headers.read <= ranges.REQUEST_HEADERS


def test_the_plain_single_range_gives_what_the_general_parse_gives():
    # "bytes=a-b" is parsed by a shortcut; with a space ("bytes= a-b") by the general parse.
    rng = random.Random(7)
    for _ in range(3000):
        size = rng.choice([0, 1, 7, 4096, 10**12])
        first = rng.choice([0, 1, rng.randrange(2 * size + 2), 10**18 - 1])
        last = rng.choice(["", str(rng.randrange(2 * size + 2)), str(first), str(max(first - 1, 0))])
        plain, spaced = f"bytes={first}-{last}", f"bytes= {first}-{last}"
        assert parse_range(plain, size) == parse_range(spaced, size), (plain, size)

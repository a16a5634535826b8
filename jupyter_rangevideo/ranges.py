"""HTTP range and conditional-request logic (RFC 9110 sections 13 and 14), with no I/O.

The handler gathers the request headers and the file's ``os.stat`` result, and
:func:`plan_response` says what to send: a status, headers and the byte spans of
the body. Keeping this pure lets every RFC case be a plain unit test.
"""

from __future__ import annotations

import functools
import mimetypes
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import format_datetime, parsedate_to_datetime

# Python's own table lacks several media types, and some systems map them oddly.
MEDIA_TYPES = {
    ".mp4": "video/mp4",
    ".m4v": "video/mp4",
    ".mov": "video/quicktime",
    ".webm": "video/webm",
    ".mkv": "video/x-matroska",
    ".ogv": "video/ogg",
    ".ogg": "audio/ogg",
    ".oga": "audio/ogg",
    ".opus": "audio/ogg",
    ".mp3": "audio/mpeg",
    ".m4a": "audio/mp4",
    ".aac": "audio/aac",
    ".wav": "audio/wav",
    ".flac": "audio/flac",
    ".vtt": "text/vtt",
    ".ts": "video/mp2t",  # the system's table may say Qt Linguist
    ".m3u8": "application/vnd.apple.mpegurl",
}

# Every request header this module reads (plan_response, is_media_element), named as tornado
# names them: the handler passes only these on.
REQUEST_HEADERS = frozenset(
    {
        "Range",
        "If-Range",
        "If-Match",
        "If-None-Match",
        "If-Modified-Since",
        "If-Unmodified-Since",
        "Sec-Fetch-Dest",
    }
)

# Above this many ranges after merging, the Range header is ignored and the whole
# file is sent, as RFC 9110 section 14.2 allows against many-small-ranges abuse.
MAX_RANGES = 16

_BYTE_RANGE = re.compile(r"^([0-9]*)-([0-9]*)$")
# What a player sends nearly always: one range from a position, in the plainest spelling.
_ONE_RANGE = re.compile(r"bytes=([0-9]{1,18})-([0-9]{0,18})")
# Positions beyond this are past the end of any file; it also keeps int() away from
# Python's limit on the digits of a numeral.
_HUGE = 10**18
_ETAG = re.compile(r'\s*(W/)?("[^"]*")\s*(,|$)')


@functools.lru_cache(maxsize=256)  # asked on every range request of the same few files
def content_type(path: str) -> str:
    """The media type for a file name: our media table first, then the system's."""
    dot = path.rfind(".")
    suffix = path[dot:].lower() if dot >= 0 else ""
    if suffix in MEDIA_TYPES:
        return MEDIA_TYPES[suffix]
    guessed, encoding = mimetypes.guess_type(path, strict=False)
    # A ".gz" or ".br" file is sent as the bytes it is, never as a content encoding.
    if guessed is None or encoding is not None:
        return "application/octet-stream"
    return guessed


def strong_etag(size: int, mtime_ns: int, inode: int) -> str:
    """A strong entity tag from ``os.stat`` alone: no read of the content."""
    return f'"{inode:x}-{size:x}-{mtime_ns:x}"'


@functools.lru_cache(maxsize=256)  # a file's Last-Modified, formatted once
def http_date(seconds: int) -> str:
    return format_datetime(datetime.fromtimestamp(seconds, timezone.utc), usegmt=True)


def parse_http_date(value: str | None) -> int | None:
    """Seconds since the epoch, or None for a missing or invalid date."""
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if parsed is None:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        return None


def parse_etags(value: str) -> list[tuple[bool, str]] | None:
    """Parse an If-Match / If-None-Match list into (weak, opaque-tag) pairs.

    Returns None for ``*``, and an empty list when nothing parses.
    """
    value = value.strip()
    if value == "*":
        return None
    tags: list[tuple[bool, str]] = []
    pos = 0
    while pos < len(value):
        match = _ETAG.match(value, pos)
        if not match:
            return tags
        tags.append((bool(match.group(1)), match.group(2)))
        pos = match.end()
    return tags


def parse_range(header: str | None, size: int) -> list[tuple[int, int]] | None:
    """Parse a ``Range`` header into sorted, merged ``(start, stop)`` spans (stop exclusive).

    Returns None when the header must be ignored (absent, malformed, another unit, or
    too many ranges): the whole file is then sent with 200. Returns an empty list when
    the syntax is valid but no range overlaps the file: that is a 416.
    """
    if header is None:
        return None
    one = _ONE_RANGE.fullmatch(header)
    if one is not None:  # the general parse below gives the same, at a sixth of the cost
        start, end = int(one[1]), int(one[2]) if one[2] else None
        if end is not None and end < start:
            return None
        stop = size if end is None else min(end + 1, size)
        return [(start, stop)] if start < stop else []
    unit, sep, spec = header.partition("=")
    if not sep or unit.strip().lower() != "bytes":
        return None
    if not spec.strip(" ,"):
        return None
    spans = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue  # RFC 9110 allows empty list elements
        match = _BYTE_RANGE.match(part)
        if not match:
            return None
        first, last = (_number(group) for group in match.groups())
        if first is not None:
            if last is not None and last < first:
                return None  # an invalid range-spec makes the whole header invalid
            start, stop = first, size if last is None else min(last + 1, size)
        elif last is not None:
            start, stop = max(size - last, 0), size if last > 0 else 0
        else:
            return None
        if start < stop:
            spans.append((start, stop))
    spans = merge_spans(spans)
    if len(spans) > MAX_RANGES:
        return None
    return spans


def _number(digits: str) -> int | None:
    if not digits:
        return None
    return _HUGE if len(digits) > 18 else int(digits)


def merge_spans(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sort spans and merge those that overlap or touch."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged


@dataclass
class Validators:
    etag: str
    last_modified: int  # seconds since the epoch
    now: int  # the time of the response, seconds since the epoch

    def date_is_strong(self) -> bool:
        # RFC 9110 section 8.8.2.2: a Last-Modified at least a second older than
        # the response is strong enough to compare for If-Range.
        return self.last_modified < self.now


@dataclass
class ResponsePlan:
    """What to answer: a status, headers, and the file spans the body carries."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    spans: list[tuple[int, int]] = field(default_factory=list)
    boundary: str | None = None  # set for multipart/byteranges
    parts: list[tuple[bytes, int, int]] = field(default_factory=list)  # (part header, start, stop)
    epilogue: bytes = b""

    @property
    def content_length(self) -> int:
        if self.boundary is not None:
            return sum(len(head) + stop - start for head, start, stop in self.parts) + len(self.epilogue)
        return sum(stop - start for start, stop in self.spans)


def _matches(tags: list[tuple[bool, str]] | None, etag: str, weak: bool) -> bool:
    if tags is None:  # "*"
        return True
    return any(tag == etag and (weak or not is_weak) for is_weak, tag in tags)


def evaluate_preconditions(method: str, headers: Mapping[str, str], v: Validators) -> int | None:
    """RFC 9110 section 13.2.2, steps 1 to 4: a status to answer at once, or None."""
    if_match = headers.get("If-Match")
    if if_match is not None:
        if not _matches(parse_etags(if_match), v.etag, weak=False):
            return 412
    else:
        since = parse_http_date(headers.get("If-Unmodified-Since"))
        if since is not None and v.last_modified > since:
            return 412
    if_none_match = headers.get("If-None-Match")
    if if_none_match is not None:
        if _matches(parse_etags(if_none_match), v.etag, weak=True):
            return 304 if method in ("GET", "HEAD") else 412
    elif method in ("GET", "HEAD"):
        since = parse_http_date(headers.get("If-Modified-Since"))
        if since is not None and v.last_modified <= since:
            return 304
    return None


def if_range_holds(value: str | None, v: Validators) -> bool:
    """Whether the Range header may be honoured (RFC 9110 section 13.1.5)."""
    if value is None:
        return True
    value = value.strip()
    if value.startswith(('"', "W/")):
        return value == v.etag  # strong comparison; a weak tag never matches
    date = parse_http_date(value)
    return date is not None and date == v.last_modified and v.date_is_strong()


# A browser's media element asks for the rest of the file ("bytes=N-", or "bytes=N-LAST" once
# it knows the size) and keeps the answer's connection open while it buffers: a page of
# players would hold all of Chromium's 6 connections per host, and Jupyter's own requests
# (saving, running a cell) would queue behind them. Answered this long, it asks for the next range.
# Short, because Chromium stops reading a response (keeping its connection) once it has buffered
# about 10 s ahead: measured with 8 players playing, a REST call took 1-20 s with 8 MiB
# answers, about 1 s with 1 MiB, 0.1-0.8 s with 512 KiB (tests/browser/test_many_players.py).
MEDIA_ELEMENT_RESPONSE_BYTES = 512 * 1024
# But short answers cost a page with one or two players: Chromium asks for the next range some
# 25 ms after an answer ends, so a seek into a high-bitrate file waits for a chain of them (a
# 720p file at 66 Mbit/s: 460 ms against 150 ms answered in full). A client's first media
# streams are answered in full, like /files/; only those beyond them are bounded.
MEDIA_STREAMS_ANSWERED_IN_FULL = 2
_FROM_POSITION = re.compile(r"^\s*bytes\s*=\s*[0-9]+\s*-\s*[0-9]*\s*$", re.IGNORECASE)


def bound_for_media_element(
    headers: Mapping[str, str],
    spans: list[tuple[int, int]] | None,
    size: int,
    limit: int = MEDIA_ELEMENT_RESPONSE_BYTES,
) -> list[tuple[int, int]] | None:
    """Shorten a single range to the end of the file that a browser's <video> or <audio> sent.

    Only those: the browser marks them ``Sec-Fetch-Dest: video`` or ``audio`` and follows a
    short 206 with the next range. Every other client (curl, wget, ffmpeg, PyAV) reads a
    ``bytes=N-`` answer to its end and must get every byte it asked for; a range with an
    end before the file's is always answered in full.
    """
    if not spans or len(spans) != 1 or spans[0][1] != size:
        return spans
    if not is_media_element(headers):
        return spans
    if not _FROM_POSITION.match(headers.get("Range") or ""):
        return spans  # a suffix range, or several
    start, stop = spans[0]
    return [(start, min(stop, start + limit))]


def media_element_limit(streams_open: int) -> int | None:
    """The bound on a media element's open range when its client has ``streams_open`` other
    media responses under way (see MEDIA_STREAMS_ANSWERED_IN_FULL); None: no bound."""
    return None if streams_open < MEDIA_STREAMS_ANSWERED_IN_FULL else MEDIA_ELEMENT_RESPONSE_BYTES


def media_element_start(headers: Mapping[str, str]) -> int | None:
    """Where a media element's single range from a position (``bytes=N-``, the kind that
    bound_for_media_element shortens) starts; None for any other request."""
    header = headers.get("Range") or ""
    if not is_media_element(headers) or not _FROM_POSITION.match(header):
        return None
    return int(header.split("=", 1)[1].split("-", 1)[0])


def is_media_element(headers: Mapping[str, str]) -> bool:
    """A browser's <video> or <audio> sent this request."""
    return (headers.get("Sec-Fetch-Dest") or "").strip().lower() in ("video", "audio")


def plan_response(
    method: str,
    headers: Mapping[str, str],
    size: int,
    v: Validators,
    media_type: str,
    media_limit: int | None = MEDIA_ELEMENT_RESPONSE_BYTES,
) -> ResponsePlan:
    """Decide the whole response for a GET or HEAD of a regular file of ``size`` bytes; a
    media element's open range is answered with at most ``media_limit`` bytes (None: all)."""
    common = {
        "Accept-Ranges": "bytes",
        "ETag": v.etag,
        "Last-Modified": http_date(v.last_modified),
    }
    status = evaluate_preconditions(method, headers, v)
    if status == 304:
        # No Content-Length: in a 304 it would have to be the full size (RFC 9110 section 8.6).
        return ResponsePlan(304, common)
    if status is not None:
        return ResponsePlan(status, {**common, "Content-Length": "0"})

    spans = None
    if if_range_holds(headers.get("If-Range"), v):
        spans = parse_range(headers.get("Range"), size)
        if media_limit is not None:
            spans = bound_for_media_element(headers, spans, size, media_limit)

    if spans is None:
        full = [(0, size)] if size else []
        plan = ResponsePlan(200, {**common, "Content-Type": media_type}, full)
    elif not spans:
        plan = ResponsePlan(416, {**common, "Content-Range": f"bytes */{size}"})
    elif len(spans) == 1:
        start, stop = spans[0]
        plan = ResponsePlan(
            206,
            {**common, "Content-Type": media_type, "Content-Range": f"bytes {start}-{stop - 1}/{size}"},
            spans,
        )
    else:
        plan = multipart_plan(common, spans, size, media_type)
    plan.headers["Content-Length"] = str(plan.content_length)
    return plan


def multipart_plan(
    common: dict[str, str], spans: list[tuple[int, int]], size: int, media_type: str
) -> ResponsePlan:
    """A ``multipart/byteranges`` body (RFC 9110 section 14.6)."""
    boundary = secrets.token_hex(16)
    parts = []
    for start, stop in spans:
        head = (
            f"\r\n--{boundary}\r\n"
            f"Content-Type: {media_type}\r\n"
            f"Content-Range: bytes {start}-{stop - 1}/{size}\r\n\r\n"
        ).encode("ascii")
        parts.append((head, start, stop))
    return ResponsePlan(
        206,
        {**common, "Content-Type": f"multipart/byteranges; boundary={boundary}"},
        spans,
        boundary=boundary,
        parts=parts,
        epilogue=f"\r\n--{boundary}--\r\n".encode("ascii"),
    )

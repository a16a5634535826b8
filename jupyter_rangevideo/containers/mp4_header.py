"""The streams an MP4/MOV header declares: ``moov`` (at the front or the end) and, for a
fragmented file, its fragments' headers (``moof``: their sample counts and durations).

The first video and the first audio track, as FFmpeg picks them: the sample entry's tag
(``stsd``) and, for MPEG-4 tags, the decoder's object type (``esds``) give the codec; the
sample entry the picture's size and the audio's rate and channels; ``mdhd`` and the time-to-
sample table (``stts``) the duration, the frame count and the average frame rate, as FFmpeg
computes it (frames × timescale / their total duration).
"""

from __future__ import annotations

import io
import struct
import time
from typing import BinaryIO

from .base import MAX_INDEX_BYTES, WALK_SECONDS, read_at
from .header import MP4_DEMUXER, Header, StreamHeader
from .mp4 import TOP_LEVEL, Box, children, find, iter_boxes, payload, uints

VIDEO_TAGS = {
    "avc1": "h264", "avc3": "h264", "hvc1": "hevc", "hev1": "hevc", "vp09": "vp9", "vp08": "vp8",
    "av01": "av1", "mp4v": "mpeg4", "apcn": "prores", "apch": "prores", "apcs": "prores",
    "apco": "prores", "ap4h": "prores", "jpeg": "mjpeg", "mjpa": "mjpeg", "s263": "h263",
}  # fmt: skip
AUDIO_TAGS = {
    "mp4a": "aac", "Opus": "opus", "fLaC": "flac", ".mp3": "mp3", "ac-3": "ac3", "ec-3": "eac3",
    "alac": "alac", "sowt": "pcm_s16le", "twos": "pcm_s16be", "lpcm": "pcm_s16le", "ipcm": "pcm_s16le",
}  # fmt: skip
# The MPEG-4 object types (esds) that change the codec of an "mp4a" or "mp4v" entry.
OBJECT_TYPES = {
    0x20: "mpeg4", 0x21: "h264", 0x60: "mpeg2video", 0x61: "mpeg2video", 0x62: "mpeg2video",
    0x63: "mpeg2video", 0x64: "mpeg2video", 0x65: "mpeg2video", 0x6A: "mpeg1video", 0x6C: "mjpeg",
    0x40: "aac", 0x66: "aac", 0x67: "aac", 0x68: "aac", 0x69: "mp3", 0x6B: "mp3", 0xA5: "ac3",
    0xA6: "eac3", 0xAD: "opus", 0xDD: "vorbis",
}  # fmt: skip


def mp4_header(file: BinaryIO, size: int) -> Header | None:
    moov: Box | None = None
    fragments: list[Box] = []
    deadline = time.monotonic() + WALK_SECONDS
    for count, box in enumerate(iter_boxes(file, 0, size)):
        if box.kind not in TOP_LEVEL:
            return None
        if box.end > size:
            return None  # cut off: PyAV and the layout check say how
        if box.kind == "moov" and moov is None:
            moov = box
        elif box.kind == "moof":
            fragments.append(box)
        if count % 256 == 255 and time.monotonic() > deadline:
            return None
    if moov is None or moov.end - moov.start > MAX_INDEX_BYTES:
        return None
    data = io.BytesIO(read_at(file, moov.start, moov.end - moov.start))
    top = Box("moov", 0, moov.header, moov.end - moov.start)
    tracks = [t for t in (_track(data, trak) for trak in children(data, top) if trak.kind == "trak") if t]
    video = next((t for t in tracks if t[0].kind == "video"), None)
    audio = next((t for t in tracks if t[0].kind == "audio"), None)
    if video is None and audio is None:
        return None
    movie = find(data, top, ("mvhd",))
    duration = _movie_duration(data, movie) if movie else None
    if fragments and video is not None:
        video = _with_fragments(file, fragments, video)
    main = video or audio
    assert main is not None
    if main[1] is not None:
        duration = main[1]
    return Header(MP4_DEMUXER, duration, video[0] if video else None, audio[0] if audio else None)


# A track: its stream, its duration (s, or None), its ID and timescale (for its fragments).
_Track = tuple[StreamHeader, float | None, int, int]


def _track(moov: BinaryIO, trak: Box) -> _Track | None:
    handler = find(moov, trak, ("mdia", "hdlr"))
    mdhd = find(moov, trak, ("mdia", "mdhd"))
    stbl = find(moov, trak, ("mdia", "minf", "stbl"))
    tkhd = find(moov, trak, ("tkhd",))
    if handler is None or mdhd is None or stbl is None or tkhd is None:
        return None
    kind = {b"vide": "video", b"soun": "audio"}.get(payload(moov, handler)[8:12])
    boxes = {box.kind: box for box in children(moov, stbl)}
    if kind is None or "stsd" not in boxes:
        return None
    timescale, length = _media_time(payload(moov, mdhd))
    stsd = boxes["stsd"]
    entry = next(iter_boxes(moov, stsd.start + stsd.header + 8, stsd.end, limit=1), None)
    if entry is None or not timescale:
        return None
    frames, ticks = _stts(payload(moov, boxes["stts"])) if "stts" in boxes else (0, 0)
    duration = round(length / timescale, 6) if length else None
    fields = payload(moov, entry)
    track_id = struct.unpack(">I", payload(moov, tkhd)[12 if payload(moov, tkhd)[0] == 0 else 20 :][:4])[0]
    if kind == "video":
        codec = _codec(moov, entry, VIDEO_TAGS, 78)
        width, height = struct.unpack(">HH", fields[24:28])
        fps = round(timescale * frames / ticks, 6) if frames and ticks else None
        stream = StreamHeader("video", codec, width, height, fps, frames)
    else:
        version = struct.unpack(">H", fields[8:10])[0]
        codec = _codec(moov, entry, AUDIO_TAGS, 28 + {1: 16, 2: 36}.get(version, 0))
        channels, rate = struct.unpack(">H", fields[16:18])[0], struct.unpack(">I", fields[24:28])[0] >> 16
        if version == 2:  # QuickTime sound description v2: a 64-bit float rate and a 32-bit count
            rate, channels = (
                round(struct.unpack(">d", fields[32:40])[0]),
                struct.unpack(">I", fields[40:44])[0],
            )
        stream = StreamHeader("audio", codec, sample_rate=rate, channels=channels)
    if not stream.codec:
        return None
    return stream, duration, track_id, timescale


def _media_time(mdhd: bytes) -> tuple[int, int]:
    """(timescale, duration) of an ``mdhd`` or ``mvhd`` payload."""
    if mdhd[0] == 1:
        return struct.unpack(">IQ", mdhd[20:32])
    return struct.unpack(">II", mdhd[12:20])


def _movie_duration(moov: BinaryIO, mvhd: Box) -> float | None:
    timescale, length = _media_time(payload(moov, mvhd))
    return round(length / timescale, 6) if timescale and length else None


def _stts(data: bytes) -> tuple[int, int]:
    """(samples, their total duration in the track's timescale) from ``stts``."""
    count = struct.unpack(">I", data[4:8])[0]
    runs = uints(data[8:], 2 * count)
    return sum(runs[0::2]), sum(n * d for n, d in zip(runs[0::2], runs[1::2]))


def _codec(moov: BinaryIO, entry: Box, tags: dict[str, str], boxes_at: int) -> str:
    """FFmpeg's name for a sample entry's codec, or "" for a tag not known here."""
    codec = tags.get(entry.kind, "")
    if entry.kind not in ("mp4a", "mp4v"):
        return codec
    start = entry.start + entry.header + boxes_at
    for box in iter_boxes(moov, start, entry.end, limit=32):
        if box.kind == "wave":  # QuickTime keeps the esds one level down
            box = next((b for b in children(moov, box) if b.kind == "esds"), box)
        if box.kind == "esds":
            found = _object_type(payload(moov, box)[4:])
            return OBJECT_TYPES.get(found, "") if found is not None else codec
    return codec


def _object_type(data: bytes) -> int | None:
    """The objectTypeIndication of an ES descriptor's decoder configuration."""
    at = 0
    while at < len(data):
        tag, at = data[at], at + 1
        length = 0
        for _ in range(4):
            byte, at = data[at], at + 1
            length = length << 7 | byte & 0x7F
            if not byte & 0x80:
                break
        if tag == 0x03:  # ES_Descriptor: ES_ID, flags, optional fields, then its descriptors
            flags = data[at + 2]
            at += 3 + (2 if flags & 0x80 else 0) + (1 + data[at + 3] if flags & 0x40 else 0)
            at += 2 if flags & 0x20 else 0
            continue
        if tag == 0x04:  # DecoderConfigDescriptor
            return data[at]
        at += length
    return None


def _with_fragments(file: BinaryIO, fragments: list[Box], track: _Track) -> _Track:
    """The video track with its fragments' samples counted (a fragmented MP4's ``moov`` holds
    none): frames, duration and the average frame rate from each ``traf``'s ``tfdt`` and ``trun``."""
    stream, _, track_id, timescale = track
    frames, end, ticks = stream.frame_count, 0, 0
    for moof in fragments:
        for traf in children(file, moof):
            if traf.kind != "traf":
                continue
            parts = {box.kind: box for box in children(file, traf)}
            if "tfhd" not in parts or "trun" not in parts:
                continue
            default = _tfhd(payload(file, parts["tfhd"]), track_id)
            if default is None:
                continue
            count, total = _trun(payload(file, parts["trun"]), default)
            start = _tfdt(payload(file, parts["tfdt"])) if "tfdt" in parts else end
            frames, ticks, end = frames + count, ticks + total, max(end, start + total)
    if not frames or not ticks:
        return track
    fps = round(timescale * frames / ticks, 6)
    return (
        StreamHeader("video", stream.codec, stream.width, stream.height, fps, frames),
        round(end / timescale, 6),
        track_id,
        timescale,
    )


def _tfhd(data: bytes, track_id: int) -> int | None:
    """The default sample duration of a ``tfhd`` for ``track_id`` (0 if none), or None for another track."""
    flags = int.from_bytes(data[1:4], "big")
    if struct.unpack(">I", data[4:8])[0] != track_id:
        return None
    at = 8 + (8 if flags & 0x01 else 0) + (4 if flags & 0x02 else 0)
    return struct.unpack(">I", data[at : at + 4])[0] if flags & 0x08 else 0


def _tfdt(data: bytes) -> int:
    return int.from_bytes(data[4:12] if data[0] == 1 else data[4:8], "big")


def _trun(data: bytes, default: int) -> tuple[int, int]:
    """(samples, their total duration) of a ``trun``."""
    flags = int.from_bytes(data[1:4], "big")
    count = struct.unpack(">I", data[4:8])[0]
    if not flags & 0x100:
        return count, count * default
    at = 8 + (4 if flags & 0x01 else 0) + (4 if flags & 0x04 else 0)
    width = 4 * bin(flags & 0xF00).count("1")
    total = sum(struct.unpack_from(">I", data, at + n * width)[0] for n in range(count))
    return count, total

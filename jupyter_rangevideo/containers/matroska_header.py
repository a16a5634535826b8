"""The streams a Matroska/WebM header declares: the Segment's ``Info`` (duration) and ``Tracks``
(codec IDs, picture size, frame duration, audio rate and channels), found before the first
cluster or through the SeekHead."""

from __future__ import annotations

import struct
from typing import BinaryIO

from .base import read_at
from .header import MATROSKA_DEMUXER, Header, StreamHeader
from .matroska import CLUSTER, SEEK_HEAD, SEGMENT, Element, iter_elements, read_element, seeks, uint

INFO, TIMESTAMP_SCALE, DURATION = 0x1549A966, 0x2AD7B1, 0x4489
TRACKS, TRACK_ENTRY, TRACK_TYPE, CODEC_ID, DEFAULT_DURATION = 0x1654AE6B, 0xAE, 0x83, 0x86, 0x23E383
VIDEO, PIXEL_WIDTH, PIXEL_HEIGHT = 0xE0, 0xB0, 0xBA
AUDIO, SAMPLING_FREQUENCY, CHANNELS = 0xE1, 0xB5, 0x9F
CODEC_IDS = {
    "V_MPEG4/ISO/AVC": "h264", "V_MPEGH/ISO/HEVC": "hevc", "V_VP8": "vp8", "V_VP9": "vp9",
    "V_AV1": "av1", "V_MPEG4/ISO/ASP": "mpeg4", "V_MPEG2": "mpeg2video", "V_MJPEG": "mjpeg",
    "V_PRORES": "prores", "A_OPUS": "opus", "A_VORBIS": "vorbis", "A_FLAC": "flac",
    "A_MPEG/L3": "mp3", "A_AC3": "ac3", "A_EAC3": "eac3", "A_PCM/INT/LIT": "pcm_s16le",
}  # fmt: skip
MAX_ELEMENT = 1 << 20  # an Info or Tracks element larger than this is not read


def matroska_header(file: BinaryIO, size: int) -> Header | None:
    ebml = read_element(file, 0)
    if ebml is None or ebml.end is None:
        return None
    segment = read_element(file, ebml.end)
    if segment is None or segment.id != SEGMENT:
        return None
    found: dict[int, Element] = {}
    end = min(segment.end or size, size)
    for element in iter_elements(file, segment.data, end, limit=64):
        if element.id == CLUSTER:
            break
        found.setdefault(element.id, element)
        if element.id == SEEK_HEAD and element.end is not None and element.end <= size:
            for target_id, position in seeks(file, element):
                if target_id in (INFO, TRACKS) and target_id not in found:
                    target = read_element(file, segment.data + position)
                    if target is not None and target.id == target_id:
                        found[target_id] = target
    info, tracks = found.get(INFO), found.get(TRACKS)
    if info is None or tracks is None or not all(_whole(e, size) for e in (info, tracks)):
        return None
    duration = _duration(file, info)
    streams = [_track(file, entry) for entry in _children(file, tracks) if entry.id == TRACK_ENTRY]
    video = next((s for s in streams if s is not None and s.kind == "video"), None)
    audio = next((s for s in streams if s is not None and s.kind == "audio"), None)
    if video is None and audio is None or any(s is None for s in streams):
        return None  # a track whose codec is not known here: PyAV says what it is
    if video is not None and video.fps and duration:
        video = StreamHeader(
            "video", video.codec, video.width, video.height, video.fps, round(duration * video.fps)
        )
    return Header(MATROSKA_DEMUXER, duration, video, audio)


def _whole(element: Element, size: int) -> bool:
    return (
        element.size is not None
        and element.end is not None
        and element.end <= size
        and element.size <= MAX_ELEMENT
    )


def _children(file: BinaryIO, element: Element) -> list[Element]:
    return list(iter_elements(file, element.data, element.end or element.data))


def _float(file: BinaryIO, element: Element) -> float:
    data = read_at(file, element.data, element.size or 0)
    if len(data) == 4:
        return float(struct.unpack(">f", data)[0])
    if len(data) == 8:
        return float(struct.unpack(">d", data)[0])
    raise ValueError("a float element of another size")


def _duration(file: BinaryIO, info: Element) -> float | None:
    fields = {e.id: e for e in _children(file, info)}
    scale = uint(file, fields[TIMESTAMP_SCALE]) if TIMESTAMP_SCALE in fields else 1_000_000
    if DURATION not in fields:
        return None  # a live recording's
    return round(_float(file, fields[DURATION]) * scale / 1e9, 6)


def _track(file: BinaryIO, entry: Element) -> StreamHeader | None:
    """The track's stream; None for a codec not known here. Subtitles and others: a stream of
    kind "other", which does not count."""
    fields = {e.id: e for e in _children(file, entry)}
    kind = {1: "video", 2: "audio"}.get(uint(file, fields[TRACK_TYPE]) if TRACK_TYPE in fields else 0)
    if kind is None:
        return StreamHeader("other", "")
    if CODEC_ID not in fields:
        return None
    codec = CODEC_IDS.get(
        read_at(file, fields[CODEC_ID].data, fields[CODEC_ID].size or 0).rstrip(b"\0").decode("ascii")
    )
    if codec is None:
        return None
    if kind == "video":
        video = {e.id: e for e in _children(file, fields[VIDEO])} if VIDEO in fields else {}
        width = uint(file, video[PIXEL_WIDTH]) if PIXEL_WIDTH in video else 0
        height = uint(file, video[PIXEL_HEIGHT]) if PIXEL_HEIGHT in video else 0
        step = uint(file, fields[DEFAULT_DURATION]) if DEFAULT_DURATION in fields else 0
        return StreamHeader("video", codec, width, height, round(1e9 / step, 6) if step > 0 else None)
    audio = {e.id: e for e in _children(file, fields[AUDIO])} if AUDIO in fields else {}
    rate = round(_float(file, audio[SAMPLING_FREQUENCY])) if SAMPLING_FREQUENCY in audio else 8000
    channels = uint(file, audio[CHANNELS]) if CHANNELS in audio else 1
    return StreamHeader("audio", codec, sample_rate=rate, channels=channels)

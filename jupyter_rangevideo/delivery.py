"""How a file reaches the browser: as it is, repackaged, or re-encoded. Pure logic on probe facts.

- ``direct``: the browser plays the file itself; the server answers byte ranges, zero-copy.
- ``remux``: the browser decodes the codecs but not the container (H.264 in AVI or MPEG-TS):
  packets are copied into fragmented-MP4 segments, no re-encoding.
- ``redirect`` (asked for, never chosen): a direct file in object storage, fetched by the browser
  from the store itself with a presigned URL that the server hands it (a 307), renewed by the page.
- ``transcode``: a rotated picture in a remuxable file (segments carry no display matrix:
  the transcode turns the pixels upright), and everything else (HEVC, ProRes, MJPEG, MPEG-2, MPEG-4 Part 2, FFV1, and audio
  such as PCM in AVI, AC-3, MP2): decoded and re-encoded to H.264 and AAC, segment by segment.
"""

from __future__ import annotations

from .probe import Probe, header_probe

DELIVERIES = ("direct", "remux", "transcode", "redirect")
# delivery="redirect": how long a presigned URL lasts by default, and the bounds of what may be
# asked (S3's longest is 7 days; below a few seconds the page would renew all the time).
REDIRECT_SECONDS = 3600
REDIRECT_SECONDS_RANGE = (4, 7 * 24 * 3600)

# What Chromium, Firefox and Safari decode, by FFmpeg codec name.
BROWSER_VIDEO = frozenset({"h264", "vp8", "vp9", "av1"})
BROWSER_AUDIO = frozenset({"aac", "mp3", "opus", "vorbis", "flac"})
# FFmpeg demuxer names of the containers a browser opens as plain files.
_MP4 = "mov,mp4,m4a,3gp,3g2,mj2"
_WEBM = "matroska,webm"
BROWSER_CONTAINERS = frozenset({_MP4, _WEBM})
# Audio-only files a browser plays as they are (with the codecs it decodes in them).
BROWSER_AUDIO_CONTAINERS = {
    _MP4: BROWSER_AUDIO,
    _WEBM: BROWSER_AUDIO,
    "mp3": frozenset({"mp3"}),
    "ogg": frozenset({"opus", "vorbis", "flac"}),
    "flac": frozenset({"flac"}),
    "wav": frozenset({"pcm_s16le", "pcm_u8", "pcm_s24le", "pcm_f32le"}),
    "aac": frozenset({"aac"}),
}
# Codecs that fragmented MP4 carries and browsers decode from it: copied when remuxing.
REMUX_VIDEO = frozenset({"h264"})
REMUX_AUDIO = frozenset({"aac", "mp3"})


def choose(facts: Probe) -> str:
    """The cheapest delivery that the browser plays."""
    video, audio = facts.video, facts.audio
    if video is None:
        assert audio is not None  # probe() refuses files with neither
        if audio.codec in BROWSER_AUDIO_CONTAINERS.get(facts.container, frozenset()):
            return "direct"
        return "transcode"
    audio_ok = audio is None or audio.codec in BROWSER_AUDIO
    # Browsers turn a picture by the MP4/MOV display matrix only (not a Matroska tag).
    upright = not video.rotation or facts.container == _MP4
    if facts.container in BROWSER_CONTAINERS and video.codec in BROWSER_VIDEO and audio_ok and upright:
        return "direct"
    if video.codec in REMUX_VIDEO and not video.rotation:
        # A rotated picture is turned in a transcode: MPEG-TS segments carry no display matrix.
        # Audio the browser lacks (AC-3, PCM, MP2) is re-encoded beside the copied video:
        # cheap next to video, and the picture keeps its exact bytes.
        return "remux"
    return "transcode"


def check(delivery: str | None, facts: Probe) -> str:
    """``delivery`` if it can work for this file, else the automatic choice when None."""
    if delivery is None:
        return choose(facts)
    if delivery not in DELIVERIES:
        raise ValueError(f"delivery must be one of {', '.join(DELIVERIES)} or None, not {delivery!r}")
    if delivery == "redirect" and choose(facts) != "direct":
        raise ValueError(
            f"delivery='redirect' hands the browser the object as it is stored, and browsers cannot "
            f"play this one as it is ({_not_playable(facts)}): leave out delivery='redirect' so that the "
            f"server delivers it ({choose(facts)})"
        )
    if delivery == "remux" and facts.video is not None and facts.video.codec not in REMUX_VIDEO:
        raise ValueError(
            f"delivery='remux' copies the video as it is, and browsers cannot decode "
            f"{facts.video.codec}; use 'transcode'"
        )
    if delivery == "remux" and facts.video is not None and facts.video.rotation:
        raise ValueError(
            f"delivery='remux' copies the pictures as stored, and this video is shown turned "
            f"{facts.video.rotation}° (a display rotation the segments cannot carry); use 'transcode'"
        )
    return delivery


def first_facts(path: str, delivery: str | None, frames_asked: bool) -> tuple[Probe | None, bool]:
    """(the header's facts, True) where a player can be sent from them: the browser plays the
    file as it is and nothing frame-exact is asked for yet; else (None, False), for PyAV's probe.
    Raises for a file that is empty or cut off (probe.check_file)."""
    if delivery not in (None, "direct") or frames_asked:
        return None, False
    facts = header_probe(path)
    if facts is None or choose(facts) != "direct":
        return None, False
    return facts, True


def redirect_seconds(delivery: str | None, seconds: int | None) -> int:
    """How long the presigned URLs of ``delivery="redirect"`` last (0 for any other delivery)."""
    if delivery != "redirect":
        if seconds is not None:
            raise ValueError("redirect_seconds applies to delivery='redirect' only")
        return 0
    seconds = REDIRECT_SECONDS if seconds is None else seconds
    low, high = REDIRECT_SECONDS_RANGE
    if isinstance(seconds, bool) or not isinstance(seconds, int) or not low <= seconds <= high:
        raise ValueError(
            f"redirect_seconds must be a whole number of seconds from {low} to {high}, not {seconds!r}"
        )
    return seconds


def _not_playable(facts: Probe) -> str:
    """Why a browser cannot play the file as it is, in a few words."""
    video, audio = facts.video, facts.audio
    if video is not None and video.codec not in BROWSER_VIDEO:
        return f"its video is {video.codec}"
    if video is not None and facts.container not in BROWSER_CONTAINERS:
        return f"its container is {facts.container.split(',')[0]}"
    if video is not None and video.rotation:
        return f"its picture is turned {video.rotation}° by a tag browsers ignore in {facts.container.split(',')[0]}"
    if audio is not None:
        return f"its audio is {audio.codec} in {facts.container.split(',')[0]}"
    return "its format"

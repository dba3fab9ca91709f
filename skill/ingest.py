"""Any clip ffmpeg reads, brought into the form the workflows read, checked before any upload.

:func:`check_complete` decides whether a file holds all of its video: the fast path demuxes (no
decode) and accepts the file when its packets cover the frames the header declares; when they do
not (AVI writes empty packets for dropped frames, some headers are simply wrong) it decodes and
judges by time: a clip whose decoded frames reach the end of its declared duration is complete,
one that stops early or fails to decode part-way is ``input-truncated``.

:func:`to_workflow_video` then leaves an H.264/yuv420p ``.mp4`` as it is, remuxes H.264 in another
container into ``<stem>.mp4`` (no re-encode), and transcodes everything else (H.264, yuv420p,
``+faststart``). Audio is dropped: no step of the workflows uses it.

:func:`collect_videos` comes first: the files (or folders of them) a user named, each checked to
exist, hold something, be a video by its name and have a stem no other input has.
"""

from __future__ import annotations

import subprocess
from dataclasses import replace
from pathlib import Path
from typing import Literal

import av
from pydantic import BaseModel, ConfigDict

from skill.engines.video_io import VideoInfo, VideoReadError, probe
from skill.errors import InputError
from skill.paths import expand_user
from skill.video_types import INPUT_SUFFIXES, WORKFLOW_SUFFIX, is_video_name

__all__ = ["IngestedVideo", "check_complete", "collect_videos", "to_workflow_video"]

_END_SLACK = 0.9  # decoded frames must reach 90 % of the declared duration (minus one frame)


class IngestedVideo(BaseModel):
    """One clip as the workflow will read it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    source: str
    path: str
    stem: str
    action: Literal["as-is", "remuxed", "transcoded"]
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float
    codec: str


def _truncated(path: Path, why: str) -> VideoReadError:
    return VideoReadError(f"{path.name} {why}.", remedy="The file is probably cut short; copy it again from the source.", code="input-truncated")


def _packets(path: Path) -> int:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return sum(1 for packet in container.demux(stream) if packet.size)


def _decoded(path: Path) -> tuple[int, float]:
    """Frames decoded and the end time of the last one; raises when decoding breaks off."""
    frames, end = 0, 0.0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = float(stream.average_rate or stream.guessed_rate or 25)
            for frame in container.decode(stream):
                frames += 1
                if frame.time is not None:
                    end = max(end, float(frame.time) + 1.0 / rate)
    except av.error.FFmpegError as exc:
        raise _truncated(path, f"breaks off part-way ({type(exc).__name__})") from exc
    return frames, end


def check_complete(path: str | Path) -> VideoInfo:
    """:func:`skill.engines.video_io.probe`, then prove the data is all there (see the module doc).
    Returns the info with ``frames`` corrected to what really decodes when the header overstated it."""
    path = Path(path)
    info = probe(path)
    try:
        if _packets(path) >= info.frames:
            return info
    except av.error.FFmpegError as exc:
        raise _truncated(path, f"breaks off part-way ({type(exc).__name__})") from exc
    frames, end = _decoded(path)
    if frames == 0:
        raise _truncated(path, "has no decodable frames")
    if info.duration and end < _END_SLACK * info.duration - 1.0 / info.fps:
        raise _truncated(path, f"declares {info.duration:.1f} s but its frames stop at {end:.1f} s")
    return replace(info, frames=frames)


def _pixel_format(path: Path) -> str | None:
    with av.open(str(path)) as container:
        return container.streams.video[0].codec_context.pix_fmt


def _ffmpeg(args: list[str], source: Path) -> None:
    from skill.steps.compare import ffmpeg_exe

    done = subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", *args],
                          capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise VideoReadError(f"{source.name} could not be converted to H.264 MP4 ({last}).",
                             remedy="Re-export the clip as MP4 (H.264) and pass that file.", code="input-unconvertible")


def to_workflow_video(path: str | Path, folder: str | Path) -> IngestedVideo:
    """The clip as ``<stem>.mp4`` the workflows can read: the file itself when it already is one,
    else a remux or transcode written into ``folder`` (created when missing)."""
    path = Path(path)
    info = check_complete(path)
    h264_420 = info.codec == "h264" and _pixel_format(path) == "yuv420p"
    if path.suffix == WORKFLOW_SUFFIX and h264_420:
        target, action = path, "as-is"
    else:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / f"{path.stem}{WORKFLOW_SUFFIX}"
        partial = target.with_name(f".{target.stem}.partial{WORKFLOW_SUFFIX}")
        if h264_420:
            action = "remuxed"
            _ffmpeg(["-i", str(path), "-map", "0:v:0", "-an", "-c:v", "copy", "-movflags", "+faststart", str(partial)], path)
        else:
            action = "transcoded"
            _ffmpeg(["-i", str(path), "-map", "0:v:0", "-an", "-c:v", "libx264", "-preset", "veryfast", "-crf", "18",
                     "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-movflags", "+faststart", str(partial)], path)
        partial.replace(target)
    return IngestedVideo(source=str(path), path=str(target), stem=path.stem, action=action, width=info.width, height=info.height,
                         fps=info.fps, frames=info.frames, duration_s=round(info.duration, 3), codec=info.codec)


def _expand(entry: str) -> list[Path]:
    path = expand_user(entry)
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith(".") and is_video_name(p.name))
        if not found:
            raise InputError(f"The folder {path} holds no video files ({', '.join(INPUT_SUFFIXES[:6])}, ...).", remedy="Point at a folder with videos.", code="no-videos")
        return found
    if not path.exists():
        raise InputError(f"The video {path} does not exist.", remedy="Check the path; nothing was started.", code="input-not-found")
    return [path]


def collect_videos(videos: list[str], folder: str | None) -> list[Path]:
    """Every input clip (files, or the videos of folders), checked before any work: exists, not
    empty, a video file, unique stem (datasets are flat)."""
    paths = [p for entry in [*videos, *([folder] if folder else [])] for p in _expand(entry)]
    stems: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"The video {path} is not a regular file.", remedy="Pass a video file or a folder of them.", code="input-not-found")
        if path.stat().st_size == 0:
            raise InputError(f"The video {path} is empty.", remedy="Pass a complete video file; nothing was started.", code="input-empty")
        if not is_video_name(path.name):
            raise InputError(f"{path.name} is not a video file by its name.", remedy=f"Pass video files ({', '.join(INPUT_SUFFIXES[:6])}, ...).", code="input-not-video")
        if path.stem in stems and stems[path.stem].resolve() != path.resolve():
            raise InputError(f"Two inputs share the name {path.stem} ({stems[path.stem]} and {path}).", remedy="Rename one; datasets are flat.", code="duplicate-video-name")
        stems[path.stem] = path
    return [stems[s] for s in sorted(stems)]

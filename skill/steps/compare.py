"""Render the input beside the augmented clip, for the evidence MEDIA line.

Video (the spec lives in :mod:`skill.side_by_side`): both clips at the input's own height (even; a
larger input scaled down to 720; a small one never scaled up unless ``height`` asks for it), width
from each clip's display aspect (square pixels), stacked left|right, cut at the shorter one, no
audio, H.264 (libx264 ultrafast, CRF 23, yuv420p), written to
``<run_dir>/display/<dataset>_<video>_aug<i>_compare.mp4``. When the workflow already left that
comparison in its run cache (the local backend's augmentation task writes it while it augments),
it is copied from there, found by a digest of both clips and the height, so only a comparison of
exactly these files is ever reused. Otherwise (OSMO, or no prepared file) the ffmpeg binary that
imageio-ffmpeg ships renders it (an argv list with a timeout, never a shell). A failed render is
retried once; then a PNG contact sheet (four time points, input left, augmented right; a panel
that cannot be decoded says so) takes its place. The MEDIA line always points inside the run folder.

Each render writes a unique hidden temp file in ``display/`` and renames it over the target once it
reads back as a video, so concurrent renders of one comparison never leave (or show) a partial file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.confine import contained_file, run_folder
from skill.errors import InputError, NotFound, SkillError
from skill.models import DatasetName, VideoStem
from skill.secrets import redact
from skill.side_by_side import CRF, MAX_HEIGHT, PRESET, panel_height, prepared_compare

if TYPE_CHECKING:  # numpy is imported where a contact sheet is drawn: a run that reuses a prepared comparison never needs it
    import numpy as np

__all__ = [
    "CompareRequest",
    "CompareResult",
    "build_ffmpeg_argv",
    "ffmpeg_exe",
    "find_augmented_video",
    "render_side_by_side",
    "report_lines",
]

HEIGHT = MAX_HEIGHT  # the tallest a comparison is unless a height is asked for
_SHEET_POINTS = 4
_SHEET_HEIGHT = 360


class CompareRequest(BaseModel):
    """Which staged run to render, and which augmented clip."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    run_local_dir: str = Field(min_length=1, description="The local_run_dir stage_artifacts returned.")
    dataset: DatasetName
    video: VideoStem
    aug_index: int = Field(default=0, ge=0, le=999, description="Which augmentation: <video>_aug<i>.")
    timeout_s: float = Field(default=600.0, ge=5, le=7200, description="Longest an ffmpeg render may take, in seconds.")
    height: int | None = Field(default=None, ge=64, le=2160, description="Panel height in pixels; default the input's own (at most 720, never scaled up).")


class CompareResult(BaseModel):
    """The rendered comparison and the MEDIA line to send, alone, in its own message."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["video", "png"] = Field(description="video: side-by-side mp4; png: contact-sheet fallback.")
    path: str = Field(description="Absolute path inside the run folder.")
    media_line: str = Field(description="Exactly MEDIA:/absolute/path; send it alone in one message.")
    input_video: str
    augmented_video: str
    attempts: int = Field(description="ffmpeg renders tried (at most 2; 0 when the workflow's own comparison was reused).")
    notes: list[str] = Field(default_factory=list, description="Why a fallback was used, if it was.")


def ffmpeg_exe() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as exc:
        raise SkillError("No ffmpeg binary is available.", remedy="Install imageio-ffmpeg (pip install imageio-ffmpeg).", code="ffmpeg-missing") from exc


def build_ffmpeg_argv(ffmpeg: str, left: Path, right: Path, out: Path, *, height: int = HEIGHT) -> list[str]:
    """The side-by-side render at ``height`` as an argv list (also the benchmark's baseline)."""
    scale = f"scale=w='trunc({height}*dar/2)*2':h={height},setsar=1,format=yuv420p"
    graph = f"[0:v]{scale}[l];[1:v]{scale}[r];[l][r]hstack=inputs=2:shortest=1[v]"
    return [
        ffmpeg, "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
        "-i", str(left), "-i", str(right),
        "-filter_complex", graph, "-map", "[v]", "-an",
        "-c:v", "libx264", "-preset", PRESET, "-crf", str(CRF), "-pix_fmt", "yuv420p",
        "-movflags", "+faststart", str(out),
    ]


def _input_height(path: Path) -> int | None:
    """The input clip's frame height, or None when it cannot be probed (the render then says why)."""
    import av

    try:
        with av.open(str(path)) as container:
            return container.streams.video[0].height if container.streams.video else None
    except (av.FFmpegError, OSError):
        return None


def find_augmented_video(run_dir: Path, video: str, aug_index: int) -> Path:
    folder = run_dir / "outputs" / "augmented" / f"{video}_aug{aug_index}"
    if not folder.is_dir():
        raise NotFound(f"No augmented output folder {folder.relative_to(run_dir)} in the run.", remedy="Run stage_artifacts for this run first (and check the flow augments).")
    videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".mp4"
                    and not any(part.startswith(".") for part in p.relative_to(folder).parts))  # temp/scratch files
    if not videos:
        raise NotFound(f"{folder.relative_to(run_dir)} holds no mp4.", remedy="Check the augmentation task's logs; stage again once it completed.")
    return contained_file(run_dir, str(videos[0].relative_to(run_dir)), "The augmented video")


def render_side_by_side(req: CompareRequest, *, prepared: Path | None = None) -> CompareResult:
    """Render input | augmented into the run's display folder (or copy the comparison the workflow
    left in its run cache ``prepared``); PNG contact sheet on failure."""
    run_dir = run_folder(req.run_local_dir, must_exist=True)
    left = contained_file(run_dir, f"input/{req.video}.mp4", "The input video")
    if not left.is_file():
        raise NotFound(f"The input video input/{req.video}.mp4 is not in the run folder.", remedy="Run stage_artifacts first (it places the input under input/).")
    right = find_augmented_video(run_dir, req.video, req.aug_index)
    display = contained_file(run_dir, "display", "The display folder")
    display.mkdir(exist_ok=True)
    stem = f"{req.dataset}_{req.video}_aug{req.aug_index}_compare"
    out = display / f"{stem}.mp4"
    source_height = _input_height(left)
    height = panel_height(source_height or HEIGHT, req.height)

    notes: list[str] = []
    ready = prepared_compare(prepared, left, right, height) if source_height else None
    if ready is not None and _adopt(ready, out, height):
        return _result("video", out, run_dir, left, right, 0, ["reused the comparison the workflow wrote while augmenting"])
    ffmpeg = ffmpeg_exe()
    attempts = 0
    for attempts in (1, 2):
        tmp = _temp_beside(out)
        try:
            error = _run_ffmpeg(build_ffmpeg_argv(ffmpeg, left, right, tmp, height=height), req.timeout_s)
            if error is None and _is_video(tmp, height):
                os.chmod(tmp, 0o644)  # mkstemp made it 0600; the MEDIA file is for whoever shows it
                os.replace(tmp, out)
                return _result("video", out, run_dir, left, right, attempts, notes)
        finally:
            tmp.unlink(missing_ok=True)
        notes.append(f"render attempt {attempts} failed: {error or 'the output could not be read back'}")
    sheet = display / f"{stem}.png"
    tmp = _temp_beside(sheet)
    try:
        notes += _contact_sheet(left, right, tmp)
        os.chmod(tmp, 0o644)
        os.replace(tmp, sheet)
    finally:
        tmp.unlink(missing_ok=True)
    return _result("png", sheet, run_dir, left, right, attempts, notes)


def _adopt(ready: Path, out: Path, height: int) -> bool:
    """Copy a prepared comparison over ``out`` the way a render lands (temp file, read back, rename)."""
    tmp = _temp_beside(out)
    try:
        shutil.copyfile(ready, tmp)
        if not _is_video(tmp, height):
            return False
        os.chmod(tmp, 0o644)
        os.replace(tmp, out)
        return True
    finally:
        tmp.unlink(missing_ok=True)


def _temp_beside(target: Path) -> Path:
    """A unique hidden file beside ``target`` with its suffix (ffmpeg and OpenCV pick the format by it)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.stem}.", suffix=target.suffix)
    os.close(fd)
    return Path(name)


def _result(kind: str, path: Path, run_dir: Path, left: Path, right: Path, attempts: int, notes: list[str]) -> CompareResult:
    path = path.resolve()
    if not path.is_relative_to(run_dir):
        raise InputError("The comparison would land outside the run folder.", remedy="Pass the run folder stage_artifacts returned.", code="media-line-format", rule="media-line-format")
    return CompareResult(kind=kind, path=str(path), media_line=f"MEDIA:{path}", input_video=str(left), augmented_video=str(right), attempts=attempts, notes=notes)


def _run_ffmpeg(argv: list[str], timeout_s: float) -> str | None:
    """None on success, else a one-line reason (redacted)."""
    try:
        done = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", errors="replace", timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired:
        return f"ffmpeg ran past {timeout_s:.0f}s"
    except OSError as exc:
        return f"ffmpeg could not start ({type(exc).__name__})"
    if done.returncode != 0:
        tail = " ".join((done.stderr or "").strip().splitlines()[-2:])
        return redact(f"ffmpeg exited {done.returncode}: {tail}")[:400]
    return None


def _is_video(path: Path, height: int) -> bool:
    import av

    if not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video) and container.streams.video[0].height == height
    except (av.FFmpegError, OSError):
        return False


# --- PNG fallback ------------------------------------------------------------------------------


def _frames(path: Path, points: int) -> tuple[list[np.ndarray], str | None]:
    """``points`` RGB frames spread over the clip, or ([], reason) when it cannot be decoded."""
    import av

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return [], "no video stream"
            stream = container.streams.video[0]
            kept = _thinned(container.decode(stream), points)
    except (av.FFmpegError, OSError, ValueError) as exc:
        return [], f"cannot be decoded ({type(exc).__name__})"
    if not kept:
        return [], "holds no frames"
    picks = [kept[min(len(kept) - 1, int((k + 0.5) * len(kept) / points))] for k in range(points)]
    return [frame.to_ndarray(format="rgb24") for frame in picks], None


def _thinned(frames, points: int) -> list:
    """Evenly spaced frames from a stream of unknown length in bounded memory: keep every
    ``stride``-th frame and double the stride whenever more than ``8 * points`` are kept."""
    kept: list = []
    stride = 1
    for index, frame in enumerate(frames):
        if index % stride:
            continue
        kept.append((index, frame))
        if len(kept) > 8 * points:
            stride *= 2
            kept = [(i, f) for i, f in kept if i % stride == 0]
    return [f for _, f in kept]


def _fit(frame: np.ndarray, height: int) -> np.ndarray:
    import cv2

    h, w = frame.shape[:2]
    width = max(2, int(round(w * height / h / 2)) * 2)
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)


def _placeholder(width: int, height: int, text: str) -> np.ndarray:
    import cv2
    import numpy as np

    panel = np.full((height, width, 3), 48, dtype=np.uint8)
    cv2.putText(panel, text[:60], (12, height // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (230, 230, 230), 1, cv2.LINE_AA)
    return panel


def _contact_sheet(left: Path, right: Path, out: Path) -> list[str]:
    import cv2
    import numpy as np

    notes: list[str] = []
    sides = []
    for label, path in (("input", left), ("augmented", right)):
        frames, reason = _frames(path, _SHEET_POINTS)
        if reason:
            notes.append(f"{label} video {reason}; its panels are placeholders")
        sides.append(frames)
    if not sides[0] and not sides[1]:
        raise SkillError(
            "Neither the input nor the augmented video can be decoded, so no comparison can be drawn.",
            remedy="Stage the run again; if the files stay unreadable, check the augmentation task's logs.",
            code="render-failed",
        )
    width = next(_fit(f[0], _SHEET_HEIGHT).shape[1] for f in sides if f)
    rows = []
    for k in range(_SHEET_POINTS):
        panels = []
        for label, frames in zip(("input", "augmented"), sides, strict=True):
            panels.append(_fit(frames[k], _SHEET_HEIGHT) if frames else _placeholder(width, _SHEET_HEIGHT, f"{label}: unreadable"))
        rows.append(np.hstack([_pad(p, max(x.shape[1] for x in panels)) for p in panels]))
    sheet = np.vstack([_pad(r, max(x.shape[1] for x in rows)) for r in rows])
    if not cv2.imwrite(str(out), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise SkillError(f"The contact sheet could not be written to {out.parent}.", remedy="Check that the run folder is writable.", code="render-failed")
    return notes


def _pad(image: np.ndarray, width: int) -> np.ndarray:
    import numpy as np

    if image.shape[1] >= width:
        return image
    pad = np.zeros((image.shape[0], width - image.shape[1], 3), dtype=np.uint8)
    return np.hstack([image, pad])


# --- upstream-compatible report (scripts/render_side_by_side.sh) --------------------------------


def report_lines(result: CompareResult) -> list[str]:
    return [
        f"COMPARE_VIDEO={result.path}",
        f"INPUT_VIDEO={result.input_video}",
        f"AUGMENTED_VIDEO={result.augmented_video}",
        f"COMPARE_KIND={result.kind}",
    ]

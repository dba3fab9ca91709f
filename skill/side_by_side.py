"""What a side-by-side comparison is, in one place: its size, its encoder settings, and the
content key under which a workflow task may leave one ready for :func:`skill.steps.compare.render_side_by_side`.

* Size: both panels at one height, the input's own (even, at most :data:`MAX_HEIGHT`; a larger
  input is scaled down to it), widths from each clip's display aspect, square pixels. A small input
  is never scaled up unless a height is asked for.
* Encoding: H.264 (libx264, :data:`PRESET` :data:`CRF`, yuv420p), no audio, cut at the shorter clip.
  A display artefact: the fastest preset, at x264's default quality.
* Prepared ahead: on the local backend the augmentation task has both clips in hand, so it writes
  the comparison while it augments (no second decode) into the run's own cache
  (``<run cache>/compare/<key>.mp4``). The key is a digest of both files' bytes and of the render
  settings, so a prepared file is used only for exactly the clips (and height) it shows.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = [
    "CACHE_ENV",
    "CRF",
    "MAX_HEIGHT",
    "PRESET",
    "compare_key",
    "file_digest",
    "panel_height",
    "prepared_compare",
    "prepared_path",
    "run_cache_dir",
]

MAX_HEIGHT = 720
PRESET = "ultrafast"
CRF = 23
CACHE_ENV = "VDA_RUN_CACHE"  # set by the local runner for every task: the run's own cache folder
_SPEC = f"side-by-side/v1/libx264/{PRESET}/crf{CRF}/yuv420p"
_CHUNK = 1 << 20


def panel_height(input_height: int, asked: int | None = None) -> int:
    """The height of both panels: ``asked`` if given, else the input's own (at most :data:`MAX_HEIGHT`); even."""
    height = asked if asked else min(int(input_height), MAX_HEIGHT)
    return max(2, height - height % 2)


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def compare_key(left: Path, right: Path, height: int) -> str:
    """The content key of the comparison of ``left`` (input) and ``right`` (augmented) at ``height``."""
    text = f"{_SPEC}/h{height}/{file_digest(left)}/{file_digest(right)}"
    return hashlib.sha256(text.encode()).hexdigest()


def run_cache_dir(runs_root: str | None, workflow_id: str | None) -> Path | None:
    """``<runs_root>/<workflow_id>/cache``: where a run's tasks leave work done ahead (None when the
    backend prepares nothing, see ``BackendTraits.run_cache_root``)."""
    if not runs_root or not workflow_id or "/" in workflow_id or workflow_id in (".", ".."):
        return None
    return Path(runs_root) / workflow_id / "cache"


def prepared_path(cache: Path, key: str) -> Path:
    return Path(cache) / "compare" / f"{key}.mp4"


def prepared_compare(cache: Path | None, left: Path, right: Path, height: int) -> Path | None:
    """The comparison a task prepared for exactly these clips at this height, or None."""
    if cache is None or not (Path(cache) / "compare").is_dir():
        return None
    found = prepared_path(cache, compare_key(left, right, height))
    return found if found.is_file() and not found.is_symlink() and os.path.getsize(found) > 0 else None

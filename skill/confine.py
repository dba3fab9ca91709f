"""The one place that decides which local paths a call may write and which files it may read.

Writes go only into a run folder under an *output root*: ``<workspace>/media/vda/runs`` (see
:func:`skill.paths.workspace_dir`), plus any folder the operator lists in ``VDA_OUTPUT_ROOTS``
(``os.pathsep``-separated absolute paths); the demo videos go under ``<workspace>/media/vda/inputs``
or an operator root (:func:`demo_folder`: that step also prunes stale ``.mp4`` files there). An agent's argument can choose a folder under a root,
never a root elsewhere. A run folder is refused when its text holds a NUL or control character,
is longer than 4,096 characters or has a component over 255 bytes, is relative or holds ``..``,
lies outside every root (symlinks followed), or passes through a symlink below its root.

Reads of a user's own file (``input_local_video``) accept only a regular, non-empty file whose
first bytes are a video container (MP4/QuickTime ``ftyp``/``moov``/``mdat``/``free``/``wide``,
Matroska/WebM, AVI): ``/etc/passwd`` named as a video is refused.

Every refusal is an :class:`skill.errors.InputError` with a stable code that never echoes the
value (it may be a secret, a megabyte of text or a control sequence).
"""

from __future__ import annotations

import os
from pathlib import Path

from skill.errors import InputError, NotFound
from skill.paths import workspace_dir

__all__ = [
    "MAX_COMPONENT_BYTES", "MAX_PATH_CHARS", "OUTPUT_ROOTS_ENV", "contained_file", "demo_folder", "inputs_root", "is_video_header",
    "output_roots", "run_folder", "runs_root", "user_folder", "user_video_file",
]

OUTPUT_ROOTS_ENV = "VDA_OUTPUT_ROOTS"
MAX_PATH_CHARS = 4096
MAX_COMPONENT_BYTES = 255
_VIDEO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


def runs_root() -> Path:
    """``<workspace>/media/vda/runs``: where run folders live unless the operator adds roots."""
    return workspace_dir() / "media" / "vda" / "runs"


def output_roots() -> list[Path]:
    """The runs root, then each absolute folder listed in ``VDA_OUTPUT_ROOTS`` (resolved)."""
    roots = [runs_root().resolve()]
    for item in os.environ.get(OUTPUT_ROOTS_ENV, "").split(os.pathsep):
        item = item.strip()
        if item and os.path.isabs(item) and "\x00" not in item:
            roots.append(Path(item).resolve())
    return roots


def _checked_text(value: object, what: str, remedy: str) -> str:
    """The path text, or ``InputError`` ``unsafe-path`` naming ``what`` (never the value)."""
    text = value if isinstance(value, str) else os.fspath(value) if isinstance(value, os.PathLike) else None
    if not isinstance(text, str) or not text.strip():
        raise InputError(f"{what} must be a non-empty path.", remedy=remedy, code="unsafe-path")
    if len(text) > MAX_PATH_CHARS:
        raise InputError(f"{what} is longer than {MAX_PATH_CHARS} characters.", remedy=remedy, code="unsafe-path")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        raise InputError(f"{what} contains a NUL byte, a line break or another control character.", remedy=remedy, code="unsafe-path")
    try:
        too_long = any(len(part.encode("utf-8")) > MAX_COMPONENT_BYTES for part in text.split("/"))
    except UnicodeEncodeError:
        raise InputError(f"{what} is not valid text.", remedy=remedy, code="unsafe-path") from None
    if too_long:
        raise InputError(f"{what} has a name longer than {MAX_COMPONENT_BYTES} bytes.", remedy=remedy, code="unsafe-path")
    return text


def run_folder(value: str | None, *, run_id: str | None = None, what: str = "run_local_dir", must_exist: bool = False) -> Path:
    """The run folder a call may write: ``value`` when it lies under an output root, else
    ``<runs root>/<run_id>`` when ``value`` is None."""
    roots = output_roots()
    remedy = f"Leave {what} out (the run folder defaults to {roots[0]}/<run_id>), or pass an absolute folder under it."
    if len(roots) > 1:
        remedy += f" The operator allows further roots in {OUTPUT_ROOTS_ENV}."
    if value is None:
        if run_id is None:
            raise InputError(f"{what} is required.", remedy=remedy, code="unsafe-path")
        return roots[0] / run_id
    resolved = _owned_folder(value, roots, what, remedy)
    if must_exist and not resolved.is_dir():
        raise NotFound(f"The run folder given as {what} does not exist.", remedy="Run stage_artifacts first and pass its local_run_dir.")
    return resolved


def inputs_root() -> Path:
    """``<workspace>/media/vda/inputs``: where downloaded inputs (the demo videos) are laid out."""
    return workspace_dir() / "media" / "vda" / "inputs"


def demo_folder(value: str | None, *, what: str = "demo_dir") -> Path:
    """The folder prepare_demo_assets may fill (and prune of stale demo .mp4 files): under the
    inputs root or an operator root, default ``<inputs root>/vda-demo``."""
    roots = [inputs_root().resolve(), *output_roots()[1:]]
    remedy = f"Leave {what} out (it defaults to {roots[0]}/vda-demo), or pass an absolute folder under {roots[0]}."
    if len(roots) > 1:
        remedy += f" The operator allows further roots in {OUTPUT_ROOTS_ENV}."
    if value is None:
        return roots[0] / "vda-demo"
    return _owned_folder(value, roots, what, remedy)


def user_folder(value: str, *, what: str = "folder") -> Path:
    """A folder of the user's own files to read (upload_dataset): checked text, an existing folder."""
    remedy = f"Pass the folder that holds the user's videos as {what}."
    text = _checked_text(value, what, remedy)
    try:
        path = Path(os.path.expanduser(text)).resolve()
        is_dir = path.is_dir()
    except (OSError, RuntimeError, ValueError):
        raise InputError(f"{what} cannot be resolved.", remedy=remedy, code="unsafe-path") from None
    if not is_dir:
        raise NotFound(f"The folder given as {what} does not exist.", remedy=remedy)
    return path


def _owned_folder(value: str, roots: list[Path], what: str, remedy: str) -> Path:
    """``value`` resolved, when it is a folder strictly under one of ``roots`` (see the module docs)."""
    text = _checked_text(value, what, remedy)
    if text.startswith("~"):
        text = os.path.expanduser(text)
    if not os.path.isabs(text):
        raise InputError(f"{what} must be an absolute path.", remedy=remedy, code="path-outside-run-root")
    if ".." in text.split("/"):
        raise InputError(f"{what} must not contain '..'.", remedy=remedy, code="path-outside-run-root")
    lexical = Path(os.path.normpath(text))
    try:
        resolved = lexical.resolve()
    except (OSError, RuntimeError, ValueError):
        raise InputError(f"{what} cannot be resolved (a symlink loop or an unreadable folder).", remedy=remedy, code="unsafe-path") from None
    root = next((r for r in roots if resolved != r and resolved.is_relative_to(r)), None)
    if root is None:
        raise InputError(f"{what} is not a folder under an output root, so nothing may be written there.", remedy=remedy, code="path-outside-run-root")
    _refuse_symlinks_below(root, resolved, lexical, what, remedy)
    if resolved.exists() and not resolved.is_dir():
        raise InputError(f"{what} names a file, not a folder.", remedy=remedy, code="unsafe-path")
    return resolved


def _refuse_symlinks_below(root: Path, resolved: Path, lexical: Path, what: str, remedy: str) -> None:
    """A symlink between the root and the folder (in the path as written or as resolved) is refused:
    it could be swapped to point elsewhere between this check and the writes."""
    for path in (lexical, resolved):
        for parent in [path, *path.parents]:
            if parent == root or not parent.is_relative_to(root):
                break
            if parent.is_symlink():
                raise InputError(f"{what} passes through a symbolic link.", remedy=remedy, code="path-symlink")


def contained_file(run_dir: Path, rel: str, what: str) -> Path:
    """``run_dir/rel`` when it stays inside ``run_dir`` with no symlink on the way (else InputError)."""
    target = run_dir / rel
    for parent in [target, *target.parents]:
        if parent == run_dir or not parent.is_relative_to(run_dir):
            break
        if parent.is_symlink():
            raise InputError(f"{what} in the run folder is a symbolic link.", remedy="Stage the run again into a fresh run folder.", code="path-symlink")
    if not target.resolve().is_relative_to(run_dir):
        raise InputError(f"{what} lies outside the run folder.", remedy="Stage the run again into a fresh run folder.", code="path-outside-run-root")
    return target


def user_video_file(value: str, *, what: str = "input_local_video") -> Path:
    """A user's own video file to read: regular, non-empty, and a video container by its first bytes."""
    remedy = f"Pass the path of the user's own video file as {what} (an .mp4), or leave it out to use the dataset's copy."
    text = _checked_text(value, what, remedy)
    path = Path(os.path.expanduser(text))
    try:
        resolved = path.resolve()
        is_file = resolved.is_file()
    except (OSError, RuntimeError, ValueError):
        raise InputError(f"{what} cannot be resolved.", remedy=remedy, code="unsafe-path") from None
    if not is_file:
        if resolved.exists():
            raise InputError(f"{what} is not a regular file.", remedy=remedy, code="not-a-video")
        raise NotFound(f"The local input video given as {what} does not exist.", remedy="Pass --input-local-video with an existing file, or leave it out to download the input.")
    try:
        with resolved.open("rb") as fh:
            head = fh.read(12)
    except OSError:
        raise InputError(f"{what} cannot be read.", remedy=remedy, code="unreadable-input") from None
    if not is_video_header(head):
        raise InputError(f"{what} is not a video file (its first bytes are no MP4, Matroska or AVI header).", remedy=remedy, code="not-a-video")
    return resolved


def is_video_header(head: bytes) -> bool:
    """True for the first 12 bytes of an MP4/QuickTime, Matroska/WebM or AVI file."""
    if len(head) >= 8 and head[4:8] in _VIDEO_BOXES:
        return True
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return True
    return len(head) >= 12 and head.startswith(b"RIFF") and head[8:12] == b"AVI "

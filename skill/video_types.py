"""Video file types, named once. Every module that asks "is this a video?" or "what will the
workflow read?" takes its answer from here.

Facts behind the lists (read from the containers' own code):

* the workflows read ``<storage_url>/datasets/<dataset>/<video>.mp4``: one flat folder, one suffix;
* the augmentation container's setup finds clips by the case-sensitive globs ``*.mp4``, ``*.avi``,
  ``*.mkv``;
* the auto-labeling container's ffmpeg build ships only the mov demuxer (``.mp4``, ``.mov``,
  ``.m4v``), so Matroska and AVI clips cannot be labelled there as they are.

So a clip reaches a workflow as H.264 in ``<stem>.mp4`` (:mod:`skill.ingest` converts what needs it),
while users may hand us anything ffmpeg reads.
"""

from __future__ import annotations

from pathlib import PurePath

__all__ = [
    "AUGMENT_DISCOVERY_SUFFIXES",
    "INPUT_SUFFIXES",
    "LABEL_DEMUX_SUFFIXES",
    "VIDEO_LIKE_SUFFIXES",
    "WORKFLOW_SUFFIX",
    "is_video_name",
    "strip_video_suffix",
]

WORKFLOW_SUFFIX = ".mp4"
AUGMENT_DISCOVERY_SUFFIXES: tuple[str, ...] = (".mp4", ".avi", ".mkv")
LABEL_DEMUX_SUFFIXES: tuple[str, ...] = (".mp4", ".mov", ".m4v")
INPUT_SUFFIXES: tuple[str, ...] = (
    ".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".mpg", ".mpeg", ".ts", ".mts", ".m2ts",
    ".wmv", ".flv", ".3gp", ".ogv", ".mxf", ".y4m",
)
"""What a user may give as a clip (anything here is converted to the workflow's form when needed)."""
VIDEO_LIKE_SUFFIXES: frozenset[str] = frozenset({*INPUT_SUFFIXES, ".h264", ".h265", ".hevc", ".gif"})
"""Names the policy treats as video when it judges a command (raw streams and GIFs included)."""


def is_video_name(name: str) -> bool:
    """True when the file name ends in a video suffix (any case)."""
    return PurePath(name).suffix.lower() in INPUT_SUFFIXES


def strip_video_suffix(name: str) -> str:
    """``clip.MOV`` -> ``clip``; names without a video suffix are returned as they are."""
    suffix = PurePath(name).suffix
    return name[: -len(suffix)] if suffix and suffix.lower() in INPUT_SUFFIXES else name

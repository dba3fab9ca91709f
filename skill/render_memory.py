"""Renders remembered within one process.

``vda run`` (and an agent calling the tools) renders a workflow in the guard and then again in
submit, with the same text and values: the second render is answered from memory, as long as every
staged file the first one read still reads the same (and every file it found missing is still
missing). A render reads its staged files afresh on a miss, so an edit between the two is judged.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

__all__ = ["RenderMemory", "render_key"]

T = TypeVar("T")


def render_key(text: str, set_string: Any, set_values: Any, template: str, source: str | None) -> str | None:
    """The inputs of a render as one string (a relative ``localpath`` depends on the working folder
    when there is no source); None when a value does not serialise (then nothing is remembered)."""
    try:
        return json.dumps([text, set_string, set_values, template, source, None if source else os.getcwd()])
    except (TypeError, ValueError):
        return None


@dataclass(frozen=True)
class _Entry(Generic[T]):
    value: T
    files: tuple[tuple[Path, str | None], ...]  # each file read and its text; None: found missing

    def still_valid(self) -> bool:
        for path, contents in self.files:
            if contents is None:
                if path.is_file():
                    return False
                continue
            try:
                if path.read_text(encoding="utf-8") != contents:
                    return False
            except (OSError, UnicodeDecodeError):
                return False
        return True


class RenderMemory(Generic[T]):
    """The last ``kept`` renders by key; the caller copies values in and out (they are mutable)."""

    def __init__(self, kept: int = 8) -> None:
        self.kept = kept
        self._entries: dict[str, _Entry[T]] = {}

    def recall(self, key: str | None) -> T | None:
        entry = self._entries.get(key) if key is not None else None
        return entry.value if entry is not None and entry.still_valid() else None

    def keep(self, key: str | None, value: T, files: Iterable[tuple[Path, str | None]]) -> None:
        if key is None:
            return
        self._entries.pop(key, None)
        if len(self._entries) >= self.kept:
            self._entries.pop(next(iter(self._entries)))
        self._entries[key] = _Entry(value, tuple(files))

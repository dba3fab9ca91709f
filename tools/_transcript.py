"""The chat agent's transcript: one JSONL file per conversation, format v1 of TRANSCRIPTS.md.

    writer = TranscriptWriter(transcript_file(), scenario="chat", model="claude-sonnet-5")
    writer.user("augment my videos in /data/clips")
    writer.tool_call("toolu_01", "select_flow", {"req": {"text": "..."}})
    writer.tool_result("toolu_01", is_error=False, content={"flow": "augmentation_and_al"})
    writer.assistant("MEDIA:/abs/path/compare.mp4")
    writer.close()

The ``meta`` line is written when the writer opens; every later line carries ``t`` (seconds since
then). Each line is flushed as it is written, so a conversation cut short still leaves a readable
file. Every string on every line goes through :func:`skill.secrets.redact` before it reaches disk.
"""

from __future__ import annotations

import hashlib
import json
import secrets as _random
import threading
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, Any

from skill.errors import SkillError
from skill.paths import workspace_dir
from skill.secrets import redact, redact_obj

__all__ = ["FORMAT_VERSION", "TranscriptWriter", "tools_sha256", "transcript_file", "transcripts_dir"]

FORMAT_VERSION = 1


def transcripts_dir(workspace: Path | None = None) -> Path:
    """``<workspace>/.vda/transcripts`` (the workspace follows ``VDA_HOME``)."""
    return (workspace or workspace_dir()) / ".vda" / "transcripts"


def transcript_file(workspace: Path | None = None, *, now: datetime | None = None, conversation_id: str | None = None) -> Path:
    """A fresh path ``<workspace>/.vda/transcripts/<UTC timestamp>-<id>.jsonl``."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y%m%dT%H%M%SZ")
    ident = conversation_id or _random.token_hex(4)
    return transcripts_dir(workspace) / f"{stamp}-{ident}.jsonl"


def tools_sha256(tools: list[dict[str, Any]]) -> str:
    """Hash of the tool definitions handed to the model (canonical JSON), to detect drift on replay."""
    canonical = json.dumps(tools, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def _text_of(value: object) -> str:
    """JSON fallback for values that are not JSON (paths, dates): their redacted text."""
    return redact(str(value))


class TranscriptWriter:
    """Appends redacted transcript lines to one file. Safe to call from several threads."""

    def __init__(
        self,
        path: Path,
        *,
        scenario: str,
        model: str | None = None,
        workspace: Path | None = None,
        tools_hash: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file: IO[str] | None = self.path.open("x", encoding="utf-8")
        except OSError as exc:
            raise SkillError(
                f"Cannot create the transcript file {self.path} ({type(exc).__name__}).",
                remedy="Point VDA_HOME at a writable folder and start the chat again.",
                code="transcript-unwritable",
            ) from exc
        self._start = clock()
        meta: dict[str, Any] = {
            "type": "meta",
            "format": FORMAT_VERSION,
            "scenario": scenario,
            "workspace": str((workspace or workspace_dir()).resolve()),
            "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if model:
            meta["model"] = model
        if tools_hash:
            meta["tools_sha256"] = tools_hash
        self._write(meta)

    @property
    def closed(self) -> bool:
        return self._file is None

    def elapsed(self) -> float:
        """Seconds since the conversation started."""
        return max(0.0, self._clock() - self._start)

    # --- lines -------------------------------------------------------------------------------
    def user(self, text: str) -> None:
        self._line({"type": "user", "text": text})

    def assistant(self, text: str) -> None:
        self._line({"type": "assistant", "text": text})

    def tool_call(self, call_id: str, name: str, arguments: dict[str, Any]) -> None:
        self._line({"type": "tool_call", "id": call_id, "name": name, "arguments": dict(arguments)})

    def tool_result(self, call_id: str, *, is_error: bool, content: Any, **extra: Any) -> None:
        """``content`` is the structured result (an object) or the text the tool returned; ``extra``
        keys (e.g. ``elicitation``) are kept, as the format allows unknown keys."""
        self._line({"type": "tool_result", "id": call_id, "is_error": bool(is_error), "content": content, **extra})

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writing -----------------------------------------------------------------------------
    def _line(self, obj: dict[str, Any]) -> None:
        obj["t"] = round(self.elapsed(), 3)
        self._write(obj)

    def _write(self, obj: dict[str, Any]) -> None:
        # redaction works on the strings themselves, before JSON escaping could hide a value
        text = json.dumps(redact_obj(obj), ensure_ascii=False, separators=(",", ":"), default=_text_of)
        with self._lock:
            if self._file is None:
                raise RuntimeError(f"the transcript {self.path} is closed")
            self._file.write(text + "\n")
            self._file.flush()

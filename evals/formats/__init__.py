"""Readers of real agent session formats, detected from the content, each mapped to format v1.

:func:`parse_any` takes a file's bytes and gives the same :class:`~evals.transcript.Transcript`
the replay judges, whatever wrote it:

* our format v1 (first line ``{"type": "meta", "format": 1, ...}``);
* Claude Code sessions (:mod:`evals.formats.claude_code`);
* Codex CLI rollouts (:mod:`evals.formats.codex`);
* OpenAI chat-completions message lists (:mod:`evals.formats.chat`).

A foreign session names no scenario: its scenario is the file's stem. Nothing here raises on bad
content; a broken file is a :class:`~evals.transcript.TranscriptInvalid` with the line and reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from evals.formats import chat, claude_code, codex
from evals.formats._session import FormatError
from evals.transcript import Transcript, TranscriptInvalid, build_transcript, parse_transcript
from skill.secrets import redact

__all__ = ["FORMATS", "detect", "parse_any", "to_v1_jsonl"]

FORMATS = ("v1", "claude-code", "codex", "chat-completions")
_SNIFF_LINES = 50


def _json_lines(raw: bytes) -> tuple[list[tuple[int, Any]], TranscriptInvalid | None]:
    """Every non-blank line parsed; the first undecodable line as an invalid result."""
    out: list[tuple[int, Any]] = []
    for no, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            return out, TranscriptInvalid(file="", line=no, reason="the line is not UTF-8 text")
        if not text.strip():
            continue
        try:
            out.append((no, json.loads(text)))
        except ValueError as exc:
            reason = f"the line is not valid JSON ({getattr(exc, 'msg', 'parse error')} at column {getattr(exc, 'colno', '?')})"
            return out, TranscriptInvalid(file="", line=no, reason=reason)
    return out, None


def _whole_document(raw: bytes) -> Any:
    head = raw.lstrip()[:1]
    if head not in (b"[", b"{"):
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None


def detect(raw: bytes) -> str:
    """Which format the bytes are in (one of :data:`FORMATS`); v1 when nothing else fits."""
    document = _whole_document(raw)
    if document is not None and chat.looks_like(document):
        return "chat-completions"
    objects: list[dict[str, Any]] = []
    for chunk in raw.split(b"\n"):
        if len(objects) >= _SNIFF_LINES:
            break
        try:
            obj = json.loads(chunk)
        except ValueError:
            continue
        if isinstance(obj, dict):
            objects.append(obj)
    if objects and objects[0].get("type") == "meta":
        return "v1"
    if claude_code.looks_like(objects):
        return "claude-code"
    if codex.looks_like(objects):
        return "codex"
    return "v1"


def parse_any(raw: bytes, *, file: str = "<memory>", scenario: str | None = None) -> Transcript | TranscriptInvalid:
    """Read a session in any supported format; ``scenario`` defaults to the file's stem."""
    fmt = detect(raw)
    if fmt == "v1":
        return parse_transcript(raw, file=file)
    name = scenario or Path(file).stem
    try:
        if fmt == "chat-completions":
            session = chat.read(_whole_document(raw))
        else:
            lines, broken = _json_lines(raw)
            if broken is not None:
                return TranscriptInvalid(file=file, line=broken.line, reason=f"{fmt} session: {broken.reason}", scenario=name)
            session = (claude_code if fmt == "claude-code" else codex).read(lines)
    except FormatError as exc:
        return TranscriptInvalid(file=file, line=exc.line, reason=redact(f"{fmt} session: {exc.reason}"), scenario=name)
    if not session.items:
        return TranscriptInvalid(file=file, line=None, reason=f"{fmt} session: no message or tool call in the file", scenario=name)
    result = build_transcript(session.objects(name), file=file, source_format=fmt)
    if isinstance(result, TranscriptInvalid):
        return TranscriptInvalid(file=file, line=result.line, reason=f"{fmt} session: {result.reason}", scenario=name)
    return result


def to_v1_jsonl(transcript: Transcript) -> str:
    """The transcript written as format v1 (one JSON object per line, the meta line first)."""
    rows = []
    for line in transcript.lines:
        data = line.model_dump(mode="json", exclude_none=True)
        if not data.get("secret_env", True):
            del data["secret_env"]
        rows.append(json.dumps(data, ensure_ascii=False))
    return "\n".join(rows) + "\n"

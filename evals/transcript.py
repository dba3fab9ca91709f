"""Transcript format v1 (``references/transcripts-v1.md``): one JSON object per line, read into typed lines.

:func:`load_transcript` never raises on bad content. A file whose lines are not all valid is
returned as :class:`TranscriptInvalid` (the first bad line and why); a readable, well-formed file as
:class:`Transcript`. Unknown keys are kept on the line models (``extra="allow"``) and ignored.
Only a path that cannot be read at all is an error (:class:`skill.errors.NotFound`).

Structural rules checked here, beyond each line's own shape: the first line is the only ``meta``;
every ``tool_result`` answers an earlier ``tool_call`` id (once), every ``shell_result`` an earlier
``shell`` id (once); call ids are not reused. Blank lines are skipped.
"""

from __future__ import annotations

import json
from pathlib import Path
from collections.abc import Iterable
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError

from skill.errors import NotFound
from skill.secrets import redact

__all__ = [
    "AssistantLine",
    "Line",
    "MetaLine",
    "ShellLine",
    "ShellResultLine",
    "ToolCallLine",
    "ToolResultLine",
    "Transcript",
    "TranscriptInvalid",
    "UserLine",
    "build_transcript",
    "load_transcript",
    "parse_transcript",
]

FORMAT_VERSION = 1


class _LineBase(BaseModel):
    """Keys every line may carry. Unknown keys are kept and ignored."""

    model_config = ConfigDict(extra="allow")
    t: Annotated[float, Field(ge=0)] | None = Field(default=None, description="Seconds since the conversation started.")
    _no: int = PrivateAttr(default=0)

    @property
    def no(self) -> int:
        """1-based line number in the file."""
        private = self.__pydantic_private__  # read directly: pydantic's __getattr__ path is slow per line
        return private["_no"] if private else self._no


class MetaLine(_LineBase):
    type: Literal["meta"]
    format: Literal[1] = Field(description="Transcript format version; only 1 exists.")
    scenario: str = Field(description="Scenario name; evals/scenarios/<scenario>.yaml states what is expected.")
    workspace: str | None = Field(default=None, description="Absolute path of the skill checkout (MEDIA lines must point inside it).")
    tools_sha256: str | None = None
    model: str | None = None
    started_at: str | None = None
    secret_env: dict[str, str] = Field(
        default_factory=dict,
        repr=False,
        description="Test fixtures only: secret variables the recording environment held; their values must not appear elsewhere.",
    )


class UserLine(_LineBase):
    type: Literal["user"]
    text: str


class AssistantLine(_LineBase):
    type: Literal["assistant"]
    text: str


class ToolCallLine(_LineBase):
    type: Literal["tool_call"]
    id: str = Field(min_length=1)
    name: str = Field(min_length=1)
    arguments: dict[str, Any] = Field(default_factory=dict)


class ToolResultLine(_LineBase):
    type: Literal["tool_result"]
    id: str = Field(min_length=1)
    is_error: bool = False
    content: Any = None

    def data(self) -> dict[str, Any] | None:
        """The content as a mapping: an object as is, a string holding a JSON object parsed; else None."""
        if isinstance(self.content, dict):
            return self.content
        if isinstance(self.content, str):
            try:
                parsed = json.loads(self.content)
            except ValueError:
                return None
            return parsed if isinstance(parsed, dict) else None
        return None

    def text(self) -> str:
        """The content as one string (JSON for objects), for text searches."""
        if isinstance(self.content, str):
            return self.content
        return "" if self.content is None else json.dumps(self.content, ensure_ascii=False, sort_keys=True)


class ShellLine(_LineBase):
    type: Literal["shell"]
    id: str = Field(min_length=1)
    command: str


class ShellResultLine(_LineBase):
    type: Literal["shell_result"]
    id: str = Field(min_length=1)
    exit_code: int | None = None
    stdout: str = ""
    stderr: str = ""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0

    def text(self) -> str:
        return f"{self.stdout}\n{self.stderr}"


Line = Annotated[
    MetaLine | UserLine | AssistantLine | ToolCallLine | ToolResultLine | ShellLine | ShellResultLine,
    Field(discriminator="type"),
]
_LINE = TypeAdapter(Line)
_TYPES = ("meta", "user", "assistant", "tool_call", "tool_result", "shell", "shell_result")


class Transcript(BaseModel):
    """A valid transcript: its file, its meta line, and every line in order (meta included)."""

    file: str
    meta: MetaLine
    lines: list[Line]
    source_format: str = Field(default="v1", description="The format the file was read from (v1, claude-code, codex, chat-completions).")

    @property
    def valid(self) -> bool:
        return True

    @property
    def last_line(self) -> int:
        return self.lines[-1].no if self.lines else 0


class TranscriptInvalid(BaseModel):
    """A transcript that could not be read as format v1: where and why. Never carries a line's content."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    file: str
    line: int | None = Field(description="1-based line number of the first problem; None for a whole-file problem.")
    reason: str
    scenario: str | None = Field(default=None, description="The scenario named by the meta line, when it could be read.")

    @property
    def valid(self) -> bool:
        return False


def _describe(exc: ValidationError) -> str:
    """The first validation problem as 'field: message' (no input values: a line may hold secrets)."""
    first = exc.errors(include_input=False, include_url=False)[0]
    where = ".".join(str(part) for part in first["loc"][1:]) or "line"
    return f"{where}: {first['msg']}"


class _Builder:
    """Checks v1 line objects one by one (shape and the structural rules) and collects them."""

    def __init__(self, file: str, source_format: str) -> None:
        self.file, self.source_format = file, source_format
        self.lines: list[Any] = []
        self.meta: MetaLine | None = None
        self.open_calls: set[str] = set()
        self.open_shells: set[str] = set()
        self.seen_calls: set[str] = set()
        self.seen_shells: set[str] = set()

    def invalid(self, no: int | None, reason: str) -> TranscriptInvalid:
        return TranscriptInvalid(file=self.file, line=no, reason=redact(reason), scenario=self.meta.scenario if self.meta else None)

    def add(self, no: int, obj: Any) -> TranscriptInvalid | None:
        """Take one line object; a problem comes back as the file's :class:`TranscriptInvalid`."""
        if not isinstance(obj, dict):
            return self.invalid(no, "the line is not a JSON object")
        kind = obj.get("type")
        if kind is None:
            return self.invalid(no, "the line has no 'type'")
        if kind not in _TYPES:
            shown = kind if isinstance(kind, str) and len(kind) <= 40 else "(unprintable)"
            return self.invalid(no, f"unknown line type {shown!r}; expected one of {', '.join(_TYPES)}")
        try:
            line = _LINE.validate_python(obj)
        except ValidationError as exc:
            return self.invalid(no, f"{kind} line: {_describe(exc)}")
        line._no = no
        if not self.lines and not isinstance(line, MetaLine):
            return self.invalid(no, "the first line must be the meta line")
        problem = self._structure(line)
        if problem:
            return self.invalid(no, problem)
        self.lines.append(line)
        return None

    def _structure(self, line: Any) -> str | None:
        if isinstance(line, MetaLine):
            if self.meta is not None:
                return "a second meta line; meta comes exactly once, first"
            self.meta = line
        elif isinstance(line, ToolCallLine):
            if line.id in self.seen_calls:
                return f"tool_call id {line.id!r} is used twice"
            self.seen_calls.add(line.id)
            self.open_calls.add(line.id)
        elif isinstance(line, ToolResultLine):
            if line.id not in self.open_calls:
                return f"tool_result id {line.id!r} answers no earlier, unanswered tool_call"
            self.open_calls.discard(line.id)
        elif isinstance(line, ShellLine):
            if line.id in self.seen_shells:
                return f"shell id {line.id!r} is used twice"
            self.seen_shells.add(line.id)
            self.open_shells.add(line.id)
        elif isinstance(line, ShellResultLine):
            if line.id not in self.open_shells:
                return f"shell_result id {line.id!r} answers no earlier, unanswered shell line"
            self.open_shells.discard(line.id)
        return None

    def finish(self) -> Transcript | TranscriptInvalid:
        if self.meta is None:
            return self.invalid(None, "the file holds no lines")
        return Transcript(file=self.file, meta=self.meta, lines=self.lines, source_format=self.source_format)


def build_transcript(items: Iterable[tuple[int, Any]], *, file: str = "<memory>", source_format: str = "v1") -> Transcript | TranscriptInvalid:
    """Validate v1 line objects given as ``(source line number, object)`` pairs, the meta line first.

    The readers of foreign formats (:mod:`evals.formats`) map each session to these objects; the
    line numbers stay those of the source file so that violations point at the real line.
    """
    builder = _Builder(file, source_format)
    for no, obj in items:
        problem = builder.add(no, obj)
        if problem is not None:
            return problem
    return builder.finish()


def parse_transcript(raw: bytes, *, file: str = "<memory>") -> Transcript | TranscriptInvalid:
    """Parse the bytes of a v1 transcript; every problem becomes a :class:`TranscriptInvalid`."""
    builder = _Builder(file, "v1")
    for no, chunk in enumerate(raw.split(b"\n"), start=1):
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            return builder.invalid(no, "the line is not UTF-8 text")
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            return builder.invalid(no, f"the line is not valid JSON ({getattr(exc, 'msg', 'parse error')} at column {getattr(exc, 'colno', '?')})")
        problem = builder.add(no, obj)
        if problem is not None:
            return problem
    return builder.finish()


def load_transcript(path: str | Path) -> Transcript | TranscriptInvalid:
    """Read one transcript file. Bad content gives :class:`TranscriptInvalid`; an unreadable path raises NotFound."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise NotFound(
            f"Cannot read the transcript {file} ({type(exc).__name__}).",
            remedy="Pass an existing .jsonl file or a directory of them.",
            code="transcript-not-found",
        ) from exc
    from evals.formats import parse_any  # the readers import this module

    return parse_any(raw, file=str(file))

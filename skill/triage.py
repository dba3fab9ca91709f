"""Map a failure log line to the matching hint of ``references/troubleshooting.md``.

The reference is written for people and read here as data. Each hint is a section::

    ### <symptom>
    match: <regular expression, matched case-insensitively against one log line>
    <cause and action, free text; ``Cause:`` / ``Action:`` lines are picked out when present>

:func:`triage` looks at a log tail from its last line backwards (the line that ended a task is
usually the telling one) and returns the first section, in document order, whose ``match`` finds
that line. Sections without a ``match:`` line, or whose pattern does not compile, are skipped (and
logged), so one bad section cannot hide the others; code fences (format examples) are ignored.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from skill.paths import references_dir
from skill.secrets import redact

__all__ = ["Hint", "TriageHint", "load_hints", "parse_hints", "triage", "triage_line"]

_log = logging.getLogger(__name__)

_HEADING = re.compile(r"^###\s+(?P<symptom>.+?)\s*$")
_MATCH = re.compile(r"^\s*match:\s*(?P<regex>.+?)\s*$", re.IGNORECASE)
_LABELLED = re.compile(r"^\s*[-*]?\s*\**(?P<label>cause|action)\**\s*:\**\s*(?P<text>.*)$", re.IGNORECASE)
_FENCE = re.compile(r"^`(?P<inner>.*)`$")


@dataclass(frozen=True)
class Hint:
    """One parsed troubleshooting section."""

    symptom: str
    pattern: re.Pattern[str]
    cause: str
    action: str
    body: str


class TriageHint(BaseModel):
    """What the troubleshooting reference says about a failure line."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    symptom: str = Field(description="The section title in references/troubleshooting.md, e.g. 'dataset probe empty'.")
    cause: str = Field(description="Why this usually happens (may be empty when the section has no Cause: line).")
    action: str = Field(description="What to do next, as the reference words it.")
    line: str = Field(description="The log line that matched, redacted.")
    source: str = Field(default="references/troubleshooting.md", description="Where the hint comes from.")

    @property
    def title(self) -> str:
        """One line for people (the CLI's and MCP's ``Hint:``): the symptom and what to do about it."""
        return f"{self.symptom}: {self.action}" if self.action else self.symptom


def parse_hints(text: str) -> list[Hint]:
    """Parse the troubleshooting markdown into hints (sections without a usable ``match:`` are skipped)."""
    hints: list[Hint] = []
    sections: list[tuple[str, list[str]]] = []
    fenced = False
    for line in text.splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced  # examples inside code fences are not hints
            continue
        if fenced:
            continue
        heading = _HEADING.match(line)
        if heading:
            sections.append((heading.group("symptom"), []))
        elif line.startswith(("# ", "## ")):
            sections.append(("", []))  # a higher-level heading closes the current hint
        elif sections:
            sections[-1][1].append(line)
    for symptom, lines in sections:
        if not symptom:
            continue
        content = [ln for ln in lines if ln.strip()]
        if not content:
            continue
        match = _MATCH.match(content[0])
        if not match:
            _log.debug("troubleshooting section %r has no match: line; skipped", symptom)
            continue
        raw = match.group("regex")
        fenced = _FENCE.match(raw)
        raw = fenced.group("inner") if fenced else raw
        try:
            pattern = re.compile(raw, re.IGNORECASE)
        except re.error as exc:
            _log.warning("troubleshooting section %r has an invalid match regex (%s); skipped", symptom, exc)
            continue
        cause, action, rest = "", "", []
        for ln in content[1:]:
            labelled = _LABELLED.match(ln)
            if labelled and labelled.group("label").lower() == "cause":
                cause = labelled.group("text").strip()
            elif labelled:
                action = labelled.group("text").strip()
            else:
                rest.append(ln.strip())
        body = " ".join(rest).strip()
        hints.append(Hint(symptom=symptom, pattern=pattern, cause=cause, action=action or body, body=body))
    return hints


@lru_cache(maxsize=8)
def _load(path: str, mtime_ns: int) -> tuple[Hint, ...]:
    return tuple(parse_hints(Path(path).read_text(encoding="utf-8")))


def load_hints(path: Path | None = None) -> tuple[Hint, ...]:
    """Hints from ``references/troubleshooting.md`` (or ``path``); empty when the file is absent."""
    target = Path(path) if path is not None else references_dir() / "troubleshooting.md"
    try:
        stat = target.stat()
    except FileNotFoundError:
        _log.warning("no troubleshooting reference at %s; failures get no hint", target)
        return ()
    return _load(str(target), stat.st_mtime_ns)


def triage_line(line: str, hints: tuple[Hint, ...] | list[Hint] | None = None) -> TriageHint | None:
    """The first hint (document order) whose pattern matches ``line``, or None."""
    for hint in load_hints() if hints is None else hints:
        if hint.pattern.search(line):
            return TriageHint(symptom=hint.symptom, cause=hint.cause, action=hint.action, line=redact(line.strip())[:500])
    return None


def triage(text: str, hints: tuple[Hint, ...] | list[Hint] | None = None) -> TriageHint | None:
    """Scan a log tail from its last line backwards; return the hint for the latest matching line."""
    loaded = load_hints() if hints is None else hints
    if not loaded or not text:
        return None
    for line in reversed(text.splitlines()):
        if line.strip():
            found = triage_line(line, loaded)
            if found:
                return found
    return None

"""The one sink for CLI output: results on stdout (JSON with --json), errors and hints on stderr,
everything redacted on the way out."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from skill.echo import mask_arguments
from skill.errors import SkillError
from skill.secrets import redact, redact_obj

__all__ = ["emit", "emit_error", "say"]


def _plain(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return value


def emit(result: Any, *, as_json: bool, text: str | None = None) -> None:
    """Print a result: JSON on stdout for machines, else ``text`` (or the JSON, indented)."""
    if as_json or text is None:
        print(json.dumps(redact_obj(_plain(result)), indent=None if as_json else 2, ensure_ascii=False))
    else:
        print(redact(text))


def say(message: str) -> None:
    """A progress line or hint for people: stderr, redacted."""
    print(redact(message), file=sys.stderr, flush=True)


def emit_error(exc: SkillError, *, as_json: bool, arguments: Mapping[str, Any] | None = None) -> None:
    """The coded error on stderr (and as JSON on stdout with ``as_json``). A value of ``arguments``
    that is not plain (skill.echo) is never quoted back."""
    message, remedy = mask_arguments(exc.message, arguments), mask_arguments(exc.remedy or "", arguments) or None
    if as_json:
        model = exc.to_model().model_copy(update={"message": message, "remedy": remedy})
        print(json.dumps(redact_obj({"error": model.model_dump(mode="json")}), ensure_ascii=False))
    print(redact(f"Error: [{exc.code}] {message}" + (f" Next: {remedy}" if remedy else "")), file=sys.stderr)
    if not os.environ.get("VDA_DEBUG"):
        print("Set VDA_DEBUG=1 for details.", file=sys.stderr)
    else:
        import traceback

        # causes may quote rejected values (pydantic's input_value=...): redact the whole trace
        print(redact("".join(traceback.format_exception(exc))), file=sys.stderr, end="")

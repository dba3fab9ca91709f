"""What every reader builds: the v1 line objects of one session, with ids, times and meta.

A reader walks its own format and calls :class:`SessionBuilder` for each thing that happened (the
person spoke, the agent spoke, a tool or a shell command ran, its result came back). The builder
keeps the source line number with every object so that the replay points at the real line, turns
ISO timestamps into ``t`` (seconds since the first one), and answers a result with a
``tool_result`` or ``shell_result`` according to the call it belongs to.
"""

from __future__ import annotations

import json
import re
import shlex
from datetime import datetime
from typing import Any

__all__ = ["FormatError", "SessionBuilder", "classify_tool", "exit_code_of", "json_object", "text_of_blocks"]

SHELL_TOOLS = frozenset({"bash", "shell", "shell_command", "exec_command", "local_shell", "run_command", "run_shell_command", "run_script", "terminal"})
"""Tool names (compared in lower case) whose call is a raw shell command."""


class FormatError(Exception):
    """A line the reader relies on has the wrong shape: the file is invalid at ``line``."""

    def __init__(self, line: int | None, reason: str) -> None:
        super().__init__(reason)
        self.line, self.reason = line, reason


def classify_tool(name: str, namespace: str | None = None) -> str:
    """The tool's own name: ``mcp__<server>__<tool>`` and ``<server>__<tool>`` lose the server part,
    and so does a ``namespace`` given apart (Codex), e.g. ``mcp__vda__submit`` -> ``submit``."""
    if name.startswith("mcp__"):
        name = name[len("mcp__") :]
    if "__" in name:
        name = name.split("__", 1)[1]
    if namespace and name.startswith(f"{namespace}."):
        name = name[len(namespace) + 1 :]
    return name


def json_object(text: Any) -> dict[str, Any] | None:
    """``text`` parsed as a JSON object, or None."""
    if isinstance(text, dict):
        return text
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def text_of_blocks(content: Any) -> str:
    """The text of a message's content: a string as is, a list of text-like blocks joined."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
        return "\n".join(parts)
    return ""


_EXIT = re.compile(r"^(?:Exit code:?|Process exited with code)\s+(-?\d+)", re.MULTILINE)


def exit_code_of(text: str) -> int | None:
    """The exit code a tool output states ("Exit code: 1", "Process exited with code 0"), or None."""
    match = _EXIT.search(text)
    return int(match.group(1)) if match else None


def _seconds(timestamp: Any) -> float | None:
    if not isinstance(timestamp, str) or not timestamp:
        return None
    try:
        return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return None


class SessionBuilder:
    """Collects the v1 objects of one session in order."""

    def __init__(self, source_format: str) -> None:
        self.source_format = source_format
        self.items: list[tuple[int, dict[str, Any]]] = []
        self.workspace: str | None = None
        self.model: str | None = None
        self.started_at: str | None = None
        self._t0: float | None = None
        self._kinds: dict[str, str] = {}
        self._answered: set[str] = set()
        self._first_no = 1

    def clock(self, timestamp: Any) -> float | None:
        """``t`` for a line stamped ``timestamp`` (the first stamp seen is 0)."""
        seconds = _seconds(timestamp)
        if seconds is None:
            return None
        if self._t0 is None:
            self._t0 = seconds
            self.started_at = self.started_at or str(timestamp)
        return max(0.0, seconds - self._t0)

    def _add(self, no: int, obj: dict[str, Any], timestamp: Any) -> None:
        if not self.items:
            self._first_no = no
        t = self.clock(timestamp)
        if t is not None:
            obj["t"] = round(t, 3)
        self.items.append((no, obj))

    def user(self, no: int, text: str, timestamp: Any = None) -> None:
        if text.strip():
            self._add(no, {"type": "user", "text": text}, timestamp)

    def assistant(self, no: int, text: str, timestamp: Any = None) -> None:
        if text.strip():
            self._add(no, {"type": "assistant", "text": text}, timestamp)

    def call(self, no: int, call_id: str, name: str, arguments: Any, timestamp: Any = None) -> None:
        """A tool call: a shell tool becomes a ``shell`` line, any other a ``tool_call``."""
        if not call_id:
            raise FormatError(no, "a tool call has no id")
        if call_id in self._kinds:
            raise FormatError(no, f"tool call id {call_id!r} is used twice")
        if name.lower() in SHELL_TOOLS:
            command = _command_of(arguments)
            if command is None:
                raise FormatError(no, f"the {name} call carries no command")
            self._kinds[call_id] = "shell"
            self._add(no, {"type": "shell", "id": call_id, "command": command}, timestamp)
            return
        if not isinstance(arguments, dict):
            raise FormatError(no, f"the arguments of {name} are not an object")
        self._kinds[call_id] = "tool"
        self._add(no, {"type": "tool_call", "id": call_id, "name": classify_tool(name), "arguments": arguments}, timestamp)

    def shell(self, no: int, call_id: str, command: str, timestamp: Any = None) -> None:
        self.call(no, call_id, "shell", {"command": command}, timestamp)

    def result(self, no: int, call_id: str, *, text: str, is_error: bool, exit_code: int | None = None, stderr: str = "", timestamp: Any = None) -> None:
        """The result of an earlier call; a result for an unknown or answered id is a format error."""
        kind = self._kinds.get(call_id)
        if kind is None:
            raise FormatError(no, f"a tool result answers no earlier call (id {call_id!r})")
        if call_id in self._answered:
            raise FormatError(no, f"the call {call_id!r} is answered twice")
        self._answered.add(call_id)
        if kind == "shell":
            code = exit_code if exit_code is not None else exit_code_of(text)
            if code is None:
                code = 1 if is_error else 0
            self._add(no, {"type": "shell_result", "id": call_id, "exit_code": code, "stdout": text, "stderr": stderr}, timestamp)
        else:
            self._add(no, {"type": "tool_result", "id": call_id, "is_error": is_error, "content": text}, timestamp)

    def has_call(self, call_id: str) -> bool:
        return call_id in self._kinds

    def objects(self, scenario: str) -> list[tuple[int, dict[str, Any]]]:
        """The meta line first, then every line in order."""
        meta: dict[str, Any] = {"type": "meta", "format": 1, "scenario": scenario, "source_format": self.source_format}
        for key in ("workspace", "model", "started_at"):
            value = getattr(self, key)
            if value:
                meta[key] = value
        return [(self._first_no, meta), *self.items]


def _command_of(arguments: Any) -> str | None:
    """The command of a shell tool call: ``command``, ``cmd`` or ``script`` (upstream's
    ``run_script("bash scripts/...")``), a string or an argv list.

    Codex's ``shell`` tool passes ``["bash", "-lc", "<script>"]``: the script is the command typed.
    """
    if not isinstance(arguments, dict):
        return None
    command = arguments.get("command", arguments.get("cmd", arguments.get("script")))
    if isinstance(command, str):
        return command
    if isinstance(command, list) and command and all(isinstance(part, str) for part in command):
        if len(command) == 3 and command[0].rsplit("/", 1)[-1] in {"bash", "sh", "zsh"} and command[1] in {"-lc", "-c"}:
            return command[2]
        return shlex.join(command)
    return None

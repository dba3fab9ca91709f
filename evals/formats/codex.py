"""Codex CLI rollouts (``~/.codex/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``), CLI 0.1x to 0.14x.

Since about 0.30 each line is ``{"timestamp", "type", "payload"}`` with ``type`` one of
``session_meta`` (``cwd``, ``cli_version``...), ``turn_context`` (``cwd``, ``model``...),
``response_item`` and ``event_msg``; ``compacted`` and unknown types are skipped. Older rollouts
(the "direct" era) put the first line's ``id``/``timestamp``/``instructions`` bare and the response
items bare on later lines (``record_type: "state"`` lines skipped); both are read.

Used here, from ``response_item`` payloads:

* ``message``: ``role`` user/assistant with ``input_text``/``output_text`` blocks. Injected context
  (``<environment_context>``, ``<user_instructions>``, ``# AGENTS.md instructions``, ``<INSTRUCTIONS>``,
  ``<turn_aborted>``...) and ``developer``/``system`` messages are not the person's words.
* ``function_call`` (``name``, ``arguments`` a JSON string, ``call_id``): the shell tools ``shell``
  (``command`` an argv list, ``["bash", "-lc", script]``), ``shell_command`` (a string) and
  ``exec_command`` (``cmd``) become shell lines; MCP tools in all three naming eras (``vda__submit``,
  ``mcp__vda__submit``, or ``name`` plus ``namespace: "mcp__vda__"``) become our tool calls.
* ``local_shell_call`` (``action.command``) is a shell command; ``custom_tool_call`` a tool call.
* ``function_call_output`` / ``custom_tool_call_output`` (``call_id``, ``output`` a string, an
  object with ``content``/``success``, or content items): the result. Shell exit codes come from
  the output's ``metadata.exit_code``, its "Exit code: N" / "Process exited with code N" line, or the
  ``exec_command_end`` event.

``event_msg`` ``user_message``/``agent_message`` repeat the messages of ``response_item``: each
message is counted once (an event that twins an item, or an item that twins an event, is dropped;
a file with only events keeps them). Reasoning is skipped.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from evals.formats._session import FormatError, SessionBuilder, exit_code_of, json_object, text_of_blocks

__all__ = ["looks_like", "read"]

_ENVELOPE_TYPES = frozenset({"session_meta", "response_item", "event_msg", "turn_context", "compacted"})
_ITEM_TYPES = frozenset({"message", "function_call", "function_call_output", "local_shell_call", "custom_tool_call", "custom_tool_call_output", "reasoning"})
_INJECTED = (
    "<environment_context>",
    "<user_instructions>",
    "<INSTRUCTIONS>",
    "# AGENTS.md instructions",
    "<turn_aborted>",
    "<user_shell_command>",
    "<permissions instructions>",
    "<skill>",
)


def looks_like(objects: list[dict[str, Any]]) -> bool:
    """A Codex rollout: envelope types with a payload, or the direct era's bare response items."""
    for obj in objects:
        if _type(obj) in _ENVELOPE_TYPES and isinstance(obj.get("payload"), dict):
            return True
        if obj.get("record_type") == "state":
            return True
        if obj.get("type") in ("function_call", "function_call_output", "local_shell_call") and "call_id" in obj:
            return True
        if obj.get("type") == "message" and obj.get("role") in ("user", "assistant", "developer") and isinstance(obj.get("content"), list):
            return True
    return False


def _type(obj: dict[str, Any]) -> str | None:
    kind = obj.get("type")
    return kind if isinstance(kind, str) else None


def _injected(text: str) -> bool:
    return text.lstrip().startswith(_INJECTED)


class _Twins:
    """Counts a message once when both a response item and an event carry it."""

    def __init__(self) -> None:
        self.waiting: dict[str, Counter[tuple[str, str]]] = {"item": Counter(), "event": Counter()}

    def first(self, source: str, role: str, text: str) -> bool:
        """True when this copy is the first: the other source has not already given it."""
        other = "event" if source == "item" else "item"
        key = (role, " ".join(text.split()))
        if self.waiting[other][key]:
            self.waiting[other][key] -= 1
            return False
        self.waiting[source][key] += 1
        return True


def read(lines: list[tuple[int, Any]]) -> SessionBuilder:
    """Map the parsed lines of a rollout to v1 objects (raises FormatError on a broken used line)."""
    session = SessionBuilder("codex")
    twins = _Twins()
    exit_codes: dict[str, int] = {}
    for no, obj in lines:
        if not isinstance(obj, dict):
            raise FormatError(no, "the line is not a JSON object")
        stamp = obj.get("timestamp")
        kind = _type(obj)
        if kind in _ENVELOPE_TYPES:
            payload = obj.get("payload")
            if not isinstance(payload, dict):
                raise FormatError(no, f"the {kind} line has no payload object")
        elif kind in _ITEM_TYPES:
            kind, payload = "response_item", obj
        elif "instructions" in obj and "id" in obj and not kind:
            kind, payload = "session_meta", obj  # the direct era's first line
        else:
            continue  # record_type state lines, unknown types
        if kind in ("session_meta", "turn_context"):
            if isinstance(payload.get("cwd"), str):
                session.workspace = session.workspace or payload["cwd"]
            if isinstance(payload.get("model"), str):
                session.model = session.model or payload["model"]
            session.clock(stamp if stamp is not None else payload.get("timestamp"))
        elif kind == "event_msg":
            _event(session, twins, exit_codes, no, payload, stamp)
        elif kind == "response_item":
            _item(session, twins, exit_codes, no, payload, stamp)
    return session


def _event(session: SessionBuilder, twins: _Twins, exit_codes: dict[str, int], no: int, payload: dict[str, Any], stamp: Any) -> None:
    etype = _type(payload)
    if etype in ("user_message", "agent_message"):
        text = payload.get("message")
        if not isinstance(text, str):
            raise FormatError(no, f"the {etype} event has no message text")
        role = "user" if etype == "user_message" else "assistant"
        if role == "user" and _injected(text):
            return
        if twins.first("event", role, text):
            (session.user if role == "user" else session.assistant)(no, text, stamp)
    elif etype == "exec_command_end":
        call_id, code = payload.get("call_id"), payload.get("exit_code")
        if isinstance(call_id, str) and isinstance(code, int):
            exit_codes[call_id] = code


def _item(session: SessionBuilder, twins: _Twins, exit_codes: dict[str, int], no: int, payload: dict[str, Any], stamp: Any) -> None:
    itype = _type(payload)
    if itype == "message":
        role = payload.get("role")
        if role not in ("user", "assistant"):
            return  # developer / system instructions
        text = text_of_blocks(payload.get("content"))
        if role == "user" and _injected(text):
            return
        if twins.first("item", role, text):
            (session.user if role == "user" else session.assistant)(no, text, stamp)
    elif itype == "function_call":
        name, call_id = payload.get("name"), payload.get("call_id")
        if not isinstance(name, str) or not name or not isinstance(call_id, str):
            raise FormatError(no, "a function_call needs a name and a call_id")
        session.call(no, call_id, _qualified(name, payload.get("namespace")), _arguments(no, payload.get("arguments")), stamp)
    elif itype == "local_shell_call":
        call_id = payload.get("call_id") or payload.get("id")
        action = payload.get("action")
        if not isinstance(call_id, str) or not isinstance(action, dict):
            raise FormatError(no, "a local_shell_call needs a call_id and an action")
        session.call(no, call_id, "shell", {"command": action.get("command")}, stamp)
    elif itype == "custom_tool_call":
        name, call_id = payload.get("name"), payload.get("call_id")
        if not isinstance(name, str) or not isinstance(call_id, str):
            raise FormatError(no, "a custom_tool_call needs a name and a call_id")
        session.call(no, call_id, name, {"input": payload.get("input")}, stamp)
    elif itype in ("function_call_output", "custom_tool_call_output"):
        call_id = payload.get("call_id")
        if not isinstance(call_id, str):
            raise FormatError(no, f"a {itype} has no call_id")
        text, is_error, code = _output(payload.get("output"))
        if code is None:
            code = exit_codes.get(call_id)
        session.result(no, call_id, text=text, is_error=is_error, exit_code=code, timestamp=stamp)


def _qualified(name: str, namespace: Any) -> str:
    """``namespace`` + ``name`` as one MCP name (``mcp__vda__`` + ``submit`` -> ``mcp__vda__submit``)."""
    if isinstance(namespace, str) and namespace:
        return f"{namespace.rstrip('_')}__{name}" if namespace.startswith("mcp__") else f"mcp__{namespace}__{name}"
    if name.startswith("mcp__") and "." in name and "__" not in name[len("mcp__") :]:
        server, _, tool = name[len("mcp__") :].partition(".")
        return f"mcp__{server}__{tool}"
    return name


def _arguments(no: int, raw: Any) -> Any:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise FormatError(no, "the function_call arguments are neither a JSON string nor an object")
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise FormatError(no, "the function_call arguments are not valid JSON") from None


def _output(raw: Any) -> tuple[str, bool, int | None]:
    """(text, is_error, exit code) of a tool output in any of its shapes."""
    is_error, code = False, None
    if isinstance(raw, dict):
        if raw.get("success") is False:
            is_error = True
        raw = raw.get("content", raw.get("output", ""))
    if isinstance(raw, list):
        return text_of_blocks(raw), is_error, None
    if not isinstance(raw, str):
        return json.dumps(raw), is_error, None
    wrapped = json_object(raw)
    if wrapped is not None and isinstance(wrapped.get("metadata"), dict) and "output" in wrapped:
        meta_code = wrapped["metadata"].get("exit_code")
        code = meta_code if isinstance(meta_code, int) else None
        return str(wrapped["output"]), is_error or bool(code), code
    if wrapped is not None and isinstance(wrapped.get("content"), list) and ("isError" in wrapped or "structuredContent" in wrapped or len(wrapped) == 1):
        return text_of_blocks(wrapped["content"]), is_error or wrapped.get("isError") is True, None
    if raw.startswith(("Exit code:", "Process exited with code", "Chunk ID:", "Wall time:")):
        code = exit_code_of(raw)
        marker = raw.find("Output:\n")
        return (raw[marker + len("Output:\n") :] if marker >= 0 else raw), is_error or bool(code), code
    if raw.startswith("err: ") or raw.startswith("tool call error:"):
        is_error = True
    return raw, is_error, None

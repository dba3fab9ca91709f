"""OpenAI chat-completions message lists: a JSON array of messages, or ``{"messages": [...]}``.

Messages have ``role`` system/developer/user/assistant/tool. ``content`` is a string or a list of
parts (``{"type": "text", "text"}``); an assistant's ``tool_calls`` are
``{"id", "type": "function", "function": {"name", "arguments": JSON string}}`` and a ``tool``
message answers one by ``tool_call_id``. Legacy ``function_call`` / ``role: "function"`` messages
are read too (their id is made up from the position). System and developer messages are skipped.
Shell tools (``bash``, ``shell``, ``shell_command``, ``exec_command``...) become shell lines.
Line numbers are 1-based positions in the message list.
"""

from __future__ import annotations

import json
from typing import Any

from evals.formats._session import FormatError, SessionBuilder, text_of_blocks

__all__ = ["looks_like", "messages_of", "read"]


def messages_of(document: Any) -> list[Any] | None:
    """The message list of a parsed JSON document, or None when it is not one."""
    if isinstance(document, dict) and isinstance(document.get("messages"), list):
        document = document["messages"]
    if isinstance(document, list) and document and all(isinstance(m, dict) and "role" in m for m in document):
        return document
    return None


def looks_like(document: Any) -> bool:
    return messages_of(document) is not None


def _arguments(no: int, raw: Any) -> Any:
    if isinstance(raw, dict):
        return raw
    if not isinstance(raw, str):
        raise FormatError(no, "tool call arguments are neither a JSON string nor an object")
    try:
        return json.loads(raw) if raw.strip() else {}
    except ValueError:
        raise FormatError(no, "tool call arguments are not valid JSON") from None


def read(document: Any) -> SessionBuilder:
    messages = messages_of(document)
    if messages is None:
        raise FormatError(None, "the document is not a list of chat messages")
    session = SessionBuilder("chat-completions")
    if isinstance(document, dict) and isinstance(document.get("model"), str):
        session.model = document["model"]
    legacy = 0
    for no, message in enumerate(messages, start=1):
        role, content = message.get("role"), message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise FormatError(no, "a message content is neither text nor a list of parts")
        text = text_of_blocks(content) if content is not None else ""
        if role == "user":
            session.user(no, text)
        elif role == "assistant":
            session.assistant(no, text)
            calls = message.get("tool_calls") or []
            if not isinstance(calls, list):
                raise FormatError(no, "tool_calls is not a list")
            for call in calls:
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or not isinstance(function.get("name"), str) or not isinstance(call.get("id"), str):
                    raise FormatError(no, "a tool call needs an id and a function name")
                session.call(no, call["id"], function["name"], _arguments(no, function.get("arguments")))
            legacy_call = message.get("function_call")
            if isinstance(legacy_call, dict) and isinstance(legacy_call.get("name"), str):
                legacy += 1
                session.call(no, f"function_{legacy}", legacy_call["name"], _arguments(no, legacy_call.get("arguments")))
        elif role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str):
                raise FormatError(no, "a tool message has no tool_call_id")
            session.result(no, call_id, text=text, is_error=message.get("is_error") is True)
        elif role == "function":
            session.result(no, f"function_{legacy}", text=text, is_error=False)
    return session

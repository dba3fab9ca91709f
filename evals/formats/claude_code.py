"""Claude Code sessions (``~/.claude/projects/<slug>/<session id>.jsonl``), CLI 1.0 to 2.1.

Each line is an envelope (``type``, ``uuid``, ``parentUuid``, ``sessionId``, ``timestamp``, ``cwd``,
``version``...) around an Anthropic-shaped ``message``. Used here:

* ``user`` lines: a string ``content`` or text blocks are the person's words; ``tool_result`` blocks
  answer an earlier ``tool_use`` (``tool_use_id``, ``content`` a string or text blocks, ``is_error``).
  A line holding only tool results is not the person speaking. ``isMeta`` lines, command echoes
  (``<command-name>``, ``<local-command-stdout>``...), interruptions and sidechain prompts (a
  subagent's task) are not the person's words either.
* ``assistant`` lines: ``text`` blocks are what the agent said; ``tool_use`` blocks are calls
  (``Bash`` with ``input.command`` is a shell command, ``mcp__<server>__<tool>`` one of our tools).
  The CLI writes one line per content block of a streamed message (lines sharing ``message.id``;
  a block repeated on a later line of the same message is read once); ``thinking`` blocks are skipped.

A line whose ``uuid`` came before is a copy (resumed sessions repeat lines) and is read once.
Every other line type (``summary``, ``file-history-snapshot``, ``system``, ``queue-operation``,
``progress``...) is skipped, as are unknown ones.
"""

from __future__ import annotations

import json
from typing import Any

from evals.formats._session import FormatError, SessionBuilder, text_of_blocks

__all__ = ["looks_like", "read"]

_ENVELOPE_KEYS = ("uuid", "parentUuid", "sessionId")
_NOT_WORDS = ("<command-name>", "<command-message>", "<local-command-stdout>", "<local-command-stderr>", "<local-command-caveat>", "[Request interrupted by user")


def looks_like(objects: list[dict[str, Any]]) -> bool:
    """A Claude Code session: envelope keys on a user/assistant line, or its bookkeeping types."""
    for obj in objects:
        if obj.get("type") in ("user", "assistant") and isinstance(obj.get("message"), dict) and any(k in obj for k in _ENVELOPE_KEYS):
            return True
        if obj.get("type") in ("summary", "file-history-snapshot") and "text" not in obj:
            return True
    return False


def read(lines: list[tuple[int, Any]]) -> SessionBuilder:
    """Map the parsed lines of a session to v1 objects (raises FormatError on a broken used line)."""
    session = SessionBuilder("claude-code")
    seen: set[str] = set()
    shown: dict[str, set[str]] = {}  # message.id -> the blocks already read from its lines
    for no, obj in lines:
        if not isinstance(obj, dict):
            raise FormatError(no, "the line is not a JSON object")
        kind = obj.get("type")
        if kind not in ("user", "assistant"):
            continue  # bookkeeping (summary, file-history-snapshot, system...) and unknown types
        uuid = obj.get("uuid")
        if isinstance(uuid, str) and uuid:
            if uuid in seen:
                continue  # the CLI writes a line again on resume and after some crashes: it happened once
            seen.add(uuid)
        message = obj.get("message")
        if not isinstance(message, dict):
            raise FormatError(no, f"the {kind} line has no message object")
        if session.workspace is None and isinstance(obj.get("cwd"), str):
            session.workspace = obj["cwd"]
        stamp = obj.get("timestamp")
        if kind == "user":
            _user(session, no, obj, message.get("content"), stamp)
        else:
            if session.model is None and isinstance(message.get("model"), str) and message["model"] != "<synthetic>":
                session.model = message["model"]
            blocks_seen = shown.setdefault(message["id"], set()) if isinstance(message.get("id"), str) else set()
            _assistant(session, no, message.get("content"), stamp, blocks_seen)
    return session


def _user(session: SessionBuilder, no: int, obj: dict[str, Any], content: Any, stamp: Any) -> None:
    if isinstance(content, str):
        blocks: list[Any] = [{"type": "text", "text": content}]
    elif isinstance(content, list):
        blocks = content
    else:
        raise FormatError(no, "the user message content is neither text nor a list of blocks")
    spoken = not obj.get("isMeta") and not obj.get("isSidechain") and not obj.get("isCompactSummary")
    for block in blocks:
        if not isinstance(block, dict):
            raise FormatError(no, "a content block is not an object")
        btype = block.get("type")
        if btype == "tool_result":
            call_id = block.get("tool_use_id")
            if not isinstance(call_id, str) or not call_id:
                raise FormatError(no, "a tool_result block has no tool_use_id")
            text = text_of_blocks(block.get("content"))
            is_error = block.get("is_error") is True
            stderr = ""
            extra = obj.get("toolUseResult")  # Bash: {stdout, stderr, interrupted...}; the block holds both streams joined
            if len(blocks) == 1 and isinstance(extra, dict) and isinstance(extra.get("stdout"), str) and isinstance(extra.get("stderr"), str) and not is_error:
                text, stderr = extra["stdout"], extra["stderr"]
            session.result(no, call_id, text=text, is_error=is_error, stderr=stderr, timestamp=stamp)
        elif btype == "text" and spoken:
            text = block.get("text")
            if not isinstance(text, str):
                raise FormatError(no, "a text block has no text")
            if not text.lstrip().startswith(_NOT_WORDS) and "<system-reminder>" not in text[:40]:
                session.user(no, text, stamp)


def _assistant(session: SessionBuilder, no: int, content: Any, stamp: Any, shown: set[str]) -> None:
    """The blocks of one assistant line. Lines of one streamed message share its ``message.id``; most
    versions write one new block per line, some repeat the earlier blocks: a block is read once."""
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        raise FormatError(no, "the assistant message content is neither text nor a list of blocks")
    for block in content:
        if not isinstance(block, dict):
            raise FormatError(no, "a content block is not an object")
        key = json.dumps(block, sort_keys=True, default=str)
        if key in shown:
            continue
        shown.add(key)
        btype = block.get("type")
        if btype == "text":
            if not isinstance(block.get("text"), str):
                raise FormatError(no, "a text block has no text")
            session.assistant(no, block["text"], stamp)
        elif btype in ("tool_use", "server_tool_use"):
            name, call_id = block.get("name"), block.get("id")
            if not isinstance(name, str) or not name or not isinstance(call_id, str):
                raise FormatError(no, "a tool_use block needs a name and an id")
            session.call(no, call_id, name, block.get("input") if block.get("input") is not None else {}, stamp)

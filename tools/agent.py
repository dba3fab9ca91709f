"""The chat agent behind ``vda chat``: a manual Anthropic tool-use loop over the MCP server's tools.

    client = make_client()                                  # ANTHROPIC_API_KEY, else a no-api-key error
    with Agent(client=client, server=build_server(backend_name="local")) as agent:
        for message in agent.send("augment my videos in /data/clips"):
            ...                                             # already said through ``say``

The agent talks to the server through an in-process ``mcp.Client``, so every call passes the same
argument checks and policy gate as any other MCP client. The async client lives on an event loop in
a helper thread (an anyio blocking portal); the agent's surface is synchronous.

* Tools: the server's list (name, description, input schema) is handed to the model as is. Each
  ``tool_use`` block becomes ``call_tool``; its text goes back as a ``tool_result`` block, with
  ``is_error`` when the tool failed (a policy denial included).
* Secrets: when the server elicits one (preflight found it missing), ``ask_secret`` asks the person
  at the terminal and the answer goes straight back to the server. The value never enters the
  model's context nor the transcript; it is registered for redaction at once. Without
  ``ask_secret`` the agent declares no elicitation, and the tool result carries the question for
  the model to ask.
* Heartbeats: progress notifications of a long call (``poll`` with ``wait``, staging) become short
  status lines, at most one per ``heartbeat_s``.
* Every message, call and result is written to a JSONL transcript (TRANSCRIPTS.md, v1), redacted.
  A call is recorded with its request fields (``{"req": {...}}`` unwrapped, the form the policy
  judges); an elicitation is noted on its result line (message and action, never the value).
* Each call carries ``_meta["vda/session"]``, so a server shared by several conversations keeps
  one policy state per chat.
"""

from __future__ import annotations

import getpass
import itertools
import json
import os
import re
import secrets as _random
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import anthropic
import anyio.to_thread
from anyio.from_thread import start_blocking_portal
from mcp import Client, MCPError
from mcp.types import CallToolResult, ElicitRequestURLParams, ElicitResult

from skill.errors import BackendUnavailable, InputError, RateLimited, SkillError
from skill.paths import skill_root, workspace_dir
from skill.secrets import redact, redact_obj, register_secret
from tools._mcp_state import SESSION_META_KEY
from tools._transcript import TranscriptWriter, tools_sha256, transcript_file

__all__ = [
    "AUTONOMY_RULES",
    "DEFAULT_MODEL",
    "Agent",
    "AgentError",
    "MissingApiKey",
    "ask_secret_on_terminal",
    "make_client",
    "model_name",
    "split_messages",
    "system_prompt",
]

DEFAULT_MODEL = "claude-sonnet-5"
DEFAULT_MAX_TOKENS = 4096
_MEDIA_LINE = re.compile(r"^\s*(MEDIA:\S+)\s*$")

AUTONOMY_RULES = """\
# How you work in this chat

- Work through the stages on your own. After a green stage, go straight to the next tool call; never
  pause for approval and never write "shall I proceed", "let me know" or "ready when you are".
- Before the first mutating step (preflight sets credentials), tell the user the execution-time
  overview from select_flow in one short message, then continue in the same turn.
- Ask a question only when blocked: a secret preflight reports as user_input_required (ask exactly
  its question, once), a storage prefix that cannot be derived, or no ONLINE pool. When the chat
  asks the person for a secret itself, you never see it and must not ask for it again.
- Long waits: call poll with wait=true; the chat prints heartbeat lines for you while it waits.
- When render_side_by_side returns a media_line, send it exactly as given, alone in its own text
  block: no other words, quotes or code fences in that block. One MEDIA line per block.
- Finish with the evidence: the sampled variables (name=value) for each augmented clip, the
  auto-label summary of the augmented clips (and of the originals for e2e flows), and, for demo
  input, that it came from the VDA demo dataset.
- Never repeat a token or key value, even one the user typed.
"""


class MissingApiKey(SkillError):
    """No Anthropic API key: the chat cannot reach a model."""

    default_code = "no-api-key"


class AgentError(SkillError):
    """The conversation could not go on (the model API failed, or the turn ran too long)."""

    default_code = "agent-error"


AskSecret = Callable[[str], "str | None"]
Say = Callable[[str], None]


# --- configuration --------------------------------------------------------------------------------


def model_name(env: Mapping[str, str] | None = None) -> str:
    """``VDA_MODEL`` if set, else :data:`DEFAULT_MODEL`."""
    env = os.environ if env is None else env
    return (env.get("VDA_MODEL") or "").strip() or DEFAULT_MODEL


def make_client(*, env: Mapping[str, str] | None = None, **kwargs: Any) -> anthropic.Anthropic:
    """An Anthropic client with the key from ``ANTHROPIC_API_KEY``; :class:`MissingApiKey` without one."""
    env = os.environ if env is None else env
    key = (env.get("ANTHROPIC_API_KEY") or "").strip()
    if not key:
        raise MissingApiKey(
            "No Anthropic API key is set, so the chat cannot reach a model.",
            remedy="Export ANTHROPIC_API_KEY=<your key> and run vda chat again.",
        )
    register_secret(key)
    return anthropic.Anthropic(api_key=key, **kwargs)


def system_prompt(server_instructions: str | None = None) -> str:
    """SKILL.md (read now, from the skill checkout), the server's instructions, the autonomy rules."""
    path = skill_root() / "SKILL.md"
    try:
        skill = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgentError(
            f"Cannot read {path} ({type(exc).__name__}).",
            remedy="Run vda chat from a complete skill checkout, or point VDA_SKILL_DIR at one.",
            code="skill-md-missing",
        ) from exc
    parts = [skill.strip()]
    if server_instructions:
        parts.append("# This server\n\n" + server_instructions.strip())
    parts.append(AUTONOMY_RULES.strip())
    return "\n\n".join(parts) + "\n"


def ask_secret_on_terminal(question: str) -> str | None:
    """Ask the person for a secret without echoing it; None when they give nothing or abort."""
    try:
        value = getpass.getpass(f"{question}\n(input hidden) > ")
    except (EOFError, KeyboardInterrupt):
        return None
    return value.strip() or None


def split_messages(text: str) -> list[str]:
    """One text block -> the messages to show: every ``MEDIA:`` line alone, the rest grouped, in order."""
    out: list[str] = []
    chunk: list[str] = []

    def flush() -> None:
        joined = "\n".join(chunk).strip()
        if joined:
            out.append(joined)
        chunk.clear()

    for line in text.splitlines():
        media = _MEDIA_LINE.match(line)
        if media:
            flush()
            out.append(media.group(1))
        else:
            chunk.append(line)
    flush()
    return out


def _translate_api_error(exc: anthropic.AnthropicError) -> SkillError:
    """The model API's failure as a SkillError: the status and a redacted reason, never a traceback."""
    status = getattr(exc, "status_code", None)
    reason = redact(str(getattr(exc, "message", "") or type(exc).__name__))[:300]
    if isinstance(exc, anthropic.AuthenticationError):
        return AgentError("The Anthropic API refused the API key.", remedy="Check ANTHROPIC_API_KEY and run vda chat again.", code="api-key-rejected")
    if isinstance(exc, anthropic.PermissionDeniedError):
        return AgentError("The API key may not use this model.", remedy="Set VDA_MODEL to a model your key can use, e.g. claude-sonnet-5.", code="model-access-denied")
    if isinstance(exc, anthropic.NotFoundError):
        return AgentError("The Anthropic API does not know the model.", remedy="Set VDA_MODEL to a valid model id, e.g. claude-sonnet-5.", code="unknown-model")
    if isinstance(exc, anthropic.RateLimitError):
        return RateLimited("The Anthropic API kept answering 'too many requests'.", remedy="Wait a minute and send the message again.")
    if isinstance(exc, anthropic.BadRequestError):
        return InputError(f"The Anthropic API rejected the request (HTTP {status}): {reason}", remedy="Start a new chat; if it persists, run with VDA_DEBUG=1 and report it.", code="model-request-rejected")
    if isinstance(exc, anthropic.APIConnectionError):
        return BackendUnavailable("The Anthropic API could not be reached.", remedy="Check the network (or ANTHROPIC_BASE_URL) and send the message again.", code="model-unreachable")
    if isinstance(exc, anthropic.APIStatusError):
        return BackendUnavailable(f"The Anthropic API failed (HTTP {status}): {reason}", remedy="Send the message again in a moment.", code="model-api-error")
    return AgentError(f"The Anthropic client failed: {reason}", remedy="Send the message again; with VDA_DEBUG=1 the cause is printed.", code="model-client-error")


def _request_fields(arguments: dict[str, Any]) -> dict[str, Any]:
    """The call's request fields as the policy gate judges them: ``{"req": {...}}`` unwrapped (the
    server treats the wrapped and the flat form alike), anything else as given."""
    inner = arguments.get("req")
    if len(arguments) == 1 and isinstance(inner, Mapping):
        return dict(inner)
    return arguments


def _result_text(result: CallToolResult) -> str:
    """What the model reads of a tool result: its text blocks (or the structured content as JSON)."""
    text = "\n".join(block.text for block in result.content if getattr(block, "type", None) == "text")
    if not text and result.structured_content is not None:
        text = json.dumps(result.structured_content, ensure_ascii=False)
    return redact(text) or ("(error without details)" if result.is_error else "(no output)")


# --- the agent ----------------------------------------------------------------------------------


class Agent:
    """One conversation with the model over the server's tools. Use as a context manager, or call
    :meth:`close`. ``send`` returns the assistant messages of the turn (each also passed to ``say``)."""

    def __init__(
        self,
        *,
        client: anthropic.Anthropic,
        server: Any,
        transcript_path: Path | None = None,
        ask_secret: AskSecret | None = ask_secret_on_terminal,
        say: Say = print,
        model: str | None = None,
        max_tokens: int = DEFAULT_MAX_TOKENS,
        max_steps: int = 60,
        heartbeat_s: float = 20.0,
        scenario: str = "chat",
    ) -> None:
        self.model = model or model_name()
        self.max_tokens = max_tokens
        self.max_steps = max_steps
        self.heartbeat_s = heartbeat_s
        self.session_id = _random.token_hex(8)
        self._anthropic = client
        self._ask_secret = ask_secret
        self._say = say
        self._history: list[dict[str, Any]] = []
        self._turn: list[str] = []
        self._elicited: list[dict[str, str]] = []
        self._last_said = 0.0
        self._stack = ExitStack()
        try:
            self._portal = self._stack.enter_context(start_blocking_portal(backend="asyncio"))
            mcp_client = Client(server, elicitation_callback=self._on_elicitation if ask_secret is not None else None)
            self._mcp = self._stack.enter_context(self._portal.wrap_async_context_manager(mcp_client))
            self.tools = self._list_tools()
            self.system = system_prompt(getattr(server, "instructions", None))
            self.transcript = TranscriptWriter(
                transcript_path or transcript_file(conversation_id=self.session_id),
                scenario=scenario, model=self.model, workspace=workspace_dir(), tools_hash=tools_sha256(self.tools),
            )
            self._stack.callback(self.transcript.close)
        except BaseException:
            self._stack.close()
            raise

    # --- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the MCP client, its event loop thread and the transcript (idempotent)."""
        self._stack.close()

    def __enter__(self) -> Agent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def transcript_path(self) -> Path:
        return self.transcript.path

    # --- the loop ----------------------------------------------------------------------------
    def send(self, text: str) -> list[str]:
        """One user message; runs model turns and tool calls until the model ends its turn."""
        self._turn = []
        self.transcript.user(text)
        self._history.append({"role": "user", "content": [{"type": "text", "text": text}]})
        for _ in range(self.max_steps):
            message = self._create()
            self._history.append(message.to_param())
            for block in message.content:
                if block.type == "text":
                    for part in split_messages(block.text):
                        self._tell(part)
            if message.stop_reason == "pause_turn":
                continue
            uses = [block for block in message.content if block.type == "tool_use"]
            if not uses:  # every tool_use gets its result, whatever the stop reason, so the history stays valid
                return self._turn
            self._history.append({"role": "user", "content": [self._run_tool(block) for block in uses]})
        raise AgentError(
            f"The model did not finish its turn within {self.max_steps} steps.",
            remedy="Send a shorter request, or start a new chat.",
            code="agent-turn-limit",
        )

    def _create(self) -> Any:
        try:
            return self._anthropic.messages.create(
                model=self.model, max_tokens=self.max_tokens, system=self.system, tools=self.tools, messages=self._history,
            )
        except anthropic.AnthropicError as exc:
            raise _translate_api_error(exc) from exc

    def _tell(self, text: str) -> None:
        """Say one assistant message and record it."""
        self.transcript.assistant(text)
        self._last_said = self.transcript.elapsed()
        self._turn.append(redact(text))
        self._say(redact(text))

    # --- tools -------------------------------------------------------------------------------
    def _list_tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(100):
            page = self._portal.call(partial(self._mcp.list_tools, cursor=cursor))
            for tool in page.tools:
                tools.append({"name": tool.name, "description": tool.description or "", "input_schema": tool.input_schema})
            cursor = page.next_cursor
            if not cursor:
                break
        return tools

    def _run_tool(self, block: Any) -> dict[str, Any]:
        """Call one tool for a ``tool_use`` block; record call and result; the ``tool_result`` block."""
        arguments = dict(block.input) if isinstance(block.input, Mapping) else {}
        self.transcript.tool_call(block.id, block.name, _request_fields(arguments))
        self._elicited = []
        progress = partial(self._on_progress, block.name, itertools.count(1))
        try:
            result = self._portal.call(partial(
                self._mcp.call_tool, block.name, arguments, progress_callback=progress, meta={SESSION_META_KEY: self.session_id},
            ))
        except MCPError as exc:
            text = redact(f"[mcp-error] The server refused the call ({exc.code}): {exc.message}")
            self.transcript.tool_result(block.id, is_error=True, content=text)
            return {"type": "tool_result", "tool_use_id": block.id, "content": text, "is_error": True}
        text = _result_text(result)
        content: Any = text if result.is_error or result.structured_content is None else redact_obj(result.structured_content)
        extra = {"elicitation": self._elicited} if self._elicited else {}
        self.transcript.tool_result(block.id, is_error=bool(result.is_error), content=content, **extra)
        return {"type": "tool_result", "tool_use_id": block.id, "content": text, "is_error": bool(result.is_error)}

    async def _on_progress(self, tool: str, counter: Any, progress: float, total: float | None, message: str | None) -> None:
        """A heartbeat line for a long call: the first one once ``heartbeat_s`` passed without a word."""
        next(counter)
        now = self.transcript.elapsed()
        if now - self._last_said < self.heartbeat_s:
            return
        done = f" ({progress:g}/{total:g})" if total else ""
        self._tell(f"Still working on {tool}{done}: {redact(message or 'in progress')}")

    async def _on_elicitation(self, context: Any, params: Any) -> ElicitResult:
        """The server asks for a value only the person has: ask at the terminal, answer the server."""
        if isinstance(params, ElicitRequestURLParams):
            self._elicited.append({"message": redact(params.message), "action": "decline"})
            return ElicitResult(action="decline")
        properties = (params.requested_schema or {}).get("properties") or {}
        fields = [name for name, spec in properties.items() if isinstance(spec, Mapping) and spec.get("type") == "string"]
        if len(fields) != 1 or len(properties) != 1 or self._ask_secret is None:
            self._elicited.append({"message": redact(params.message), "action": "decline"})
            return ElicitResult(action="decline")
        value = await anyio.to_thread.run_sync(self._ask_secret, redact(params.message))
        value = (value or "").strip()
        if not value:
            self._elicited.append({"message": redact(params.message), "action": "cancel"})
            return ElicitResult(action="cancel")
        register_secret(value)
        self._elicited.append({"message": redact(params.message), "action": "accept"})
        return ElicitResult(action="accept", content={fields[0]: value})

"""The MCP tools: one per step, each a thin async shell around the step function.

Every call goes: arguments validated by the SDK against the step's request model -> the policy
gate (:func:`skill.policy.check` on this session's :class:`~skill.policy.RunState`; a denial is a
``ToolError`` reading ``[rule-id] message Next: remedy``) -> the step on a worker thread -> the
state records the call -> the step's result model as structured content plus a one-line headline
and the same JSON as text. A :class:`~skill.errors.SkillError` becomes a ``ToolError`` with its
code, message and remedy; anything else stays a crash whose text the SDK withholds.

``select_flow`` is the one place the server hears the user's own words (its ``text`` is the request
verbatim), so the session state notes them *before* the gate: a video URL or folder the user named
is then the user's input, not an invented one.

``preflight`` asks a missing secret through elicitation (``Resolve`` + ``Elicit``): the value goes
from the user to this process (registered for redaction, put in the environment for discovery,
preflight rerun) and never into a tool result. A client without elicitation gets the question in
the result instead.

No ``from __future__ import annotations`` here: the SDK reads the closures' annotations at
registration, so they must be real objects.
"""

import inspect
import itertools
import json
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from typing import Annotated, Any

import anyio.from_thread
import anyio.to_thread
from mcp.server import MCPServer
from mcp.server.mcpserver import AcceptedElicitation, Context, Elicit, ElicitationResult, Resolve
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.mcpserver.utilities.func_metadata import StrictJsonSchema, _inline_root_ref
from mcp.types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from skill import policy
from skill.backends.base import Backend
from skill.errors import SkillError
from skill.ledger import Ledger
from skill.models import Decision
from skill.policy import ToolCall
from skill.secrets import is_secret_name, looks_like_secret, redact, redact_obj, register_secret
from skill.steps.monitor import PollRequest
from skill.steps.preflight import PreflightResult
from tools._mcp_state import SessionStates, _Slot
from tools.tool_table import TOOL_NAMES, TOOLS, SelectFlowRequest, Tool

__all__ = ["MCP_WAIT_DEFAULTS", "TOOL_NAMES", "SecretAnswer", "SelectFlowRequest", "ToolDeps", "denial_text", "handle", "register_tools", "with_error_envelope"]

_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class SecretAnswer(BaseModel):
    """The one field an elicitation asks for: the secret itself (it stays on this machine)."""

    value: str = Field(description="The secret value, e.g. a Hugging Face token; it is used here and never shown to the model.")


@dataclass
class ToolDeps:
    """What the tools share: the backend, the session states and the run ledger (opened lazily)."""

    backend: Backend
    states: SessionStates
    ledger_factory: Callable[[], Ledger]
    _ledger: Ledger | None = field(default=None, repr=False)

    @property
    def ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = self.ledger_factory()
        return self._ledger


# --- the gate ---------------------------------------------------------------------------------


def _arguments(req: BaseModel) -> dict[str, Any]:
    return req.model_dump(mode="json", exclude_none=True)


def denial_text(decision: Decision) -> str:
    """``[rule-id] message Next: remedy``, one line per violation, redacted."""
    return redact("\n".join(f"[{v.rule}] {v.message} Next: {v.remedy}" for v in decision.violations))


def _check(slot: _Slot, call: ToolCall) -> None:
    with slot.lock:
        decision = policy.check(call, slot.state)
    if not decision.allowed:
        raise ToolError(denial_text(decision))


def _record(states: SessionStates, slot: _Slot, call: ToolCall, result: BaseModel) -> None:
    with slot.lock:
        slot.state.record(call, result)
        states.save(slot)


class _Cancelled(Exception):
    """Raised inside a step's worker thread once its request was cancelled: the thread ends."""


async def _in_thread(states: SessionStates, slot: _Slot, call: ToolCall, fn: Callable[..., Any], *args: Any,
                     stop: threading.Event | None = None, **kwargs: Any) -> Any:
    """Run a step on a worker thread; a SkillError becomes a ToolError (code, message, remedy). On
    cancellation the request returns at once and ``stop`` is set: the thread's next sleep or
    progress send raises :class:`_Cancelled`, so no worker outlives its request for long."""
    try:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs), abandon_on_cancel=stop is not None)
    except anyio.get_cancelled_exc_class():
        if stop is not None:
            stop.set()
        raise
    except SkillError as exc:
        with slot.lock:
            slot.state.record_failure(call, exc)
            states.save(slot)
        raise ToolError(redact(str(exc))) from exc


def _reply(result: BaseModel, headline: str) -> CallToolResult:
    """Structured content (the source of truth) and a text view: one headline line, then the JSON."""
    data = redact_obj(result.model_dump(mode="json"))
    text = redact(headline) + "\n" + json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


_SEND_TIMEOUT_S = 5.0


def _report(ctx: Context, stop: threading.Event) -> Callable[[float, float | None, str], None]:
    """A progress reporter callable from the step's worker thread. A send never blocks the thread
    for more than a few seconds (a client that stopped reading), and after cancellation (``stop``)
    or once the event loop is gone it ends the step instead."""

    async def bounded(progress: float, total: float | None, message: str) -> None:
        with anyio.move_on_after(_SEND_TIMEOUT_S):
            await ctx.report_progress(progress, total, message)

    def send(progress: float, total: float | None, message: str) -> None:
        if stop.is_set():
            raise _Cancelled
        try:
            anyio.from_thread.run(bounded, progress, total, redact(message))
        except RuntimeError as exc:  # the loop closed under the thread
            raise _Cancelled from exc

    return send


def _stoppable_sleep(stop: threading.Event) -> Callable[[float], None]:
    def sleep(seconds: float) -> None:
        if stop.wait(seconds):
            raise _Cancelled

    return sleep


# --- elicitation of a missing secret -----------------------------------------------------------


def _missing_secret(result: PreflightResult) -> str | None:
    if result.status != "user_input_required":
        return None
    return next((name for name in result.missing if _ENV_NAME.match(name) and is_secret_name(name)), None)


def _can_elicit(ctx: Context) -> bool:
    capabilities = ctx.client_capabilities
    elicitation = capabilities.elicitation if capabilities is not None else None
    return elicitation is not None and (elicitation.form is not None or elicitation.url is None)


def _accept_secret(name: str, value: str) -> None:
    """Make an elicited secret known here: redacted everywhere, discoverable through the environment."""
    register_secret(value)
    os.environ[name] = value


MCP_WAIT_DEFAULTS = {"timeout_s": 45.0, "heartbeat_s": 10.0}

# --- listed schemas -----------------------------------------------------------------------------

_MARKUP = re.compile(r":(?:class|func|data|meth|attr|mod):`~?([^`]+)`")


def plain_text(text: str) -> str:
    """A model docstring as an agent reads it: no Sphinx roles or literals, JSON's null for Python's None."""
    text = _MARKUP.sub(r"\1", text).replace("``", "")
    return re.sub(r"\bNone\b", "null", text)


def flat_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """The request model's own schema at the top level (fields are the tool's arguments), instead of
    the SDK's one-argument wrapper ``{"req": {"$ref": ...}}``; other definitions stay in $defs."""
    defs = dict(schema.get("$defs", {}))
    ref = schema.get("properties", {}).get("req", {}).get("$ref", "")
    name = ref.rsplit("/", 1)[-1]
    if not name or name not in defs:
        return schema
    flat = dict(defs.pop(name))
    flat["type"] = "object"
    if defs:
        flat["$defs"] = defs
    return flat


def compact_schema(node: Any, *, in_properties: bool = False, keep_descriptions: bool = True) -> None:
    """Shrink a JSON schema in place without changing what it accepts: drop generated titles, make
    descriptions plain text (or drop them: outputSchemas, whose results' text view explains them).
    Validation keywords are untouched."""
    if isinstance(node, list):
        for item in node:
            compact_schema(item, keep_descriptions=keep_descriptions)
        return
    if not isinstance(node, dict):
        return
    if not in_properties:
        if isinstance(node.get("title"), str):
            del node["title"]
        if isinstance(node.get("description"), str):
            if keep_descriptions:
                node["description"] = plain_text(node["description"])
            else:
                del node["description"]
    for key, value in node.items():
        compact_schema(value, in_properties=(key in ("properties", "$defs") and not in_properties), keep_descriptions=keep_descriptions)


SAFETY_CAP = 200


def _drop_safety_caps(node: Any) -> None:
    """Leave out the generic length caps (``maxLength`` 200 and more, with ``minLength`` 1: every URL,
    path, label and stem): the server still refuses a longer or empty value with a coded error naming
    the argument. Caps that say something about the value (a dataset name is at most 64 characters,
    OSMO's limit) stay listed."""
    if isinstance(node, list):
        for item in node:
            _drop_safety_caps(item)
        return
    if not isinstance(node, dict):
        return
    if isinstance(node.get("maxLength"), int) and node["maxLength"] >= SAFETY_CAP:
        del node["maxLength"]
        if node.get("minLength") == 1:
            del node["minLength"]
    for value in node.values():
        _drop_safety_caps(value)


def _omit_null_arms(schema: dict[str, Any]) -> None:
    """Optional arguments are listed as what to send, not as ``X or null, default null``: omitting
    them is the way to leave them unset (the server still accepts an explicit null)."""
    for fields in [schema.get("properties", {})] + [d.get("properties", {}) for d in schema.get("$defs", {}).values()]:
        for name, prop in list(fields.items()):
            arms = prop.get("anyOf")
            if prop.get("default", "") is None and isinstance(arms, list):
                rest = [arm for arm in arms if arm != {"type": "null"}]
                if len(rest) == 1 and len(rest) < len(arms):
                    merged = {**rest[0], **{k: v for k, v in prop.items() if k not in ("anyOf", "default")}}
                    fields[name] = merged


def _type_unions(node: Any) -> None:
    """``anyOf`` of bare types (``[{"type": "string"}, {"type": "null"}]``) as the equivalent, shorter
    ``{"type": ["string", "null"]}``."""
    if isinstance(node, list):
        for item in node:
            _type_unions(item)
    elif isinstance(node, dict):
        arms = node.get("anyOf")
        if isinstance(arms, list) and arms and all(isinstance(a, dict) and list(a) == ["type"] and isinstance(a["type"], str) for a in arms):
            del node["anyOf"]
            node["type"] = [a["type"] for a in arms]
        for value in node.values():
            _type_unions(value)


def _drop_keys(node: Any, keys: tuple[str, ...], *, in_properties: bool = False) -> None:
    """Remove constraint keywords an outputSchema need not repeat (the server produced the value)."""
    if isinstance(node, list):
        for item in node:
            _drop_keys(item, keys)
    elif isinstance(node, dict):
        if not in_properties:
            for key in keys:
                node.pop(key, None)
        for key, value in node.items():
            _drop_keys(value, keys, in_properties=(key in ("properties", "$defs") and not in_properties))


# --- the tools ----------------------------------------------------------------------------------


def _fit_client_timeouts(req: BaseModel) -> BaseModel:
    """A waiting poll fits common client request timeouts (60 s in the TypeScript SDK): unless the
    caller chose, it returns within 45 s (timed_out: call poll again, nothing is lost) with progress
    every 10 s. Any other request is passed on unchanged."""
    if not isinstance(req, PollRequest) or not req.wait:
        return req
    update: dict[str, Any] = {k: v for k, v in MCP_WAIT_DEFAULTS.items() if k not in req.model_fields_set}
    update["max_interval_s"] = min(req.max_interval_s, 10.0) if "max_interval_s" not in req.model_fields_set else req.max_interval_s
    update["interval_s"] = min(req.interval_s, update["max_interval_s"])
    return PollRequest.model_validate({**req.model_dump(), **update})


async def _run(deps: ToolDeps, spec: Tool, ctx: Context, slot: _Slot, call: ToolCall, req: BaseModel) -> Any:
    """The row's step on a worker thread with the dependencies it names, progress wired when it reports any."""
    kwargs: dict[str, Any] = {name: getattr(deps, name) for name in spec.needs}
    stop = threading.Event()  # only steps that sleep or report progress can notice it: others are awaited to the end
    stoppable = "sleep" in inspect.signature(spec.step).parameters
    if stoppable:
        kwargs["sleep"] = _stoppable_sleep(stop)
    if spec.progress is not None and spec.progress_when(req):
        send, counter, describe = _report(ctx, stop), itertools.count(1), spec.progress

        def on_progress(event: Any) -> None:
            done, total, message = describe(event)
            send(next(counter) if done is None else done, total, message)

        kwargs["on_progress"] = on_progress
        stoppable = True
    return await _in_thread(deps.states, slot, call, spec.step, req, stop=stop if stoppable else None, **kwargs)


def _gate(deps: ToolDeps, spec: Tool, ctx: Context, req: BaseModel) -> tuple[_Slot, ToolCall]:
    """This session's slot and the call, checked by the policy (the user's own words noted first)."""
    slot = deps.states.slot(ctx)
    call = ToolCall(name=spec.name, arguments=_arguments(req))
    text = getattr(req, "text", None)
    if spec.hears_user and isinstance(text, str) and not looks_like_secret(text):
        # text is the user's request verbatim: what it names is the user's input, before any judging
        with slot.lock:
            slot.state.note_user(text)
            deps.states.save(slot)
    _check(slot, call)
    return slot, call


async def handle(deps: ToolDeps, spec: Tool, req: BaseModel, ctx: Context) -> CallToolResult:
    """Every tool call: gate -> step -> record -> reply (structured result and its headline)."""
    req = _fit_client_timeouts(req)
    slot, call = _gate(deps, spec, ctx, req)
    result = await _run(deps, spec, ctx, slot, call, req)
    _record(deps.states, slot, call, result)
    return _reply(result, spec.headline(result))


def _tool_function(deps: ToolDeps, spec: Tool) -> Callable[..., Any]:
    """The function the SDK registers for ``spec``: its signature (read at registration) gives the schemas."""

    async def call_tool(req: BaseModel, ctx: Context) -> CallToolResult:
        return await handle(deps, spec, req, ctx)

    call_tool.__annotations__ = {"req": spec.request, "ctx": Context, "return": Annotated[CallToolResult, spec.result]}
    return call_tool


def _eliciting_function(deps: ToolDeps, spec: Tool) -> Callable[..., Any]:
    """Like :func:`_tool_function`, for a step whose result may name a missing secret (preflight):
    the first run is gated and run through ``Resolve``; when it names a secret and the client can
    elicit, the user is asked, the secret accepted here and the step run again; then recorded."""

    async def first_run(req: BaseModel, ctx: Context) -> Any:
        slot, call = _gate(deps, spec, ctx, req)
        return await _run(deps, spec, ctx, slot, call, req)

    first_run.__annotations__ = {"req": spec.request, "ctx": Context, "return": spec.result}

    async def ask_secret(first: Any, ctx: Context) -> SecretAnswer | Elicit[SecretAnswer] | None:
        name = _missing_secret(first)
        if name is None or not _can_elicit(ctx):
            return None
        return Elicit(first.question or f"Please provide {name}.", SecretAnswer)

    ask_secret.__annotations__ = {**ask_secret.__annotations__, "first": Annotated[spec.result, Resolve(first_run)]}

    async def call_tool(req: BaseModel, ctx: Context, first: Any, secret: Any) -> CallToolResult:
        slot = deps.states.slot(ctx)
        call = ToolCall(name=spec.name, arguments=_arguments(req))
        result = first
        name = _missing_secret(first)
        if name and isinstance(secret, AcceptedElicitation) and isinstance(secret.data, SecretAnswer) and secret.data.value.strip():
            _accept_secret(name, secret.data.value.strip())
            result = await _run(deps, spec, ctx, slot, call, req)
        _record(deps.states, slot, call, result)
        return _reply(result, spec.headline(result))

    call_tool.__annotations__ = {
        "req": spec.request,
        "ctx": Context,
        "first": Annotated[spec.result, Resolve(first_run)],
        "secret": Annotated[ElicitationResult[SecretAnswer], Resolve(ask_secret)],
        "return": Annotated[CallToolResult, spec.result],
    }
    return call_tool


def _compact_listing(server: MCPServer, name: str, unlisted: tuple[str, ...] = (), *, describe_arguments: bool = True) -> None:
    """List only what an agent needs: flat arguments, plain-text descriptions, no generated titles."""
    tool = server._tool_manager.get_tool(name)
    if tool is None:
        return
    tool.parameters = flat_schema(tool.parameters)
    compact_schema(tool.parameters)
    _omit_null_arms(tool.parameters)
    _drop_safety_caps(tool.parameters)
    tool.parameters.pop("description", None)  # the request model's docstring: the tool's description says it
    for field in unlisted:  # optional tuning arguments (Tool.unlisted): defaults serve an agent
        tool.parameters.get("properties", {}).pop(field, None)
    if not describe_arguments:
        for prop in tool.parameters.get("properties", {}).values():
            prop.pop("description", None)
    meta = tool.fn_metadata
    if meta.output_schema is not None:
        if meta.output_model is not None:  # what is returned is the serialized model: computed fields included
            meta.output_schema = _inline_root_ref(
                meta._output_adapter(meta.output_model).json_schema(mode="serialization", schema_generator=StrictJsonSchema))
        compact_schema(meta.output_schema, keep_descriptions=False)
        _drop_keys(meta.output_schema, ("default", "maxLength", "minLength", "pattern"))
        _type_unions(meta.output_schema)
        shallow_output(meta.output_schema)
        with_error_envelope(meta.output_schema)


def _shallow(node: Any) -> Any:
    """A nested output value as its bare JSON type: ``{"type": "object"}`` for a model or a mapping,
    arrays keep their items' bare type; scalars (enums included) stay as they are."""
    if not isinstance(node, dict):
        return node
    if "$ref" in node or node.get("type") == "object":
        return {"type": "object"}
    if node.get("type") == "array":
        return {"type": "array"}  # what the items are, the result's text view shows
    arms = node.get("anyOf")
    if isinstance(arms, list):
        kinds = sorted({_shallow(a).get("type") for a in arms if isinstance(_shallow(a).get("type"), str)})
        return {"type": kinds if len(kinds) > 1 else kinds[0]} if kinds and len(kinds) == len(arms) else {"anyOf": [_shallow(a) for a in arms]}
    return node


def shallow_output(schema: dict[str, Any]) -> None:
    """An outputSchema down to the result's own fields: nested models listed by their JSON type only
    (the result's text view shows them in full). Keeps tools/list small; every returned top-level
    field stays declared with its type."""
    schema.pop("$defs", None)
    schema.pop("additionalProperties", None)  # a result is produced here, not accepted: its extra keys are not the client's concern
    props = schema.get("properties", {})
    for name, prop in list(props.items()):
        props[name] = _shallow(prop)


def with_error_envelope(schema: dict[str, Any]) -> None:
    """Declare in an outputSchema what an is-error result carries (``{"error", "errors"}``, see
    tools/mcp_server.py ``coded_errors``): clients that check every structuredContent against the
    schema (the TypeScript SDK does, errors included) accept a structured denial. The result's first
    required field becomes one arm of an ``anyOf``, the envelope's ``error`` the other."""
    props = schema.setdefault("properties", {})
    if "error" in props or "errors" in props:
        return
    props["error"] = {"type": "object"}  # {code, rule, message, remedy}; kept short, 13 tools repeat it
    props["errors"] = {"type": "array"}
    required = schema.pop("required", [])
    # a result carries its first required field, a refusal its error: either arm is enough to tell
    # them apart, and listing every required field again in 13 tools cost about 2 KB of tools/list
    if required:
        schema["anyOf"] = [{"required": required[:1]}, {"required": ["error"]}]


def register_tools(server: MCPServer, deps: ToolDeps) -> None:
    """Add every row of :data:`tools.tool_table.TOOLS` to ``server``, each through the common handler."""
    for spec in TOOLS:
        fn = _eliciting_function(deps, spec) if spec.elicits_secret else _tool_function(deps, spec)
        fn.__name__ = fn.__qualname__ = spec.name  # tracebacks and the SDK's generated model names read the tool's name
        server.add_tool(fn, name=spec.name, description=spec.description, annotations=spec.annotations)
        _compact_listing(server, spec.name, spec.unlisted, describe_arguments=spec.describe_arguments)

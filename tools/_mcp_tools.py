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

import itertools
import json
import os
import re
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
from mcp.types import CallToolResult, TextContent, ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from skill import flows, policy
from skill.backends.base import Backend
from skill.errors import SkillError
from skill.ledger import Ledger
from skill.models import Decision
from skill.policy import ToolCall
from skill.secrets import is_secret_name, looks_like_secret, redact, redact_obj, register_secret
from skill.steps.cache import CacheRequest, CacheResult, setup_model_cache
from skill.steps.compare import CompareRequest, CompareResult, render_side_by_side
from skill.steps.demo import DemoRequest, DemoResult, UploadRequest, UploadResult, prepare_demo_assets, upload_dataset
from skill.steps.guard import GuardRequest, GuardResult, pre_submit_guard
from skill.steps.logs import LogsRequest, LogsResult, get_logs
from skill.steps.monitor import PollRequest, PollResult, ProgressEvent, poll
from skill.steps.nim import NimHealthRequest, NimHealthResult, nim_health
from skill.steps.preflight import PreflightRequest, PreflightResult
from skill.steps.preflight import preflight as run_preflight
from skill.steps.stage import StageEvent, StageRequest, StageResult, stage_artifacts
from skill.steps.submit import SubmitRequest, SubmitResult, submit
from tools._mcp_state import SessionStates, _Slot

__all__ = ["TOOL_NAMES", "SecretAnswer", "SelectFlowRequest", "ToolDeps", "denial_text", "register_tools"]

TOOL_NAMES: tuple[str, ...] = (
    "select_flow",
    "preflight",
    "prepare_demo_assets",
    "upload_dataset",
    "pre_submit_guard",
    "setup_model_cache",
    "submit",
    "poll",
    "get_logs",
    "stage_artifacts",
    "render_side_by_side",
    "nim_health",
)
_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]{0,63}$")


class SelectFlowRequest(BaseModel):
    """What the user asked for, and any flow settings they gave explicitly."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(
        default="", max_length=4000,
        description="The user's request in their own words, verbatim, e.g. 'augment my videos in /data/clips with rain'.",
    )
    flow: str | None = Field(
        default=None, max_length=200,
        description="Only when the user named a flow: auto_labeling, augmentation_and_al, e2e, e2e_super_resolution "
        "(augmentation_and_pl is the legacy alias).",
    )
    super_resolution: bool | None = Field(default=None, description="True when the user asked for super-resolution, False when they ruled it out.")
    label_only: bool | None = Field(default=None, description="True when the user wants labels without augmentation.")


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


def _record(slot: _Slot, call: ToolCall, result: BaseModel) -> None:
    with slot.lock:
        slot.state.record(call, result)


async def _in_thread(slot: _Slot, call: ToolCall, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a step on a worker thread; a SkillError becomes a ToolError (code, message, remedy)."""
    try:
        return await anyio.to_thread.run_sync(partial(fn, *args, **kwargs))
    except SkillError as exc:
        with slot.lock:
            slot.state.record_failure(call, exc)
        raise ToolError(redact(str(exc))) from exc


async def _execute(deps: ToolDeps, ctx: Context, name: str, req: BaseModel, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    slot = deps.states.slot(ctx)
    call = ToolCall(name=name, arguments=_arguments(req))
    _check(slot, call)
    result = await _in_thread(slot, call, fn, *args, **kwargs)
    _record(slot, call, result)
    return result


def _reply(result: BaseModel, headline: str) -> CallToolResult:
    """Structured content (the source of truth) and a text view: one headline line, then the JSON."""
    data = redact_obj(result.model_dump(mode="json"))
    text = redact(headline) + "\n" + json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=data)


def _report(ctx: Context) -> Callable[[float, float | None, str], None]:
    """A progress reporter callable from the step's worker thread."""

    def send(progress: float, total: float | None, message: str) -> None:
        anyio.from_thread.run(ctx.report_progress, progress, total, redact(message))

    return send


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


# --- annotations ------------------------------------------------------------------------------


def _hints(title: str, *, read_only: bool, open_world: bool, destructive: bool = False, idempotent: bool = True) -> ToolAnnotations:
    if read_only:
        return ToolAnnotations(title=title, read_only_hint=True, open_world_hint=open_world)
    return ToolAnnotations(title=title, read_only_hint=False, destructive_hint=destructive, idempotent_hint=idempotent, open_world_hint=open_world)


_DESCRIPTIONS: dict[str, str] = {
    "select_flow": (
        "Pick the VDA flow for the user's request and get the execution-time overview. Call it first, with the "
        "user's words verbatim in text (and flow only if they named one). Returns flow (null when the request is "
        "a question, not a run), the reason, and eta; tell the user the eta text before any mutating step."
    ),
    "preflight": (
        "Check secrets, registry access, backend credentials, ONLINE pools and the pod template; sets the "
        "hf_token/nvcr_io credentials when needed. Call after select_flow and before any submit, with "
        "workflow=<flow>. status ok: go on and take gpu_platform from platforms. user_input_required: a secret "
        "is missing; when your client supports elicitation the user is asked directly, otherwise ask the user "
        "exactly `question` and call preflight again. failed: read the failing check and remedy."
    ),
    "prepare_demo_assets": (
        "Download the VDA demo videos (nvidia/video-data-augmentation-demo only) into a local folder. Use it only "
        "when the user gave no input of their own. Returns demo_dir and the files; then upload_dataset the folder "
        "as dataset vda-demo, and say in the final summary that the input came from the VDA demo dataset."
    ),
    "upload_dataset": (
        "Upload a local folder of videos flat to <storage_url>/datasets/<name>. Use it for the user's local "
        "videos or the demo folder. Returns dataset_url and the video stems; pass storage_url, dataset=<name> and "
        "one of videos as video to pre_submit_guard."
    ),
    "pre_submit_guard": (
        "Render the workflow with exactly the values you will submit and check variables, cookbook files, the "
        "video name, the dataset and the model caches. Call after preflight passed, with flow, dataset, "
        "storage_url, gpu_platform, video and both cache URLs (<storage_url>/data/models/cosmos_transfer and "
        "<storage_url>/data/models/auto_labeling). ok: submit with the same values and its run_id. cache_missing: "
        "call setup_model_cache with the remediation values, poll it, then rerun this guard. failed: fix the "
        "failed checks."
    ),
    "setup_model_cache": (
        "Submit the setup_model_cache workflow that fills the model caches under <storage_url>/<path>/models/. "
        "Call it when pre_submit_guard reports cache_missing, with the storage_url and path of its remediation "
        "(do not ask the user). Returns workflow_id: poll it with wait=true, then rerun pre_submit_guard. "
        "Idempotent per run_id."
    ),
    "submit": (
        "Submit the flow once with the canonical values (one --set-string). Requires a passing preflight and a "
        "passing pre_submit_guard for exactly these values in this session; pass the guard's run_id. Returns "
        "workflow_id and output_url; then poll. Idempotent per run_id: the same run_id and values return the "
        "same workflow; a new submit needs a fresh run_id."
    ),
    "poll": (
        "Read a workflow's status once (wait=false) or until it ends (wait=true, with progress notifications). "
        "Call after submit or setup_model_cache. COMPLETED: stage_artifacts next (after setup_model_cache: pre_submit_guard again). FAILED: read log_tail and hint. "
        "timed_out: poll again (over MCP a wait returns within 45 s unless timeout_s is set; progress every 10 s). "
        "Send the user a status line during long waits."
    ),
    "get_logs": (
        "Read the last lines of a workflow's log or of one task, secrets redacted, with a troubleshooting hint. "
        "Use it when poll shows a failed task."
    ),
    "stage_artifacts": (
        "Bring a finished run home: mirror its outputs and the input video into the local run folder "
        "(media/vda/runs/<run_id>/), resumable, with progress notifications. Call after poll reports COMPLETED. "
        "Returns local_run_dir, the augmented videos, sampled_vars and label summaries for the final summary."
    ),
    "render_side_by_side": (
        "Render the input beside an augmented clip (720p mp4, PNG contact sheet as fallback) inside the run "
        "folder. Call after stage_artifacts with its local_run_dir. Returns media_line: send it to the user "
        "exactly as given, alone in its own message."
    ),
    "nim_health": (
        "Check the VLM and LLM endpoints the auto-labeling workers call (read-only GETs). action reuse: healthy; "
        "install: run the returned command once, then check again. Never scale down or delete NIMs."
    ),
}


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


def register_tools(server: MCPServer, deps: ToolDeps) -> None:
    """Add every tool of :data:`TOOL_NAMES` to ``server``."""

    def add(fn: Callable[..., Any], annotations: ToolAnnotations) -> None:
        server.add_tool(fn, name=fn.__name__, description=_DESCRIPTIONS[fn.__name__], annotations=annotations)
        tool = server._tool_manager.get_tool(fn.__name__)
        if tool is not None:  # list only what an agent needs: plain-text descriptions, no generated titles
            tool.parameters = flat_schema(tool.parameters)
            compact_schema(tool.parameters)
            _omit_null_arms(tool.parameters)
            meta = tool.fn_metadata
            if meta.output_schema is not None:
                if meta.output_model is not None:  # what is returned is the serialized model: computed fields included
                    meta.output_schema = _inline_root_ref(
                        meta._output_adapter(meta.output_model).json_schema(mode="serialization", schema_generator=StrictJsonSchema))
                compact_schema(meta.output_schema, keep_descriptions=False)
                _drop_keys(meta.output_schema, ("default", "maxLength", "minLength", "pattern"))
                _type_unions(meta.output_schema)

    async def select_flow(req: SelectFlowRequest, ctx: Context) -> Annotated[CallToolResult, flows.FlowChoice]:
        slot = deps.states.slot(ctx)
        call = ToolCall(name="select_flow", arguments=_arguments(req))
        if not looks_like_secret(req.text):
            # text is the user's request verbatim: what it names is the user's input, before any judging
            with slot.lock:
                slot.state.note_user(req.text)
        _check(slot, call)
        result = await _in_thread(slot, call, flows.route, req.text, flow=req.flow, super_resolution=req.super_resolution,
                                  label_only=req.label_only, backend=deps.backend.name)
        _record(slot, call, result)
        eta = f" {result.eta.text()}" if result.eta else ""
        return _reply(result, f"Flow: {result.flow or 'none (not a run request)'}. {result.reason}{eta}")

    add(select_flow, _hints("Select flow", read_only=True, open_world=False))

    async def first_preflight(req: PreflightRequest, ctx: Context) -> PreflightResult:
        slot = deps.states.slot(ctx)
        call = ToolCall(name="preflight", arguments=_arguments(req))
        _check(slot, call)
        return await _in_thread(slot, call, run_preflight, req, backend=deps.backend)

    async def ask_secret(first: Annotated[PreflightResult, Resolve(first_preflight)], ctx: Context) -> SecretAnswer | Elicit[SecretAnswer] | None:
        name = _missing_secret(first)
        if name is None or not _can_elicit(ctx):
            return None
        return Elicit(first.question or f"Please provide {name}.", SecretAnswer)

    async def preflight(
        req: PreflightRequest,
        ctx: Context,
        first: Annotated[PreflightResult, Resolve(first_preflight)],
        secret: Annotated[ElicitationResult[SecretAnswer], Resolve(ask_secret)],
    ) -> Annotated[CallToolResult, PreflightResult]:
        slot = deps.states.slot(ctx)
        call = ToolCall(name="preflight", arguments=_arguments(req))
        result = first
        name = _missing_secret(first)
        if name and isinstance(secret, AcceptedElicitation) and isinstance(secret.data, SecretAnswer) and secret.data.value.strip():
            _accept_secret(name, secret.data.value.strip())
            result = await _in_thread(slot, call, run_preflight, req, backend=deps.backend)
        _record(slot, call, result)
        headline = f"Preflight {result.status}."
        if result.question:
            headline += f" Ask the user: {result.question}"
        elif result.remedy:
            headline += f" Next: {result.remedy}"
        return _reply(result, headline)

    add(preflight, _hints("Preflight", read_only=False, open_world=True))

    async def prepare_demo_assets_tool(req: DemoRequest, ctx: Context) -> Annotated[CallToolResult, DemoResult]:
        result = await _execute(deps, ctx, "prepare_demo_assets", req, prepare_demo_assets, req)
        return _reply(result, f"{len(result.files)} demo video(s) in {result.demo_dir}. Next: {result.next}")

    prepare_demo_assets_tool.__name__ = "prepare_demo_assets"
    add(prepare_demo_assets_tool, _hints("Prepare demo assets", read_only=False, open_world=True, destructive=True))

    async def upload_dataset_tool(req: UploadRequest, ctx: Context) -> Annotated[CallToolResult, UploadResult]:
        result = await _execute(deps, ctx, "upload_dataset", req, upload_dataset, req, backend=deps.backend)
        return _reply(result, f"Uploaded {len(result.files)} file(s) to {result.dataset_url}.")

    upload_dataset_tool.__name__ = "upload_dataset"
    add(upload_dataset_tool, _hints("Upload dataset", read_only=False, open_world=True))

    async def pre_submit_guard_tool(req: GuardRequest, ctx: Context) -> Annotated[CallToolResult, GuardResult]:
        result = await _execute(deps, ctx, "pre_submit_guard", req, pre_submit_guard, req, backend=deps.backend)
        return _reply(result, f"Guard {result.status} (run_id {result.run_id}). {result.summary}")

    pre_submit_guard_tool.__name__ = "pre_submit_guard"
    add(pre_submit_guard_tool, _hints("Pre-submit guard", read_only=True, open_world=True))

    async def setup_model_cache_tool(req: CacheRequest, ctx: Context) -> Annotated[CallToolResult, CacheResult]:
        result = await _execute(deps, ctx, "setup_model_cache", req, setup_model_cache, req, backend=deps.backend, ledger=deps.ledger)
        return _reply(result, f"{result.message} Next: {result.next}")

    setup_model_cache_tool.__name__ = "setup_model_cache"
    add(setup_model_cache_tool, _hints("Set up model cache", read_only=False, open_world=True))

    async def submit_tool(req: SubmitRequest, ctx: Context) -> Annotated[CallToolResult, SubmitResult]:
        result = await _execute(deps, ctx, "submit", req, submit, req, backend=deps.backend, ledger=deps.ledger)
        return _reply(result, result.message + (f" Next: {result.remedy}" if result.remedy else ""))

    submit_tool.__name__ = "submit"
    add(submit_tool, _hints("Submit workflow", read_only=False, open_world=True))

    async def poll_tool(req: PollRequest, ctx: Context) -> Annotated[CallToolResult, PollResult]:
        on_progress = None
        if req.wait:
            # fit common client request timeouts (60 s in the TypeScript SDK): unless the caller chose,
            # a wait returns within 45 s (timed_out: call poll again, nothing is lost) with progress every 10 s
            update = {k: v for k, v in MCP_WAIT_DEFAULTS.items() if k not in req.model_fields_set}
            update["max_interval_s"] = min(req.max_interval_s, 10.0) if "max_interval_s" not in req.model_fields_set else req.max_interval_s
            update["interval_s"] = min(req.interval_s, update["max_interval_s"])
            req = PollRequest.model_validate({**req.model_dump(), **update})
            send, counter = _report(ctx), itertools.count(1)

            def on_progress(event: ProgressEvent) -> None:
                send(next(counter), None, f"[{event.elapsed_s:.0f}s] {event.message}")

        result = await _execute(deps, ctx, "poll", req, poll, req, backend=deps.backend, on_progress=on_progress)
        return _reply(result, result.message + (f" Next: {result.next}" if result.next else ""))

    poll_tool.__name__ = "poll"
    add(poll_tool, _hints("Poll workflow", read_only=True, open_world=True))

    async def get_logs_tool(req: LogsRequest, ctx: Context) -> Annotated[CallToolResult, LogsResult]:
        result = await _execute(deps, ctx, "get_logs", req, get_logs, req, backend=deps.backend)
        hint = f" Hint: {result.hint.title}" if result.hint else ""
        return _reply(result, f"{result.lines} log line(s) of {result.task or result.workflow_id}.{hint}")

    get_logs_tool.__name__ = "get_logs"
    add(get_logs_tool, _hints("Get logs", read_only=True, open_world=True))

    async def stage_artifacts_tool(req: StageRequest, ctx: Context) -> Annotated[CallToolResult, StageResult]:
        send = _report(ctx)

        def on_progress(event: StageEvent) -> None:
            send(event.done, event.total, f"{event.kind} {event.path}")

        result = await _execute(deps, ctx, "stage_artifacts", req, stage_artifacts, req, backend=deps.backend, on_progress=on_progress)
        return _reply(result, result.message)

    stage_artifacts_tool.__name__ = "stage_artifacts"
    add(stage_artifacts_tool, _hints("Stage artifacts", read_only=False, open_world=True))

    async def render_side_by_side_tool(req: CompareRequest, ctx: Context) -> Annotated[CallToolResult, CompareResult]:
        result = await _execute(deps, ctx, "render_side_by_side", req, render_side_by_side, req)
        return _reply(result, f"Rendered a {result.kind} comparison. Send this line alone in its own message: {result.media_line}")

    render_side_by_side_tool.__name__ = "render_side_by_side"
    add(render_side_by_side_tool, _hints("Render side by side", read_only=False, open_world=False))

    async def nim_health_tool(req: NimHealthRequest, ctx: Context) -> Annotated[CallToolResult, NimHealthResult]:
        result = await _execute(deps, ctx, "nim_health", req, nim_health, req)
        return _reply(result, f"NIM endpoints: {result.action}." + (f" Run once: {result.command}" if result.command else ""))

    nim_health_tool.__name__ = "nim_health"
    add(nim_health_tool, _hints("NIM health", read_only=True, open_world=True))


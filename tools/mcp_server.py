"""The vda-skill MCP server: one typed tool per step, every call through the policy gate.

    server = build_server(backend_name="local")     # or build_server(backend=LocalBackend(root=...))
    server.run()                                    # stdio; see serve_http() for streamable HTTP

Tools (``tools/_mcp_tools.py``) list FLAT input schemas: the step's request model's fields are the
tool's arguments (``additionalProperties: false``), and the step's result model comes back as
structured content. The older wrapped form ``{"req": {...}}`` is still accepted, unchanged in
meaning, for clients written against earlier versions; it is deprecated and not listed. Argument errors name the
fields and the rule that failed, never the rejected values (pydantic's own text would echo them, a
secret passed by mistake included); when a policy rule explains the mistake, its id comes first.

Run state is session-scoped (``tools/_mcp_state.py`` documents what identifies a session in
mcp 2.3 for each transport and how the state is keyed).

Resources: ``vda://skill`` (SKILL.md), ``vda://references/{name}`` (references/*.md,
references/flows/*.md, ``nim``), ``vda://flows`` (the catalogue with this backend's estimates),
``vda://runs/{run_id}`` (a run's ledger record and staged outputs). Prompt: ``augment_my_videos``.
"""

import json
import logging
import re
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from mcp.server import MCPServer
from mcp.server.mcpserver.exceptions import (
    ResourceNotFoundError,
    ToolError,
    UnexpectedToolError,
)
from mcp.types import CallToolResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skill import flows, policy
from skill.backends.base import Backend
from skill.echo import mask_arguments
from skill.ledger import Ledger, RunRecord
from skill.models import RUN_ID_PATTERN
from skill.paths import references_dir, skill_root
from skill.policy import ToolCall
from skill.secrets import redact
from skill.steps.stage import default_run_dir
from tools._mcp_state import SessionStates
from tools._mcp_tools import TOOL_NAMES, ToolDeps, denial_text, register_tools

__all__ = ["RunSummary", "VdaMCPServer", "build_server", "field_errors", "http_server", "mask_values", "reference_names", "rejected_values", "serve_http"]

log = logging.getLogger(__name__)

_REQUEST_ARG = "req"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,80}$")
_MAX_LISTED_FILES = 200


def _version() -> str:
    try:
        return version("vda-skill")
    except PackageNotFoundError:
        return "0.0.0"


class VdaMCPServer(MCPServer):
    """MCPServer with vda's argument handling: flat fields accepted, validation errors without values."""

    def __init__(self, *args: Any, session_states: SessionStates, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.session_states = session_states

    async def _handle_call_tool(self, ctx: Any, params: Any) -> Any:
        result = await super()._handle_call_tool(ctx, params)
        if isinstance(result, CallToolResult) and result.is_error:
            arguments = getattr(params, "arguments", None)
            for block in result.content:  # a refusal never quotes a value that is not plain (skill.echo)
                if isinstance(getattr(block, "text", None), str):
                    block.text = mask_arguments(block.text, arguments)
            if result.structured_content is None:
                errors = coded_errors("\n".join(getattr(b, "text", "") for b in result.content))
                if errors:
                    result.structured_content = {"error": errors[0], "errors": errors}
            else:
                result.structured_content = _masked(result.structured_content, arguments)
        return result

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        if name in TOOL_NAMES:
            arguments = _wrapped(name, arguments)
        try:
            return await super().call_tool(name, arguments, context)
        except UnexpectedToolError:
            raise
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(self._invalid_arguments(name, arguments, exc.__cause__, context)) from exc.__cause__
            raise

    def _invalid_arguments(self, name: str, arguments: dict[str, Any], error: ValidationError, context: Any) -> str:
        parts = []
        raw = arguments.get(_REQUEST_ARG)
        if isinstance(raw, dict) and context is not None:
            slot = self.session_states.slot(context)
            with slot.lock:
                decision = policy.check(ToolCall(name=name, arguments=raw), slot.state)
            if not decision.allowed:
                parts.append(denial_text(decision))
        problems = "; ".join(field_errors(error))
        parts.append(f"[invalid-arguments] Invalid arguments for {name}: {problems}. "
                     f"Next: Fix these fields (their values are not repeated here) and call {name} again.")
        return mask_values("\n".join(parts), rejected_values(error))


_CODED = re.compile(r"(?:^|: )\[([a-z0-9][a-z0-9-]*)\] (.*?)(?: Next: (.*))?$")


def coded_errors(text: str) -> list[dict[str, Any]]:
    """Each ``[id] message Next: remedy`` line of an error text as structured content: code, rule
    (the id when it is a policy rule, else null), message, remedy. Is-error results carry
    ``{"error": <first>, "errors": [<all>]}`` beside the text."""
    out = []
    for line in text.splitlines():
        match = _CODED.search(line.strip())
        if match:
            ident, message, remedy = match.groups()
            out.append({"code": ident, "rule": ident if ident in policy.RULES else None, "message": message, "remedy": remedy})
    return out


def _wrapped(name: str, arguments: dict[str, Any] | None) -> dict[str, Any]:
    """``{"req": {...}}`` as given, or flat fields wrapped into ``req``."""
    arguments = dict(arguments or {})
    if _REQUEST_ARG not in arguments:
        return {_REQUEST_ARG: arguments}
    extra = sorted(str(k) for k in arguments if k != _REQUEST_ARG)
    if extra:
        raise ToolError(redact(
            f"{name} got the deprecated req wrapper beside other argument(s): {', '.join(extra)}. "
            "Send every field flat at the top level (no req) and call again."
        ))
    return arguments


def rejected_values(error: ValidationError) -> list[str]:
    """The scalar inputs pydantic rejected (as text, longest first): they may be secrets given by mistake."""
    values = {str(item["input"]) for item in error.errors(include_url=False)
              if isinstance(item.get("input"), (str, int, float)) and not isinstance(item.get("input"), bool)}
    return sorted((v for v in values if len(v) >= 3), key=len, reverse=True)


def _masked(content: Any, arguments: Any) -> Any:
    """Structured error content with the same masking as its text."""
    if isinstance(content, str):
        return mask_arguments(content, arguments)
    if isinstance(content, dict):
        return {k: _masked(v, arguments) for k, v in content.items()}
    if isinstance(content, list):
        return [_masked(v, arguments) for v in content]
    return content


def mask_values(text: str, values: list[str]) -> str:
    """``text`` with every occurrence of ``values`` replaced by ``<value>``, then redacted."""
    for value in values:
        text = text.replace(value, "<value>")
    return redact(text)


def field_errors(error: ValidationError) -> list[str]:
    """``field: what is wrong`` for each error, with the rejected input removed from the text."""
    out = []
    for item in error.errors(include_url=False):
        loc = [str(part) for part in item.get("loc", ())]
        if loc and loc[0] == _REQUEST_ARG:
            loc = loc[1:]
        where = ".".join(loc) or "(arguments)"
        message = str(item.get("msg", "invalid"))
        given = item.get("input")
        if isinstance(given, str) and len(given) >= 3 and given in message:
            message = message.replace(given, "<value>")
        out.append(redact(f"{where}: {message}"))
    return out


# --- resources ---------------------------------------------------------------------------------


class RunSummary(BaseModel):
    """What the server knows about a run: its ledger record and what was staged locally."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    record: RunRecord | None = Field(default=None, description="The ledger row: flow, values (redacted), workflow id, status.")
    local_run_dir: str | None = Field(default=None, description="The local run folder, when outputs were staged.")
    input_video: str | None = None
    augmented_videos: list[str] = Field(default_factory=list)
    media: list[str] = Field(default_factory=list, description="Rendered comparisons under display/ (absolute paths).")
    files: list[str] = Field(default_factory=list, description="Staged files, relative to local_run_dir (first 200).")


def reference_names() -> dict[str, Path]:
    """Reference name -> file: references/*.md, references/flows/*.md and ``nim`` (references/nim/README.md)."""
    root = references_dir()
    names: dict[str, Path] = {}
    for path in sorted(root.glob("*.md")):
        names[path.stem] = path
    for path in sorted((root / "flows").glob("*.md")):
        names.setdefault(path.stem, path)
    nim = root / "nim" / "README.md"
    if nim.is_file():
        names.setdefault("nim", nim)
    return names


def _run_summary(run_id: str, ledger: Ledger) -> RunSummary:
    record = ledger.get(run_id)
    run_dir = default_run_dir(run_id)
    if record is None and not run_dir.is_dir():
        raise ResourceNotFoundError(f"No run {run_id} in the ledger or the local runs folder.")
    summary = RunSummary(run_id=run_id, record=record)
    if run_dir.is_dir():
        files = sorted(p for p in run_dir.rglob("*") if p.is_file() and not p.name.startswith("."))
        summary.local_run_dir = str(run_dir)
        summary.files = [str(p.relative_to(run_dir)) for p in files[:_MAX_LISTED_FILES]]
        summary.input_video = next((str(p) for p in files if p.parent == run_dir / "input" and p.suffix == ".mp4"), None)
        summary.augmented_videos = [str(p) for p in files if (run_dir / "outputs" / "augmented") in p.parents and p.suffix == ".mp4"]
        summary.media = [str(p) for p in files if p.parent == run_dir / "display"]
    return summary


def _register_resources(server: MCPServer, deps: ToolDeps) -> None:
    @server.resource("vda://skill", name="skill", title="SKILL.md", mime_type="text/markdown",
                     description="What the skill does, its tools in run order, the defaults and the rules (with their ids).")
    def skill_text() -> str:
        return (skill_root() / "SKILL.md").read_text(encoding="utf-8")

    names = ", ".join(reference_names())

    @server.resource("vda://references/{name}", name="reference", title="Reference", mime_type="text/markdown",
                     description=f"A reference page by name: {names}.")
    def reference(name: str) -> str:
        path = reference_names().get(name) if _NAME.match(name) else None
        if path is None:
            raise ResourceNotFoundError(f"No reference named {name[:80]!r}; known: {', '.join(reference_names())}.")
        return path.read_text(encoding="utf-8")

    @server.resource("vda://flows", name="flows", title="Flow catalogue", mime_type="application/json",
                     description="Every flow and the cache workflow: graph, what it labels, cache variables, and the estimate on this backend.")
    def flow_catalogue() -> str:
        backend = deps.backend.name
        entries = []
        for info in flows.catalogue():
            entry = info.model_dump(mode="json")
            entry["eta_here"] = flows.eta(info.name, backend=backend).model_dump(mode="json")
            entries.append(entry)
        return json.dumps({"backend": backend, "default_flow": flows.DEFAULT_FLOW, "flows": entries}, indent=1)

    @server.resource("vda://runs/{run_id}", name="run", title="Run summary", mime_type="application/json",
                     description="A run's ledger record (flow, redacted values, workflow id, status) and its staged local outputs.")
    def run_resource(run_id: str) -> str:
        if not re.match(RUN_ID_PATTERN, run_id):
            raise ResourceNotFoundError("A run id is 'run-' followed by 8 lowercase hex characters, e.g. run-1a2b3c4d.")
        return _run_summary(run_id, deps.ledger).model_dump_json(indent=1)


def _register_prompts(server: MCPServer) -> None:
    @server.prompt(name="augment_my_videos", title="Augment my videos",
                   description="Run the whole augmentation flow on the user's videos (or the VDA demo when they give none).")
    def augment_my_videos(source: str = "") -> str:
        where = f" The input is: {source}." if source.strip() else " I did not name any input, so use the VDA demo dataset."
        return (
            f"Augment my videos and auto-label the augmented clips.{where}\n\n"
            "Work through the vda tools without pausing for approval between green stages: select_flow (tell me "
            "the ETA), preflight, upload_dataset (or prepare_demo_assets for the demo), pre_submit_guard "
            "(setup_model_cache and the guard again if a cache is missing), submit, poll with wait=true (send me a "
            "status line during long waits), stage_artifacts, render_side_by_side. Ask me only for a secret "
            "preflight cannot find, a storage prefix you cannot derive, or when no pool is ONLINE. Finish with the "
            "MEDIA line alone in its own message, then the sampled variables and the auto-label summary."
        )


# --- building and serving ----------------------------------------------------------------------


def _instructions(backend: Backend) -> str:
    lines = [
        "vda-skill runs video data augmentation and auto-labeling workflows. Read vda://skill for the tools, "
        "defaults and rules. Call the tools in run order: select_flow, preflight, prepare_demo_assets or "
        "upload_dataset, pre_submit_guard, submit, poll, stage_artifacts, render_side_by_side.",
        "Every call is checked against the policy; a refusal names the rule id and the call to make instead: "
        "make that call, do not try variations.",
        f"Backend: {backend.name}.",
    ]
    root = getattr(backend, "root", None)
    if backend.name == "local" and root is not None:
        lines.append(
            f"On this local backend every absolute folder works as storage_url; unless the user names one, use "
            f"storage_url={Path(root) / 'storage' / 'local'}, gpu_platform comes from preflight (cpu)."
        )
    return "\n".join(lines)


def build_server(*, backend: Backend | None = None, backend_name: str = "local", ledger: Ledger | None = None,
                 remember_default: bool = False) -> VdaMCPServer:
    """The MCP server over ``backend`` (built from ``backend_name`` when not given). The ledger
    defaults to ``<workspace>/.vda/ledger.sqlite`` and is opened on first use. ``remember_default``
    (``vda mcp`` over stdio) saves the default session state in the ledger, so a client that starts
    one process per call keeps its policy memory (tools/_mcp_state.py)."""
    if backend is None:
        from tools.backends import make_backend

        backend = make_backend(backend_name)
    deps = ToolDeps(backend=backend, states=SessionStates(), ledger_factory=(lambda: ledger) if ledger is not None else Ledger)
    scope = f"stdio:{backend.name}:{getattr(backend, 'root', '') or ''}" if remember_default else None
    states = deps.states = SessionStates(ledger=lambda: deps.ledger, default_scope=scope)
    server = VdaMCPServer(
        "vda-skill",
        title="Video data augmentation",
        instructions=_instructions(backend),
        version=_version(),
        log_level="WARNING",
        session_states=states,
    )
    register_tools(server, deps)
    _register_resources(server, deps)
    _register_prompts(server)
    return server


def http_server(server: MCPServer, host: str, port: int):
    """A uvicorn server for streamable HTTP at ``http://host:port/mcp``, logging to stderr only
    (no access log). ``.run()`` blocks; tests run it on a thread and call ``.should_exit = True``."""
    import uvicorn

    app = server.streamable_http_app(host=host)
    # open event streams would hold a graceful shutdown forever: SIGTERM ends the server within 5 s
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False, lifespan="on", timeout_graceful_shutdown=3)
    return uvicorn.Server(config)


def serve_http(server: MCPServer, host: str, port: int) -> None:
    """Serve ``server`` over streamable HTTP until interrupted."""
    http_server(server, host, port).run()

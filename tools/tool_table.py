"""The skill's tools as one table: a :class:`Tool` row per tool, everything else derived from it.

A row names the tool and holds its request and result models, the plain step function it runs
(and which shared dependencies that step takes), the headline of its reply, its annotations
(read-only, destructive, idempotent, open-world) and the description an agent reads.

Built from :data:`TOOLS`:

* the MCP registration (``tools/_mcp_tools.py``: one common handler per row) and the server's
  flat-argument handling (``tools/mcp_server.py``);
* the chat agent's tool list (``tools/agent.py`` lists what the server registers);
* the policy's tool set: a row's judge and recorder are looked up by its name in
  :data:`skill.policy.CALL_JUDGES` / :data:`skill.policy.RECORDERS` (the policy is pure and sits
  below this layer, so it keys its judges by name instead of importing this table);
  ``tests/unit/test_policy.py`` fails when a key there is not a row here or a mutating row
  (``read_only=False``) has no judge.

Adding a tool: its step module (request model, result model, function), one row below, and, when
it mutates anything, a judge in :data:`skill.policy.CALL_JUDGES`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field

from skill import flows, policy
from skill.backends.base import Backend
from skill.conditions import route_with_looks
from skill.models import Violation
from skill.steps.cache import CacheRequest, CacheResult, setup_model_cache
from skill.steps.compare import CompareRequest, CompareResult, render_side_by_side
from skill.steps.demo import DemoRequest, DemoResult, UploadRequest, UploadResult, prepare_demo_assets, upload_dataset
from skill.steps.guard import GuardRequest, GuardResult, pre_submit_guard
from skill.steps.logs import LogsRequest, LogsResult, get_logs
from skill.steps.monitor import PollRequest, PollResult, ProgressEvent, poll
from skill.steps.nim import NimHealthRequest, NimHealthResult, nim_health
from skill.steps.nim_ensure import NimEnsureRequest, NimEnsureResult, nim_ensure
from skill.steps.preflight import PreflightRequest, PreflightResult
from skill.steps.preflight import preflight as run_preflight
from skill.steps.stage import StageEvent, StageRequest, StageResult, stage_artifacts
from skill.steps.batches import FanoutSubmitRequest, submit_run
from skill.steps.submit import SubmitResult

__all__ = ["TOOLS", "TOOL_NAMES", "SelectFlowRequest", "Tool", "tool"]

Dependency = Literal["backend", "ledger"]
Progress = tuple[float | None, float | None, str]


class SelectFlowRequest(BaseModel):
    """What the user asked for, and any flow settings they gave explicitly."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str = Field(
        default="", max_length=4000,
        description="The user's request, verbatim.",
    )
    flow: str | None = Field(
        default=None, max_length=200,
        description="Only when the user named one: auto_labeling, augmentation_and_al, e2e, e2e_super_resolution.",
    )
    super_resolution: bool | None = Field(default=None, description="Whether the user asked for (or ruled out) super-resolution.")
    label_only: bool | None = Field(default=None, description="True when the user wants labels without augmentation.")


def select_flow(req: SelectFlowRequest, *, backend: Backend) -> flows.FlowChoice:
    """The step behind the select_flow tool: route the user's words to a flow, with this backend's ETA
    and the looks the words name."""
    return route_with_looks(req.text, flow=req.flow, super_resolution=req.super_resolution, label_only=req.label_only, backend=backend.name)


@dataclass(frozen=True)
class Tool:
    """One tool: what it takes, what it returns, what it runs and how it is described."""

    name: str
    title: str
    request: type[BaseModel]
    result: type[BaseModel]
    step: Callable[..., Any]
    headline: Callable[[Any], str]
    description: str
    read_only: bool
    open_world: bool
    destructive: bool = False
    idempotent: bool = True
    needs: tuple[Dependency, ...] = ()
    # a step that reports progress: its event as (progress or None to count, total, message)
    progress: Callable[[Any], Progress] | None = None
    progress_when: Callable[[Any], bool] = lambda req: True
    # its request carries the user's words verbatim: the session notes them before the gate
    hears_user: bool = False
    # asks a missing secret through elicitation and reruns the step (preflight)
    elicits_secret: bool = False
    # arguments an agent does not need, left out of tools/list (tuning: timeouts, retries, backoff;
    # operator-only: skills_dir; rarely: the demo's revision/subdir): the defaults serve an agent, the
    # CLI exposes them, and a client that sends one anyway is still understood
    unlisted: tuple[str, ...] = ()
    # False: the listing gives the arguments' names and types only (submit: they are the guard's values)
    describe_arguments: bool = True

    @property
    def annotations(self) -> ToolAnnotations:
        if self.read_only:
            return ToolAnnotations(title=self.title, read_only_hint=True, open_world_hint=self.open_world)
        return ToolAnnotations(title=self.title, read_only_hint=False, destructive_hint=self.destructive,
                               idempotent_hint=self.idempotent, open_world_hint=self.open_world)

    @property
    def judge(self) -> Callable[[Mapping[str, Any], policy.RunState], list[Violation]] | None:
        """The policy's own rules for this tool (every call also gets the general checks)."""
        return policy.CALL_JUDGES.get(self.name)

    @property
    def recorder(self) -> Callable[..., None] | None:
        """What a successful call tells the run state, if anything."""
        return policy.RECORDERS.get(self.name)


def _preflight_headline(result: PreflightResult) -> str:
    headline = f"Preflight {result.status}."
    if result.question:
        return headline + f" Ask the user: {result.question}"
    if result.remedy:
        return headline + f" Next: {result.remedy}"
    return headline


def _poll_progress(event: ProgressEvent) -> Progress:
    return None, None, f"[{event.elapsed_s:.0f}s] {event.message}"


def _stage_progress(event: StageEvent) -> Progress:
    return event.done, event.total, f"{event.kind} {event.path}"


TOOLS: tuple[Tool, ...] = (
    Tool(
        name="select_flow", title="Select flow", request=SelectFlowRequest, result=flows.FlowChoice, step=select_flow,
        needs=("backend",), hears_user=True, read_only=True, open_world=False,
        headline=lambda r: f"Flow: {r.flow or 'none (not a run request)'}. {r.reason}" + (f" {r.eta.text()}" if r.eta else ""),
        description=(
            "Call first, with the user's words verbatim (flow only if they named one). Returns the flow (null if not a run "
            "request), why, the eta and conditions (the looks named, for the guard). Tell the user the eta "
            "before any mutating step."
        ),
    ),
    Tool(
        name="preflight", title="Preflight", request=PreflightRequest, result=PreflightResult, step=run_preflight,
        needs=("backend",), elicits_secret=True, read_only=False, open_world=True, headline=_preflight_headline,
        description=(
            "Check secrets, registries, credentials, ONLINE pools and the pod template, and set the "
            "hf_token/nvcr_io credentials; call with workflow=<flow> before any submit. ok: take gpu_platform from "
            "platforms. user_input_required: ask the user exactly question, then call again. failed: follow the failing "
            "check's remedy."
        ),
    ),
    Tool(
        name="prepare_demo_assets", title="Prepare demo assets", request=DemoRequest, result=DemoResult, step=prepare_demo_assets, unlisted=("retries", "timeout_s", "revision", "subdir"),
        read_only=False, open_world=True, destructive=True,
        headline=lambda r: f"{len(r.files)} demo video(s) in {r.demo_dir}. Next: {r.next}",
        description=(
            "Only when the user gave no input: download the VDA demo videos into a local folder, then upload_dataset it as "
            "dataset vda-demo; the final summary says the input was the demo."
        ),
    ),
    Tool(
        name="upload_dataset", title="Upload dataset", request=UploadRequest, result=UploadResult, step=upload_dataset,
        needs=("backend",), read_only=False, open_world=True,
        headline=lambda r: f"Uploaded {len(r.files)} file(s) to {r.dataset_url}.",
        description=(
            "Upload a local folder of videos flat to <storage_url>/datasets/<name>. Returns dataset_url and the video stems "
            "for pre_submit_guard."
        ),
    ),
    Tool(
        name="pre_submit_guard", title="Pre-submit guard", request=GuardRequest, result=GuardResult, step=pre_submit_guard, unlisted=("skills_dir",),
        needs=("backend",), read_only=True, open_world=True,
        headline=lambda r: f"Guard {r.status} (run_id {r.run_id}). {r.summary}",
        description=(
            "Render the workflow with exactly the values you will submit and check it (variables, files, video, dataset, "
            "caches); pass both cache URLs. ok: submit the returned "
            "values and run_id. cache_missing: setup_model_cache with the remediation, poll it, guard again. failed: fix "
            "the failed checks."
        ),
    ),
    Tool(
        name="setup_model_cache", title="Set up model cache", request=CacheRequest, result=CacheResult, step=setup_model_cache,
        needs=("backend", "ledger"), read_only=False, open_world=True,
        headline=lambda r: f"{r.message} Next: {r.next}",
        description=(
            "When the guard reports cache_missing: fill the model caches under <storage_url>/<path>/models/ with its "
            "remediation's storage_url and path (do not ask). Poll the returned workflow_id with wait=true, then guard "
            "again."
        ),
    ),
    Tool(
        name="submit", title="Submit workflow", request=FanoutSubmitRequest, result=SubmitResult, step=submit_run, describe_arguments=False, unlisted=("skills_dir", "batch_size"),
        needs=("backend", "ledger"), read_only=False, open_world=True,
        headline=lambda r: r.message + (f" Next: {r.remedy}" if r.remedy else ""),
        description=(
            "After a passing preflight, submit once with the values and run_id a passing pre_submit_guard returned; then "
            "poll workflow_id. Many clips: max_in_flight=N runs a workflow per batch; submit again to advance."
        ),
    ),
    Tool(
        name="poll", title="Poll workflow", request=PollRequest, result=PollResult, step=poll, unlisted=("interval_s", "max_interval_s", "heartbeat_s", "max_transient_errors"),
        needs=("backend", "ledger"), progress=_poll_progress, progress_when=lambda req: req.wait, read_only=True, open_world=True,
        headline=lambda r: r.message + (f" Next: {r.next}" if r.next else ""),
        description=(
            "Read a workflow's status, or wait for its end (wait=true returns within 45 s; timed_out: call again). "
            "COMPLETED: stage_artifacts (after setup_model_cache: guard again). FAILED: read log_tail and hint. Tell "
            "the user the status while waiting."
        ),
    ),
    Tool(
        name="get_logs", title="Get logs", request=LogsRequest, result=LogsResult, step=get_logs,
        needs=("backend",), read_only=True, open_world=True,
        headline=lambda r: f"{r.lines} log line(s) of {r.task or r.workflow_id}." + (f" Hint: {r.hint.title}" if r.hint else ""),
        description=(
            "A failed workflow's or task's last log lines, secrets redacted, with a troubleshooting hint."
        ),
    ),
    Tool(
        name="stage_artifacts", title="Stage artifacts", request=StageRequest, result=StageResult, step=stage_artifacts,
        needs=("backend", "ledger"), progress=_stage_progress, read_only=False, open_world=True,
        headline=lambda r: r.message,
        description=(
            "After poll reports COMPLETED: mirror the run's outputs and input video into media/vda/runs/<run_id>/. Returns "
            "local_run_dir, sampled_vars and label summaries."
        ),
    ),
    Tool(
        name="render_side_by_side", title="Render side by side", request=CompareRequest, result=CompareResult, step=render_side_by_side, unlisted=("timeout_s",),
        read_only=False, open_world=False,
        headline=lambda r: f"Rendered a {r.kind} comparison. Send this line alone in its own message: {r.media_line}",
        description=(
            "Render the input beside an augmented clip in the run folder stage_artifacts returned. Send the returned "
            "media_line exactly, alone in its own message."
        ),
    ),
    Tool(
        name="nim_health", title="NIM health", request=NimHealthRequest, result=NimHealthResult, step=nim_health, unlisted=("timeout",),
        read_only=True, open_world=True,
        headline=lambda r: f"NIM endpoints: {r.action}." + (f" Run once: {r.command}" if r.command else ""),
        description=(
            "Check the VLM and LLM endpoints (read-only: kubectl, else HTTP). reuse: healthy; install: call nim_ensure; "
            "wait: loading; unknown: see findings. Never scale down or delete NIMs."
        ),
    ),
    Tool(
        name="nim_ensure", title="Ensure NIMs", request=NimEnsureRequest, result=NimEnsureResult, step=nim_ensure, unlisted=("timeout_s",),
        progress=lambda line: (None, None, line), progress_when=lambda req: req.apply, read_only=False, open_world=True,
        headline=lambda r: f"NIM ensure: {r.outcome}." + (f" Command: {r.command}" if r.command and r.outcome == "would-run" else ""),
        description=(
            "When nim_health says install: deploy or repair exactly qwen3-vl and qwen25-14b. Without apply: the plan, eta "
            "and command; tell the user the eta, then call once with apply=true."
        ),
    ),
)

TOOL_NAMES: tuple[str, ...] = tuple(t.name for t in TOOLS)
_BY_NAME: dict[str, Tool] = {t.name: t for t in TOOLS}


def tool(name: str) -> Tool | None:
    """The row named ``name``, or None."""
    return _BY_NAME.get(name)

"""Poll a workflow: once, or until it ends, with heartbeats, backoff and a monotonic deadline.

Modelled on huggingface_hub's ``wait_for_job``: the bounds are validated first (by the request
model), the deadline is ``clock() + timeout_s``, any terminal status stops the loop, and a FAILED
workflow is *returned* (with the failed tasks' log tails and a troubleshooting hint), not raised.
Transient backend errors (unavailable, timeout, rate limited) are counted and survived up to
``max_transient_errors`` in a row; one more raises the last of them. Running past the deadline
returns ``timed_out: true`` naming the last state and the call to make next. Between reads it
sleeps on its backoff; on a backend that signals changes (``traits.signals_changes``: the local
runner) it blocks on that signal instead, bounded by the same pause, so the end of a workflow is
read within milliseconds and a missed signal costs no more than plain polling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from skill import fanout
from skill.backends.base import Backend
from skill.errors import BackendTimeout, BackendUnavailable, RateLimited, SkillError
from skill.flows import CACHE_WORKFLOW
from skill.ledger import Ledger
from skill.models import WorkflowStatus
from skill.secrets import redact
from skill.steps import batches
from skill.steps.logs import read_log
from skill.triage import TriageHint, triage

__all__ = ["PollRequest", "PollResult", "ProgressEvent", "TaskReport", "poll"]

_TRANSIENT = (BackendUnavailable, BackendTimeout, RateLimited)
_BACKOFF = 1.5
_MAX_LOGGED_TASKS = 3


class PollRequest(BaseModel):
    """Which workflow to poll and how long to wait for it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workflow_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=200)] = Field(
        description="Workflow id from submit, e.g. vda-demo-3."
    )
    wait: bool = Field(default=False, description="true: poll until the workflow ends or timeout_s.")
    timeout_s: float = Field(default=3600.0, ge=1, le=86400, description="Longest wait in seconds.")
    interval_s: float = Field(default=15.0, ge=1, le=600, description="First pause between reads in seconds (1-600), e.g. 15.")
    max_interval_s: float = Field(default=60.0, ge=1, le=600, description="Backoff cap in seconds (1-600); pauses grow x1.5 while nothing changes.")
    heartbeat_s: float = Field(default=120.0, ge=1, le=120, description="A progress event at least this often in seconds (1-120).")
    max_transient_errors: int = Field(default=5, ge=0, le=50, description="Consecutive transient backend errors survived (0-50) before failing.")
    log_lines: int = Field(default=200, ge=1, le=5000, description="Log lines per failed task.")

    @model_validator(mode="after")
    def _cap_not_below_interval(self) -> PollRequest:
        if self.max_interval_s < self.interval_s:
            raise ValueError("max_interval_s must be at least interval_s")
        return self


class TaskReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    status: str
    exit_code: int | None = None
    failure_message: str | None = None


class ProgressEvent(BaseModel):
    """One update while polling: a status change, a heartbeat, or a transient error being retried."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["status", "heartbeat", "transient_error"]
    workflow_id: str
    status: str | None = Field(description="Last known workflow status, None before the first successful read.")
    elapsed_s: float
    message: str
    tasks: list[TaskReport] = Field(default_factory=list)


class PollResult(BaseModel):
    """The workflow's state; on failure also the failed tasks' log tails and a troubleshooting hint."""

    model_config = ConfigDict(extra="forbid")
    workflow_id: str
    status: str = Field(description="OSMO workflow status, e.g. RUNNING, COMPLETED, FAILED.")
    terminal: bool = Field(description="True when the workflow will not change any more.")
    failed: bool = Field(description="True when terminal and not COMPLETED.")
    timed_out: bool = Field(default=False, description="True when wait ran out of time first; poll again.")
    tasks: list[TaskReport]
    failed_tasks: list[str] = Field(default_factory=list, description="Tasks that failed on their own (FAILED_UPSTREAM ones are left out).")
    log_tail: dict[str, str] = Field(default_factory=dict, description="Task name -> its last log lines, redacted.")
    hint: TriageHint | None = Field(default=None, description="The matching section of references/troubleshooting.md.")
    elapsed_s: float
    polls: int = Field(description="Successful status reads made.")
    transient_errors: int = Field(description="Transient backend errors survived.")
    message: str
    next: str | None = Field(default=None, description="The call to make next, when there is one.")


def poll(
    req: PollRequest,
    *,
    backend: Backend,
    on_progress: Callable[[ProgressEvent], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    ledger: Ledger | None = None,
) -> PollResult:
    """Read the workflow status once, or (``wait``) until it is terminal or ``timeout_s`` passes.
    A fanned-out run's id (with the ledger that holds it) reads its batches instead: see :func:`_poll_run`."""
    wid = req.workflow_id
    stored = batches.load_run(ledger, wid)
    if stored is not None and ledger is not None:
        return _poll_run(req, stored, backend=backend, ledger=ledger, clock=clock, sleep=sleep)
    start = clock()
    deadline = start + req.timeout_s
    last_event = start
    interval = req.interval_s
    status: WorkflowStatus | None = None
    polls = transient_total = transient_run = 0
    last_error: SkillError | None = None

    def emit(kind: str, message: str) -> None:
        nonlocal last_event
        last_event = clock()
        if on_progress is not None:
            on_progress(ProgressEvent(
                kind=kind, workflow_id=wid, status=status.status if status else None, elapsed_s=round(last_event - start, 3),
                message=redact(message), tasks=_tasks(status) if status else [],
            ))

    while True:
        try:
            current = backend.query(wid)
        except _TRANSIENT as exc:
            transient_total += 1
            transient_run += 1
            last_error = exc
            if transient_run > req.max_transient_errors:
                raise exc
            emit("transient_error", f"{type(exc).__name__} ({transient_run} in a row), retrying: {exc.message}")
            interval = min(interval * _BACKOFF, req.max_interval_s)
        else:
            transient_run = 0
            polls += 1
            changed = status is None or current.status != status.status or _tasks(current) != _tasks(status)
            status = current
            if changed:
                emit("status", _describe(current))
                interval = req.interval_s
            else:
                interval = min(interval * _BACKOFF, req.max_interval_s)
            if current.terminal or not req.wait:
                break
        now = clock()
        if now - last_event >= req.heartbeat_s:
            emit("heartbeat", f"{wid} still {status.status if status else 'unknown'} after {now - start:.0f}s")
        if now >= deadline:
            if status is None:
                raise last_error if last_error else BackendTimeout(f"{wid} gave no status within {req.timeout_s:.0f}s.", remedy=f"call poll again with workflow_id={wid}")
            return _result(req, backend, status, clock() - start, polls, transient_total, timed_out=True)
        _pause(backend, wid, max(0.0, min(interval, deadline - now, req.heartbeat_s - (now - last_event))), sleep)
    return _result(req, backend, status, clock() - start, polls, transient_total, timed_out=False)


def _poll_run(req: PollRequest, stored: batches.StoredRun, *, backend: Backend, ledger: Ledger,
              clock: Callable[[], float], sleep: Callable[[float], None]) -> PollResult:
    """Progress over a fanned-out run's batches, one task line per batch. With ``wait``, returns when
    the run has ended, when a batch ends (queued batches need another submit to be placed), or at
    ``timeout_s``. Reading never submits: only ``submit`` advances a run."""
    start = clock()
    deadline = start + req.timeout_s
    states = fanout.batch_states(stored.plan, ledger)
    polls = 0
    before = fanout.progress(states)
    while True:
        fanout.observe(states, query=lambda w: backend.query(w).status, ledger=ledger)
        polls += 1
        now = fanout.progress(states)
        changed = (now.done, now.failed, now.queued) != (before.done, before.failed, before.queued)
        if not req.wait or now.finished or changed or clock() >= deadline:
            break
        sleep(max(0.0, min(req.interval_s, deadline - clock())))
    status = batches.overall_status(now)
    ledger.mark(stored.plan.run_id, status)
    failed = [batches.batch_dir_name(s.index) for s in states if s.phase == "failed"]
    if now.queued:
        nxt = f"submit again with the same values and run_id={stored.plan.run_id} to place {now.queued} queued batch(es)"
    elif now.finished:
        nxt = f"call stage_artifacts with run_id={stored.plan.run_id} for each clip" + (" (failed batches have no outputs)" if failed else "")
    else:
        nxt = f"call poll again with workflow_id={stored.plan.run_id} (wait=true to wait)"
    timed_out = req.wait and not now.finished and not changed
    return PollResult(
        workflow_id=stored.plan.run_id, status=status, terminal=now.finished, failed=now.finished and bool(now.failed), timed_out=timed_out,
        tasks=[TaskReport(name=batches.batch_dir_name(s.index), status=s.status or "WAITING") for s in states],
        failed_tasks=failed, elapsed_s=round(clock() - start, 3), polls=polls, transient_errors=0,
        message=redact(batches.describe(stored, now)), next=nxt,
    )


# --- helpers ------------------------------------------------------------------------------------


def _pause(backend: Backend, workflow_id: str, seconds: float, sleep: Callable[[float], None]) -> None:
    """The pause between two reads. A backend that signals changes (``traits.signals_changes``) is
    waited on, so the next read follows the change within milliseconds; the pause stays the upper
    bound, so a missed signal costs one interval, as plain polling does. Others: ``sleep``."""
    if not backend.traits.signals_changes:
        sleep(seconds)
        return
    try:
        backend.wait_for_change(workflow_id, timeout_s=seconds)
    except _TRANSIENT:  # the signal could not be read: this pause is a plain one
        sleep(seconds)


def _tasks(status: WorkflowStatus) -> list[TaskReport]:
    return [
        TaskReport(name=t.name, status=t.status, exit_code=t.exit_code, failure_message=redact(t.failure_message) if t.failure_message else None)
        for t in status.tasks
    ]


def _next_after_completion(workflow_id: str) -> str:
    """The model-cache workflow feeds the guard (rule cache-remediation); every other one is staged."""
    if workflow_id.startswith(f"{CACHE_WORKFLOW}-"):  # both backends name ids <workflow name>-<n>
        return "rerun pre_submit_guard with the values you will submit, then submit"
    return "call stage_artifacts for this run"


def _describe(status: WorkflowStatus) -> str:
    tasks = ", ".join(f"{t.name}={t.status}" for t in status.tasks)
    return f"{status.workflow_id} is {status.status}" + (f" ({tasks})" if tasks else "")


def _result(req: PollRequest, backend: Backend, status: WorkflowStatus, elapsed: float, polls: int, transient: int, *, timed_out: bool) -> PollResult:
    wid = req.workflow_id
    tasks = _tasks(status)
    failed_tasks: list[str] = []
    log_tail: dict[str, str] = {}
    hint = None
    if status.failed:
        failed_tasks = [t.name for t in status.tasks if t.status.startswith("FAILED") and t.status != "FAILED_UPSTREAM"]
        targets: list[str | None] = list(failed_tasks[:_MAX_LOGGED_TASKS]) or [None]
        for task in targets:
            try:
                text = read_log(backend, wid, task=task, last_n=req.log_lines)
            except SkillError as exc:
                text = redact(f"(logs unavailable: {exc.message})")
            log_tail[task or "workflow"] = text
        evidence = "\n".join(
            [*(t.failure_message or "" for t in status.tasks), *(g.failure_message or "" for g in status.groups), *log_tail.values()]
        )
        hint = triage(evidence)
    if timed_out:
        message = f"{wid} still {status.status} after {elapsed:.0f}s."
        nxt = f"call poll again with workflow_id={wid}"
    elif status.failed:
        message = f"{wid} ended {status.status}" + (f"; failed task(s): {', '.join(failed_tasks)}." if failed_tasks else ".")
        nxt = "Read log_tail and hint, fix the cause, then submit again with a fresh run_id."
    elif status.terminal:
        message = f"{wid} COMPLETED."
        nxt = _next_after_completion(wid)
    else:
        message = _describe(status) + "."
        nxt = f"call poll again with workflow_id={wid} (wait=true to wait)"
    return PollResult(
        workflow_id=wid, status=status.status, terminal=status.terminal, failed=status.failed, timed_out=timed_out,
        tasks=tasks, failed_tasks=failed_tasks, log_tail=log_tail, hint=hint, elapsed_s=round(elapsed, 3),
        polls=polls, transient_errors=transient, message=redact(message), next=nxt,
    )

"""What a local run remembers on disk, and OSMO's status rules applied to it.

``plan.json`` (written once at submit: what each task runs) and ``state.json`` (rewritten by the
runner as the run moves: statuses, times, exit codes, pids) live in ``<root>/workflows/<id>/``.
Every write goes to a temporary file that replaces the old one, so a reader never sees half a file.
"""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skill.backends._local_io import atomic_write_text
from skill.errors import BackendError
from skill.statuses import FAILED_STATES, GroupStatus, TaskState, TaskStatus, WorkflowState, WorkflowStatus

__all__ = [
    "GROUP_FINISHED",
    "GroupPlan",
    "GroupRecord",
    "InputPlan",
    "OutputPlan",
    "RunPlan",
    "RunRecord",
    "TaskPlan",
    "TaskRecord",
    "abandon",
    "aggregate_status",
    "load_plan",
    "load_state",
    "to_workflow_status",
    "utc_now",
    "write_json",
]

# workflow-level precedence among failed groups (OSMO 6.3.1's aggregation of group statuses)
_PRECEDENCE: tuple[WorkflowState, ...] = ("FAILED_CANCELED", "FAILED_SERVER_ERROR", "FAILED_EXEC_TIMEOUT", "FAILED_QUEUE_TIMEOUT")
GROUP_FINISHED = frozenset({"COMPLETED"}) | FAILED_STATES


def utc_now() -> str:
    """Naive UTC ISO-8601 with microseconds, as OSMO's JSON shows times."""
    return datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds")


def _seconds_between(start: str | None, end: str | None) -> float | None:
    if not start or not end:
        return None
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def aggregate_status(group_states: list[str]) -> WorkflowState:
    """The workflow status from its groups' statuses, exactly as OSMO 6.3.1 aggregates them."""
    if any(state not in GROUP_FINISHED for state in group_states):
        return "RUNNING" if "RUNNING" in group_states else "PENDING"
    for state in _PRECEDENCE:
        if state in group_states:
            return state
    failed = {s for s in group_states if s != "COMPLETED"}
    if failed:
        own = failed - {"FAILED_UPSTREAM"}
        if len(own) == 1:
            only = next(iter(own))
            if only in WorkflowState.__args__:  # type: ignore[attr-defined]
                return only  # type: ignore[return-value]
        return "FAILED"
    return "COMPLETED"


# --- the plan: what runs ------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputPlan(_Model):
    kind: Literal["url", "task"]
    source: str = Field(description="Storage URL, or the upstream task's output directory.")
    task: str | None = Field(default=None, description="Upstream task name for task inputs.")
    dir: str = Field(description="What {{input:N}} becomes inside the task.")
    regex: str | None = None


class OutputPlan(_Model):
    url: str
    regex: str | None = None


class TaskPlan(_Model):
    name: str
    lead: bool
    argv: list[str]
    environment: dict[str, str] = Field(default_factory=dict)
    task_dir: str
    output_dir: str
    inputs: list[InputPlan] = Field(default_factory=list)
    outputs: list[OutputPlan] = Field(default_factory=list)
    credentials: dict[str, dict[str, str] | str] = Field(
        default_factory=dict, description="credential name -> {ENV: key} or a mount folder (already mapped)."
    )
    exit_actions: dict[str, list[tuple[int, int]]] = Field(default_factory=dict)
    image: str
    resource: str
    platform: str
    gpus: int = Field(default=0, ge=0, description="GPUs its resource asks for (what the gang rule counts).")


class GroupPlan(_Model):
    name: str
    upstream: list[str] = Field(default_factory=list)
    barrier: bool = True
    ignore_nonlead_status: bool = True
    tasks: list[TaskPlan]


class RunPlan(_Model):
    workflow_id: str
    name: str
    exec_timeout: float | None = None
    queue_timeout: float | None = None
    storage_root: str
    credentials_path: str
    groups: list[GroupPlan]
    gpu_capacity: int | None = Field(
        default=None, description="With the gang rule on (VDA_LOCAL_GPUS): a group starts only when all its GPUs fit beside the running groups'."
    )


# --- the state: what happened -------------------------------------------------------------------


class TaskRecord(_Model):
    name: str
    lead: bool
    status: TaskState
    exit_code: int | None = None
    scheduling_start_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    failure_message: str | None = None
    pid: int | None = Field(default=None, description="The task's process (leader of its own process group).")
    image: str
    resource: str
    platform: str
    credentials: list[str] = Field(default_factory=list, description="Credential names the task asked for.")


class GroupRecord(_Model):
    name: str
    status: TaskState
    upstream: list[str] = Field(default_factory=list)
    start_time: str | None = None
    end_time: str | None = None
    failure_message: str | None = None
    barrier_port: int | None = None
    tasks: list[TaskRecord]


class RunRecord(_Model):
    workflow_id: str
    name: str
    pool: str
    status: WorkflowState = "PENDING"
    submit_time: str
    start_time: str | None = None
    end_time: str | None = None
    groups: list[GroupRecord]

    def group(self, name: str) -> GroupRecord:
        return next(g for g in self.groups if g.name == name)

    def refresh(self) -> None:
        """Recompute the workflow status and its times from the groups."""
        self.status = aggregate_status([g.status for g in self.groups])
        starts = [g.start_time for g in self.groups if g.start_time]
        if starts and self.start_time is None:
            self.start_time = min(starts)
        if self.status not in ("PENDING", "RUNNING", "WAITING") and self.end_time is None:
            self.end_time = utc_now()


def abandon(record: RunRecord, message: str, *, status: TaskState = "FAILED") -> list[int]:
    """Settle a run nobody is executing any more: unfinished tasks of groups that may run end with
    ``status`` and ``message``; groups behind a failed group become FAILED_UPSTREAM (exit code
    3000), unless ``status`` is FAILED_CANCELED, which every unfinished group takes.
    Returns the pids of tasks that were running (their process groups may still be alive)."""
    now = utc_now()
    pids: list[int] = []
    for group in record.groups:
        if group.status in GROUP_FINISHED:
            continue
        blocked = [u for u in group.upstream if record.group(u).status in FAILED_STATES]
        started = group.status != "WAITING"
        if started or not blocked or status == "FAILED_CANCELED":
            new, why, code = status, message, None
        else:
            new, why, code = "FAILED_UPSTREAM", f"upstream group {blocked[0]} failed", 3000
        for task in group.tasks:
            if task.status in GROUP_FINISHED or task.status == "RESCHEDULED":
                continue
            if task.status == "RUNNING" and task.pid:
                pids.append(task.pid)
            task.status, task.failure_message, task.exit_code = new, why, code
            task.end_time = now
        group.status, group.failure_message, group.end_time = new, why, now
    record.refresh()
    return pids


def to_workflow_status(record: RunRecord, *, overview: str | None = None) -> WorkflowStatus:
    groups = [
        GroupStatus(
            name=g.name,
            status=g.status,
            start_time=g.start_time,
            end_time=g.end_time,
            failure_message=g.failure_message,
            tasks=[
                TaskStatus(
                    name=t.name,
                    status=t.status,
                    exit_code=t.exit_code,
                    lead=t.lead,
                    start_time=t.start_time,
                    end_time=t.end_time,
                    failure_message=t.failure_message,
                )
                for t in g.tasks
            ],
        )
        for g in record.groups
    ]
    return WorkflowStatus(
        workflow_id=record.workflow_id,
        status=record.status,
        groups=groups,
        submit_time=record.submit_time,
        start_time=record.start_time,
        end_time=record.end_time,
        duration=_seconds_between(record.start_time, record.end_time),
        pool=record.pool,
        overview=overview,
    )


# --- files --------------------------------------------------------------------------------------


def write_json(path: Path, model: BaseModel) -> None:
    """Write ``model`` as JSON atomically (a unique temporary file, then ``os.replace``); a failed
    write (disk full) is a coded error and leaves no temporary file."""
    atomic_write_text(path, model.model_dump_json(indent=1))


def _load(path: Path, model: type[BaseModel], what: str):
    last: Exception | None = None
    for _ in range(5):
        try:
            return model.model_validate_json(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise
        except (ValidationError, json.JSONDecodeError, UnicodeDecodeError) as exc:
            last = exc
            time.sleep(0.02)
    raise BackendError(
        f"The local run file {path.name} ({what}) cannot be read.",
        remedy=f"Inspect or remove {path.parent}; submit the workflow again.",
        code="local-state-corrupt",
    ) from last


def load_state(path: Path) -> RunRecord:
    return _load(path, RunRecord, "run state")


def load_plan(path: Path) -> RunPlan:
    return _load(path, RunPlan, "run plan")

"""What a backend reports: workflow and task states (OSMO 6.3.1's enums), statuses, pools and
credentials. Re-exported by :mod:`skill.models`; kept apart so the local runner, which needs only
these, imports them without the tool models (issue 15: the runner's import is on every local run's
critical path).
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "FAILED_STATES",
    "TERMINAL_WORKFLOW_STATES",
    "CredentialInfo",
    "GroupStatus",
    "PoolInfo",
    "TaskState",
    "TaskStatus",
    "WorkflowState",
    "WorkflowStatus",
    "is_terminal",
]

# --- statuses (OSMO 6.3.1's enums, src/utils/job/workflow.py) ---------------------------------

WorkflowState = Literal[
    "PENDING",
    "RUNNING",
    "WAITING",
    "COMPLETED",
    "FAILED",
    "FAILED_SUBMISSION",
    "FAILED_SERVER_ERROR",
    "FAILED_EXEC_TIMEOUT",
    "FAILED_QUEUE_TIMEOUT",
    "FAILED_CANCELED",
    "FAILED_BACKEND_ERROR",
    "FAILED_IMAGE_PULL",
    "FAILED_EVICTED",
    "FAILED_START_ERROR",
    "FAILED_START_TIMEOUT",
    "FAILED_PREEMPTED",
]
TaskState = Literal[
    "SUBMITTING",
    "WAITING",
    "PROCESSING",
    "SCHEDULING",
    "INITIALIZING",
    "RUNNING",
    "COMPLETED",
    "RESCHEDULED",
    "FAILED",
    "FAILED_CANCELED",
    "FAILED_SERVER_ERROR",
    "FAILED_BACKEND_ERROR",
    "FAILED_EXEC_TIMEOUT",
    "FAILED_QUEUE_TIMEOUT",
    "FAILED_IMAGE_PULL",
    "FAILED_UPSTREAM",
    "FAILED_EVICTED",
    "FAILED_START_ERROR",
    "FAILED_START_TIMEOUT",
    "FAILED_PREEMPTED",
]
TERMINAL_WORKFLOW_STATES = frozenset(
    {"COMPLETED"} | {s for s in WorkflowState.__args__ if s.startswith("FAILED")}  # type: ignore[attr-defined]
)
FAILED_STATES = frozenset(s for s in TaskState.__args__ if s.startswith("FAILED"))  # type: ignore[attr-defined]


def is_terminal(state: str) -> bool:
    """OSMO's rule: anything that is not PENDING, RUNNING or WAITING is terminal."""
    return state not in ("PENDING", "RUNNING", "WAITING")


class TaskStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    status: TaskState
    exit_code: int | None = None
    lead: bool = False
    retry_id: int = 0
    start_time: str | None = None
    end_time: str | None = None
    failure_message: str | None = None


class GroupStatus(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    status: TaskState
    start_time: str | None = None
    end_time: str | None = None
    failure_message: str | None = None
    tasks: list[TaskStatus] = Field(default_factory=list)


class WorkflowStatus(BaseModel):
    """What ``query`` returns on every backend: the workflow state, its groups and their tasks."""

    model_config = ConfigDict(extra="ignore")
    workflow_id: str
    status: WorkflowState
    groups: list[GroupStatus] = Field(default_factory=list)
    submit_time: str | None = None
    start_time: str | None = None
    end_time: str | None = None
    duration: float | None = Field(default=None, description="Seconds, as OSMO reports it.")
    pool: str | None = None
    overview: str | None = None

    @property
    def tasks(self) -> list[TaskStatus]:
        return [task for group in self.groups for task in group.tasks]

    @property
    def terminal(self) -> bool:
        return is_terminal(self.status)

    @property
    def failed(self) -> bool:
        return self.terminal and self.status != "COMPLETED"


# --- cluster facts ------------------------------------------------------------------------------


class PoolInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    status: Literal["ONLINE", "OFFLINE", "MAINTENANCE"]
    platforms: list[str] = Field(default_factory=list)
    default_platform: str | None = None
    gpu_free: int | None = Field(default=None, description="min(quota_free, total_free) when known.")
    description: str = ""


class CredentialInfo(BaseModel):
    model_config = ConfigDict(extra="ignore")
    name: str
    type: str
    profile: str | None = None

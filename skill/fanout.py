"""Fan-out of a many-clip run into small batches that any pool can place.

Why one workflow per batch (and not one group per batch inside one workflow): OSMO gang-schedules
a *group* (all its tasks start together, the group waits until the pool can place every one), and
every group of a workflow whose inputs are ready is handed to the scheduler at once. One workflow
holding a group per batch would therefore still queue all batches together (each under the
workflow's ``queue_timeout``), would give no way to bound how many are in flight, and its spec
grows with the dataset (measured with our renderer of OSMO's submit path: augmentation_and_al is
105 KB at ``workers=1``, 640 KB at ``workers=250``, about 2.1 KB per extra worker). One workflow
per batch keeps the single-clip flow shape unchanged (setup -> cosmos -> labels, one GPU task per
stage), keeps every spec at its one-batch size, and lets this module decide how many run at once.

A run is the set of its batches. Each batch has a stable index; each *attempt* of a batch has its
own run id derived from the parent run id, the batch index and the attempt number (so it fits the
``run-<8 hex>`` pattern the ledger and the submit step key on). Driving the same parent again
finds the same ids in the ledger: a batch already COMPLETED is not submitted again, one still
running is polled again, and a failed one is retried alone under its next attempt id.

Everything here is a plain function over pydantic values; ``drive`` takes the submit and query
calls as arguments, so it runs against any backend (or a simulated one in tests).

A batch workflow processes exactly its clips: the ``clips`` value reaches the setup task, which makes
configs for those clips only (and tells the original-label workers the same). The ledger glue (the
parent run's stored plan, submitting one batch through the guard and the submit step, progress for
``poll``, the batch a clip is staged from) is :mod:`skill.steps.batches`.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Iterable, Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.errors import InputError
from skill.flows import get_flow
from skill.ledger import Ledger
from skill.models import TERMINAL_WORKFLOW_STATES, PoolInfo

__all__ = [
    "Batch", "BatchState", "FanoutPlan", "FanoutProgress", "attempt_run_id", "batch_state", "batch_states", "batch_values", "default_max_in_flight",
    "drive", "gpus_per_batch", "observe", "plan_batches", "progress",
]

MAX_ATTEMPTS = 3
"""Attempts per batch (the first submit and two retries) before the batch is left failed."""
DEFAULT_IN_FLIGHT = 4
"""In-flight bound when neither the user nor the pool says more (``pool list`` without quotas)."""
_PARALLEL_LABEL_FLOWS = frozenset({"e2e", "e2e_super_resolution"})
"""Flows whose original-label group runs beside the augmentation group (both need only setup)."""

BatchPhase = Literal["queued", "running", "done", "failed"]


class Batch(BaseModel):
    """One batch: a few clips, submitted as one workflow of the flow's usual shape."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    index: int = Field(ge=0)
    clips: tuple[str, ...] = Field(min_length=1, description="Video stems of this batch, sorted.")
    configs: int = Field(ge=1, description="Clip configs the batch's workers process (clips x augmentations).")
    workers: int = Field(ge=1, description="GPU tasks per stage group of this batch.")


class FanoutPlan(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    run_id: str = Field(description="The parent run id; batch attempt ids derive from it.")
    flow: str
    batches: tuple[Batch, ...]
    gpus_per_batch: int = Field(ge=1, description="GPU tasks one batch may hold placed at the same time.")
    max_in_flight: int = Field(ge=1)

    @property
    def peak_gpus(self) -> int:
        return self.gpus_per_batch * min(self.max_in_flight, len(self.batches))


class BatchState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    index: int
    phase: BatchPhase = "queued"
    attempts: int = 0
    run_id: str | None = Field(default=None, description="Run id of the latest attempt.")
    workflow_id: str | None = None
    status: str | None = Field(default=None, description="Latest OSMO workflow status of the latest attempt.")


class FanoutProgress(BaseModel):
    """Progress over batches: what ``poll`` and ``stage`` report for a fanned-out run."""

    model_config = ConfigDict(extra="forbid")
    total: int
    done: int
    running: int
    queued: int
    failed: int
    retried: list[int] = Field(default_factory=list, description="Indexes of batches that needed more than one attempt.")

    @property
    def finished(self) -> bool:
        return self.done + self.failed == self.total

    def text(self) -> str:
        return f"{self.done}/{self.total} batches done, {self.running} running, {self.queued} queued, {self.failed} failed"


# --- planning ----------------------------------------------------------------------------------


def _configs_per_clip(flow: str, augmentations: int) -> int:
    return augmentations if get_flow(flow).augments else 1


def gpus_per_batch(flow: str, workers: int) -> int:
    """GPU tasks one batch can have placed at once: its widest set of groups that run together."""
    return workers * (2 if flow in _PARALLEL_LABEL_FLOWS else 1)


def plan_batches(
    stems: Sequence[str], *, run_id: str, flow: str, augmentations: int = 1, batch_size: int = 4,
    max_in_flight: int | None = None, pools: Iterable[PoolInfo] = (), pool: str | None = None,
) -> FanoutPlan:
    """Cut the clips into batches of at most ``batch_size`` configs (a clip is never split).

    A clip with more augmentations than ``batch_size`` gets a batch of its own with
    ``ceil(augmentations / batch_size)`` workers; otherwise every batch has one worker per stage."""
    clips = sorted(set(stems))
    if not clips:
        raise InputError("There are no clips to fan out.", remedy="Pass at least one video.", code="no-videos")
    if batch_size < 1 or augmentations < 1:
        raise InputError("batch_size and augmentations must be at least 1.", remedy="Pass whole numbers from 1.", code="invalid-values")
    per_clip = _configs_per_clip(flow, augmentations)
    clips_per_batch = max(1, batch_size // per_clip)
    batches = tuple(
        Batch(index=i, clips=tuple(chunk), configs=len(chunk) * per_clip, workers=math.ceil(len(chunk) * per_clip / batch_size))
        for i, chunk in enumerate(clips[k:k + clips_per_batch] for k in range(0, len(clips), clips_per_batch))
    )
    per_batch = gpus_per_batch(flow, max(b.workers for b in batches))
    bound = default_max_in_flight(per_batch, pools=pools, pool=pool, user=max_in_flight)
    return FanoutPlan(run_id=run_id, flow=flow, batches=batches, gpus_per_batch=per_batch, max_in_flight=min(bound, len(batches)))


def default_max_in_flight(gpus_each: int, *, pools: Iterable[PoolInfo] = (), pool: str | None = None, user: int | None = None) -> int:
    """The user's bound when given; else as many batches as the pool's free GPUs hold (at least one);
    else :data:`DEFAULT_IN_FLIGHT` when no pool reports its free GPUs."""
    if user is not None:
        if user < 1:
            raise InputError("--max-in-flight must be at least 1.", remedy="Pass a whole number from 1.", code="invalid-values")
        return user
    online = [p for p in pools if p.status == "ONLINE" and (pool is None or p.name == pool)]
    free = [p.gpu_free for p in online if p.gpu_free is not None]
    if not free:
        return DEFAULT_IN_FLIGHT
    return max(1, max(free) // max(1, gpus_each))


def attempt_run_id(parent_run_id: str, index: int, attempt: int) -> str:
    """The run id of one attempt of one batch: ``run-`` + 8 hex, the same for the same inputs."""
    digest = hashlib.sha256(f"{parent_run_id}/batch/{index}/attempt/{attempt}".encode()).hexdigest()
    return f"run-{digest[:8]}"


def batch_values(base: dict[str, str], batch: Batch, run_id: str) -> dict[str, str]:
    """The submit values of one batch attempt: the run's values with this attempt's run id, the
    batch's clips (``clips``; its first as ``video``, which the guard checks like upstream's) and its
    worker count. The setup task makes configs for exactly those clips."""
    return {**base, "run_id": run_id, "video": batch.clips[0], "clips": ",".join(batch.clips), "workers": str(batch.workers)}


# --- driving -----------------------------------------------------------------------------------

SubmitBatch = Callable[[Batch, str], str]
"""(batch, attempt run id) -> workflow id."""
QueryStatus = Callable[[str], str]
"""workflow id -> OSMO workflow status (PENDING, RUNNING, COMPLETED, FAILED_...)."""


def progress(states: Iterable[BatchState]) -> FanoutProgress:
    items = list(states)
    count = {phase: sum(1 for s in items if s.phase == phase) for phase in ("done", "running", "queued", "failed")}
    return FanoutProgress(total=len(items), retried=sorted(s.index for s in items if s.attempts > 1), **count)


def batch_states(plan: FanoutPlan, ledger: Ledger, max_attempts: int = MAX_ATTEMPTS) -> list[BatchState]:
    """Each batch's state from the ledger: the latest attempt id it holds decides (a batch whose
    latest attempt is not terminal counts as running, whatever it is doing now)."""
    return [batch_state(plan, batch.index, ledger, max_attempts) for batch in plan.batches]


def batch_state(plan: FanoutPlan, index: int, ledger: Ledger, max_attempts: int = MAX_ATTEMPTS) -> BatchState:
    """One batch's state from the ledger (what staging one clip needs, without reading every batch)."""
    state = BatchState(index=index)
    for attempt in range(1, max_attempts + 1):
        record = ledger.get(attempt_run_id(plan.run_id, index, attempt))
        if record is None:
            break
        state.attempts, state.run_id, state.workflow_id, state.status = attempt, record.run_id, record.workflow_id, record.status
    if state.status == "COMPLETED":
        state.phase = "done"
    elif state.status in TERMINAL_WORKFLOW_STATES:
        state.phase = "failed" if state.attempts >= max_attempts else "queued"
    elif state.workflow_id:
        state.phase = "running"
    return state


def observe(states: list[BatchState], *, query: QueryStatus, ledger: Ledger, max_attempts: int = MAX_ATTEMPTS) -> None:
    """Read the status of every batch in flight, record a change under its attempt id, and settle
    the batches that ended: done, queued again for a retry, or failed after ``max_attempts``."""
    for state in states:
        if state.phase != "running" or not state.workflow_id:
            continue
        status = query(state.workflow_id)
        if status != state.status:
            state.status = status
            if state.run_id and ledger.get(state.run_id) is not None:
                ledger.mark(state.run_id, status)
        if status == "COMPLETED":
            state.phase = "done"
        elif status in TERMINAL_WORKFLOW_STATES:
            state.phase = "failed" if state.attempts >= max_attempts else "queued"


def drive(
    plan: FanoutPlan, *, submit_batch: SubmitBatch, query: QueryStatus, ledger: Ledger,
    wait: Callable[[], None], on_progress: Callable[[FanoutProgress], None] | None = None,
    max_attempts: int = MAX_ATTEMPTS, max_rounds: int = 1_000_000, stop: Callable[[], bool] | None = None,
) -> list[BatchState]:
    """Run every batch to an end with at most ``plan.max_in_flight`` in flight.

    ``submit_batch`` submits one attempt (it records the attempt in the ledger, as the submit step
    does); ``drive`` records each status it sees under the attempt id. A failed batch is resubmitted
    alone under its next attempt id until ``max_attempts``; the others carry on. ``wait`` is called
    between polling rounds (a real sleep, or a simulated clock's tick). ``stop`` ends the driving
    early (before a wait) and returns the states as they are: driving again later resumes them."""
    states = batch_states(plan, ledger, max_attempts)
    by_index = {b.index: b for b in plan.batches}
    for _ in range(max_rounds):
        observe(states, query=query, ledger=ledger, max_attempts=max_attempts)
        in_flight = sum(1 for s in states if s.phase == "running")
        for state in states:
            if in_flight >= plan.max_in_flight:
                break
            if state.phase != "queued":
                continue
            state.attempts += 1
            state.run_id = attempt_run_id(plan.run_id, state.index, state.attempts)
            state.workflow_id = submit_batch(by_index[state.index], state.run_id)
            state.status, state.phase = "PENDING", "running"
            in_flight += 1
        now = progress(states)
        if on_progress is not None:
            on_progress(now)
        if now.finished or (stop is not None and stop()):
            return states
        wait()
    raise InputError(
        f"The fan-out did not finish within {max_rounds} polling rounds ({progress(states).text()}).",
        remedy="Drive the same run again: finished batches are kept, the rest resume.",
        code="fanout-unfinished",
    )

"""A many-clip run as batches (issue 17): the ledger glue around :mod:`skill.fanout`.

A fanned-out run has a *parent* run id. Its ledger row holds the plan (which clips each batch
processes) and the run's values; each batch attempt has its own run id (:func:`fanout.attempt_run_id`)
and goes through the same two steps as any run: :func:`pre_submit_guard`, then :func:`submit`. So
the policy, the ledger's idempotence and the conformance of what is sent are those of a single run.

What builds on it:

* ``submit`` with ``max_in_flight`` (and ``vda run`` whenever the plan has more than one batch on a
  gang-scheduled pool, or ``--max-in-flight`` is given) plans, records the parent and *advances*
  the run: reads the batches in flight, submits queued ones into free slots, resubmits a failed
  batch alone under its next attempt id. Calling it again with the same values resumes.
* ``poll`` with the parent run id reports progress over batches (one task line per batch).
* ``stage_artifacts`` with the parent run id and a clip stages that clip's batch into
  ``<runs>/<parent>/batch-<NNNN>/``, once that batch is done.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skill import fanout, storage
from skill.backends.base import Backend
from skill.conditions import cookbook_augmentations
from skill.errors import InputError, PolicyDenied, SkillError
from skill.fanout import Batch, BatchState, FanoutPlan, FanoutProgress
from skill.ledger import Ledger
from skill.models import DEFAULT_COOKBOOK, PoolInfo
from skill.steps.guard import GuardRequest, pre_submit_guard
from skill.secrets import redact, redact_obj
from skill.steps.guard import new_run_id
from skill.steps.submit import SubmitRequest, SubmitResult, submit
from skill.video_types import WORKFLOW_SUFFIX

__all__ = [
    "PLAN_KEY", "FanoutSubmitRequest", "StoredRun", "advance", "batch_dir_name", "batch_for_clip", "describe", "load_run",
    "overall_status", "plan_run", "record_run", "run_stems", "submit_run",
]

PLAN_KEY = "fanout_plan"
"""The key of the parent row's values that holds the plan (JSON)."""
_PER_BATCH_KEYS = ("run_id", "video", "clips", "workers")
_FANOUT_FIELDS = ("max_in_flight", "batch_size")


class StoredRun(BaseModel):
    """A parent run as the ledger keeps it: the plan and the values every batch shares."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    plan: FanoutPlan
    values: dict[str, str]
    pool: str | None = None

    @property
    def flow(self) -> str:
        return self.plan.flow


def batch_dir_name(index: int) -> str:
    return f"batch-{index:04d}"


def _augmentations(values: Mapping[str, Any]) -> int:
    if values.get("n_augmentations"):
        return int(values["n_augmentations"])
    return cookbook_augmentations(str(values.get("cookbook") or DEFAULT_COOKBOOK))


def run_stems(values: Mapping[str, Any], backend: Backend) -> list[str]:
    """The clips a fanned-out run processes: ``clips`` when given; every clip of the dataset when
    ``all_clips``; else the one ``video`` (upstream's single-clip shape)."""
    if values.get("clips"):
        return sorted({c.strip() for c in str(values["clips"]).split(",") if c.strip()})
    if str(values.get("all_clips", "")).lower() == "true":
        url = storage.join(str(values["storage_url"]), "datasets", str(values["dataset"]))
        stems = sorted({k.rsplit("/", 1)[-1].removesuffix(WORKFLOW_SUFFIX) for k in backend.data_list(url) if k.lower().endswith(WORKFLOW_SUFFIX)})
        if not stems:
            raise InputError(f"The dataset {url} holds no .mp4 clips.", remedy="Upload videos there first (vda upload).", code="no-videos")
        return stems
    return [str(values["video"])]


def _pools(backend: Backend) -> list[PoolInfo]:
    """The pools' free capacity, when the backend reports it (a failure only loses the hint)."""
    try:
        return backend.pools()
    except SkillError:
        return []


def plan_run(flow: str, values: Mapping[str, Any], *, run_id: str, backend: Backend, batch_size: int = 4,
             max_in_flight: int | None = None, pool: str | None = None) -> StoredRun:
    """Cut the run's clips into batches, in flight bounded by the user or the pool's free GPUs."""
    shared = {k: str(v) for k, v in values.items() if v is not None and k not in _PER_BATCH_KEYS}
    plan = fanout.plan_batches(run_stems(values, backend), run_id=run_id, flow=flow, augmentations=_augmentations(values),
                               batch_size=batch_size, max_in_flight=max_in_flight, pools=_pools(backend), pool=pool)
    return StoredRun(plan=plan, values=shared, pool=pool)


def record_run(ledger: Ledger, stored: StoredRun, backend: str) -> StoredRun:
    """Claim the parent run id for this plan; the same plan again resumes it, another is refused."""
    _, created = ledger.begin(stored.plan.run_id, stored.flow, backend,
                                {**stored.values, PLAN_KEY: stored.plan.model_dump_json(), "pool": stored.pool or ""})
    if not created:
        known = load_run(ledger, stored.plan.run_id)
        if known is None or known.plan != stored.plan or known.values != stored.values:
            raise PolicyDenied(
                f"The run id {stored.plan.run_id} already holds another run.",
                remedy="Leave run_id out (a fresh one is made) or pass the values that run was started with.",
                rule="run-id-format",
            )
        return known
    ledger.mark(stored.plan.run_id, "RUNNING")
    return stored


def load_run(ledger: Ledger | None, run_id: str) -> StoredRun | None:
    """The parent run stored under ``run_id``, or None when it is not one."""
    row = ledger.get(run_id) if ledger is not None else None
    if row is None or PLAN_KEY not in row.values:
        return None
    values = dict(row.values)
    try:
        plan = FanoutPlan.model_validate_json(values.pop(PLAN_KEY))
    except ValidationError as exc:
        raise InputError(f"The ledger's plan of {run_id} cannot be read.", remedy="Start the run again under a fresh run id.",
                         code="ledger-corrupt") from exc
    pool = values.pop("pool", "") or None
    return StoredRun(plan=plan, values=values, pool=pool)


def batch_for_clip(stored: StoredRun, stem: str) -> Batch:
    for batch in stored.plan.batches:
        if stem in batch.clips:
            return batch
    raise InputError(f"The clip {stem} is not part of the run {stored.plan.run_id}.",
                     remedy="Name a clip the run processed (poll the run id to see its batches).", code="video-not-in-run")


# --- driving -------------------------------------------------------------------------------------


def _submit_batch(stored: StoredRun, backend: Backend, ledger: Ledger) -> fanout.SubmitBatch:
    """One attempt of one batch: the guard on its values, then the submit step (which records it)."""

    def submit_batch(batch: Batch, attempt_id: str) -> str:
        values = fanout.batch_values(stored.values, batch, attempt_id)
        guard = pre_submit_guard(GuardRequest(flow=stored.flow, **values), backend=backend)
        if guard.status != "ok":
            failing = [c for c in guard.checks if c.status == "fail"]
            raise InputError(f"The guard refused batch {batch.index} ({attempt_id}): {failing[0].detail if failing else guard.summary}",
                             remedy="Fix the failed check, then submit the run again with the same values: finished batches are kept.",
                             code="guard-failed")
        done = submit(SubmitRequest(flow=stored.flow, pool=stored.pool, **values), backend=backend, ledger=ledger)
        if not done.workflow_id:
            raise InputError(f"Batch {batch.index} ({attempt_id}): {done.message}", remedy=done.remedy or "Check the backend, then submit again.",
                             code="submit-uncertain")
        return done.workflow_id

    return submit_batch


def advance(stored: StoredRun, *, backend: Backend, ledger: Ledger, wait_s: float = 0.0, interval_s: float | None = None,
            on_progress: Callable[[FanoutProgress], None] | None = None, sleep: Callable[[float], None] = time.sleep,
            clock: Callable[[], float] = time.monotonic) -> list[BatchState]:
    """Drive the run for up to ``wait_s`` seconds (0: one round), or until every batch has ended.
    The parent's ledger status follows: RUNNING, then COMPLETED or FAILED."""
    interval = interval_s if interval_s is not None else backend.traits.poll_interval_s
    deadline = clock() + wait_s
    states = fanout.drive(
        stored.plan, submit_batch=_submit_batch(stored, backend, ledger), query=lambda wid: backend.query(wid).status,
        ledger=ledger, wait=lambda: sleep(max(0.0, min(interval, deadline - clock()))), on_progress=on_progress,
        stop=lambda: clock() >= deadline,
    )
    ledger.mark(stored.plan.run_id, overall_status(fanout.progress(states)))
    return states


def overall_status(progress: FanoutProgress) -> str:
    """The parent's status in OSMO's words: RUNNING until every batch ended, then COMPLETED or FAILED."""
    if not progress.finished:
        return "RUNNING" if progress.running or progress.done else "PENDING"
    return "FAILED" if progress.failed else "COMPLETED"


def describe(stored: StoredRun, progress: FanoutProgress) -> str:
    plan = stored.plan
    clips = sum(len(b.clips) for b in plan.batches)
    return (f"{plan.run_id}: {clips} clip(s) in {len(plan.batches)} batch(es), at most {plan.max_in_flight} in flight "
            f"({plan.peak_gpus} GPU task(s) at once); {progress.text()}.")


# --- the submit tool ---------------------------------------------------------------------------


class FanoutSubmitRequest(SubmitRequest):
    """One workflow submit, or (``max_in_flight``) a fanned-out run of many batches."""

    max_in_flight: Annotated[int, Field(ge=1, le=1000)] | None = Field(
        default=None, description="Fan the clips out as one workflow per batch, at most this many in flight; submit again to advance."
    )
    batch_size: Annotated[int, Field(ge=1, le=256)] = Field(default=4, description="Configs per batch when fanning out.")


def submit_run(req: FanoutSubmitRequest, *, backend: Backend, ledger: Ledger) -> SubmitResult:
    """The submit tool: :func:`submit` for one workflow; with ``max_in_flight`` the run is planned
    and recorded under its run id (or found there) and advanced one round. ``workflow_id`` is then
    the run id, which ``poll`` reads as the whole run."""
    if req.max_in_flight is None:
        return submit(SubmitRequest.model_validate(req.model_dump(exclude=set(_FANOUT_FIELDS))), backend=backend, ledger=ledger)
    run_id = req.run_id or new_run_id()
    values = req.model_dump(exclude={"flow", "pool", "run_id", *_FANOUT_FIELDS}, exclude_none=True)
    stored = load_run(ledger, run_id) or record_run(
        ledger, plan_run(req.flow, values, run_id=run_id, backend=backend, batch_size=req.batch_size,
                         max_in_flight=req.max_in_flight, pool=req.pool), backend.name)
    states = advance(stored, backend=backend, ledger=ledger)
    progress = fanout.progress(states)
    record = ledger.get(run_id)
    queued = f" Submit again with the same values to place the {progress.queued} queued batch(es)." if progress.queued else ""
    return SubmitResult(
        status="submitted", reused=False, workflow_id=run_id, run_id=run_id, flow=req.flow, backend=backend.name, pool=req.pool,
        command=[], values=redact_obj(stored.values), values_hash=record.values_hash if record else "",
        output_url=storage.join(str(values["storage_url"]), "datasets", f"{values['dataset']}-outputs"),
        attempts=sum(s.attempts for s in states),
        message=redact(describe(stored, progress) + " Poll the run id for progress." + queued),
    )

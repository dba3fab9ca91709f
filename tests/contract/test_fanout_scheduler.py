"""A 1,000-clip run on an 8-GPU pool under the gang-scheduling model: the fan-out completes, never
places more than the pool holds, and retries a batch failed on purpose alone; the old one-group
shape never starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill import fanout, flows
from skill.models import PoolInfo, WorkflowState
from skill.render import render_workflow
from tests.fakes.osmo_scheduler import GangScheduler, GroupShape, shape_of

OSMO_STATES = set(WorkflowState.__args__)  # type: ignore[attr-defined]
ROOT = Path(__file__).resolve().parents[2]


def _batch_shape(workers: int) -> list[GroupShape]:
    values = dict(dataset="d", run_id="run-1a2b3c4d", storage_url="s3://b/p", gpu_platform="gpu", video="v",
                  cosmos_model_cache_url="s3://b/c", auto_labeling_model_cache_url="s3://b/a", skills_dir=str(ROOT), workers=str(workers))
    return shape_of(render_workflow(flows.resolve_workflow("augmentation_and_al"), set_string=values))


@pytest.fixture(scope="module")
def one_batch() -> list[GroupShape]:
    return _batch_shape(1)


def test_thousand_clips_on_eight_gpus_complete_and_a_failed_batch_is_retried_alone(one_batch, ledger):
    pool = GangScheduler(gpus=8)
    stems = [f"clip_{i:04d}" for i in range(1000)]
    plan = fanout.plan_batches(stems, run_id="run-00c0ffee", flow="augmentation_and_al", augmentations=1, batch_size=4,
                               pools=[PoolInfo(name="p", status="ONLINE", platforms=["gpu"], gpu_free=pool.free_gpus())])
    assert (len(plan.batches), plan.max_in_flight) == (250, 8)
    submitted: list[int] = []
    seen: set[str] = set()

    def submit(batch, run_id):
        ledger.begin(run_id, plan.flow, "osmo", {"batch": str(batch.index)})
        fail = "augmentation_group" if batch.index == 17 and batch.index not in submitted else None
        wid = pool.submit(one_batch, fail_group=fail)
        ledger.record_workflow(run_id, wid)
        submitted.append(batch.index)
        return wid

    def query(wid):
        seen.add(pool.status(wid))
        return pool.status(wid)

    states = fanout.drive(plan, submit_batch=submit, query=query, ledger=ledger, wait=lambda: pool.tick(30.0))
    assert {s.phase for s in states} == {"done"}
    assert pool.peak_gpus == 8
    assert submitted.count(17) == 2 and len(submitted) == 251
    assert seen <= OSMO_STATES and {"RUNNING", "COMPLETED", "FAILED"} <= seen  # setup needs no GPU, so a batch is placed at once
    first = pool.workflows[ledger.get(fanout.attempt_run_id(plan.run_id, 17, 1)).workflow_id]
    assert [g.status for g in first.groups] == ["COMPLETED", "FAILED", "WAITING"]
    assert pool.now < 250 * 3 * 60  # batches overlapped: less than running them one after another


def test_the_one_group_shape_of_250_workers_never_starts_on_eight_gpus():
    pool = GangScheduler(gpus=8)
    wide = [GroupShape("setup_group", (0,)), GroupShape("augmentation_group", (1,) * 250, ("setup_group",))]
    wid = pool.submit(wide)
    for _ in range(100):
        pool.tick(60.0)
    assert pool.status(wid) == "RUNNING"  # setup ran; the GPU group waits for 250 GPUs at once
    assert pool.group_statuses(wid) == {"setup_group": "COMPLETED", "augmentation_group": "SCHEDULING"}
    assert pool.peak_gpus == 0


def test_a_group_waits_until_every_task_fits():
    pool = GangScheduler(gpus=3)
    a = pool.submit([GroupShape("g", (1, 1))])
    b = pool.submit([GroupShape("g", (1, 1))])
    assert (pool.status(a), pool.status(b), pool.placed_gpus) == ("RUNNING", "PENDING", 2)
    pool.tick(60.0)
    assert (pool.status(a), pool.status(b)) == ("COMPLETED", "RUNNING")

"""skill.fanout: batch planning, the in-flight bound, ids per attempt, and driving with retries."""

from __future__ import annotations

import re

import pytest

from skill import fanout
from skill.errors import InputError
from skill.models import RUN_ID_PATTERN, PoolInfo

PARENT = "run-0a0b0c0d"


def _stems(n: int) -> list[str]:
    return [f"clip_{i:04d}" for i in range(n)]


def test_thousand_clips_one_augmentation_make_250_single_worker_batches():
    plan = fanout.plan_batches(_stems(1000), run_id=PARENT, flow="augmentation_and_al", augmentations=1, batch_size=4, max_in_flight=8)
    assert len(plan.batches) == 250
    assert {b.workers for b in plan.batches} == {1}
    assert [c for b in plan.batches for c in b.clips] == _stems(1000)
    assert plan.gpus_per_batch == 1 and plan.peak_gpus == 8


def test_a_clip_is_never_split_and_many_augmentations_widen_its_batch():
    plan = fanout.plan_batches(_stems(3), run_id=PARENT, flow="augmentation_and_al", augmentations=6, batch_size=4)
    assert [len(b.clips) for b in plan.batches] == [1, 1, 1]
    assert {(b.configs, b.workers) for b in plan.batches} == {(6, 2)}


def test_label_only_counts_one_config_per_clip_and_e2e_holds_two_groups_at_once():
    label = fanout.plan_batches(_stems(10), run_id=PARENT, flow="auto_labeling", augmentations=5, batch_size=4)
    assert [len(b.clips) for b in label.batches] == [4, 4, 2]
    e2e = fanout.plan_batches(_stems(10), run_id=PARENT, flow="e2e", augmentations=1, batch_size=4)
    assert e2e.gpus_per_batch == 2


def _pool(name: str, free: int | None, status: str = "ONLINE") -> PoolInfo:
    return PoolInfo(name=name, status=status, platforms=["gpu"], gpu_free=free)


@pytest.mark.parametrize(
    ("pools", "pool", "each", "user", "expected"),
    [
        ([_pool("p", 8)], None, 1, None, 8),
        ([_pool("p", 8)], None, 2, None, 4),
        ([_pool("p", 1)], None, 2, None, 1),
        ([_pool("p", 8)], None, 1, 3, 3),
        ([_pool("p", None)], None, 1, None, fanout.DEFAULT_IN_FLIGHT),
        ([_pool("big", 64, "OFFLINE"), _pool("small", 8)], None, 1, None, 8),
        ([_pool("a", 16), _pool("b", 8)], "b", 1, None, 8),
    ],
)
def test_in_flight_bound_from_user_then_pool_free_gpus(pools, pool, each, user, expected):
    assert fanout.default_max_in_flight(each, pools=pools, pool=pool, user=user) == expected


def test_bad_inputs_are_coded_errors():
    with pytest.raises(InputError) as none:
        fanout.plan_batches([], run_id=PARENT, flow="e2e")
    assert none.value.code == "no-videos"
    with pytest.raises(InputError) as zero:
        fanout.default_max_in_flight(1, user=0)
    assert zero.value.code == "invalid-values"


def test_attempt_ids_fit_the_run_id_pattern_and_are_stable_and_distinct():
    ids = {fanout.attempt_run_id(PARENT, i, a) for i in range(300) for a in (1, 2, 3)}
    assert len(ids) == 900
    assert all(re.fullmatch(RUN_ID_PATTERN, i) for i in ids)
    assert fanout.attempt_run_id(PARENT, 7, 2) == fanout.attempt_run_id(PARENT, 7, 2)


class _Pool:
    """A tiny stand-in cluster: each workflow runs for ``rounds`` polling rounds, then ends."""

    def __init__(self, ledger, *, rounds: int = 2, fail: dict[int, int] | None = None):
        self.ledger, self.rounds, self.fail = ledger, rounds, dict(fail or {})
        self.left: dict[str, int] = {}
        self.ending: dict[str, str] = {}
        self.submitted: list[tuple[int, str]] = []
        self.peak = 0

    def submit(self, batch, run_id):
        self.ledger.begin(run_id, "augmentation_and_al", "test", {"batch": str(batch.index)})
        wf = f"wf-{len(self.submitted) + 1}"
        self.ledger.record_workflow(run_id, wf)
        self.submitted.append((batch.index, run_id))
        self.left[wf] = self.rounds
        failing = self.fail.get(batch.index, 0) > 0
        if failing:
            self.fail[batch.index] -= 1
        self.ending[wf] = "FAILED" if failing else "COMPLETED"
        return wf

    def query(self, wf):
        return self.ending[wf] if self.left[wf] <= 0 else ("RUNNING" if self.left[wf] < self.rounds else "PENDING")

    def tick(self):
        running = [wf for wf, n in self.left.items() if n > 0]
        self.peak = max(self.peak, len(running))
        for wf in running:
            self.left[wf] -= 1


def test_drive_bounds_in_flight_and_retries_a_failed_batch_alone(ledger):
    plan = fanout.plan_batches(_stems(40), run_id=PARENT, flow="augmentation_and_al", batch_size=4, max_in_flight=3)
    pool = _Pool(ledger, fail={5: 1})
    seen = []
    states = fanout.drive(plan, submit_batch=pool.submit, query=pool.query, ledger=ledger, wait=pool.tick, on_progress=seen.append)
    assert {s.phase for s in states} == {"done"}
    assert pool.peak <= 3
    assert [i for i, _ in pool.submitted].count(5) == 2
    assert all([i for i, _ in pool.submitted].count(i) == 1 for i in range(10) if i != 5)
    assert seen[-1].done == 10 and seen[-1].retried == [5]
    assert any(p.running == 3 and p.queued > 0 for p in seen)
    first, second = fanout.attempt_run_id(PARENT, 5, 1), fanout.attempt_run_id(PARENT, 5, 2)
    assert ledger.get(first).status == "FAILED" and ledger.get(second).status == "COMPLETED"


def test_driving_the_same_run_again_submits_nothing_new(ledger):
    plan = fanout.plan_batches(_stems(12), run_id=PARENT, flow="augmentation_and_al", batch_size=4, max_in_flight=2)
    pool = _Pool(ledger)
    fanout.drive(plan, submit_batch=pool.submit, query=pool.query, ledger=ledger, wait=pool.tick)
    before = len(pool.submitted)
    again = fanout.drive(plan, submit_batch=pool.submit, query=pool.query, ledger=ledger, wait=pool.tick)
    assert len(pool.submitted) == before == 3
    assert {s.phase for s in again} == {"done"}


def test_a_batch_that_keeps_failing_is_left_failed_after_its_attempts(ledger):
    plan = fanout.plan_batches(_stems(8), run_id=PARENT, flow="augmentation_and_al", batch_size=4, max_in_flight=2)
    pool = _Pool(ledger, fail={1: 99})
    states = fanout.drive(plan, submit_batch=pool.submit, query=pool.query, ledger=ledger, wait=pool.tick)
    assert [(s.phase, s.attempts) for s in states] == [("done", 1), ("failed", fanout.MAX_ATTEMPTS)]
    assert fanout.progress(states).text() == "1/2 batches done, 0 running, 0 queued, 1 failed"


def test_a_batch_submits_exactly_its_clips():
    plan = fanout.plan_batches(_stems(10), run_id=PARENT, flow="augmentation_and_al", augmentations=1, batch_size=4)
    base = {"dataset": "clips", "storage_url": "s3://b/p", "gpu_platform": "gpu", "video": "ignored"}
    values = [fanout.batch_values(base, b, fanout.attempt_run_id(PARENT, b.index, 1)) for b in plan.batches]
    assert [v["clips"].split(",") for v in values] == [list(b.clips) for b in plan.batches]
    assert [v["video"] for v in values] == [b.clips[0] for b in plan.batches]
    assert sorted(c for v in values for c in v["clips"].split(",")) == _stems(10)

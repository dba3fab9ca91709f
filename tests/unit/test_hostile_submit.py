"""Double submit (issue 14): when ``osmo workflow submit`` creates the workflow and then fails
ambiguously (exit 10 after a server timeout, a CLI timeout, output that cannot be read), a retry
must not create a second workflow for the run id: the run's workflow is looked up (by the name our
spec gives it, confirmed by the run id in its spec) and adopted; the ledger keeps one workflow per
run id. A definite refusal (exit 1/2) still allows one new attempt."""

from __future__ import annotations

import threading

import pytest

from skill.errors import BackendTimeout, BackendUnavailable, CommandFailed, SkillError
from skill.ledger import Ledger
from skill.render import RenderedSpec
from skill.steps.submit import SubmitRequest, submit
from tests.fakes.backend import FakeBackend

RUN_ID = "run-1a2b3c4d"


def req(**overrides) -> SubmitRequest:
    return SubmitRequest(**{"flow": "augmentation_and_al", "dataset": "vda-demo", "run_id": RUN_ID, "storage_url": "s3://bkt/p",
                            "gpu_platform": "gpu", "video": "clip", **overrides})


class Cluster(FakeBackend):
    """A cluster that may create the workflow and then fail the CLI call; lookups see what exists."""

    def __init__(self, *, create_then: list[SkillError | None] | None = None, lookup_error: SkillError | None = None) -> None:
        super().__init__()
        self.create_then = list(create_then or [])  # per submit call: raise this after creating (None: succeed)
        self.refuse_next: list[SkillError] = []  # per submit call: raise this without creating
        self.lookup_error = lookup_error
        self.lookups = 0

    def submit(self, spec: RenderedSpec, *, pool: str | None = None) -> str:
        self.calls.append("submit")
        if self.refuse_next:
            raise self.refuse_next.pop(0)
        self.submitted.append((spec, pool))
        wid = f"{spec.name}-{len(self.submitted)}"
        error = self.create_then.pop(0) if self.create_then else None
        if error is not None:
            raise error
        return wid

    def lookup_submitted(self, name: str, marker: str) -> str | None:
        self.lookups += 1
        if self.lookup_error is not None:
            raise self.lookup_error
        found = [f"{spec.name}-{i}" for i, (spec, _) in enumerate(self.submitted, 1) if spec.name == name and marker in spec.values.values()]
        return found[-1] if found else None


EXIT_10 = BackendUnavailable("osmo workflow submit could not reach the OSMO service (exit 10): timed out.")
AMBIGUOUS = {
    "exit-10": EXIT_10,
    "cli-timeout": BackendTimeout("osmo workflow submit did not answer within 60 s."),
    "unreadable-output": CommandFailed("osmo workflow submit printed output that could not be read.", code="unparseable-output"),
    "killed": CommandFailed("osmo workflow submit failed (exit -9).", exit_code=-9),
}


@pytest.mark.parametrize("kind", sorted(AMBIGUOUS))
def test_created_then_failed_is_adopted_not_resubmitted(kind: str, ledger: Ledger):
    cluster = Cluster(create_then=[AMBIGUOUS[kind]])
    results = [submit(req(), backend=cluster, ledger=ledger) for _ in range(4)]
    assert len(cluster.submitted) == 1, f"{len(cluster.submitted)} workflows for one run id"
    assert {r.workflow_id for r in results} == {"vda-demo-1"} and {r.status for r in results} == {"submitted"}
    assert ledger.get(RUN_ID).workflow_id == "vda-demo-1"
    assert "adopted" in results[0].message


def test_ambiguous_failure_without_a_workflow_allows_one_new_attempt_after_the_lookup(ledger: Ledger):
    cluster = Cluster()
    cluster.refuse_next = [EXIT_10]
    first = submit(req(), backend=cluster, ledger=ledger)
    assert first.status == "uncertain" and first.workflow_id is None and cluster.lookups == 1
    second = submit(req(), backend=cluster, ledger=ledger)
    assert second.status == "submitted" and second.workflow_id == "vda-demo-1"
    assert len(cluster.submitted) == 1 and cluster.lookups == 2
    third = submit(req(), backend=cluster, ledger=ledger)
    assert third.reused and len(cluster.submitted) == 1


def test_a_failed_lookup_never_resubmits(ledger: Ledger):
    cluster = Cluster(create_then=[EXIT_10], lookup_error=BackendUnavailable("osmo workflow list could not reach the OSMO service."))
    for _ in range(3):
        result = submit(req(), backend=cluster, ledger=ledger)
        assert result.status == "uncertain" and result.remedy
    assert len(cluster.submitted) == 1 and ledger.get(RUN_ID).status == "uncertain"


def test_a_backend_without_lookup_stays_uncertain(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", EXIT_10)
    assert submit(req(), backend=fake, ledger=ledger).status == "uncertain"
    assert submit(req(), backend=fake, ledger=ledger).status == "uncertain"
    assert fake.calls.count("submit") == 1


def test_a_definite_refusal_still_allows_a_new_attempt(ledger: Ledger):
    cluster = Cluster()
    cluster.refuse_next = [CommandFailed("osmo workflow submit failed (exit 1): Resource validation failed.", exit_code=1)]
    with pytest.raises(CommandFailed):
        submit(req(), backend=cluster, ledger=ledger)
    assert ledger.get(RUN_ID).status == "failed" and cluster.lookups == 0
    assert submit(req(), backend=cluster, ledger=ledger).status == "submitted"
    assert len(cluster.submitted) == 1


def test_concurrent_retries_of_one_uncertain_run_create_at_most_one_workflow(tmp_path):
    path = tmp_path / "ledger.sqlite"
    cluster = Cluster()
    cluster.refuse_next = [EXIT_10]
    with Ledger(path) as ledger:
        assert submit(req(), backend=cluster, ledger=ledger).status == "uncertain"
    results, errors = [], []

    def retry() -> None:
        try:
            with Ledger(path) as own:
                results.append(submit(req(), backend=cluster, ledger=own))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, [repr(e) for e in errors]
    assert len(cluster.submitted) == 1
    assert {r.workflow_id for r in results if r.workflow_id} == {"vda-demo-1"}

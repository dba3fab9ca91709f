"""setup_model_cache step: canonical values, one --set-string, idempotent per run id, uncertain on timeout."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from skill.errors import BackendTimeout, CommandFailed, PolicyDenied
from skill.ledger import Ledger
from skill.paths import workflow_path
from skill.steps.cache import CacheRequest, setup_model_cache
from tests.fakes.backend import FakeBackend

STORAGE = "s3://bkt/prefix"
RUN_ID = "run-0a1b2c3d"


def test_submits_the_cache_workflow_with_the_two_values(ledger: Ledger):
    fake = FakeBackend()
    result = setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID, pool="default"), backend=fake, ledger=ledger)
    assert result.status == "submitted" and not result.reused
    spec, pool = fake.submitted[0]
    assert spec.name == "setup_model_cache" and pool == "default"
    assert spec.values == {"storage_url": STORAGE, "path": "data"}
    assert result.workflow_id == "setup_model_cache-1"
    assert result.command[:4] == ["osmo", "workflow", "submit", str(workflow_path("setup_model_cache"))]
    assert result.command.count("--set-string") == 1 and "--set" not in result.command
    assert result.command[result.command.index("--set-string") + 1 :] == [f"storage_url={STORAGE}", "path=data"]
    assert result.cache_urls == {
        "cosmos_model_cache_url": f"{STORAGE}/data/models/cosmos_transfer",
        "auto_labeling_model_cache_url": f"{STORAGE}/data/models/auto_labeling",
    }
    assert "setup_model_cache-1" in result.next and "pre_submit_guard" in result.next
    assert ledger.get(RUN_ID).workflow_id == "setup_model_cache-1"


def test_same_run_id_same_values_returns_the_same_workflow(ledger: Ledger):
    fake = FakeBackend()
    first = setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    again = setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    assert again.reused and again.workflow_id == first.workflow_id
    assert len(fake.submitted) == 1


def test_same_run_id_other_values_is_refused(ledger: Ledger):
    fake = FakeBackend()
    setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    with pytest.raises(PolicyDenied) as err:
        setup_model_cache(CacheRequest(storage_url="s3://other/root", run_id=RUN_ID), backend=fake, ledger=ledger)
    assert err.value.code == "run-id-format" and err.value.rule == "run-id-format"
    assert len(fake.submitted) == 1


def test_fresh_run_id_when_omitted(ledger: Ledger):
    fake = FakeBackend()
    a = setup_model_cache(CacheRequest(storage_url=STORAGE), backend=fake, ledger=ledger)
    b = setup_model_cache(CacheRequest(storage_url=STORAGE), backend=fake, ledger=ledger)
    assert a.run_id != b.run_id and a.run_id.startswith("run-")
    assert len(fake.submitted) == 2


def test_timeout_is_uncertain_and_never_resubmitted(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", BackendTimeout("osmo workflow submit did not answer in 60 s."))
    first = setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    assert first.status == "uncertain" and first.workflow_id is None and first.remedy
    again = setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    assert again.status == "uncertain"
    assert fake.calls.count("submit") == 1


def test_refused_submit_raises_and_one_new_attempt_is_allowed(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", CommandFailed("osmo workflow submit exited 1."))
    with pytest.raises(CommandFailed):
        setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    assert ledger.get(RUN_ID).status == "failed"
    retried = setup_model_cache(CacheRequest(storage_url=STORAGE, run_id=RUN_ID), backend=fake, ledger=ledger)
    assert retried.status == "submitted" and retried.attempts == 2


def test_local_path_storage_works(ledger: Ledger, tmp_path: Path):
    fake = FakeBackend()
    root = tmp_path / "storage" / "local"
    result = setup_model_cache(CacheRequest(storage_url=str(root)), backend=fake, ledger=ledger)
    assert result.cache_urls["cosmos_model_cache_url"].endswith("/data/models/cosmos_transfer")
    assert fake.submitted[0][0].values["storage_url"] == result.values["storage_url"]


@pytest.mark.parametrize(
    "fields",
    [
        {"storage_url": STORAGE, "path": "../escape"},
        {"storage_url": STORAGE, "path": "/abs"},
        {"storage_url": STORAGE, "run_id": "run-XYZ"},
        {"storage_url": STORAGE, "pool": "-rf"},
        {"storage_url": STORAGE, "extra": "x"},
        {"storage_url": ""},
    ],
)
def test_request_rejects_bad_fields(fields):
    with pytest.raises(ValidationError):
        CacheRequest(**fields)

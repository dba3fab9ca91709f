"""The faulty-``osmo`` matrix (issue 14): every fault mode of tests/fakes/osmo_faults.py on each of
preflight's calls, submit, poll and logs ends within a bounded time in a result or a coded error
(never a traceback, never an uncoded exception), and repeated submits of one run id leave at most
one workflow on the cluster, adopted by the ledger when the CLI failed after creating it."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from skill.backends.osmo import OsmoBackend
from skill.errors import SkillError
from skill.ledger import Ledger
from skill.steps.logs import LogsRequest, get_logs
from skill.steps.monitor import PollRequest, poll
from skill.steps.submit import SubmitRequest, submit
from tests.fakes.osmo_faults import FAULT_MODES, FaultyOsmo

RUN_ID = "run-1a2b3c4d"
TIMEOUT_S = 2.0
BOUND_S = 20.0  # per operation: a few CLI calls, each ended by its timeout at worst
SCENARIO = {
    "workflows": {"wf-1": {"status": "RUNNING", "pool": "default", "groups": []}},
    "logs": {"wf-1": [["cosmos_worker_0", "step 1 of 3"]]},
}
PREFLIGHT_KEYS = ("version", "pool list", "credential list")


def req() -> SubmitRequest:
    return SubmitRequest(flow="augmentation_and_al", dataset="vda-demo", run_id=RUN_ID, storage_url="s3://bkt/p", gpu_platform="gpu", video="clip")


@pytest.fixture
def faulty(tmp_path: Path) -> FaultyOsmo:
    return FaultyOsmo(tmp_path / "osmo", SCENARIO)


def backend_for(faulty: FaultyOsmo) -> OsmoBackend:
    return OsmoBackend(faulty.executable, timeout=TIMEOUT_S, retries=2, backoff=0.0, sleep=lambda s: None, logs_timeout=1.0, transfer_timeout=5.0)


def bounded(call):
    """(result, error, seconds): the call's result or its SkillError; anything else fails the test."""
    started = time.monotonic()
    try:
        result, error = call(), None
    except SkillError as exc:
        result, error = None, exc
    elapsed = time.monotonic() - started
    assert elapsed < BOUND_S, f"took {elapsed:.1f}s"
    if error is not None:
        text = f"Error: {error}"
        assert error.code and error.remedy and text.startswith("Error: [") and "Traceback" not in text, text
    return result, error, elapsed


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_submit_under_each_fault_keeps_one_workflow_per_run_id(mode: str, faulty: FaultyOsmo, ledger: Ledger):
    faulty.set_faults({"workflow submit": mode})
    backend = backend_for(faulty)
    outcomes = [bounded(lambda: submit(req(), backend=backend, ledger=ledger)) for _ in range(3)]
    created = faulty.submitted()
    assert len(created) <= 1, f"{len(created)} workflows for one run id under {mode}"
    record = ledger.get(RUN_ID)
    if created:
        assert record.workflow_id == created[0]["id"], "the workflow exists but the ledger did not adopt it"
        assert all(r is not None and r.workflow_id == created[0]["id"] for r, _, _ in outcomes[1:])
    else:
        assert record.workflow_id is None
        for result, error, _ in outcomes:
            assert error is not None or result.status == "uncertain"
    if mode.startswith("create-then-") or mode == "slow":
        assert len(created) == 1


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_poll_under_each_fault_is_bounded_and_coded(mode: str, faulty: FaultyOsmo):
    faulty.set_faults({"workflow query": mode})
    result, error, _ = bounded(lambda: poll(PollRequest(workflow_id="wf-1"), backend=backend_for(faulty), sleep=lambda s: None))
    if mode == "slow":
        assert error is None and result.status == "RUNNING"
    else:
        assert error is not None, f"poll under {mode} answered {result!r}"


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_logs_under_each_fault_is_bounded_coded_and_clean(mode: str, faulty: FaultyOsmo):
    faulty.set_faults({"workflow logs": mode})
    result, error, _ = bounded(lambda: get_logs(LogsRequest(workflow_id="wf-1"), backend=backend_for(faulty)))
    if error is None:
        assert "\x1b" not in result.text and "\x00" not in result.text, "raw control codes reached the caller"
    if mode.startswith("exit-"):
        assert error is not None, f"{mode} without output was reported as an empty log"


@pytest.mark.parametrize("mode", FAULT_MODES)
def test_preflight_calls_under_each_fault_are_bounded_and_coded(mode: str, faulty: FaultyOsmo):
    faulty.set_faults({key: mode for key in PREFLIGHT_KEYS})
    backend = backend_for(faulty)
    for call in (backend.version, backend.pools, backend.credentials):
        result, error, _ = bounded(call)
        if mode in ("garbage", "partial-json", "create-then-garbage") or mode.startswith("exit-") or mode.endswith("hang"):
            assert error is not None, f"{call.__name__} under {mode} returned {result!r}"


@pytest.mark.parametrize("mode", ["create-then-exit-10", "create-then-garbage"])
def test_four_cli_retries_of_one_run_id_make_one_workflow(mode: str, faulty: FaultyOsmo, tmp_path: Path, monkeypatch, capfd):
    """The issue's reproduction: `vda submit` retried 4 times with one run id after the CLI created
    the workflow and then failed made 4 cluster workflows."""
    from tools.cli import main

    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VDA_OSMO_CLI", faulty.executable)
    faulty.set_faults({"workflow submit": mode})
    argv = ["submit", "augmentation_and_al", "--backend", "osmo", "--dataset", "vda-demo", "--run-id", RUN_ID, "--storage-url", "s3://bkt/p",
            "--gpu-platform", "gpu", "--video", "clip", "--json"]
    codes = []
    for _ in range(4):
        started = time.monotonic()
        codes.append(main(argv))
        assert time.monotonic() - started < BOUND_S
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err
    created = faulty.submitted()
    assert len(created) == 1 and codes == [0, 0, 0, 0]
    assert out.count(f'"workflow_id": "{created[0]["id"]}"') == 4

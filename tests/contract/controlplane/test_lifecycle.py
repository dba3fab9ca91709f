"""Status transitions, cancel and logs through our backend and steps, with OSMO 6.3.1's real core
service, worker and delayed-job monitor moving the workflow on as the stand-in agents report pods."""

from __future__ import annotations

import textwrap

import pytest

from skill.errors import CommandFailed, NotFound
from skill.render import render_workflow
from skill.steps.logs import LogsRequest, get_logs
from skill.steps.monitor import PollRequest, poll
from tests.contract.controlplane.stack import POOL

# two groups, the second waiting for the first: the shape of every shipped flow in small
TWO_TASKS = """\
    workflow:
      name: cp-life
      tasks:
      - name: first
        image: ubuntu:22.04
        command: ["true"]
      - name: second
        image: ubuntu:22.04
        command: ["true"]
        inputs:
        - task: first
    """
FAST = dict(interval_s=1, max_interval_s=2, heartbeat_s=5, timeout_s=90)


@pytest.fixture()
def submitted(osmo_backend, tmp_path):
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent(TWO_TASKS))
    return osmo_backend.submit(render_workflow(path), pool=POOL)


@pytest.fixture()
def live_logs_backend(controlplane):
    """Logs of a running workflow stream until it ends: the CLI is cut off after a few seconds
    (the interpreter alone takes about one to start)."""
    from skill.backends.osmo import OsmoBackend

    return OsmoBackend(executable=str(controlplane.osmo), timeout=60, retries=1, backoff=0.2, logs_timeout=8)


def test_poll_follows_a_workflow_from_pending_through_running_to_completed(osmo_backend, controlplane, submitted):
    first = poll(PollRequest(workflow_id=submitted), backend=osmo_backend)
    assert first.status == "PENDING" and not first.terminal
    assert {t.name: t.status for t in first.tasks} == {"first": "PROCESSING", "second": "WAITING"}
    assert first.next.startswith("call poll again")

    controlplane.run_task(submitted, "first")
    middle = osmo_backend.query(submitted)
    assert middle.status == "RUNNING"
    assert {t.name: (t.status, t.exit_code) for t in middle.tasks}["first"] == ("COMPLETED", 0)
    assert middle.start_time and middle.start_time.endswith("+00:00") and middle.end_time is None

    controlplane.run_task(submitted, "second")
    events = []
    done = poll(PollRequest(workflow_id=submitted, wait=True, **FAST), backend=osmo_backend, on_progress=events.append)
    assert done.status == "COMPLETED" and done.terminal and not done.failed and not done.timed_out
    assert {t.name: (t.status, t.exit_code) for t in done.tasks} == {"first": ("COMPLETED", 0), "second": ("COMPLETED", 0)}
    assert done.next == "call stage_artifacts for this run"
    assert events and events[-1].status == "COMPLETED"
    final = osmo_backend.query(submitted)
    assert final.end_time and final.duration and final.duration > 0 and final.pool == POOL


def test_a_failed_task_fails_the_workflow_and_its_downstream_task_fails_upstream(osmo_backend, controlplane, submitted):
    controlplane.run_task(submitted, "first", status="FAILED", exit_code=3, message="worker crashed",
                          logs=["loading model", "Resource validation failed: out of GPU memory"])
    result = poll(PollRequest(workflow_id=submitted, wait=True, **FAST), backend=osmo_backend)
    assert result.status == "FAILED" and result.failed and result.terminal
    tasks = {t.name: t for t in result.tasks}
    assert (tasks["first"].status, tasks["first"].exit_code, tasks["first"].failure_message) == ("FAILED", 3, "worker crashed")
    assert tasks["second"].status == "FAILED_UPSTREAM"
    assert result.failed_tasks == ["first"]  # FAILED_UPSTREAM is left out
    assert "out of GPU memory" in result.log_tail["first"]
    assert result.hint is not None and "Resource validation failed" in result.hint.line


def test_cancel_through_our_backend_ends_the_workflow_failed_canceled(osmo_backend, controlplane, submitted):
    controlplane.set_task_status(submitted, "first", "RUNNING")
    controlplane.wait_status(submitted, {"RUNNING"})
    osmo_backend.cancel(submitted)
    result = poll(PollRequest(workflow_id=submitted, wait=True, **FAST), backend=osmo_backend)
    assert result.status == "FAILED_CANCELED" and result.failed
    assert {t.status for t in result.tasks} == {"FAILED_CANCELED"}
    assert all("canceled by user" in (t.failure_message or "") for t in result.tasks)
    # the real CLI exits 0 and prints the per-id failure: our backend still raises
    with pytest.raises(CommandFailed) as again:
        osmo_backend.cancel(submitted)
    assert "already finished" in again.value.message


def test_cancel_and_query_of_an_unknown_workflow_are_not_found(osmo_backend):
    with pytest.raises(NotFound):
        osmo_backend.cancel("cp-nosuch-1")
    with pytest.raises(NotFound) as caught:
        osmo_backend.query("cp-nosuch-1")
    assert "cp-nosuch-1 is not found" in caught.value.message


def test_logs_through_get_logs_while_running_and_after_completion(live_logs_backend, controlplane, submitted):
    controlplane.set_task_status(submitted, "first", "RUNNING")
    controlplane.wait_status(submitted, {"RUNNING"})
    controlplane.write_task_logs(submitted, "first", ["step 1/2", "HF_TOKEN=hf_CANARYcontrolplane1", "step 2/2"])

    live = get_logs(LogsRequest(workflow_id=submitted, last_n=50), backend=live_logs_backend)
    assert live.lines == 3 and "Workflow" not in live.text.splitlines()[0]
    assert live.text.splitlines()[0].endswith("[first] step 1/2")
    assert "CANARY" not in live.text

    controlplane.set_task_status(submitted, "first", "COMPLETED")
    controlplane.set_task_status(submitted, "second", "RUNNING")
    controlplane.wait_status(submitted, {"RUNNING"})
    controlplane.write_task_logs(submitted, "second", ["second says hi"])
    controlplane.set_task_status(submitted, "second", "COMPLETED")
    controlplane.wait_status(submitted, {"COMPLETED"})

    whole = get_logs(LogsRequest(workflow_id=submitted, last_n=50), backend=live_logs_backend)
    assert [line.split("] ", 1)[1] for line in whole.text.splitlines()] == ["step 1/2", "HF_TOKEN=[REDACTED]", "step 2/2", "second says hi"]
    one = get_logs(LogsRequest(workflow_id=submitted, task="second", last_n=50), backend=live_logs_backend)
    assert one.text.endswith("[second] second says hi") and one.lines == 1
    last = get_logs(LogsRequest(workflow_id=submitted, last_n=1), backend=live_logs_backend)
    assert last.lines == 1 and last.text.endswith("second says hi")

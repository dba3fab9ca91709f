"""The local runner's change signal (issue 15): waiters wake when the runner writes the state, and
still reach the end when the signal is missed (they fall back to polling).

Nothing here is timed: a waiter that was woken says so (``wait_for_change`` returns True), one whose
time ran out returns False. Timeouts are long so that a missed signal fails the assertion instead
of passing by luck; speed is measured in ``benchmarks/bench_overhead.py``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest

from skill.backends._local_signal import CHANGES_FIFO, make_signal, notify, state_version, wait_for_change
from skill.backends.base import CLUSTER_TRAITS
from skill.backends.local import LocalBackend
from skill.errors import BackendUnavailable
from skill.render import render_text
from skill.steps.monitor import PollRequest, poll
from tests.fakes.backend import FakeBackend, status_of

WAIT = 30.0
LONG_WAIT = 120.0  # longer than any of these runs: a waiter that times out was not woken

GATED = """
workflow:
  name: "{{name}}"
  groups:
  - name: first
    tasks:
    - name: gated
      image: ubuntu
      command: [bash, -c]
      args: ["while [ ! -f '{{gate}}' ]; do sleep 0.05; done; echo through"]
  - name: second
    tasks:
    - name: after
      image: ubuntu
      command: [bash, -c]
      args: ["echo after"]
      inputs:
      - task: gated
"""


@pytest.fixture
def backend(tmp_path: Path):
    local = LocalBackend(tmp_path / "root")
    yield local
    if local.workflows_dir.is_dir():  # never leave a run (or its task) behind
        for run in local.workflows_dir.iterdir():
            if (run / "state.json").is_file() and not local.query(run.name).terminal:
                local.cancel(run.name)
                local.wait(run.name, WAIT)


def _submit_gated(backend: LocalBackend, tmp_path: Path, name: str) -> tuple[str, Path]:
    gate = tmp_path / f"{name}.go"
    workflow_id = backend.submit(render_text(GATED, set_string={"name": name, "gate": str(gate)}))
    return workflow_id, gate


def _until_running(backend: LocalBackend, workflow_id: str) -> None:
    while backend.query(workflow_id).status != "RUNNING":
        backend.wait_for_change(workflow_id, timeout_s=0.2)


def test_a_waiter_is_woken_by_every_state_write_up_to_the_end(backend: LocalBackend, tmp_path: Path) -> None:
    workflow_id, gate = _submit_gated(backend, tmp_path, "woken")
    _until_running(backend, workflow_id)
    watcher = LocalBackend(backend.root)  # another process's view: no handle on the runner
    woken: list[bool] = []
    final = []

    def watch() -> None:
        while not (status := watcher.query(workflow_id)).terminal:
            woken.append(watcher.wait_for_change(workflow_id, timeout_s=LONG_WAIT))
        final.append(status)

    thread = threading.Thread(target=watch)
    thread.start()
    gate.write_text("go")
    thread.join(LONG_WAIT * 4)
    assert not thread.is_alive()
    assert final and final[0].status == "COMPLETED"
    assert woken and all(woken), "every wait ended on a change, none ran out its time"


def test_poll_reads_the_end_on_the_signal_not_on_its_interval(backend: LocalBackend, tmp_path: Path) -> None:
    workflow_id, gate = _submit_gated(backend, tmp_path, "polled")
    _until_running(backend, workflow_id)
    slept: list[float] = []
    threading.Timer(0.2, gate.write_text, args=("go",)).start()
    result = poll(PollRequest(workflow_id=workflow_id, wait=True, interval_s=LONG_WAIT, max_interval_s=LONG_WAIT, timeout_s=LONG_WAIT * 4),
                  backend=backend, sleep=slept.append)
    assert result.status == "COMPLETED"
    assert result.timed_out is False
    assert slept == []  # the local backend is waited on, never slept on
    assert [t.status for t in result.tasks] == ["COMPLETED", "COMPLETED"]


def test_a_run_without_the_signal_still_ends_by_polling(backend: LocalBackend, tmp_path: Path) -> None:
    workflow_id, gate = _submit_gated(backend, tmp_path, "unsignalled")
    (backend.workflows_dir / workflow_id / CHANGES_FIFO).unlink()  # a run from before the signal, or a lost one
    _until_running(backend, workflow_id)
    gate.write_text("go")
    result = poll(PollRequest(workflow_id=workflow_id, wait=True, interval_s=1, max_interval_s=1, timeout_s=WAIT), backend=backend)
    assert result.status == "COMPLETED"
    assert backend.wait(workflow_id, WAIT, interval=0.1).status == "COMPLETED"


def test_nobody_waiting_means_nothing_to_wake(tmp_path: Path) -> None:
    assert make_signal(tmp_path)
    assert make_signal(tmp_path)  # already there: fine
    assert notify(tmp_path) is False
    assert notify(tmp_path / "gone") is False


def test_notify_wakes_a_blocked_waiter(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    make_signal(tmp_path)
    seen = state_version(state)
    woke: list[bool] = []
    thread = threading.Thread(target=lambda: woke.append(wait_for_change(tmp_path, seen, LONG_WAIT)))
    thread.start()
    while thread.is_alive() and not notify(tmp_path):  # until the waiter has the pipe open
        thread.join(0.01)
    thread.join(LONG_WAIT)
    assert woke == [True]


def test_a_change_made_before_the_wait_is_not_missed(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"v": 1}')
    make_signal(tmp_path)
    seen = state_version(state)
    replacement = tmp_path / "state.json.tmp"
    replacement.write_text('{"v": 2}')
    os.replace(replacement, state)  # the runner's atomic write, signalled while nobody waited
    assert wait_for_change(tmp_path, seen, LONG_WAIT) is True


def test_without_the_pipe_the_waiter_sleeps_its_timeout_and_reports_no_change(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{}")
    slept: list[float] = []
    assert wait_for_change(tmp_path, state_version(state), 3.0, sleep=slept.append) is False
    assert slept == [3.0]


def test_a_signal_that_cannot_be_read_makes_the_pause_a_plain_sleep() -> None:
    class Signalling(FakeBackend):
        traits = replace(CLUSTER_TRAITS, signals_changes=True)

        def wait_for_change(self, workflow_id: str, *, timeout_s: float) -> bool:
            raise BackendUnavailable("The change signal could not be read.", remedy="Poll again.")

    backend = Signalling()
    backend.on_query = lambda wid, n: status_of(wid, "RUNNING" if n < 2 else "COMPLETED")
    slept: list[float] = []
    result = poll(PollRequest(workflow_id="vda-demo-1", wait=True, interval_s=5, max_interval_s=5), backend=backend,
                  clock=lambda: 1000.0 + sum(slept), sleep=slept.append)
    assert result.status == "COMPLETED"
    assert slept == [5, 5]

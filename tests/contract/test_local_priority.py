"""Slack groups run at a lower CPU priority (issue 15): a group on no longest chain of groups (e2e's
labeling of the original clips) yields the CPU to the work the run waits for, and a warm engine
runs at its launcher's priority as a cold one would. Statuses and outputs are unchanged."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from skill.backends._local_plan import slack_groups
from skill.backends._local_state import GroupPlan
from skill.backends._local_warm import _peer_priority, _take_priority
from skill.backends.local import LocalBackend
from skill.backends.local_runner import SLACK_NICE
from skill.render import render_text


def _groups(edges: dict[str, list[str]]) -> list[GroupPlan]:
    return [GroupPlan(name=name, upstream=upstream, tasks=[]) for name, upstream in edges.items()]


@pytest.mark.parametrize(("edges", "slack"), [
    # e2e: the original clips' labels beside the augmentation, which the augmented labels follow
    ({"setup": [], "label_original": ["setup"], "augment": ["setup"], "label_augmented": ["setup", "augment"]}, {"label_original"}),
    ({"setup": [], "label": ["setup"]}, set()),  # a chain: everything is waited for
    ({"only": []}, set()),
    ({"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}, set()),  # a diamond: both branches are as long
    ({"a": [], "b": ["a"], "c": ["b"], "side": []}, {"side"}),  # an independent short group
])
def test_slack_groups_are_those_on_no_longest_chain(edges, slack) -> None:
    assert slack_groups(_groups(edges)) == slack


E2E_SHAPE = """
workflow:
  name: "{{name}}"
  groups:
  - name: setup_group
    tasks:
    - name: setup
      image: ubuntu
      command: [bash, -c, "nice > {{output}}/nice"]
  - name: original_group
    tasks:
    - name: original
      image: ubuntu
      command: [bash, -c, "nice > {{output}}/nice"]
      inputs:
      - task: setup
  - name: augment_group
    tasks:
    - name: augment
      image: ubuntu
      command: [bash, -c, "nice > {{output}}/nice"]
      inputs:
      - task: setup
  - name: augmented_group
    tasks:
    - name: augmented
      image: ubuntu
      command: [bash, -c, "nice > {{output}}/nice"]
      inputs:
      - task: augment
"""


def test_a_slack_groups_tasks_run_nicer_and_the_run_reports_as_before(tmp_path: Path) -> None:
    backend = LocalBackend(tmp_path / "root")
    workflow_id = backend.submit(render_text(E2E_SHAPE, set_string={"name": "prio"}))
    status = backend.wait(workflow_id, 60)
    assert status.status == "COMPLETED" and all(t.status == "COMPLETED" for t in status.tasks)
    own = os.getpriority(os.PRIO_PROCESS, 0)
    tasks = backend.workflows_dir / workflow_id / "tasks"
    seen = {name: int((tasks / name / "output" / "nice").read_text()) for name in ("setup", "original", "augment", "augmented")}
    assert seen == {"setup": own, "original": max(own, SLACK_NICE), "augment": own, "augmented": own}


def test_a_warm_engine_takes_its_launchers_priority(tmp_path: Path) -> None:
    path = tmp_path / "s.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as server:
        server.bind(str(path))
        server.listen(1)
        base = os.getpriority(os.PRIO_PROCESS, 0)
        launcher = subprocess.Popen(
            ["nice", "-n", "7", sys.executable, "-c",
             f"import socket, time; s = socket.socket(socket.AF_UNIX); s.connect({str(path)!r}); time.sleep(30)"])
        try:
            conn, _ = server.accept()
            with conn:
                priority = _peer_priority(conn)
        finally:
            launcher.kill()
            launcher.wait()
    assert priority == min(base + 7, 19)
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # an engine forked from the starter
        try:
            _take_priority(priority)
            _take_priority(base)  # never raised again (that would need privileges)
            os.write(write, str(os.getpriority(os.PRIO_PROCESS, 0)).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as got:
        assert int(got.read()) == priority
    _take_priority(None)  # unknown: nothing changes
    assert os.getpriority(os.PRIO_PROCESS, 0) == base


def test_off_linux_the_runner_changes_no_priority(monkeypatch: pytest.MonkeyPatch) -> None:
    """A thread id is a pid only on Linux: elsewhere setpriority on it could renice another process."""
    from skill.backends import local_runner

    calls: list[tuple] = []
    monkeypatch.setattr(local_runner.sys, "platform", "darwin")
    monkeypatch.setattr(local_runner.os, "setpriority", lambda *args: calls.append(args))
    local_runner._lower_priority()
    assert calls == []

"""A runner started ahead (issue 15): inside ``LocalBackend.prewarmed()`` the submit's runner is forked by
a starter that imported the runner and the engines while the caller was busy. The run must behave
exactly as one with a cold runner (statuses, outputs, liveness, cancel, surviving its submitter),
and every way the starter can fail leaves the submit to a cold runner. No timing here
(benchmarks/bench_overhead.py measures what it saves).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from skill.backends import _local_prestart
from skill.backends._local_prestart import PrestartedStarter
from skill.backends._local_warm import WarmStarter
from skill.backends.local import LocalBackend
from skill.paths import skill_root
from skill.render import render_text
from tests.waiting import until

WAIT = 60.0

ENGINE_TASK = """
workflow:
  name: "{{name}}"
  groups:
  - name: only
    tasks:
    - name: engine
      image: ubuntu
      command: [bash, -c]
      args: ["sleep {{seconds}}; \\"$VDA_PYTHON\\" -m skill.engines.augment --help > {{output}}/help.txt && echo \\"$VDA_PYTHON\\" > {{output}}/python.txt"]
  - name: after
    tasks:
    - name: downstream
      image: ubuntu
      command: [bash, -c, "touch {{output}}/ran"]
      inputs:
      - task: engine
"""



def _parent_of(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[1])


def _cmdline(pid: int) -> bytes:
    return Path(f"/proc/{pid}/cmdline").read_bytes()


def _alive(proc: subprocess.Popen[bytes]) -> bool:
    return proc.poll() is None


@pytest.fixture
def backend(tmp_path: Path):
    local = LocalBackend(tmp_path / "root")
    yield local
    if local.workflows_dir.is_dir():  # never leave a run behind
        for run in local.workflows_dir.iterdir():
            if (run / "state.json").is_file() and not local.query(run.name).terminal:
                local.cancel(run.name)
                local.wait(run.name, WAIT)


def _submit(backend: LocalBackend, name: str, seconds: str = "0.5") -> str:
    return backend.submit(render_text(ENGINE_TASK, set_string={"name": name, "seconds": seconds}))


def test_the_prestarted_starter_forks_the_runner_and_the_run_is_as_a_cold_one(backend: LocalBackend) -> None:
    with backend.prewarmed():
        starter = backend._prestarted.proc
        workflow_id = _submit(backend, "warmrun", seconds="1")
    runner = int((backend.workflows_dir / workflow_id / "runner.pid").read_text())
    assert _parent_of(runner) == starter.pid  # forked by the pre-started starter, not started cold
    assert b"--runner" in _cmdline(starter.pid)
    status = backend.wait(workflow_id, WAIT)
    assert status.status == "COMPLETED", backend.logs(workflow_id)
    output = backend.workflows_dir / workflow_id / "tasks"
    assert "usage:" in (output / "engine" / "output" / "help.txt").read_text()
    assert Path((output / "engine" / "output" / "python.txt").read_text().strip()) == backend.workflows_dir / workflow_id / "bin" / "python"
    assert (output / "downstream" / "output" / "ran").is_file()
    assert "Traceback" not in (backend.workflows_dir / workflow_id / "runner.log").read_text()
    until(lambda: not _alive(starter), "the starter to end with its runner")
    assert not any((backend.root / "warm").iterdir())  # its socket went with it


def test_a_prewarmed_block_no_submit_used_leaves_no_process(backend: LocalBackend) -> None:
    with backend.prewarmed():
        starter = backend._prestarted.proc
        socket_path = backend._prestarted.socket_path
        until(lambda: socket_path.exists(), "the starter to listen")
    until(lambda: not _alive(starter), "the unused starter to exit")
    assert not socket_path.exists()
    assert backend._prestarted is None


def test_a_starter_gone_before_the_submit_leaves_it_to_a_cold_runner(backend: LocalBackend) -> None:
    with backend.prewarmed():
        starter = backend._prestarted.proc
        starter.kill()
        starter.wait()
        workflow_id = _submit(backend, "coldrun")
    runner = int((backend.workflows_dir / workflow_id / "runner.pid").read_text())
    # read once the exec is complete (a process in execve shows an empty command line for a moment)
    assert b"_runner_main" in until(lambda: _cmdline(runner), "the runner's command line")
    assert backend.wait(workflow_id, WAIT).status == "COMPLETED"


def test_a_killed_prestarted_runner_frees_the_run_lock_and_is_settled(backend: LocalBackend) -> None:
    """The run's lock must be the runner's alone: a starter still holding it would keep a dead run RUNNING."""
    with backend.prewarmed():
        workflow_id = _submit(backend, "orphan", seconds="30")
    runner = int((backend.workflows_dir / workflow_id / "runner.pid").read_text())
    until(lambda: backend.query(workflow_id).status == "RUNNING", "the task to run")
    os.kill(runner, signal.SIGKILL)
    fresh = LocalBackend(backend.root)
    status = until(lambda: (s := fresh.query(workflow_id)).terminal and s, "query to notice the dead runner")
    assert status.status == "FAILED"
    assert next(t for t in status.tasks if t.name == "engine").failure_message == "runner exited"


def test_cancel_reaches_the_tasks_of_a_prestarted_runner(backend: LocalBackend) -> None:
    with backend.prewarmed():
        workflow_id = _submit(backend, "cancelme", seconds="30")
    until(lambda: backend.query(workflow_id).status == "RUNNING", "the task to run")
    backend.cancel(workflow_id)
    status = backend.wait(workflow_id, WAIT)
    assert status.status == "FAILED_CANCELED"


SUBMIT_AND_LEAVE = """
import sys
from pathlib import Path
from skill.backends.local import LocalBackend
from skill.render import render_text
text = "workflow:\\n  name: detached\\n  tasks:\\n  - name: slow\\n    image: ubuntu\\n    command: [bash, -c, 'sleep 0.5; echo survived > {{output}}/note']\\n"
backend = LocalBackend(Path(sys.argv[1]))
with backend.prewarmed():
    print(backend.submit(render_text(text)))
"""


def test_a_prestarted_run_survives_the_process_that_submitted_it(backend: LocalBackend) -> None:
    done = subprocess.run([sys.executable, "-c", SUBMIT_AND_LEAVE, str(backend.root)], capture_output=True, text=True, timeout=WAIT, cwd=skill_root())
    assert done.returncode == 0, done.stderr
    status = backend.wait(done.stdout.strip(), WAIT)
    assert status.status == "COMPLETED"
    assert (backend.workflows_dir / "detached-1" / "tasks" / "slow" / "output" / "note").read_text().strip() == "survived"


def test_a_starter_of_a_run_refuses_to_fork_a_runner(tmp_path: Path) -> None:
    """Only a starter started ahead (``--runner``) takes a runner, and only one."""
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    warm = WarmStarter(run_dir)
    assert warm.start(dict(os.environ))
    read_end, write_end = os.pipe()
    os.close(read_end)
    asking = PrestartedStarter(warm._proc, warm.socket_path, write_end)
    lock = os.open(tmp_path / "lock", os.O_RDWR | os.O_CREAT, 0o600)
    log = os.open(tmp_path / "log", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        until(lambda: warm.socket_path.exists(), "the starter to listen")
        assert asking.hand_over(tmp_path / "other", dict(os.environ), log, lock) is None
        assert warm.running
    finally:
        os.close(write_end)
        os.close(lock)
        os.close(log)
        warm.stop()


# --- started before the command's imports (tools.cli: a local `vda run`) ------------------------


@pytest.fixture
def early_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "early"
    monkeypatch.setenv("VDA_LOCAL_ROOT", str(root))
    yield root
    _local_prestart.discard_early()


def test_an_early_starter_is_the_one_the_backend_prewarms_with(early_root: Path) -> None:
    _local_prestart.start_early()
    early = _local_prestart._early
    assert early is not None and early.socket_path.parent == early_root / "warm"
    backend = LocalBackend()
    with backend.prewarmed():
        assert backend._prestarted is early  # taken over, no second starter
        workflow_id = _submit(backend, "earlyrun")
    runner = int((backend.workflows_dir / workflow_id / "runner.pid").read_text())
    assert _parent_of(runner) == early.proc.pid
    assert backend.wait(workflow_id, WAIT).status == "COMPLETED"
    assert _local_prestart._early is None


def test_an_early_starter_for_another_root_or_none_taken_is_let_go(early_root: Path, tmp_path: Path) -> None:
    _local_prestart.start_early()
    early = _local_prestart._early
    other = LocalBackend(tmp_path / "other")
    with other.prewarmed():
        assert other._prestarted is not None and other._prestarted is not early
    until(lambda: not _alive(early.proc), "the early starter of another root to exit")
    _local_prestart.start_early()
    unused = _local_prestart._early
    _local_prestart.discard_early()
    until(lambda: not _alive(unused.proc), "an early starter no run took to exit")


@pytest.mark.parametrize(("argv", "env", "ahead"), [
    (["run", "--video", "a.mp4"], None, True),
    (["--log-level", "INFO", "run", "--backend", "local"], "osmo", True),
    (["run", "--backend", "osmo"], None, False),
    (["run", "--backend=osmo"], None, False),
    (["run", "--video", "a.mp4"], "osmo", False),
    (["run", "--help"], None, False),
    (["run", "--resume", "run-1a2b3c4d"], None, False),
    (["flow", "label my clips"], None, False),
])
def test_which_commands_start_a_starter_before_their_imports(argv, env, ahead, monkeypatch: pytest.MonkeyPatch) -> None:
    from tools.cli import _local_run_ahead

    if env is None:
        monkeypatch.delenv("VDA_BACKEND", raising=False)
    else:
        monkeypatch.setenv("VDA_BACKEND", env)
    assert _local_run_ahead(argv) is ahead

"""The local runner's warm starter (issue 15): engine commands a task runs through ``$VDA_PYTHON``
start forked from a process that imported the engines once, and behave as their own process would
(same output, exit status, working folder, environment); everything else, and any engine command
the starter cannot take, runs on the real interpreter. No timing here (bench_overhead measures it).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from skill.backends._local_warm import WarmStarter
from skill.engines.synthetic import make_scene
from tests.waiting import until

WAIT = 60.0


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                found.append(int(entry.name))
    return found



@pytest.fixture
def starter(tmp_path: Path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    warm = WarmStarter(run_dir)
    assert warm.start(dict(os.environ))
    yield warm
    warm.stop()


def _run(argv: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=WAIT, check=False)


def _served(starter: WarmStarter) -> bool:
    return starter.socket_path.exists() and starter.running


@pytest.mark.parametrize("args", [
    ["-m", "skill.engines.augment", "--help"],
    ["-m", "skill.engines.label", "--engine", "bogus"],
    ["-m", "skill.engines.label", "--engine", "classic", "--video", "missing.mp4", "--output-dir", "out", "--config", "c.yaml"],
])
def test_an_engine_command_answers_as_a_cold_start_does(starter: WarmStarter, tmp_path: Path, args: list[str]) -> None:
    until(lambda: _served(starter), "the starter to listen")
    warm = _run([str(starter.launcher), *args], tmp_path)
    cold = _run([sys.executable, *args], tmp_path)
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr)


def test_an_engine_runs_in_the_tasks_folder_with_its_environment(starter: WarmStarter, tmp_path: Path) -> None:
    (tmp_path / "task").mkdir()
    (tmp_path / "task" / "labels.yaml").write_text("detection_and_tracking: [not, a, mapping]\n")
    args = ["-m", "skill.engines.label", "--engine", "classic", "--video", "clip.mp4", "--output-dir", "out", "--config", "labels.yaml"]
    warm = _run([str(starter.launcher), *args], tmp_path / "task", VDA_LOG_LEVEL="DEBUG")
    cold = _run([sys.executable, *args], tmp_path / "task", VDA_LOG_LEVEL="DEBUG")
    assert warm.returncode == cold.returncode != 0
    assert warm.stderr == cold.stderr  # relative paths resolved in the task's folder, the same message


def test_anything_else_runs_on_the_real_interpreter(starter: WarmStarter, tmp_path: Path) -> None:
    snippet = "import sys, os; print(sys.argv[1:], sys.stdin.read().strip(), os.environ['MARK']); sys.exit(3)"
    done = subprocess.run([str(starter.launcher), "-c", snippet, "a", "b"], input="piped", cwd=tmp_path,
                          env={**os.environ, "MARK": "seen"}, capture_output=True, text=True, timeout=WAIT, check=False)
    assert done.returncode == 3
    assert done.stdout.strip() == "['a', 'b'] piped seen"


def test_without_the_starter_engines_start_cold(tmp_path: Path) -> None:
    warm = WarmStarter(tmp_path)
    assert warm.start(dict(os.environ))
    warm.stop()  # the launcher stays; nothing listens any more
    args = ["-m", "skill.engines.augment", "--help"]
    assert _run([str(warm.launcher), *args], tmp_path).stdout == _run([sys.executable, *args], tmp_path).stdout


def test_an_engine_dies_with_its_launcher(starter: WarmStarter, tmp_path: Path) -> None:
    until(lambda: _served(starter), "the starter to listen")
    config = tmp_path / "blocking.yaml"
    os.mkfifo(config)  # reading the config blocks: the engine stays alive until killed
    video = tmp_path / "clip.mp4"
    make_scene(video, width=64, height=48, fps=5, seconds=1, seed=1)
    launcher = subprocess.Popen([str(starter.launcher), "-m", "skill.engines.label", "--engine", "classic", "--video", str(video),
                                 "--output-dir", str(tmp_path / "out"), "--config", str(config)], cwd=tmp_path, start_new_session=True)
    assert starter._proc is not None
    until(lambda: _children(starter._proc.pid), "the engine to be forked")
    os.killpg(launcher.pid, signal.SIGKILL)  # how the runner ends a task
    launcher.wait(WAIT)
    until(lambda: not _children(starter._proc.pid), "the engine to die with its launcher")


def test_the_starter_exits_when_its_runner_lets_go(tmp_path: Path) -> None:
    warm = WarmStarter(tmp_path)
    assert warm.start(dict(os.environ))
    proc = warm._proc
    assert proc is not None
    warm.stop()
    assert proc.poll() is not None
    assert not warm.socket_path.exists()


def test_the_staged_config_generator_starts_warm_only_when_it_is_this_installations(starter: WarmStarter, tmp_path: Path) -> None:
    from skill.paths import skill_root

    ours = (skill_root() / "skill" / "engines" / "configs.py").read_text()
    staged = tmp_path / "same" / "generate_configs.py"
    staged.parent.mkdir()
    staged.write_text(ours)
    changed = tmp_path / "changed" / "generate_configs.py"
    changed.parent.mkdir()
    changed.write_text(ours.replace("def main(argv", "print('the staged copy ran')\n\n\ndef main(argv", 1))
    args = [str(tmp_path / "missing-videos"), str(tmp_path), str(tmp_path / "out")]
    until(lambda: _served(starter), "the starter to listen")
    warm = _run([str(starter.launcher), str(staged), *args], tmp_path)
    cold = _run([sys.executable, str(staged), *args], tmp_path)
    assert (warm.returncode, warm.stdout, warm.stderr) == (cold.returncode, cold.stdout, cold.stderr) and warm.returncode == 1
    own = _run([str(starter.launcher), str(changed), *args], tmp_path)
    assert own.stdout.startswith("the staged copy ran")  # not this installation's code: run as it is


def test_the_staged_barrier_starts_warm_and_meets_a_cold_peer(starter: WarmStarter, tmp_path: Path) -> None:
    """The workers' completion barrier (staged as osmo_barrier.py) runs forked from the starter when it is
    this installation's file: the lead waits there, a peer started cold joins it, both end 0."""
    import socket

    from skill.paths import skill_root

    staged = tmp_path / "osmo_barrier.py"
    staged.write_bytes((skill_root() / "skill" / "engines" / "barrier.py").read_bytes())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    until(lambda: _served(starter), "the starter to listen")
    assert starter._proc is not None
    lead = subprocess.Popen([str(starter.launcher), str(staged), "--rank", "0", "--num_nodes", "2", "--port", str(port),
                             "--timeout", "60"], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    until(lambda: _children(starter._proc.pid), "the lead to be forked from the starter")
    peer = _run([sys.executable, str(staged), "--rank", "1", "--num_nodes", "2", "--port", str(port), "--connect", "127.0.0.1",
                 "--retry-interval", "0.05", "--timeout", "60"], tmp_path)
    out, err = lead.communicate(timeout=WAIT)
    assert peer.returncode == 0 and lead.returncode == 0, (peer.stderr, err)
    assert "rank 0: OK (all ranks arrived)" in out + err


def test_a_launcher_gone_before_its_engine_began_leaves_no_traceback(starter: WarmStarter, tmp_path: Path) -> None:
    import array
    import json
    import socket
    import struct

    until(lambda: _served(starter), "the starter to listen")
    err_read, err_write = os.pipe()
    null = os.open(os.devnull, os.O_RDWR)
    request = json.dumps({"module": "skill.engines.augment", "args": ["--help"], "cwd": str(tmp_path), "env": dict(os.environ)}).encode()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(starter.socket_path))
        conn.sendmsg([struct.pack("!I", len(request)) + request], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [null, null, err_write]))])
    # gone at once, as a launcher killed with its task; the engine's stderr is ours to read
    os.close(err_write)
    os.close(null)
    with os.fdopen(err_read, "rb") as stderr:
        assert b"Traceback" not in stderr.read()  # EOF once the forked engine has exited


def test_sigterm_to_the_launcher_ends_the_engine_with_sigterm_as_a_cold_start(starter: WarmStarter, tmp_path: Path) -> None:
    until(lambda: _served(starter), "the starter to listen")
    config = tmp_path / "blocking.yaml"
    os.mkfifo(config)
    video = tmp_path / "clip.mp4"
    make_scene(video, width=64, height=48, fps=5, seconds=1, seed=1)
    launcher = subprocess.Popen([str(starter.launcher), "-m", "skill.engines.label", "--engine", "classic", "--video", str(video),
                                 "--output-dir", str(tmp_path / "out"), "--config", str(config)], cwd=tmp_path, start_new_session=True)
    assert starter._proc is not None
    until(lambda: _children(starter._proc.pid), "the engine to be forked")
    launcher.terminate()  # what cancel sends a running task
    assert launcher.wait(WAIT) == -signal.SIGTERM
    until(lambda: not _children(starter._proc.pid), "the engine to end")


def test_the_preload_holds_every_module_the_classic_engines_use(tmp_path: Path) -> None:
    """A forked engine imports nothing of its own: what the classic augment and label runs load on first
    use is in the starter's PRELOAD (an import in the fork is paid again by every task)."""
    from skill.paths import cookbooks_dir, skill_root

    cookbook = cookbooks_dir() / "city_traffic" / "auto_labeling"
    clip = tmp_path / "clip.mp4"
    make_scene(clip, width=320, height=240, fps=10, seconds=1, seed=3, background="road")
    probe = f"""
import contextlib, io, json, sys
from benchmarks.bench_augment import write_clip_config
from pathlib import Path
from skill.backends._local_warm import PRELOAD, RUNNER_MODULE
import importlib
for name in (RUNNER_MODULE, *PRELOAD):
    importlib.import_module(name)
before = set(sys.modules)
from skill.engines import augment, label
config = write_clip_config(Path({str(tmp_path / 'aug.yaml')!r}), {{"weather": "rain", "time_of_day": "night"}})
with contextlib.redirect_stdout(io.StringIO()):
    augment.main(["--engine", "classic", "--config", str(config), "--video", {str(clip)!r}, "--output-dir", {str(tmp_path / 'aug')!r}])
    label.main(["--engine", "classic", "--video", {str(tmp_path / 'aug' / 'augmented_video.mp4')!r}, "--output-dir", {str(tmp_path / 'lab')!r},
                "--config", {str(cookbook / 'auto_labeling_config.yaml')!r}, "--question-bank", {str(cookbook / 'question_bank.json')!r}])
print(json.dumps(sorted(set(sys.modules) - before)))
"""
    done = subprocess.run([sys.executable, "-c", probe], cwd=skill_root(), capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"

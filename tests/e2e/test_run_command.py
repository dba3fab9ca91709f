"""``vda run`` refuses bad input with a clear error before any work starts.

Each case runs the real CLI in a subprocess with ``VDA_HOME`` in ``tmp_path`` and checks three
things: the error (code, one sentence, a remedy, exit code 1, no traceback), and that nothing was
started: no local workflow, no ledger row, nothing uploaded to the local store.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio_ffmpeg
import pytest

from skill.engines.synthetic import make_scene
from skill.ledger import Ledger
from skill.paths import skill_root

TIMEOUT = 60.0
ERROR_LINE = "Error: [{code}] "


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A good clip and the broken files made from it."""
    folder = tmp_path_factory.mktemp("clips")
    good = folder / "good.mp4"
    make_scene(good, width=160, height=96, fps=10, seconds=2, seed=3, background="road")
    data = good.read_bytes()
    faststart = folder / "faststart.mp4"  # index in front, so a cut file still probes fine
    subprocess.run([imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-y", "-i", str(good), "-c", "copy",
                    "-movflags", "+faststart", str(faststart)], check=True, timeout=TIMEOUT)
    cut_data = faststart.read_bytes()
    files = {
        "good": good,
        "empty": folder / "empty.mp4",
        "text_as_mp4": folder / "notes.mp4",
        "text_file": folder / "notes.txt",
        "header_cut": folder / "header_cut.mp4",
        "data_cut": folder / "data_cut.mp4",
    }
    files["empty"].write_bytes(b"")
    files["text_as_mp4"].write_text("these are meeting notes, not a video\n")
    files["text_file"].write_text("these are meeting notes, not a video\n")
    files["header_cut"].write_bytes(data[: len(data) // 2])  # the index (at the end) is lost
    files["data_cut"].write_bytes(cut_data[: len(cut_data) * 6 // 10])  # the index survives, frames do not
    return files


def vda(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VDA_LOCAL_ROOT", "VDA_BACKEND", "VDA_DEBUG", "VDA_SKILL_DIR")}
    env["VDA_HOME"] = str(home)
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True, env=env,
                          cwd=skill_root(), timeout=TIMEOUT)


def assert_nothing_started(home: Path) -> None:
    workflows = home / ".vda" / "local" / "workflows"
    assert not workflows.exists() or not any(workflows.iterdir()), "a workflow was submitted"
    ledger_path = home / ".vda" / "ledger.sqlite"
    if ledger_path.exists():
        with Ledger(ledger_path) as ledger:
            assert ledger.list() == [], "the ledger holds a run"
    datasets = home / ".vda" / "local" / "storage"
    uploaded = [p for p in datasets.rglob("*") if p.is_file()] if datasets.exists() else []
    assert uploaded == [], f"files were uploaded: {uploaded}"
    assert not (home / "media" / "vda" / "runs").exists(), "a run folder was created"


def assert_clear_error(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    first = done.stderr.splitlines()[0] if done.stderr else ""
    assert first.startswith(ERROR_LINE.format(code=code)), done.stderr
    message, _, remedy = first.removeprefix(ERROR_LINE.format(code=code)).partition(" Next: ")
    assert message.endswith(".") and remedy.strip(), f"needs a sentence and a remedy: {first}"
    assert "VDA_DEBUG=1" in done.stderr
    return first


@pytest.mark.parametrize(
    ("case", "code", "mentions"),
    [
        ("missing", "input-not-found", "missing.mp4"),
        ("empty", "input-empty", "empty.mp4"),
        ("text_as_mp4", "video-unreadable", "notes.mp4"),
        ("text_file", "input-not-video", "notes.txt"),
        ("header_cut", "video-unreadable", "header_cut.mp4"),
        ("data_cut", "input-truncated", "data_cut.mp4"),
    ],
)
def test_a_bad_video_is_refused_before_anything_starts(clips: dict[str, Path], tmp_path: Path, case: str, code: str, mentions: str) -> None:
    path = clips["good"].parent / "missing.mp4" if case == "missing" else clips[case]
    home = tmp_path / "home"
    done = vda(home, "run", "--video", str(path), "--flow", "augmentation_and_al")
    line = assert_clear_error(done, code)
    assert mentions in line
    assert_nothing_started(home)


def test_a_bad_video_among_good_ones_stops_the_whole_run(clips: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--video", str(clips["good"]), str(clips["data_cut"]))
    assert_clear_error(done, "input-truncated")
    assert_nothing_started(home)


def test_an_unknown_cookbook_is_refused_with_the_known_ones(clips: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--video", str(clips["good"]), "--cookbook", "city_trafic")
    line = assert_clear_error(done, "invalid-arguments")
    assert "cookbook" in line and "city_traffic" in line  # names the field and the choices
    assert "city_trafic" not in line  # the rejected value is never echoed (fields may hold secrets)
    assert_nothing_started(home)


@pytest.mark.parametrize(("typo", "suggestion"), [("e2e_superresolution", "e2e_super_resolution"), ("augmentaton_and_al", "augmentation_and_al")])
def test_a_flow_name_typo_is_refused_with_a_suggestion(clips: dict[str, Path], tmp_path: Path, typo: str, suggestion: str) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--video", str(clips["good"]), "--flow", typo)
    line = assert_clear_error(done, "unknown-flow")
    assert f"Did you mean {suggestion}" in line
    assert_nothing_started(home)


def test_json_mode_puts_the_error_on_stdout_as_data(clips: dict[str, Path], tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--json", "--video", str(clips["empty"]))
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "input-empty"
    assert error["message"].endswith(".") and error["remedy"]
    assert_nothing_started(home)


def test_a_folder_without_videos_is_refused(clips: dict[str, Path], tmp_path: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "docs"
    folder.mkdir()
    (folder / "readme.txt").write_text("no videos here\n")
    done = vda(home, "run", "--folder", str(folder))
    assert_clear_error(done, "no-videos")
    assert_nothing_started(home)


def test_no_input_and_no_demo_reachable_is_one_clear_error_and_nothing_starts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from skill.backends.local import LocalBackend
    from skill.errors import BackendUnavailable, InputError
    from skill.ledger import Ledger
    from skill.pipeline import RunRequest, run_pipeline

    home = tmp_path / "home"
    monkeypatch.setenv("VDA_HOME", str(home))
    stages: list[str] = []

    def unreachable(_req):
        raise BackendUnavailable("Hugging Face could not be reached.", remedy="Check the network.")

    with pytest.raises(InputError) as caught:
        run_pipeline(RunRequest(), backend=LocalBackend(root=home / ".vda" / "local"), ledger=Ledger(home / ".vda" / "ledger.sqlite"),
                     emit=lambda event: stages.append(event.stage), prepare_demo=unreachable)
    err = caught.value
    assert err.code == "demo-unavailable"
    assert err.message.endswith("Hugging Face could not be reached.") and "--video" in err.remedy
    assert "demo" in stages and "submit" not in stages
    assert_nothing_started(home)


# --- the failure path ------------------------------------------------------------------------------


def _engine_processes(task_pgid: int) -> list[int]:
    """Python processes of a task's process group other than its leader (the label engine)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == task_pgid:
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            cmdline = (entry / "cmdline").read_bytes()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if fields[0] != "Z" and int(fields[2]) == task_pgid and b"python" in cmdline:
            found.append(int(entry.name))
    return found


def _kill_label_engine(home: Path, proc: subprocess.Popen[str]) -> str:
    """Wait for the label task to run, SIGKILL its engine process; return the workflow id."""
    workflows = home / ".vda" / "local" / "workflows"
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        for state_path in workflows.glob("*/state.json") if workflows.is_dir() else []:
            try:
                state = json.loads(state_path.read_text())
            except (OSError, ValueError):
                continue
            for group in state["groups"]:
                for task in group["tasks"]:
                    if task["name"].startswith("pl_") and task["status"] == "RUNNING" and task["pid"]:
                        engines = _engine_processes(task["pid"])
                        for pid in engines:
                            os.kill(pid, signal.SIGKILL)
                        if engines:
                            return state_path.parent.name
        time.sleep(0.02)
    pytest.fail("the label engine never ran")


def test_a_killed_label_engine_ends_vda_run_with_a_coded_error_and_its_logs_read(clips: dict[str, Path], tmp_path: Path) -> None:
    from skill.backends.local import LocalBackend
    from skill.steps.logs import LogsRequest, get_logs

    home = tmp_path / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("VDA_LOCAL_ROOT", "VDA_BACKEND", "VDA_DEBUG", "VDA_SKILL_DIR")}
    env["VDA_HOME"] = str(home)
    proc = subprocess.Popen([sys.executable, "-m", "tools.cli", "run", "--video", str(clips["good"]), "--flow", "auto_labeling"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=skill_root())
    try:
        workflow_id = _kill_label_engine(home, proc)
        stdout, stderr = proc.communicate(timeout=TIMEOUT * 2)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, stderr
    assert "Traceback" not in stderr and "Traceback" not in stdout, stderr
    error = next(line for line in stderr.splitlines() if line.startswith("Error: "))
    assert error.startswith("Error: [workflow-failed] ") and " Next: " in error and workflow_id in error
    assert "Failed tasks: pl_" in stdout

    backend = LocalBackend(root=home / ".vda" / "local")
    logs = get_logs(LogsRequest(workflow_id=workflow_id), backend=backend)
    assert "PL failed for" in logs.text and logs.hint is not None  # the matched hint is what crashed vda run and get_logs
    assert logs.hint.title.startswith(logs.hint.symptom)

    import anyio
    from mcp import Client

    from tools.mcp_server import build_server

    async def over_mcp():
        server = build_server(backend=backend, ledger=Ledger(tmp_path / "mcp-ledger.sqlite"))
        async with Client(server) as client:
            return await client.call_tool("get_logs", {"req": {"workflow_id": workflow_id}})

    reply = anyio.run(over_mcp)
    text = "\n".join(getattr(block, "text", "") for block in reply.content)
    assert not reply.is_error, text
    assert f"Hint: {logs.hint.symptom}" in text

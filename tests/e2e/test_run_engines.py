"""``vda run --label-engine nim`` against a real OpenAI-compatible server on 127.0.0.1.

The server (``tests/fakes/openai_server.py``) is an HTTP server on a real socket: the whole run
goes through the CLI, the local executor, the worker script and the label engine's HTTP client,
with nothing mocked. It answers every question with the last of its options, so the scene must
say exactly that. Also here: the engine-choice refusals that must come before any work starts
(server down, unknown model, nim without a URL, cosmos without a GPU/runtime).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skill.engine_choice import cosmos_runtime_missing, gpu_count
from skill.engines._daft import validate_scene
from skill.paths import skill_root
from tests.e2e.test_run_command import assert_nothing_started
from tests.fakes.openai_server import FakeOpenAI

TIMEOUT = 240.0
SECRET = "sk-loopback-test-7f3a9c2e51d04b88"
BANK = json.loads((skill_root() / "assets/cookbooks/city_traffic/auto_labeling/question_bank.json").read_text())


def vda(home: Path, *args: str, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("VDA_LOCAL_ROOT", "VDA_BACKEND", "VDA_DEBUG", "VDA_SKILL_DIR", "VLM_API_KEY", "LLM_API_KEY",
                        "NVIDIA_API_KEY", "OPENAI_API_KEY")}
    env.update({"VDA_HOME": str(home), "VDA_ENDPOINT_CHECK_SECONDS": "3", "ENDPOINT_WAIT_TIMEOUT_SECONDS": "5",
                "ENDPOINT_WAIT_INTERVAL_SECONDS": "1", **(extra_env or {})})
    return subprocess.run([sys.executable, "-m", "tools.cli", *args], capture_output=True, text=True, env=env,
                          cwd=skill_root(), timeout=TIMEOUT)


def assert_clear_error(done: subprocess.CompletedProcess[str], code: str) -> str:
    """Exit 1, no traceback, exactly one ``Error: [code] sentence. Next: remedy`` line (progress lines
    such as the generated sample's may come before it)."""
    assert done.returncode == 1, (done.returncode, done.stderr[-2000:])
    assert "Traceback" not in done.stderr + done.stdout
    errors = [line for line in done.stderr.splitlines() if line.startswith("Error: [")]
    assert len(errors) == 1 and errors[0].startswith(f"Error: [{code}] "), done.stderr
    message, _, remedy = errors[0].removeprefix(f"Error: [{code}] ").partition(" Next: ")
    assert message.endswith(".") and remedy.strip(), errors[0]
    return errors[0]


def _by_question() -> dict[str, list[str]]:
    """Each question's options as the scene shows them (the bank's "C. Rain" is option C, "Rain")."""
    return {q["question"]: [re.sub(r"^[A-Z]\.\s*", "", o) for o in q["options"]] for q in BANK["questions"]}


def test_a_nim_run_writes_the_scene_from_the_servers_answers(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeOpenAI(fail_models=2, slow_s=0.2) as server:  # still loading at first, then slow: readiness wait
        done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim", "--vlm-url", server.url,
                   "--vlm-model", "test/vlm-small", "--llm-model", "test/llm-small", "--json",
                   extra_env={"VLM_API_KEY": SECRET})
        requests = list(server.requests)
    assert done.returncode == 0, done.stderr[-3000:]
    assert SECRET not in done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "COMPLETED" and result["backend"] == "local"
    assert any("labels by nim" in s and server.url in s for s in result["statements"])

    chats = [r for r in requests if r.path.startswith("/v1/chat")]
    vlm_calls = [r for r in chats if r.images]
    llm_calls = [r for r in chats if not r.images]
    assert vlm_calls and llm_calls, "both models were asked"
    assert all(r.model == "test/vlm-small" and r.bad_images == 0 for r in vlm_calls)  # JPEG data URLs
    assert all(r.model == "test/llm-small" for r in llm_calls)
    assert all(r.authorization == f"Bearer {SECRET}" for r in vlm_calls)

    scene = Path(result["local_run_dir"]) / "outputs" / "pseudo_labeled" / "street_sample"
    assert validate_scene(scene) == []
    options = _by_question()
    mcq = json.loads((scene / "task" / "mcq.json").read_text())["items"]
    bcq = json.loads((scene / "task" / "bcq.json").read_text())["items"]
    assert mcq and bcq
    for item in mcq:  # the server picks the last option of every question
        assert item["options"][item["answer"]] == options[item["question"]][-1], item
    for item in bcq:
        assert item["answer"] == options[item["question"]][-1], item
    meta = json.loads((scene / "sidecars" / "metadata.json").read_text())
    assert meta["engine"] == "nim" and meta["has_caption"] and "Overcast daylight" in meta["windows"][0]["vlm_caption"]
    status = json.loads((scene / "sidecars" / "pipeline_status.json").read_text())
    assert status["status"] == "completed" and status["stages"]["mcq_generation"]["engine"] == "nim"
    config = (scene / "config.yaml").read_text()
    assert "test/vlm-small" in config and "test/llm-small" in config
    for path in Path(result["local_run_dir"]).rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".log", ".txt", ".env"):
            assert SECRET not in path.read_text(errors="replace"), path


def test_server_down_is_one_clear_error_before_anything_starts(tmp_path: Path) -> None:
    server = FakeOpenAI().start()
    url = server.url
    server.stop()  # the port is closed: connection refused
    home = tmp_path / "home"
    done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim", "--vlm-url", url)
    line = assert_clear_error(done, "endpoint-unreachable")
    assert "127.0.0.1" in line and "VLM" in line
    assert_nothing_started(home)


def test_server_dying_mid_run_leaves_no_half_written_scene(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeOpenAI(drop_chat=100) as server:  # lists its models, then drops every chat request
        done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim", "--vlm-url", server.url)
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("Error: [workflow-failed] ") or "\nError: [workflow-failed] " in done.stderr, done.stderr
    assert "endpoint-unreachable" in done.stdout + done.stderr  # the task's log tail says why
    scenes = list((home / ".vda" / "local" / "storage").rglob("pseudo_labeled/street_sample"))
    assert scenes, "the worker's output folder was uploaded"
    for scene in scenes:
        left = sorted(p.relative_to(scene).as_posix() for p in scene.rglob("*") if p.is_file())
        assert left == ["logs/pipeline.log"], left  # only the failure log: no task/, sidecars/ or raw/
        assert "FAILED" in (scene / "logs" / "pipeline.log").read_text()
    assert not (home / "media" / "vda" / "runs").exists() or not any((home / "media" / "vda" / "runs").rglob("mcq.json"))


def test_a_model_the_server_does_not_serve_is_refused_up_front(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeOpenAI() as server:
        done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim", "--vlm-url", server.url,
                   "--vlm-model", "no/such-model")
    line = assert_clear_error(done, "model-not-served")
    assert "no/such-model" in line and "test/vlm-small" in line
    assert_nothing_started(home)


def test_nim_without_a_url_is_refused_up_front(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim")
    assert_clear_error(done, "engine-needs-endpoint")
    assert_nothing_started(home)


def test_a_file_url_is_never_opened(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim", "--vlm-url", "file:///etc/passwd")
    line = assert_clear_error(done, "invalid-endpoint-url")
    assert "root:" not in done.stdout + done.stderr and "passwd" not in line
    assert_nothing_started(home)


@pytest.mark.skipif(gpu_count() > 0 and not cosmos_runtime_missing(), reason="this machine can run Cosmos")
def test_cosmos_without_gpu_or_runtime_says_what_is_missing_before_any_work(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeOpenAI() as server:
        done = vda(home, "run", "--sample", "--augment-engine", "cosmos", "--vlm-url", server.url,
                   extra_env={"VDA_COSMOS_WORKDIR": str(tmp_path / "no-cosmos")})
    line = assert_clear_error(done, "cosmos-unavailable")
    if gpu_count() == 0:
        assert "GPU" in line
    assert "modules/cli.py" in line
    assert_nothing_started(home)


def test_augmented_clips_are_labeled_by_the_server(tmp_path: Path) -> None:
    """augmentation_and_al: the classic CPU augmenter here, the labels of every augmented clip from the server."""
    home = tmp_path / "home"
    with FakeOpenAI() as server:
        done = vda(home, "run", "--sample", "--augmentations", "2", "--label-engine", "nim", "--augment-engine", "classic",
                   "--vlm-url", server.url, "--json")
        asked = [r for r in server.requests if r.path.startswith("/v1/chat") and r.images]
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["flow"] == "augmentation_and_al" and len(result["augmented_labels"]) == 2 and result["media_lines"]
    assert len(asked) >= 2  # at least one VLM call per augmented clip
    for name in result["augmented_labels"]:
        scene = Path(result["local_run_dir"]) / "outputs" / "pseudo_labeled_augmented" / name
        assert validate_scene(scene) == []
        meta = json.loads((scene / "sidecars" / "metadata.json").read_text())
        assert meta["engine"] == "nim" and meta["sampled_vars"]


@pytest.mark.parametrize("url", ["http://me:hunter2-secret@127.0.0.1:9/v1", "http://127.0.0.1:9/v1?api_key=hunter2-secret"])
def test_a_url_carrying_a_secret_is_refused_without_echo(tmp_path: Path, url: str) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--sample", "--flow", "auto_labeling", "--label-engine", "nim", "--vlm-url", url)
    assert_clear_error(done, "endpoint-url-credentials")
    assert "hunter2-secret" not in done.stdout + done.stderr
    assert_nothing_started(home)


def test_classic_on_the_cluster_is_refused_before_anything_starts(tmp_path: Path) -> None:
    home = tmp_path / "home"
    done = vda(home, "run", "--backend", "osmo", "--sample", "--label-engine", "classic")
    line = assert_clear_error(done, "engine-not-on-backend")
    assert "--backend local" in line
    assert_nothing_started(home)

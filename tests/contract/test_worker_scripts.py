"""The task scripts, run with bash in temporary folders the way the local executor (and OSMO) runs them."""

from __future__ import annotations

import http.server
import importlib.util
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.unit.test_video_io import write_test_clip

REPO = Path(__file__).resolve().parents[2]
SCRIPTS = REPO / "scripts"
COOKBOOK = REPO / "assets" / "cookbooks" / "city_traffic"
WORKER_SCRIPTS = ("setup_task.sh", "endpoint_common.sh", "cosmos_worker.sh", "pl_original_worker.sh", "pl_augmented_worker.sh")
LABEL_AVAILABLE = importlib.util.find_spec("skill.engines.label") is not None
SECRET = "nvapi-TESTKEY-do-not-print-1234567890"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VDA_", "COSMOS_", "BARRIER_", "WAIT_FOR_")) and k not in {"PYTHONPATH"}}
    env.update(extra)
    return env


def local_env(**extra: str) -> dict[str, str]:
    """What the local executor adds to every task."""
    base = {"VDA_BACKEND": "local", "VDA_ENGINE": "classic", "VDA_PYTHON": sys.executable, "PYTHONPATH": str(REPO)}
    return clean_env(**{**base, **extra})


def stage_files(task_dir: Path) -> Path:
    """Stage the setup task's files as the workflow does: scripts, engines under upstream names, cookbook under sdg/."""
    stage = task_dir / "files" / "tmp" / "vda"
    stage.mkdir(parents=True)
    for name in WORKER_SCRIPTS:
        shutil.copy(SCRIPTS / name, stage / name)
    shutil.copy(REPO / "skill" / "engines" / "barrier.py", stage / "osmo_barrier.py")
    shutil.copy(REPO / "skill" / "engines" / "configs.py", stage / "generate_configs.py")
    shutil.copytree(COOKBOOK, stage / "sdg")
    return stage


def bash(script: Path, env: dict[str, str], *, cwd: Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, cwd=cwd, timeout=timeout)


def start(script: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(["bash", str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def read_env_file(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dataset")
    for name in ("bravo", "alpha", "charlie"):
        write_test_clip(folder / f"{name}.mp4", frames=10)
    return folder


@pytest.fixture(scope="module")
def setup_out(tmp_path_factory: pytest.TempPathFactory, dataset: Path) -> Path:
    """A finished augmentation_and_al setup task (its output is every worker's {{input:0}})."""
    root = tmp_path_factory.mktemp("setup")
    stage = stage_files(root / "task")
    out = root / "output"
    proc = bash(stage / "setup_task.sh", local_env(FLOW="augmentation_and_al", RUN_ID="run-1a2b3c4d", DATASET_INPUT=str(dataset),
                                                   OUTPUT_DIR=str(out), N_AUGMENTATIONS="cookbook", COOKBOOK="city_traffic",
                                                   VLM_MODEL="Qwen/Qwen3-VL-30B-A3B-Instruct", BARRIER_NUM_NODES="2"))
    assert proc.returncode == 0, proc.stderr
    assert "=== setup complete: flow augmentation_and_al, 3 clip config(s) ===" in proc.stdout
    return out


# --- setup ---------------------------------------------------------------------------------------


def test_setup_copies_scripts_cookbook_and_generates_configs(setup_out: Path) -> None:
    for name in ("cosmos_worker.sh", "pl_augmented_worker.sh", "endpoint_common.sh", "osmo_barrier.py"):
        assert (setup_out / name).is_file()
        assert os.access(setup_out / name, os.X_OK)
    assert not (setup_out / "generate_configs.py").exists()
    for rel in ("workflow_config.yaml", "augmentation/augmentation.yaml", "auto_labeling/question_bank.json", "auto_labeling/auto_labeling_config.yaml"):
        assert (setup_out / "configs" / rel).is_file(), rel
    manifest = yaml.safe_load((setup_out / "configs" / "manifest.yaml").read_text())
    assert [e["config"] for e in manifest["configs"]] == ["alpha_aug0.yaml", "bravo_aug0.yaml", "charlie_aug0.yaml"]
    conf = yaml.safe_load((setup_out / "configs" / "alpha_aug0.yaml").read_text())
    assert conf["vda"]["cookbook"] == "city_traffic"


def test_setup_env_file_has_upstream_keys_for_the_flow(setup_out: Path) -> None:
    env = read_env_file(setup_out / ".env")
    assert env == {
        "VDA_FLOW": "augmentation_and_al",
        "ACCEPT_EULA": "Y",
        "UV_NO_SYNC": "1",
        "DOWNLOAD_REID": "false",
        "WAIT_FOR_VLM": "1",
        "WAIT_FOR_LLM": "1",
        "LLM_MODEL_STATIC": "",
        "VLM_MODEL": "Qwen/Qwen3-VL-30B-A3B-Instruct",
        "VDA_ONLY_VIDEO": "",
        "BARRIER_NUM_NODES": "2",
    }
    assert (setup_out / "runtime.env").read_text() == (setup_out / ".env").read_text()


@pytest.mark.parametrize(
    ("flow", "sr", "barrier", "configs"),
    [
        ("auto_labeling", "false", "1", False),
        ("e2e", "false", None, True),
        ("e2e_super_resolution", "true", None, True),
        ("augmentation_and_pl", None, "1", True),
    ],
)
def test_setup_per_flow(tmp_path: Path, dataset: Path, flow: str, sr: str | None, barrier: str | None, configs: bool) -> None:
    stage = stage_files(tmp_path / "task")
    out = tmp_path / "out"
    env = local_env(FLOW=flow, OUTPUT_DIR=str(out), DATASET_INPUT=str(dataset))
    if flow == "auto_labeling":
        env.pop("DATASET_INPUT")
    proc = bash(stage / "setup_task.sh", env)
    assert proc.returncode == 0, proc.stderr
    written = read_env_file(out / ".env")
    assert written.get("SUPER_RESOLUTION_ENABLED") == sr
    assert written.get("BARRIER_NUM_NODES") == barrier
    assert written["VDA_FLOW"] == ("augmentation_and_al" if flow == "augmentation_and_pl" else flow)
    assert (out / "configs" / "manifest.yaml").is_file() == configs
    assert (out / "configs" / "auto_labeling" / "question_bank.json").is_file()


@pytest.mark.parametrize(
    ("env_change", "fragment"),
    [
        ({"FLOW": "augment_everything"}, "FLOW='augment_everything'"),
        ({"DATASET_INPUT": ""}, "missing environment: DATASET_INPUT"),
        ({"N_AUGMENTATIONS": "lots"}, "N_AUGMENTATIONS='lots'"),
    ],
)
def test_setup_rejects_bad_environment(tmp_path: Path, dataset: Path, env_change: dict[str, str], fragment: str) -> None:
    stage = stage_files(tmp_path / "task")
    env = local_env(FLOW="augmentation_and_al", OUTPUT_DIR=str(tmp_path / "out"), DATASET_INPUT=str(dataset))
    env.update(env_change)
    proc = bash(stage / "setup_task.sh", env)
    assert proc.returncode == 1 and f"ERROR: {fragment}" in proc.stderr, proc.stderr


def test_setup_fails_when_config_generation_fails(tmp_path: Path) -> None:
    stage = stage_files(tmp_path / "task")
    empty = tmp_path / "no-such-dataset"
    proc = bash(stage / "setup_task.sh", local_env(FLOW="e2e", OUTPUT_DIR=str(tmp_path / "out"), DATASET_INPUT=str(empty)))
    assert proc.returncode == 1 and "does not exist" in proc.stderr
    assert not (tmp_path / "out" / ".env").exists()


# --- cosmos workers --------------------------------------------------------------------------------


def cosmos_env(setup_out: Path, dataset: Path, out: Path, worker: int, workers: int, port: int) -> dict[str, str]:
    return local_env(
        SETUP_DIR=str(setup_out), VIDEO_INPUT=str(dataset), OUTPUT_DIR=str(out), VIDEO_NAME="alpha",
        WORKER_ID=str(worker), NUM_WORKERS=str(workers), COSMOS_BARRIER_RANK=str(worker),
        COSMOS_BARRIER_NUM_NODES=str(workers), COSMOS_BARRIER_HOST="127.0.0.1", VDA_GROUP_BARRIER_PORT=str(port),
    )


@pytest.fixture(scope="module")
def cosmos_outputs(tmp_path_factory: pytest.TempPathFactory, setup_out: Path, dataset: Path) -> dict[int, tuple[Path, int, str]]:
    """Two cosmos workers of one group, run in parallel and joined by the completion barrier."""
    root = tmp_path_factory.mktemp("cosmos")
    port = free_port()
    procs = {w: (root / f"w{w}", start(setup_out / "cosmos_worker.sh", cosmos_env(setup_out, dataset, root / f"w{w}", w, 2, port))) for w in (0, 1)}
    results = {}
    for w, (out, proc) in procs.items():
        stdout, stderr = proc.communicate(timeout=180)
        results[w] = (out, proc.returncode, stdout + stderr)
    return results


def test_cosmos_workers_split_the_manifest_and_meet_at_the_barrier(cosmos_outputs: dict[int, tuple[Path, int, str]]) -> None:
    (out0, code0, log0), (out1, code1, log1) = cosmos_outputs[0], cosmos_outputs[1]
    assert (code0, code1) == (0, 0), log0 + log1
    assert sorted(p.name for p in out0.iterdir()) == ["alpha_aug0", "charlie_aug0"]
    assert sorted(p.name for p in out1.iterdir()) == ["bravo_aug0"]
    for out, name in ((out0, "alpha_aug0"), (out0, "charlie_aug0"), (out1, "bravo_aug0")):
        meta = json.loads((out / name / "metadata.json").read_text())
        assert meta["engine"] == "classic" and f"{meta['video_name']}_aug{meta['aug_idx']}" == name and meta["frames"] == 10
        assert (out / name / "augmented_video.mp4").stat().st_size > 0
    assert "=== cosmos_worker complete: worker 0/2, 2 clip(s): alpha_aug0 charlie_aug0 ===" in log0
    assert "=== cosmos_worker complete: worker 1/2, 1 clip(s): bravo_aug0 ===" in log1
    assert "rank 0: OK" in log0 and "rank 1: OK" in log1


def test_a_failing_item_stops_the_worker_and_fails_the_group(tmp_path: Path, setup_out: Path, dataset: Path) -> None:
    broken = tmp_path / "dataset"
    shutil.copytree(dataset, broken)
    (broken / "bravo.mp4").write_bytes(b"corrupted upload" * 64)  # worker 1's item
    port = free_port()
    lead = start(setup_out / "cosmos_worker.sh", cosmos_env(setup_out, broken, tmp_path / "w0", 0, 2, port))
    peer = start(setup_out / "cosmos_worker.sh", cosmos_env(setup_out, broken, tmp_path / "w1", 1, 2, port))
    peer_out, peer_err = peer.communicate(timeout=180)
    lead_out, lead_err = lead.communicate(timeout=180)
    assert peer.returncode == 1
    assert "ERROR: augmentation failed for bravo_aug0 (exit code 1)" in peer_err
    assert "[video-unreadable]" in peer_err
    assert "cosmos_worker complete" not in peer_out
    assert lead.returncode == 1, lead_out + lead_err  # the lead learns of the failure at the barrier
    assert "rank 1 reported a failure" in lead_out + lead_err
    assert not (tmp_path / "w1" / "bravo_aug0" / "metadata.json").exists()


def test_more_workers_than_clips_is_fine(tmp_path: Path, setup_out: Path, dataset: Path) -> None:
    env = cosmos_env(setup_out, dataset, tmp_path / "w", 0, 1, free_port())
    env.update(WORKER_ID="3", NUM_WORKERS="4", COSMOS_BARRIER_RANK="0", COSMOS_BARRIER_NUM_NODES="1")
    proc = bash(setup_out / "cosmos_worker.sh", env)
    assert proc.returncode == 0, proc.stderr
    assert "0 clip(s): none" in proc.stdout


# --- PL workers (local) ----------------------------------------------------------------------------

STUB_PYTHON = """#!/usr/bin/env bash
# Stands in for VDA_PYTHON: records label-engine calls and fakes their outputs; anything else runs for real.
if [ "${1:-}" = "-m" ] && [ "${2:-}" = "skill.engines.label" ]; then
  shift 2
  printf '%s\\n' "$@" >> "$STUB_LOG"
  out=""; vars=""
  while [ $# -gt 0 ]; do
    case "$1" in --output-dir) out="$2"; shift ;; --sampled-vars) vars="$2"; shift ;; --augment-metadata) meta="$2"; shift ;; esac
    shift
  done
  mkdir -p "$out/sidecars"
  if [ -n "$vars" ]; then cp "$vars" "$out/sidecars/seen_vars.json"; fi
  if [ -n "${meta:-}" ]; then cp "$meta" "$out/sidecars/seen_metadata.json"; fi
  echo '{"status": "completed"}' > "$out/sidecars/pipeline_status.json"
  exit "${STUB_EXIT:-0}"
fi
exec "$REAL_PYTHON" "$@"
"""


@pytest.fixture()
def stub_python(tmp_path: Path) -> dict[str, str]:
    stub = tmp_path / "stub-python"
    stub.write_text(STUB_PYTHON)
    stub.chmod(stub.stat().st_mode | stat.S_IXUSR)
    return {"VDA_PYTHON": str(stub), "REAL_PYTHON": sys.executable, "STUB_LOG": str(tmp_path / "calls.txt")}


def pl_augmented_env(setup_out: Path, cosmos_out: Path, out: Path, worker: int, workers: int, **extra: str) -> dict[str, str]:
    return local_env(
        SETUP_DIR=str(setup_out), COSMOS_INPUT=str(cosmos_out), OUTPUT_DIR=str(out), WORKER_ID=str(worker), NUM_WORKERS=str(workers),
        BARRIER_RANK=str(worker), BARRIER_NUM_NODES="1", BARRIER_HOST="127.0.0.1", VDA_GROUP_BARRIER_PORT=str(free_port()), **extra,
    )


def test_pl_augmented_labels_its_cosmos_outputs_with_their_sampled_vars(
    tmp_path: Path, setup_out: Path, cosmos_outputs: dict[int, tuple[Path, int, str]], stub_python: dict[str, str]
) -> None:
    cosmos0 = cosmos_outputs[0][0]
    proc = bash(setup_out / "pl_augmented_worker.sh", pl_augmented_env(setup_out, cosmos0, tmp_path / "pl", 0, 2, **stub_python))
    assert proc.returncode == 0, proc.stderr
    assert "=== pl_augmented_worker complete: worker 0/2, 2 clip(s): alpha_aug0 charlie_aug0 ===" in proc.stdout
    calls = (tmp_path / "calls.txt").read_text().split("--engine\n")[1:]
    assert len(calls) == 2
    first = calls[0].splitlines()
    assert first[0] == "classic"
    assert first[first.index("--video") + 1] == str(cosmos0 / "alpha_aug0" / "augmented_video.mp4")
    assert first[first.index("--output-dir") + 1] == str(tmp_path / "pl" / "alpha_aug0")
    assert first[first.index("--config") + 1] == str(setup_out / "configs" / "auto_labeling" / "auto_labeling_config.yaml")
    assert first[first.index("--question-bank") + 1].endswith("question_bank.json")
    assert first[first.index("--augment-metadata") + 1] == str(cosmos0 / "alpha_aug0" / "metadata.json")
    seen = json.loads((tmp_path / "pl" / "alpha_aug0" / "sidecars" / "seen_metadata.json").read_text())["variables"]
    assert set(seen) == {"weather", "time_of_day"}


def test_pl_augmented_reports_a_missing_cosmos_output(tmp_path: Path, setup_out: Path, stub_python: dict[str, str]) -> None:
    empty = tmp_path / "cosmos"
    empty.mkdir()
    proc = bash(setup_out / "pl_augmented_worker.sh", pl_augmented_env(setup_out, empty, tmp_path / "pl", 0, 1, **stub_python))
    assert proc.returncode == 1
    assert "ERROR: PL augmented failed for alpha_aug0 (exit code 1)" in proc.stderr


def test_pl_original_labels_sorted_videos_and_propagates_failure(tmp_path: Path, setup_out: Path, dataset: Path, stub_python: dict[str, str]) -> None:
    env = local_env(SETUP_DIR=str(setup_out), VIDEO_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "pl"), WORKER_ID="1", NUM_WORKERS="2",
                    BARRIER_RANK="0", BARRIER_NUM_NODES="1", VDA_GROUP_BARRIER_PORT=str(free_port()), SUPER_RESOLUTION_ENABLED="true", **stub_python)
    proc = bash(setup_out / "pl_original_worker.sh", env)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls[calls.index("--video") + 1] == str(dataset / "bravo.mp4")  # sorted: alpha, bravo, charlie -> worker 1 of 2
    assert calls[calls.index("--super-resolution") + 1] == "true"
    assert "--sampled-vars" not in calls
    proc = bash(setup_out / "pl_original_worker.sh", {**env, "STUB_EXIT": "3", "WORKER_ID": "0"})
    assert proc.returncode == 3 and "ERROR: PL failed for alpha (exit code 3)" in proc.stderr


def test_pl_original_labels_only_the_video_the_setup_named(tmp_path: Path, setup_out: Path, dataset: Path, stub_python: dict[str, str]) -> None:
    env = local_env(SETUP_DIR=str(setup_out), VIDEO_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "pl"), WORKER_ID="0", NUM_WORKERS="1",
                    BARRIER_RANK="0", BARRIER_NUM_NODES="1", VDA_GROUP_BARRIER_PORT=str(free_port()), VDA_ONLY_VIDEO="charlie", **stub_python)
    proc = bash(setup_out / "pl_original_worker.sh", env)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert [calls[i + 1] for i, c in enumerate(calls) if c == "--video"] == [str(dataset / "charlie.mp4")]
    proc = bash(setup_out / "pl_original_worker.sh", {**env, "VDA_ONLY_VIDEO": "delta"})
    assert proc.returncode == 1 and "no video named delta" in proc.stderr
    (tmp_path / "calls.txt").unlink()
    proc = bash(setup_out / "pl_original_worker.sh", {**env, "VDA_ONLY_VIDEO": "alpha,charlie"})
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert [calls[i + 1] for i, c in enumerate(calls) if c == "--video"] == [str(dataset / "alpha.mp4"), str(dataset / "charlie.mp4")]


@pytest.mark.skipif(not LABEL_AVAILABLE, reason="skill.engines.label is not in this checkout yet")
def test_pl_augmented_with_the_real_classic_labeler(
    tmp_path: Path, setup_out: Path, cosmos_outputs: dict[int, tuple[Path, int, str]]
) -> None:
    cosmos1 = cosmos_outputs[1][0]
    proc = bash(setup_out / "pl_augmented_worker.sh", pl_augmented_env(setup_out, cosmos1, tmp_path / "pl", 1, 2))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = tmp_path / "pl" / "bravo_aug0"
    for rel in ("contextual/instances.json", "contextual/objects.json", "sidecars/pipeline_status.json", "config.yaml"):
        assert (out / rel).is_file(), rel


# --- endpoint_common.sh ----------------------------------------------------------------------------


def common(snippet: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = f'set -euo pipefail; source "{SCRIPTS / "endpoint_common.sh"}"\n{snippet}'
    return subprocess.run(["bash", "-c", script], env=env or clean_env(), capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(
    ("raw", "candidates"),
    [
        ("qwen3-vl.osmo-nims.svc.cluster.local:8000/v1", ["http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1", "http://qwen3-vl.osmo-nims.svc.cluster.local:8000"]),
        ("https://api.example.com/v1/chat/completions?x=1#frag", ["https://api.example.com", "https://api.example.com/v1"]),
        ("http://h:9/base/v1/models/", ["http://h:9/base", "http://h:9/base/v1", "http://h:9", "http://h:9/v1"]),
    ],
)
def test_url_candidates(raw: str, candidates: list[str]) -> None:
    proc = common(f'vda_url_candidates "{raw}"; echo "default=$(vda_default_base_url "{raw}")"')
    lines = proc.stdout.splitlines()
    assert lines[:-1] == candidates
    assert lines[-1] == "default=" + next(c for c in candidates if c.endswith("/v1"))


def test_auth_header_model_id_and_assignment() -> None:
    proc = common(
        'vda_auth_header tok; vda_auth_header "Bearer tok"; vda_auth_header "Authorization: Basic x"; vda_auth_header ""\n'
        'vda_model_id \'{"object":"list","data":[{"id": "served/model-a"},{"id":"b"}]}\'\n'
        'printf "i0\\ni1\\ni2\\ni3\\ni4\\n" | vda_assigned 1 3'
    )
    assert proc.stdout.splitlines() == [
        "Authorization: Bearer tok", "Authorization: Bearer tok", "Authorization: Basic x", "served/model-a", "i1", "i4",
    ]
    bad = common('printf "a\\n" | vda_assigned 2 2')
    assert bad.returncode == 1 and "WORKER_ID=2" in bad.stderr


def test_env_file_loading_keeps_task_values_and_never_executes(tmp_path: Path) -> None:
    (tmp_path / "runtime.env").write_text("A=from-file\nB='two words'\nC=\n# comment\nexport D=\"quoted\"\nE=$(touch pwned)\n")
    proc = common(f'vda_load_env_file "{tmp_path}"; printf "%s|%s|%s|%s|%s\\n" "$A" "$B" "$C" "$D" "$E"', env=clean_env(A="from-task"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "from-task|two words||quoted|$(touch pwned)"
    assert not (Path.cwd() / "pwned").exists()
    missing = common(f'vda_load_env_file "{tmp_path / "nope"}"')
    assert missing.returncode == 1 and "not a directory" in missing.stderr


def test_video_listing_is_case_insensitive_sorted_and_rejects_duplicates(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    for rel in ("b.MP4", "a.mkv", "sub/c.avi", "notes.txt"):
        (tmp_path / rel).write_bytes(b"x")
    proc = common(f'vda_list_videos "{tmp_path}" | cut -f1')
    assert proc.stdout.split() == ["a", "b", "c"]
    (tmp_path / "sub" / "a.mp4").write_bytes(b"x")
    dup = common(f'vda_list_videos "{tmp_path}"')
    assert dup.returncode == 1 and "two videos are named a" in dup.stderr
    none = common(f'vda_list_videos "{tmp_path / "sub" / "empty"}"')
    assert none.returncode == 1 and "does not exist" in none.stderr


class _ModelsServer:
    """A tiny OpenAI-compatible /v1/models endpoint that answers 503 a few times first."""

    def __init__(self, failures: int) -> None:
        self.failures, self.calls, self.auth = failures, 0, []
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server API
                owner.calls += 1
                owner.auth.append(self.headers.get("Authorization"))
                if self.path != "/v1/models" or owner.calls <= owner.failures:
                    self.send_response(503 if self.path == "/v1/models" else 404)
                    self.end_headers()
                    return
                body = json.dumps({"object": "list", "data": [{"id": "served/vlm-1", "object": "model"}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                return

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _ModelsServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_readiness_wait_retries_until_models_answer() -> None:
    with _ModelsServer(failures=3) as server:
        proc = common(
            f'h="$(vda_auth_header "$KEY")"; vda_wait_for_models VLM "{server.url}/chat/completions" "$h"; '
            'echo "url=$VDA_RESOLVED_URL"; echo "model=$(vda_model_id "$VDA_MODELS_JSON")"',
            env=clean_env(KEY=SECRET, ENDPOINT_WAIT_TIMEOUT_SECONDS="10", ENDPOINT_WAIT_INTERVAL_SECONDS="1"),
        )
    assert proc.returncode == 0, proc.stderr
    assert f"url={server.url}" in proc.stdout and "model=served/vlm-1" in proc.stdout
    assert "Waiting for VLM server (1/10)" in proc.stderr
    assert server.auth[-1] == f"Bearer {SECRET}"
    assert SECRET not in proc.stdout + proc.stderr


def test_readiness_wait_gives_up_with_a_hint() -> None:
    port = free_port()
    proc = common(
        f'vda_wait_for_models LLM "http://127.0.0.1:{port}/v1" ""',
        env=clean_env(ENDPOINT_WAIT_TIMEOUT_SECONDS="2", ENDPOINT_WAIT_INTERVAL_SECONDS="1", ENDPOINT_CURL_CONNECT_TIMEOUT_SECONDS="1"),
    )
    assert proc.returncode == 1
    assert "ERROR: LLM server not ready after 2s" in proc.stderr and "Hint:" in proc.stderr


# --- OSMO container paths, with fake `uv` and fake app folders ---------------------------------------

FAKE_UV = """#!/usr/bin/env bash
# The container's uv: record the call, then write the output the real CLI would.
printf '%s\\n' "$@" > "$FAKE_LOG"
pwd >> "$FAKE_LOG.cwd"
for arg in "$@"; do
  case "$arg" in
    data.0.output.video=*) cp "$FAKE_VIDEO" "${arg#data.0.output.video=}" ;;
    data.0.output.out_dir=*) mkdir -p "${arg#data.0.output.out_dir=}/task" ;;
    mcq_generation.window_metadata_extraction.question_bank_file=*) cp "${arg#*=}" "$FAKE_LOG.bank.json" ;;
    pipeline.model_cache_path=*) ls -la "${arg#*=}" "${arg#*=}/rfdetr" > "$FAKE_LOG.cache" ;;
  esac
done
"""


@pytest.fixture()
def container(tmp_path: Path, dataset: Path) -> Iterator[dict[str, str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    uv = bin_dir / "uv"
    uv.write_text(FAKE_UV)
    uv.chmod(uv.stat().st_mode | stat.S_IXUSR)
    for app in ("app", "workspace"):
        (tmp_path / app / "docker").mkdir(parents=True)
    (tmp_path / "workspace" / "docker" / "entrypoint.sh").write_text(f'touch "{tmp_path / "entrypoint-ran"}"\n')
    with _ModelsServer(failures=1) as server:
        yield clean_env(
            PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}", FAKE_LOG=str(tmp_path / "uv.txt"), FAKE_VIDEO=str(dataset / "alpha.mp4"),
            VDA_COSMOS_APP_DIR=str(tmp_path / "app"), VDA_AL_APP_DIR=str(tmp_path / "workspace"),
            VLM_URL=server.url, LLM_URL=server.url, NGC_CLI_API_KEY=SECRET,
            ENDPOINT_WAIT_TIMEOUT_SECONDS="10", ENDPOINT_WAIT_INTERVAL_SECONDS="1",
        )


def test_osmo_cosmos_path_waits_for_endpoints_and_calls_the_container_cli(tmp_path: Path, setup_out: Path, dataset: Path, container: dict[str, str]) -> None:
    cache = tmp_path / "cache" / "hub" / "models--nvidia--Cosmos-Transfer2.5-2B"
    (cache / "snapshots").mkdir(parents=True)
    env = {**container, "SETUP_DIR": str(setup_out), "VIDEO_INPUT": str(dataset), "OUTPUT_DIR": str(tmp_path / "out"),
           "HF_HUB_CACHE": str(tmp_path / "cache"), "COSMOS_BARRIER_RANK": "0", "COSMOS_BARRIER_NUM_NODES": "1",
           "COSMOS_BARRIER_HOST": "localhost", "VDA_GROUP_BARRIER_PORT": str(free_port())}
    proc = bash(setup_out / "cosmos_worker.sh", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "writable HF cache mirror: 1 repo(s)" in proc.stderr
    argv = (tmp_path / "uv.txt").read_text().splitlines()  # the last item's call: charlie
    assert argv[:4] == ["run", "python", "modules/cli.py", "--config"]
    assert argv[4] == str(setup_out / "configs" / "charlie_aug0.yaml")
    assert f"data.0.inputs.rgb={dataset / 'charlie.mp4'}" in argv
    assert f"data.0.output.video={tmp_path / 'out' / 'charlie_aug0' / 'augmented_video.mp4'}" in argv
    assert "endpoints.vlm.model=served/vlm-1" in argv and f"endpoints.llm.url={container['VLM_URL']}" in argv
    assert "captioning.vlm.parser=instruct" in argv
    assert all((tmp_path / "out" / n / "augmented_video.mp4").is_file() for n in ("alpha_aug0", "bravo_aug0", "charlie_aug0"))
    assert set((tmp_path / "uv.txt.cwd").read_text().split()) == {str(tmp_path / "app")}
    assert SECRET not in proc.stdout + proc.stderr


def test_osmo_pl_path_strips_the_question_bank_and_mirrors_rfdetr(tmp_path: Path, setup_out: Path, dataset: Path, container: dict[str, str]) -> None:
    model_cache = tmp_path / "al-cache"
    (model_cache / "rfdetr").mkdir(parents=True)
    (model_cache / "rfdetr" / "rf-detr-base.pth").write_bytes(b"w")
    (model_cache / "reid").mkdir()
    padded = tmp_path / "setup"
    shutil.copytree(setup_out, padded)
    bank = padded / "configs" / "auto_labeling" / "question_bank.json"
    data = json.loads(bank.read_text())
    bank.write_text(json.dumps({"_meta": {"note": "{braces}"}, **data}))
    env = {**container, "SETUP_DIR": str(padded), "VIDEO_INPUT": str(dataset), "OUTPUT_DIR": str(tmp_path / "out"),
           "MODEL_CACHE_PATH": str(model_cache), "BARRIER_RANK": "0", "BARRIER_NUM_NODES": "1", "VDA_GROUP_BARRIER_PORT": str(free_port()),
           "WORKER_ID": "0", "NUM_WORKERS": "3"}
    proc = bash(padded / "pl_original_worker.sh", env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (tmp_path / "entrypoint-ran").exists()
    argv = (tmp_path / "uv.txt").read_text().splitlines()
    assert f"data.0.inputs.video_path={dataset / 'alpha.mp4'}" in argv
    assert "super_resolution.enabled=false" in argv and "pipeline.gpu_ids=0" in argv
    stripped = json.loads((tmp_path / "uv.txt.bank.json").read_text())
    assert set(stripped) == {"name", "questions"} and stripped["questions"] == data["questions"]
    events = padded / "configs" / "auto_labeling" / "prompts" / "event_analysis.md"
    if events.is_file():
        assert f"vlm_json.events_prompt_file={events}" in argv
    cache_arg = next(a for a in argv if a.startswith("pipeline.model_cache_path="))
    mirror = Path(cache_arg.split("=", 1)[1])
    assert mirror != model_cache and (mirror / "rfdetr").is_dir() and not (mirror / "rfdetr").is_symlink()
    assert (mirror / "rfdetr" / "rf-detr-base.pth").is_symlink() and (mirror / "reid").is_symlink()
    assert "=== pl_original_worker complete: worker 0/3, 1 video(s): alpha ===" in proc.stdout


def test_thin_script_entries_run_the_engines(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, str(SCRIPTS / "osmo_barrier.py"), "--rank", "0", "--num_nodes", "1"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "released at once" in proc.stdout
    proc = subprocess.run([sys.executable, str(SCRIPTS / "generate_configs.py"), "only-one-arg"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and "usage:" in proc.stderr


def _setup_draws(tmp_path: Path, dataset: Path, tag: str, **env: str) -> dict:
    stage = stage_files(tmp_path / tag / "task")
    out = tmp_path / tag / "output"
    base = dict(FLOW="augmentation_and_al", DATASET_INPUT=str(dataset), OUTPUT_DIR=str(out), N_AUGMENTATIONS="4",
                COOKBOOK="city_traffic", VLM_MODEL="m", BARRIER_NUM_NODES="1")
    proc = bash(stage / "setup_task.sh", local_env(**{**base, **env}))
    assert proc.returncode == 0, proc.stderr
    return yaml.safe_load((out / "configs" / "manifest.yaml").read_text())


def test_setup_applies_conditions_and_the_seed_it_is_given(tmp_path: Path, dataset: Path) -> None:
    manifest = _setup_draws(tmp_path, dataset, "a", CONDITIONS="weather:rain,time_of_day:night|evening", SEED="4711")
    assert manifest["seed"] == 4711 and manifest["requested"] == {"weather": "rain", "time_of_day": "night|evening"}
    assert {e["sampled_vars"]["weather"] for e in manifest["configs"]} == {"rain"}
    assert {e["sampled_vars"]["time_of_day"] for e in manifest["configs"]} <= {"night", "evening"}


def test_setup_without_a_seed_draws_per_run_id(tmp_path: Path, dataset: Path) -> None:
    first = _setup_draws(tmp_path, dataset, "a", RUN_ID="run-00000001")
    again = _setup_draws(tmp_path, dataset, "b", RUN_ID="run-00000001")
    other = _setup_draws(tmp_path, dataset, "c", RUN_ID="run-00000002")
    draws = lambda m: [e["sampled_vars"] for e in m["configs"]]  # noqa: E731
    assert draws(first) == draws(again) and first["seed"] == again["seed"]
    assert draws(first) != draws(other)
    # the recorded seed, passed back as SEED, reproduces the run
    assert draws(_setup_draws(tmp_path, dataset, "d", SEED=str(first["seed"]))) == draws(first)


def test_setup_refuses_a_seed_that_is_not_digits(tmp_path: Path, dataset: Path) -> None:
    stage = stage_files(tmp_path / "task")
    proc = bash(stage / "setup_task.sh", local_env(FLOW="augmentation_and_al", DATASET_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "o"),
                                                   COOKBOOK="city_traffic", VLM_MODEL="m", BARRIER_NUM_NODES="1", SEED="12; rm"))
    assert proc.returncode != 0 and "must be digits" in proc.stderr


@pytest.mark.parametrize(("env", "expected"), [
    ({"VIDEO_NAME": "bravo"}, ["bravo"]),  # upstream: the one named video
    ({"VIDEO_NAME": "bravo", "ALL_CLIPS": "false"}, ["bravo"]),
    ({"VIDEO_NAME": "bravo", "ALL_CLIPS": "True"}, ["alpha", "bravo", "charlie"]),  # every clip, as asked
    ({"VIDEO_NAME": "alpha", "CLIPS": "alpha,charlie"}, ["alpha", "charlie"]),  # a fan-out batch names its clips
])
def test_setup_makes_configs_for_the_named_video_unless_every_clip_is_asked_for(tmp_path: Path, dataset: Path, env, expected) -> None:
    manifest = _setup_draws(tmp_path, dataset, "a", N_AUGMENTATIONS="1", **env)
    assert [e["video_name"] for e in manifest["configs"]] == expected
    only = read_env_file(tmp_path / "a" / "output" / ".env")["VDA_ONLY_VIDEO"]
    assert only == ("" if env.get("ALL_CLIPS") == "True" else env.get("CLIPS", "bravo"))


def test_setup_refuses_a_named_video_the_dataset_lacks(tmp_path: Path, dataset: Path) -> None:
    stage = stage_files(tmp_path / "task")
    proc = bash(stage / "setup_task.sh", local_env(FLOW="augmentation_and_al", DATASET_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "o"),
                                                   COOKBOOK="city_traffic", VLM_MODEL="m", BARRIER_NUM_NODES="1", VIDEO_NAME="delta"))
    assert proc.returncode != 0 and "No video named delta" in proc.stderr


# --- engine choice (issue 11): the workflow values reach the workers as VDA_*_ENGINE / VDA_*_MODEL ----


def test_pl_original_runs_the_chosen_nim_engine_with_the_chosen_models(tmp_path: Path, setup_out: Path, dataset: Path,
                                                                       stub_python: dict[str, str]) -> None:
    env = local_env(SETUP_DIR=str(setup_out), VIDEO_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "pl"), WORKER_ID="0", NUM_WORKERS="3",
                    BARRIER_RANK="0", BARRIER_NUM_NODES="1", VDA_GROUP_BARRIER_PORT=str(free_port()),
                    VDA_LABEL_ENGINE="nim", VLM_URL="http://127.0.0.1:8000/v1", LLM_URL="http://127.0.0.1:8001/v1",
                    VDA_VLM_MODEL="qwen2.5vl:7b", VDA_LLM_MODEL="", **stub_python)
    proc = bash(setup_out / "pl_original_worker.sh", env)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls[calls.index("--engine") + 1] == "nim"
    assert calls[calls.index("--vlm-url") + 1] == "http://127.0.0.1:8000/v1" and calls[calls.index("--llm-url") + 1] == "http://127.0.0.1:8001/v1"
    assert calls[calls.index("--vlm-model") + 1] == "qwen2.5vl:7b" and "--llm-model" not in calls  # empty = first listed


@pytest.mark.parametrize(("value", "engine"), [("auto", "classic"), ("", "classic"), ("classic", "classic")])
def test_pl_original_defaults_to_classic_here(tmp_path: Path, setup_out: Path, dataset: Path, stub_python: dict[str, str],
                                              value: str, engine: str) -> None:
    env = local_env(SETUP_DIR=str(setup_out), VIDEO_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "pl"), WORKER_ID="0", NUM_WORKERS="3",
                    BARRIER_RANK="0", BARRIER_NUM_NODES="1", VDA_GROUP_BARRIER_PORT=str(free_port()), VDA_LABEL_ENGINE=value,
                    VDA_VLM_MODEL="ignored/by-classic", **stub_python)
    proc = bash(setup_out / "pl_original_worker.sh", env)
    assert proc.returncode == 0, proc.stderr
    calls = (tmp_path / "calls.txt").read_text().splitlines()
    assert calls[calls.index("--engine") + 1] == engine and "--vlm-url" not in calls and "--vlm-model" not in calls


def test_an_unknown_engine_stops_the_worker(tmp_path: Path, setup_out: Path, dataset: Path, stub_python: dict[str, str]) -> None:
    env = local_env(SETUP_DIR=str(setup_out), VIDEO_INPUT=str(dataset), OUTPUT_DIR=str(tmp_path / "pl"), WORKER_ID="0", NUM_WORKERS="1",
                    BARRIER_RANK="0", BARRIER_NUM_NODES="1", VDA_GROUP_BARRIER_PORT=str(free_port()), VDA_LABEL_ENGINE="gpt", **stub_python)
    proc = bash(setup_out / "pl_original_worker.sh", env)
    assert proc.returncode != 0 and "unknown label engine 'gpt'" in proc.stderr
    assert not (tmp_path / "calls.txt").exists()


def test_osmo_pl_path_refuses_classic_and_honours_a_chosen_model(tmp_path: Path, setup_out: Path, dataset: Path,
                                                                 container: dict[str, str]) -> None:
    env = {**container, "SETUP_DIR": str(setup_out), "VIDEO_INPUT": str(dataset), "OUTPUT_DIR": str(tmp_path / "out"),
           "BARRIER_RANK": "0", "BARRIER_NUM_NODES": "1", "VDA_GROUP_BARRIER_PORT": str(free_port()), "WORKER_ID": "0", "NUM_WORKERS": "3"}
    proc = bash(setup_out / "pl_original_worker.sh", {**env, "VDA_LABEL_ENGINE": "classic"})
    assert proc.returncode != 0 and "classic label engine runs only on the local backend" in proc.stderr
    assert not (tmp_path / "uv.txt").exists()
    proc = bash(setup_out / "pl_original_worker.sh", {**env, "VDA_LABEL_ENGINE": "nim", "VDA_VLM_MODEL": "my/vlm"})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    argv = (tmp_path / "uv.txt").read_text().splitlines()
    assert "endpoints.vlm.model=my/vlm" in argv

"""End to end on the local backend: every flow, on short synthetic clips, through the real pipeline.

Nothing is mocked: ``run_pipeline`` (and once the ``vda run`` CLI) plans the workflow YAML, the
detached local runner executes the worker scripts, the CPU engines augment and label, the outputs
are staged and the side-by-side is rendered with ffmpeg. The checks are the acceptance of issue 4:
upstream's output layout, a decodable side-by-side twice as wide as one panel, OSMO's statuses, the
two e2e branches overlapping in time, and a task killed mid-run failing its downstream while the
completed outputs stay in place.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import av
import pytest
import yaml

from skill.backends.local import LocalBackend
from skill.engines.synthetic import make_scene
from skill.ledger import Ledger
from skill.models import WorkflowStatus
from skill.paths import skill_root
from skill.pipeline import RunRequest, RunResult, run_pipeline
from skill.side_by_side import panel_height, prepared_compare, run_cache_dir
from skill.steps.stage import StageRequest, stage_artifacts

WAIT = 120.0
DATASET = "local-videos"
VIDEO = "street"
DAFT_VERSION = "metropolis-v3.0"

GROUPS = {
    "auto_labeling": ["setup_group", "auto_labeling_group"],
    "augmentation_and_al": ["setup_group", "augmentation_group", "auto_labeling_augmented_group"],
    "e2e": ["setup_group", "auto_labeling_original_group", "augmentation_group", "auto_labeling_augmented_group"],
    "e2e_super_resolution": ["setup_group", "auto_labeling_original_group", "augmentation_group", "auto_labeling_augmented_group"],
}


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """2 s of a synthetic street, 320x180 (below 720p, so the super-resolution gate fires)."""
    path = tmp_path_factory.mktemp("clips") / f"{VIDEO}.mp4"
    make_scene(path, width=320, height=180, fps=10, seconds=2, seed=7, background="road")
    return path


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("VDA_HOME", str(home))
    for name in ("VDA_LOCAL_ROOT", "VDA_BACKEND", "VDA_SKILL_DIR"):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def backend(home: Path):
    local = LocalBackend(home / ".vda" / "local")
    yield local
    _stop_leftovers(local)


def _stop_leftovers(local: LocalBackend) -> None:
    """Never leave a run (or its tasks) behind, whatever the test did."""
    if not local.workflows_dir.is_dir():
        return
    for run in local.workflows_dir.iterdir():
        if (run / "state.json").is_file() and not local.query(run.name).terminal:
            local.cancel(run.name)
            local.wait(run.name, 30)


def run_flow(flow: str, clip: Path, backend: LocalBackend, home: Path) -> RunResult:
    with Ledger(home / ".vda" / "ledger.sqlite") as ledger:
        return run_pipeline(RunRequest(videos=[str(clip)], flow=flow, timeout_s=WAIT), backend=backend, ledger=ledger)


# --- checks -----------------------------------------------------------------------------------


def when(stamp: str | None) -> datetime:
    assert stamp, "a finished task has start and end times"
    return datetime.fromisoformat(stamp)


def assert_completed_as_osmo_reports(status: WorkflowStatus, flow: str) -> None:
    assert status.status == "COMPLETED"
    assert [g.name for g in status.groups] == GROUPS[flow]
    assert {g.name: g.status for g in status.groups} == {g: "COMPLETED" for g in GROUPS[flow]}
    assert status.tasks and all(t.status == "COMPLETED" and t.exit_code == 0 for t in status.tasks), status.tasks
    assert all(when(t.start_time) <= when(t.end_time) for t in status.tasks)


def assert_after(status: WorkflowStatus, later: str, earlier: str) -> None:
    first = next(g for g in status.groups if g.name == earlier)
    second = next(g for g in status.groups if g.name == later)
    assert when(second.start_time) >= when(first.end_time), f"{later} started before {earlier} ended"


def read_json(path: Path) -> dict:
    assert path.is_file(), f"missing {path}"
    return json.loads(path.read_text(encoding="utf-8"))


def decoded(path: Path) -> tuple[int, int, int]:
    """(width, height, frames) of a video, decoding every frame (it must play, not just probe)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.width, stream.codec_context.height, frames


def assert_daft_labels(folder: Path, media_id: str, *, classes_seen: bool = True) -> None:
    """Upstream's DAFT scene layout (upstream-vda.md §5)."""
    assert (folder / "raw" / f"{media_id}.mp4").is_file()
    assert (folder / "config.yaml").is_file() and (folder / "logs" / "pipeline.log").is_file()
    instances = read_json(folder / "contextual" / "instances.json")
    objects = read_json(folder / "contextual" / "objects.json")
    assert instances["version"] == objects["version"] == DAFT_VERSION
    assert instances["metadata"]["type"] and objects["video_id"]
    if classes_seen:  # the synthetic street has known moving cars and people
        assert instances["instances"], "no tracks on a scene with moving objects"
        assert {i["object_type"] for i in instances["instances"].values()} <= {"car", "person", "truck", "bus", "bicycle", "motorcycle"}
    known = set(instances["instances"])
    analysed = "sr_output" if (folder / "sidecars" / "sr_output.mp4").is_file() else objects["video_id"]  # upstream's <stem>
    for key, frame in objects["frames"].items():
        assert re.fullmatch(rf"{analysed}_frame_\d{{6}}", key), key
        assert {i["object_id"] for i in frame["instances"]} <= known
    items = [read_json(p)["items"] for p in (folder / "task").glob("[mb]cq.json")]
    assert items and all(items), "a question bank gives MCQ/BCQ items"
    for item in read_json(folder / "task" / "mcq.json")["items"]:
        assert item["answer"] in item["options"]
    status = read_json(folder / "sidecars" / "pipeline_status.json")
    assert status["status"] in ("completed", "completed_degraded")
    assert status["stages"]["tracking"]["status"] == "completed"
    assert status["stages"]["vlm_json"]["status"] == "skipped"  # honest: the CPU engine has no VLM


def assert_run_folder(result: RunResult, home: Path, flow: str, clip: Path) -> Path:
    """The local mirror in upstream's layout (upstream-vda.md §7), plus the remote tree it came from."""
    run_dir = Path(result.local_run_dir or "")
    assert run_dir == home / "media" / "vda" / "runs" / result.run_id
    remote = Path(result.storage_url) / "datasets" / f"{result.dataset}-outputs" / result.run_id
    assert (Path(result.storage_url) / "datasets" / result.dataset / f"{VIDEO}.mp4").is_file()  # inputs, flat
    assert (run_dir / "input" / f"{VIDEO}.mp4").read_bytes() == clip.read_bytes()
    setup = run_dir / "setup_b0"
    assert (setup / ".env").is_file() and (setup / "runtime.env").is_file() and (setup / "osmo_barrier.py").is_file()
    assert (setup / "configs" / "workflow_config.yaml").is_file()
    augments = flow != "auto_labeling"
    labels_original = flow != "augmentation_and_al"
    if augments:
        manifest = yaml.safe_load((setup / "configs" / "manifest.yaml").read_text())
        entry = next(c for c in manifest["configs"] if c["video_name"] == VIDEO and c["aug_idx"] == 0)
        assert (setup / "configs" / entry["config"]).is_file() and entry["config"] == f"{VIDEO}_aug0.yaml"
        aug = run_dir / "outputs" / "augmented" / f"{VIDEO}_aug0"
        metadata = read_json(aug / "metadata.json")
        assert metadata["variables"] == entry["sampled_vars"] == result.sampled_vars[f"{VIDEO}_aug0"]
        assert metadata["engine"] == "classic"
        assert decoded(aug / "augmented_video.mp4") == decoded(clip)  # same size and frame count
        assert_daft_labels(run_dir / "outputs" / "pseudo_labeled_augmented" / f"{VIDEO}_aug0", "augmented_video")
    else:  # upstream: label-only setup writes no generated configs and no manifest
        assert not (setup / "configs" / "manifest.yaml").exists()
        assert not (run_dir / "outputs" / "augmented").exists()
    if labels_original:
        assert_daft_labels(run_dir / "outputs" / "pseudo_labeled" / VIDEO, VIDEO)
    else:
        assert not (run_dir / "outputs" / "pseudo_labeled").exists()
    mirrored = sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()
                      and p.relative_to(run_dir).parts[0] in ("setup_b0", "outputs"))
    remote_files = sorted(p.relative_to(remote).as_posix() for p in remote.rglob("*") if p.is_file())
    assert mirrored == remote_files  # everything the run wrote came home, nothing else
    return run_dir


def assert_side_by_side(result: RunResult, run_dir: Path, clip: Path) -> None:
    compare = run_dir / "display" / f"{result.dataset}_{VIDEO}_aug0_compare.mp4"
    assert result.media_lines == [f"MEDIA:{compare}"]
    width, height, frames = decoded(compare)
    in_w, in_h, in_frames = decoded(clip)
    panel_h = panel_height(in_h)  # the input's own height (a small clip is not scaled up)
    panel = int(panel_h * in_w / in_h / 2) * 2
    assert (width, height) == (2 * panel, panel_h)
    assert frames == in_frames
    local_root = Path(result.storage_url).parents[1]  # <root>/storage/local
    cache = run_cache_dir(LocalBackend(local_root).traits.run_cache_root, result.workflow_id)
    ready = prepared_compare(cache, run_dir / "input" / f"{VIDEO}.mp4", run_dir / "outputs" / "augmented" / f"{VIDEO}_aug0" / "augmented_video.mp4", panel_h)
    assert ready is not None and compare.read_bytes() == ready.read_bytes()  # the workflow's own comparison, not rendered again
    labels = cache / "labels"  # each clip was labeled ahead while augmenting and the label task adopted it
    assert labels.is_dir() and not [p for p in labels.iterdir() if p.is_dir()]
    assert (labels / "prepare.log").read_text() == ""


# --- the four flows ---------------------------------------------------------------------------


def test_auto_labeling_end_to_end(clip: Path, backend: LocalBackend, home: Path) -> None:
    result = run_flow("auto_labeling", clip, backend, home)
    assert result.status == "COMPLETED" and result.failed_tasks == []
    status = backend.query(result.workflow_id)
    assert_completed_as_osmo_reports(status, "auto_labeling")
    assert_after(status, "auto_labeling_group", "setup_group")
    run_dir = assert_run_folder(result, home, "auto_labeling", clip)
    assert result.media_lines == [] and not (run_dir / "display").exists()  # nothing augmented to compare
    assert set(result.original_labels) == {VIDEO} and result.original_labels[VIDEO].tracks_total > 0
    labels = run_dir / "outputs" / "pseudo_labeled" / VIDEO
    assert read_json(labels / "sidecars" / "pipeline_status.json")["stages"]["super_resolution"]["status"] == "skipped"


def test_e2e_runs_original_labeling_and_augmentation_at_the_same_time(clip: Path, backend: LocalBackend, home: Path) -> None:
    result = run_flow("e2e", clip, backend, home)
    status = backend.query(result.workflow_id)
    assert_completed_as_osmo_reports(status, "e2e")
    assert_after(status, "auto_labeling_original_group", "setup_group")
    assert_after(status, "augmentation_group", "setup_group")
    assert_after(status, "auto_labeling_augmented_group", "augmentation_group")
    original = next(g for g in status.groups if g.name == "auto_labeling_original_group")
    augmentation = next(g for g in status.groups if g.name == "augmentation_group")
    assert when(original.start_time) < when(augmentation.end_time) and when(augmentation.start_time) < when(original.end_time), (
        "the original-labeling and augmentation groups did not overlap"
    )
    run_dir = assert_run_folder(result, home, "e2e", clip)
    assert_side_by_side(result, run_dir, clip)
    assert set(result.original_labels) == {VIDEO} and set(result.augmented_labels) == {f"{VIDEO}_aug0"}


def test_e2e_super_resolution_upscales_a_small_clip_before_labeling(clip: Path, backend: LocalBackend, home: Path) -> None:
    result = run_flow("e2e_super_resolution", clip, backend, home)
    status = backend.query(result.workflow_id)
    assert_completed_as_osmo_reports(status, "e2e_super_resolution")
    assert_after(status, "augmentation_group", "auto_labeling_original_group")  # cosmos waits for pl_original here
    assert_after(status, "auto_labeling_augmented_group", "augmentation_group")
    run_dir = assert_run_folder(result, home, "e2e_super_resolution", clip)
    assert_side_by_side(result, run_dir, clip)
    original = run_dir / "outputs" / "pseudo_labeled" / VIDEO
    stages = read_json(original / "sidecars" / "pipeline_status.json")["stages"]
    assert stages["super_resolution"]["status"] == "completed"
    assert stages["tracking"]["input"] == stages["mcq_generation"]["input"] == "sidecars/sr_output.mp4"  # a path that exists in the scene
    width, height, _ = decoded(original / "sidecars" / "sr_output.mp4")
    assert height == 720 and width == 1280  # 320x180 upscaled to 720p, aspect kept
    augmented = run_dir / "outputs" / "pseudo_labeled_augmented" / f"{VIDEO}_aug0"
    assert read_json(augmented / "sidecars" / "pipeline_status.json")["stages"]["super_resolution"]["status"] != "completed"
    assert decoded(run_dir / "outputs" / "augmented" / f"{VIDEO}_aug0" / "augmented_video.mp4")[:2] == (320, 180)  # augments the original


def test_vda_run_cli_augments_labels_and_prints_the_media_line(clip: Path, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("VDA_LOCAL_ROOT", "VDA_BACKEND", "VDA_DEBUG", "VDA_SKILL_DIR")}
    env["VDA_HOME"] = str(home)
    done = subprocess.run([sys.executable, "-m", "tools.cli", "run", "--video", str(clip), "--flow", "augmentation_and_al", "--json"],
                          capture_output=True, text=True, env=env, cwd=skill_root(), timeout=WAIT)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    result = RunResult.model_validate_json(done.stdout)
    assert result.flow == "augmentation_and_al" and result.backend == "local" and result.input_source == "user"
    local = LocalBackend(home / ".vda" / "local")
    try:
        status = local.query(result.workflow_id)
        assert_completed_as_osmo_reports(status, "augmentation_and_al")
        assert_after(status, "augmentation_group", "setup_group")
        assert_after(status, "auto_labeling_augmented_group", "augmentation_group")
        run_dir = assert_run_folder(result, home, "augmentation_and_al", clip)
        assert_side_by_side(result, run_dir, clip)
        with Ledger(home / ".vda" / "ledger.sqlite") as ledger:
            row = ledger.get(result.run_id)
        assert row is not None and row.workflow_id == result.workflow_id
    finally:
        _stop_leftovers(local)


# --- a task killed mid-run --------------------------------------------------------------------


def _running_task_pid(backend: LocalBackend, task: str) -> tuple[str, int] | None:
    for state_file in backend.workflows_dir.glob("*/state.json") if backend.workflows_dir.is_dir() else []:
        try:
            state = json.loads(state_file.read_text())
        except (OSError, json.JSONDecodeError):
            continue  # the runner is replacing the file; read it again on the next turn
        for group in state["groups"]:
            for item in group["tasks"]:
                if item["name"] == task and item["status"] == "RUNNING" and item.get("pid"):
                    return state["workflow_id"], item["pid"]
    return None


def test_a_task_killed_mid_run_fails_downstream_and_keeps_completed_outputs(tmp_path: Path, backend: LocalBackend, home: Path) -> None:
    clip = tmp_path / f"{VIDEO}.mp4"  # longer and larger than the others, so the augmentation runs long enough to be caught
    make_scene(clip, width=640, height=360, fps=10, seconds=5, seed=7, background="road")
    outcome: dict[str, object] = {}

    def drive() -> None:
        try:
            outcome["result"] = run_flow("e2e", clip, backend, home)
        except BaseException as exc:  # handed to the test thread, which fails with it
            outcome["error"] = exc

    worker = threading.Thread(target=drive, daemon=True)
    worker.start()
    deadline = time.monotonic() + WAIT
    found = None
    while found is None and time.monotonic() < deadline and worker.is_alive():
        found = _running_task_pid(backend, "cosmos_worker_0")
        time.sleep(0.02)
    assert found is not None, f"cosmos_worker_0 was never seen running ({outcome.get('error')!r})"
    workflow_id, pid = found
    os.kill(pid, signal.SIGKILL)
    worker.join(WAIT)
    assert not worker.is_alive(), "the pipeline did not come back after the kill"
    assert "error" not in outcome, outcome.get("error")
    result = outcome["result"]
    assert isinstance(result, RunResult)
    assert result.workflow_id == workflow_id and result.status == "FAILED"
    assert result.failed_tasks == ["cosmos_worker_0"] and "cosmos_worker_0" in result.log_tail
    assert result.media_lines == [] and result.local_run_dir is None

    status = backend.query(workflow_id)
    tasks = {t.name: t for t in status.tasks}
    assert status.status == "FAILED"
    assert tasks["cosmos_worker_0"].status == "FAILED" and tasks["cosmos_worker_0"].exit_code == 128 + signal.SIGKILL
    assert tasks["pl_augmented_worker_0"].status == "FAILED_UPSTREAM"
    assert tasks["setup"].status == "COMPLETED" and tasks["pl_original_worker_0"].status == "COMPLETED"
    groups = {g.name: g.status for g in status.groups}
    assert groups == {"setup_group": "COMPLETED", "auto_labeling_original_group": "COMPLETED",
                      "augmentation_group": "FAILED", "auto_labeling_augmented_group": "FAILED_UPSTREAM"}

    # a failed run leaves completed task outputs in place, and stage brings them home
    remote = Path(result.storage_url) / "datasets" / f"{result.dataset}-outputs" / result.run_id
    assert (remote / "setup_b0" / "configs" / "manifest.yaml").is_file()
    assert (remote / "outputs" / "pseudo_labeled" / VIDEO / "contextual" / "instances.json").is_file()
    assert not (remote / "outputs" / "augmented" / f"{VIDEO}_aug0" / "metadata.json").exists()  # the killed task uploaded nothing
    assert not (remote / "outputs" / "pseudo_labeled_augmented").exists()
    staged = stage_artifacts(StageRequest(storage_url=result.storage_url, dataset=result.dataset, run_id=result.run_id,
                                          video=VIDEO, input_local_video=str(clip)), backend=backend)
    assert set(staged.orig_label_dirs) == {VIDEO} and staged.augmented_videos == {}
    assert_daft_labels(Path(staged.orig_label_dirs[VIDEO]), VIDEO)

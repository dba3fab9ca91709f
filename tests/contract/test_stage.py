"""stage_artifacts: upstream's local layout without git, summaries of a realistic run tree, resume."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from skill.errors import BackendUnavailable, NotFound
from skill.paths import skill_root
from skill.steps.stage import STATE_FILE, StageRequest, report_lines, stage_artifacts
from skill.backends.osmo import OsmoBackend
from skill.errors import InputError
from skill.models import OSMO_NAME_MAX
from skill.storage import output_url
from tests.fakes.backend import FakeBackend
from tests.fakes.osmo_cli import install

STORAGE = "s3://bkt/p"
RUN_ID = "run-1a2b3c4d"
OUT = f"{STORAGE}/datasets/vda-demo-outputs/{RUN_ID}"
INPUT = f"{STORAGE}/datasets/vda-demo/clip.mp4"


@pytest.fixture(autouse=True)
def _tmp_is_an_output_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VDA_OUTPUT_ROOTS", str(tmp_path))  # run folders here live in tmp_path (skill.confine)


def daft(kind: str, **body) -> bytes:
    return json.dumps({"version": "metropolis-v3.0", **body, "metadata": {"type": kind, "date": "2026-11-24"}}, indent=2).encode() + b"\n"


def run_tree() -> dict[str, bytes]:
    """A run as the workers leave it: setup_b0 (configs + manifest), augmented clip, DAFT labels."""
    manifest = {
        "configs": [
            {"video": "/osmo/data/input/0/clip.mp4", "video_name": "clip", "aug_idx": 0, "config": "clip_aug0.yaml",
             "sampled_vars": {"weather": "rain", "time_of_day": "evening"}},
            {"video": "/osmo/data/input/0/clip.mp4", "video_name": "clip", "aug_idx": 1, "config": "clip_aug1.yaml",
             "sampled_vars": {"weather": "clear", "time_of_day": "morning"}},
            {"video": "/osmo/data/input/0/other.mp4", "video_name": "other", "aug_idx": 0, "config": "other_aug0.yaml",
             "sampled_vars": {"weather": "overcast", "time_of_day": "midday"}},
        ],
        "total": 3,
    }
    instances = {"instances": {
        "car_1": {"object_type": "car", "instance_id": 1, "semantic_id": 3, "caption": "car (track 1)"},
        "car_4": {"object_type": "car", "instance_id": 2, "semantic_id": 3, "caption": "car (track 4)"},
        "person_2": {"object_type": "person", "instance_id": 1, "semantic_id": 1, "caption": "person (track 2)"},
    }}
    mcq = {"items": [
        {"video_id": "augmented_video", "question": "What is the weather?", "answer": "C", "options": {"A": "Clear", "B": "Overcast", "C": "Rain"}},
        {"video_id": "augmented_video", "question": "What time of day is it?", "answer": "C", "options": {"A": "Morning", "B": "Midday", "C": "Evening"}},
    ]}
    bcq = {"items": [{"video_id": "augmented_video", "question": "Is there a collision?", "answer": "No"}]}
    status = {"version": "1.0", "degraded": False, "status": "completed", "degraded_stages": [], "fallbacks": [], "stages": {}}
    events = {"video_id": "clip", "events": [{"event_id": i, "start_time": "00:01", "end_time": "00:02"} for i in range(3)]}
    aug = f"{OUT}/outputs/pseudo_labeled_augmented/clip_aug0"
    orig = f"{OUT}/outputs/pseudo_labeled/clip"
    return {
        f"{OUT}/setup_b0/cosmos_worker.sh": b"#!/bin/bash\n",
        f"{OUT}/setup_b0/.env": b"ACCEPT_EULA=Y\n",
        f"{OUT}/setup_b0/configs/manifest.yaml": yaml.safe_dump(manifest).encode(),
        f"{OUT}/setup_b0/configs/clip_aug0.yaml": b"data: []\n",
        f"{OUT}/outputs/augmented/clip_aug0/augmented_video.mp4": b"augmented-bytes" * 10,
        f"{OUT}/outputs/augmented/clip_aug0/metadata.json": b"{}",
        f"{aug}/contextual/instances.json": daft("instances", **instances),
        f"{aug}/contextual/objects.json": daft("objects", video_id="augmented_video", frames={}),
        f"{aug}/task/mcq.json": daft("mcq", **mcq),
        f"{aug}/task/bcq.json": daft("bcq", **bcq),
        f"{aug}/sidecars/pipeline_status.json": json.dumps(status).encode(),
        f"{orig}/contextual/instances.json": daft("instances", instances={}),
        f"{orig}/contextual/events.json": daft("events", **events),
        f"{orig}/sidecars/pipeline_status.json": json.dumps({**status, "status": "completed_degraded", "degraded_stages": ["vlm_json"]}).encode(),
        INPUT: b"input-video-bytes",
        f"{STORAGE}/datasets/vda-demo/other.mp4": b"other",
    }


def req(tmp_path: Path, **overrides) -> StageRequest:
    return StageRequest(**{"storage_url": STORAGE, "dataset": "vda-demo", "run_id": RUN_ID, "video": "clip",
                           "run_local_dir": str(tmp_path / "run"), **overrides})


def test_layout_and_paths(tmp_path: Path):
    fake = FakeBackend(objects=run_tree())
    result = stage_artifacts(req(tmp_path), backend=fake)
    run = tmp_path / "run"
    assert result.local_run_dir == str(run)
    assert (run / "input" / "clip.mp4").read_bytes() == b"input-video-bytes"
    assert result.input_video == str(run / "input" / "clip.mp4")
    assert result.augmented_videos == {"clip_aug0": str(run / "outputs/augmented/clip_aug0/augmented_video.mp4")}
    assert result.manifest == str(run / "setup_b0/configs/manifest.yaml")
    assert result.aug_label_dirs == {"clip_aug0": str(run / "outputs/pseudo_labeled_augmented/clip_aug0")}
    assert result.orig_label_dirs == {"clip": str(run / "outputs/pseudo_labeled/clip")}
    assert (run / "setup_b0" / ".env").is_file() and (run / "setup_b0/configs/clip_aug0.yaml").is_file()
    assert result.files_total == 15 and result.downloaded == 15 and result.skipped == 0
    assert not (run / "datasets").exists()  # the other dataset video is not pulled
    lines = report_lines(result, "clip")
    assert lines[0] == f"LOCAL_RUN_DIR={run}"
    assert f"LOCAL_AUG_LABEL_DIR={run}/outputs/pseudo_labeled_augmented/clip_aug0" in lines
    assert f"LOCAL_ORIG_LABEL_DIR={run}/outputs/pseudo_labeled/clip" in lines


def test_summaries_from_the_run_tree(tmp_path: Path):
    result = stage_artifacts(req(tmp_path), backend=FakeBackend(objects=run_tree()))
    assert result.sampled_vars == {
        "clip_aug0": {"weather": "rain", "time_of_day": "evening"},
        "clip_aug1": {"weather": "clear", "time_of_day": "morning"},
    }
    aug = result.labels["clip_aug0"]
    assert aug.tracks_by_class == {"car": 2, "person": 1} and aug.tracks_total == 3
    assert aug.mcq_items == 2 and aug.bcq_items == 1 and aug.open_qa_items == 0
    assert [(q.kind, q.answer, q.answer_text) for q in aug.sample_qa] == [("mcq", "C", "Rain"), ("mcq", "C", "Evening"), ("bcq", "No", None)]
    assert aug.events is None and aug.pipeline_status == "completed" and aug.problems == []
    orig = result.labels["clip"]
    assert orig.events == 3 and orig.tracks_total == 0
    assert orig.pipeline_status == "completed_degraded" and orig.degraded_stages == ["vlm_json"]


def test_unreadable_label_file_is_reported_not_raised(tmp_path: Path):
    objects = run_tree()
    objects[f"{OUT}/outputs/pseudo_labeled_augmented/clip_aug0/task/mcq.json"] = b"{not json"
    result = stage_artifacts(req(tmp_path), backend=FakeBackend(objects=objects))
    assert result.labels["clip_aug0"].mcq_items == 0
    assert any("task/mcq.json unreadable" in p for p in result.labels["clip_aug0"].problems)


class Interrupted(FakeBackend):
    """A backend whose connection drops after ``limit`` downloads, leaving a partial file behind."""

    def __init__(self, limit: int, **kw) -> None:
        super().__init__(**kw)
        self.limit = limit

    def data_download(self, url: str, dest: Path) -> list[Path]:
        if self.calls.count("data_download") >= self.limit:
            self.calls.append("data_download")
            partial = Path(dest) / Path(url).name
            partial.write_bytes(b"par")  # what a dropped transfer leaves
            raise BackendUnavailable("connection reset during download")
        return super().data_download(url, dest)


def test_resume_downloads_only_what_is_missing_or_partial(tmp_path: Path):
    objects = run_tree()
    first = Interrupted(6, objects=objects)
    with pytest.raises(BackendUnavailable):
        stage_artifacts(req(tmp_path), backend=first)
    assert first.calls.count("data_download") == 7  # 6 complete, the 7th dropped
    second = FakeBackend(objects=objects)
    result = stage_artifacts(req(tmp_path), backend=second)
    assert second.calls.count("data_download") == 15 - 6
    assert result.downloaded == 9 and result.skipped == 6
    assert all((tmp_path / "run" / key[len(OUT) + 1 :]).read_bytes() == data for key, data in objects.items() if key.startswith(OUT))
    third = FakeBackend(objects=objects)
    again = stage_artifacts(req(tmp_path), backend=third)
    assert third.calls.count("data_download") == 0 and again.skipped == 15


def test_a_file_changed_after_staging_is_fetched_again(tmp_path: Path):
    objects = run_tree()
    stage_artifacts(req(tmp_path), backend=FakeBackend(objects=objects))
    (tmp_path / "run" / "setup_b0/configs/manifest.yaml").write_text("truncated")
    fake = FakeBackend(objects=objects)
    stage_artifacts(req(tmp_path), backend=fake)
    assert fake.calls.count("data_download") == 1


def test_input_local_video_is_copied_not_downloaded(tmp_path: Path):
    local = tmp_path / "mine.mp4"
    local.write_bytes(b"\x00\x00\x00\x18ftypisom local-input")
    fake = FakeBackend(objects=run_tree())
    result = stage_artifacts(req(tmp_path, input_local_video=str(local)), backend=fake)
    assert Path(result.input_video).read_bytes() == b"\x00\x00\x00\x18ftypisom local-input"
    assert fake.calls.count("data_download") == 14
    with pytest.raises(NotFound):
        stage_artifacts(req(tmp_path, input_local_video=str(tmp_path / "absent.mp4")), backend=fake)


def test_no_outputs_yet_is_not_found(tmp_path: Path):
    with pytest.raises(NotFound) as err:
        stage_artifacts(req(tmp_path), backend=FakeBackend(objects={INPUT: b"x"}))
    assert "poll" in err.value.remedy


def test_bucket_relative_keys_and_traversal(tmp_path: Path):
    class BucketRelative(FakeBackend):
        def data_list(self, url: str) -> list[str]:
            keys = super().data_list(url)
            if url != OUT:  # downloads of single objects list them too; only the run listing changes
                return keys
            return [k.removeprefix("s3://bkt/") for k in keys] + ["p/datasets/vda-demo-outputs/run-1a2b3c4d/../../escape.txt"]

    objects = run_tree()
    result = stage_artifacts(req(tmp_path), backend=BucketRelative(objects=objects))
    assert result.downloaded == 15
    assert any("outside the run prefix" in w for w in result.warnings)
    assert not (tmp_path / "escape.txt").exists()


def test_default_run_dir_is_in_the_workspace(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    result = stage_artifacts(req(tmp_path, run_local_dir=None), backend=FakeBackend(objects=run_tree()))
    run = tmp_path / "home" / "media" / "vda" / "runs" / RUN_ID
    assert result.local_run_dir == str(run) and (run / STATE_FILE).is_file()


def test_script_bad_arguments_exit_2():
    script = skill_root() / "scripts" / "stage_run_artifacts.sh"
    done = subprocess.run(["bash", str(script), "--dataset", "x"], capture_output=True, text=True, timeout=60, env=os.environ.copy())
    assert done.returncode == 2
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2 and "usage" in done.stderr


def test_script_end_to_end_on_local_storage(tmp_path: Path):
    """The thin script runs `vda stage` on the local backend and prints upstream's lines."""
    storage = tmp_path / "storage"
    for key, data in run_tree().items():
        target = storage / key[len(STORAGE) + 1 :]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    run = tmp_path / "run"
    script = skill_root() / "scripts" / "stage_run_artifacts.sh"
    env = {**os.environ, "VDA_BACKEND": "local", "VDA_HOME": str(tmp_path / "home"), "VDA_LOCAL_STORAGE_ROOTS": str(tmp_path)}
    done = subprocess.run(
        ["bash", str(script), "--storage-url", str(storage), "--dataset", "vda-demo", "--run-id", RUN_ID, "--video", "clip", "--run-local-dir", str(run)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    lines = dict(line.split("=", 1) for line in done.stdout.splitlines() if line.startswith("LOCAL_"))
    assert lines["LOCAL_RUN_DIR"] == str(run)
    assert Path(lines["LOCAL_INPUT_VIDEO"]).read_bytes() == b"input-video-bytes"
    assert lines["LOCAL_AUGMENTED_VIDEO"] == str(run / "outputs/augmented/clip_aug0/augmented_video.mp4")
    assert "SAMPLED_VARS clip_aug0: time_of_day=evening, weather=rain" in done.stdout


def test_local_backend_stages_straight_into_the_run_folder(tmp_path: Path, monkeypatch):
    """The local backend renames each file into place itself: staging skips the scratch folder per
    file, yet every file arrives whole, nothing else is left beside them, and a second staging skips all."""
    from skill.backends.local import LocalBackend

    backend = LocalBackend(tmp_path / "home")
    storage = backend.traits.storage_url
    assert backend.traits.atomic_downloads and storage
    objects = {storage + key[len(STORAGE):]: data for key, data in run_tree().items()}
    for key, data in objects.items():
        Path(key).parent.mkdir(parents=True, exist_ok=True)
        Path(key).write_bytes(data)
    request = req(tmp_path, storage_url=storage)
    result = stage_artifacts(request, backend=backend)
    run = tmp_path / "run"
    out = f"{storage}/datasets/vda-demo-outputs/{RUN_ID}/"
    staged = {p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file()}
    expected = {key[len(out):] for key in objects if key.startswith(out)}
    assert staged == expected | {"input/clip.mp4", STATE_FILE}
    assert all((run / key[len(out):]).read_bytes() == data for key, data in objects.items() if key.startswith(out))
    leftovers = [p for p in run.rglob(".*") if p.relative_to(run).as_posix() not in staged]
    assert not leftovers  # no scratch folder, no temporary file
    assert result.downloaded == len(expected) + 1
    again = stage_artifacts(request, backend=backend)
    assert again.downloaded == 0 and again.skipped == result.downloaded


# --- through the osmo double (its data list is one level unless --recursive, like 6.3.1) ----------------


def test_staging_over_the_osmo_cli_brings_the_whole_run_layout_home(tmp_path: Path):
    objects = {url: data.decode("utf-8") for url, data in run_tree().items()}
    objects[f"{OUT}/outputs/"] = ""  # a zero-byte folder marker, as consoles create
    double = install(tmp_path / "osmo", {"objects": objects})
    result = stage_artifacts(req(tmp_path), backend=OsmoBackend(double.executable, sleep=lambda _: None))
    run = tmp_path / "run"
    staged = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file() and p.name != STATE_FILE)
    expected = sorted([url[len(OUT) + 1:] for url in objects if url.startswith(OUT + "/") and not url.endswith("/")] + ["input/clip.mp4"])
    assert staged == expected and result.files_total == 15 and result.warnings == []
    assert {"setup_b0", "outputs", "input"} == {p.name for p in run.iterdir() if p.is_dir()}
    assert result.augmented_videos and result.manifest and result.aug_label_dirs and result.orig_label_dirs
    lists = [argv for argv in double.calls() if argv[:2] == ["data", "list"]]
    assert lists and all("--recursive" in argv for argv in lists)


def test_dataset_names_follow_osmos_64_character_limit():
    assert OSMO_NAME_MAX == 64
    assert output_url(STORAGE, "d" * 64, RUN_ID).endswith(f"/{'d' * 64}-outputs/{RUN_ID}")
    with pytest.raises(InputError) as caught:
        output_url(STORAGE, "d" * 65, RUN_ID)
    assert caught.value.code == "invalid-dataset" and "64" in caught.value.message
    with pytest.raises(ValueError):
        StageRequest(storage_url=STORAGE, dataset="d" * 65, run_id=RUN_ID, video="clip")

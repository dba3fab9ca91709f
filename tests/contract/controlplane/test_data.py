"""``osmo data upload / list --recursive / download`` through our backend against the real CLI and
the local S3 server, and staging a completed workflow's outputs the way a real run leaves them."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from skill.errors import NotFound
from skill.render import render_workflow
from skill.steps.stage import StageRequest, report_lines, stage_artifacts
from skill.storage import output_url
from tests.contract.controlplane.stack import BUCKET, POOL
from tests.contract.test_stage import STORAGE as FAKE_STORAGE
from tests.contract.test_stage import run_tree

ROOT = f"s3://{BUCKET}"


@pytest.fixture(autouse=True)
def _tmp_is_an_output_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VDA_OUTPUT_ROOTS", str(tmp_path))


def test_upload_puts_files_flat_and_folders_by_their_children_then_lists_them_at_any_depth(osmo_backend, tmp_path):
    (tmp_path / "src" / "sub" / "deeper").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("A")
    (tmp_path / "src" / "sub" / "b.txt").write_text("B")
    (tmp_path / "src" / "sub" / "deeper" / "c.txt").write_text("C")
    osmo_backend.data_upload(f"{ROOT}/up", [tmp_path / "src" / "a.txt", tmp_path / "src" / "sub"])
    listed = osmo_backend.data_list(f"{ROOT}/up")
    assert sorted(listed) == [f"{ROOT}/up/a.txt", f"{ROOT}/up/b.txt", f"{ROOT}/up/deeper/c.txt"]
    got = osmo_backend.data_download(f"{ROOT}/up/deeper/c.txt", tmp_path / "back")
    assert [p.read_text() for p in got] == ["C"]


def test_listing_an_empty_prefix_is_an_empty_list(osmo_backend):
    assert osmo_backend.data_list(f"{ROOT}/nothing-here") == []


def test_download_lands_keys_relative_to_the_url_and_returns_what_changed(osmo_backend, controlplane, tmp_path):
    controlplane.put_object("dl/one.bin", b"\x00\x01binary")
    controlplane.put_object("dl/nested/two.txt", b"two")
    got = osmo_backend.data_download(f"{ROOT}/dl", tmp_path / "dest")
    assert [p.relative_to(tmp_path / "dest").as_posix() for p in got] == ["nested/two.txt", "one.bin"]
    assert (tmp_path / "dest" / "one.bin").read_bytes() == b"\x00\x01binary"
    single = osmo_backend.data_download(f"{ROOT}/dl/nested/two.txt", tmp_path / "single")
    assert [p.name for p in single] == ["two.txt"]
    again = osmo_backend.data_download(f"{ROOT}/dl", tmp_path / "dest")
    assert sorted(p.name for p in again) == ["one.bin", "two.txt"]  # rewritten, so counted again


def test_downloading_a_missing_prefix_changes_nothing(osmo_backend, tmp_path):
    """The real CLI exits 0 ("No entries found for prefix") and writes nothing."""
    assert osmo_backend.data_download(f"{ROOT}/no/such/prefix", tmp_path / "empty") == []


def test_stage_artifacts_of_a_completed_workflow_brings_the_whole_run_layout_home(osmo_backend, controlplane, tmp_path):
    storage = f"{ROOT}/stage"
    run_id = "run-0c0ffee1"
    path = tmp_path / "wf.yaml"
    path.write_text(textwrap.dedent("""\
        workflow:
          name: cp-stage
          tasks:
          - name: setup
            image: ubuntu:22.04
            command: ["true"]
        """))
    workflow_id = osmo_backend.submit(render_workflow(path), pool=POOL)
    request = StageRequest(storage_url=storage, dataset="vda-demo", run_id=run_id, video="clip",
                           run_local_dir=str(tmp_path / "run"))
    controlplane.set_task_status(workflow_id, "setup", "RUNNING")
    with pytest.raises(NotFound) as early:  # nothing uploaded yet
        stage_artifacts(request, backend=osmo_backend)
    assert "poll the workflow" in early.value.remedy

    # what the task's output upload writes, with the stage tests' realistic run tree
    fake_out = output_url(FAKE_STORAGE, "vda-demo", "run-1a2b3c4d")
    real_out = output_url(storage, "vda-demo", run_id)
    for url, body in run_tree().items():
        url = url.replace(fake_out, real_out).replace(FAKE_STORAGE, storage)
        controlplane.put_object(url.removeprefix(f"{ROOT}/"), body)
    controlplane.set_task_status(workflow_id, "setup", "COMPLETED")
    assert controlplane.wait_status(workflow_id, {"COMPLETED"})["status"] == "COMPLETED"

    events = []
    result = stage_artifacts(request, backend=osmo_backend, on_progress=events.append)
    run = tmp_path / "run"
    assert result.files_total == 15 and result.downloaded == 15 and result.skipped == 0 and not result.warnings
    assert (run / "input" / "clip.mp4").read_bytes() == b"input-video-bytes"
    assert result.augmented_videos == {"clip_aug0": str(run / "outputs/augmented/clip_aug0/augmented_video.mp4")}
    assert (run / "setup_b0" / ".env").is_file()
    assert result.sampled_vars["clip_aug0"] == {"weather": "rain", "time_of_day": "evening"}
    assert result.labels["clip_aug0"].tracks_by_class == {"car": 2, "person": 1}
    assert result.labels["clip"].pipeline_status == "completed_degraded"
    assert f"LOCAL_RUN_DIR={run}" in report_lines(result, "clip")
    assert [e.kind for e in events].count("downloaded") == 15

    resumed = stage_artifacts(request, backend=osmo_backend)
    assert resumed.downloaded == 0 and resumed.skipped == 15

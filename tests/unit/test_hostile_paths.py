"""Hostile paths for stage_artifacts and render_side_by_side: every write stays under an output root,
every read of a user's file is a video, and each refusal is a coded InputError that does not echo
the value (issue 14: ``run_local_dir="../../etc/passwd"`` wrote 31 files outside the workspace;
``input_local_video=/etc/passwd`` was copied into the run)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from skill.confine import OUTPUT_ROOTS_ENV, run_folder, user_video_file
from skill.errors import InputError, NotFound, SkillError
from skill.steps.compare import CompareRequest, render_side_by_side
from skill.steps.stage import StageRequest, stage_artifacts
from tests.fakes.backend import FakeBackend

STORAGE = "s3://bkt/p"
RUN_ID = "run-1a2b3c4d"
OUT = f"{STORAGE}/datasets/vda-demo-outputs/{RUN_ID}"
INPUT = f"{STORAGE}/datasets/vda-demo/clip.mp4"
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64
MARK = "canary-7f3e"  # a recognisable piece of every hostile value: it must never come back


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv(OUTPUT_ROOTS_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # relative vectors that slip through land in tmp_path, not the checkout
    root = tmp_path / "home" / "media" / "vda" / "runs"
    root.mkdir(parents=True)
    return root


def objects() -> dict[str, bytes]:
    return {f"{OUT}/outputs/augmented/clip_aug0/augmented_video.mp4": MP4, f"{OUT}/setup_b0/configs/manifest.yaml": b"configs: []\n", INPUT: MP4}


def stage_req(**overrides) -> StageRequest:
    return StageRequest(**{"storage_url": STORAGE, "dataset": "vda-demo", "run_id": RUN_ID, "video": "clip", **overrides})


def hostile_dirs(tmp_path: Path, root: Path) -> dict[str, str]:
    outside = tmp_path / f"outside-{MARK}"
    outside.mkdir()
    (root / f"link-{MARK}").symlink_to(outside, target_is_directory=True)
    return {
        "traversal": f"../../etc/{MARK}",
        "traversal-under-root": f"{root}/../{MARK}",
        "absolute-outside": str(outside / "run"),
        "proc": f"/proc/self/{MARK}",
        "relative": f"media/vda/runs/{MARK}",
        "nul": f"{root}/{MARK}\x00x",
        "newline": f"{root}/{MARK}\nx",
        "one-megabyte": f"{root}/{MARK}" + "a" * 1_000_000,
        "long-name": f"{root}/{MARK}" + "b" * 300,
        "symlink-in-root": str(root / f"link-{MARK}" / "run"),
        "root-itself": str(root),
        "empty": "",
    }


def assert_coded(exc: SkillError) -> None:
    assert isinstance(exc, InputError) and exc.code and exc.remedy
    assert MARK not in str(exc) and "\x00" not in str(exc)
    assert len(str(exc)) < 600


VECTORS = ["traversal", "traversal-under-root", "absolute-outside", "proc", "relative", "nul", "newline", "one-megabyte", "long-name",
           "symlink-in-root", "root-itself", "empty"]


@pytest.mark.parametrize("vector", VECTORS)
def test_stage_refuses_a_run_folder_outside_the_output_root(vector: str, tmp_path: Path, home: Path):
    value = hostile_dirs(tmp_path, home)[vector]
    fake = FakeBackend(objects=objects())
    with pytest.raises(InputError) as err:
        stage_artifacts(stage_req(run_local_dir=value), backend=fake)
    assert_coded(err.value)
    assert fake.calls == [], "the backend was called before the paths were checked"
    assert not any((tmp_path / f"outside-{MARK}").iterdir()), "something was written outside"


@pytest.mark.parametrize("vector", VECTORS)
def test_compare_refuses_a_run_folder_outside_the_output_root(vector: str, tmp_path: Path, home: Path):
    value = hostile_dirs(tmp_path, home)[vector]
    with pytest.raises(InputError) as err:
        render_side_by_side(CompareRequest.model_construct(run_local_dir=value, dataset="vda-demo", video="clip", aug_index=0, timeout_s=60.0))
    assert_coded(err.value)


def test_stage_inside_the_root_and_in_an_operator_root(tmp_path: Path, home: Path, monkeypatch):
    result = stage_artifacts(stage_req(run_local_dir=str(home / "mine")), backend=FakeBackend(objects=objects()))
    assert Path(result.local_run_dir) == (home / "mine").resolve() and Path(result.input_video).read_bytes() == MP4
    extra = tmp_path / "operator-root"
    with pytest.raises(InputError):
        stage_artifacts(stage_req(run_local_dir=str(extra / "r")), backend=FakeBackend(objects=objects()))
    monkeypatch.setenv(OUTPUT_ROOTS_ENV, str(extra))
    result = stage_artifacts(stage_req(run_local_dir=str(extra / "r")), backend=FakeBackend(objects=objects()))
    assert Path(result.local_run_dir) == (extra / "r").resolve()


@pytest.mark.parametrize("kind", ["passwd", "text", "empty", "folder", "symlink-to-passwd", "nul", "fifo"])
def test_stage_refuses_an_input_that_is_not_a_video(kind: str, tmp_path: Path, home: Path):
    path = tmp_path / f"{MARK}.mp4"
    if kind == "passwd":
        value = "/etc/passwd"
    elif kind == "text":
        path.write_text("root:x:0:0:root:/root:/bin/bash\n")
        value = str(path)
    elif kind == "empty":
        path.write_bytes(b"")
        value = str(path)
    elif kind == "folder":
        path.mkdir()
        value = str(path)
    elif kind == "symlink-to-passwd":
        path.symlink_to("/etc/passwd")
        value = str(path)
    elif kind == "fifo":
        os.mkfifo(path)
        value = str(path)
    else:
        value = f"{path}\x00"
    fake = FakeBackend(objects=objects())
    with pytest.raises(InputError) as err:
        stage_artifacts(stage_req(input_local_video=value), backend=fake)
    assert_coded(err.value)
    assert fake.calls == []
    assert not (home / RUN_ID / "input").exists()


def test_a_real_video_header_is_accepted_and_a_missing_file_is_not_found(tmp_path: Path, home: Path):
    clip = tmp_path / "mine.mp4"
    clip.write_bytes(MP4)
    assert user_video_file(str(clip)) == clip.resolve()
    mkv = tmp_path / "mine.mkv"
    mkv.write_bytes(b"\x1a\x45\xdf\xa3" + b"\x00" * 20)
    assert user_video_file(str(mkv)) == mkv.resolve()
    with pytest.raises(NotFound):
        user_video_file(str(tmp_path / "absent.mp4"))


def test_compare_refuses_symlinked_inputs_and_display_folder(tmp_path: Path, home: Path):
    run = home / RUN_ID
    (run / "input").mkdir(parents=True)
    (run / "input" / "clip.mp4").symlink_to("/etc/passwd")
    (run / "outputs" / "augmented" / "clip_aug0").mkdir(parents=True)
    (run / "outputs" / "augmented" / "clip_aug0" / "a.mp4").write_bytes(MP4)
    with pytest.raises(InputError) as err:
        render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video="clip"))
    assert err.value.code == "path-symlink"
    (run / "input" / "clip.mp4").unlink()
    (run / "input" / "clip.mp4").write_bytes(MP4)
    outside = tmp_path / "outside-display"
    outside.mkdir()
    (run / "display").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError) as err:
        render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video="clip"))
    assert err.value.code == "path-symlink"
    assert list(outside.iterdir()) == []


def test_stage_refuses_a_symlinked_folder_inside_the_run(tmp_path: Path, home: Path):
    run = home / RUN_ID
    run.mkdir()
    outside = tmp_path / "outside-input"
    outside.mkdir()
    (run / "input").symlink_to(outside, target_is_directory=True)
    with pytest.raises(InputError):
        stage_artifacts(stage_req(), backend=FakeBackend(objects=objects()))
    assert list(outside.iterdir()) == []


def test_run_folder_default_is_under_the_runs_root(home: Path):
    assert run_folder(None, run_id=RUN_ID) == home.resolve() / RUN_ID


@pytest.mark.parametrize("argv", [
    ["stage", "--storage-url", STORAGE, "--dataset", "vda-demo", "--run-id", RUN_ID, "--video", "clip", "--input-local-video", "/etc/shadow"],
    ["stage", "--storage-url", STORAGE, "--dataset", "vda-demo", "--run-id", RUN_ID, "--video", "clip", "--run-local-dir", f"../../{MARK}"],
    ["compare", "--run-local-dir", f"/etc/{MARK}", "--dataset", "vda-demo", "--video", "clip"],
    ["compare", "--run-local-dir", f"/tmp/{MARK}\x00", "--dataset", "vda-demo", "--video", "clip"],
])
def test_cli_refuses_hostile_paths_with_a_coded_error(argv: list[str], home: Path, capsys):
    from tools.cli import main

    assert main(argv) == 1
    out, err = capsys.readouterr()
    assert err.startswith("Error: [") and "Traceback" not in err and MARK not in out + err
    assert not Path(f"/etc/{MARK}").exists()


@pytest.mark.parametrize("vector", ["outside", "traversal", "nul", "relative", "inputs-root-itself"])
def test_demo_refuses_a_folder_outside_the_inputs_root_and_keeps_the_users_videos(vector: str, tmp_path: Path, home: Path):
    import respx

    from skill.steps.demo import DemoRequest, prepare_demo_assets

    users = tmp_path / f"my-videos-{MARK}"
    users.mkdir()
    (users / "holiday.mp4").write_bytes(MP4)
    value = {"outside": str(users), "traversal": f"{home.parent}/inputs/../../../../my-videos-{MARK}", "nul": f"{home.parent}/inputs/{MARK}\x00",
             "relative": f"my-videos-{MARK}", "inputs-root-itself": str(home.parent / "inputs")}[vector]
    with respx.mock(assert_all_called=False) as mock:
        with pytest.raises(InputError) as err:
            prepare_demo_assets(DemoRequest.model_construct(demo_dir=value, repo="nvidia/video-data-augmentation-demo", revision="main", subdir="",
                                                            allow_non_vda=False, retries=0, timeout_s=5.0), sleep=lambda s: None)
        assert not mock.calls, "Hugging Face was called before the folder was checked"
    assert_coded(err.value)
    assert (users / "holiday.mp4").read_bytes() == MP4 and not (tmp_path / f"my-videos-{MARK}_raw").exists()


@pytest.mark.parametrize("value", [f"/tmp/{MARK}\x00", "/" + MARK * 2000, f"/tmp/{MARK}\nx"])
def test_upload_refuses_a_hostile_folder_with_a_coded_error(value: str, home: Path):
    from skill.steps.demo import UploadRequest, upload_dataset

    fake = FakeBackend()
    with pytest.raises(InputError) as err:
        upload_dataset(UploadRequest.model_construct(folder=value, storage_url=STORAGE, name="vda-demo", recursive=False), backend=fake)
    assert_coded(err.value)
    assert fake.calls == []


def test_a_tilde_user_that_names_no_user_is_a_missing_path_not_a_crash(tmp_path: Path, home: Path, capsys, monkeypatch):
    """``Path.expanduser`` raises RuntimeError on ``~nosuchuser``; every path we take from an
    argument or the environment goes through ``expand_user`` and is then simply not found."""
    from skill.paths import expand_user
    from tools.cli import main

    assert expand_user("~vda_no_such_user_42/clip.mp4") == Path("~vda_no_such_user_42/clip.mp4")
    assert expand_user("~/x") == Path.home() / "x"
    monkeypatch.chdir(tmp_path)
    for argv in (["run", "--video", "~vda_no_such_user_42/clip.mp4", "--json"],
                 ["preflight", "--workflow", "~vda_no_such_user_42/w.yaml", "--json"]):
        assert main(argv) == 1
        err = capsys.readouterr()
        assert "Traceback" not in err.out + err.err and "not" in (err.out + err.err)

"""Demo assets through the HF tree API (respx at the HTTP edge) and dataset upload."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import httpx2
import pytest
import respx

from skill.errors import BackendError, InputError, NotFound, PolicyDenied, UserInputRequired
from skill.paths import skill_root
from skill.steps.demo import DEMO_REPO, DemoRequest, UploadRequest, prepare_demo_assets, upload_dataset
from tests.fakes.backend import FakeBackend

API = f"https://huggingface.co/api/datasets/{DEMO_REPO}/tree/main"
RESOLVE = f"https://huggingface.co/datasets/{DEMO_REPO}/resolve/main"
TOKEN = "hf_democanary0123456789abcdef"
FILES = {"03_IllegalOccupation_020_10FPS.mp4": b"A" * 50, "clips/goal_0086_0hz_6sec.MP4": b"B" * 70, "clips/more/c.mp4": b"C" * 30}


@pytest.fixture(autouse=True)
def hf_token(monkeypatch, tmp_path: Path):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "no-token-file"))
    monkeypatch.setenv("VDA_OUTPUT_ROOTS", str(tmp_path))  # demo folders here live in tmp_path (skill.confine)


def file_entry(path: str) -> dict:
    return {"type": "file", "path": path, "size": len(FILES[path]), "oid": "x"}


def mock_repo(mock: respx.MockRouter, files: dict[str, bytes] = FILES) -> dict[str, respx.Route]:
    mock.get(API).respond(200, json=[
        {"type": "directory", "path": "clips", "oid": "d"},
        {"type": "file", "path": "README.md", "size": 10, "oid": "r"},
        file_entry("03_IllegalOccupation_020_10FPS.mp4"),
    ])
    # the clips folder answers in two pages (Link: rel="next")
    mock.get(f"{API}/clips", params={"cursor": "p2"}).respond(200, json=[{"type": "directory", "path": "clips/more", "oid": "d2"}])
    mock.get(f"{API}/clips").respond(
        200, json=[file_entry("clips/goal_0086_0hz_6sec.MP4")], headers={"Link": f'<{API}/clips?cursor=p2>; rel="next"'}
    )
    mock.get(f"{API}/clips/more").respond(200, json=[file_entry("clips/more/c.mp4")])
    return {path: mock.get(f"{RESOLVE}/{path}").respond(200, content=data) for path, data in files.items()}


def test_recursive_listing_download_and_flatten(tmp_path: Path):
    demo = tmp_path / "vda_inputs"
    demo.mkdir()
    (demo / "stale.mp4").write_bytes(b"old")
    (demo / "notes.txt").write_text("keep me")
    with respx.mock(assert_all_called=True) as mock:
        downloads = mock_repo(mock)
        result = prepare_demo_assets(DemoRequest(demo_dir=str(demo)), sleep=lambda s: None)
        sent = [call.request for call in mock.calls]
    assert sorted(f.name for f in result.files) == ["03_IllegalOccupation_020_10FPS.mp4", "c.mp4", "goal_0086_0hz_6sec.MP4"]
    assert (demo / "goal_0086_0hz_6sec.MP4").read_bytes() == FILES["clips/goal_0086_0hz_6sec.MP4"]
    assert (tmp_path / "vda_inputs_raw" / "clips" / "more" / "c.mp4").read_bytes() == FILES["clips/more/c.mp4"]
    assert not (demo / "stale.mp4").exists() and (demo / "notes.txt").exists()
    assert result.downloaded == 3 and all(r.call_count == 1 for r in downloads.values())
    assert all(r.headers["Authorization"] == f"Bearer {TOKEN}" for r in sent)
    assert DEMO_REPO in result.source_statement and result.dataset == "vda-demo"
    assert TOKEN not in json.dumps(result.model_dump())


def test_second_run_keeps_complete_files(tmp_path: Path):
    demo = tmp_path / "d"
    with respx.mock() as mock:
        mock_repo(mock)
        prepare_demo_assets(DemoRequest(demo_dir=str(demo)))
    with respx.mock(assert_all_called=False) as mock:
        downloads = mock_repo(mock)
        result = prepare_demo_assets(DemoRequest(demo_dir=str(demo)))
    assert result.downloaded == 0 and all(r.call_count == 0 for r in downloads.values())
    assert len(result.files) == 3


def test_duplicate_basenames_are_refused(tmp_path: Path):
    with respx.mock() as mock:
        mock.get(API).respond(200, json=[{"type": "file", "path": "a/x.mp4", "size": 1}, {"type": "directory", "path": "b"}])
        mock.get(f"{API}/b").respond(200, json=[{"type": "file", "path": "b/x.mp4", "size": 1}])
        with pytest.raises(InputError) as err:
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")))
    assert err.value.code == "duplicate-basenames" and "subdir" in err.value.remedy.lower()
    assert not (tmp_path / "d").exists()


def test_subdir_limits_the_listing(tmp_path: Path):
    with respx.mock() as mock:
        mock.get(f"{API}/clips/more").respond(200, json=[file_entry("clips/more/c.mp4")])
        mock.get(f"{RESOLVE}/clips/more/c.mp4").respond(200, content=FILES["clips/more/c.mp4"])
        result = prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d"), subdir="clips/more"))
    assert [f.name for f in result.files] == ["c.mp4"]


def test_non_vda_repo_is_denied_before_any_request(tmp_path: Path):
    with respx.mock(assert_all_mocked=True) as mock:
        with pytest.raises(PolicyDenied) as err:
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d"), repo="someone/carline-clips"))
        assert mock.calls.call_count == 0
    assert err.value.code == "vda-demo-only"


def test_non_vda_repo_allowed_when_the_user_asked(tmp_path: Path):
    api = "https://huggingface.co/api/datasets/someone/clips/tree/main"
    with respx.mock() as mock:
        mock.get(api).respond(200, json=[{"type": "file", "path": "x.mp4", "size": 2}])
        mock.get("https://huggingface.co/datasets/someone/clips/resolve/main/x.mp4").respond(200, content=b"xx")
        result = prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d"), repo="someone/clips", allow_non_vda=True))
    assert "someone/clips" in result.source_statement and DEMO_REPO not in result.source_statement


@pytest.mark.parametrize("status", [401, 403])
def test_denied_access_asks_for_a_token(tmp_path: Path, status: int):
    with respx.mock() as mock:
        mock.get(API).respond(status, json={"error": "gated"})
        with pytest.raises(UserInputRequired) as err:
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")))
    assert err.value.missing == "HF_TOKEN" and "HF_TOKEN" in err.value.question
    assert TOKEN not in str(err.value)


def test_http_errors_are_skill_errors(tmp_path: Path):
    with respx.mock() as mock:
        mock.get(API).respond(404)
        with pytest.raises(NotFound):
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")))
    with respx.mock() as mock:
        mock.get(API).respond(500, text=f"upstream broke, token {TOKEN}")
        with pytest.raises(BackendError) as err:
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")))
        assert TOKEN not in str(err.value) and "HTTP 500" in err.value.message
    with respx.mock() as mock:
        mock.get(API).mock(side_effect=httpx2.ConnectError("no route"))
        with pytest.raises(BackendError) as err:
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")))
        assert err.value.code == "hf-unreachable"
    with respx.mock() as mock:
        mock.get(API).respond(200, json=[{"type": "file", "path": "README.md", "size": 1}])
        with pytest.raises(NotFound):
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")))


def test_downloads_are_retried_then_fail_cleanly(tmp_path: Path):
    files = {"03_IllegalOccupation_020_10FPS.mp4": b"A" * 50}
    pauses: list[float] = []
    with respx.mock() as mock:
        mock.get(API).respond(200, json=[file_entry("03_IllegalOccupation_020_10FPS.mp4")])
        route = mock.get(f"{RESOLVE}/03_IllegalOccupation_020_10FPS.mp4")
        route.side_effect = [httpx2.Response(503), httpx2.ConnectError("reset"), httpx2.Response(200, content=files["03_IllegalOccupation_020_10FPS.mp4"])]
        result = prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "d")), sleep=pauses.append)
        assert route.call_count == 3 and pauses == [2.0, 2.0]
    assert result.files[0].size == 50
    with respx.mock() as mock:
        mock.get(API).respond(200, json=[{"type": "file", "path": "z.mp4", "size": 5}])
        mock.get(f"{RESOLVE}/z.mp4").respond(503)
        with pytest.raises(BackendError) as err:
            prepare_demo_assets(DemoRequest(demo_dir=str(tmp_path / "e"), retries=1), sleep=lambda s: None)
    assert err.value.code == "hf-download-failed"
    assert not list((tmp_path / "e_raw").rglob("*.part"))


def test_upload_dataset_flat(tmp_path: Path):
    folder = tmp_path / "clips"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.mp4").write_bytes(b"a")
    (folder / "b.mkv").write_bytes(b"b")
    (folder / "notes.txt").write_text("x")
    (folder / "sub" / "c.mp4").write_bytes(b"c")
    fake = FakeBackend()
    result = upload_dataset(UploadRequest(folder=str(folder), storage_url="s3://bkt/p", name="my-clips"), backend=fake)
    assert result.dataset_url == "s3://bkt/p/datasets/my-clips"
    assert sorted(fake.objects) == ["s3://bkt/p/datasets/my-clips/a.mp4", "s3://bkt/p/datasets/my-clips/b.mkv"]
    assert result.ignored == ["notes.txt"] and result.videos == ["a", "b"]
    assert any("only .mp4" in w for w in result.warnings)
    deep = upload_dataset(UploadRequest(folder=str(folder), storage_url="s3://bkt/p", name="deep", recursive=True), backend=fake)
    assert "s3://bkt/p/datasets/deep/c.mp4" in fake.objects and deep.files == ["a.mp4", "b.mkv", "c.mp4"]


def test_upload_refuses_non_video_folders_and_duplicates(tmp_path: Path):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "readme.md").write_text("x")
    with pytest.raises(InputError) as err:
        upload_dataset(UploadRequest(folder=str(docs), storage_url="s3://bkt/p", name="d"), backend=FakeBackend())
    assert err.value.code == "no-videos"
    dup = tmp_path / "dup"
    (dup / "x").mkdir(parents=True)
    (dup / "y").mkdir()
    (dup / "x" / "v.mp4").write_bytes(b"1")
    (dup / "y" / "v.mp4").write_bytes(b"2")
    fake = FakeBackend()
    with pytest.raises(InputError) as err:
        upload_dataset(UploadRequest(folder=str(dup), storage_url="s3://bkt/p", name="d", recursive=True), backend=fake)
    assert err.value.code == "duplicate-basenames" and fake.objects == {}
    with pytest.raises(NotFound):
        upload_dataset(UploadRequest(folder=str(tmp_path / "absent"), storage_url="s3://bkt/p", name="d"), backend=fake)


def test_script_refuses_a_non_vda_repo_and_bad_arguments(tmp_path: Path):
    script = skill_root() / "scripts" / "prepare_demo_assets.sh"
    env = {**os.environ, "HF_DEMO_DATASET_REPO": "someone/clips", "VDA_HOME": str(tmp_path)}
    done = subprocess.run(["bash", str(script), str(tmp_path / "d")], capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 1 and "vda-demo-only" in done.stderr
    assert TOKEN not in done.stdout + done.stderr
    assert subprocess.run(["bash", str(script), "a", "b"], capture_output=True, timeout=60).returncode == 2

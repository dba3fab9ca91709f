"""Concurrent runs on the same targets (issue 14): staging, the demo download and the comparison
render use unique temp names in the destination and an atomic rename, so a second run (or its
leftovers at the old fixed names) cannot corrupt or break the first; concurrent renders of one
comparison leave one complete, decodable file."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import av
import pytest
import respx

from skill.steps.compare import CompareRequest, ffmpeg_exe, render_side_by_side
from skill.steps.demo import DEMO_REPO, DemoRequest, prepare_demo_assets
from skill.steps.stage import STATE_FILE, StageRequest, stage_artifacts
from tests.fakes.backend import FakeBackend

STORAGE = "s3://bkt/p"
RUN_ID = "run-1a2b3c4d"
OUT = f"{STORAGE}/datasets/vda-demo-outputs/{RUN_ID}"
INPUT = f"{STORAGE}/datasets/vda-demo/clip.mp4"
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 32


@pytest.fixture
def root(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VDA_OUTPUT_ROOTS", raising=False)
    runs = tmp_path / "home" / "media" / "vda" / "runs"
    runs.mkdir(parents=True)
    return runs


def many_objects(n: int = 40) -> dict[str, bytes]:
    objects = {f"{OUT}/outputs/pseudo_labeled/clip/part{i:03d}.json": (b"%03d" % i) * 200 for i in range(n)}
    objects[f"{OUT}/outputs/augmented/clip_aug0/a.mp4"] = MP4
    objects[INPUT] = MP4
    return objects


class SlowBackend(FakeBackend):
    """Writes each object in two halves with a pause between, as a real transfer does."""

    def data_download(self, url: str, dest: Path) -> list[Path]:
        self.calls.append("data_download")
        target = Path(dest) / Path(url).name
        data = self.objects[url]
        with target.open("wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            time.sleep(0.002)
            fh.write(data[len(data) // 2 :])
        return [target]


def leftovers(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.endswith((".tmp", ".part")) or p.name.startswith(".vda-dl"))


def test_two_concurrent_stages_of_one_run_both_succeed_intact(root: Path):
    objects = many_objects()
    results: list[object] = []
    errors: list[BaseException] = []

    def stage() -> None:
        try:
            results.append(stage_artifacts(StageRequest(storage_url=STORAGE, dataset="vda-demo", run_id=RUN_ID, video="clip"),
                                           backend=SlowBackend(objects=objects)))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=stage) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, [repr(e) for e in errors]
    assert len(results) == 3
    run = root / RUN_ID
    for key, data in objects.items():
        if key.startswith(OUT):
            assert (run / key[len(OUT) + 1 :]).read_bytes() == data
    assert (run / "input" / "clip.mp4").read_bytes() == MP4
    assert leftovers(run) == []
    assert (run / STATE_FILE).is_file()


def test_stale_temp_files_at_the_old_fixed_names_do_not_break_staging(root: Path, tmp_path: Path):
    run = root / RUN_ID
    (run / ".vda-stage.tmp").mkdir(parents=True)  # another run's temp (here a folder: any write to it fails)
    (run / "input" / "clip.mp4.part").mkdir(parents=True)
    local = tmp_path / "mine.mp4"
    local.write_bytes(MP4 + b"mine")
    result = stage_artifacts(StageRequest(storage_url=STORAGE, dataset="vda-demo", run_id=RUN_ID, video="clip", input_local_video=str(local)),
                             backend=FakeBackend(objects=many_objects(3)))
    assert Path(result.input_video).read_bytes() == MP4 + b"mine"


def test_stale_part_files_do_not_break_the_demo_download(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("VDA_OUTPUT_ROOTS", str(tmp_path))
    monkeypatch.delenv("HF_TOKEN", raising=False)
    api = f"https://huggingface.co/api/datasets/{DEMO_REPO}/tree/main"
    demo = tmp_path / "demo"
    raw = tmp_path / "demo_raw"
    (raw / "a.mp4.part").mkdir(parents=True)
    (demo / "a.mp4.part").mkdir(parents=True)
    with respx.mock() as mock:
        mock.get(api).respond(200, json=[{"type": "file", "path": "a.mp4", "size": 4}])
        mock.get(f"https://huggingface.co/datasets/{DEMO_REPO}/resolve/main/a.mp4").respond(200, content=b"AAAA")
        result = prepare_demo_assets(DemoRequest(demo_dir=str(demo)), sleep=lambda s: None)
    assert (demo / "a.mp4").read_bytes() == b"AAAA" and result.downloaded == 1


def make_clip(path: Path, size: str, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate=10",
                    "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
                   check=True, capture_output=True, timeout=60)
    return path


def frame_count(path: Path) -> int:
    with av.open(str(path)) as container:
        return sum(1 for _ in container.decode(container.streams.video[0]))


def test_concurrent_renders_of_one_comparison_never_show_a_partial_file(root: Path):
    """Readers of display/<stem>.mp4 (the MEDIA line's target) while four renders of it run see
    either no file or a whole one, and the file left at the end is whole."""
    run = root / RUN_ID
    make_clip(run / "input" / "clip.mp4", "160x120", 3.0)
    make_clip(run / "outputs" / "augmented" / "clip_aug0" / "a.mp4", "160x90", 3.0)
    out = run / "display" / "vda-demo_clip_aug0_compare.mp4"
    results: list[object] = []
    errors: list[BaseException] = []

    def render() -> None:
        try:
            for _ in range(2):
                results.append(render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video="clip")))
        except BaseException as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=render) for _ in range(4)]
    for t in threads:
        t.start()
    partial: list[str] = []
    seen = 0
    while any(t.is_alive() for t in threads):
        if out.exists():
            seen += 1
            try:
                if frame_count(out) != 30:
                    partial.append("short")
            except (av.FFmpegError, OSError, IndexError) as exc:
                partial.append(type(exc).__name__)
        time.sleep(0.01)
    for t in threads:
        t.join(300)
    assert not errors, [repr(e) for e in errors]
    assert {r.kind for r in results} == {"video"} and len(results) == 8
    assert seen and not partial, f"{len(partial)} of {seen} reads saw a partial comparison: {sorted(set(partial))}"
    assert frame_count(out) == 30
    assert leftovers(run) == [] and sorted(p.name for p in (run / "display").iterdir()) == [out.name]


def test_a_staging_that_holds_the_run_folder_too_long_is_a_coded_error(root: Path, monkeypatch):
    import fcntl
    import os

    from skill.errors import SkillError
    from skill.steps import stage as stage_module

    run = root / RUN_ID
    run.mkdir()
    monkeypatch.setattr(stage_module, "LOCK_WAIT_S", 0.2)
    fd = os.open(run, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        started = time.monotonic()
        with pytest.raises(SkillError) as err:
            stage_artifacts(StageRequest(storage_url=STORAGE, dataset="vda-demo", run_id=RUN_ID, video="clip"), backend=FakeBackend(objects=many_objects(2)))
        assert err.value.code == "run-folder-busy" and time.monotonic() - started < 5
    finally:
        os.close(fd)

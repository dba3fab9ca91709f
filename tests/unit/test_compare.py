"""render_side_by_side with the real ffmpeg on tiny generated clips, and its PNG fallback."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import av
import cv2
import pytest

from skill.errors import NotFound
from skill.paths import skill_root
from skill.side_by_side import compare_key, panel_height, prepared_path
from skill.steps.compare import CompareRequest, build_ffmpeg_argv, ffmpeg_exe, render_side_by_side, report_lines

VIDEO = "clip"


@pytest.fixture(autouse=True)
def _tmp_is_an_output_root(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VDA_OUTPUT_ROOTS", str(tmp_path))  # run folders here live in tmp_path (skill.confine)


def make_clip(path: Path, size: str, seconds: float, rate: int = 10) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"testsrc=size={size}:rate={rate}",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, capture_output=True, timeout=60,
    )
    return path


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("clips")
    return {"input": make_clip(root / "in.mp4", "320x240", 2.0), "augmented": make_clip(root / "aug.mp4", "256x144", 1.5)}


def staged_run(root: Path, clips: dict[str, Path], augmented: bytes | None = None) -> Path:
    run = root / "run-1a2b3c4d"
    (run / "input").mkdir(parents=True)
    (run / "input" / f"{VIDEO}.mp4").write_bytes(clips["input"].read_bytes())
    aug_dir = run / "outputs" / "augmented" / f"{VIDEO}_aug0"
    aug_dir.mkdir(parents=True)
    (aug_dir / "augmented_video.mp4").write_bytes(augmented if augmented is not None else clips["augmented"].read_bytes())
    return run


def probe(path: Path) -> tuple[int, int, int, bool]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.width, stream.height, frames, bool(container.streams.audio)


def test_renders_the_side_by_side_at_the_inputs_own_height_inside_the_run(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    result = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO))
    out = run / "display" / "vda-demo_clip_aug0_compare.mp4"
    assert result.kind == "video" and result.path == str(out) and result.attempts == 1
    assert re.fullmatch(r"MEDIA:/\S+", result.media_line) and result.media_line == f"MEDIA:{out}"
    assert Path(result.path).is_relative_to(run)
    width, height, frames, has_audio = probe(out)
    assert height == 240  # the input's own: a small input is not scaled up
    assert width == 320 + 426  # 4:3 -> 320, 16:9 -> 426, both even, square pixels
    assert frames == 15  # ends with the shorter clip (1.5 s at 10 fps)
    assert not has_audio
    assert result.input_video == str(run / "input" / "clip.mp4")
    assert result.augmented_video == str(run / "outputs/augmented/clip_aug0/augmented_video.mp4")
    assert report_lines(result)[:3] == [f"COMPARE_VIDEO={out}", f"INPUT_VIDEO={result.input_video}", f"AUGMENTED_VIDEO={result.augmented_video}"]


def test_a_height_asked_for_scales_a_small_input_up(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    result = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO, height=720))
    width, height, _, _ = probe(Path(result.path))
    assert (width, height) == (960 + 1280, 720)


def test_an_input_taller_than_720_is_scaled_down_to_720():
    assert panel_height(1080) == 720 and panel_height(576) == 576 and panel_height(181) == 180 and panel_height(240, 720) == 720


def test_a_comparison_the_workflow_prepared_for_exactly_these_clips_is_reused(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    cache = tmp_path / "cache"
    left, right = run / "input" / "clip.mp4", run / "outputs" / "augmented" / "clip_aug0" / "augmented_video.mp4"
    ready = prepared_path(cache, compare_key(left, right, 240))
    ready.parent.mkdir(parents=True)
    subprocess.run(build_ffmpeg_argv(ffmpeg_exe(), left, right, ready, height=240), check=True, capture_output=True, timeout=60)
    result = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO), prepared=cache)
    assert result.kind == "video" and result.attempts == 0 and any("reused" in n for n in result.notes)
    assert Path(result.path).read_bytes() == ready.read_bytes() and ready.is_file()  # copied, the cache keeps its file
    asked = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO, height=480), prepared=cache)
    assert asked.attempts == 1 and probe(Path(asked.path))[1] == 480  # another height is another comparison: rendered


def test_a_prepared_comparison_of_other_clips_is_never_used(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    cache = tmp_path / "cache"
    left, right = run / "input" / "clip.mp4", run / "outputs" / "augmented" / "clip_aug0" / "augmented_video.mp4"
    stale = prepared_path(cache, compare_key(left, right, 240))
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"not this run's comparison")
    right.write_bytes(clips["input"].read_bytes())  # the augmented clip changed after the cache was filled
    result = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO), prepared=cache)
    assert result.kind == "video" and result.attempts == 1
    assert Path(result.path).read_bytes() != stale.read_bytes()


def test_garbage_augmented_file_falls_back_to_a_png_contact_sheet(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips, augmented=b"this is not a video" * 100)
    result = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO))
    assert result.kind == "png" and result.attempts == 2
    assert result.path == str(run / "display" / "vda-demo_clip_aug0_compare.png")
    assert result.media_line == f"MEDIA:{result.path}"
    assert not (run / "display" / "vda-demo_clip_aug0_compare.mp4").exists()
    sheet = cv2.imread(result.path)
    assert sheet is not None and sheet.shape[0] == 4 * 360
    assert any("augmented video" in n for n in result.notes)
    assert any("render attempt 2 failed" in n for n in result.notes)


def test_missing_inputs_are_not_found(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    with pytest.raises(NotFound):
        render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO, aug_index=3))
    (run / "input" / "clip.mp4").unlink()
    with pytest.raises(NotFound) as err:
        render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO))
    assert "stage_artifacts" in err.value.remedy
    with pytest.raises(NotFound):
        render_side_by_side(CompareRequest(run_local_dir=str(tmp_path / "absent"), dataset="vda-demo", video=VIDEO))


def test_argv_is_a_list_with_the_display_settings(tmp_path: Path):
    argv = build_ffmpeg_argv("ffmpeg", tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "o.mp4")
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-preset") + 1] == "ultrafast"
    assert argv[argv.index("-crf") + 1] == "23" and argv[argv.index("-pix_fmt") + 1] == "yuv420p"
    assert "-an" in argv and "hstack=inputs=2:shortest=1" in argv[argv.index("-filter_complex") + 1]


def test_script_prints_upstream_lines_and_exit_codes(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    script = skill_root() / "scripts" / "render_side_by_side.sh"
    done = subprocess.run(["bash", str(script), "--run-local-dir", str(run), "--dataset", "vda-demo", "--video", VIDEO],
                          capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"COMPARE_VIDEO={run}/display/vda-demo_clip_aug0_compare.mp4"
    assert lines[-1] == f"MEDIA:{run}/display/vda-demo_clip_aug0_compare.mp4"
    assert subprocess.run(["bash", str(script), "--video"], capture_output=True, timeout=60).returncode == 2
    missing = subprocess.run(["bash", str(script), "--run-local-dir", str(run), "--dataset", "vda-demo", "--video", "absent"],
                             capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and "Error:" in missing.stderr

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


def test_renders_720p_side_by_side_inside_the_run(tmp_path: Path, clips):
    run = staged_run(tmp_path, clips)
    result = render_side_by_side(CompareRequest(run_local_dir=str(run), dataset="vda-demo", video=VIDEO))
    out = run / "display" / "vda-demo_clip_aug0_compare.mp4"
    assert result.kind == "video" and result.path == str(out) and result.attempts == 1
    assert re.fullmatch(r"MEDIA:/\S+", result.media_line) and result.media_line == f"MEDIA:{out}"
    assert Path(result.path).is_relative_to(run)
    width, height, frames, has_audio = probe(out)
    assert height == 720
    assert width == 960 + 1280  # 4:3 -> 960, 16:9 -> 1280, both even, square pixels
    assert frames == 15  # ends with the shorter clip (1.5 s at 10 fps)
    assert not has_audio
    assert result.input_video == str(run / "input" / "clip.mp4")
    assert result.augmented_video == str(run / "outputs/augmented/clip_aug0/augmented_video.mp4")
    assert report_lines(result)[:3] == [f"COMPARE_VIDEO={out}", f"INPUT_VIDEO={result.input_video}", f"AUGMENTED_VIDEO={result.augmented_video}"]


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


def test_argv_is_a_list_with_the_upstream_settings(tmp_path: Path):
    argv = build_ffmpeg_argv("ffmpeg", tmp_path / "a.mp4", tmp_path / "b.mp4", tmp_path / "o.mp4")
    assert argv[argv.index("-c:v") + 1] == "libx264" and argv[argv.index("-preset") + 1] == "veryfast"
    assert argv[argv.index("-crf") + 1] == "20" and argv[argv.index("-pix_fmt") + 1] == "yuv420p"
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

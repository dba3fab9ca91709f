"""Any clip ffmpeg reads reaches the workflow as H.264 <stem>.mp4; completeness is judged by what
decodes, not by header counts. Clips are made here with the bundled ffmpeg in real containers."""

from __future__ import annotations

import subprocess
from pathlib import Path

import av
import pytest

from skill.engines.video_io import VideoReadError, verify_complete
from skill.ingest import check_complete, to_workflow_video
from skill.steps.compare import ffmpeg_exe
from skill.video_types import INPUT_SUFFIXES, WORKFLOW_SUFFIX, is_video_name, strip_video_suffix

SRC = ["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2"]


def make(path: Path, *codec: str, source: list[str] = SRC) -> Path:
    subprocess.run([ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", *source, *codec, str(path)], check=True, timeout=60)
    return path


def stream_facts(path: Path) -> tuple[str, str, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frames = sum(1 for _ in container.decode(stream))
        return stream.codec_context.name, stream.codec_context.pix_fmt, frames


CASES = [
    ("clip.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "as-is"),
    ("clip.mov", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "remuxed"),
    ("clip.mkv", ["-c:v", "libx264", "-pix_fmt", "yuv420p"], "remuxed"),
    ("clip.webm", ["-c:v", "libvpx-vp9", "-b:v", "200k"], "transcoded"),
    ("clip.avi", ["-c:v", "mpeg4", "-q:v", "5"], "transcoded"),
    ("clip.MOV", ["-c:v", "prores_ks"], "transcoded"),
    ("clip444.mp4", ["-c:v", "libx264", "-pix_fmt", "yuv444p"], "transcoded"),
]


@pytest.mark.parametrize(("name", "codec", "action"), CASES, ids=[c[0] for c in CASES])
def test_every_container_becomes_h264_mp4_the_workflow_reads(tmp_path, name, codec, action):
    clip = make(tmp_path / name, *codec)
    out = to_workflow_video(clip, tmp_path / "ingest")
    assert out.action == action and out.stem == Path(name).stem
    target = Path(out.path)
    assert target.suffix == WORKFLOW_SUFFIX and target.name == f"{Path(name).stem}.mp4"
    assert (target == clip) == (action == "as-is")
    codec_name, pix_fmt, frames = stream_facts(target)
    assert (codec_name, pix_fmt) == ("h264", "yuv420p") and frames == 20
    assert (out.width, out.height, out.frames) == (160, 120, 20)
    assert not list((tmp_path / "ingest").glob(".*partial*")) if (tmp_path / "ingest").exists() else True


def test_odd_sizes_are_padded_to_what_h264_needs(tmp_path):
    clip = make(tmp_path / "odd.mkv", "-vf", "scale=161:121", "-c:v", "libx264", "-pix_fmt", "yuv444p")
    assert check_complete(clip).width == 161
    out = to_workflow_video(clip, tmp_path / "ingest")
    with av.open(out.path) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.width, stream.codec_context.height) == (162, 122)


def test_a_header_that_overstates_its_frames_is_complete_when_the_frames_reach_the_end(tmp_path):
    """AVI fills timestamp gaps with empty packets: the header counts them, demuxing does not."""
    clip = make(tmp_path / "gaps.avi", "-vf", "setpts=N*5", "-time_base", "1/25", "-enc_time_base", "1/25",
                "-fps_mode", "passthrough", "-c:v", "mpeg4",
                source=["-f", "lavfi", "-i", "testsrc2=size=160x120:rate=5:duration=4"])
    with pytest.raises(VideoReadError):  # the old packet-count check called it truncated
        verify_complete(clip)
    info = check_complete(clip)
    assert info.frames == 20
    assert to_workflow_video(clip, tmp_path / "ingest").action == "transcoded"


def test_a_clip_cut_short_is_refused_before_anything_is_written(tmp_path):
    whole = make(tmp_path / "whole.mp4", "-c:v", "libx264", "-pix_fmt", "yuv420p", "-movflags", "+faststart",
                 source=["-f", "lavfi", "-i", "testsrc2=size=320x240:rate=10:duration=6"])
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) // 3])
    with pytest.raises(VideoReadError) as caught:
        to_workflow_video(cut, tmp_path / "ingest")
    assert caught.value.code == "input-truncated"
    assert not (tmp_path / "ingest").exists()


def test_not_a_video_is_a_coded_error(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("not a video at all")
    with pytest.raises(VideoReadError) as caught:
        to_workflow_video(fake, tmp_path / "ingest")
    assert caught.value.code == "video-unreadable" and "Traceback" not in str(caught.value)


def test_video_names_come_from_one_list():
    assert all(s == s.lower() and s.startswith(".") for s in INPUT_SUFFIXES)
    assert is_video_name("a/b/Clip.MKV") and not is_video_name("notes.txt")
    assert strip_video_suffix("clip.MOV") == "clip" and strip_video_suffix("clip.v2") == "clip.v2"


def test_the_standalone_worker_scripts_agree_with_the_one_list():
    from skill.engines import configs
    from skill.video_types import AUGMENT_DISCOVERY_SUFFIXES

    assert configs.VIDEO_EXTENSIONS == AUGMENT_DISCOVERY_SUFFIXES

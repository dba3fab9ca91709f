"""Streaming video I/O: round trip, probe, error mapping, partial files removed."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from skill.engines.video_io import (
    VideoInfo,
    VideoNotFound,
    VideoReadError,
    VideoWriter,
    as_rate,
    iter_frames,
    probe,
)
from skill.errors import InputError, SkillError


def synthetic_frame(i: int, width: int = 160, height: int = 90) -> np.ndarray:
    """A textured frame with a bright square moving right: easy to recognise after encoding."""
    yy, xx = np.mgrid[0:height, 0:width]
    base = np.stack([(xx * 255 // max(width - 1, 1)), (yy * 255 // max(height - 1, 1)), np.full_like(xx, 90)], axis=-1)
    frame = base.astype(np.uint8)
    x0 = (i * 6) % max(width - 20, 1)
    frame[height // 3 : height // 3 + 20, x0 : x0 + 20] = 250
    return frame


def write_test_clip(path: Path, *, frames: int = 15, width: int = 160, height: int = 90, fps: float | Fraction = 10) -> Path:
    """Write a short synthetic H.264 clip (shared by the engine and worker-script tests)."""
    with VideoWriter(path, width, height, fps) as out:
        for i in range(frames):
            out.write(synthetic_frame(i, width, height))
    return path


def test_roundtrip_keeps_size_fps_and_frame_count(tmp_path: Path) -> None:
    clip = write_test_clip(tmp_path / "clip.mp4", frames=12)
    info = probe(clip)
    assert isinstance(info, VideoInfo)
    assert (info.width, info.height, info.frames) == (160, 90, 12)
    assert info.fps == pytest.approx(10.0)
    assert info.rate == Fraction(10)
    assert info.codec == "h264"
    assert info.duration == pytest.approx(1.2, abs=0.15)
    decoded = list(iter_frames(clip))
    assert len(decoded) == 12
    assert all(f.shape == (90, 160, 3) and f.dtype == np.uint8 for f in decoded)
    # lossy, but close to what was written
    for i in (0, 5, 11):
        err = np.abs(decoded[i].astype(int) - synthetic_frame(i).astype(int)).mean()
        assert err < 6, err


def test_ntsc_rate_is_kept_exactly(tmp_path: Path) -> None:
    clip = write_test_clip(tmp_path / "ntsc.mp4", frames=6, fps=29.97)
    info = probe(clip)
    assert info.rate == Fraction(30000, 1001)
    assert as_rate(29.97) == Fraction(30000, 1001)
    with pytest.raises(InputError):
        as_rate(0)


def test_odd_size_is_padded_not_rejected(tmp_path: Path) -> None:
    path = tmp_path / "odd.mp4"
    with VideoWriter(path, 161, 91, 10) as out:
        assert out.padded
        for i in range(3):
            out.write(np.pad(synthetic_frame(i), ((0, 1), (0, 1), (0, 0)), mode="edge"))
    info = probe(path)
    assert (info.width, info.height) == (162, 92)


def test_wrong_frame_shape_is_an_input_error_and_partial_file_removed(tmp_path: Path) -> None:
    path = tmp_path / "bad.mp4"
    with pytest.raises(InputError):
        with VideoWriter(path, 160, 90, 10) as out:
            out.write(synthetic_frame(0))
            out.write(np.zeros((10, 10, 3), np.uint8))
    assert not path.exists()


def test_missing_file_is_video_not_found(tmp_path: Path) -> None:
    with pytest.raises(VideoNotFound) as err:
        probe(tmp_path / "nope.mp4")
    assert err.value.code == "video-not-found"
    with pytest.raises(VideoNotFound):
        next(iter_frames(tmp_path / "nope.mp4"))


@pytest.mark.parametrize("content", [b"", b"this is not a video at all" * 50])
def test_non_video_is_unreadable(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "fake.mp4"
    path.write_bytes(content)
    with pytest.raises(VideoReadError) as err:
        probe(path)
    assert err.value.code == "video-unreadable"
    assert isinstance(err.value, SkillError)
    with pytest.raises(VideoReadError):
        list(iter_frames(path))


def test_truncated_file_fails_cleanly(tmp_path: Path) -> None:
    clip = write_test_clip(tmp_path / "full.mp4", frames=20)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    with pytest.raises(VideoReadError):
        probe(cut)
    with pytest.raises(VideoReadError):
        list(iter_frames(cut))

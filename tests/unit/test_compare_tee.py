"""The side-by-side the classic augmenter writes while it augments (skill.engines._compare_tee):
filed under its content key in the run cache, found by render_side_by_side for exactly those clips,
and never changing what the augmentation itself writes."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np
import pytest

from skill.engines import augment as aug
from skill.engines.video_io import iter_frames
from skill.side_by_side import compare_key, prepared_compare
from tests.unit.test_augment import clip_config
from tests.unit.test_video_io import write_test_clip


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_test_clip(tmp_path_factory.mktemp("src") / "clip.mp4", frames=12)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def shape(path: Path) -> tuple[int, int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return stream.width, stream.height, sum(1 for _ in container.decode(stream))


def test_the_comparison_is_filed_under_the_content_key_and_the_augmentation_is_unchanged(tmp_path: Path, source: Path) -> None:
    cfg = clip_config(tmp_path / "c.yaml", {"weather": "rain", "time_of_day": "night"})
    plain = aug.augment("classic", cfg, source, tmp_path / "plain")
    teed = aug.augment("classic", cfg, source, tmp_path / "teed", compare_cache=tmp_path / "cache")
    out = tmp_path / "teed" / "augmented_video.mp4"
    # the same pictures, up to rounding: in a process that has run other augmentations (a long test
    # session, the warm starter) OpenCV's float paths were seen to round a few pixels differently from
    # run to run, with or without the tee, which x264 then spreads (max 13 levels on 10% of values,
    # the lowest PSNR seen between same-look runs was 53 dB, another look scores 6 dB)
    plain_frames, teed_frames = list(iter_frames(tmp_path / "plain" / "augmented_video.mp4")), list(iter_frames(out))
    assert len(plain_frames) == len(teed_frames) == 12
    assert psnr(np.stack(plain_frames), np.stack(teed_frames)) > 38.0
    assert {k: v for k, v in plain.items() if k != "source_video"} == {k: v for k, v in teed.items() if k != "source_video"}
    assert sorted(p.name for p in (tmp_path / "teed").iterdir()) == ["augmented_video.mp4", "metadata.json"]  # outputs as before
    ready = prepared_compare(tmp_path / "cache", source, out, 90)
    assert ready is not None and ready.name == f"{compare_key(source, out, 90)}.mp4"
    assert shape(ready) == (2 * 160, 90, 12)  # the input's own size, both panels, every frame
    assert [p.name for p in (tmp_path / "cache" / "compare").iterdir()] == [ready.name]  # no partial file left


def test_an_unusable_cache_never_fails_the_augmentation(tmp_path: Path, source: Path) -> None:
    cfg = clip_config(tmp_path / "c.yaml", {"weather": "clear"})
    blocked = tmp_path / "cache"
    blocked.write_text("a file where the cache folder should be")
    meta = aug.augment("classic", cfg, source, tmp_path / "out", compare_cache=blocked)
    assert meta["frames"] == 12 and (tmp_path / "out" / "augmented_video.mp4").is_file()
    assert prepared_compare(blocked, source, tmp_path / "out" / "augmented_video.mp4", 90) is None


def test_a_failed_comparison_is_a_coded_line_in_the_cache_log_not_a_failed_task(tmp_path: Path, source: Path) -> None:
    cfg = clip_config(tmp_path / "c.yaml", {"weather": "clear"})
    cache = tmp_path / "cache"
    (cache / "compare" / f".clip_aug0.{os.getpid()}.partial.mp4").mkdir(parents=True)  # the encoder cannot open its file
    meta = aug.augment("classic", cfg, source, tmp_path / "out", compare_cache=cache)
    assert meta["frames"] == 12
    log = (cache / "compare" / "prepare.log").read_text()
    assert "clip_aug0: [compare-prepare-failed] " in log and "Next: " in log
    assert prepared_compare(cache, source, tmp_path / "out" / "augmented_video.mp4", 90) is None

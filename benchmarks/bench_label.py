"""Speed of the classic labeler against the physical floor of the job: decoding the video.

A 720p (1280x720) synthetic road clip at 10 fps, 10 s (quick) or 60 s (full). Rows:

* classic label as shipped / decode-only: wall time of the whole ``label`` run with the cookbook's
  config (tracking overlay on: ``save_video: true`` in all five cookbooks; tracking, MCQ answers,
  DAFT files, ``<stem>_tracking.mp4``) against decoding every frame to RGB with the shared reader
  (``video_io.iter_frames``) and doing nothing else. Target (issue 15): at most 3x.
* the same without the overlay (``save_video: false``), for reference: what the overlay costs now
  that it is drawn over the pictures of the analysis pass instead of a second decode.
* real-time factor: label (as shipped) wall time against the clip's duration. Target: below 1
  (faster than the video plays at 10 fps).

Each timing is the best of several interleaved repeats, so a busy neighbour on the machine skews
both sides alike.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from skill.engines.label import LabelRequest, label
from skill.engines.synthetic import make_scene
from skill.engines.video_io import iter_frames
from skill.paths import cookbooks_dir

FPS = 10


def _config(folder: Path, *, save_video: bool) -> Path:
    source = cookbooks_dir() / "city_traffic" / "auto_labeling" / "auto_labeling_config.yaml"
    config = yaml.safe_load(source.read_text()) if source.is_file() else {}
    config.setdefault("detection_and_tracking", {})["save_video"] = save_video
    path = folder / f"config_{int(save_video)}.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def _bank() -> Path | None:
    source = cookbooks_dir() / "city_traffic" / "auto_labeling" / "question_bank.json"
    return source if source.is_file() else None


def _best(fn: Callable[[], object], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - started)
    return best


def run(quick: bool = True) -> list[dict]:
    seconds = 10 if quick else 60
    repeats = 3 if quick else 2
    with tempfile.TemporaryDirectory(prefix="vda-bench-label-") as tmp:
        folder = Path(tmp)
        video = folder / "road_720p.mp4"
        make_scene(video, width=1280, height=720, fps=FPS, seconds=seconds, background="road", seed=7)
        plain, overlay, bank = _config(folder, save_video=False), _config(folder, save_video=True), _bank()

        def decode() -> None:
            for _ in iter_frames(video):
                pass

        def labeled(config: Path, name: str) -> Callable[[], object]:
            return lambda: label(LabelRequest(engine="classic", video=video, output_dir=folder / name, config=config,
                                              question_bank=bank, sampled_vars={"weather": "rain"}))

        decode_s = shipped_s = plain_s = float("inf")
        for _ in range(repeats):  # interleaved
            decode_s = min(decode_s, _best(decode, 1))
            shipped_s = min(shipped_s, _best(labeled(overlay, "shipped"), 1))
            plain_s = min(plain_s, _best(labeled(plain, "plain"), 1))
    frames = seconds * FPS
    return [
        {"name": "classic label as shipped (overlay on) / decode-only (720p)", "ours_s": round(shipped_s, 3),
         "baseline_s": round(decode_s, 3), "ratio": round(shipped_s / decode_s, 3), "target": 3.0,
         "notes": f"{seconds}s 1280x720 {FPS}fps ({frames} frames); baseline = iter_frames to RGB; save_video: true "
                  f"(overlay drawn over the analysis pass's pictures, one decode); {frames / shipped_s:.0f} frames/s labeled"},
        {"name": "classic label without overlay / decode-only (720p)", "ours_s": round(plain_s, 3),
         "baseline_s": round(decode_s, 3), "ratio": round(plain_s / decode_s, 3), "target": None,
         "notes": f"save_video: false; reference: the overlay costs {shipped_s - plain_s:+.3f}s"},
        {"name": "classic label real-time factor (720p, 10 fps, as shipped)", "ours_s": round(shipped_s, 3),
         "baseline_s": float(seconds), "ratio": round(shipped_s / seconds, 3), "target": 1.0,
         "notes": f"{seconds / shipped_s:.1f}x faster than the clip plays"},
    ]


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)

"""render_side_by_side against the bare ffmpeg command on the same clips.

The baseline is the same render as one would type it (both clips at the input's own height, square
pixels, hstack to the shorter clip, no audio, libx264 ultrafast CRF 23, yuv420p: the spec of
:mod:`skill.side_by_side`), run once with subprocess. Ours adds the staging checks, the probe of the
input's height, the read-back probe and the result model; the target is that this costs at most
20 % (ratio <= 1.2). A second row shows the local path: the comparison the workflow already wrote
while augmenting (found in the run cache by the content key of both clips) copied into place.
Quick: 5 s 640x360 clips, best of 5; full: 60 s 1280x720 clips, best of 3.

The run folder lives in a temporary folder made an output root for the bench (``VDA_OUTPUT_ROOTS``,
as the tests do), so the step's confinement accepts it.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skill.confine import OUTPUT_ROOTS_ENV
from skill.side_by_side import compare_key, panel_height, prepared_path
from skill.steps.compare import CompareRequest, build_ffmpeg_argv, ffmpeg_exe, render_side_by_side

TARGET = 1.2


def _clip(path: Path, size: str, seconds: int, source: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", f"{source}=size={size}:rate=30",
         "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", str(path)],
        check=True, capture_output=True, timeout=600,
    )


def _baseline(left: Path, right: Path, out: Path, height: int) -> None:
    graph = (f"[0:v]scale=-2:{height},setsar=1[l];[1:v]scale=-2:{height},setsar=1[r];"
             "[l][r]hstack=inputs=2:shortest=1[v]")
    subprocess.run(
        [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(left), "-i", str(right),
         "-filter_complex", graph, "-map", "[v]", "-an", "-c:v", "libx264", "-preset", "ultrafast",
         "-crf", "23", "-pix_fmt", "yuv420p", str(out)],
        check=True, capture_output=True, timeout=3600,
    )


def _timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


@contextmanager
def _output_root(folder: Path) -> Iterator[None]:
    before = os.environ.get(OUTPUT_ROOTS_ENV)
    os.environ[OUTPUT_ROOTS_ENV] = os.pathsep.join([str(folder), *([before] if before else [])])
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OUTPUT_ROOTS_ENV, None)
        else:
            os.environ[OUTPUT_ROOTS_ENV] = before


def run(quick: bool = True) -> list[dict]:
    size, seconds, repeats = ("640x360", 5, 5) if quick else ("1280x720", 60, 3)
    height = panel_height(int(size.split("x")[1]))
    with tempfile.TemporaryDirectory(prefix="bench_compare_") as tmp, _output_root(Path(tmp)):
        run_dir = Path(tmp) / "run-0bench00"
        left = run_dir / "input" / "clip.mp4"
        right = run_dir / "outputs" / "augmented" / "clip_aug0" / "augmented_video.mp4"
        _clip(left, size, seconds, "testsrc")
        _clip(right, size, seconds, "testsrc2")
        cache = Path(tmp) / "cache"
        ready = prepared_path(cache, compare_key(left, right, height))
        ready.parent.mkdir(parents=True)
        subprocess.run(build_ffmpeg_argv(ffmpeg_exe(), left, right, ready, height=height), check=True, capture_output=True, timeout=3600)
        req = CompareRequest(run_local_dir=str(run_dir), dataset="bench", video="clip")
        ours, base, reused = [], [], []
        results = {}
        for _ in range(repeats):  # interleaved so drift in machine load hits both alike
            base.append(_timed(lambda: _baseline(left, right, Path(tmp) / "baseline.mp4", height)))
            ours.append(_timed(lambda: results.__setitem__("render", render_side_by_side(req))))
            reused.append(_timed(lambda: results.__setitem__("reuse", render_side_by_side(req, prepared=cache))))
        ours_s, base_s, reuse_s = min(ours), min(base), min(reused)  # the least-disturbed run of each: load only ever adds time
    render, reuse = results.get("render"), results.get("reuse")
    return [{
        "name": f"side_by_side render {size} {seconds}s x2",
        "ours_s": ours_s,
        "baseline_s": base_s,
        "ratio": ours_s / base_s if base_s else None,
        "target": TARGET,
        "notes": f"best of {repeats} (medians {statistics.median(ours):.2f}/{statistics.median(base):.2f}s); output "
                 f"{render.kind if render else 'none'} {height}p; baseline = bare ffmpeg hstack argv, same size and encoder",
    }, {
        "name": f"side_by_side reused from the run cache {size} {seconds}s x2",
        "ours_s": reuse_s,
        "baseline_s": base_s,
        "ratio": reuse_s / base_s if base_s else None,
        "target": TARGET,
        "notes": f"the local path: the augmentation task wrote it, the step checks the content key and copies it "
                 f"(attempts {reuse.attempts if reuse else 'none'}); median {statistics.median(reused):.3f}s",
    }]


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)

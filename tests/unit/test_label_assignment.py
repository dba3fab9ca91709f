"""The tracker's own assignment solver returns exactly the pairs SciPy's ``linear_sum_assignment``
returns (random, tied, all-equal and sentinel-filled matrices of every small shape), so the tracks
do not change, and the label engine no longer imports SciPy for the small matrices it solves."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from skill.engines import _assignment
from skill.engines._assignment import min_cost_assignment
from skill.engines._tracker import SortTracker

ROOT = Path(__file__).resolve().parents[2]


def _matrices(seed: int):
    rng = np.random.default_rng(seed)
    for rows in range(1, 9):
        for cols in range(1, 9):
            shape = (rows, cols)
            yield rng.random(shape)  # no ties
            yield rng.integers(0, 3, shape).astype(float)  # many ties
            iou = rng.random(shape)
            iou[rng.random(shape) < 0.6] = 0.0
            yield -iou  # the IoU step: mostly zeros
            gated = rng.random(shape) * 0.5
            gated[rng.random(shape) < 0.5] = 1e6
            yield gated  # the centre-distance step: 1e6 marks a forbidden pair
            yield np.zeros(shape)
            yield -np.round(rng.random(shape), 1)


@pytest.mark.parametrize("seed", range(4))
def test_same_pairs_as_scipy(seed):
    for matrix in _matrices(seed):
        ours, theirs = min_cost_assignment(matrix), linear_sum_assignment(matrix)
        assert np.array_equal(ours[0], theirs[0]) and np.array_equal(ours[1], theirs[1]), matrix


def test_large_matrices_go_to_scipy_and_empty_ones_are_empty(monkeypatch):
    big = np.random.default_rng(5).random((30, 20))
    assert all(np.array_equal(a, b) for a, b in zip(min_cost_assignment(big), linear_sum_assignment(big), strict=True))
    monkeypatch.setattr(_assignment, "_solve", lambda *a: pytest.fail("a large matrix was solved in Python"))
    min_cost_assignment(big)
    rows, cols = min_cost_assignment(np.zeros((0, 3)))
    assert rows.size == cols.size == 0
    with pytest.raises(ValueError):
        min_cost_assignment(np.array([[np.nan, 1.0]]))


def test_the_tracker_gives_the_same_tracks_with_either_solver(monkeypatch):
    rng = np.random.default_rng(9)
    starts = rng.uniform(0, 400, (6, 2))
    speeds = rng.uniform(-6, 6, (6, 2))

    def run() -> list:
        tracker = SortTracker(min_hits=2, frame_size=(640, 480))
        for frame in range(40):
            centres = starts + speeds * frame + rng.normal(0, 1.5, (6, 2))
            seen = centres[rng.random(6) > 0.15]  # missed detections
            boxes = np.hstack([seen - 20, seen + 20])
            tracker.step(frame, boxes)
        return [(t.track_id, t.frames, [b.tolist() for b in t.boxes]) for t in tracker.finish(min_track_frames=3)]

    state = rng.bit_generator.state
    ours = run()
    rng.bit_generator.state = state
    monkeypatch.setattr("skill.engines._tracker.min_cost_assignment", linear_sum_assignment)
    assert ours and run() == ours


def test_labeling_a_clip_does_not_import_scipy(tmp_path):
    code = (
        "import json, sys\nimport numpy as np\nfrom skill.engines._tracker import SortTracker\n"
        "t = SortTracker(min_hits=1)\n"
        "for f in range(5):\n    t.step(f, np.array([[10.0 + 10 * f, 10, 50 + 10 * f, 50], [100, 100, 140, 150]]))\n"
        "print(json.dumps({'tracks': len(t.finish()), 'scipy': 'scipy' in sys.modules}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result == {"tracks": 1, "scipy": False}

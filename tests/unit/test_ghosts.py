"""Ghosts (skill.engines._ghosts): blobs of the motion mask with no motion under them are dropped."""

from __future__ import annotations

import cv2
import numpy as np

from skill.engines._ghosts import StillBlobs


def _frame(x: int) -> np.ndarray:
    """Grey ground, a textured object at column ``x`` (it moves when ``x`` changes)."""
    frame = np.full((80, 160), 120, np.uint8)
    frame[30:50, x : x + 20] = np.tile(np.array([40, 200], np.uint8), 10)
    return frame


def _blobs(mask: np.ndarray):
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    return list(range(1, count)), labels, stats


def test_a_ghost_is_dropped_and_a_moving_object_kept():
    still = StillBlobs(fps=12.0)  # a lag of 3 frames
    for t in range(4):
        still.push(_frame(20 + 3 * t))
    mask = np.zeros((80, 160), np.uint8)
    mask[30:50, 29:49] = 255  # where the object is now
    mask[30:50, 100:130] = 255  # a ghost: "foreground" on unchanged ground
    blobs, labels, stats = _blobs(mask)
    kept = still.moving(blobs, labels, stats)
    assert [int(stats[i, 0]) for i in kept] == [29]


def test_every_blob_is_kept_until_the_lag_has_passed():
    still = StillBlobs(fps=12.0)
    still.push(_frame(20))
    mask = np.zeros((80, 160), np.uint8)
    mask[30:50, 100:130] = 255
    blobs, labels, stats = _blobs(mask)
    assert still.moving(blobs, labels, stats) == blobs
    assert StillBlobs(fps=10.0).lag == 2 and StillBlobs(fps=30.0).lag == 8

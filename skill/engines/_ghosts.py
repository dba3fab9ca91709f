"""Ghosts: blobs of the motion mask where nothing is moving.

The background model starts from the median of the first seconds; an object that was there then
(a car pulling out slowly) leaves a ghost where it stood, a blob of "foreground" that the model
absorbs only over several seconds and that shifts as it fades, so the tracker took it for a moving
object. A real object changes the picture under it from one moment to the next (its edges and
texture move); a ghost is the background itself, unchanged. A blob is kept when at least
``MOVING_SHARE`` of its pixels differ by more than ``CHANGE_DIFF`` grey levels from the frame a
quarter of a second earlier.
"""

from __future__ import annotations

from collections import deque

import numpy as np

__all__ = ["CHANGE_DIFF", "MOVING_SHARE", "StillBlobs"]

CHANGE_DIFF = 13  # more grey levels than this between the frame and the one ``lag`` frames earlier: it changed
MOVING_SHARE = 0.1  # a blob with fewer changed pixels than this share is a ghost


class StillBlobs:
    """Feed every analysis frame to :meth:`push`; :meth:`moving` keeps the blobs with motion under them."""

    def __init__(self, fps: float) -> None:
        self.lag = max(2, int(round(fps / 4)))
        self.frames: deque[np.ndarray] = deque(maxlen=self.lag + 1)
        self.changed: np.ndarray | None = None

    def push(self, raw: np.ndarray) -> None:
        self.frames.append(raw)
        if len(self.frames) > self.lag:
            before = self.frames[0].astype(np.int16)
            self.changed = np.abs(raw.astype(np.int16) - before) > CHANGE_DIFF
        else:
            self.changed = None

    def moving(self, blobs: list[int], labels: np.ndarray, stats: np.ndarray) -> list[int]:
        """The blobs of ``blobs`` (component indices of ``labels``/``stats``) that are not ghosts;
        all of them until ``lag`` frames have been seen."""
        if self.changed is None:
            return blobs
        out = []
        for i in blobs:
            x, y, w, h = (int(v) for v in stats[i, :4])
            inside = labels[y : y + h, x : x + w] == i
            area = int(np.count_nonzero(inside))
            moved = int(np.count_nonzero(self.changed[y : y + h, x : x + w] & inside))
            if area and moved >= MOVING_SHARE * area:
                out.append(i)
        return out

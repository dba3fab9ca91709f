"""OpenCV's worker pool switched off for a block (:func:`opencv_in_this_thread`).

Two reasons, both measured (issue 15):

* **Repeatable pixels.** OpenCV's float paths round by the calling thread's floating-point state;
  split over its pool, which pixels each thread computed varied from run to run, so one seed did not
  always give the same augmented pixels.
* **Cheaper, and no slower.** The labeler calls OpenCV on small pieces (one frame of a 480 px
  analysis, one box), where the pool's threads mostly wait on each other. Its pass already runs as
  two stages on two threads (:mod:`skill.engines._read_ahead`); on an 80 s 768x576 clip it took
  15.2 CPU-s with the pool and 13.6 without, in the same 8.8 s, and the label bench (720p) read
  2.72x decode-only either way. In a local run, where as many tasks run as there are cores, every
  CPU-second spun in a pool is taken from another task.

Decoding, encoding and the engines' own helper threads still run beside the calling thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import cv2

__all__ = ["opencv_in_this_thread"]


@contextmanager
def opencv_in_this_thread() -> Iterator[None]:
    """Every OpenCV call inside the block runs sequentially in its calling thread."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(0)  # 0: no worker threads
    try:
        yield
    finally:
        cv2.setNumThreads(previous)

"""OpenCV's worker pool switched off for a block (:func:`opencv_in_this_thread`).

Two reasons, both measured (issue 15):

* **Repeatable pixels.** OpenCV's float paths round by the calling thread's floating-point state;
  split over its pool, which pixels each thread computed varied from run to run, so one seed did not
  always give the same augmented pixels.
* **Cheaper on a shared machine.** The labeler calls OpenCV on small pieces (one frame of a 480 px
  analysis, one box), where the pool's threads mostly wait on each other: on an 80 s 768x576 clip
  it took 23.6 CPU-s with the pool and 16.5 without. The local runner runs as many tasks as there
  are cores, so every CPU-second spun in a pool is taken from another task; it sets
  ``VDA_ENGINE_THREADS=1`` in its tasks and the labeler then works without the pool
  (:func:`engine_threads`). Alone on a machine (the label engine run by hand, the label bench) the
  pool still shortens the wall time (2.7-2.9x decode-only with it, 3.0-3.5x without, 720p), so
  there it stays.

Decoding, encoding and the engines' own helper threads still run beside the calling thread.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

import cv2

__all__ = ["ENGINE_THREADS_ENV", "engine_threads", "opencv_in_this_thread"]

ENGINE_THREADS_ENV = "VDA_ENGINE_THREADS"  # "1": the engine shares the machine with as many tasks as cores


@contextmanager
def opencv_in_this_thread() -> Iterator[None]:
    """Every OpenCV call inside the block runs sequentially in its calling thread."""
    previous = cv2.getNumThreads()
    cv2.setNumThreads(0)  # 0: no worker threads
    try:
        yield
    finally:
        cv2.setNumThreads(previous)


def engine_threads() -> AbstractContextManager[None]:
    """OpenCV's pool off when the task runs beside others (``VDA_ENGINE_THREADS=1``), as it is."""
    return opencv_in_this_thread() if os.environ.get(ENGINE_THREADS_ENV) == "1" else nullcontext()

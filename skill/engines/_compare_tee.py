"""The side-by-side comparison written while a clip is augmented, from the frames already in hand.

The augmenter has each input frame and its re-rendered frame in memory; this writer places them
left | right at the size :mod:`skill.side_by_side` defines and encodes them on its own thread, so
the comparison costs one extra encode and no decode. The result goes into the run's cache under
its content key (:func:`skill.side_by_side.compare_key`) once the augmented video is final, where
``render_side_by_side`` picks it up instead of rendering again.

The comparison is an extra: when it cannot be made (an input with non-square pixels, an encoder
error, a full disk) the augmentation goes on unchanged, the reason is written to
``<cache>/compare/prepare.log`` as a coded line, and the comparison is rendered later as before.
Nothing is printed: the task's log stays what it was.
"""

from __future__ import annotations

import os
import queue
import threading
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from skill.engines._cache_log import note_in_cache
from skill.engines.video_io import VideoWriter
from skill.errors import SkillError
from skill.side_by_side import CRF, PRESET, compare_key, panel_height, prepared_path

__all__ = ["CompareTee", "open_tee"]

_DEPTH = 4


def _square_pixels(video: Path) -> bool:
    """True when the first video stream declares no sample aspect ratio or 1:1."""
    with av.open(str(video)) as container:
        sar = container.streams.video[0].sample_aspect_ratio
    return not sar or Fraction(sar) == 1


def note(cache: Path, name: str, code: str, message: str) -> bool:
    """One coded line in ``<cache>/compare/prepare.log``; False when the cache is unusable (the
    comparison is then simply rendered after the run, which needs nothing from here)."""
    return note_in_cache(cache, "compare", name, code, message, instead="the comparison is rendered after the run instead.")


class CompareTee:
    """Takes (input frame, augmented frame) pairs and encodes them side by side behind the caller."""

    def __init__(self, cache: Path, name: str, width: int, height: int, rate: Fraction | float) -> None:
        self.cache, self.name = Path(cache), name
        self.height = panel_height(height)
        self.panel = (max(2, int(width * self.height / height) // 2 * 2), self.height)
        folder = self.cache / "compare"
        folder.mkdir(parents=True, exist_ok=True)
        self.partial = folder / f".{name}.{os.getpid()}.partial.mp4"
        self.writer = VideoWriter(self.partial, 2 * self.panel[0], self.height, rate, crf=CRF, preset=PRESET)
        self.failure: BaseException | None = None
        self._box: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=_DEPTH)
        self._thread = threading.Thread(target=self._pump, name="vda-compare", daemon=True)
        self._thread.start()

    def _fit(self, frame: np.ndarray) -> np.ndarray:
        if (frame.shape[1], frame.shape[0]) == self.panel:
            return frame
        return cv2.resize(frame, self.panel, interpolation=cv2.INTER_AREA)

    def _pump(self) -> None:
        try:
            while (picture := self._box.get()) is not None:
                self.writer.write(picture)
        except Exception as exc:  # any failure here (an encoder error, cv2.error, ...) is recorded and reported by
            self.failure = exc    # finish() as a coded line; the thread must never die leaving the augmenter blocked
            while self._box.get() is not None:  # keep taking pairs so the augmenter never blocks
                continue

    def submit(self, source: np.ndarray, augmented: np.ndarray) -> None:
        """Stack the pair here, in the augmenter's thread (OpenCV runs only there while it renders),
        and hand the picture to this tee's thread, which only encodes."""
        if self.failure is None:
            self._box.put(np.hstack([self._fit(source), self._fit(augmented)]))

    def drain(self) -> None:
        """Wait until every submitted pair is encoded; its thread is gone after (it is idempotent).
        The augmenter calls it while OpenCV still runs in the calling thread only: the pool must
        not be reconfigured while this thread's resizes run in it, or later renders of the same
        process stop being repeatable."""
        if self._thread.is_alive():
            self._box.put(None)
            self._thread.join()

    def _discard(self) -> None:
        try:
            self.writer.discard()
        except OSError as exc:
            note(self.cache, self.name, "compare-cleanup-failed", f"The partial comparison could not be removed ({type(exc).__name__}).")

    def abandon(self) -> None:
        """The augmentation failed: stop and leave nothing behind."""
        self.drain()
        self._discard()

    def finish(self, source: Path, augmented: Path) -> Path | None:
        """Close the file and file it under the content key of (``source``, ``augmented``); None
        (with a coded line in the cache's log) when the comparison could not be made."""
        self.drain()
        if self.failure is None:
            try:
                self.writer.close()
                target = prepared_path(self.cache, compare_key(source, augmented, self.height))
                os.replace(self.partial, target)
                return target
            except (SkillError, OSError) as exc:
                self.failure = exc
        self._discard()
        detail = self.failure.message if isinstance(self.failure, SkillError) else type(self.failure).__name__
        note(self.cache, self.name, "compare-prepare-failed", f"The side-by-side could not be written while augmenting ({detail}).")
        return None


def open_tee(cache: Path | None, name: str, video: Path, width: int, height: int, rate: Fraction | float) -> CompareTee | None:
    """A tee for this clip, or None when no cache was given or the input's pixels are not square
    (the comparison then needs ffmpeg's aspect handling: it is rendered after the run)."""
    if cache is None:
        return None
    try:
        square = _square_pixels(video)
    except (av.error.FFmpegError, OSError) as exc:
        note(cache, name, "compare-prepare-skipped", f"The input could not be probed for its pixel shape ({type(exc).__name__}).")
        return None
    if not square:
        note(cache, name, "compare-prepare-skipped", "The input has non-square pixels.")
        return None
    try:
        return CompareTee(cache, name, width, height, rate)
    except OSError as exc:
        note(cache, name, "compare-prepare-failed", f"The cache folder could not be prepared ({type(exc).__name__}).")
        return None

"""Two stages of a frame loop on two threads: :func:`read_ahead` runs a generator on a thread of its own
and hands its items over in order, at most ``depth`` ahead of the consumer.

The augmenter decodes its input this way, ahead of the rendering. The label engine's per-frame work
splits into a first stage (decode, the motion model) and a second (blobs, the people check,
tracking) of about the same cost. Both are mostly OpenCV, NumPy and
FFmpeg calls, which let go of the GIL, so on two cores the stages overlap and the frames come out
as they would in one loop: each stage still sees every frame in order, and only the hand-over
(a bounded queue) is shared.

Failures keep their shape: an exception in the generator is raised in the consumer at the item it
would have produced (with its traceback); a consumer that stops early (an exception of its own, a
``break``) stops the thread and closes the generator there, so its ``finally`` blocks run (the
decoder's file is closed) before the consumer goes on.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import TypeVar

__all__ = ["read_ahead"]

T = TypeVar("T")

_END = object()
_POLL_S = 0.05  # how often a producer blocked on a full queue looks whether the consumer left


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def read_ahead(items: Iterator[T], *, depth: int) -> Iterator[T]:
    """Yield what ``items`` yields, in order, computed on another thread up to ``depth`` items ahead."""
    if depth < 1:
        raise ValueError("depth must be at least 1")
    box: queue.Queue[object] = queue.Queue(maxsize=depth)
    leaving = threading.Event()

    def hand(item: object) -> bool:
        while not leaving.is_set():
            try:
                box.put(item, timeout=_POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not hand(item):
                    return
            hand(_END)
        except BaseException as exc:  # handed to the consumer, which raises it where the item was due
            hand(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=produce, name="vda-read-ahead", daemon=True)
    worker.start()
    try:
        while True:
            item = box.get()
            if item is _END:
                return
            if isinstance(item, _Failed):
                raise item.error
            yield item  # type: ignore[misc]
    finally:
        leaving.set()
        worker.join()

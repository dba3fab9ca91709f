"""Exclusive file locks taken within a bounded wait (an flock, so threads and processes alike)."""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from skill.errors import SkillError

__all__ = ["flock_within", "held"]

_POLL_S = 0.05


def flock_within(fd: int, seconds: float, busy: Callable[[], SkillError]) -> None:
    """Take an exclusive flock on ``fd``, waiting at most ``seconds``; past that raise ``busy()``
    (the caller's coded error: who holds it and what to do). Closing ``fd`` releases the lock."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise busy() from None
            time.sleep(_POLL_S)


@contextmanager
def held(path: Path, flags: int, seconds: float, *, unopenable: Callable[[OSError], SkillError],
         busy: Callable[[], SkillError]) -> Iterator[None]:
    """Open ``path`` (``os.open`` ``flags``, mode 0600 when created) and hold an exclusive flock on
    it for the ``with`` block, waiting at most ``seconds``. ``unopenable(exc)`` and ``busy()`` are
    the caller's coded errors for a path that cannot be opened and a lock held too long."""
    try:
        fd = os.open(path, flags, 0o600)
    except OSError as exc:
        raise unopenable(exc) from exc
    try:
        flock_within(fd, seconds, busy)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock

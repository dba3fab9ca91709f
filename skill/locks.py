"""Exclusive file locks taken within a bounded wait (an flock, so threads and processes alike)."""

from __future__ import annotations

import fcntl
import time
from collections.abc import Callable

from skill.errors import SkillError

__all__ = ["flock_within"]

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

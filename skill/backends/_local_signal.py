"""The local runner's change signal: waiters wake within milliseconds of a state change.

One named pipe per run, ``<run_dir>/changes`` (made by :meth:`LocalBackend.submit`). A waiter opens
it for reading (non-blocking) and blocks in ``poll()`` with its timeout; after each write of
``state.json`` the runner opens the pipe for writing and closes it at once (:func:`notify`). The
last writer closing is a hang-up every reader opened before it sees, so any number of waiters wake
together, and nothing is written that could be left behind for a later one. With no reader the
runner's open fails at once (``ENXIO``): nobody is waiting, nothing to do.

No wake-up is lost between a waiter's last read of the state and its wait: the waiter passes the
version of ``state.json`` it read (:func:`state_version`, taken *before* reading) and, once the pipe
is open, returns at once if the file changed since. A waiter that misses the signal anyway (a run
from before the pipe existed, a runner that died, a system without named pipes) only sleeps out its
timeout: callers keep polling, the signal only makes them early.
"""

from __future__ import annotations

import errno
import logging
import os
import select
import time
from pathlib import Path

__all__ = ["CHANGES_FIFO", "StateVersion", "make_signal", "notify", "state_version", "wait_for_change"]

_log = logging.getLogger(__name__)

CHANGES_FIFO = "changes"

StateVersion = tuple[int, int, int] | None
"""``(inode, mtime_ns, size)`` of ``state.json``; every atomic write gives a new inode. None: absent."""


def state_version(state_path: Path) -> StateVersion:
    """The version of ``state.json`` now; take it before reading the file, never after."""
    try:
        st = os.stat(state_path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def make_signal(run_dir: Path) -> bool:
    """Create the run's pipe; False (and waiters poll) where named pipes cannot be made."""
    try:
        os.mkfifo(run_dir / CHANGES_FIFO, 0o600)
    except FileExistsError:
        return True
    except (OSError, AttributeError) as exc:  # AttributeError: no os.mkfifo on this platform
        _log.warning("no change signal for %s (%s): waiters poll instead", run_dir.name, getattr(exc, "strerror", None) or type(exc).__name__)
        return False
    return True


def notify(run_dir: Path) -> bool:
    """Wake every waiter of the run (the runner calls it after each state write). True when
    someone was waiting; a missing pipe or no reader is normal and returns False."""
    try:
        fd = os.open(run_dir / CHANGES_FIFO, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # no reader: nobody waits
            return False
        raise
    os.close(fd)  # the last writer leaving is the hang-up the readers wait for
    return True


def wait_for_change(run_dir: Path, seen: StateVersion, timeout_s: float, *, sleep=time.sleep) -> bool:
    """Block until the runner signals a change of the run, ``state.json`` differs from ``seen``, or
    ``timeout_s`` passes. True when woken by a change; False on timeout (the caller polls)."""
    timeout_s = max(0.0, timeout_s)
    try:
        fd = os.open(run_dir / CHANGES_FIFO, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:  # an older run without the pipe, or none could be made: plain polling
        if exc.errno not in (errno.ENOENT, errno.ENXIO, errno.EACCES, errno.ENOTDIR):
            raise
        sleep(timeout_s)
        return state_version(run_dir / "state.json") != seen
    try:
        if state_version(run_dir / "state.json") != seen:  # changed before the pipe was open
            return True
        poller = select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        return bool(poller.poll(int(timeout_s * 1000)))
    finally:
        os.close(fd)

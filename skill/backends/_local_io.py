"""Writes of the local backend: unique temporary names, one lock per target, and a coded error
(with a remedy) instead of a raw ``OSError`` when the disk is full or a folder is not writable."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skill.errors import BackendError
from skill.paths import expand_user, skill_root, workspace_dir

__all__ = ["RUNNER_LOCK_FD_ENV", "atomic_write_text", "default_root", "runner_env", "target_lock", "temp_name", "write_error"]

RUNNER_LOCK_FD_ENV = "VDA_RUNNER_LOCK_FD"  # the inherited fd holding runner.lock (see LocalBackend.submit)

_FULL = {errno.ENOSPC, errno.EDQUOT}


def default_root() -> Path:
    """Where the local backend keeps its state: ``$VDA_LOCAL_ROOT`` if set, else ``<workspace>/.vda/local``."""
    override = os.environ.get("VDA_LOCAL_ROOT")
    return expand_user(override).resolve() if override else workspace_dir() / ".vda" / "local"


def runner_env() -> dict[str, str]:
    """The runner's environment: this process's, with this install first on ``PYTHONPATH``."""
    env = dict(os.environ)
    root = str(skill_root())
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]])
    return env


def temp_name(target: Path, suffix: str = "tmp") -> Path:
    """A temporary name next to ``target`` that no other writer (thread or process) shares."""
    return target.with_name(f".{target.name}.{os.getpid()}.{secrets.token_hex(4)}.{suffix}")


def write_error(exc: OSError, where: Path) -> BackendError:
    """The coded error for a failed write under ``where``."""
    if exc.errno in _FULL:
        return BackendError(
            f"The disk holding {where} is full, so the local backend could not write there.",
            remedy="Free disk space (old runs under .vda/local/workflows, media/vda/runs) or set VDA_LOCAL_ROOT to a larger disk, then retry.",
            code="disk-full",
        )
    reason = exc.strerror or type(exc).__name__
    return BackendError(
        f"The local backend could not write under {where} ({reason}).",
        remedy=f"Check that {where} exists and is writable by this user, then retry.",
        code="local-write-failed",
    )


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a unique temporary file and ``os.replace``; on failure the
    temporary file is removed and a coded error raised."""
    tmp = temp_name(path)
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise write_error(exc, path.parent) from exc


@contextmanager
def target_lock(lock_dir: Path, target: Path) -> Iterator[None]:
    """Hold an exclusive lock for ``target`` (threads and processes alike: one flock per open)."""
    try:
        lock_dir.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(str(target).encode("utf-8", "surrogatepass")).hexdigest()[:32]
        fd = os.open(lock_dir / f"{name}.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise write_error(exc, lock_dir) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)

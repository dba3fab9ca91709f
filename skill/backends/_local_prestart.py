"""A warm starter started ahead of a local submit (issue 15): ``vda run`` knows a run is coming while it
ingests, checks and renders, so it starts the starter first (``python -m skill.backends._local_warm
<socket> <lifeline> --runner``). That process imports the runner and the engines meanwhile, and at
submit forks the run's detached runner itself, then serves that run's engine commands. The run
starts without an interpreter start or an import in its way.

Everything is best effort: a starter that cannot start, or dies, or refuses, leaves the submit to
start the runner cold exactly as before (:meth:`PrestartedStarter.hand_over` returns None only when
no runner was started). The starter's environment holds no secret values (as the runner's own
starter's); the runner gets the submitter's full environment over the socket, as a cold runner
gets it from its parent. The socket is mode 0600 in a 0700 folder of the local root.
"""

from __future__ import annotations

import array
import json
import os
import secrets
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

from skill.backends._local_io import default_root, runner_env
from skill.backends._local_warm import STARTED
from skill.backends._warm_client import connect_unix
from skill.secrets import redact

__all__ = ["PRESTART_DIR", "PrestartedStarter", "discard_early", "start_early", "take_early"]

PRESTART_DIR = "warm"  # under the local root: sockets of starters started ahead of a submit

_BIND_WAIT_S = 10.0  # a starter binds its socket right after its interpreter starts
_ANSWER_TIMEOUT_S = 120.0  # the starter answers after the import in progress; far more than any takes


class PrestartedStarter:
    """The submitter's handle: one starter, handed to at most one runner, then let go."""

    def __init__(self, proc: subprocess.Popen[bytes], socket_path: Path, lifeline: int) -> None:
        self.proc, self.socket_path, self._lifeline = proc, socket_path, lifeline

    @classmethod
    def start(cls, folder: Path, env: dict[str, str]) -> PrestartedStarter | None:
        """Start a starter whose socket is in ``folder``; None when it cannot start (a cold submit follows)."""
        socket_path = folder / f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        try:
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            read_end, write_end = os.pipe()
        except OSError:
            return None
        os.set_inheritable(write_end, False)
        try:
            proc = subprocess.Popen(
                [sys.executable, "-m", "skill.backends._local_warm", str(socket_path), str(read_end), "--runner"],
                cwd=folder, env={k: v for k, v in env.items() if redact(v) == v}, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(read_end,), start_new_session=True,
            )
        except OSError:
            os.close(write_end)
            return None
        finally:
            os.close(read_end)
        return cls(proc, socket_path, write_end)

    def hand_over(self, run_dir: Path, env: dict[str, str], log_fd: int, lock_fd: int) -> int | None:
        """Have the starter fork the runner of ``run_dir`` (output to ``log_fd``, holding ``lock_fd``);
        its pid, or None when no runner was started."""
        request = json.dumps({"runner": str(run_dir), "env": env}).encode()
        payload = struct.pack("!I", len(request)) + request
        devnull = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
                conn.settimeout(_ANSWER_TIMEOUT_S)
                self._connect(conn)
                sent = conn.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [devnull, log_fd, log_fd, lock_fd]))])
                conn.sendall(payload[sent:])
                answer = b""
                while len(answer) < 5:
                    chunk = conn.recv(5 - len(answer))
                    if not chunk:
                        return None  # refused, or the starter is gone: nothing was started
                    answer += chunk
        except TimeoutError:
            self.proc.kill()  # wedged: it must not start the runner after the submit started one cold
            return None
        except OSError:
            return None
        finally:
            os.close(devnull)
        if answer[:1] != STARTED:
            return None
        return struct.unpack("!i", answer[1:])[0]

    def _connect(self, conn: socket.socket) -> None:
        """Connect, waiting for a starter that is still starting to bind (a few ms after its start)."""
        deadline = time.monotonic() + _BIND_WAIT_S
        while True:
            try:
                connect_unix(conn, str(self.socket_path))
                return
            except (FileNotFoundError, ConnectionRefusedError):
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)

    def close(self) -> None:
        """Let go: a starter that took a runner lives on with it; one that did not exits."""
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        self.proc.poll()  # reaped here if it already ended (it is this process's child)


# --- started earlier still: before the command's own imports -----------------------------------

_early: PrestartedStarter | None = None


def start_early() -> None:
    """Start the starter of the local run this process is about to prepare, into the default local
    root, before the command imports what it needs (``vda run``: the two imports then overlap on two
    cores instead of following each other). :meth:`LocalBackend.prewarmed` takes it over; one
    nobody takes is let go by :func:`discard_early`, or exits with this process."""
    global _early
    if _early is not None:
        return
    try:
        folder = default_root() / PRESTART_DIR
    except (OSError, RuntimeError, ValueError):  # an unusable VDA_HOME / VDA_LOCAL_ROOT: the command reports it
        return
    _early = PrestartedStarter.start(folder, runner_env())


def take_early(folder: Path) -> PrestartedStarter | None:
    """The starter :func:`start_early` started, once, when its socket lies in ``folder`` (the same
    local root); else None (one for another root is let go)."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    if early.socket_path.parent != folder or early.proc.poll() is not None:
        early.close()
        return None
    return early


def discard_early() -> None:
    """Let go of an early starter no backend took (the command ended before its submit)."""
    global _early
    early, _early = _early, None
    if early is not None:
        early.close()

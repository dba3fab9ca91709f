"""The interpreter a local task calls as ``$VDA_PYTHON`` (issue 15): ``-m skill.engines.label``, ``label_ahead``,
``-m skill.engines.augment``, the setup task's staged ``generate_configs.py`` and the workers' staged
``osmo_barrier.py`` (each when it is byte for byte this installation's ``skill/engines/configs.py``,
``skill/engines/barrier.py``) start in a process forked from the run's warm
starter (:mod:`skill.backends._local_warm`), which imported them once; anything else, or any
failure to reach the starter before the command began, runs the real interpreter (``exec``).

Run as ``python -I -S _warm_client.py REAL_PYTHON SOCKET ARGS...`` by the run's launcher script;
standard library only (``-I`` leaves the skill off the path), so it starts in a few milliseconds.

The engine sees what it would see as its own process: this process's argv, working folder,
environment and standard streams (passed over the socket), and its exit status comes back as this
process's. SIGTERM, SIGINT and SIGHUP sent to this process are passed on, and an engine that dies of one makes
this process die of the same signal (a shell reports 143 for SIGTERM, as for a cold start); an
engine killed otherwise makes it die by SIGKILL (137), the signal itself not being known here. If
this process is killed outright, the engine notices its socket close and kills itself.
"""

import array
import json
import os
import signal
import socket
import struct
import sys

WARM_MODULES = ("skill.engines.configs", "skill.engines.augment", "skill.engines.label", "skill.engines.label_ahead",
                "skill.engines.barrier")  # the starter's import order
WARM_SCRIPTS = {  # staged name -> module, its file
    "generate_configs.py": ("skill.engines.configs", "engines/configs.py"),
    "osmo_barrier.py": ("skill.engines.barrier", "engines/barrier.py"),  # a group's completion barrier, at the end of every worker
}
STARTED = b"S"


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            break
        data += chunk
    return data


def connect_unix(conn: socket.socket, socket_path: str) -> None:
    """Connect ``conn`` to the unix socket at ``socket_path``, also past AF_UNIX's ~108 bytes (then
    through a descriptor of its folder, Linux)."""
    if len(socket_path.encode()) < 100:
        conn.connect(socket_path)
        return
    folder = os.open(os.path.dirname(socket_path), os.O_RDONLY | os.O_CLOEXEC)
    try:
        conn.connect(f"/proc/self/fd/{folder}/{os.path.basename(socket_path)}")
    finally:
        os.close(folder)


def _run_warm(socket_path: str, argv: list[str]) -> int | None:
    """The engine's exit status, or None when the starter could not take the command (run it cold)."""
    try:
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connect_unix(conn, socket_path)
        request = json.dumps({"module": argv[1], "args": argv[2:], "cwd": os.getcwd(), "env": dict(os.environ)}).encode()
        payload = struct.pack("!I", len(request)) + request
        sent = conn.sendmsg([payload], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [0, 1, 2]))])
        conn.sendall(payload[sent:])
        started = _read_exactly(conn, 1 + 4)
    except OSError:
        return None
    if len(started) < 5 or started[:1] != STARTED:
        return None  # refused before the engine began: nothing ran, the cold start is exact
    (child,) = struct.unpack("!i", started[1:])
    forwarded: list[int] = []

    def forward(signum, _frame):
        forwarded.append(signum)
        try:
            os.kill(child, signum)
        except ProcessLookupError:
            return

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    try:
        status = _read_exactly(conn, 4)
    except OSError:
        status = b""
    if len(status) < 4:  # the engine died without an exit status: killed by a signal, the one passed on if any
        deadly = forwarded[-1] if forwarded else signal.SIGKILL
        signal.signal(deadly, signal.SIG_DFL)
        os.kill(os.getpid(), deadly)
        os.kill(os.getpid(), signal.SIGKILL)  # a signal this process survives by default: still die of one
    return struct.unpack("!i", status)[0]


def _same_file(staged: str, ours: str) -> bool:
    try:
        with open(staged, "rb") as a, open(ours, "rb") as b:
            return a.read() == b.read()
    except OSError:
        return False


def _warm_module(argv: list[str]) -> list[str] | None:
    """``["-m", module, *args]`` when this command can start warm, else None."""
    if len(argv) >= 2 and argv[0] == "-m" and argv[1] in WARM_MODULES:
        return argv
    if argv and not argv[0].startswith("-") and os.path.basename(argv[0]) in WARM_SCRIPTS:
        module, relative = WARM_SCRIPTS[os.path.basename(argv[0])]
        skill_dir = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        if _same_file(argv[0], os.path.join(skill_dir, relative)):  # the very code the module holds
            return ["-m", module, *argv[1:]]
    return None


def main() -> None:
    real, socket_path, argv = sys.argv[1], sys.argv[2], sys.argv[3:]
    warm = _warm_module(argv) if socket_path else None
    if warm is not None:
        code = _run_warm(socket_path, warm)
        if code is not None:
            os._exit(code & 0xFF)
    os.execv(real, [real, *argv])


if __name__ == "__main__":
    main()

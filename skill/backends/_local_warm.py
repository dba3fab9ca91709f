"""The warm starter of a local run (issue 15): one process per run that imports the engines once
(the config generator, then OpenCV, NumPy, PyAV and the augment and label models) and forks a ready
process for each engine command a task runs, so a task pays a fork instead of a fresh
interpreter's imports. Requests are served between the imports, so the setup task's config
generation does not wait for the heavy ones.

    python -m skill.backends._local_warm <socket> <lifeline fd>

The runner starts it beside the first group (:class:`WarmStarter`) and hands each task a launcher
(``$VDA_PYTHON``, see :mod:`skill.backends._warm_client`) that sends the command here; what the
launcher cannot send runs on the real interpreter, so a starter that is still importing, gone, or
never started only costs the cold start. The starter exits when the runner closes the lifeline
pipe (however the runner ends) or on SIGTERM; forked engines end with their task.

Protocol on the unix socket (mode 0600 in the run folder): the launcher sends ``!I`` length + JSON
``{module, args, cwd, env}`` with its fds 0, 1, 2 attached (SCM_RIGHTS); the engine process
answers ``S`` + its pid (``!i``) once it runs, then ``!i`` its exit status.
"""

from __future__ import annotations

import array
import importlib
import json
import os
import select
import shlex
import signal
import socket
import struct
import subprocess
import sys
import threading
import traceback
from pathlib import Path

from skill.backends._warm_client import STARTED, WARM_MODULES

__all__ = ["LAUNCHER", "SOCKET", "WarmStarter", "main"]

SOCKET = "warm.sock"
# what the starter imports, in this order: the config generator and the contract it checks against
# first (the setup task's), then the engines of the workers and their libraries; requests waiting
# are served between two imports, so none waits for more than the one in progress
PRELOAD = ("skill.engines.configs", "skill.engines.container_contract", "numpy", "av", "cv2", "skill.engines.augment", "skill.engines.label")
LAUNCHER = "python"  # <run_dir>/bin/python: what tasks get as VDA_PYTHON
_MAX_REQUEST = 1 << 20


def _note(text: str) -> None:
    try:
        print(f"warm starter: {text}", file=sys.stderr, flush=True)
    except OSError:
        return


class WarmStarter:
    """The runner's handle on its starter: start, the task environment, stop."""

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.socket_path = self.run_dir / SOCKET
        self.launcher = self.run_dir / "bin" / LAUNCHER
        self._proc: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None

    def start(self, env: dict[str, str]) -> bool:
        """Start the starter and write the launcher; False (tasks use the real interpreter) when
        either fails, with the reason in runner.log."""
        client = Path(__file__).with_name("_warm_client.py")
        try:
            self.launcher.parent.mkdir(exist_ok=True)
            self.launcher.write_text(
                "#!/bin/sh\n# vda local runner: engine commands start warm (skill/backends/_warm_client.py)\n"
                f"exec {shlex.quote(sys.executable)} -I -S {shlex.quote(str(client))} "
                f"{shlex.quote(sys.executable)} {shlex.quote(str(self.socket_path))} \"$@\"\n",
                encoding="utf-8",
            )
            self.launcher.chmod(0o700)
            read_end, write_end = os.pipe()
        except OSError as exc:
            _note(f"not started ({exc.strerror or type(exc).__name__}); tasks start their engines cold")
            return False
        os.set_inheritable(write_end, False)
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", __name__, str(self.socket_path), str(read_end)],
                cwd=self.run_dir, env=env, stdin=subprocess.DEVNULL, pass_fds=(read_end,), start_new_session=True,
            )
        except OSError as exc:
            os.close(write_end)
            _note(f"not started ({exc.strerror or type(exc).__name__}); tasks start their engines cold")
            return False
        finally:
            os.close(read_end)
        self._lifeline = write_end
        return True

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Close the lifeline (the starter exits on its own) and reap it."""
        if self._lifeline is not None:
            os.close(self._lifeline)
            self._lifeline = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        self.socket_path.unlink(missing_ok=True)


# --- the starter process -----------------------------------------------------------------------


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    """One request: its JSON and the three fds that came with it."""
    fds = array.array("i")
    data, ancillary, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(3 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    received = list(fds)
    if len(received) != 3 or len(data) < 4:
        for fd in received:
            os.close(fd)
        raise ValueError("a request needs a length and three file descriptors")
    (size,) = struct.unpack("!I", data[:4])
    if size > _MAX_REQUEST:
        for fd in received:
            os.close(fd)
        raise ValueError(f"a request of {size} bytes is too large")
    body = data[4:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            break
        body += chunk
    try:
        request = json.loads(body)
        if request.get("module") not in WARM_MODULES or not isinstance(request.get("args"), list):
            raise ValueError(f"module {request.get('module')!r} is not served here")
    except (ValueError, AttributeError):
        for fd in received:
            os.close(fd)
        raise
    return request, received


def _watch_launcher(conn: socket.socket) -> None:
    """The launcher only waits from here on: its socket becoming readable means it is gone (killed
    with its task), and the engine goes with it."""
    poller = select.poll()
    poller.register(conn.fileno(), select.POLLIN | select.POLLHUP)
    poller.poll()
    os.kill(os.getpid(), signal.SIGKILL)


def _exit_status(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def _run_engine(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked process: become the task's engine process, run it, report, exit."""
    try:
        for target, fd in enumerate(fds):
            os.dup2(fd, target)
        for fd in fds:
            if fd > 2:
                os.close(fd)
        for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
            signal.signal(signum, signal.SIG_DFL)
        signal.signal(signal.SIGINT, signal.default_int_handler)
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in request["env"].items()})
        threading.Thread(target=_watch_launcher, args=(conn,), daemon=True).start()
        conn.sendall(STARTED + struct.pack("!i", os.getpid()))
    except OSError:  # the launcher is gone (killed with its task) before the engine began: it starts nothing
        os._exit(1)
    code = 1
    try:
        module = sys.modules[request["module"]]
        sys.argv = [module.__file__ or request["module"], *request["args"]]
        try:
            code = module.main(list(request["args"]))
        except SystemExit as exc:
            code = _exit_status(exc)
    except BaseException:  # the engine's own uncaught error: the traceback a cold start prints
        traceback.print_exc()
        code = 1
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            conn.sendall(struct.pack("!i", int(code or 0)))
        except OSError:  # the launcher is gone: nobody to report to
            code = code or 1
        os._exit(int(code or 0) & 0xFF)


def serve(socket_path: Path, lifeline: int) -> int:
    socket_path.unlink(missing_ok=True)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)
    try:
        # bound before the imports (a launcher that comes early waits), by its name in the working
        # folder, the run folder: its full path may be longer than AF_UNIX allows
        server.bind(socket_path.name if os.path.samefile(os.getcwd(), socket_path.parent) else str(socket_path))
    finally:
        os.umask(old)
    server.listen(16)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # engines are reaped by the kernel; they report over their socket
    poller = select.poll()
    poller.register(server.fileno(), select.POLLIN)
    poller.register(lifeline, select.POLLIN | select.POLLHUP)
    ready: set[str] = set()
    for name in PRELOAD:  # the setup task's configs first: its request is served before the heavy imports
        importlib.import_module(name)
        ready.add(name)
        if not _serve_pending(server, lifeline, poller, ready, timeout_ms=0):
            return 0
    while _serve_pending(server, lifeline, poller, ready, timeout_ms=-1):
        continue
    return 0


def _serve_pending(server: socket.socket, lifeline: int, poller: select.poll, ready: set[str], *, timeout_ms: int) -> bool:
    """Fork an engine for each request waiting (for a module imported already); False once the
    runner let go. Requests for a module still to be imported wait in the backlog."""
    while True:
        events = dict(poller.poll(timeout_ms))
        if lifeline in events:  # the runner is gone or done
            return False
        if server.fileno() not in events:
            return True
        conn, _ = server.accept()
        try:
            request, fds = _receive(conn)
        except (OSError, ValueError) as exc:
            _note(f"request refused ({exc}); the launcher starts the engine cold")
            conn.close()
            continue
        if request["module"] not in ready:
            importlib.import_module(request["module"])  # asked before its turn: import it now
            ready.add(request["module"])
        pid = os.fork()
        if pid == 0:
            server.close()
            os.close(lifeline)
            _run_engine(conn, request, fds)
        for fd in fds:
            os.close(fd)
        conn.close()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        print("usage: python -m skill.backends._local_warm <socket> <lifeline fd>", file=sys.stderr)
        return 2
    return serve(Path(args[0]), int(args[1]))


if __name__ == "__main__":
    sys.exit(main())

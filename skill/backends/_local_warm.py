"""The warm starter of a local run (issue 15): one process per run that imports the engines once
(the config generator, then OpenCV, NumPy, PyAV and the augment and label models) and forks a ready
process for each engine command a task runs, so a task pays a fork instead of a fresh
interpreter's imports. Requests are served between the imports, so the setup task's config
generation does not wait for the heavy ones.

    python -m skill.backends._local_warm <socket> <lifeline fd> [--runner]

The runner starts it beside the first group (:class:`WarmStarter`) and hands each task a launcher
(``$VDA_PYTHON``, see :mod:`skill.backends._warm_client`) that sends the command here; what the
launcher cannot send runs on the real interpreter, so a starter that is still importing, gone, or
never started only costs the cold start. The starter exits when the runner closes the lifeline
pipe (however the runner ends) or on SIGTERM; forked engines end with their task.

Pre-started (``--runner``, see :mod:`skill.backends._local_prestart`): a submitter that knows a run
is coming starts the starter before the run exists; it imports the runner first, and on submit
forks the run's detached runner itself (:meth:`_Serving._hand_over`), which adopts it as its warm
starter. The run then pays neither the runner's interpreter start nor the engines' imports, which
happened while the submitter checked and rendered. Until the hand-over its lifeline is the
submitter's pipe, after it the runner's.

Protocol on the unix socket (mode 0600): the launcher sends ``!I`` length + JSON
``{module, args, cwd, env}`` with its fds 0, 1, 2 attached (SCM_RIGHTS); the engine process
answers ``S`` + its pid (``!i``) once it runs, then ``!i`` its exit status. A submitter sends
``{runner, env}`` with fds 0, 1, 2 and the run's lock; the answer is ``S`` + the runner's pid.
"""

from __future__ import annotations

import array
import gc
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

from skill.backends._local_io import RUNNER_LOCK_FD_ENV
from skill.backends._warm_client import STARTED, WARM_MODULES

__all__ = ["LAUNCHER", "SOCKET", "WarmStarter", "main"]

SOCKET = "warm.sock"
# what the starter imports, in this order: the config generator and the contract it checks against
# first (the setup task's), then the engines of the workers and their libraries; requests waiting
# are served between two imports, so none waits for more than the one in progress
PRELOAD = ("skill.engines.configs", "skill.engines.container_contract", "numpy", "av", "cv2", "skill.engines.augment", "skill.engines.label",
           "skill.engines.label_ahead", "skill.engines.barrier",
           "numpy.random", "numpy.ma", "av.subtitles.stream")  # what the engines import on first use: once here, not in every fork
RUNNER_MODULE = "skill.backends.local_runner"  # what a pre-started starter imports first (see _local_prestart)
LAUNCHER = "python"  # <run_dir>/bin/python: what tasks get as VDA_PYTHON
_MAX_REQUEST = 1 << 20


def _note(text: str) -> None:
    try:
        print(f"warm starter: {text}", file=sys.stderr, flush=True)
    except OSError:
        return


class WarmStarter:
    """The runner's handle on its starter: start (or adopt one), the task environment, stop."""

    def __init__(self, run_dir: Path, socket_path: Path | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.socket_path = socket_path or self.run_dir / SOCKET
        self.launcher = self.run_dir / "bin" / LAUNCHER
        self._proc: subprocess.Popen[bytes] | None = None
        self._lifeline: int | None = None
        self._adopted = False
        self._parent: int | None = None  # an adopted starter's pid: this runner's parent

    @classmethod
    def adopt(cls, run_dir: Path, socket_path: Path, lifeline: int) -> WarmStarter:
        """The handle of a runner forked by a pre-started starter (its parent, serving at
        ``socket_path``, living while ``lifeline`` is open); without a launcher, engines start cold."""
        handle = cls(run_dir, socket_path)
        handle._lifeline = lifeline
        handle._parent = os.getppid()
        handle._adopted = True
        if not handle._write_launcher():
            handle._parent = None
        return handle

    def _write_launcher(self) -> bool:
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
        except OSError as exc:
            _note(f"not started ({exc.strerror or type(exc).__name__}); tasks start their engines cold")
            return False
        return True

    def start(self, env: dict[str, str]) -> bool:
        """Start the starter and write the launcher; False (tasks use the real interpreter) when
        either fails, with the reason in runner.log."""
        if not self._write_launcher():
            return False
        try:
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
        if self._adopted:
            return self._lifeline is not None and self._parent is not None and os.getppid() == self._parent
        return self._proc is not None and self._proc.poll() is None

    def stop(self) -> None:
        """Close the lifeline (the starter exits on its own) and reap it if it is this process's child."""
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
        if not self._adopted:  # an adopted starter removes its own socket when it ends
            self.socket_path.unlink(missing_ok=True)


# --- the starter process -----------------------------------------------------------------------


def _close_all(fds: list[int]) -> None:
    for fd in fds:
        os.close(fd)


def _receive(conn: socket.socket) -> tuple[dict, list[int]]:
    """One request: its JSON and the file descriptors that came with it (three for an engine: its
    standard streams; four for a runner: its streams and the run's lock)."""
    fds = array.array("i")
    data, ancillary, _flags, _addr = conn.recvmsg(65536, socket.CMSG_SPACE(4 * fds.itemsize))
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
            fds.frombytes(payload[: len(payload) - len(payload) % fds.itemsize])
    received = list(fds)
    if len(received) not in (3, 4) or len(data) < 4:
        _close_all(received)
        raise ValueError("a request needs a length and three or four file descriptors")
    (size,) = struct.unpack("!I", data[:4])
    if size > _MAX_REQUEST:
        _close_all(received)
        raise ValueError(f"a request of {size} bytes is too large")
    body = data[4:]
    while len(body) < size:
        chunk = conn.recv(size - len(body))
        if not chunk:
            break
        body += chunk
    try:
        request = json.loads(body)
        if not isinstance(request, dict) or not isinstance(request.get("env"), dict):
            raise ValueError("a request is a JSON object with an env")
        if "runner" in request:
            if len(received) != 4 or not isinstance(request["runner"], str):
                raise ValueError("a runner request names its run folder and sends four descriptors")
        elif request.get("module") not in WARM_MODULES or not isinstance(request.get("args"), list) or len(received) != 3:
            raise ValueError(f"module {request.get('module')!r} is not served here")
    except (ValueError, AttributeError):
        _close_all(received)
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


def _become(request: dict, fds: list[int]) -> None:
    """In a forked child: take the request's standard streams, default signal handling, its folder
    and environment."""
    for target, fd in enumerate(fds[:3]):
        os.dup2(fd, target)
    for fd in fds[:3]:
        if fd > 2:
            os.close(fd)
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGCHLD):
        signal.signal(signum, signal.SIG_DFL)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request.get("cwd") or request.get("runner"))
    os.environ.clear()
    os.environ.update({str(k): str(v) for k, v in request["env"].items()})


def _run_engine(conn: socket.socket, request: dict, fds: list[int]) -> None:
    """In the forked process: become the task's engine process, run it, report, exit."""
    try:
        _become(request, fds)
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


def _run_runner(conn: socket.socket, request: dict, fds: list[int], socket_path: Path, lifeline: int) -> None:
    """In the forked process: become the run's detached runner (its own session, the run's lock
    held from the submitter's descriptor), with this starter as its warm starter; exit with its status."""
    code = 1
    try:
        os.setsid()
        _become(request, fds)
        os.environ[RUNNER_LOCK_FD_ENV] = str(fds[3])
        sys.argv = ["-m", "skill.backends.local_runner", request["runner"]]
        conn.sendall(STARTED + struct.pack("!i", os.getpid()))
        conn.close()
        from skill.backends import local_runner

        code = local_runner.main([request["runner"]], warm=WarmStarter.adopt(Path(request["runner"]), socket_path, lifeline))
    except SystemExit as exc:
        code = _exit_status(exc)
    except BaseException:  # the runner's own uncaught error lands in runner.log, as a cold start's would
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(int(code or 0) & 0xFF)


def _peer_priority(conn: socket.socket) -> int | None:
    """The nice value of the process at the other end of ``conn`` (the task's launcher), or None
    when it cannot be read (gone already, or not Linux)."""
    try:
        pid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i")))[0]
        return os.getpriority(os.PRIO_PROCESS, pid)
    except (OSError, AttributeError, struct.error):
        return None


def _take_priority(priority: int | None) -> None:
    """In a forked engine: run at the launcher's priority, as a cold start would inherit it (only
    ever lower than this starter's: raising one needs privileges)."""
    if priority is None:
        return
    try:
        if priority > os.getpriority(os.PRIO_PROCESS, 0):
            os.setpriority(os.PRIO_PROCESS, 0, priority)
    except OSError:
        return  # the engine runs at the starter's priority: slower to yield, never wrong


def _reap_engines(_signum: int, _frame: object) -> None:
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


class _Serving:
    """The starter's loop: imports in order, and between them the requests waiting. Its lifeline is
    the pipe of whoever it serves: the runner that started it, or, when pre-started, the submitter
    until a runner is handed over (then that runner's own pipe)."""

    def __init__(self, socket_path: Path, lifeline: int, *, runner: bool) -> None:
        self.socket_path = socket_path
        self.lifeline = lifeline
        self.takes_runner = runner
        self.ready: set[str] = set()
        socket_path.unlink(missing_ok=True)
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old = os.umask(0o177)
        try:
            # bound before the imports (a launcher that comes early waits), by its name in the working
            # folder: its full path may be longer than AF_UNIX allows
            self.server.bind(socket_path.name if os.path.samefile(os.getcwd(), socket_path.parent) else str(socket_path))
        finally:
            os.umask(old)
        self.server.listen(16)
        self.poller = select.poll()
        self.poller.register(self.server.fileno(), select.POLLIN)
        self.poller.register(lifeline, select.POLLIN | select.POLLHUP)

    def run(self) -> int:
        # engines report over their socket; they are reaped here, not by the kernel (SIG_IGN), so their
        # CPU time reaches this process's RUSAGE_CHILDREN and from there its parent's
        signal.signal(signal.SIGCHLD, _reap_engines)
        try:
            order = (RUNNER_MODULE, *PRELOAD) if self.takes_runner else PRELOAD
            for name in order:  # the runner, then the setup task's configs: served before the heavy imports
                importlib.import_module(name)
                self.ready.add(name)
                if not self.serve_pending(timeout_ms=0):
                    return 0
            while self.serve_pending(timeout_ms=-1):
                continue
            return 0
        finally:
            self.socket_path.unlink(missing_ok=True)

    def serve_pending(self, *, timeout_ms: int) -> bool:
        """Fork an engine (or the runner) for each request waiting; False once the lifeline is let go.
        Requests for a module still to be imported wait in the backlog."""
        while True:
            events = dict(self.poller.poll(timeout_ms))
            if self.lifeline in events:  # whoever this starter serves is gone or done
                return False
            if self.server.fileno() not in events:
                return True
            conn, _ = self.server.accept()
            try:
                request, fds = _receive(conn)
                if "runner" in request and not self.takes_runner:
                    _close_all(fds)
                    raise ValueError("this starter takes no runner (it was not pre-started, or has one)")
            except (OSError, ValueError) as exc:
                _note(f"request refused ({exc}); the launcher starts the engine cold")
                conn.close()
                continue
            if "runner" in request:
                self._hand_over(conn, request, fds)
                continue
            if request["module"] not in self.ready:
                importlib.import_module(request["module"])  # asked before its turn: import it now
                self.ready.add(request["module"])
            # what the starter holds so far moves out of the collector's sight: an engine's collections
            # then never walk (and so copy, page by page) the imported modules it shares with the starter
            gc.freeze()
            priority = _peer_priority(conn)
            pid = os.fork()
            if pid == 0:
                self.server.close()
                os.close(self.lifeline)
                _take_priority(priority)
                _run_engine(conn, request, fds)
            _close_all(fds)
            conn.close()

    def _hand_over(self, conn: socket.socket, request: dict, fds: list[int]) -> None:
        """Fork the run's runner; from then on this starter lives as long as that runner."""
        if RUNNER_MODULE not in self.ready:
            importlib.import_module(RUNNER_MODULE)
            self.ready.add(RUNNER_MODULE)
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:
            self.server.close()
            os.close(self.lifeline)
            os.close(read_end)
            _run_runner(conn, request, fds, self.socket_path, write_end)
        os.close(write_end)
        _close_all(fds)  # the run's lock is the runner's alone now
        conn.close()
        self.poller.unregister(self.lifeline)
        os.close(self.lifeline)
        self.lifeline = read_end
        self.poller.register(read_end, select.POLLIN | select.POLLHUP)
        self.takes_runner = False


def serve(socket_path: Path, lifeline: int, *, runner: bool = False) -> int:
    return _Serving(socket_path, lifeline, runner=runner).run()


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    runner = args[2:] == ["--runner"]
    if len(args) not in (2, 3) or not args[1].isdigit() or (len(args) == 3 and not runner):
        print("usage: python -m skill.backends._local_warm <socket> <lifeline fd> [--runner]", file=sys.stderr)
        return 2
    return serve(Path(args[0]), int(args[1]), runner=runner)


if __name__ == "__main__":
    sys.exit(main())

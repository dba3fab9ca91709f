"""The detached process that executes one local run: ``python -m skill.backends.local_runner <run_dir>``.

It reads ``plan.json`` and ``state.json`` (written by :meth:`LocalBackend.submit`) and runs the
group DAG with OSMO 6.3.1's semantics (groups, leads, task inputs and outputs, src/utils/job/):

* a group starts when every group it takes input from is COMPLETED; a failed upstream makes it
  FAILED_UPSTREAM (exit code 3000) without running; independent groups run at the same time;
* inside a group the inputs of every task are staged first, then all commands start together
  (the start barrier); each task is the leader of its own process group;
* when the lead exits, siblings still running are killed and take the lead's status
  ("Lead task finished"), after a short grace (``LEAD_GRACE_SECONDS``) in which a sibling exiting
  on its own (released by the same completion barrier) is recorded as it exited, outputs uploaded;
  with ``ignoreNonleadStatus: false`` a failing non-lead fails the group;
* after a command exits (any code, not when killed) its ``{{output}}`` is copied to every output
  URL; exit actions decide COMPLETED or FAILED; a signal gives FAILED with exit code 128+signal;
* ``exec_timeout`` (per group, from RUNNING) gives FAILED_EXEC_TIMEOUT; a ``cancel`` file in the run
  folder (written by :meth:`LocalBackend.cancel`) gives FAILED_CANCELED.

Finer-grained than OSMO, same reports: a group on no longest chain of groups (``slack_groups``: in
e2e the original clips' labeling, beside the augmentation two groups follow) runs its tasks at a
lower CPU priority (``SLACK_NICE``), so on a busy machine the work the run waits for goes first;
warm engines take their launcher's priority. Every task gets ``VDA_RUN_CACHE`` (``<run_dir>/cache``), a
folder of the run that is no output and no log. A task may leave there, keyed by content, work a
step would otherwise redo: the augmentation task writes each input|augmented comparison while it
augments (:mod:`skill.side_by_side`) and labels each clip the moment it is augmented, which the
next group's label task adopts (:mod:`skill.engines.label_ahead`). Groups still start as OSMO
starts them; statuses, logs and outputs stay exactly what OSMO would report.

Only this process writes ``state.json`` while it lives, always atomically, and after each write it
wakes the run's waiters through the ``changes`` pipe (:mod:`skill.backends._local_signal`).

Size: scheduling, task processes, exits and the state they write share one lock and one record of
the run; the plan, state model, logs, storage, signal and warm starts are modules of their own.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from skill.backends._local_credentials import CredentialStore
from skill.backends._local_io import RUNNER_LOCK_FD_ENV, atomic_write_text
from skill.backends._local_logs import RunLog
from skill.backends._local_plan import exit_status, group_gpus, slack_groups
from skill.backends._local_signal import notify
from skill.backends._local_warm import WarmStarter
from skill.backends._local_state import (
    GROUP_FINISHED,
    GroupPlan,
    GroupRecord,
    RunRecord,
    TaskPlan,
    TaskRecord,
    abandon,
    load_plan,
    load_state,
    utc_now,
)
from skill.backends.local_storage import LocalStorage
from skill.errors import BackendError, SkillError
from skill.statuses import FAILED_STATES
from skill.paths import skill_root
from skill.secrets import redact
from skill.side_by_side import CACHE_ENV

__all__ = ["CANCEL_FILE", "KILL_GRACE_SECONDS", "LEAD_GRACE_SECONDS", "RUNNER_LOCK_FD_ENV", "Runner", "kill_process_group", "main", "signal_exit_code"]

CANCEL_FILE = "cancel"
KILL_GRACE_SECONDS = 1.0
LEAD_GRACE_SECONDS = 0.5  # how long siblings that are exiting on their own get once the lead has ended
_TICK = 0.05  # the scheduler's longest pause (a group ending wakes it at once; the cancel file is read this often)
_WATCH_TICK = 0.01  # how often a group looks for exited tasks: a task's end is seen within 10 ms
_EXIT_UPSTREAM, _EXIT_DOWNLOAD, _EXIT_UPLOAD = 3000, 2010, 2012
_RESERVE = ".state-reserve"  # space set aside so a full disk can still record why the run failed
_RESERVE_BYTES = 256 * 1024


def _note(text: str | None = None) -> bool:
    """A diagnostic line (or, without ``text``, the current traceback) for runner.log. On a full
    disk even that write fails; the caller goes on (what matters is in state.json). False then."""
    try:
        if text is None:
            traceback.print_exc(file=sys.stderr)
        else:
            print(text, file=sys.stderr, flush=True)
    except OSError:
        return False
    return True


class StateUnwritable(Exception):
    """state.json could not be written; the run was settled FAILED (if even that could be written)."""


def signal_exit_code(signum: int) -> int:
    """A task ended by a signal reports 128+signal, the shell's and the container runtime's convention."""
    return 128 + signum


def _signal_name(signum: int) -> str:
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def kill_process_group(pgid: int, sig: int = signal.SIGKILL) -> bool:
    """Signal a task's whole process group; False when it is already gone."""
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        return False
    return True


SLACK_NICE = 10  # the nice value of a slack group's tasks: about a tenth of the CPU when the others want it all


def _lower_priority() -> None:
    """The calling thread (a slack group's, before it starts its tasks) to ``SLACK_NICE``: on Linux
    a nice value belongs to a thread, and a process it starts inherits it from its first
    instruction. Elsewhere a thread id is no pid (setpriority could reach another process), so
    nothing changes there. Best effort: a priority is never a reason to fail a task."""
    if not sys.platform.startswith("linux"):
        return
    try:
        thread = threading.get_native_id()
        if os.getpriority(os.PRIO_PROCESS, thread) < SLACK_NICE:  # a runner started nicer than that stays as it is
            os.setpriority(os.PRIO_PROCESS, thread, SLACK_NICE)
    except OSError as exc:
        _note(f"the slack group's tasks keep the runner's priority ({exc.strerror or type(exc).__name__})")


def _exited(proc: subprocess.Popen[bytes]) -> bool:
    """Whether the task's main process has exited, without reaping it (a zombie keeps its pid and
    so its process group id reserved: signalling the group afterwards cannot hit a stranger)."""
    if proc.returncode is not None or not hasattr(os, "waitid"):
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return proc.poll() is not None


class _Live:
    """A task whose command is running."""

    def __init__(self, plan: TaskPlan, record: TaskRecord, proc: subprocess.Popen[bytes], reader: threading.Thread) -> None:
        self.plan, self.record, self.proc, self.reader = plan, record, proc, reader


class Runner:
    def __init__(self, run_dir: Path, warm: WarmStarter | None = None) -> None:
        self.run_dir = Path(run_dir)
        self.plan = load_plan(self.run_dir / "plan.json")
        self.slack = slack_groups(self.plan.groups)
        self.state: RunRecord = load_state(self.run_dir / "state.json")
        self.storage = LocalStorage(Path(self.plan.storage_root))
        self.credentials = CredentialStore(Path(self.plan.credentials_path))
        self.log = RunLog(self.run_dir)
        self.lock = threading.RLock()
        self.stop = threading.Event()
        self.stop_status = "FAILED_CANCELED"
        self.stop_message = "Workflow canceled"
        self.ports: set[int] = set()
        self.threads: dict[str, threading.Thread] = {}
        self._last_saved = ""
        self._group_ended = threading.Event()  # set by a group thread on its way out: the scheduler looks at once
        self.warm = warm or WarmStarter(self.run_dir)  # started by the entry (_runner_main), or never: engines start cold

    # --- state ------------------------------------------------------------------------------
    def save(self) -> None:
        with self.lock:
            self.state.refresh()
            text = self.state.model_dump_json(indent=1)
            if text == self._last_saved:
                return
            try:
                atomic_write_text(self.run_dir / "state.json", text)
            except BackendError as exc:
                self._settle_unwritable(exc)
                raise StateUnwritable(exc.code) from exc
            self._last_saved = text
            self._signal()

    def _signal(self) -> None:
        """Wake whoever waits for this run (``changes`` pipe); a failure only costs them a poll."""
        try:
            notify(self.run_dir)
        except OSError as exc:
            _note(f"local runner: change signal not sent ({exc.strerror or type(exc).__name__}); waiters poll")

    def _reserve_space(self) -> None:
        try:
            (self.run_dir / _RESERVE).write_bytes(b"\0" * _RESERVE_BYTES)
        except OSError as exc:
            _note(f"local runner: no space reserve ({exc.strerror})")

    def _settle_unwritable(self, exc: BackendError) -> None:
        """The state cannot be written (a full disk): stop everything, free the reserve and record
        FAILED with the reason, so the run never stays RUNNING with nobody executing it."""
        reason = f"local executor could not write its state ({exc.code}): {exc.remedy}"
        self.halt("FAILED", reason)
        for pid in abandon(self.state, reason):
            kill_process_group(pid)
        (self.run_dir / _RESERVE).unlink(missing_ok=True)
        text = self.state.model_dump_json(indent=1)
        try:
            atomic_write_text(self.run_dir / "state.json", text)
            self._last_saved = text
            self._signal()
        except BackendError as again:
            _note(f"local runner: the FAILED state could not be written either: {again}")

    def stopping(self) -> bool:
        if not self.stop.is_set() and (self.run_dir / CANCEL_FILE).exists():
            self.halt("FAILED_CANCELED", "Workflow canceled")
        return self.stop.is_set()

    def halt(self, status: str, message: str) -> None:
        with self.lock:
            if not self.stop.is_set():
                self.stop_status, self.stop_message = status, message
                self.stop.set()

    # --- the DAG ----------------------------------------------------------------------------
    def run(self) -> int:
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, lambda n, _frame: self.halt("FAILED", "runner exited"))
        self._reserve_space()
        try:
            self._schedule()
        except StateUnwritable:
            self._join(timeout=KILL_GRACE_SECONDS * 3)
            return 1
        except Exception:
            _note()  # the traceback goes to runner.log; the run records the failure
            self.halt("FAILED", "runner crashed")
            self._join(timeout=KILL_GRACE_SECONDS * 3)
            with self.lock:
                for pid in abandon(self.state, "runner crashed"):
                    kill_process_group(pid)
                try:
                    self.save()
                except StateUnwritable:
                    return 1
            return 1
        finally:
            self.warm.stop()
            self.log.close()
            (self.run_dir / _RESERVE).unlink(missing_ok=True)
        return 0

    def _schedule(self) -> None:
        with self.lock:
            self.save()
        while True:
            stopping = self.stopping()
            with self.lock:
                for plan in self.plan.groups:
                    self._advance(plan, stopping)
                self._settle_dead_threads()
                self.save()
                done = all(g.status in GROUP_FINISHED for g in self.state.groups)
            if done:
                break
            self._group_ended.wait(_TICK)
            self._group_ended.clear()  # a group ending after this is seen by the pass that follows
        self._join()
        self.save()

    def _advance(self, plan: GroupPlan, stopping: bool) -> None:
        """One pass for a group not started yet: end it (cancelled, or an upstream group failed),
        start it once every upstream group completed, or leave it waiting. Call with the lock held."""
        record = self.state.group(plan.name)
        if record.status not in ("WAITING", "SCHEDULING") or plan.name in self.threads:
            return
        upstream = [self.state.group(u) for u in plan.upstream]
        failed = [u.name for u in upstream if u.status in FAILED_STATES]
        if stopping and (self.stop_status == "FAILED_CANCELED" or not failed):
            self._end_unstarted(record, self.stop_status, self.stop_message)
        elif failed:
            self._end_unstarted(record, "FAILED_UPSTREAM", f"upstream group {failed[0]} failed", _EXIT_UPSTREAM)
        elif not stopping and all(u.status == "COMPLETED" for u in upstream):
            if not self._gpus_fit(plan):
                record.status = "SCHEDULING"  # ready, waiting for the pool to place all its tasks at once
                return
            thread = threading.Thread(target=self._group_guarded, args=(plan,), name=f"group-{plan.name}", daemon=True)
            self.threads[plan.name] = thread
            thread.start()

    def _gpus_fit(self, plan: GroupPlan) -> bool:
        """The gang rule, when the run has a GPU capacity: every task of the group fits beside the
        groups already placed (OSMO starts a group only when the pool can place all of it)."""
        if self.plan.gpu_capacity is None:
            return True
        placed = sum(group_gpus(g) for g in self.plan.groups
                     if g.name in self.threads and self.state.group(g.name).status not in GROUP_FINISHED)
        return placed + group_gpus(plan) <= self.plan.gpu_capacity

    def _settle_dead_threads(self) -> None:
        """A group whose thread died without finishing it (even its error path failed) ends FAILED,
        its tasks killed, so the run cannot stay RUNNING forever."""
        for name, thread in self.threads.items():
            record = self.state.group(name)
            if thread.is_alive() or record.status in GROUP_FINISHED:
                continue
            for task in record.tasks:
                if task.status == "RUNNING" and task.pid:
                    kill_process_group(task.pid)
            self._end_unstarted(record, "FAILED", "local executor error (see runner.log)")

    def _join(self, timeout: float | None = None) -> None:
        for thread in list(self.threads.values()):
            thread.join(timeout)

    def _end_unstarted(self, record: GroupRecord, status: str, message: str, exit_code: int | None = None) -> None:
        now = utc_now()
        for task in record.tasks:
            if task.status not in GROUP_FINISHED:
                task.status, task.failure_message, task.exit_code, task.end_time = status, message, exit_code, now
                self.log.write(task.name, f"{status}: {message}", osmo=True)
        record.status, record.failure_message, record.end_time = status, message, now

    # --- one group --------------------------------------------------------------------------
    def _group_guarded(self, plan: GroupPlan) -> None:
        live: dict[str, _Live] = {}
        try:
            self._run_group(plan, live)
        except StateUnwritable:
            self._stop_tasks_quietly(live)
        except Exception:
            _note()
            self._stop_tasks(live, "FAILED", "local executor error (see runner.log)")
            with self.lock:
                self._end_unstarted(self.state.group(plan.name), "FAILED", "local executor error (see runner.log)")
                self.save()
        finally:
            self._group_ended.set()

    def _stop_tasks_quietly(self, live: dict[str, _Live]) -> None:
        """Kill what still runs after the state became unwritable (the run is settled already)."""
        for item in list(live.values()):
            kill_process_group(item.proc.pid)
            item.proc.wait()
        live.clear()

    def _run_group(self, plan: GroupPlan, live: dict[str, _Live]) -> None:
        record = self.state.group(plan.name)
        tasks = {t.name: t for t in record.tasks}
        with self.lock:
            record.status = "SCHEDULING"
            record.barrier_port = self._free_port()
            for task in record.tasks:
                task.status, task.scheduling_start_time = "SCHEDULING", utc_now()
            self.save()
        for task_plan in plan.tasks:
            try:
                self._stage(task_plan)
            except (OSError, SkillError) as exc:
                message = f"input download failed: {exc.message if isinstance(exc, SkillError) else type(exc).__name__}"
                self.log.write(task_plan.name, message, osmo=True)
                with self.lock:
                    self._end_unstarted(record, "FAILED", f"task {task_plan.name} {message}")
                    tasks[task_plan.name].exit_code = _EXIT_DOWNLOAD
                    tasks[task_plan.name].failure_message = message
                    self.save()
                return
        if self.stopping():
            with self.lock:
                self._end_unstarted(record, self.stop_status, self.stop_message)
                self.save()
            return
        if plan.barrier and len(plan.tasks) > 1:
            for task_plan in plan.tasks:
                self.log.write(task_plan.name, "Waiting for group ready ...", osmo=True)
            for task_plan in plan.tasks:
                self.log.write(task_plan.name, "Group ready", osmo=True)
        if plan.name in self.slack:
            _lower_priority()
        started = time.monotonic()
        ended: list[tuple[TaskPlan, int | None, str | None]] = []
        for task_plan in plan.tasks:
            env = self._environment(task_plan, record.barrier_port or 0)
            try:
                proc = subprocess.Popen(
                    task_plan.argv,
                    cwd=task_plan.task_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            except OSError as exc:
                code = 127 if isinstance(exc, FileNotFoundError) else 126
                ended.append((task_plan, code, f"cannot start {task_plan.argv[0]}: {exc.strerror or type(exc).__name__}"))
                continue
            assert proc.stdout is not None
            reader = threading.Thread(target=self.log.pump, args=(task_plan.name, proc.stdout), daemon=True)
            reader.start()
            with self.lock:
                task = tasks[task_plan.name]
                task.status, task.start_time, task.pid = "RUNNING", utc_now(), proc.pid
            live[task_plan.name] = _Live(task_plan, task, proc, reader)
        with self.lock:
            record.status, record.start_time = "RUNNING", utc_now()
            self.save()
        for task_plan, code, why in ended:
            self.log.write(task_plan.name, why or "", osmo=True)
            with self.lock:
                tasks[task_plan.name].start_time = utc_now()
            if self._after_exit(plan, tasks[task_plan.name], task_plan, code, why, live):
                break
        self._watch(plan, live, started)
        with self.lock:
            self._settle_group(plan, record)
            self.save()

    def _watch(self, plan: GroupPlan, live: dict[str, _Live], started: float) -> None:
        limit = self.plan.exec_timeout
        while live:
            if self.stopping():
                self._stop_tasks(live, self.stop_status, self.stop_message)
                return
            if limit is not None and time.monotonic() - started > limit:
                self._stop_tasks(live, "FAILED_EXEC_TIMEOUT", f"exec_timeout of {limit:g}s reached")
                return
            for name, item in sorted(live.items(), key=lambda pair: pair[1].plan.lead):  # a lead's exit last in a tick
                if not _exited(item.proc):
                    continue
                kill_process_group(item.proc.pid)  # like a container: the rest of the task dies with its main process
                code = item.proc.wait()  # reaped only now: until then the group id cannot be handed to another process
                del live[name]
                if self._after_exit(plan, item.record, item.plan, code, None, live, item):
                    return
            time.sleep(_WATCH_TICK)

    def _after_exit(
        self,
        plan: GroupPlan,
        record: TaskRecord,
        task_plan: TaskPlan,
        code: int,
        why: str | None,
        live: dict[str, _Live],
        item: _Live | None = None,
    ) -> bool:
        """Record a finished command; returns True when the group is over (lead exit or a fatal non-lead)."""
        status = self._record_exit(record, task_plan, code, why, item)
        if self.stop.is_set():
            self._stop_tasks(live, self.stop_status, self.stop_message)
            return True
        if task_plan.lead:
            self._let_finishing_siblings_end(live)
            self._stop_tasks(live, "COMPLETED" if status == "COMPLETED" else "FAILED", "Lead task finished")
            return True
        if not plan.ignore_nonlead_status and status != "COMPLETED":
            self._stop_tasks(live, "FAILED", f"task {task_plan.name} failed")
            return True
        return False

    def _let_finishing_siblings_end(self, live: dict[str, _Live]) -> None:
        """The lead ended. A sibling that is ending on its own right now (past the completion barrier,
        which releases every rank at once) gets up to LEAD_GRACE_SECONDS to exit and is recorded as it
        exited, outputs uploaded, like a pod that finished before OSMO could delete it; whatever still
        runs after that is stopped by the caller and takes the lead's status."""
        deadline = time.monotonic() + LEAD_GRACE_SECONDS
        while live and time.monotonic() < deadline and not self.stopping():
            for name, item in list(live.items()):
                if _exited(item.proc):
                    kill_process_group(item.proc.pid)
                    code = item.proc.wait()
                    del live[name]
                    self._record_exit(item.record, item.plan, code, None, item)
            if live:
                time.sleep(_TICK / 5)

    def _record_exit(self, record: TaskRecord, task_plan: TaskPlan, code: int, why: str | None, item: _Live | None) -> str:
        """A command's end: its status from the exit code and exit actions, outputs uploaded after a
        real exit, the OSMO log line, the record saved. Returns the status."""
        if item is not None:
            item.reader.join(timeout=2)
        if self.stopping():
            status, message, exit_code = self.stop_status, self.stop_message, None
        elif code < 0:
            signum = -code
            status, exit_code = "FAILED", signal_exit_code(signum)
            message = f"killed by {_signal_name(signum)} (exit code 128+{signum})"
        else:
            status, message = exit_status(code, task_plan.exit_actions)
            message = why or message
            exit_code = code
            if item is not None:
                upload_error = self._upload(task_plan)
                if upload_error:
                    status, message, exit_code = "FAILED", upload_error, _EXIT_UPLOAD
        self.log.write(task_plan.name, f"{status} (exit code {exit_code}){': ' + message if message else ''}", osmo=True)
        with self.lock:
            record.status, record.exit_code, record.failure_message, record.end_time = status, exit_code, message, utc_now()
            self.save()
        return status

    def _stop_tasks(self, live: dict[str, _Live], status: str, message: str) -> None:
        """Kill running tasks (TERM, then KILL after a grace period); they end with ``status``."""
        items = list(live.values())
        live.clear()
        for item in items:
            kill_process_group(item.proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + KILL_GRACE_SECONDS
        for item in items:
            while not _exited(item.proc) and time.monotonic() < deadline:
                time.sleep(_TICK / 5)
            kill_process_group(item.proc.pid)  # before reaping, so the group id is still this task's
            item.proc.wait()
            item.reader.join(timeout=2)
            self.log.write(item.plan.name, f"{status}: {message}", osmo=True)
            with self.lock:
                record = item.record
                record.status, record.failure_message, record.end_time = status, message, utc_now()
                self.save()

    def _settle_group(self, plan: GroupPlan, record: GroupRecord) -> None:
        lead = next(t for t in record.tasks if t.lead)
        failed = [t for t in record.tasks if t.status in FAILED_STATES]
        if plan.ignore_nonlead_status or lead.status in FAILED_STATES or not failed:
            record.status, record.failure_message = lead.status, lead.failure_message
        else:
            record.status, record.failure_message = "FAILED", f"task {failed[0].name} failed"
        record.end_time = utc_now()

    # --- task environment and data ----------------------------------------------------------
    def _stage(self, task: TaskPlan) -> None:
        Path(task.output_dir).mkdir(parents=True, exist_ok=True)
        for index, item in enumerate(task.inputs):
            if item.kind == "task" and item.dir == item.source:
                continue
            self.log.write(task.name, f"Downloading input {index} from {item.source}", osmo=True)
            got = self.storage.download(item.source, Path(item.dir), regex=item.regex, link=True)
            if not got:
                self.log.write(task.name, f"WARNING: nothing stored under {item.source}", osmo=True)

    def _upload(self, task: TaskPlan) -> str | None:
        for out in task.outputs:
            self.log.write(task.name, f"Uploading outputs to {out.url}", osmo=True)
            try:
                self.storage.upload(out.url, [Path(task.output_dir)], regex=out.regex)
            except (OSError, SkillError) as exc:
                detail = exc.message if isinstance(exc, SkillError) else type(exc).__name__
                return f"output upload to {out.url} failed: {detail}"
        return None

    def _environment(self, task: TaskPlan, port: int) -> dict[str, str]:
        requested = {env for how in task.credentials.values() if isinstance(how, dict) for env in how}
        env = {k: v for k, v in os.environ.items() if k in requested or redact(v) == v}
        env.update(task.environment)
        for name, how in task.credentials.items():
            payload = self.credentials.get(name)
            if payload is None:
                self.log.write(task.name, f"credential {name} is not in the local store; its variables are not set", osmo=True)
                continue
            if isinstance(how, dict):
                for variable, key in how.items():
                    if key in payload:
                        env[variable] = payload[key]
                    else:
                        self.log.write(task.name, f"credential {name} has no key {key}; {variable} is not set", osmo=True)
            else:
                folder = Path(how)
                folder.mkdir(parents=True, exist_ok=True, mode=0o700)
                for key, value in payload.items():
                    target = folder / key
                    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                    with os.fdopen(fd, "w", encoding="utf-8") as handle:
                        handle.write(value)
        root = str(skill_root())
        existing = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != root]
        env.update(
            {
                "VDA_BACKEND": "local",
                "VDA_PYTHON": str(self.warm.launcher) if self.warm.running else sys.executable,
                "PYTHONPATH": os.pathsep.join([root, *existing]),
                "VDA_GROUP_BARRIER_PORT": str(port),
                "OSMO_WORKFLOW_ID": self.plan.workflow_id,
                "VDA_LOCAL_TASK": f"{self.plan.workflow_id}/{task.name}",
                CACHE_ENV: str(self.run_dir / "cache"),  # work done ahead for the steps after the run; never an output
            }
        )
        return env

    def _free_port(self) -> int:
        while True:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind(("127.0.0.1", 0))
                port = sock.getsockname()[1]
            if port not in self.ports:
                self.ports.add(port)
                return port


def _keep_lock(fd_text: str) -> None:
    """The fd of runner.lock stays open (held) for this process's life and goes to no task."""
    if fd_text.isdigit():
        try:
            os.set_inheritable(int(fd_text), False)
        except OSError as exc:
            _note(f"local runner: lock fd {fd_text} is unusable ({exc.strerror})")


def main(argv: list[str] | None = None, *, warm: WarmStarter | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m skill.backends.local_runner <run_dir>", file=sys.stderr)
        return 2
    run_dir = Path(args[0])
    _keep_lock(os.environ.pop(RUNNER_LOCK_FD_ENV, ""))
    try:
        runner = Runner(run_dir, warm)
    except (OSError, SkillError) as exc:
        if warm is not None:
            warm.stop()
        print(f"local runner cannot start in {run_dir}: {exc}", file=sys.stderr)
        return 1
    return runner.run()


if __name__ == "__main__":
    sys.exit(main())

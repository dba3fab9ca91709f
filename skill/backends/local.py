"""The embedded local backend: OSMO's workflow semantics executed on this machine.

``LocalBackend(root)`` keeps everything under one folder (default
``<workspace>/.vda/local``, or ``$VDA_LOCAL_ROOT``)::

    <root>/storage/<scheme>/<bucket>/...     the object store behind s3://, gs://, azure://, ...
    <root>/credentials.json                  the credential store (mode 0600)
    <root>/workflows/<workflow_id>/          one run: plan.json, state.json, runner.pid,
                                             runner.lock (flock held by the live runner), changes (the
                                             runner's change signal, a named pipe), runner.log, workflow.log, logs/<task>.log,
                                             tasks/<task>/{files,inputs,output,credentials}/,
                                             cache/ (work tasks did ahead, keyed by content: never an output)
    <root>/warm/<pid>-<token>.sock            the socket of a starter started ahead of a submit (``prewarmed``)

``submit`` fixes the plan, stages the task files and starts a detached runner process
(:mod:`skill.backends.local_runner`, entered through :mod:`skill.backends._runner_main`, which first
starts the run's warm engine starter; or, inside ``prewarmed()``, forked by a starter that imported
the runner and the engines while the caller was still checking: :mod:`skill.backends._local_prestart`)
that survives the caller; any later ``LocalBackend`` on the
same root can query, tail, cancel or wait for the run. When the runner is gone before the run
ended, ``query`` settles it (FAILED "runner exited", downstream FAILED_UPSTREAM) instead of
waiting forever.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from skill.backends._local_credentials import CredentialStore
from skill.backends._local_io import atomic_write_text, default_root, runner_env, write_error
from skill.backends._local_logs import tail
from skill.backends._local_plan import build_plan, group_gpus
from skill.backends._local_signal import StateVersion, make_signal, state_version
from skill.backends._local_signal import wait_for_change as _wait_for_signal
from skill.backends._local_state import (
    GroupPlan,
    GroupRecord,
    RunRecord,
    TaskRecord,
    abandon,
    load_state,
    to_workflow_status,
    utc_now,
    write_json,
)
from skill.backends.base import BackendName, BackendTraits, CredentialType
from skill.backends._local_prestart import PRESTART_DIR, PrestartedStarter, take_early
from skill.backends.local_runner import CANCEL_FILE, RUNNER_LOCK_FD_ENV, kill_process_group
from skill.backends.local_storage import LocalStorage
from skill.errors import BackendError, BackendTimeout, BackendUnavailable, InputError, NotFound
from skill.paths import expand_user
from skill.statuses import CredentialInfo, PoolInfo, WorkflowStatus, is_terminal
from skill.workflow_spec import RenderedSpec

__all__ = ["LOCAL_PLATFORM", "LOCAL_POOL", "LocalBackend", "cpu_slots", "default_root"]

_log = logging.getLogger(__name__)

LOCAL_POOL = "local"
LOCAL_PLATFORM = "cpu"
_RUNNER_MODULE = "skill.backends._runner_main"  # starts the warm starter, then local_runner
RUNNER_LOCK = "runner.lock"
_WORKFLOW_ID = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?-\d+$")


def cpu_slots() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one, else all of them)."""
    affinity = getattr(os, "sched_getaffinity", None)
    return max(1, len(affinity(0)) if affinity else (os.cpu_count() or 1))


def _process_alive(pid: int, marker: str) -> bool:
    """True when ``pid`` is a live (not zombie) process whose command line contains ``marker``."""
    proc = Path("/proc") / str(pid)
    if not Path("/proc/self").exists():  # not Linux: the signal probe is all there is
        try:
            os.kill(pid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    try:
        stat = (proc / "stat").read_text()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    state = stat.rsplit(")", 1)[-1].split()[0] if ")" in stat else "?"
    return state not in ("Z", "X") and marker in cmdline


def _hold_runner_lock(run_dir: Path) -> int:
    """Create ``runner.lock`` and hold an exclusive flock on it; the fd goes to the runner, which keeps
    it until it exits (the kernel drops the lock however it dies). So "someone holds the lock" is the
    liveness test: true from before the run is visible, with no pid file to race and no pid reuse."""
    try:
        fd = os.open(run_dir / RUNNER_LOCK, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise write_error(exc, run_dir) from exc
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        raise write_error(exc, run_dir) from exc
    return fd


def _runner_lock_held(path: Path) -> bool:
    """True while the run's runner (or its submitter, before the hand-over) holds ``runner.lock``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)  # probes share; only the holder's LOCK_EX blocks
    except BlockingIOError:
        return True
    finally:
        os.close(fd)  # closing drops the probe's own shared lock
    return False


def _task_group_alive(pgid: int, marker: str) -> bool:
    """Whether a process of group ``pgid`` still carries the task marker in its environment (so a
    recycled pid is never signalled). Off Linux the group id alone decides."""
    if not Path("/proc/self").exists():
        return True
    needle = f"VDA_LOCAL_TASK={marker}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            if int(fields[2]) != pgid:
                continue
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                return True
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError, ValueError):
            continue
    return False


GANG_GPUS_ENV = "VDA_LOCAL_GPUS"
"""Set to N: the local executor places groups as an OSMO pool of N GPUs would (the gang rule)."""


def gang_gpus_from_env() -> int | None:
    """``VDA_LOCAL_GPUS`` as a pool size, None when unset (groups then start whenever they are ready)."""
    raw = os.environ.get(GANG_GPUS_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise InputError(f"{GANG_GPUS_ENV} must be a whole number of GPUs from 1.", remedy=f"Set {GANG_GPUS_ENV}=8 (say), or unset it.",
                         code="invalid-values")
    return int(raw)


def _check_placeable(groups: list[GroupPlan], capacity: int) -> None:
    """Refuse a group no pool of ``capacity`` GPUs could ever start: OSMO would leave it SCHEDULING."""
    for group in groups:
        need = group_gpus(group)
        if need > capacity:
            raise InputError(
                f"Group {group.name} asks for {need} GPUs at once, more than the pool's {capacity}: OSMO would never start it.",
                remedy="Fan the clips out into batches (vda run --max-in-flight N, or submit with max_in_flight), or lower workers.",
                code="group-unplaceable",
            )


class LocalBackend:
    """Runs workflows on this machine with OSMO's semantics; see the module docstring."""

    name: BackendName = "local"
    requires_secrets = False  # CPU engines: no image pulls, no gated weights

    def __init__(self, root: Path | None = None, *, gpus: int | None = None) -> None:
        self.root = expand_user(root).resolve() if root is not None else default_root()
        self.storage = LocalStorage(self.root / "storage")
        self.gpus = gpus if gpus is not None else gang_gpus_from_env()
        self.workflows_dir = self.root / "workflows"
        self.traits = BackendTraits(probes_network=False, cluster_nims=False, engines_need_weights=False, local_engines=True,
                                    gang_scheduled=self.gpus is not None,
                                    storage_url=str(self.root / "storage" / "local"), run_cache_root=str(self.workflows_dir),
                                    worker_slots=None if self.gpus is not None else cpu_slots(),  # a simulated pool: OSMO's sizing
                                    poll_interval_s=1.0, poll_max_interval_s=5.0, signals_changes=True,
                                    atomic_downloads=True)
        self._credentials = CredentialStore(self.root / "credentials.json")
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._prestarted: PrestartedStarter | None = None
        self._seen: dict[str, StateVersion] = {}  # the state.json version each run's last query read

    # --- runs -------------------------------------------------------------------------------
    def submit(self, spec: RenderedSpec, *, pool: str | None = None) -> str:
        """Plan the run, stage its files, start the detached runner; return ``<name>-<N>``."""
        if pool not in (None, LOCAL_POOL):
            raise InputError(
                f"The local backend has one pool, {LOCAL_POOL}; {pool} is not it.",
                remedy=f"Submit with pool={LOCAL_POOL} or leave the pool out.",
                code="unknown-pool",
            )
        self.workflows_dir.mkdir(parents=True, exist_ok=True)
        workflow_id, run_dir = self._new_run_dir(spec.name)
        try:
            plan = build_plan(
                spec,
                workflow_id=workflow_id,
                run_dir=run_dir,
                storage=self.storage,
                workflows_dir=self.workflows_dir,
                credentials_path=self._credentials.path,
                default_platform=LOCAL_PLATFORM,
            )
            if self.gpus is not None:
                _check_placeable(plan.groups, self.gpus)
                plan.gpu_capacity = self.gpus
            write_json(run_dir / "plan.json", plan)
            atomic_write_text(run_dir / "spec.yaml", spec.text)
            make_signal(run_dir)  # the runner's change signal; without it waiters poll
        except BaseException:
            shutil.rmtree(run_dir, ignore_errors=True)  # not visible yet (no state.json): leave nothing
            raise
        groups = [
            GroupRecord(
                name=g.name,
                status="WAITING" if g.upstream else "SCHEDULING",
                upstream=g.upstream,
                tasks=[
                    TaskRecord(
                        name=t.name,
                        lead=t.lead,
                        status="WAITING" if g.upstream else "SCHEDULING",
                        image=t.image,
                        resource=t.resource,
                        platform=t.platform,
                        credentials=sorted(t.credentials),
                    )
                    for t in g.tasks
                ],
            )
            for g in plan.groups
        ]
        record = RunRecord(workflow_id=workflow_id, name=spec.name, pool=LOCAL_POOL, submit_time=utc_now(), groups=groups)
        record.refresh()
        lock_fd = _hold_runner_lock(run_dir)  # held before the run is visible, handed to the runner
        try:
            try:
                write_json(run_dir / "state.json", record)
            except BaseException:
                shutil.rmtree(run_dir, ignore_errors=True)
                raise
            self._start_runner(workflow_id, run_dir, lock_fd)
        finally:
            os.close(lock_fd)
        return workflow_id

    def _new_run_dir(self, name: str) -> tuple[str, Path]:
        pattern = re.compile(rf"^{re.escape(name)}-(\d+)$")
        used = [int(m.group(1)) for p in self.workflows_dir.iterdir() if (m := pattern.match(p.name))]
        number = max(used, default=0) + 1
        while True:
            run_dir = self.workflows_dir / f"{name}-{number}"
            try:
                run_dir.mkdir()
            except FileExistsError:
                number += 1
                continue
            return run_dir.name, run_dir

    @contextmanager
    def prewarmed(self) -> Iterator[None]:
        """The next submit's runner started ahead: a warm starter that imports the runner and the
        engines while the caller checks and renders (:mod:`skill.backends._local_prestart`); one no
        submit took ends with the block. Best effort: without it the submit starts its runner cold."""
        if self._prestarted is None:
            folder = self.root / PRESTART_DIR
            self._prestarted = take_early(folder) or PrestartedStarter.start(folder, runner_env())
        try:
            yield
        finally:
            if self._prestarted is not None:
                self._prestarted.close()
                self._prestarted = None

    def _hand_over(self, run_dir: Path, env: dict[str, str], log_fd: int, lock_fd: int) -> int | None:
        prestarted, self._prestarted = self._prestarted, None
        if prestarted is None:
            return None
        try:
            return prestarted.hand_over(run_dir, env, log_fd, lock_fd)
        finally:
            prestarted.close()

    def _start_runner(self, workflow_id: str, run_dir: Path, lock_fd: int) -> None:
        env = runner_env()
        with (run_dir / "runner.log").open("ab") as log:
            pid = self._hand_over(run_dir, env, log.fileno(), lock_fd)
            if pid is not None:
                self._note_runner_pid(workflow_id, run_dir, pid)
                return
            env[RUNNER_LOCK_FD_ENV] = str(lock_fd)
            try:
                proc = subprocess.Popen(
                    [sys.executable, "-m", _RUNNER_MODULE, str(run_dir)],
                    cwd=run_dir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                    pass_fds=(lock_fd,),
                )
            except OSError as exc:
                record = load_state(run_dir / "state.json")
                abandon(record, "runner could not start")
                write_json(run_dir / "state.json", record)
                raise BackendUnavailable(
                    f"The local runner for {workflow_id} could not start ({type(exc).__name__}).",
                    remedy="Check that the Python interpreter of this install can run.",
                ) from exc
        self._note_runner_pid(workflow_id, run_dir, proc.pid)
        self._children[workflow_id] = proc

    @staticmethod
    def _note_runner_pid(workflow_id: str, run_dir: Path, pid: int) -> None:
        try:
            atomic_write_text(run_dir / "runner.pid", str(pid))  # informational: liveness is runner.lock
        except BackendError as exc:  # the runner is started and holds runner.lock: the run goes on
            _log.warning("runner.pid of %s not written: %s", workflow_id, exc.message)

    def _run_dir(self, workflow_id: str) -> Path:
        run_dir = self.workflows_dir / workflow_id
        if not _WORKFLOW_ID.match(workflow_id or "") or not (run_dir / "state.json").is_file():
            raise NotFound(
                f"No local workflow {workflow_id}.",
                remedy=f"List runs under {self.workflows_dir} or submit the workflow first.",
            )
        return run_dir

    def _runner_alive(self, workflow_id: str, run_dir: Path) -> bool:
        child = self._children.get(workflow_id)
        if child is not None and child.poll() is not None:
            return False  # reaped here, so a dead runner is never a zombie we mistake for alive
        if (run_dir / RUNNER_LOCK).exists():
            return _runner_lock_held(run_dir / RUNNER_LOCK)
        try:  # a run started before runner.lock existed: the pid file and the process table
            pid = int((run_dir / "runner.pid").read_text().strip())
        except (FileNotFoundError, ValueError):
            return False
        return _process_alive(pid, str(run_dir))

    def query(self, workflow_id: str) -> WorkflowStatus:
        run_dir = self._run_dir(workflow_id)
        self._seen[workflow_id] = state_version(run_dir / "state.json")  # before reading: a later write shows as a change
        record = load_state(run_dir / "state.json")
        if not is_terminal(record.status) and not self._runner_alive(workflow_id, run_dir):
            record = load_state(run_dir / "state.json")  # it may have finished just before exiting
            if not is_terminal(record.status):
                record = self._settle_abandoned(workflow_id, run_dir, record, "runner exited")
        return to_workflow_status(record, overview=str(run_dir))

    def _settle_abandoned(self, workflow_id: str, run_dir: Path, record: RunRecord, message: str, *, status: str = "FAILED") -> RunRecord:
        for pid in abandon(record, message, status=status):
            self._kill_task(pid, f"{workflow_id}/", record)
        write_json(run_dir / "state.json", record)
        return record

    def _kill_task(self, pid: int, marker_prefix: str, record: RunRecord) -> None:
        names = [t.name for g in record.groups for t in g.tasks if t.pid == pid]
        marker = f"{marker_prefix}{names[0]}" if names else marker_prefix
        if _task_group_alive(pid, marker):
            kill_process_group(pid)

    def wait_for_change(self, workflow_id: str, *, timeout_s: float) -> bool:
        """Block until the runner signals a change of the run (or ``state.json`` differs from what the
        last :meth:`query` read), at most ``timeout_s``; True when woken by a change. A run without
        the signal (started before it existed) just sleeps out the timeout: poll again either way."""
        run_dir = self._run_dir(workflow_id)
        seen = self._seen.get(workflow_id, state_version(run_dir / "state.json"))
        try:
            return _wait_for_signal(run_dir, seen, timeout_s)
        except OSError as exc:
            raise BackendUnavailable(
                f"The change signal of {workflow_id} could not be read ({exc.strerror or type(exc).__name__}).",
                remedy=f"Poll {workflow_id} again; check that {run_dir} is readable.",
                code="change-signal-unreadable",
            ) from exc

    def wait(self, workflow_id: str, timeout: float = 600.0, *, interval: float = 0.1) -> WorkflowStatus:
        """Wait until the run is terminal and return its status (FAILED is a result, not an error):
        woken by the runner's change signal, and in any case re-read every ``interval`` seconds."""
        if timeout <= 0 or interval <= 0:
            raise InputError("wait needs a positive timeout and interval.", remedy="Pass timeout > 0 seconds.")
        deadline = time.monotonic() + timeout
        while True:
            status = self.query(workflow_id)
            if status.terminal:
                return status
            if time.monotonic() >= deadline:
                raise BackendTimeout(
                    f"{workflow_id} still {status.status} after {timeout:g}s.",
                    remedy=f"Call wait or poll again with workflow_id={workflow_id}.",
                )
            self.wait_for_change(workflow_id, timeout_s=min(interval, max(0.0, deadline - time.monotonic())))

    def logs(self, workflow_id: str, *, task: str | None = None, last_n: int = 200) -> str:
        run_dir = self._run_dir(workflow_id)
        if last_n < 1:
            raise InputError("last_n must be at least 1.", remedy="Ask for the last 200 lines, for example.")
        if task is None:
            return "\n".join(tail(run_dir / "workflow.log", last_n))
        record = load_state(run_dir / "state.json")
        if task not in {t.name for g in record.groups for t in g.tasks}:
            raise NotFound(f"Workflow {workflow_id} has no task {task}.", remedy="Use a task name from query().")
        return "\n".join(tail(run_dir / "logs" / f"{task}.log", last_n))

    def cancel(self, workflow_id: str) -> None:
        """Ask the run to stop: running tasks are killed and the run ends FAILED_CANCELED."""
        run_dir = self._run_dir(workflow_id)
        record = load_state(run_dir / "state.json")
        if is_terminal(record.status):
            return
        (run_dir / CANCEL_FILE).write_text(utc_now(), encoding="utf-8")
        if not self._runner_alive(workflow_id, run_dir):
            record = load_state(run_dir / "state.json")
            if not is_terminal(record.status):
                self._settle_abandoned(workflow_id, run_dir, record, "Workflow canceled", status="FAILED_CANCELED")
            return
        for group in record.groups:
            for task in group.tasks:
                if task.status == "RUNNING" and task.pid and _task_group_alive(task.pid, f"{workflow_id}/{task.name}"):
                    kill_process_group(task.pid, signal.SIGTERM)

    # --- data -------------------------------------------------------------------------------
    def data_list(self, url: str) -> list[str]:
        return self.storage.list(url)

    def data_download(self, url: str, dest: Path) -> list[Path]:
        if not self.storage.path(url).exists():
            raise NotFound(f"Nothing is stored under {url}.", remedy="Check the URL with data_list.")
        return self.storage.download(url, Path(dest))

    def data_upload(self, url: str, paths: list[Path]) -> None:
        self.storage.upload(url, [Path(p) for p in paths])

    # --- cluster facts ----------------------------------------------------------------------
    def pools(self) -> list[PoolInfo]:
        return [
            PoolInfo(
                name=LOCAL_POOL,
                status="ONLINE",
                platforms=[LOCAL_PLATFORM],
                default_platform=LOCAL_PLATFORM,
                gpu_free=self.gpus or 0,
                description="This machine: the embedded local executor with CPU engines"
                            + (f"; the gang rule on, as a pool of {self.gpus} GPU(s)." if self.gpus is not None else "."),
            )
        ]

    def credentials(self) -> list[CredentialInfo]:
        return self._credentials.list()

    def set_credential(self, name: str, type: CredentialType, payload: dict[str, str]) -> None:
        self._credentials.set(name, type, payload)

    def config_show(self, kind: str) -> dict:
        if str(kind).upper().split(":")[0] != "POD_TEMPLATE":
            raise NotFound(
                f"The local backend has no {kind} config; it documents POD_TEMPLATE only.",
                remedy="Ask for POD_TEMPLATE, or use the OSMO backend for service configs.",
            )
        return {
            "backend": "local",
            "description": "Local CPU template: tasks run as processes on this machine; no Kubernetes, no GPU.",
            "gpu_toleration": "not-required-local",
            "local_cpu": {
                "spec": {
                    "nodeSelector": {},
                    "tolerations": [],
                    "containers": [{"name": "{{USER_CONTAINER_NAME}}", "resources": {"limits": {"cpu": os.cpu_count() or 1}}}],
                },
                "platform": LOCAL_PLATFORM,
            },
        }

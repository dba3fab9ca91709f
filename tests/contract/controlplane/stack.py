"""OSMO 6.3.1's real control plane on this machine, without Kubernetes or Docker.

PostgreSQL and Redis (Debian packages), a local S3 server (``moto``), OSMO's core service, worker
and delayed-job monitor run from the checkout named by ``VDA_OSMO_SOURCE`` under the Python 3.12
interpreter named by ``VDA_OSMO_PYTHON`` (a venv with OSMO's locked requirements plus ``moto``);
our stand-in backend agents (``_agent.py``) take Kubernetes' place behind the agent websockets.

Every process runs in its own session on a free loopback port with its data in one temp folder;
:meth:`ControlPlane.stop` stops them in reverse order with a deadline, then SIGKILLs the whole
process group (which takes the Jinja sandbox workers the service spawns with it).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

AGENT = Path(__file__).with_name("_agent.py")
BUCKET = "vda-osmo"
POOL = "default"
USER = "vda-tester"
# Keys moto accepts; the worker and the CLI sign with them. Not a secret: a local test server.
S3_KEY_ID, S3_KEY = "testing", "testing"
REGISTRIES = ["registry-1.docker.io", "docker.io", "index.docker.io", "nvcr.io", "ghcr.io", "quay.io"]
PG_PASSWORD = "osmo-local"
# what the issue found breaking `osmo pool list` (OSMO pins urllib3 2.7.0 and requests 2.32.4)
NEWER_HTTP = ("urllib3==2.8.0", "requests==2.34.2")
# The one Bazel-only import (src/utils/metrics/__init__.py) gets empty stand-ins, in the service
# and in the sandbox processes it spawns (they inherit PYTHONPATH, so sitecustomize runs there too).
SITECUSTOMIZE = """import sys, types
for _name in ('services', 'services.utils', 'services.utils.metrics', 'services.utils.metrics.metrics'):
    sys.modules.setdefault(_name, types.ModuleType(_name))
"""


class StackError(RuntimeError):
    """The control plane did not come up; the message names the piece and its log."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path
    stop_signal: int = signal.SIGTERM

    def tail(self, chars: int = 1500) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, deadline: float) -> None:
        if self.popen.poll() is None:
            _signal_group(self.popen.pid, self.stop_signal)
            try:
                self.popen.wait(timeout=deadline)
            except subprocess.TimeoutExpired:
                pass
        # whatever the leader did, nothing of its group may outlive it (sandbox workers, backends)
        _signal_group(self.popen.pid, signal.SIGKILL)
        try:
            self.popen.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        return


def ensure_debian_packages() -> None:
    """PostgreSQL and Redis from Debian, installed on first use (root only)."""
    missing = [pkg for pkg, probe in (("postgresql", _pg_bin("initdb")), ("redis-server", shutil.which("redis-server")))
               if not probe]
    if not missing:
        return
    if os.geteuid() != 0:
        raise StackError(f"{' and '.join(missing)} missing; install them with: apt-get install -y {' '.join(missing)}")
    subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", *missing], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=600)


def _pg_bin(name: str) -> str | None:
    for root in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (root / name).exists():
            return str(root / name)
    return shutil.which(name)


@dataclass
class ControlPlane:
    source: Path
    python: Path
    root: Path
    ports: dict[str, int] = field(default_factory=dict)
    procs: list[Proc] = field(default_factory=list)
    bringup_s: float = 0.0
    _pg_dir: Path | None = None

    # --- addresses -------------------------------------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.ports['core']}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['s3']}"

    @property
    def osmo(self) -> Path:
        """The real ``osmo`` CLI from the checkout, with its config and state kept in ``root``."""
        return self.root / "bin" / "osmo"

    def bucket_url(self, key: str = "") -> str:
        return f"s3://{BUCKET}/{key}".rstrip("/") if key else f"s3://{BUCKET}"

    # --- bring-up ---------------------------------------------------------------------------------
    def start(self) -> "ControlPlane":
        began = time.monotonic()
        ensure_debian_packages()
        for name in ("pg", "redis", "s3", "core", "agent"):
            self.ports[name] = free_port()
        (self.root / "shim").mkdir(parents=True, exist_ok=True)
        (self.root / "shim" / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self._write_cli()
        self._start_postgres()
        self._start(["redis-server", "--port", str(self.ports["redis"]), "--bind", "127.0.0.1", "--save", "",
                     "--appendonly", "no", "--dir", str(self.root)], "redis")
        self._start([str(self.python), "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.ports["s3"])], "s3")
        self._wait_port("pg", 30)
        self._create_database()
        self._wait_port("redis", 10)
        service = [str(self.python), "-m"]
        self._start([*service, "src.service.core.service", "--method=dev", "--host", self.url,
                     "--progress_file", str(self.root / "core.progress")], "core", osmo=True)
        self._wait_port("s3", 30)
        self._http("PUT", f"{self.s3_url}/{BUCKET}")
        self._wait_http(f"{self.url}/api/version", "core", 60)
        self._start([*service, "src.service.worker.worker", "--method=dev",
                     "--progress_file", str(self.root / "worker.progress")], "worker", osmo=True)
        self._start([*service, "src.service.delayed_job_monitor.delayed_job_monitor", "--method=dev",
                     "--progress_file", str(self.root / "djm.progress")], "delayed-job-monitor", osmo=True)
        self._start([str(self.python), str(AGENT), self.url, POOL, str(self.ports["agent"])], "agent")
        self.cli("login", self.url, "--method=dev", f"--username={USER}")
        self._configure_workflow()
        self.cli("credential", "set", "vda-local-s3", "--type", "DATA", "--payload", f"endpoint=s3://{BUCKET}",
                 f"access_key_id={S3_KEY_ID}", f"access_key={S3_KEY}", "region=us-east-1", f"override_url={self.s3_url}")
        self._wait_online(30)
        self.bringup_s = time.monotonic() - began
        return self

    def _write_cli(self) -> None:
        (self.root / "bin").mkdir(parents=True, exist_ok=True)
        env = self._osmo_env()
        lines = ["#!/bin/sh"] + [f"export {k}='{env[k]}'" for k in ("PYTHONPATH", "XDG_CONFIG_HOME", "XDG_STATE_HOME")]
        lines.append(f'exec "{self.python}" -m src.cli.cli "$@"')
        self.osmo.write_text("\n".join(lines) + "\n")
        self.osmo.chmod(0o755)

    def newer_http_cli(self) -> Path:
        """The same ``osmo`` CLI with urllib3 2.8.0 / requests 2.34.2 ahead of OSMO's pins on its path
        (installed once, ``--no-deps --target``, into the cache beside the venv): the combination
        whose ``pool list`` requests ``//api/pool_quota``."""
        overlay = _cache_root() / "osmo-cli-urllib3-2.8"
        if not (overlay / ".complete").exists():
            shutil.rmtree(overlay, ignore_errors=True)
            done = subprocess.run([str(self.python), "-m", "pip", "install", "--disable-pip-version-check", "--no-deps",
                                   "--target", str(overlay), *NEWER_HTTP], capture_output=True, text=True, timeout=600)
            if done.returncode != 0:
                raise StackError(f"could not install {' '.join(NEWER_HTTP)}: {done.stderr.strip()[-300:]}")
            (overlay / ".complete").write_text("\n".join(NEWER_HTTP) + "\n")
        path = self.root / "bin" / "osmo-newer-http"
        path.write_text(self.osmo.read_text().replace("export PYTHONPATH='", f"export PYTHONPATH='{overlay}:", 1))
        path.chmod(0o755)
        return path

    def _osmo_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("OSMO_", "PYTHON", "VIRTUAL_ENV"))}
        env.update({
            "PYTHONPATH": f"{self.root / 'shim'}:{self.source}",
            "XDG_CONFIG_HOME": str(self.root / "cli-config"),
            "XDG_STATE_HOME": str(self.root / "cli-state"),
            "OSMO_POSTGRES_HOST": "127.0.0.1",
            "OSMO_POSTGRES_PORT": str(self.ports["pg"]),
            "OSMO_POSTGRES_PASSWORD": PG_PASSWORD,
            "OSMO_REDIS_HOST": "127.0.0.1",
            "OSMO_REDIS_PORT": str(self.ports["redis"]),
            "EDITOR": "true",
            "AWS_ACCESS_KEY_ID": S3_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": S3_KEY,
        })
        return env

    def _start(self, argv: list[str], name: str, *, osmo: bool = False, stop_signal: int = signal.SIGTERM) -> Proc:
        log = self.root / "logs" / f"{name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        with open(log, "wb") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                     cwd=str(self.source) if osmo else str(self.root),
                                     env=self._osmo_env(), start_new_session=True)
        proc = Proc(name, popen, log, stop_signal)
        self.procs.append(proc)
        return proc

    def _start_postgres(self) -> None:
        initdb, postgres = _pg_bin("initdb"), _pg_bin("postgres")
        if not initdb or not postgres:
            raise StackError("PostgreSQL binaries not found (apt-get install -y postgresql).")
        # PostgreSQL refuses to run as root: as root, run it as the `postgres` user in a folder that
        # user can reach (pytest's own tmp folders are 0700 root).
        as_user: list[str] = []
        self._pg_dir = Path(tempfile.mkdtemp(prefix="vda-osmo-pg-"))
        if os.geteuid() == 0:
            os.chmod(self._pg_dir, 0o755)
            shutil.chown(self._pg_dir, "postgres", "postgres")
            as_user = ["runuser", "-u", "postgres", "--"]
        data = self._pg_dir / "data"
        subprocess.run([*as_user, initdb, "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120, cwd=self._pg_dir)
        self._start([*as_user, postgres, "-D", str(data), "-p", str(self.ports["pg"]), "-k", str(self._pg_dir),
                     "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c", "synchronous_commit=off",
                     "-c", "full_page_writes=off"], "postgres", stop_signal=signal.SIGINT)

    def _create_database(self) -> None:
        psql = _pg_bin("psql") or "psql"
        for sql in (f"ALTER USER postgres PASSWORD '{PG_PASSWORD}'", "CREATE DATABASE osmo_db"):
            deadline = time.monotonic() + 20
            while True:
                done = subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.ports["pg"]), "-U", "postgres",
                                       "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-c", sql],
                                      capture_output=True, text=True, timeout=30)
                if done.returncode == 0:
                    break
                if time.monotonic() > deadline:
                    raise StackError(f"PostgreSQL setup failed: {done.stderr.strip()[:300]}")
                time.sleep(0.3)

    def _configure_workflow(self) -> None:
        """WORKFLOW config: no registry validation (no network here) and the local S3 as the
        storage the worker writes specs/logs to. ``config update`` PATCHes a diff of the whole
        document, so the current one is read, changed and written back."""
        current = json.loads(self.cli("config", "show", "WORKFLOW"))
        credential = {"endpoint": f"s3://{BUCKET}", "region": "us-east-1", "override_url": self.s3_url,
                      "addressing_style": "path", "access_key_id": S3_KEY_ID, "access_key": S3_KEY}
        current["credential_config"]["disable_registry_validation"] = REGISTRIES
        for key in ("workflow_data", "workflow_log", "workflow_app"):
            current[key]["credential"] = credential
        path = self.root / "workflow-config.json"
        path.write_text(json.dumps(current))
        self.cli("config", "update", "WORKFLOW", "--file", str(path), "--description", "vda control-plane tests")

    def _wait_port(self, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with socket.create_connection(("127.0.0.1", self.ports[name]), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        raise StackError(f"{name} did not open port {self.ports[name]} in {timeout}s")

    def _wait_http(self, url: str, name: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                self._http("GET", url)
                return
            except (OSError, urllib.error.URLError):
                time.sleep(0.2)
        raise StackError(f"{name} did not answer {url} in {timeout}s:\n{self._proc(name).tail()}")

    def _wait_online(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.agent_state()
            if state.get("listener") and state.get("worker"):
                pools = json.loads(self.cli("pool", "list", "--format-type", "json"))
                statuses = [p["status"] for ns in pools["node_sets"] for p in ns["pools"] if p["name"] == POOL]
                if statuses == ["ONLINE"]:
                    return
            time.sleep(0.3)
        raise StackError(f"pool {POOL} did not come ONLINE in {timeout}s:\n{self._proc('agent').tail()}")

    def _check_alive(self) -> None:
        for proc in self.procs:
            if proc.popen.poll() is not None:
                raise StackError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.tail()}")

    def _proc(self, name: str) -> Proc:
        return next(p for p in self.procs if p.name == name)

    @staticmethod
    def _http(method: str, url: str, data: bytes | None = None, headers: dict[str, str] | None = None) -> bytes:
        request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.read()

    # --- tear-down --------------------------------------------------------------------------------
    def stop(self, deadline: float = 5.0) -> None:
        for proc in reversed(self.procs):
            proc.stop(deadline)
        if self._pg_dir is not None:
            shutil.rmtree(self._pg_dir, ignore_errors=True)

    def leftovers(self, settle: float = 3.0) -> list[int]:
        """Pids still alive in any of our process groups (should be none after :meth:`stop`);
        waits up to ``settle`` seconds for SIGKILLed processes to be reaped."""
        deadline = time.monotonic() + settle
        while (alive := self._group_members()) and time.monotonic() < deadline:
            time.sleep(0.1)
        return alive

    def _group_members(self) -> list[int]:
        alive = []
        groups = {p.popen.pid for p in self.procs}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
                if os.getpgid(int(entry.name)) in groups and stat.rsplit(")", 1)[1].split()[0] != "Z":
                    alive.append(int(entry.name))
            except (ProcessLookupError, PermissionError, FileNotFoundError):
                continue
        return alive

    # --- driving it ---------------------------------------------------------------------------------
    def cli(self, *args: str, check: bool = True, timeout: float = 60) -> str:
        done = subprocess.run([str(self.osmo), *args], capture_output=True, text=True, timeout=timeout,
                              stdin=subprocess.DEVNULL, cwd=str(self.root))
        if check and done.returncode != 0:
            raise StackError(f"osmo {args[0]} exited {done.returncode}: {(done.stdout + done.stderr).strip()[:800]}")
        return done.stdout

    def agent_call(self, request: dict[str, Any]) -> dict[str, Any]:
        with socket.create_connection(("127.0.0.1", self.ports["agent"]), timeout=10) as sock:
            sock.sendall((json.dumps(request) + "\n").encode())
            return json.loads(sock.makefile().readline())

    def agent_state(self) -> dict[str, Any]:
        try:
            return self.agent_call({"cmd": "state"})
        except OSError:
            return {}

    def task_pods(self, workflow_id: str, *, task: str | None = None, timeout: float = 30) -> dict[str, dict[str, Any]]:
        """``{task_name: pod}`` for the pods the service asked our worker agent to create; waits
        until there is one (or, given ``task``, until that task's pod is there)."""
        deadline = time.monotonic() + timeout
        while True:
            pods = {p["labels"].get("osmo.task_name"): p for p in self.agent_state().get("pods", [])
                    if p["labels"].get("osmo.workflow_id") == workflow_id}
            if (pods if task is None else task in pods) or time.monotonic() > deadline:
                return pods
            time.sleep(0.3)

    def set_task_status(self, workflow_id: str, task: str, status: str, *, exit_code: int | None = None,
                        message: str = "") -> None:
        """Report a pod status for ``task`` the way the backend listener does (``update_pod``)."""
        pods = self.task_pods(workflow_id, task=task)
        if task not in pods:
            raise StackError(f"no pod for task {task} of {workflow_id} (known: {sorted(pods)})")
        pod = pods[task]
        if exit_code is None and status == "COMPLETED":
            exit_code = 0
        self.agent_call({"cmd": "pod", "workflow_uuid": pod["workflow_uuid"], "task_uuid": pod["task_uuid"],
                         "retry_id": pod["retry_id"], "status": status, "exit_code": exit_code, "message": message})

    def write_task_logs(self, workflow_id: str, task: str, lines: list[str], *, io_type: str = "STDOUT") -> None:
        """Send log lines for a running task through its logger websocket, as ``osmo-ctrl`` does."""
        answer = self.agent_call({"cmd": "log", "workflow_id": workflow_id, "task": task, "retry_id": 0,
                                  "lines": lines, "io_type": io_type})
        if answer.get("error"):
            raise StackError(answer["error"])

    def query(self, workflow_id: str) -> dict[str, Any]:
        return json.loads(self.cli("workflow", "query", workflow_id, "--format-type", "json"))

    def wait_status(self, workflow_id: str, statuses: set[str] | frozenset[str], *, timeout: float = 30) -> dict[str, Any]:
        """The query JSON once the workflow's status is one of ``statuses`` (the worker moves it on
        asynchronously after a pod update)."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.query(workflow_id)
            if current["status"] in statuses:
                return current
            if time.monotonic() > deadline:
                raise StackError(f"{workflow_id} stayed {current['status']} (wanted {sorted(statuses)}) for {timeout}s")
            time.sleep(0.5)

    def wait_logs_stored(self, workflow_id: str, *, timeout: float = 60) -> None:
        """Wait until the worker has moved the finished workflow's log from Redis to storage
        (``<workflow_id>/workflow_logs.txt``): from then on ``-n`` tails file lines."""
        deadline = time.monotonic() + timeout
        while f"{workflow_id}/workflow_logs.txt" not in self.cli("data", "list", "--recursive", "--no-pager",
                                                                 self.bucket_url(workflow_id)).split():
            if time.monotonic() > deadline:
                raise StackError(f"the log of {workflow_id} was not moved to storage in {timeout}s")
            time.sleep(0.5)

    def run_task(self, workflow_id: str, task: str, *, status: str = "COMPLETED", exit_code: int | None = None,
                 message: str = "", logs: list[str] | None = None) -> None:
        """Take one task through RUNNING (with ``logs`` written while it runs) to ``status``."""
        self.set_task_status(workflow_id, task, "RUNNING")
        self._wait_task(workflow_id, task, {"RUNNING"})
        if logs:
            self.write_task_logs(workflow_id, task, logs)
        self.set_task_status(workflow_id, task, status, exit_code=exit_code, message=message)
        self._wait_task(workflow_id, task, {status, "FAILED"} if status.startswith("FAILED") else {status})

    def _wait_task(self, workflow_id: str, task: str, statuses: set[str], timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            tasks = {t["name"]: t["status"] for g in self.query(workflow_id).get("groups", []) for t in g["tasks"]}
            if tasks.get(task) in statuses:
                return
            if time.monotonic() > deadline:
                raise StackError(f"task {task} of {workflow_id} stayed {tasks.get(task)} (wanted {sorted(statuses)})")
            time.sleep(0.3)

    def put_object(self, key: str, data: bytes) -> None:
        """Write ``s3://BUCKET/key`` the way a task's output upload would. Unsigned: an explicit
        content type (urllib's default form type makes moto store an empty body) and a public-read
        ACL (moto refuses unsigned reads of private objects), so :meth:`get_object` can read it."""
        self._http("PUT", f"{self.s3_url}/{BUCKET}/{key.lstrip('/')}", data,
                   {"Content-Type": "application/octet-stream", "x-amz-acl": "public-read"})

    def get_object(self, key: str) -> bytes:
        """Read an object written by :meth:`put_object` (the CLI's uploads are private: unsigned reads get 403)."""
        return self._http("GET", f"{self.s3_url}/{BUCKET}/{key.lstrip('/')}")


# The control plane's interpreter: OSMO's locked requirements (hash-checked) plus moto for S3,
# with moto's own dependencies held to OSMO's pins (a newer urllib3/requests changes what the CLI
# sends: see skill/steps/preflight.py on `//api/pool_quota`).
MOTO_REQUIREMENT = "moto[s3,server]>=5,<6"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "vda-skill"


def osmo_venv_dir(source: Path) -> Path:
    """Where the control plane's venv for this checkout lives: keyed by its locked requirements,
    so a new OSMO tag gets a new venv and the same one is reused across sessions."""
    import hashlib

    locked = (source / "src" / "locked_requirements.txt").read_bytes()
    digest = hashlib.sha256(locked + MOTO_REQUIREMENT.encode()).hexdigest()[:12]
    return _cache_root() / f"osmo-controlplane-{digest}"


def find_python312() -> str | None:
    """$PYTHON312, else pyenv's newest 3.12, else python3.12 on PATH (as conformance_setup.sh)."""
    pyenv_root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    pyenv = sorted(pyenv_root.glob("versions/3.12*/bin/python3.12"),
                   key=lambda p: [int(x) if x.isdigit() else 0 for x in p.parts[-3].split(".")])
    for candidate in (os.environ.get("PYTHON312"), *(str(p) for p in reversed(pyenv)), shutil.which("python3.12")):
        if candidate and subprocess.run([candidate, "-c", "import sys; sys.exit(sys.version_info[:2] != (3, 12))"],
                                        capture_output=True, timeout=30).returncode == 0:
            return candidate
    return None


def ensure_osmo_python(source: Path, *, log=None) -> Path:
    """The venv's python, created on first use (a few minutes) and cached: OSMO's
    ``src/locked_requirements.txt`` with ``--require-hashes``, then moto constrained to those pins.
    A finished venv carries a ``.complete`` stamp; a half-built one is rebuilt."""
    locked = source / "src" / "locked_requirements.txt"
    if not locked.is_file():
        raise StackError(f"{source} has no src/locked_requirements.txt; VDA_OSMO_SOURCE must be an OSMO 6.3.1 checkout")
    venv = osmo_venv_dir(source)
    python = venv / "bin" / "python"
    if (venv / ".complete").exists() and python.exists():
        return python
    py312 = find_python312()
    if py312 is None:
        raise StackError("no Python 3.12 found for OSMO's control plane; set PYTHON312=/path/to/python3.12")
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    # constraints cannot carry extras or hashes: ``name==version`` only
    pins = []
    for line in locked.read_text().splitlines():
        if "==" in line and not line.startswith((" ", "#")):
            name, version = line.split("==", 1)
            pins.append(f"{name.split('[')[0].strip()}=={version.split()[0]}")
    pip = [str(python), "-m", "pip", "install", "--disable-pip-version-check"]
    constraints = venv / "osmo-pins.txt"
    steps = [[py312, "-m", "venv", str(venv)],
             [*pip, "--require-hashes", "--no-deps", "-r", str(locked)],
             [*pip, "-c", str(constraints), MOTO_REQUIREMENT]]
    with open(log, "ab") if log else open(os.devnull, "wb") as out:
        for step in steps:
            if step[-1] == MOTO_REQUIREMENT:
                constraints.write_text("\n".join(pins) + "\n")
            if subprocess.run(step, stdout=out, stderr=out, timeout=1800).returncode != 0:
                raise StackError(f"creating OSMO's venv {venv} failed at: {' '.join(step[2:7])} (log: {log or 'none'})")
    (venv / ".complete").write_text(MOTO_REQUIREMENT + "\n")
    return python


def from_env(root: Path) -> ControlPlane | None:
    """The control plane for ``VDA_OSMO_SOURCE``, or None when it is not set. Its interpreter is
    ``VDA_OSMO_CP_PYTHON`` when given (a 3.12 venv with OSMO's locked requirements and moto), else
    the cached venv :func:`ensure_osmo_python` builds on first use."""
    source = os.environ.get("VDA_OSMO_SOURCE")
    if not source:
        return None
    given = os.environ.get("VDA_OSMO_CP_PYTHON")
    python = Path(given) if given else ensure_osmo_python(Path(source).resolve(), log=root / "osmo-venv.log")
    return ControlPlane(source=Path(source).resolve(), python=python, root=root)


if __name__ == "__main__":  # pragma: no cover - scripts/dev/osmo_controlplane.py is the entry point
    sys.exit("run scripts/dev/osmo_controlplane.py")

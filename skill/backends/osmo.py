"""The OSMO backend: the real ``osmo`` CLI (6.3.1) driven through argv lists.

Discipline at the subprocess edge (STYLE.md §7): argv lists only, never a shell; a timeout on
every call; ``encoding="utf-8", errors="replace"``; values that would sit in a positional slot and
start with ``-`` are rejected; every failure passes through :func:`map_backend_errors`, the one
seam that turns exit codes and OS errors into :mod:`skill.errors` classes with a redacted argv.

Exit codes (the 6.3.1 CLI's): 0 ok; 1 submission error -> ``CommandFailed``; 2 usage/4xx ->
``CommandFailed`` (``NotFound`` when the server says so); 10 server/connection -> retried, then
``BackendUnavailable``; 2 with ``Must login first with "login" command`` -> ``BackendUnavailable``
(code ``not-logged-in``, remedy ``osmo login``); 75 rate limited -> retried, then ``RateLimited``. ``submit`` is retried
only on 75 (a 10 may come after the server created the workflow; the submit step then looks the
workflow up with :meth:`OsmoBackend.lookup_submitted` and adopts it instead of resubmitting).
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from skill.backends import _osmo_parse as parse
from skill.backends.base import CLUSTER_TRAITS
from skill.errors import (
    BackendTimeout,
    BackendUnavailable,
    CommandFailed,
    InputError,
    NotFound,
    RateLimited,
    SkillError,
)
from skill.paths import expand_user
from skill.statuses import CredentialInfo, PoolInfo, WorkflowStatus
from skill.workflow_spec import RenderedSpec
from skill.secrets import PUBLIC_CREDENTIAL_KEYS, REDACTED, redact

__all__ = ["OsmoBackend", "OsmoExit", "Runner", "map_backend_errors"]

log = logging.getLogger(__name__)

Runner = Callable[..., "subprocess.CompletedProcess[str]"]
"""``runner(argv, *, timeout) -> CompletedProcess[str]``; may raise FileNotFoundError,
PermissionError or subprocess.TimeoutExpired like :func:`subprocess.run`."""

RETRY_READ = frozenset({10, 75})
RETRY_SUBMIT = frozenset({75})
_CREDENTIAL_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
_SET_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]*$")
_CONFIG_KIND = re.compile(r"^[A-Z][A-Z_]*(:\d+)?$")
_TAIL_CHARS = 2000
# 6.3.1 applies -n to Redis stream entries while a log is live (a finished stream's end marker is
# one of them) and to file lines once the worker has moved the log to storage (a failed workflow's
# closing pointer block is 9 of them): ask for this many more; parse_logs drops the pointer block
# and keeps last_n lines.
_LOG_SLACK = 10


class OsmoExit(Exception):
    """A non-zero exit of the CLI, raised inside :func:`map_backend_errors` and translated there."""

    def __init__(self, returncode: int, stdout: str, stderr: str) -> None:
        self.returncode, self.stdout, self.stderr = returncode, stdout or "", stderr or ""
        super().__init__(f"osmo exited {returncode}")


def _mask(text: str, secrets: Sequence[str]) -> str:
    # values shorter than 3 characters are not masked inside free text (they would garble it);
    # argv items carrying them are masked whole by the caller
    for value in sorted((s for s in secrets if s and len(s) >= 3), key=len, reverse=True):
        text = text.replace(value, REDACTED)
    return redact(text)


def _command_name(argv: Sequence[str]) -> str:
    words = [a for a in argv[1:3] if not a.startswith("-")]
    return "osmo " + " ".join(words) if words else "osmo"


def _tail(stdout: str, stderr: str) -> str:
    text = "\n".join(part for part in (stdout.strip(), stderr.strip()) if part)
    return text[-_TAIL_CHARS:]


@contextmanager
def map_backend_errors(argv: Sequence[str], *, secrets: Sequence[str] = ()) -> Iterator[None]:
    """Translate everything the CLI can do wrong into a :class:`SkillError`, ``from`` the cause.

    ``argv`` is what ran; ``secrets`` are extra values (credential payloads) masked in the argv,
    the message and the output tail, on top of :func:`skill.secrets.redact`.
    """
    shown = [_mask(a, secrets) for a in argv]
    name = _command_name(shown)
    try:
        yield
    except SkillError:
        raise
    except (FileNotFoundError, NotADirectoryError) as exc:
        raise BackendUnavailable(
            "osmo CLI not found",
            remedy="Install the OSMO CLI, put `osmo` on PATH, then run `osmo login <service-url>`.",
            code="osmo-cli-missing",
        ) from exc
    except PermissionError as exc:
        raise BackendUnavailable(
            f"The osmo CLI at {shown[0]} is not executable.",
            remedy="Reinstall the OSMO CLI or fix the file's permissions.",
            code="osmo-cli-missing",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise BackendTimeout(
            f"{name} did not answer within {exc.timeout:g} s.",
            remedy="Check the OSMO service with `osmo version`, then retry the call.",
        ) from exc
    except OsmoExit as exc:
        raise _classify(exc, shown, name, secrets) from exc
    except (parse.UnparseableOutput, ValidationError) as exc:
        what = exc.what if isinstance(exc, parse.UnparseableOutput) else name
        raise CommandFailed(
            f"{name} printed output that could not be read ({_mask(str(getattr(exc, 'reason', 'invalid data')), secrets)}).",
            argv=shown,
            remedy=f"Check the CLI version with `osmo version` (6.3.1 expected) and rerun `{what}` by hand.",
            code="unparseable-output",
        ) from exc


def _classify(exc: OsmoExit, shown: list[str], name: str, secrets: Sequence[str]) -> SkillError:
    message = _mask(parse.error_message(exc.stdout, exc.stderr), secrets)[:400]
    tail = _mask(_tail(exc.stdout, exc.stderr), secrets)
    said = f": {message}" if message else "."
    if exc.returncode == 10:
        return BackendUnavailable(
            f"{name} could not reach the OSMO service (exit 10){said}",
            remedy="Check the network and the service with `osmo version`; run `osmo login <url>` if the session expired.",
        )
    if exc.returncode == 75:
        return RateLimited(f"{name} was rate limited by the OSMO service (exit 75){said}", remedy="Wait a minute, then retry.")
    if parse.needs_login(message):
        return BackendUnavailable(f"{name} needs a login{said}", remedy="Run `osmo login <service-url>`, then retry.", code="not-logged-in")
    if exc.returncode == 2 and parse.mentions_not_found(message):
        return NotFound(f"{name} failed{said}", remedy="Check the id or URL (e.g. `osmo workflow list`), then retry.")
    return CommandFailed(
        f"{name} failed (exit {exc.returncode}){said}",
        argv=shown,
        exit_code=exc.returncode,
        output_tail=tail,
        remedy="Read the server message above, fix the cause, and rerun once.",
    )


def _default_runner(argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        encoding="utf-8",
        errors="replace",
        timeout=timeout,
        check=False,
        stdin=subprocess.DEVNULL,
        shell=False,
    )


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _positional(value: str, what: str) -> str:
    """A value placed where argparse reads a positional: no leading ``-``, one printable line."""
    text = str(value)
    if not text or text.startswith("-"):
        raise InputError(
            f"The {what} must not be empty or start with '-'.",
            remedy=f"Pass the {what} itself (a value starting with '-' would be read as a flag).",
            code="invalid-argument",
        )
    if any(ch in text for ch in "\x00\r\n"):
        raise InputError(f"The {what} contains a line break or NUL byte.", remedy=f"Pass the {what} on one line.", code="invalid-argument")
    return text


class OsmoBackend:
    """:class:`skill.backends.base.Backend` over the ``osmo`` CLI."""

    name = "osmo"
    traits = CLUSTER_TRAITS
    requires_secrets = True

    def __init__(
        self,
        executable: str = "osmo",
        *,
        timeout: float = 60,
        retries: int = 3,
        backoff: float = 1.0,
        runner: Runner | None = None,
        sleep: Callable[[float], None] = time.sleep,
        logs_timeout: float = 5.0,
        transfer_timeout: float = 3600.0,
    ) -> None:
        if timeout <= 0 or logs_timeout <= 0 or transfer_timeout <= 0:
            raise ValueError("timeouts must be positive")
        if retries < 0 or backoff < 0:
            raise ValueError("retries and backoff must be >= 0")
        self.executable = executable
        self.timeout, self.logs_timeout, self.transfer_timeout = timeout, logs_timeout, transfer_timeout
        self.retries, self.backoff = retries, backoff
        self._runner: Runner = runner or _default_runner
        self._sleep = sleep

    # --- the one place that runs the CLI --------------------------------------------------------
    def _run(
        self,
        args: Sequence[str],
        *,
        timeout: float | None = None,
        retry_on: frozenset[int] = RETRY_READ,
        secrets: Sequence[str] = (),
        shown: Sequence[str] | None = None,
        parser: Callable[[str], Any] | None = None,
    ) -> Any:
        """Run ``osmo <args>`` with retries on ``retry_on`` exit codes; ``shown`` is the argv as it
        may appear in errors (defaults to the real one, redacted) and ``secrets`` are masked too."""
        argv = [self.executable, *args]
        limit = timeout or self.timeout
        display = [self.executable, *shown] if shown is not None else argv
        with map_backend_errors(display, secrets=secrets):
            for attempt in range(self.retries + 1):
                proc = self._runner(argv, timeout=limit)
                if proc.returncode in retry_on and attempt < self.retries:
                    delay = self.backoff * (2**attempt)
                    log.info("%s exited %s; retry %d in %.1fs", _command_name(argv), proc.returncode, attempt + 1, delay)
                    self._sleep(delay)
                    continue
                break
            if proc.returncode != 0:
                raise OsmoExit(proc.returncode, _text(proc.stdout), _text(proc.stderr))
            stdout = _text(proc.stdout)
            return parser(stdout) if parser else stdout

    # --- workflows -------------------------------------------------------------------------------
    def prewarmed(self) -> AbstractContextManager[None]:
        """Nothing to start ahead: the cluster starts the workflow."""
        return nullcontext()

    def submit(self, spec: RenderedSpec, *, pool: str | None = None) -> str:
        """``osmo workflow submit <file> [--pool P] --format-type json [--set ...] --set-string k=v ...``:
        the positional file first, ONE ``--set-string`` carrying every pair (rule single-set-string)."""
        if not spec.source:
            raise InputError(
                f"Workflow {spec.template} has no source file to submit.",
                remedy="Render the workflow from its YAML file (render_workflow) before submitting.",
                code="invalid-argument",
            )
        args = ["workflow", "submit", _positional(str(Path(spec.source).resolve()), "workflow file")]
        if pool is not None:
            args += ["--pool", _positional(pool, "pool name")]
        args += ["--format-type", "json"]
        if spec.set_values:
            args += ["--set", *self._pairs(spec.set_values)]
        if spec.values:
            args += ["--set-string", *self._pairs(spec.values)]
        return self._run(args, retry_on=RETRY_SUBMIT, parser=parse.parse_submit)

    @staticmethod
    def _pairs(values: dict[str, str]) -> list[str]:
        out = []
        for key, value in values.items():
            if not _SET_KEY.match(key):
                raise InputError(f"The submit key '{key[:40]}' is not a plain name.", remedy="Use keys like dataset or run_id.", code="invalid-set-pair")
            if any(ch in str(value) for ch in "\x00\r\n"):
                raise InputError(f"The value of {key} contains a line break or NUL byte.", remedy=f"Pass {key} on one line.", code="invalid-set-pair")
            out.append(f"{key}={value}")
        return out

    def query(self, workflow_id: str) -> WorkflowStatus:
        wid = _positional(workflow_id, "workflow id")
        return self._run(["workflow", "query", wid, "--format-type", "json"], parser=lambda out: parse.parse_query(out, wid))

    def wait_for_change(self, workflow_id: str, *, timeout_s: float) -> bool:
        """OSMO sends no change signal (``traits.signals_changes`` is False): sleep, report no change."""
        self._sleep(max(0.0, timeout_s))
        return False

    def logs(self, workflow_id: str, *, task: str | None = None, last_n: int = 200) -> str:
        """The last ``last_n`` lines. The CLI follows the stream while the workflow runs, so the call
        has a short timeout and returns whatever arrived by then."""
        if last_n < 1:
            raise InputError("last_n must be at least 1.", remedy="Ask for 1 or more log lines, e.g. 200.", code="invalid-argument")
        args = ["workflow", "logs", _positional(workflow_id, "workflow id")]
        if task is not None:
            args += ["--task", _positional(task, "task name")]
        args += ["-n", str(int(last_n) + _LOG_SLACK)]
        argv = [self.executable, *args]
        try:
            out = self._run(args, timeout=self.logs_timeout)
        except BackendTimeout as exc:
            cause = exc.__cause__
            if not isinstance(cause, subprocess.TimeoutExpired):
                raise
            log.debug("%s still streaming after %ss; returning what arrived", _command_name(argv), self.logs_timeout)
            out = _text(cause.output)
        return redact(parse.parse_logs(out, last_n))

    def cancel(self, workflow_id: str) -> None:
        wid = _positional(workflow_id, "workflow id")
        out = self._run(["workflow", "cancel", wid, "--format-type", "json"])
        failed = parse.parse_cancel(out)
        if failed:
            reason = redact(failed[1])
            cls = NotFound if parse.mentions_not_found(reason) else CommandFailed
            raise cls(f"osmo workflow cancel failed for {wid}: {reason}", remedy="Check the id with `osmo workflow query`; a finished workflow cannot be canceled.")

    def lookup_submitted(self, name: str, marker: str, *, limit: int = 20) -> str | None:
        """The newest of our workflows named ``<name>-<N>`` whose spec holds ``marker`` (the run id),
        or None: ``osmo workflow list --name`` then ``osmo workflow spec`` per candidate. Lets a
        submit that ended ambiguously (exit 10, timeout) adopt the workflow instead of resubmitting."""
        listed = self._run(["workflow", "list", "--name", _positional(name, "workflow name"), "--count", str(int(limit)),
                            "--order", "desc", "--format-type", "json"], parser=_workflow_names)
        own = re.compile(rf"^{re.escape(name)}-\d+$")
        for wid in (w for w in listed if own.match(w)):
            if marker in self._run(["workflow", "spec", _positional(wid, "workflow id")]):
                return wid
        return None

    # --- data ------------------------------------------------------------------------------------
    def data_list(self, url: str) -> list[str]:
        """Full URLs of every object under ``url``, at any depth (the CLI prints bucket-relative
        keys; they are joined back onto the bucket root so every backend answers alike).

        Always ``--recursive``: without it 6.3.1 lists one level and prints sub-folders as
        ``prefix/`` lines (S3 delimiter listing), so a run's ``outputs/`` would never arrive.
        ``--no-pager`` always, except on builds that reject it."""
        target = _positional(url, "storage URL")
        return parse.absolute_keys(target, self._list_keys(target))

    def _list_keys(self, target: str) -> list[str]:
        try:
            return self._run(["data", "list", "--recursive", "--no-pager", target], parser=parse.parse_data_list)
        except (CommandFailed, NotFound) as exc:
            cause = exc.__cause__
            if not (isinstance(cause, OsmoExit) and parse.is_unknown_flag(cause.stdout + "\n" + cause.stderr)):
                raise
            log.info("this osmo build has no --no-pager; listing without it")
        return self._run(["data", "list", "--recursive", target], parser=parse.parse_data_list)

    def data_download(self, url: str, dest: Path) -> list[Path]:
        target = _positional(url, "storage URL")
        folder = expand_user(dest).resolve()
        folder.mkdir(parents=True, exist_ok=True)
        before = _snapshot(folder)
        self._run(["data", "download", target, str(folder) + os.sep], timeout=self.transfer_timeout)
        after = _snapshot(folder)
        return sorted(p for p, stamp in after.items() if before.get(p) != stamp)

    def data_upload(self, url: str, paths: list[Path]) -> None:
        """``osmo data upload URL file...``: files land flat under URL; a folder contributes its
        children (``dir/*`` semantics), never itself."""
        target = _positional(url, "storage URL")
        files: list[str] = []
        for path in paths:
            resolved = expand_user(path).resolve()
            if not resolved.exists():
                raise InputError(f"{resolved} does not exist.", remedy="Pass existing files to upload.", code="not-found")
            files += [str(p) for p in sorted(resolved.iterdir())] if resolved.is_dir() else [str(resolved)]
        if not files:
            raise InputError("There is nothing to upload.", remedy="Pass at least one file.", code="invalid-argument")
        self._run(["data", "upload", target, *files], timeout=self.transfer_timeout)

    # --- cluster facts -----------------------------------------------------------------------------
    def pools(self) -> list[PoolInfo]:
        """``osmo pool list --format-type json``. A 404 for the route itself means this CLI's HTTP
        libraries turned its request into ``GET //api/pool_quota`` (urllib3 2.8 / requests 2.34
        instead of OSMO's pins): code ``osmo-cli-http-libraries``, with the fix."""
        try:
            return self._run(["pool", "list", "--format-type", "json"], parser=parse.parse_pools)
        except (NotFound, CommandFailed) as exc:
            cause = exc.__cause__
            if not (isinstance(cause, OsmoExit) and parse.is_route_404(cause.stdout, cause.stderr)):
                raise
            raise BackendUnavailable(
                "osmo pool list got HTTP 404 because this osmo CLI asks for `//api/pool_quota`, a path the service does "
                "not serve, which happens when it runs with urllib3 2.8 or requests 2.34 instead of OSMO's pins.",
                remedy="Install OSMO's pinned HTTP libraries into the osmo CLI's Python (pip install 'urllib3==2.7.0' "
                       "'requests==2.32.4') or use the packaged osmo CLI, then check with `osmo pool list` and rerun.",
                code="osmo-cli-http-libraries",
            ) from exc

    def credentials(self) -> list[CredentialInfo]:
        # --format-type belongs to the PARENT parser for credential (src/cli/credential.py)
        return self._run(["credential", "--format-type", "json", "list"], parser=parse.parse_credentials)

    def set_credential(self, name: str, type: str, payload: dict[str, str]) -> None:
        """``osmo credential set NAME --type T --payload-file k=PATH ...``.

        Payload values are secrets, so none of them rides in argv (the process list is readable by
        every local user): each value goes into its own 0600 file in a private 0700 temp folder,
        the CLI reads them (``--payload-file`` takes the whole file as the value), and the folder is
        removed whatever happens. 6.3.1 makes ``--payload`` and ``--payload-file`` exclusive, so
        public keys such as ``registry`` go through files too. Values stay masked in every error."""
        if not _CREDENTIAL_NAME.match(name or ""):
            raise InputError("The credential name must start with a letter and hold only letters, digits, - or _.",
                             remedy="Use a name like nvcr_io or hf_token.", code="invalid-argument")
        if type not in ("REGISTRY", "DATA", "GENERIC"):
            raise InputError("The credential type must be REGISTRY, DATA or GENERIC.", remedy="Pass one of the three types.", code="invalid-argument")
        if not payload:
            raise InputError("The credential payload is empty.", remedy="Pass at least one key=value.", code="invalid-argument")
        for key, value in payload.items():
            if not _SET_KEY.match(key or ""):
                raise InputError("A credential payload key is not a plain name.", remedy="Use keys like auth or token.", code="invalid-argument")
            if not value or any(ch in value for ch in "\x00\r\n"):
                # never echo the value: it may be a secret
                raise InputError(f"The credential payload value for {key} is empty or spans lines.",
                                 remedy=f"Pass {key} as one non-empty line.", code="invalid-argument")
        secret_values = [v for k, v in payload.items() if k not in PUBLIC_CREDENTIAL_KEYS]
        with _payload_files(payload) as items:
            argv = ["credential", "set", name, "--type", type, "--payload-file", *items]
            try:
                self._run(argv, secrets=secret_values)
            except CommandFailed as exc:
                # 6.3.1 upserts on the profile only: setting an existing name again (always for a
                # GENERIC credential, whose profile is NULL) fails on the primary key. Replace it.
                if "credential_pkey" not in (exc.message or ""):
                    raise
                log.info("credential %s exists; deleting it to set it again", name)
                self._run(["credential", "delete", name])
                self._run(argv, secrets=secret_values)

    def config_show(self, kind: str) -> dict:
        if not _CONFIG_KIND.match(kind or ""):
            raise InputError("The config kind must be an upper-case name such as POD_TEMPLATE.",
                             remedy="Pass one of SERVICE, WORKFLOW, POOL, POD_TEMPLATE, ...", code="invalid-argument")
        return self._run(["config", "show", kind], parser=lambda out: parse.parse_config(out, kind))

    def version(self) -> dict[str, str | None]:
        """``{"client": "6.3.1", "service": "6.3.1"}`` (None for a side the CLI did not report)."""
        return self._run(["version", "--format-type", "json"], parser=parse.parse_version)


def _workflow_names(out: str) -> list[str]:
    """Workflow ids from ``osmo workflow list --format-type json`` (``{"workflows": [{"name": ...}]}``)."""
    try:
        data = json.loads(out)
        return [str(w["name"]) for w in data["workflows"]]
    except (ValueError, TypeError, KeyError) as exc:
        raise parse.UnparseableOutput("osmo workflow list", f"not the workflow list JSON ({type(exc).__name__})") from exc


@contextmanager
def _payload_files(payload: dict[str, str]) -> Iterator[list[str]]:
    """``["key=/tmp/vda-cred-x/0", ...]``: one owner-only file per value, removed on exit."""
    folder = Path(tempfile.mkdtemp(prefix="vda-cred-"))  # mkdtemp creates it 0700
    try:
        items = []
        for index, (key, value) in enumerate(payload.items()):
            path = folder / str(index)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(value)  # no newline: the CLI takes the file's whole text as the value
            items.append(f"{key}={path}")
        yield items
    finally:
        _remove_private(folder)


def _remove_private(folder: Path) -> None:
    try:
        for child in folder.iterdir():
            child.unlink()
        folder.rmdir()
    except OSError as exc:
        # the folder holds secrets: say so loudly, without hiding the caller's own error
        log.warning("could not remove the credential payload folder %s (%s); delete it by hand", folder, type(exc).__name__)


def _snapshot(folder: Path) -> dict[Path, tuple[int, int]]:
    out: dict[Path, tuple[int, int]] = {}
    for path in folder.rglob("*"):
        if path.is_file():
            stat = path.stat()
            out[path] = (stat.st_mtime_ns, stat.st_size)
    return out

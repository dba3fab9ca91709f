"""Submit a flow once, with the canonical values, recorded in the run ledger.

The canonical submit is the one upstream documents for every flow: the workflow file, ``--pool``,
then ONE ``--set-string`` carrying every pair (rule ``single-set-string``), with both model-cache
URLs explicit (rule ``explicit-cache-urls``) and ``skills_dir`` absolute.

Idempotent per ``run_id`` (the ledger remembers each one):

* same run id, same values, a workflow id recorded -> that workflow id, ``reused: true``;
* same run id, other values or flow -> ``PolicyDenied("run-id-format")``: a new submit needs a fresh id;
* a previous attempt ended ambiguously (a timeout, ``osmo`` exit 10 or a kill after the server may
  have created the workflow, output that could not be read) -> the run's workflow is looked up
  before anything is sent again (:func:`find_run_workflow`: workflows named as our spec names
  them whose spec carries the run id); one found is adopted (recorded, ``reused: true``), a
  conclusive "none" allows one new attempt, a lookup that fails (or a backend that cannot look
  up) submits nothing and answers ``status: "uncertain"`` with the way to check by hand;
* a previous attempt was refused by the backend (exit 1/2: nothing runs) -> one new attempt is allowed.

The same lookup runs right after an ambiguous attempt, so its own answer is usually the adopted id.
Retries of one run id are serialised by an ``flock`` beside the ledger, so concurrent retries cannot
both conclude "none" and submit twice; the ledger keeps one workflow per run id.

An interpolation failure (``... is undefined`` / Jinja) is resubmitted once with the same canonical
shape, never more (rule ``single-interpolation-retry``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from skill.backends.base import Backend
from skill.errors import (
    BackendTimeout,
    BackendUnavailable,
    CommandFailed,
    InputError,
    PolicyDenied,
    SkillError,
)
from skill.flows import resolve_workflow
from skill.ledger import Ledger, RunRecord, values_hash
from skill.locks import held
from skill.models import (
    DatasetName,
    FlowName,
    OptionalSubmitValues,
    RunId,
    SubmitValues,
    ValueToken,
    VideoStem,
)
from skill.render import render_workflow
from skill.secrets import redact, redact_obj
from skill.steps.guard import canonical_pairs, new_run_id, video_problem
from skill.storage import output_url

__all__ = [
    "Attempt", "SubmitRequest", "SubmitResult", "command_argv", "find_run_workflow", "is_ambiguous", "is_interpolation_failure", "new_run_id",
    "submit", "submit_once",
]

log = logging.getLogger(__name__)

STALE_SUBMITTING_S = 900.0
"""A ``submitting`` row older than this is an interrupted attempt (the process died), not one in flight."""
_LOCK_WAIT_S = 120.0
_DEFINITE_BACKEND_CODES = frozenset({"osmo-cli-missing", "not-logged-in"})



class SubmitRequest(OptionalSubmitValues):
    """One workflow submit. Use the values a passing pre_submit_guard checked (same run_id)."""

    flow: FlowName = Field(description="auto_labeling | augmentation_and_al | e2e | e2e_super_resolution, e.g. augmentation_and_al.")
    dataset: DatasetName
    run_id: RunId | None = Field(default=None, description="run-<8 hex>, e.g. run-1a2b3c4d; the guard's run_id. Omit for a fresh one.")
    storage_url: ValueToken = Field(description="Prefix in front of /datasets/<dataset>, e.g. azure://acct/osmo-workflows.")
    gpu_platform: ValueToken = Field(description="Platform label an ONLINE pool shows, e.g. gpu.")
    video: VideoStem
    pool: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=128)] | None = Field(
        default=None, description="OSMO pool to submit to, e.g. default; omit for the profile's default pool."
    )


class SubmitResult(BaseModel):
    """What was submitted (or found already submitted) and where its outputs will land."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["submitted", "uncertain"] = Field(
        description="submitted: workflow_id is real; uncertain: a previous attempt timed out, follow remedy before anything else."
    )
    reused: bool = Field(description="True when this run_id was already submitted with the same values; nothing new was submitted.")
    workflow_id: str | None = Field(description="OSMO workflow id, e.g. vda-demo-3; None when uncertain.")
    run_id: str
    flow: str
    backend: str
    pool: str | None = None
    command: list[str] = Field(description="The equivalent `osmo workflow submit` argv, redacted, for display.")
    values: dict[str, str] = Field(description="The canonical --set-string pairs, redacted.")
    values_hash: str = Field(description="sha256 of the pairs; equals the guard's values_hash for the same values.")
    output_url: str = Field(description="<storage_url>/datasets/<dataset>-outputs/<run_id>, where the run writes.")
    attempts: int = Field(description="Backend submit calls made for this run id so far.")
    message: str
    remedy: str | None = None


def is_interpolation_failure(exc: CommandFailed) -> bool:
    """True when the backend refused the workflow because a template variable had no value.

    OSMO words every Jinja failure ``Jinja substitution failure: <class ...>: ...``; only an
    ``UndefinedError`` ("'x' is undefined") is an interpolation failure. A ``TemplateSyntaxError``
    (Jinja syntax inside an inlined file, e.g. bash ``${#arr[@]}``) fails the same way every time."""
    text = f"{exc.message}\n{exc.output_tail}"
    if "TemplateSyntaxError" in text or "syntax error" in text.lower():
        return False
    return "is undefined" in text or "UndefinedError" in text


def submit(req: SubmitRequest, *, backend: Backend, ledger: Ledger, render=render_workflow) -> SubmitResult:
    """Submit the flow with the canonical values; idempotent per run_id (see the module docs)."""
    problem = video_problem(req.video)
    if problem:
        raise InputError(f"video must be a bare file stem, but {problem}.", remedy="Pass the basename without folder or extension.", code="video-basename", rule="video-basename")
    run_id = req.run_id or new_run_id()
    fields = req.model_dump(exclude={"flow", "pool"}) | {"run_id": run_id}
    pairs = canonical_pairs(fields)
    try:
        SubmitValues.model_validate({k: v for k, v in pairs.items() if k not in ("workers", "n_augmentations")})
    except ValidationError as exc:
        names = sorted({".".join(str(p) for p in err["loc"]) for err in exc.errors()})
        raise InputError(f"Some submit values are malformed: {', '.join(names)}.", remedy="Fix those values (see pre_submit_guard for details).", code="invalid-values") from exc
    digest = values_hash(pairs)
    path = Path(resolve_workflow(req.flow))
    out = output_url(req.storage_url, req.dataset, run_id)
    command = command_argv(path, req.pool, pairs)

    def result(record: RunRecord, status: str, message: str, *, reused: bool = False, remedy: str | None = None) -> SubmitResult:
        return SubmitResult(
            status=status, reused=reused, workflow_id=record.workflow_id, run_id=run_id, flow=req.flow, backend=backend.name,
            pool=req.pool, command=command, values=redact_obj(pairs), values_hash=digest, output_url=out,
            attempts=record.attempts, message=redact(message), remedy=remedy,
        )

    fresh = f"Submit again with a fresh run_id, e.g. {new_run_id()}, after pre_submit_guard passes for it."
    attempt = submit_once(run_id=run_id, flow=req.flow, pairs=pairs, path=path, pool=req.pool, backend=backend, ledger=ledger,
                          render=render, fresh_remedy=fresh)
    record = attempt.record
    if attempt.outcome == "reused":
        return result(record, "submitted", f"Already submitted as {record.workflow_id}; nothing new was submitted.", reused=True)
    if attempt.outcome == "adopted":
        return result(record, "submitted", f"An earlier attempt of {run_id} had created {record.workflow_id} before it failed; "
                      "that workflow was found and adopted, nothing new was submitted.", reused=True)
    if attempt.outcome == "pending":
        return result(record, "uncertain", f"An earlier submit of {run_id} did not confirm a workflow id; it was not submitted again.",
                      remedy=_uncertain_remedy(req.dataset))
    if attempt.outcome == "timed_out":
        return result(record, "uncertain", f"The submit of {run_id} ended without a workflow id (a timeout or a lost answer); a workflow may exist.",
                      remedy=_uncertain_remedy(req.dataset))
    return result(record, "submitted", f"Submitted {req.flow} as {record.workflow_id}; outputs go to {out}.")


@dataclass(frozen=True)
class Attempt:
    """What :func:`submit_once` did for a run id.

    ``submitted``: a new workflow id is recorded. ``reused``: the run id was already submitted with
    these values; nothing was sent. ``adopted``: an ambiguous attempt had created the workflow; the
    lookup found it and it is recorded now. ``pending``: an earlier attempt never confirmed a workflow
    id and the lookup could not settle it, so nothing was sent (a workflow may exist). ``timed_out``:
    this attempt ended ambiguously (timeout, exit 10, unreadable answer) and the lookup found nothing yet.
    """

    outcome: Literal["submitted", "reused", "adopted", "pending", "timed_out"]
    record: RunRecord


def submit_once(
    *, run_id: str, flow: str, pairs: dict[str, str], path: Path, pool: str | None, backend: Backend, ledger: Ledger,
    render=render_workflow, fresh_remedy: str,
) -> Attempt:
    """Render ``path`` with ``pairs`` and submit it at most once per ``run_id`` (the ledger decides).

    A run id already used with other values or another flow is refused (rule ``run-id-format``,
    remedy ``fresh_remedy``). An interpolation failure is resubmitted once with the same canonical
    values, never more (rule ``single-interpolation-retry``). Render and backend errors mark the
    run failed in the ledger and propagate.
    """
    record, created = ledger.begin(run_id, flow, backend.name, pairs)
    marker = pairs.get("run_id")
    if not created:
        if record.values_hash != values_hash(pairs) or record.flow != flow:
            raise PolicyDenied(
                "run-id-format",
                f"run_id {run_id} was already used for a submit with other values; a run id is never reused for a new submit.",
                remedy=fresh_remedy,
            )
        if record.workflow_id:
            return Attempt("reused", record)
        with _run_id_lock(ledger, run_id):
            record = ledger.get(run_id) or record  # another process may have settled it while we waited
            if record.workflow_id:
                return Attempt("reused", record)
            if record.status == "submitting" and not _stale(record):
                return Attempt("pending", record)  # in flight elsewhere
            if record.status in ("uncertain", "submitting"):
                if not _can_look_up(backend, marker):
                    return Attempt("pending", record)
                found = _adopt(backend, ledger, run_id, path, pairs, marker, render)
                if found is not None:
                    return found  # adopted, or pending when the lookup could not tell
            record = ledger.retry(run_id)  # claimed under the lock: concurrent callers now see a fresh "submitting"

    try:
        spec = render(path, set_string=pairs)
    except SkillError as exc:
        ledger.mark(run_id, "failed", str(exc))
        raise

    retried = False
    while True:
        try:
            workflow_id = backend.submit(spec, pool=pool)
            break
        except SkillError as exc:
            if is_ambiguous(exc):
                # the server may have created the workflow: never resubmit blindly, look it up
                record = ledger.mark(run_id, "uncertain", str(exc))
                if _can_look_up(backend, marker):
                    with _run_id_lock(ledger, run_id):
                        found = _adopt(backend, ledger, run_id, path, pairs, marker, render, spec_name=spec.name)
                    if found is not None and found.outcome == "adopted":
                        return found
                return Attempt("timed_out", ledger.get(run_id) or record)
            if isinstance(exc, CommandFailed) and is_interpolation_failure(exc) and not retried:
                retried = True  # one canonical resubmit, never more (rule single-interpolation-retry)
                ledger.retry(run_id)
                continue
            ledger.mark(run_id, "failed", str(exc))
            if isinstance(exc, CommandFailed) and is_interpolation_failure(exc):
                raise CommandFailed(
                    "The workflow was refused twice for an undefined template variable; no further resubmit is made.",
                    argv=exc.argv, exit_code=exc.exit_code, output_tail=exc.output_tail,
                    remedy="Run pre_submit_guard with the same values to see which variable is missing, then submit with a fresh run_id.",
                    code="single-interpolation-retry",
                ) from exc
            raise
    return Attempt("submitted", ledger.record_workflow(run_id, workflow_id))


def is_ambiguous(exc: SkillError) -> bool:
    """True when a failed submit may still have created the workflow on the server.

    A timeout, an ``osmo`` exit 10 (server or connection error, which can follow the creation), a
    kill or an unknown exit code, and output that could not be read are ambiguous. A refusal (exit
    1/2, a 4xx, a bad argument), a rate limit (the server turned the request away) and a CLI that is
    missing or logged out (nothing was sent) are not."""
    if isinstance(exc, BackendTimeout):
        return True
    if isinstance(exc, BackendUnavailable):
        return exc.code not in _DEFINITE_BACKEND_CODES
    if isinstance(exc, CommandFailed):
        if exc.code == "unparseable-output":
            return True
        return exc.exit_code is not None and exc.exit_code not in (1, 2)
    return False


def find_run_workflow(backend: Backend, name: str, run_id: str) -> str | None:
    """The workflow an earlier attempt of ``run_id`` created, or None when the cluster shows none.

    Uses the backend's ``lookup_submitted(name, marker)`` (the OSMO backend lists workflows by the
    name our spec gives them and confirms the run id in each one's spec). Raises the backend's
    :class:`SkillError` when it cannot tell, and ``NotImplementedError`` for a backend that cannot look."""
    lookup = getattr(backend, "lookup_submitted", None)
    if lookup is None:
        raise NotImplementedError(backend.name)
    return lookup(name, run_id)


def _can_look_up(backend: Backend, marker: str | None) -> bool:
    return marker is not None and callable(getattr(backend, "lookup_submitted", None))


def _adopt(backend: Backend, ledger: Ledger, run_id: str, path: Path, pairs: dict[str, str], marker: str | None, render,
           *, spec_name: str | None = None) -> Attempt | None:
    """Adopt the run's workflow if the cluster has it. None: looked and found none (a new attempt
    may go out); ``Attempt("pending")`` when the lookup failed (nothing may go out)."""
    try:
        name = spec_name or render(path, set_string=pairs).name
        found = find_run_workflow(backend, name, marker)
    except SkillError as exc:
        log.info("looking up the workflow of %s failed (%s); nothing is resubmitted", run_id, exc.code)
        return Attempt("pending", ledger.mark(run_id, "uncertain"))
    if found is None:
        return None
    log.info("adopting %s for %s: an earlier ambiguous attempt created it", found, run_id)
    return Attempt("adopted", ledger.record_workflow(run_id, found))


def _stale(record: RunRecord) -> bool:
    try:
        updated = datetime.fromisoformat(record.updated_at)
    except ValueError:
        return True
    return (datetime.now(UTC) - updated).total_seconds() > STALE_SUBMITTING_S


@contextmanager
def _run_id_lock(ledger: Ledger, run_id: str) -> Iterator[None]:
    """An flock per run id beside the ledger, so one process at a time settles an uncertain run."""
    folder = Path(ledger.path).parent / "submit-locks"

    def unopenable(exc: OSError) -> SkillError:
        return SkillError(
            f"The submit lock for {run_id} cannot be opened ({type(exc).__name__}).",
            remedy="Check that the ledger's folder (.vda/ in the workspace) is writable, then retry.",
            code="ledger-unavailable",
        )

    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unopenable(exc) from exc
    with held(folder / f"{run_id}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, _LOCK_WAIT_S, unopenable=unopenable,
              busy=lambda: SkillError(
                  f"Another submit of {run_id} has held it for over {_LOCK_WAIT_S:.0f} s.",
                  remedy="Wait, then call submit again with the same values; it returns the workflow once known.",
                  code="submit-busy")):
        yield


def command_argv(path: Path, pool: str | None, pairs: dict[str, str]) -> list[str]:
    """The equivalent ``osmo workflow submit`` argv (one ``--set-string``), redacted, for display."""
    argv = ["osmo", "workflow", "submit", str(path)]
    if pool:
        argv += ["--pool", pool]
    argv += ["--set-string", *(f"{k}={v}" for k, v in pairs.items())]
    return [redact(a) for a in argv]


def _uncertain_remedy(dataset: str) -> str:
    return (
        f"Look for a workflow named {dataset}-<N> submitted just now (osmo workflow list -n {dataset}) and poll it if it exists; "
        f"otherwise submit again with a fresh run_id (e.g. {new_run_id()}) after pre_submit_guard passes for it."
    )

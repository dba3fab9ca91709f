"""Fill the model caches: submit the ``setup_model_cache`` workflow for one storage prefix.

The guard reports ``cache_missing`` with the remediation as data
(``{"workflow": "setup_model_cache", "set_string": {"storage_url": ..., "path": "data"}}``); this
step is that remediation. It renders ``assets/configs/osmo/setup_model_cache.yaml`` with exactly
those two values (one ``--set-string``), submits it once and records the submit in the run ledger
under a ``run_id``, so calling it again with the same id returns the same workflow instead of
submitting a second download (idempotent per ``run_id``):

* same run id, same values, a workflow id recorded -> that workflow id, ``reused: true``;
* same run id, other values -> ``PolicyDenied("run-id-format")``;
* an earlier attempt timed out before a workflow id came back -> nothing is submitted,
  ``status: "uncertain"`` says how to look for the workflow;
* an earlier attempt was refused by the backend -> one new attempt is made.

The workflow fills ``<storage_url>/<path>/models/cosmos_transfer`` and
``<storage_url>/<path>/models/auto_labeling``; poll it until COMPLETED, then rerun the guard.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skill.backends.base import Backend
from skill.flows import CACHE_WORKFLOW, resolve_workflow
from skill.ledger import Ledger, RunRecord
from skill.models import RunId
from skill.render import render_workflow
from skill.secrets import redact, redact_obj
from skill.steps.guard import new_run_id
from skill.steps.submit import command_argv, submit_once
from skill.storage import join, parse_storage_url

__all__ = ["CacheRequest", "CacheResult", "setup_model_cache"]

CachePath = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*$", max_length=200),
    Field(description="Cache root under storage_url, e.g. data."),
]


class CacheRequest(BaseModel):
    """Which storage prefix to fill, as the guard's remediation names it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    storage_url: Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)] = Field(
        description="The storage_url of the guard's remediation."
    )
    path: CachePath = "data"
    run_id: RunId | None = Field(
        default=None, description="run-<8 hex>; omit for a fresh one."
    )
    pool: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=128)] | None = Field(
        default=None, description="Pool for the downloads; default the profile's."
    )


class CacheResult(BaseModel):
    """The cache workflow that was submitted (or found already submitted) and where it writes."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["submitted", "uncertain"] = Field(
        description="submitted: workflow_id is real; uncertain: an earlier attempt timed out, follow remedy first."
    )
    reused: bool = Field(description="True when this run_id was already submitted with the same values.")
    workflow_id: str | None = Field(description="Workflow id of the cache download, e.g. setup_model_cache-1; None when uncertain.")
    run_id: str
    backend: str
    values: dict[str, str] = Field(description="The --set-string pairs (storage_url, path), redacted.")
    command: list[str] = Field(description="The equivalent `osmo workflow submit` argv, redacted, for display.")
    cache_urls: dict[str, str] = Field(description="Cache URL variable -> the URL this workflow fills.")
    attempts: int
    message: str
    next: str = Field(description="The call to make next.")
    remedy: str | None = None


def setup_model_cache(req: CacheRequest, *, backend: Backend, ledger: Ledger, render=render_workflow) -> CacheResult:
    """Submit ``setup_model_cache`` for ``req.storage_url``/``req.path``; idempotent per run_id."""
    storage_url = parse_storage_url(req.storage_url).url
    pairs = {"storage_url": storage_url, "path": req.path}
    run_id = req.run_id or new_run_id()
    path = Path(resolve_workflow(CACHE_WORKFLOW))
    command = command_argv(path, req.pool, pairs)
    filled = {
        "cosmos_model_cache_url": join(storage_url, req.path, "models", "cosmos_transfer"),
        "auto_labeling_model_cache_url": join(storage_url, req.path, "models", "auto_labeling"),
    }

    def result(record: RunRecord, status: str, message: str, *, reused: bool = False, remedy: str | None = None) -> CacheResult:
        nxt = (
            f"poll workflow_id={record.workflow_id} with wait=true until COMPLETED, then rerun pre_submit_guard with the same values"
            if record.workflow_id
            else remedy or "follow remedy"
        )
        return CacheResult(
            status=status, reused=reused, workflow_id=record.workflow_id, run_id=run_id, backend=backend.name,
            values=redact_obj(pairs), command=command, cache_urls=redact_obj(filled), attempts=record.attempts,
            message=redact(message), next=nxt, remedy=remedy,
        )

    fresh = f"Call setup_model_cache again with a fresh run_id, e.g. {new_run_id()}, or leave run_id out."
    attempt = submit_once(run_id=run_id, flow=CACHE_WORKFLOW, pairs=pairs, path=path, pool=req.pool, backend=backend,
                          ledger=ledger, render=render, fresh_remedy=fresh)
    record = attempt.record
    if attempt.outcome == "reused":
        return result(record, "submitted", f"The cache workflow of {run_id} was already submitted as {record.workflow_id}.", reused=True)
    if attempt.outcome == "pending":
        return result(record, "uncertain", f"An earlier cache submit of {run_id} did not confirm a workflow id; it was not submitted again.",
                      remedy=_uncertain_remedy())
    if attempt.outcome == "timed_out":
        return result(record, "uncertain", f"The cache submit of {run_id} timed out before a workflow id came back.", remedy=_uncertain_remedy())
    return result(record, "submitted", f"Submitted {CACHE_WORKFLOW} as {record.workflow_id}; it fills "
                  f"{filled['cosmos_model_cache_url']} and {filled['auto_labeling_model_cache_url']}.")


def _uncertain_remedy() -> str:
    return (
        f"Look for a workflow named {CACHE_WORKFLOW}-<N> submitted just now (osmo workflow list -n {CACHE_WORKFLOW}) and poll it if it exists; "
        f"otherwise call setup_model_cache again with a fresh run_id (e.g. {new_run_id()})."
    )

"""The one interface behind which workflows run: OSMO (``osmo`` CLI) or local (embedded executor).

Steps take ``backend: Backend`` and never know which one they hold. Every method raises only
:class:`skill.errors.SkillError` subclasses (``BackendUnavailable``, ``BackendTimeout``,
``RateLimited``, ``CommandFailed``, ``NotFound``, ``InputError``), already redacted.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from skill.statuses import CredentialInfo, PoolInfo, WorkflowStatus
from skill.workflow_spec import RenderedSpec

__all__ = ["CLUSTER_TRAITS", "Backend", "BackendName", "BackendTraits", "CredentialType"]

BackendName = Literal["local", "osmo"]
CredentialType = Literal["REGISTRY", "DATA", "GENERIC"]


@dataclass(frozen=True)
class BackendTraits:
    """What the steps may assume about a backend, so they never branch on its name."""

    probes_network: bool = True
    """Preflight probes registries and endpoints over the network (False: nothing is pulled)."""
    cluster_nims: bool = True
    """Labeling calls the in-cluster NIMs, so a run checks (and ensures) their health first."""
    engines_need_weights: bool = True
    """False for CPU engines: the model caches only need a manifest saying no weights are used."""
    local_engines: bool = False
    """Tasks run on this machine: the CPU engines exist, and a GPU engine needs this machine's GPU."""
    storage_url: str | None = None
    """Where uploads go when the user names no storage prefix (None: the user must name one)."""
    gang_scheduled: bool = True
    """The pool starts a group only when it can place every task of it at once (OSMO): a run whose
    stage groups would be wider than one batch fans out into batches (:mod:`skill.fanout`)."""
    worker_slots: int | None = None
    """Worker tasks per stage this backend can run at once on its own cores (local: the CPUs this
    process may use); a run then gets at least that many workers (one per config at most), so no
    core idles while configs wait. None: workers come from batch_size alone (a cluster schedules)."""
    run_cache_root: str | None = None
    """Folder whose ``<workflow_id>/cache`` holds work a run's tasks did ahead for the steps after it
    (local: its workflows folder; see :mod:`skill.side_by_side`). None: tasks prepare nothing."""
    poll_interval_s: float = 15.0
    poll_max_interval_s: float = 60.0
    signals_changes: bool = False
    """``wait_for_change`` returns as soon as a workflow's state changes (the local runner signals it),
    so a poller blocks there between reads instead of sleeping; False: it sleeps on its backoff."""
    atomic_downloads: bool = False
    """``data_download`` writes each file under a temporary name and renames it into place (local
    storage), so staging may download straight into the run folder; False: into a scratch folder
    first (a CLI download may leave a partial file under its final name)."""


CLUSTER_TRAITS = BackendTraits()


@runtime_checkable
class Backend(Protocol):
    """What a place that runs VDA workflows must offer."""

    name: BackendName
    traits: BackendTraits
    requires_secrets: bool
    """False when nothing this backend runs pulls images or gated weights (the local CPU engines):
    preflight then reports the secrets it found without requiring any."""

    def prewarmed(self) -> AbstractContextManager[None]:
        """A submit is coming within this block: start ahead whatever its start will wait for (the
        local backend: the runner and its engines' imports), and let go of what no submit used when
        the block ends. Best effort; a block that does nothing where nothing helps."""
        ...

    def submit(self, spec: RenderedSpec, *, pool: str | None = None) -> str:
        """Submit a rendered spec (its template + ``spec.values`` for OSMO); return the workflow id."""
        ...

    def query(self, workflow_id: str) -> WorkflowStatus:
        """Workflow status with its groups and tasks (OSMO's statuses)."""
        ...

    def wait_for_change(self, workflow_id: str, *, timeout_s: float) -> bool:
        """Block until the workflow's state may have changed since the last ``query`` of it, at most
        ``timeout_s`` seconds; True when a change was signalled, False when the time ran out. Pollers
        call it only when ``traits.signals_changes``; a backend without the signal sleeps the timeout."""
        ...

    def logs(self, workflow_id: str, *, task: str | None = None, last_n: int = 200) -> str:
        """The last ``last_n`` log lines, in OSMO's line format ``YYYY/MM/DD HH:MM:SS [task] line``."""
        ...

    def cancel(self, workflow_id: str) -> None:
        """Ask the workflow to stop; it ends as FAILED_CANCELED."""
        ...

    def data_list(self, url: str) -> list[str]:
        """Object keys under a storage URL (empty list when there are none)."""
        ...

    def data_download(self, url: str, dest: Path) -> list[Path]:
        """Copy the objects under ``url`` into ``dest`` (keys relative to the URL); return local files."""
        ...

    def data_upload(self, url: str, paths: list[Path]) -> None:
        """Upload files flat under ``url`` (``osmo data upload url dir/*`` semantics)."""
        ...

    def pools(self) -> list[PoolInfo]:
        """Pools with their status and the platform labels they offer."""
        ...

    def credentials(self) -> list[CredentialInfo]:
        """Credentials stored for the user (names, types, profiles; never values)."""
        ...

    def set_credential(self, name: str, type: CredentialType, payload: dict[str, str]) -> None:
        """Create or replace a credential."""
        ...

    def config_show(self, kind: str) -> dict:
        """Service configuration of one kind (e.g. POD_TEMPLATE) as JSON."""
        ...

"""Before a labeling run on a cluster: make sure the NIMs it calls are there.

The skill's inference policy as one step that ``vda run`` (and anything else that submits) calls:
reuse healthy NIMs; when one is missing or broken, deploy or repair exactly the allow-list once
(:func:`skill.steps.nim_ensure.nim_ensure`, ETA first), then wait until both serve; while weights
download, wait. When the NIMs cannot be seen from here at all, say so and go on: off-cluster is
not evidence that they are missing, and the labeling tasks inside the cluster can still reach them.

Nothing here can scale down, patch or delete a NIM: it only composes the read-only health check and
the allow-listed installer (rule ``no-nim-scale-down``; ``nim-allow-list`` is the installer's wall).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.errors import BackendError
from skill.models import NimGateMode
from skill.steps.nim import NimHealthRequest, NimHealthResult, nim_health
from skill.steps.nim_ensure import ETA, NimEnsureRequest, nim_ensure

__all__ = ["NimGateMode", "NimGateResult", "ensure_nims_ready"]

Say = Callable[[str], None]


class NimGateResult(BaseModel):
    """``outcome``: ``healthy`` (reused as they are), ``deployed`` (the installer ran, then both
    served), ``unseen`` (could not look from here; the run went on), ``skipped`` (not asked)."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["healthy", "deployed", "unseen", "skipped"]
    looked_via: list[str] = Field(default_factory=list)
    statement: str


def _failure(health: NimHealthResult, what: str, remedy: str) -> BackendError:
    first = health.findings[0] if health.findings else None
    detail = f" ({first.code}: {first.message.rstrip('.')})" if first else ""
    return BackendError(f"{what}{detail}.", remedy=first.remedy if first and not remedy else remedy, code="nim-not-ready")


def _wait_until_serving(health: NimHealthResult, *, say: Say, wait_s: float, interval_s: float,
                        check: Callable[[], NimHealthResult], sleep: Callable[[float], None]) -> NimHealthResult:
    deadline = time.monotonic() + wait_s
    while health.action == "wait":
        if time.monotonic() >= deadline:
            raise _failure(health, f"The NIMs were still loading after {wait_s / 60:.0f} min",
                           "Check them with `vda nim health` and run again once both are Ready (never install a second time).")
        say("NIMs still downloading or loading; checking again shortly.")
        sleep(interval_s)
        health = check()
    return health


def ensure_nims_ready(
    mode: NimGateMode = "ensure",
    *,
    say: Say = lambda _line: None,
    wait_s: float = 1800.0,
    interval_s: float = 30.0,
    check: Callable[[], NimHealthResult] | None = None,
    ensure: Callable[..., object] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> NimGateResult:
    """Reuse, deploy-then-wait, or wait for the allow-listed NIMs; raise ``nim-not-ready`` when they
    cannot serve. ``check``/``ensure``/``sleep`` are the seams tests replace (the steps run for real
    by default)."""
    if mode == "skip":
        return NimGateResult(outcome="skipped", statement="NIM health was not checked (asked to skip).")
    look = check or (lambda: nim_health(NimHealthRequest()))
    health = look()
    say(f"NIM health: {health.action} (looked via {', '.join(health.looked_via) or 'nothing'}).")
    deployed = False
    if health.action == "install":
        if mode == "check":
            raise _failure(health, "A NIM the labeling needs is missing or unhealthy",
                           "Run `vda nim ensure --apply` once (it deploys exactly qwen3-vl and qwen25-14b), then run again.")
        say(ETA)
        ensured = (ensure or nim_ensure)(NimEnsureRequest(apply=True), on_progress=say)
        outcome = getattr(ensured, "outcome", None)
        if outcome not in ("ran", "nothing", "wait"):
            findings = getattr(ensured, "findings", [])
            first = findings[-1] if findings else None  # the blocker or failure comes last, after what was seen
            raise BackendError(
                f"The NIM deploy ended {outcome}" + (f" ({first.code}: {first.message.rstrip('.')})" if first else "") + ".",
                remedy=first.remedy if first else "Read the installer output (vda nim ensure), fix the cause, then run again.",
                code="nim-not-ready",
            )
        deployed = True
        health = look()
    health = _wait_until_serving(health, say=say, wait_s=wait_s, interval_s=interval_s, check=look, sleep=sleep)
    if health.action == "reuse":
        via = list(health.looked_via)
        if deployed:
            return NimGateResult(outcome="deployed", looked_via=via, statement="The NIMs qwen3-vl and qwen25-14b were deployed by the allow-listed installer, then served.")
        return NimGateResult(outcome="healthy", looked_via=via, statement="The in-cluster NIMs were healthy and reused as they are.")
    if health.action == "unknown":
        return NimGateResult(outcome="unseen", looked_via=list(health.looked_via),
                             statement="NIM health could not be seen from here (no kube context reaches the cluster); the labeling tasks call them from inside it.")
    raise _failure(health, "The NIMs are still not healthy after the deploy",
                   "Check them with `vda nim health` and the installer output; do not scale down or delete a NIM.")

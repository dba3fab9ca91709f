"""ETAs from the real inputs: how many clips, how long, how large.

The work of a run is counted in *units*: seconds of clip × megapixels per frame (1280x720 = 0.92) ×
passes (augmenting flows render and label each augmentation; the labeling flows label the
original). On the local backend the wall time is ``fixed + rate × units``, with ``fixed`` and
``rate`` measured on this machine: every completed run refines them (a running mean, stored in
``<workspace>/.vda/eta/local.json``); before the first measurement a default model measured on a
2-core machine is used, with a wider range. On OSMO the upstream table is scaled by the clip length (it
was measured for ~10 s clips; the GPU share grows with clip length, the fixed part does not).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from skill import flows
from skill.backends._local_io import temp_name
from skill.backends.base import BackendName
from skill.paths import workspace_dir

__all__ = ["ClipShape", "LocalRate", "estimate", "estimate_batches", "record_run", "work_units"]

_REFERENCE_MEGAPIXELS = 1280 * 720 / 1e6
_UPSTREAM_CLIP_SECONDS = 10.0
_OSMO_FIXED_SHARE = 0.4  # of upstream's flow minutes: setup, container start, model load
_PRIOR = (1.0, 0.35)  # fixed s, s per unit: the CPU engines on 2 cores (benchmarks/bench_eta.py, an 80 s 768x576 e2e run)


class ClipShape(BaseModel):
    model_config = ConfigDict(frozen=True)
    seconds: float = Field(gt=0)
    width: int = Field(gt=0)
    height: int = Field(gt=0)


class LocalRate(BaseModel):
    """This machine's measurements of one flow, kept as weighted sums so ``fixed + rate × units``
    is a least-squares fit (older runs fade: each new run weighs as much as all before it × 7/8)."""

    model_config = ConfigDict(extra="forbid")
    runs: int = Field(default=0, ge=0)
    n: float = 0.0
    su: float = 0.0
    st: float = 0.0
    suu: float = 0.0
    sut: float = 0.0

    def add(self, units: float, wall_s: float) -> LocalRate:
        keep = 0.875 if self.runs >= 8 else 1.0
        return LocalRate(runs=self.runs + 1, n=self.n * keep + 1, su=self.su * keep + units, st=self.st * keep + wall_s,
                         suu=self.suu * keep + units * units, sut=self.sut * keep + units * wall_s)

    def fit(self) -> tuple[float, float]:
        """``(fixed_s, seconds_per_unit)``, least squares over the runs seen."""
        mean_u, mean_t = self.su / self.n, self.st / self.n
        var = self.suu / self.n - mean_u * mean_u
        if var > 1e-9 * max(mean_u * mean_u, 1e-12):
            rate = max((self.sut / self.n - mean_u * mean_t) / var, 0.0)
            fixed = max(mean_t - rate * mean_u, 0.0)
            return fixed, rate
        # one size seen so far: keep the default rate, fit the fixed part (all of it rate when that goes negative)
        fixed = mean_t - _PRIOR[1] * mean_u
        if fixed >= 0:
            return fixed, _PRIOR[1]
        return 0.0, mean_t / mean_u if mean_u > 0 else _PRIOR[1]


def work_units(flow: str, clips: list[ClipShape], augmentations: int = 1) -> float:
    info = flows.get_flow(flow)
    passes = (augmentations * 2 if info.augments else 0) + (1 if info.labels_original else 0)
    return sum(c.seconds * (c.width * c.height / 1e6) / _REFERENCE_MEGAPIXELS for c in clips) * max(passes, 1)


def _store() -> Path:
    return Path(os.environ.get("VDA_ETA_STORE") or workspace_dir() / ".vda" / "eta" / "local.json")


def _load() -> dict[str, LocalRate]:
    try:
        raw = json.loads(_store().read_text(encoding="utf-8"))
        return {k: LocalRate.model_validate(v) for k, v in raw.items()}
    except (OSError, ValueError):
        return {}


def _minutes(seconds: float) -> float:
    return round(seconds / 60, 3)


def estimate(flow: str, backend: BackendName, clips: list[ClipShape], augmentations: int = 1) -> flows.Eta:
    """The Eta for these clips. Local: measured rate when this machine has one (range 0.7-1.4× the
    prediction), else the catalogue's static rate over the clips' total length. OSMO: upstream's
    table with its clip-dependent share scaled by total clip length / 10 s."""
    base = flows.eta(flow, backend=backend, clip_seconds=sum(c.seconds for c in clips) or None) if backend == "local" else flows.eta(flow, backend=backend)
    if not clips or flow == flows.CACHE_WORKFLOW:
        return base
    if backend == "local":
        rate = _load().get(flows.canonical_name(flow))
        if rate is None or rate.runs == 0:
            fixed, per_unit, low, high = *_PRIOR, 0.5, 2.0
            basis = f"the default model for a small CPU ({fixed:.0f} s + {per_unit:.2f} s per clip-second at 720p per pass; refined after each run here)"
        else:
            (fixed, per_unit), low, high = rate.fit(), 0.7, 1.4
            basis = f"measured on this machine over {rate.runs} run(s): {fixed:.1f} s + {per_unit:.2f} s per clip-second at 720p per pass"
        predicted = fixed + per_unit * work_units(flow, clips, augmentations)
        window = flows.MinuteRange(min_minutes=_minutes(low * predicted), max_minutes=max(_minutes(high * predicted), 0.002))
        return base.model_copy(update={"flow_minutes": window, "minutes_per_clip_second": None, "basis": basis})
    scale = sum(c.seconds for c in clips) / _UPSTREAM_CLIP_SECONDS
    low, high = base.flow_minutes.min_minutes, base.flow_minutes.max_minutes
    fit = lambda m: round(m * _OSMO_FIXED_SHARE + m * (1 - _OSMO_FIXED_SHARE) * scale, 1)  # noqa: E731
    basis = f"upstream's table scaled to {sum(c.seconds for c in clips):.0f} s of clip"
    return base.model_copy(update={"flow_minutes": flows.MinuteRange(min_minutes=fit(low), max_minutes=fit(high)), "basis": basis})


def estimate_batches(flow: str, backend: BackendName, clips: list[ClipShape], augmentations: int, *, batches: int, max_in_flight: int) -> flows.Eta:
    """The Eta of a run fanned out into ``batches`` workflows, ``max_in_flight`` at once. On a cluster
    every batch gets its own GPUs, so the run takes one batch's time per wave of batches; on this
    machine the batches share its cores, so the whole run's work decides (plus a start per batch)."""
    waves = math.ceil(batches / max(1, max_in_flight))
    if backend == "local":
        whole = estimate(flow, backend, clips, augmentations)
        extra = _minutes(_PRIOR[0] * (batches - 1))
        window = flows.MinuteRange(min_minutes=round(whole.flow_minutes.min_minutes + extra, 3), max_minutes=round(whole.flow_minutes.max_minutes + extra, 3))
        return whole.model_copy(update={"flow_minutes": window, "basis": f"{whole.basis}; {batches} batches sharing this machine"})
    per_batch = clips[: math.ceil(len(clips) / batches)] if clips else []
    one = estimate(flow, backend, per_batch, augmentations)
    window = flows.MinuteRange(min_minutes=round(one.flow_minutes.min_minutes * waves, 1), max_minutes=round(one.flow_minutes.max_minutes * waves, 1))
    return one.model_copy(update={"flow_minutes": window, "basis": f"{one.basis}, per batch of {len(per_batch) or 'its'} clip(s); "
                                  f"{batches} batches, {max_in_flight} at once: {waves} wave(s)"})


def record_run(flow: str, clips: list[ClipShape], augmentations: int, wall_s: float) -> LocalRate:
    """Refine this machine's model of ``flow`` with one completed local run and store it."""
    name = flows.canonical_name(flow)
    units = work_units(name, clips, augmentations)
    rates = _load()
    if units <= 0 or not math.isfinite(wall_s) or wall_s <= 0:
        return rates.get(name) or LocalRate()
    rates[name] = (rates.get(name) or LocalRate()).add(units, wall_s)
    path = _store()
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = temp_name(path, "partial")  # unique per writer: two runs in one process end at once
    partial.write_text(json.dumps({k: v.model_dump() for k, v in rates.items()}, indent=2) + "\n", encoding="utf-8")
    partial.replace(path)
    return rates[name]

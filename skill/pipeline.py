"""A whole VDA run as one plain function, going through the same steps an agent would:
select flow → inputs checked and brought to <stem>.mp4 → ETA → preflight → NIM gate (cluster) →
upload into the run's own dataset (or the demo's) → guard (→ setup_model_cache → guard) → submit →
poll → stage → one side-by-side per augmented clip → summaries.

``vda run`` wraps it; so can the MCP server and the chat agent. Input is validated before anything
is uploaded or submitted (missing, empty, truncated or non-video files are refused up front). Each
stage below is a small function; :func:`run_pipeline` only strings them together. A run whose clips
make more than one batch on a gang-scheduled pool is driven batch by batch (:mod:`skill.steps.batches`);
:func:`resume_pipeline` carries such a run on from the ledger.

Size: every stage reads and fills the one ``_Run`` record, and the fan-out branch reuses the stage
and render stages as they are; split along the stages, each part would import the others.
"""

from __future__ import annotations

import json
import math
import secrets
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skill import fanout, flows, storage
from skill.backends.base import Backend
from skill.demo_source import DEMO_DATASET_NAME, DEMO_REPO
from skill.endpoints import normalize_url
from skill.engine_choice import (
    AugmentEngine,
    LabelEngine,
    ModelName,
    endpoint_wait_s,
    engine_problems,
    fill_engine_values,
    probe_endpoints,
    raise_first,
)
from skill.errors import BackendError, InputError, NotFound, SkillError, UserInputRequired
from skill.conditions import cookbook_augmentations, format_conditions, resolve_conditions
from skill.eta_model import ClipShape, estimate, estimate_batches, record_run
from skill.ingest import IngestedVideo, collect_videos, to_workflow_video
from skill.ledger import Ledger
from skill.models import DEFAULT_COOKBOOK, CookbookName, DatasetName, NimGateMode
from skill.side_by_side import run_cache_dir
from skill.steps import batches
from skill.steps.compare import CompareRequest, render_side_by_side
from skill.steps.guard import GuardRequest, GuardResult, new_run_id, pre_submit_guard
from skill.steps.monitor import PollRequest, PollResult, ProgressEvent, poll
from skill.steps.preflight import PreflightRequest, preflight
from skill.steps.stage import LabelSummary, StageRequest, stage_artifacts
from skill.steps.submit import SubmitRequest, submit
from skill.video_types import WORKFLOW_SUFFIX, is_video_name

__all__ = ["RunEvent", "RunRequest", "RunResult", "resume_pipeline", "run_failure", "run_pipeline"]



class RunRequest(BaseModel):
    """What to run. Give videos (files or folders), a folder, or a dataset URL; with none, the VDA
    demo dataset is used."""

    model_config = ConfigDict(extra="forbid")
    videos: list[str] = Field(default_factory=list, description="Local video files or folders of them, e.g. ['clips/a.mov'].")
    folder: str | None = Field(default=None, description="Local folder of videos (or one video file).")
    dataset_url: str | None = Field(default=None, description="Existing dataset on storage, <prefix>/datasets/<name>.")
    text: str | None = Field(default=None, description="The request in words, used to pick the flow, e.g. 'label only'.")
    flow: str | None = Field(default=None, description="Explicit flow; wins over text.")
    cookbook: CookbookName | None = None
    dataset: DatasetName | None = Field(default=None, description="Dataset name for uploaded videos; default one of the run's own, clips-<run>.")
    augmentations: int | None = Field(default=None, ge=1, le=16, description="Augmentations per video; default the cookbook's.")
    batch_size: int = Field(default=4, ge=1, le=256, description="Most configs per worker task: workers = ceil(configs / batch_size), more on a backend sized to its cores (local: up to one per core); configs per batch when fanning out.")
    max_in_flight: int | None = Field(default=None, ge=1, le=1000, description="Fan out into one workflow per batch, at most this many in flight (default on a gang-scheduled pool: its free GPUs).")
    demo: bool = Field(default=False, description="Use the VDA demo dataset explicitly.")
    pool: str | None = None
    gpu_platform: str | None = None
    timeout_s: float = Field(default=3600.0, ge=10, le=86400)
    conditions: dict[str, str] = Field(default_factory=dict, description="Looks to fix, variable -> option[|option], e.g. {'weather': 'rain'}; the request's words add to them.")
    seed: int | None = Field(default=None, ge=0, le=999_999_999_999, description="Sampling seed: the same seed draws the same looks; default a fresh one.")
    nims: NimGateMode = Field(default="ensure", description="Cluster runs: ensure (reuse healthy NIMs, else deploy the allow-list once, then wait), check (fail when not healthy) or skip.")
    # engine choice (issue 11): None = the backend's own engines (classic here, the containers on OSMO)
    label_engine: LabelEngine | None = Field(default=None, description="classic (CPU, local only) or nim (OpenAI-compatible VLM/LLM at vlm_url).")
    augment_engine: AugmentEngine | None = Field(default=None, description="classic (CPU, local only) or cosmos (Cosmos Transfer 2.5, GPU).")
    vlm_url: str | None = Field(default=None, max_length=2048, description="OpenAI-compatible VLM base URL the user gave, e.g. http://127.0.0.1:8000/v1.")
    llm_url: str | None = Field(default=None, max_length=2048, description="LLM base URL; default the VLM's.")
    vlm_model: ModelName | None = None
    llm_model: ModelName | None = None


class RunEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: str
    message: str
    data: dict[str, Any] = Field(default_factory=dict)


class RunResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    status: str = Field(description="Final workflow status, e.g. COMPLETED.")
    flow: str
    backend: str
    run_id: str
    workflow_id: str | None = Field(description="The workflow's id; None for a run fanned out into batches (see batches).")
    dataset: str
    storage_url: str
    input_source: Literal["user", "demo"]
    eta: str
    clips: list[str] = Field(default_factory=list, description="The clip stems this run processed.")
    conditions: dict[str, list[str]] = Field(default_factory=dict, description="The looks asked for (variable -> options), fixed for every clip.")
    seed: int | None = Field(default=None, description="The sampling seed; pass it again to draw the same looks.")
    elapsed_s: float | None = Field(default=None, description="Wall time of the whole run, to set beside the ETA.")
    workflow_s: float | None = Field(default=None, description="Wall time from submit to the workflow's end (what the ETA's workflow minutes estimate).")
    local_run_dir: str | None = None
    media_lines: list[str] = Field(default_factory=list)
    sampled_vars: dict[str, dict[str, Any]] = Field(default_factory=dict)
    augmented_labels: dict[str, LabelSummary] = Field(default_factory=dict)
    original_labels: dict[str, LabelSummary] = Field(default_factory=dict)
    statements: list[str] = Field(default_factory=list, description="Sentences the final summary must carry.")
    failed_tasks: list[str] = Field(default_factory=list)
    log_tail: dict[str, str] = Field(default_factory=dict)
    hint: str | None = None
    batches: int | None = Field(default=None, description="Batches of a fanned-out run (one workflow each); None for one workflow.")


Emit = Callable[[RunEvent], None]


def _quiet(_: RunEvent) -> None:
    return None


# --- input -------------------------------------------------------------------------------------


def worker_count(flow: str, videos: int, augmentations: int, batch_size: int, slots: int | None = None) -> int:
    """W = ceil(configs / batch_size), raised to ``slots`` (the backend's own cores, see
    ``BackendTraits.worker_slots``) but never above one worker per config; at least 1, at most 64.
    So a worker never takes more than batch_size configs, and on this machine no core waits while
    configs queue behind one worker."""
    configs = videos * (augmentations if flows.get_flow(flow).augments else 1)
    return max(1, min(64, max(math.ceil(configs / batch_size), min(configs, slots or 0))))


# --- the run's state, as the stages fill it in -----------------------------------------------------


@dataclass
class _Run:
    req: RunRequest
    backend: Backend
    ledger: Ledger
    emit: Emit
    scratch: Path
    run_id: str = field(default_factory=new_run_id)
    flow: str = ""
    eta: str = ""
    clips: list[IngestedVideo] = field(default_factory=list)
    source: Literal["user", "demo"] = "user"
    storage_url: str = ""
    dataset: str = ""
    stems: list[str] = field(default_factory=list)
    gpu_platform: str = ""
    statements: list[str] = field(default_factory=list)
    conditions: dict[str, list[str]] = field(default_factory=dict)
    seed: int | None = None

    def say(self, stage: str, message: str, **data: Any) -> None:
        self.emit(RunEvent(stage=stage, message=message, data=data))

    @property
    def info(self) -> flows.FlowInfo:
        return flows.get_flow(self.flow)

    @property
    def dataset_url(self) -> str:
        return storage.join(self.storage_url, "datasets", self.dataset)


def _choose_flow(run: _Run) -> None:
    choice = flows.route(run.req.text or "augment and label my videos", flow=run.req.flow, backend=run.backend.name)
    if not choice.flow:
        names = ", ".join(f.name for f in flows.catalogue() if f.kind == "flow")
        raise InputError("The request does not ask for a run.", remedy=f"Name a flow with --flow ({names}).", code="not-a-run")
    run.flow = choice.flow
    run.say("flow", f"Flow {run.flow}: {choice.reason}", flow=run.flow)


def _choose_looks(run: _Run) -> None:
    """Augmenting flows: the looks asked for (request words + explicit pairs, checked against the
    cookbook) and the seed (given, else fresh, so a new run draws new looks)."""
    req = run.req
    if not run.info.augments:
        if req.conditions:
            raise InputError(f"The flow {run.flow} does not augment, so there are no looks to fix.", remedy="Drop --condition, or pick an augmenting flow (augmentation_and_al, e2e).", code="conditions-without-augmentation")
        return
    run.conditions = resolve_conditions(req.text, req.conditions, req.cookbook or DEFAULT_COOKBOOK)
    run.seed = req.seed if req.seed is not None else secrets.randbelow(10**9)
    if run.conditions:
        asked = ", ".join(f"{k}={'|'.join(v)}" for k, v in run.conditions.items())
        run.say("looks", f"Looks asked for: {asked} (the other variables are drawn as the cookbook weighs them).")
        run.statements.append(f"Asked for {asked}; every augmented clip has it.")
    run.statements.append(f"Looks drawn with seed {run.seed} (pass --seed {run.seed} to draw the same again).")


def _ingest(run: _Run, local: list[Path]) -> None:
    """Each clip checked complete and brought to <stem>.mp4 (in the run's scratch folder)."""
    run.clips = [to_workflow_video(path, run.scratch) for path in local]
    changed = [c for c in run.clips if c.action != "as-is"]
    if changed:
        names = ", ".join(f"{Path(c.source).name} ({c.action})" for c in changed)
        run.say("input", f"Brought to H.264 MP4 for the workflow: {names}.")
        run.statements.append(f"{len(changed)} clip(s) were converted to H.264 MP4 ({', '.join(Path(c.source).name for c in changed)}); audio is not used.")


def _fetch_demo(run: _Run, prepare_demo) -> None:
    """No input named and no dataset: the VDA demo clips (after the ETA: this is the first fetch)."""
    run.source = "demo"
    _announce_eta(run)
    _ingest(run, _demo_videos(prepare_demo, run.emit))


def _clip_shapes(run: _Run) -> list[ClipShape]:
    return [ClipShape(seconds=c.duration_s, width=c.width, height=c.height) for c in run.clips if c.duration_s > 0]


def _augmentations(req: RunRequest) -> int:
    return req.augmentations or cookbook_augmentations(req.cookbook or DEFAULT_COOKBOOK)


def _announce_eta(run: _Run) -> None:
    """From the real clips (count, length, size) when they are known here; see :mod:`skill.eta_model`."""
    if run.eta:
        return
    run.eta = estimate(run.flow, run.backend.name, _clip_shapes(run), _augmentations(run.req)).text()
    run.say("eta", run.eta)


def _preflight(run: _Run) -> None:
    checked = preflight(PreflightRequest(workflow=run.flow, no_probe=not run.backend.traits.probes_network), backend=run.backend)
    run.say("preflight", f"Preflight {checked.status}.", platforms=checked.platforms)
    if checked.status == "user_input_required":
        raise UserInputRequired("Preflight needs something only you can give.", question=checked.question or "Provide the missing secret.", missing=",".join(checked.missing) or "secret")
    if checked.status != "ok":
        failing = next((c for c in checked.checks if c.status == "fail"), None)
        raise InputError(f"Preflight failed: {failing.detail if failing else checked.status}.", remedy=checked.remedy or "Fix the failing check and run again.", code="preflight-failed")
    platform = run.req.gpu_platform or (checked.platforms[0] if checked.platforms else None)
    if not platform:
        raise UserInputRequired("No ONLINE pool offers a platform.", question="Which OSMO pool and platform should the run use?", missing="gpu_platform")
    run.gpu_platform = platform


def _nim_gate(run: _Run) -> None:
    if run.backend.traits.cluster_nims:
        chosen = _engine_values(run.req)
        if chosen.get("vlm_url") and chosen.get("llm_url"):  # the user's own server does the VLM/LLM work
            run.statements.append("The in-cluster NIMs were not checked or deployed: the run uses the VLM/LLM server you named.")
            return
        from skill.steps.nim_gate import ensure_nims_ready  # cluster runs only (start-up cost)

        gate = ensure_nims_ready(run.req.nims, say=lambda line: run.say("nim", line))
        run.statements.append(gate.statement)


def _place_dataset(run: _Run) -> None:
    """Existing dataset as it is; else the clips go into a dataset of their own (the demo's, or
    clips-<run>), which must not hold other clips (runs never mix)."""
    req = run.req
    if req.dataset_url:
        location = storage.derive_from_dataset_url(req.dataset_url)
        run.storage_url, run.dataset = location.storage_url, location.dataset
        listing = run.backend.data_list(location.dataset_url)
        run.stems = sorted({Path(k).stem for k in listing if Path(k).suffix.lower() == WORKFLOW_SUFFIX})
        if not run.stems:
            raise InputError(f"The dataset {location.dataset_url} holds no .mp4 clips.", remedy="Upload videos there first (vda upload).", code="no-videos")
        return
    run.storage_url = _storage_url_for(run.backend)
    run.dataset = req.dataset or (DEMO_DATASET_NAME if run.source == "demo" else f"clips-{run.run_id.removeprefix('run-')}")
    run.stems = [c.stem for c in run.clips]
    others = sorted({Path(k).stem for k in run.backend.data_list(run.dataset_url) if is_video_name(k)} - set(run.stems))
    if others:
        raise InputError(
            f"The dataset {run.dataset} already holds other clips ({', '.join(others[:5])}{', ...' if len(others) > 5 else ''}), which this run would process too.",
            remedy="Leave --dataset out (each run gets a dataset of its own), pick a new name, or run on what is there with --dataset-url.",
            code="dataset-not-empty",
        )
    run.say("upload", f"Uploading {len(run.clips)} clip(s) to {run.dataset_url}.")
    run.backend.data_upload(run.dataset_url, [Path(c.path) for c in run.clips])


def _values(run: _Run) -> dict[str, Any]:
    req, info = run.req, run.info
    cookbook = req.cookbook or DEFAULT_COOKBOOK
    augmentations = _augmentations(req)
    caches = storage.cache_urls(run.storage_url)
    if not run.backend.traits.engines_need_weights:
        _seed_engine_caches(run.backend, caches)
    values: dict[str, Any] = {
        "dataset": run.dataset, "storage_url": run.storage_url, "gpu_platform": run.gpu_platform, "video": run.stems[0],
        "auto_labeling_model_cache_url": caches["auto_labeling_model_cache_url"], "cookbook": cookbook,
        "workers": worker_count(run.flow, len(run.stems), augmentations, req.batch_size, run.backend.traits.worker_slots),
    }
    if info.augments:
        values["cosmos_model_cache_url"] = caches["cosmos_model_cache_url"]
    if req.augmentations:
        values["n_augmentations"] = augmentations
    if info.augments:
        values["conditions"] = format_conditions(run.conditions)
        values["seed"] = str(run.seed)
    values["all_clips"] = True  # the run's dataset holds exactly the clips it was given (or the demo's)
    values.update(_engine_values(req))
    return {k: v for k, v in values.items() if v is not None}


def _engine_values(req: RunRequest) -> dict[str, str]:
    """The engine values the user gave (none given: the workflow's auto, the backend's own engines)."""
    keys = ("label_engine", "augment_engine", "vlm_url", "llm_url", "vlm_model", "llm_model")
    return fill_engine_values({k: getattr(req, k) for k in keys if getattr(req, k)})


def _check_engines(run: _Run) -> None:
    """Before any work: the chosen engines can run on this backend, and a chosen server answers."""
    values = _engine_values(run.req)
    if not values:
        return
    for key in ("vlm_url", "llm_url"):
        if values.get(key):
            normalize_url(values[key])  # an http(s) URL or a coded error; nothing else is ever opened
    augments = run.info.augments
    raise_first(engine_problems(values, on_this_machine=run.backend.traits.local_engines, augments=augments))
    uses_server = values.get("label_engine") == "nim" or (augments and values.get("augment_engine") == "cosmos")
    if run.backend.traits.local_engines and uses_server:
        models = probe_endpoints(values, wait_s=endpoint_wait_s())
        run.say("engines", f"VLM {models['vlm']} at {normalize_url(values['vlm_url'])}; "
                f"LLM {models['llm']} at {normalize_url(values['llm_url'])}.", models=models)
    server = f" (VLM/LLM server {normalize_url(values['vlm_url'])})." if values.get("vlm_url") else "."
    run.statements.append(f"Engines: labels by {values.get('label_engine') or 'the backend default'}, "
                          f"augmentation by {values.get('augment_engine') or 'the backend default'}{server}")


def _guard(run: _Run, values: dict[str, Any]) -> GuardResult:
    """The guard; a missing model cache is filled once (setup_model_cache, waited for), then the
    guard runs again: the skill's autonomous default."""
    guard = pre_submit_guard(GuardRequest(flow=run.flow, run_id=run.run_id, **values), backend=run.backend)
    if guard.status == "cache_missing":
        _fill_model_cache(run)
        guard = pre_submit_guard(GuardRequest(flow=run.flow, run_id=run.run_id, **values), backend=run.backend)
        if guard.status == "cache_missing":
            raise InputError("A model cache is still empty after setup_model_cache completed.", remedy="Read the cache workflow's log (vda logs <id>), fix its cause, then run again.", code="cache-missing", rule="cache-remediation")
    if guard.status != "ok":
        failing = [c for c in guard.checks if c.status == "fail"]
        raise InputError(f"Pre-submit guard failed: {failing[0].detail if failing else guard.summary}", remedy="Fix the failed check; nothing was submitted.", code="guard-failed")
    run.say("guard", guard.summary)
    return guard


def _fill_model_cache(run: _Run) -> None:
    cache_eta = flows.eta(flows.CACHE_WORKFLOW, backend=run.backend.name)
    run.say("cache", f"A model cache is missing: running {flows.CACHE_WORKFLOW} first. {cache_eta.text()}")
    from skill.steps.cache import CacheRequest, setup_model_cache  # only when a cache is missing (start-up cost)

    started = setup_model_cache(CacheRequest(storage_url=run.storage_url, pool=run.req.pool), backend=run.backend, ledger=run.ledger)
    if not started.workflow_id:
        raise InputError(started.message, remedy=started.remedy or "Run setup_model_cache by hand, then run again.", code="cache-missing", rule="cache-remediation")
    run.say("cache", f"Submitted {started.workflow_id}; waiting for it.", workflow_id=started.workflow_id)
    polled = _wait(run, started.workflow_id)
    if polled.status != "COMPLETED":
        raise BackendError(f"The cache workflow {started.workflow_id} ended {polled.status}.",
                           remedy=f"Read its log (vda logs {started.workflow_id}), fix the cause, then run again.", code="cache-workflow-failed")
    run.statements.append(f"The model cache was missing, so {flows.CACHE_WORKFLOW} ran first ({started.workflow_id}).")


def _wait(run: _Run, workflow_id: str) -> PollResult:
    traits = run.backend.traits

    def on_progress(event: ProgressEvent) -> None:
        run.say("poll", event.message, status=event.status, elapsed_s=round(event.elapsed_s, 1))

    request = PollRequest(workflow_id=workflow_id, wait=True, timeout_s=run.req.timeout_s, interval_s=traits.poll_interval_s,
                          max_interval_s=max(traits.poll_interval_s, traits.poll_max_interval_s), heartbeat_s=30.0)
    return poll(request, backend=run.backend, on_progress=on_progress)


def _submit(run: _Run, values: dict[str, Any]) -> str:
    submitted = submit(SubmitRequest(flow=run.flow, run_id=run.run_id, pool=run.req.pool, **values), backend=run.backend, ledger=run.ledger)
    if not submitted.workflow_id:
        raise InputError(submitted.message, remedy=submitted.remedy, code="submit-uncertain")
    run.say("submit", f"Submitted {submitted.workflow_id} ({run.run_id}).", workflow_id=submitted.workflow_id, run_id=run.run_id)
    return submitted.workflow_id


def _workflow_seconds(backend: Backend, workflow_id: str, *, fallback: float) -> float:
    """Submit to end as the backend timed it (poll only notices the end at its next look)."""
    try:
        status = backend.query(workflow_id)
        if status.submit_time and status.end_time:
            return (datetime.fromisoformat(status.end_time) - datetime.fromisoformat(status.submit_time)).total_seconds()
        return status.duration if status.duration is not None else fallback
    except (SkillError, ValueError):
        return fallback


def _stage_and_render(run: _Run, result: RunResult, *, fanned_out: bool = False) -> None:
    """Stage the outputs with each clip's input beside them (the first pass downloads, the others
    only add what is theirs), then one side-by-side per augmented clip (the one the workflow left in
    its run cache when there is one for exactly these clips, see :mod:`skill.side_by_side`). A
    fanned-out run stages each clip from its batch, into ``batch-<NNNN>/`` of the run folder."""
    local = {c.stem: c.path for c in run.clips}
    run_dir: str | None = None
    augmented: dict[str, tuple[str, str | None]] = {}  # augmented clip -> (the folder it was staged into, its workflow)
    for stem in run.stems:
        staged = stage_artifacts(StageRequest(storage_url=run.storage_url, dataset=run.dataset, run_id=run.run_id, video=stem,
                                              run_local_dir=None if fanned_out else run_dir, input_local_video=local.get(stem)),
                                 backend=run.backend, ledger=run.ledger)
        run_dir = staged.local_run_dir
        workflow_id = _batch_workflow(run, stem) if fanned_out else result.workflow_id
        augmented.update(dict.fromkeys(staged.augmented_videos, (run_dir, workflow_id)))
        result.sampled_vars.update(staged.sampled_vars)
        result.augmented_labels.update({k: v for k, v in staged.labels.items() if k in staged.aug_label_dirs})
        result.original_labels.update({k: v for k, v in staged.labels.items() if k in staged.orig_label_dirs})
        run.say("stage", staged.message)
    result.local_run_dir = str(Path(run_dir).parent) if fanned_out and run_dir else run_dir
    for name in sorted(augmented):
        stem, _, index = name.rpartition("_aug")
        if stem not in run.stems or not index.isdigit():
            continue
        folder, workflow_id = augmented[name]
        compared = render_side_by_side(CompareRequest(run_local_dir=folder, dataset=run.dataset, video=stem, aug_index=int(index)),
                                       prepared=run_cache_dir(run.backend.traits.run_cache_root, workflow_id))
        result.media_lines.append(compared.media_line)


def _batch_workflow(run: _Run, stem: str) -> str | None:
    """The workflow of the batch that processed ``stem`` (whose run cache may hold its comparison)."""
    stored = batches.load_run(run.ledger, run.run_id)
    if stored is None:
        return None
    return fanout.batch_state(stored.plan, batches.batch_for_clip(stored, stem).index, run.ledger).workflow_id


def _fans_out(run: _Run) -> bool:
    """Fan out when the clips make more than one batch and the pool gang-schedules (or the user
    bounded the batches in flight): one wide group per stage would wait for all its GPUs at once."""
    configs = len(run.stems) * (_augmentations(run.req) if run.info.augments else 1)
    return configs > run.req.batch_size and (run.req.max_in_flight is not None or run.backend.traits.gang_scheduled)


def _plan_batches(run: _Run, values: dict[str, Any]) -> batches.StoredRun:
    """Plan the batches and record the run under its run id; say how they will run and their ETA."""
    stored = batches.record_run(run.ledger, batches.plan_run(
        run.flow, {**values, "run_id": run.run_id}, run_id=run.run_id, backend=run.backend, batch_size=run.req.batch_size,
        max_in_flight=run.req.max_in_flight, pool=run.req.pool), run.backend.name)
    plan = stored.plan
    eta = estimate_batches(run.flow, run.backend.name, _clip_shapes(run), _augmentations(run.req), batches=len(plan.batches),
                           max_in_flight=plan.max_in_flight)
    run.say("fanout", f"{len(run.stems)} clip(s) in {len(plan.batches)} batch(es) of one workflow each, at most {plan.max_in_flight} "
            f"in flight. The workflows take ~{eta.flow_minutes.words()} ({eta.basis}).", batches=len(plan.batches), max_in_flight=plan.max_in_flight)
    return stored


def _drive_batches(run: _Run, stored: batches.StoredRun) -> tuple[str, list[str], int]:
    """Drive the batches to their end (or ``timeout_s``); (the run's status, failed batch names, batches)."""
    plan = stored.plan
    seen: list[str] = []

    def on_progress(now: fanout.FanoutProgress) -> None:
        if not seen or seen[-1] != now.text():
            seen.append(now.text())
            run.say("fanout", now.text() + ".", done=now.done, running=now.running, queued=now.queued, failed=now.failed)

    states = batches.advance(stored, backend=run.backend, ledger=run.ledger, wait_s=run.req.timeout_s, on_progress=on_progress)
    now = fanout.progress(states)
    if now.retried:
        run.statements.append(f"Batch(es) {', '.join(map(str, now.retried))} failed once and were resubmitted alone.")
    run.statements.append(f"The {len(run.stems)} clips ran as {len(plan.batches)} batches (one workflow each, at most {plan.max_in_flight} at once).")
    return batches.overall_status(now), [batches.batch_dir_name(s.index) for s in states if s.phase == "failed"], len(plan.batches)


# --- the run -----------------------------------------------------------------------------------


def run_pipeline(req: RunRequest, *, backend: Backend, ledger: Ledger, emit: Emit = _quiet, prepare_demo=None) -> RunResult:
    """Run one VDA job end to end on ``backend`` and return the evidence."""
    began = time.monotonic()
    with ExitStack() as stack:
        scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="vda-ingest-"))
        run = _Run(req=req, backend=backend, ledger=ledger, emit=emit, scratch=Path(scratch))
        if req.videos or req.folder:  # refused before anything is said or started
            _ingest(run, collect_videos(req.videos, req.folder))
        _choose_flow(run)
        _choose_looks(run)
        _check_engines(run)
        stack.enter_context(backend.prewarmed())  # the runner and engines import while the run is checked and rendered
        if not run.clips and not req.dataset_url:
            _fetch_demo(run, prepare_demo)
        _announce_eta(run)
        _preflight(run)
        _nim_gate(run)
        _place_dataset(run)
        values = _values(run)
        _guard(run, values)
        fanned_out = _fans_out(run)
        submitted_at = time.monotonic()
        if fanned_out:
            status, failed, count = _drive_batches(run, _plan_batches(run, values))
            result = _result(run, status=status, workflow_id=None)
            result.failed_tasks, result.batches = failed, count
            workflow_s = time.monotonic() - submitted_at
        else:
            workflow_id = _submit(run, values)
            polled = _wait(run, workflow_id)
            workflow_s = _workflow_seconds(run.backend, workflow_id, fallback=time.monotonic() - submitted_at)
            result = _result(run, status=polled.status, workflow_id=workflow_id)
            result.failed_tasks, result.log_tail = polled.failed_tasks, polled.log_tail
            result.hint = polled.hint.title if polled.hint else None
        result.workflow_s = round(workflow_s, 1)
        if run.source == "demo":
            result.statements.append(f"The input videos came from the VDA demo dataset {DEMO_REPO}.")
        if result.status != "COMPLETED":
            run.say("poll", f"Run ended {result.status}; failed tasks: {', '.join(result.failed_tasks) or 'none'}.")
        else:
            if not run.backend.traits.cluster_nims and run.clips and not fanned_out:  # this machine's engines: refine its ETA model
                record_run(run.flow, _clip_shapes(run), _augmentations(req), workflow_s)
            _stage_and_render(run, result, fanned_out=fanned_out)
    result.elapsed_s = round(time.monotonic() - began, 1)
    return result


def resume_pipeline(run_id: str, *, backend: Backend, ledger: Ledger, emit: Emit = _quiet, timeout_s: float = 3600.0) -> RunResult:
    """Carry a fanned-out run on from where it stopped (``vda run --resume RUN_ID``): batches done
    are kept, running ones polled, failed ones resubmitted alone; then every clip is staged and
    rendered as :func:`run_pipeline` does. Only the run's ledger row is read: no input is needed."""
    began = time.monotonic()
    stored = batches.load_run(ledger, run_id)
    row = ledger.get(run_id)
    if stored is None or row is None:
        raise NotFound(f"The ledger holds no fanned-out run {run_id}.",
                       remedy="Pass the run id a fanned-out vda run printed; a one-workflow run is followed with vda poll <workflow id>.")
    if row.backend != backend.name:
        raise InputError(f"The run {run_id} ran on the {row.backend} backend, not {backend.name}.",
                         remedy=f"Resume it with --backend {row.backend}.", code="wrong-backend")
    run = _Run(req=RunRequest(flow=stored.flow, timeout_s=timeout_s), backend=backend, ledger=ledger, emit=emit, scratch=Path(tempfile.gettempdir()))
    run.run_id, run.flow = run_id, stored.flow
    run.dataset, run.storage_url = stored.values["dataset"], stored.values["storage_url"]
    run.stems = sorted(c for b in stored.plan.batches for c in b.clips)
    seed = stored.values.get("seed", "")
    run.seed = int(seed) if seed.isdigit() else None
    run.say("fanout", f"Resuming {batches.describe(stored, fanout.progress(fanout.batch_states(stored.plan, ledger)))}")
    status, failed, count = _drive_batches(run, stored)
    result = _result(run, status=status, workflow_id=None)
    result.failed_tasks, result.batches = failed, count
    if status == "COMPLETED":
        _stage_and_render(run, result, fanned_out=True)
    else:
        run.say("poll", f"Run ended {status}; failed batches: {', '.join(failed) or 'none'}.")
    result.elapsed_s = round(time.monotonic() - began, 1)
    return result


def _result(run: _Run, *, status: str, workflow_id: str | None) -> RunResult:
    return RunResult(status=status, flow=run.flow, backend=run.backend.name, run_id=run.run_id, workflow_id=workflow_id,
                     dataset=run.dataset, storage_url=run.storage_url, input_source=run.source, eta=run.eta, clips=run.stems,
                     conditions=run.conditions, seed=run.seed, statements=run.statements)


def run_failure(result: RunResult) -> SkillError:
    """The coded error a run that ended other than COMPLETED stands for (the CLI's ``Error:`` line)."""
    tasks = ", ".join(result.failed_tasks) or "none recorded"
    where = f"workflow {result.workflow_id}" if result.workflow_id else f"run {result.run_id}"
    first = result.failed_tasks[0] if result.failed_tasks else None
    logs = (f"vda logs {result.workflow_id}" + (f" --task {first}" if first else "") if result.workflow_id
            else f"vda poll {result.run_id}, then vda logs <the failed batch's workflow>" if result.batches else "the log lines above")
    remedy = result.hint or f"Read the failed task's log ({logs}) and fix the cause"
    return BackendError(
        f"The {where} ended {result.status} (failed tasks: {tasks}).",
        remedy=f"{remedy.rstrip('.')}; then run again (a fresh run id is used).",
        code="workflow-failed",
    )


def _storage_url_for(backend: Backend) -> str:
    if backend.traits.storage_url:
        return backend.traits.storage_url
    raise UserInputRequired(
        "Videos on this machine need a storage prefix on the cluster to be uploaded to.",
        question="Which storage prefix should the videos be uploaded under (e.g. s3://bucket/prefix, the part before /datasets/)?",
        missing="storage_url",
    )


def _seed_engine_caches(backend: Backend, caches: dict[str, str]) -> None:
    """The CPU engines need no model weights; their cache folders say so in a manifest, which is
    what the guard's non-empty cache check sees (on OSMO the cache workflow fills them)."""
    for key, url in caches.items():
        if backend.data_list(url):
            continue
        with tempfile.TemporaryDirectory(prefix="vda-cache-manifest-") as folder:
            note = Path(folder) / "ENGINES.json"
            note.write_text(json.dumps({"cache": key, "engines": "classic (CPU)", "weights": []}, indent=2) + "\n")
            backend.data_upload(url, [note])


def _demo_videos(prepare_demo, emit: Emit) -> list[Path]:
    from skill.steps.demo import DemoRequest, prepare_demo_assets

    emit(RunEvent(stage="demo", message=f"No input named: using the VDA demo dataset {DEMO_REPO}."))
    try:
        demo = (prepare_demo or prepare_demo_assets)(DemoRequest())
    except SkillError as exc:
        raise InputError(
            f"No input was named and the VDA demo dataset could not be fetched: {exc.message.rstrip('.')}.",
            remedy="Pass your own clips with --video PATH (or --folder DIR), or retry with network access to huggingface.co.",
            code="demo-unavailable",
        ) from exc
    return [Path(f.path) for f in demo.files]

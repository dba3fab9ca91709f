"""A whole VDA run as one plain function, going through the same steps an agent would:
select flow → ETA → preflight → (demo | upload) → guard (→ cache remediation → guard) → submit →
poll → stage → side-by-side → summaries.

``vda run`` wraps it; so can the MCP server and the chat agent. Input is validated before any work
starts (missing, empty, truncated or non-video files are refused up front).
"""

from __future__ import annotations

import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from skill import flows, storage
from skill.backends.base import Backend
from skill.engines.video_io import verify_complete
from skill.errors import BackendError, InputError, SkillError, UserInputRequired
from skill.ledger import Ledger
from skill.models import CookbookName, DatasetName
from skill.paths import cookbooks_dir
from skill.steps.compare import CompareRequest, render_side_by_side
from skill.steps.guard import GuardRequest, new_run_id, pre_submit_guard
from skill.steps.monitor import PollRequest, ProgressEvent, poll
from skill.steps.nim_gate import NimGateMode, ensure_nims_ready
from skill.steps.preflight import PreflightRequest, preflight
from skill.steps.stage import LabelSummary, StageRequest, stage_artifacts
from skill.steps.submit import SubmitRequest, submit

__all__ = ["RunEvent", "RunRequest", "RunResult", "VIDEO_SUFFIXES", "run_failure", "run_pipeline"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mkv", ".mov")
DEMO_REPO = "nvidia/video-data-augmentation-demo"


class RunRequest(BaseModel):
    """What to run. Give videos, a folder, or a dataset URL; with none, the VDA demo dataset is used."""

    model_config = ConfigDict(extra="forbid")
    videos: list[str] = Field(default_factory=list, description="Local video files, e.g. ['clips/a.mp4'].")
    folder: str | None = Field(default=None, description="Local folder of videos, uploaded flat as one dataset.")
    dataset_url: str | None = Field(default=None, description="Existing dataset on storage, <prefix>/datasets/<name>.")
    text: str | None = Field(default=None, description="The request in words, used to pick the flow, e.g. 'label only'.")
    flow: str | None = Field(default=None, description="Explicit flow; wins over text.")
    cookbook: CookbookName | None = None
    dataset: DatasetName | None = Field(default=None, description="Dataset name for uploaded videos; default 'local-videos'.")
    augmentations: int | None = Field(default=None, ge=1, le=16, description="Augmentations per video; default the cookbook's.")
    batch_size: int = Field(default=4, ge=1, le=256, description="Configs per worker task: workers = ceil(configs / batch_size).")
    demo: bool = Field(default=False, description="Use the VDA demo dataset explicitly.")
    pool: str | None = None
    gpu_platform: str | None = None
    timeout_s: float = Field(default=3600.0, ge=10, le=86400)
    nims: NimGateMode = Field(default="ensure", description="Cluster runs: ensure (reuse healthy NIMs, else deploy the allow-list once, then wait), check (fail when not healthy) or skip.")


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
    workflow_id: str | None
    dataset: str
    storage_url: str
    input_source: Literal["user", "demo"]
    eta: str
    local_run_dir: str | None = None
    media_lines: list[str] = Field(default_factory=list)
    sampled_vars: dict[str, dict[str, Any]] = Field(default_factory=dict)
    augmented_labels: dict[str, LabelSummary] = Field(default_factory=dict)
    original_labels: dict[str, LabelSummary] = Field(default_factory=dict)
    statements: list[str] = Field(default_factory=list, description="Sentences the final summary must carry.")
    failed_tasks: list[str] = Field(default_factory=list)
    log_tail: dict[str, str] = Field(default_factory=dict)
    hint: str | None = None


Emit = Callable[[RunEvent], None]


def _quiet(_: RunEvent) -> None:
    return None


# --- input -------------------------------------------------------------------------------------


def collect_videos(videos: list[str], folder: str | None) -> list[Path]:
    """Every input video, checked before any work: exists, not empty, decodable, unique stem."""
    paths = [Path(v).expanduser() for v in videos]
    if folder:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise InputError(f"The folder {root} does not exist.", remedy="Pass an existing folder of videos.", code="input-not-found")
        found = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES)
        if not found:
            raise InputError(f"The folder {root} holds no video files ({', '.join(VIDEO_SUFFIXES)}).", remedy="Point at a folder with videos.", code="no-videos")
        paths += found
    stems: dict[str, Path] = {}
    for path in paths:
        if not path.is_file():
            raise InputError(f"The video {path} does not exist.", remedy="Check the path; nothing was started.", code="input-not-found")
        if path.stat().st_size == 0:
            raise InputError(f"The video {path} is empty.", remedy="Pass a complete video file; nothing was started.", code="input-empty")
        if path.suffix.lower() not in VIDEO_SUFFIXES:
            raise InputError(f"{path.name} is not a video file ({', '.join(VIDEO_SUFFIXES)}).", remedy="Pass .mp4, .avi, .mkv or .mov files.", code="input-not-video")
        info = verify_complete(path)  # VideoReadError (an InputError): non-video, or data cut short after the header
        if info.frames == 0:
            raise InputError(f"The video {path} has no decodable frames.", remedy="Pass a complete video file.", code="input-truncated")
        if path.stem in stems:
            raise InputError(f"Two inputs share the name {path.stem} ({stems[path.stem]} and {path}).", remedy="Rename one; datasets are flat.", code="duplicate-video-name")
        stems[path.stem] = path
    return [stems[s] for s in sorted(stems)]


def cookbook_augmentations(cookbook: str) -> int:
    config = yaml.safe_load((cookbooks_dir() / cookbook / "workflow_config.yaml").read_text(encoding="utf-8")) or {}
    return int((config.get("augmentation") or {}).get("n_augmentations", 1))


def worker_count(flow: str, videos: int, augmentations: int, batch_size: int) -> int:
    """W = ceil(configs / batch_size), at least 1 and at most 64."""
    configs = videos * (augmentations if flows.get_flow(flow).augments else 1)
    return max(1, min(64, math.ceil(configs / batch_size)))


# --- the run -----------------------------------------------------------------------------------


def run_pipeline(req: RunRequest, *, backend: Backend, ledger: Ledger, emit: Emit = _quiet, prepare_demo=None) -> RunResult:
    """Run one VDA job end to end on ``backend`` and return the evidence."""
    choice = flows.route(req.text or "augment and label my videos", flow=req.flow, backend=backend.name)
    if not choice.flow:
        raise InputError("The request does not ask for a run.", remedy=f"Name a flow with --flow ({', '.join(flows.get_flow(f).name for f in ('augmentation_and_al', 'auto_labeling', 'e2e', 'e2e_super_resolution'))}).", code="not-a-run")
    flow = choice.flow
    info = flows.get_flow(flow)
    cookbook = req.cookbook or "city_traffic"
    local_videos = collect_videos(req.videos, req.folder) if (req.videos or req.folder) else []
    eta = choice.eta.text() if choice.eta else ""
    emit(RunEvent(stage="flow", message=f"Flow {flow}: {choice.reason}", data={"flow": flow}))
    emit(RunEvent(stage="eta", message=eta))

    traits = backend.traits
    checked = preflight(PreflightRequest(workflow=flow, no_probe=not traits.probes_network), backend=backend)
    emit(RunEvent(stage="preflight", message=f"Preflight {checked.status}.", data={"platforms": checked.platforms}))
    if checked.status == "user_input_required":
        raise UserInputRequired("Preflight needs something only you can give.", question=checked.question or "Provide the missing secret.", missing=",".join(checked.missing) or "secret")
    if checked.status != "ok":
        failing = next((c for c in checked.checks if c.status == "fail"), None)
        raise InputError(f"Preflight failed: {failing.detail if failing else checked.status}.", remedy=checked.remedy or "Fix the failing check and run again.", code="preflight-failed")
    gpu_platform = req.gpu_platform or (checked.platforms[0] if checked.platforms else None)
    if not gpu_platform:
        raise UserInputRequired("No ONLINE pool offers a platform.", question="Which OSMO pool and platform should the run use?", missing="gpu_platform")
    nim_statement = None
    if traits.cluster_nims:
        gate = ensure_nims_ready(req.nims, say=lambda line: emit(RunEvent(stage="nim", message=line)))
        nim_statement = gate.statement

    source: Literal["user", "demo"] = "user"
    if req.dataset_url:
        location = storage.derive_from_dataset_url(req.dataset_url)
        storage_url, dataset = location.storage_url, location.dataset
        listing = backend.data_list(location.dataset_url)
        stems = sorted({Path(k).stem for k in listing if Path(k).suffix.lower() in VIDEO_SUFFIXES})
        if not stems:
            raise InputError(f"The dataset {location.dataset_url} holds no videos.", remedy="Upload videos there first (vda upload).", code="no-videos")
    else:
        storage_url = _storage_url_for(backend)
        if not local_videos:
            source = "demo"
            local_videos = _demo_videos(prepare_demo, emit)
        dataset = req.dataset or ("vda-demo" if source == "demo" else "local-videos")
        dataset_url = storage.join(storage_url, "datasets", dataset)
        emit(RunEvent(stage="upload", message=f"Uploading {len(local_videos)} video(s) to {dataset_url}."))
        backend.data_upload(dataset_url, local_videos)
        stems = [p.stem for p in local_videos]

    video = stems[0]
    augmentations = req.augmentations or cookbook_augmentations(cookbook)
    workers = worker_count(flow, len(stems), augmentations, req.batch_size)
    caches = storage.cache_urls(storage_url)
    if not traits.engines_need_weights:
        _seed_engine_caches(backend, caches)
    values: dict[str, Any] = {
        "dataset": dataset, "storage_url": storage_url, "gpu_platform": gpu_platform, "video": video,
        "auto_labeling_model_cache_url": caches["auto_labeling_model_cache_url"], "cookbook": cookbook, "workers": workers,
    }
    if info.augments:
        values["cosmos_model_cache_url"] = caches["cosmos_model_cache_url"]
    if req.augmentations:
        values["n_augmentations"] = augmentations
    run_id = new_run_id()
    guard = pre_submit_guard(GuardRequest(flow=flow, run_id=run_id, **values), backend=backend)
    if guard.status == "cache_missing":
        raise InputError("A model cache is missing or empty.", remedy="Run setup_model_cache for this storage prefix, then run again (vda submit setup_model_cache ...).", code="cache-missing", rule="cache-remediation")
    if guard.status != "ok":
        failing = [c for c in guard.checks if c.status == "fail"]
        raise InputError(f"Pre-submit guard failed: {failing[0].detail if failing else guard.summary}", remedy="Fix the failed check; nothing was submitted.", code="guard-failed")
    emit(RunEvent(stage="guard", message=guard.summary))

    submitted = submit(SubmitRequest(flow=flow, run_id=run_id, pool=req.pool, **values), backend=backend, ledger=ledger)
    if not submitted.workflow_id:
        raise InputError(submitted.message, remedy=submitted.remedy, code="submit-uncertain")
    emit(RunEvent(stage="submit", message=f"Submitted {submitted.workflow_id} ({run_id}).", data={"workflow_id": submitted.workflow_id, "run_id": run_id}))

    def on_progress(event: ProgressEvent) -> None:
        emit(RunEvent(stage="poll", message=event.message, data={"status": event.status, "elapsed_s": round(event.elapsed_s, 1)}))

    polled = poll(PollRequest(workflow_id=submitted.workflow_id, wait=True, timeout_s=req.timeout_s, interval_s=traits.poll_interval_s,
                              max_interval_s=max(traits.poll_interval_s, traits.poll_max_interval_s), heartbeat_s=30.0),
                  backend=backend, on_progress=on_progress)
    result = RunResult(status=polled.status, flow=flow, backend=backend.name, run_id=run_id, workflow_id=submitted.workflow_id,
                       dataset=dataset, storage_url=storage_url, input_source=source, eta=eta,
                       failed_tasks=polled.failed_tasks, log_tail=polled.log_tail, hint=polled.hint.title if polled.hint else None)
    if nim_statement:
        result.statements.append(nim_statement)
    if source == "demo":
        result.statements.append(f"The input videos came from the VDA demo dataset {DEMO_REPO}.")
    if polled.status != "COMPLETED":
        emit(RunEvent(stage="poll", message=f"Run ended {polled.status}; failed tasks: {', '.join(polled.failed_tasks) or 'none'}."))
        return result

    staged = stage_artifacts(StageRequest(storage_url=storage_url, dataset=dataset, run_id=run_id, video=video,
                                          input_local_video=str(local_videos[0]) if local_videos else None), backend=backend)
    result.local_run_dir = staged.local_run_dir
    result.sampled_vars = staged.sampled_vars
    result.augmented_labels = {k: v for k, v in staged.labels.items() if k in staged.aug_label_dirs}
    result.original_labels = {k: v for k, v in staged.labels.items() if k in staged.orig_label_dirs}
    emit(RunEvent(stage="stage", message=staged.message))
    for name in sorted(staged.augmented_videos):
        aug_index = int(name.rsplit("_aug", 1)[1])
        compared = render_side_by_side(CompareRequest(run_local_dir=staged.local_run_dir, dataset=dataset, video=video, aug_index=aug_index))
        result.media_lines.append(compared.media_line)
    return result


def run_failure(result: RunResult) -> SkillError:
    """The coded error a run that ended other than COMPLETED stands for (the CLI's ``Error:`` line)."""
    tasks = ", ".join(result.failed_tasks) or "none recorded"
    where = f"workflow {result.workflow_id}" if result.workflow_id else f"run {result.run_id}"
    first = result.failed_tasks[0] if result.failed_tasks else None
    logs = f"vda logs {result.workflow_id}" + (f" --task {first}" if first else "") if result.workflow_id else "the log lines above"
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

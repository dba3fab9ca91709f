"""Auto-label one video into upstream's DAFT scene layout, on the CPU (``classic``) or with
OpenAI-compatible VLM/LLM endpoints (``nim``).

    python -m skill.engines.label --engine classic|nim --video IN.mp4 --output-dir DIR \\
        --config AUTO_LABELING_CONFIG.yaml [--question-bank QB.json] [--sampled-vars VARS.json | --augment-metadata META.json] \\
        [--super-resolution true|false] [--vlm-url U] [--llm-url U] [--vlm-model M] [--llm-model M] [--media-id ID]

Stages, as upstream runs them: super-resolution (here: a Lanczos upscale to the configured height,
720 by default, when the input is lower) -> detection + tracking (both engines use the classic
CPU tracker) -> VLM JSON (not produced by these engines; recorded as skipped) -> MCQ generation
(``classic``: answers from measurements and from the sampled augmentation variables; ``nim``: a
VLM caption per window, mapped to the bank by the LLM, aggregated per video; the model is the one
named with ``--vlm-model``/``--llm-model``, which the server must list, else the first it lists; a
server that stops answering fails the run with ``endpoint-unreachable`` and writes no scene).

Exit codes: 0 done (``completed`` or ``completed_degraded``), 1 failure (one ``Error:`` line on
stderr), 2 usage. Everything is built in a staging folder inside DIR and moved into place at the
end, so a failed run leaves no half-written scene that claims to be complete; only
``logs/pipeline.log`` records the failure.

Size: the command line, the request and config models and the stages of one scene live together
because the container contract ties them (one CLI, one output layout); the answers and the tracker
live in their own modules.
"""

from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import cv2
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skill.engines import _daft
from skill.engines._label_classic import Analysis, ClassicSettings, analyze_video, classic_facts
from skill.engines._mcq import (
    ABSTAIN_PREFIX,
    MIN_CONFIDENCE,
    Answer,
    QuestionBank,
    aggregate,
    answer_classic,
    load_bank,
    task_items,
)
from skill.engines._overlay import OverlaySpool, spool_fits, write_by_decoding
from skill.engines.video_io import VideoInfo, VideoWriter, iter_frames, probe
from skill.errors import BackendUnavailable, InputError, SkillError
from skill.secrets import redact
from skill import yaml_text

if TYPE_CHECKING:  # the nim engine's HTTP client is imported only when that engine runs (start-up cost)
    import httpx2

__all__ = ["LabelConfig", "LabelRequest", "LabelResult", "label", "main"]

log = logging.getLogger(__name__)

Engine = Literal["classic", "nim"]


# --- the auto-labeling config (upstream's file; keys we do not use are kept, never rejected) --------------


class _Section(BaseModel):
    model_config = ConfigDict(extra="ignore")


class _Pipeline(_Section):
    empty_output_policy: str = "warn"


class _SuperResolution(_Section):
    enabled: bool = False
    res_h: int = Field(default=720, ge=64)  # the container's name for the output height


class _Tracking(_Section):
    enabled: bool = True
    classes: list[str] = Field(default_factory=lambda: ["car", "truck", "bus", "motorcycle", "bicycle", "person"])
    iou_threshold: float = Field(default=0.3, gt=0.0, le=1.0)
    max_age: int = Field(default=30, ge=1)
    min_hits: int = Field(default=3, ge=1)
    min_track_frames: int = Field(default=5, ge=1)
    save_video: bool = False


class _VlmJson(_Section):
    enabled: bool = False


class _Windowing(_Section):
    question_bank_file: str | None = None
    window_frames: int = Field(default=60, ge=1)
    single_window: bool = False
    sampling_fps: float = Field(default=6.0, gt=0.0)
    resolution: int = Field(default=480, ge=32)
    max_frames: int = Field(default=100, ge=1)
    vlm_max_tokens: int = Field(default=8192, ge=1)
    llm_max_tokens: int = Field(default=8192, ge=1)
    timeout: float = Field(default=600.0, gt=0.0)
    write_empty_mcq_marker: bool = True


class _Mcq(_Section):
    enabled: bool = True
    window_metadata_extraction: _Windowing = Field(default_factory=_Windowing)


class _Endpoint(_Section):
    url: str | None = ""
    model: str | None = ""


class _Endpoints(_Section):
    vlm: _Endpoint = Field(default_factory=_Endpoint)
    llm: _Endpoint = Field(default_factory=_Endpoint)


class LabelConfig(_Section):
    """The parts of ``auto_labeling_config.yaml`` the engines read."""

    pipeline: _Pipeline = Field(default_factory=_Pipeline)
    super_resolution: _SuperResolution = Field(default_factory=_SuperResolution)
    detection_and_tracking: _Tracking = Field(default_factory=_Tracking)
    vlm_json: _VlmJson = Field(default_factory=_VlmJson)
    mcq_generation: _Mcq = Field(default_factory=_Mcq)
    endpoints: _Endpoints = Field(default_factory=_Endpoints)


def _drop_nulls(value: Any) -> Any:
    """YAML nulls mean "use the default", as they do upstream."""
    if isinstance(value, dict):
        return {k: _drop_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_nulls(v) for v in value]
    return value


def _load_config(path: Path) -> tuple[dict[str, Any], LabelConfig]:
    try:
        raw = yaml_text.load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise InputError(f"Cannot read the config {path.name}.", remedy="Check the --config path.") from exc
    except yaml.YAMLError as exc:
        raise InputError(f"The config {path.name} is not valid YAML.", remedy="Fix the YAML syntax.") from exc
    if not isinstance(raw, dict):
        raise InputError(f"The config {path.name} must be a YAML mapping.", remedy="Use the cookbook's auto_labeling_config.yaml.")
    try:
        return raw, LabelConfig.model_validate(_drop_nulls(raw))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The config {path.name} is invalid at {where}: {first['msg']}.",
                         remedy="Compare it with the cookbook's auto_labeling_config.yaml.") from exc


# --- request and result -----------------------------------------------------------------------------------


class LabelRequest(BaseModel):
    """One labeling job."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    engine: Engine
    video: Path
    output_dir: Path
    config: Path
    question_bank: Path | None = None
    sampled_vars: dict[str, str] | None = Field(default=None, description="Known augmentation variables, e.g. {weather: rain}.")
    super_resolution: bool | None = Field(default=None, description="None = the config's super_resolution.enabled.")
    vlm_url: str | None = None
    llm_url: str | None = None
    vlm_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$", max_length=200,
                                  description="Served model to use at vlm_url; None = the first /v1/models lists.")
    llm_model: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$", max_length=200)
    media_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


class LabelResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    output_dir: str
    status: Literal["completed", "completed_degraded"]
    engine: Engine
    media_id: str
    stem: str
    frames: int
    tracks: int
    mcq_items: int
    bcq_items: int
    degraded_stages: list[str] = Field(default_factory=list)


# --- the run ----------------------------------------------------------------------------------------------


@dataclass
class _Run:
    """Mutable bookkeeping of one run: stages, fallbacks, log lines."""

    req: LabelRequest
    stages: dict[str, dict[str, Any]] = field(default_factory=dict)
    fallbacks: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def say(self, message: str) -> None:
        line = f"{datetime.now(timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} {redact(message)}"
        self.lines.append(line)
        log.info("%s", message)

    def degrade(self, stage: str, reason: str, message: str, *, fallback_input: str, downstream_input: str) -> None:
        self.stages[stage].update({"status": "failed", "degraded": True, "failure_reason": reason})
        self.fallbacks.append({"stage": stage, "policy": "warn", "reason": reason, "message": redact(message),
                               "fallback_input": fallback_input, "downstream_input": downstream_input})
        self.say(f"[{stage}] WARNING: {message}")


def _check_video(path: Path) -> VideoInfo:
    if not path.is_file():
        raise InputError(f"Video {path.name} does not exist.", remedy="Check the --video path.")
    if path.stat().st_size == 0:
        raise InputError(f"Video {path.name} is empty (0 bytes).", remedy="Re-copy or re-download the video.")
    return probe(path)


def _resolve_bank(req: LabelRequest, cfg: LabelConfig) -> Path | None:
    if req.question_bank is not None:
        if not req.question_bank.is_file():
            raise InputError(f"Question bank {req.question_bank.name} does not exist.", remedy="Check the --question-bank path.")
        return req.question_bank
    configured = cfg.mcq_generation.window_metadata_extraction.question_bank_file
    for candidate in ([Path(configured)] if configured else []) + [req.config.parent / "question_bank.json"]:
        if candidate.is_file():
            return candidate
    return None


def _super_resolve(src: Path, dst: Path, info: VideoInfo, target_h: int) -> tuple[int, int]:
    target_w = int(round(info.width * target_h / info.height / 2.0)) * 2
    with VideoWriter(dst, target_w, target_h, info.rate or info.fps, preset="veryfast") as writer:
        for frame in iter_frames(src):
            writer.write(cv2.resize(frame, (target_w, target_h), interpolation=cv2.INTER_LANCZOS4))
    return target_w, target_h


def _link_raw(staging: Path, final: Path, target: Path, media_id: str) -> Path:
    """``raw/<media_id>.<ext>`` -> the analysed video, as a link relative to where the scene will
    live (a file inside the staging folder is addressed at its final place); a copy if links fail."""
    raw_dir = staging / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    link = raw_dir / f"{media_id}{target.suffix.lower() or '.mp4'}"
    try:
        final_target = final / target.resolve().relative_to(staging.resolve())
    except ValueError:
        final_target = target.resolve()
    try:
        link.symlink_to(os.path.relpath(final_target, (final / "raw").resolve()))
    except OSError:
        shutil.copy2(target, link)
    return link


def _effective_config(raw: dict[str, Any], req: LabelRequest, *, sr: bool, bank: Path | None,
                      endpoints: dict[str, dict[str, str]]) -> dict[str, Any]:
    out = copy.deepcopy(raw)
    data = out.get("data") if isinstance(out.get("data"), list) and out.get("data") else [{}]
    first = data[0] if isinstance(data[0], dict) else {}
    first.setdefault("inputs", {})["video_path"] = str(req.video)
    first.setdefault("output", {})["out_dir"] = str(req.output_dir)
    data[0] = first
    out["data"] = data
    out.setdefault("super_resolution", {})["enabled"] = sr
    if bank is not None:
        out.setdefault("mcq_generation", {}).setdefault("window_metadata_extraction", {})["question_bank_file"] = str(bank)
    for name, values in endpoints.items():
        out.setdefault("endpoints", {}).setdefault(name, {}).update(values)
    out["vda_label"] = {"engine": req.engine, "sampled_vars": dict(req.sampled_vars or {}),
                        "media_id": req.media_id or req.video.stem}
    return out


_SCENE_ENTRIES = ("raw", "contextual", "task", "prompts", "sidecars", "logs", "config.yaml")


def _remove(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _publish(staging: Path, final: Path) -> None:
    """Replace the scene in ``final`` by the one built in ``staging`` (entries of an earlier run
    that this run did not write, such as an old ``task/``, go too), then drop ``staging``."""
    for name in _SCENE_ENTRIES:
        _remove(final / name)
    for child in sorted(staging.iterdir()):
        _remove(final / child.name)
        child.rename(final / child.name)
    staging.rmdir()


def label(req: LabelRequest, *, client: httpx2.Client | None = None,
          sleep: Callable[[float], None] = time.sleep) -> LabelResult:
    """Run every stage for one video and write the scene into ``req.output_dir``."""
    info = _check_video(req.video)
    raw_cfg, cfg = _load_config(req.config)
    bank_path = _resolve_bank(req, cfg) if cfg.mcq_generation.enabled else None
    bank = load_bank(bank_path) if bank_path else None
    out = req.output_dir
    staging = out / f".staging-{os.getpid()}"
    try:
        out.mkdir(parents=True, exist_ok=True)
        _remove(staging)
        staging.mkdir()
    except OSError as exc:
        raise SkillError(f"Cannot create the output folder {out.name} ({type(exc).__name__}).",
                         remedy="Pass an --output-dir that is a writable folder (or does not exist yet).",
                         code="label-write-failed") from exc
    run = _Run(req=req)
    try:
        result = _run_stages(run, req, info, raw_cfg, cfg, bank, bank_path, staging, client=client, sleep=sleep)
        _publish(staging, out)
        return result
    except SkillError as exc:
        run.say(f"[pipeline] FAILED: {exc.message}")
        _append_log(out, run.lines)
        raise
    except OSError as exc:
        run.say(f"[pipeline] FAILED: could not write outputs ({type(exc).__name__})")
        _append_log(out, run.lines)
        raise SkillError(f"Writing the labels into {out.name} failed ({type(exc).__name__}).",
                         remedy="Check free disk space and that the output folder is writable.", code="label-write-failed") from exc
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def _append_log(out: Path, lines: Sequence[str]) -> None:
    try:
        (out / "logs").mkdir(parents=True, exist_ok=True)
        with (out / "logs" / "pipeline.log").open("a", encoding="utf-8") as handle:
            handle.write("\n".join(lines) + "\n")
    except OSError as exc:
        log.warning("could not write the pipeline log: %s", type(exc).__name__)


def _scene_path(path: Path, staging: Path) -> str:
    """A file built in the staging folder is named by its place in the finished scene
    (``sidecars/sr_output.mp4``); the staging folder itself is gone once the scene is published."""
    try:
        return path.resolve().relative_to(staging.resolve()).as_posix()
    except ValueError:
        return str(path)


def _tracking_outputs(run: _Run, analysis: Analysis, analysed: Path, info: VideoInfo, staging: Path, *, media_id: str,
                      stem: str, save_video: bool, spool: OverlaySpool | None) -> None:
    """The tracking stage's status and files: DAFT instances/objects and, when asked, the overlay video."""
    tracking_on = run.stages["tracking"]["enabled"]
    if not tracking_on:
        run.stages["tracking"]["reason"] = "disabled"
        return
    run.stages["tracking"].update({"status": "completed", "engine": "classic", "input": _scene_path(analysed, staging),
                                   "tracks": len(analysis.tracks)})
    on = datetime.now(timezone.utc).date()
    _daft.write_json(staging / "contextual" / "instances.json", _daft.instances_payload(analysis.tracks, on=on))
    _daft.write_json(staging / "contextual" / "objects.json",
                     _daft.objects_payload(analysis.tracks, video_id=media_id, stem=stem, num_frames=analysis.frames,
                                           width=info.width, height=info.height, on=on))
    run.say(f"[tracking] {len(analysis.tracks)} track(s) over {analysis.frames} frames "
            f"({', '.join(f'{k}={v}' for k, v in sorted(analysis.measures.counts.items())) or 'no objects'})")
    if save_video:  # drawn over the pictures of the analysis pass; decoded again only if too long to spool
        overlay = staging / "sidecars" / f"{stem}_tracking.mp4"
        if spool is not None:
            spool.finish(overlay, analysis.tracks, info.rate or info.fps)
        else:
            write_by_decoding(analysed, overlay, info, analysis.tracks)
        run.stages["tracking"]["output_video"] = f"sidecars/{stem}_tracking.mp4"


@dataclass
class _Scene:
    """What the stages pass on: the video analysed (the original, or its super-resolved copy), and
    what the MCQ stage produced."""

    analysed: Path
    info: VideoInfo
    stem: str
    sr_on: bool
    analysis: Any = None
    answers: dict[str, Answer] = field(default_factory=dict)
    windows: list[dict[str, Any]] = field(default_factory=list)
    endpoints: dict[str, dict[str, str]] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)


def _run_stages(run: _Run, req: LabelRequest, info: VideoInfo, raw_cfg: dict[str, Any], cfg: LabelConfig,
                bank: QuestionBank | None, bank_path: Path | None, staging: Path, *,
                client: httpx2.Client | None, sleep: Callable[[float], None]) -> LabelResult:
    """The stages in upstream's order, each writing into ``staging``: super-resolution, detection and
    tracking, VLM JSON, MCQ generation, then the task files, the sidecars and the pipeline status."""
    media_id = req.media_id or req.video.stem
    sidecars = staging / "sidecars"
    sidecars.mkdir(parents=True)
    run.say(f"[pipeline] engine={req.engine} video={req.video.name} {info.width}x{info.height} "
            f"{info.fps:g} fps {info.frames} frames")
    scene = _super_resolution_stage(run, req, info, cfg, sidecars)
    scene.analysis = _tracking_stage(run, cfg, scene, staging, media_id)
    _vlm_json_stage(run, req, cfg)
    _mcq_stage(run, req, cfg, bank, scene, staging, client=client, sleep=sleep)
    mcq_payload, bcq_payload = _write_task_files(cfg, bank, scene, staging, media_id)
    _write_metadata(req, cfg, bank, scene, sidecars, media_id)
    effective = _effective_config(raw_cfg, req, sr=scene.sr_on, bank=bank_path, endpoints=scene.endpoints)
    (staging / "config.yaml").write_text(yaml.safe_dump(effective, sort_keys=False, allow_unicode=True), encoding="utf-8")
    _link_raw(staging, req.output_dir.resolve(), scene.analysed, media_id)
    status = _daft.pipeline_status_payload(run.stages, run.fallbacks)
    run.say(f"[pipeline] {status['status']}")
    _daft.write_json(sidecars / "pipeline_status.json", status)
    (staging / "logs").mkdir(exist_ok=True)
    (staging / "logs" / "pipeline.log").write_text("\n".join(run.lines) + "\n", encoding="utf-8")
    return LabelResult(output_dir=str(req.output_dir), status=status["status"], engine=req.engine, media_id=media_id,
                       stem=scene.stem, frames=scene.analysis.frames, tracks=len(scene.analysis.tracks),
                       mcq_items=len(mcq_payload["items"]) if mcq_payload else 0,
                       bcq_items=len(bcq_payload["items"]) if bcq_payload else 0,
                       degraded_stages=status["degraded_stages"])


def _super_resolution_stage(run: _Run, req: LabelRequest, info: VideoInfo, cfg: LabelConfig, sidecars: Path) -> _Scene:
    """1. Upscale a clip lower than the target height (Lanczos); a failure labels the original."""
    sr_on = cfg.super_resolution.enabled if req.super_resolution is None else req.super_resolution
    target_h = cfg.super_resolution.res_h
    scene = _Scene(analysed=req.video, info=info, stem=req.video.stem, sr_on=sr_on)
    run.stages["super_resolution"] = {"enabled": sr_on, "status": "skipped", "degraded": False}
    if sr_on and info.height < target_h:
        sr_path = sidecars / "sr_output.mp4"
        try:
            w, h = _super_resolve(req.video, sr_path, info, target_h)
        except SkillError as exc:
            run.degrade("super_resolution", type(exc).__name__, f"super-resolution failed ({exc.message}); "
                        "labeling the original video", fallback_input=str(req.video), downstream_input=str(req.video))
        else:
            scene.analysed, scene.stem, scene.info = sr_path, "sr_output", probe(sr_path)
            run.stages["super_resolution"].update({"status": "completed", "engine": "lanczos",
                                                   "input": str(req.video), "output": "sidecars/sr_output.mp4"})
            run.say(f"[super_resolution] upscaled {info.width}x{info.height} -> {w}x{h} (Lanczos)")
    elif sr_on:
        run.stages["super_resolution"]["reason"] = f"input is already {info.height} px high (target {target_h})"
        run.say(f"[super_resolution] skipped: input already {info.height} px high")
    else:
        run.stages["super_resolution"]["reason"] = "disabled"
    return scene


def _tracking_stage(run: _Run, cfg: LabelConfig, scene: _Scene, staging: Path, media_id: str) -> Any:
    """2. Detection and tracking in one pass, which also measures the scene for the classic answers."""
    det = cfg.detection_and_tracking
    settings = ClassicSettings(classes=tuple(det.classes), max_age=det.max_age, min_hits=det.min_hits,
                               iou_threshold=det.iou_threshold, min_track_frames=det.min_track_frames)
    run.stages["tracking"] = {"enabled": det.enabled, "status": "skipped", "degraded": False}
    spool = (OverlaySpool(staging / "sidecars" / f".{scene.stem}_tracking.spool", scene.info)
             if det.enabled and det.save_video and spool_fits(scene.info, staging) else None)
    try:
        analysis = analyze_video(scene.analysed, settings, facts=scene.info, tap=spool.add if spool else None)
        _tracking_outputs(run, analysis, scene.analysed, scene.info, staging, media_id=media_id, stem=scene.stem,
                          save_video=det.save_video, spool=spool)
    finally:
        if spool is not None:
            spool.discard()  # idempotent: finish() already removed it on success
    return analysis


def _vlm_json_stage(run: _Run, req: LabelRequest, cfg: LabelConfig) -> None:
    """3. VLM JSON (events / scene metadata): not produced by these engines, recorded as skipped."""
    reason = ("CPU engine" if req.engine == "classic" else
              "the vda nim engine does not run the VLM JSON stage" if cfg.vlm_json.enabled else "disabled")
    run.stages["vlm_json"] = {"enabled": cfg.vlm_json.enabled, "status": "skipped", "degraded": False, "reason": reason}


def _mcq_stage(run: _Run, req: LabelRequest, cfg: LabelConfig, bank: QuestionBank | None, scene: _Scene, staging: Path, *,
               client: httpx2.Client | None, sleep: Callable[[float], None]) -> None:
    """4. The question bank answered: from the measurements (classic) or by the VLM/LLM (nim)."""
    mcq_on = cfg.mcq_generation.enabled
    run.stages["mcq_generation"] = {"enabled": mcq_on, "status": "skipped", "degraded": False, "engine": req.engine}
    if not mcq_on:
        return
    if bank is None:
        run.stages["mcq_generation"]["reason"] = "no question bank (pass --question-bank)"
        run.say("[mcq_generation] skipped: no question bank")
        return
    run.stages["mcq_generation"]["input"] = _scene_path(scene.analysed, staging)
    if req.engine == "classic":
        analysis = scene.analysis
        got, missed = answer_classic(bank, classic_facts(analysis), req.sampled_vars)
        scene.answers = got
        scene.skipped = [{"id": s.id, "reason": s.reason} for s in missed]
        run.stages["mcq_generation"]["abstained"] = sum(1 for s in missed if s.reason.startswith(ABSTAIN_PREFIX))
        run.stages["mcq_generation"]["min_confidence"] = MIN_CONFIDENCE
        scene.windows = [{"start_s": 0.0, "end_s": round(analysis.frames / scene.info.fps, 3), "start_frame": 0,
                          "end_frame": analysis.frames - 1, "vlm_caption": "",
                          "llm_enhanced_caption": {k: v.answer for k, v in got.items()},
                          "measurements": analysis.measures.as_dict()}]
        run.stages["mcq_generation"]["status"] = "completed"
    else:
        scene.answers, scene.windows, scene.endpoints = _nim_answers(run, req, cfg, bank, scene.analysed, scene.info,
                                                                     client=client, sleep=sleep)
    run.stages["mcq_generation"]["items"] = len(scene.answers)
    run.say(f"[mcq_generation] {len(scene.answers)} answered, {len(scene.skipped)} skipped ({req.engine})")


def _write_task_files(cfg: LabelConfig, bank: QuestionBank | None, scene: _Scene, staging: Path,
                      media_id: str) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """task/mcq.json and task/bcq.json in DAFT's layout (and the empty marker when asked)."""
    items = task_items(bank, scene.answers) if bank else []
    mcq_payload, bcq_payload = _daft.task_payloads(items, video_id=media_id)
    if mcq_payload:
        _daft.write_json(staging / "task" / "mcq.json", mcq_payload)
    if bcq_payload:
        _daft.write_json(staging / "task" / "bcq.json", bcq_payload)
    if cfg.mcq_generation.enabled and bank is not None and not items and cfg.mcq_generation.window_metadata_extraction.write_empty_mcq_marker:
        _daft.write_json(staging / "sidecars" / "mcq.empty.json", {"version": "2.0", "video_id": media_id, "mcq": [],
                                                                    "_error": "zero_task_items"})
    return mcq_payload, bcq_payload


def _write_metadata(req: LabelRequest, cfg: LabelConfig, bank: QuestionBank | None, scene: _Scene, sidecars: Path, media_id: str) -> None:
    """sidecars/metadata.json: the clip, the windows, every answer with its measure and confidence."""
    info, analysis, answers, windows = scene.info, scene.analysis, scene.answers, scene.windows
    win = cfg.mcq_generation.window_metadata_extraction
    classic = req.engine == "classic"
    duration = round(analysis.frames / info.fps, 3) if info.fps else info.duration
    _daft.write_json(sidecars / "metadata.json", {
        "video_id": media_id, "source_video": str(req.video), "duration_span": [0.0, duration],
        "width": info.width, "height": info.height, "framerate": round(info.fps, 3),
        "num_frames": analysis.frames, "engine": req.engine,
        "windowing": {"window_mode": "clip" if classic else ("single" if win.single_window else "frames"),
                      "window_frames": analysis.frames if classic else win.window_frames,
                      "window_seconds": None, "single_window": classic or win.single_window,
                      "sampling_fps": win.sampling_fps, "resolution": win.resolution, "max_frames": win.max_frames,
                      "caption_key": "vlm_caption", "enhanced_caption_key": "llm_enhanced_caption"},
        "windows": windows, "filtered_windows": sum(1 for w in windows if w.get("_errors")),
        "valid": bool(windows) and any(not w.get("_errors") for w in windows),
        "has_caption": any(w.get("vlm_caption") for w in windows),
        "sampled_vars": dict(req.sampled_vars or {}),
        "answers": {k: {"answer": v.answer, "reasoning": v.reasoning, "measure": v.measure,
                        "confidence": round(v.confidence, 2)} for k, v in answers.items()},
        "produced_by": {"engine": req.engine,
                        "heuristics": sorted({v.measure for v in answers.values() if v.measure}) if classic else []},
        "skipped_questions": scene.skipped,
        "question_bank": bank.name if bank else None,
    })


def _nim_answers(run: _Run, req: LabelRequest, cfg: LabelConfig, bank: QuestionBank, analysed: Path, info: VideoInfo,
                 *, client: httpx2.Client | None,
                 sleep: Callable[[float], None]) -> tuple[dict[str, Answer], list[dict[str, Any]], dict[str, dict[str, str]]]:
    import httpx2

    from skill.engines._label_nim import (
        NimSettings,
        answer_counts,
        api_key,
        auth_headers,
        iter_windows,
        run_windows,
        wait_for_models,
    )

    vlm_url = req.vlm_url or cfg.endpoints.vlm.url or ""
    llm_url = req.llm_url or cfg.endpoints.llm.url or ""
    if not vlm_url or not llm_url:
        raise InputError("The nim engine needs a VLM URL and an LLM URL.",
                         remedy="Pass --vlm-url and --llm-url (OpenAI-compatible base URLs such as http://host:8000/v1).")
    win = cfg.mcq_generation.window_metadata_extraction
    settings = NimSettings.from_env(window_frames=win.window_frames, single_window=win.single_window,
                                    sampling_fps=win.sampling_fps, resolution=win.resolution, max_frames=win.max_frames,
                                    vlm_max_tokens=win.vlm_max_tokens, llm_max_tokens=win.llm_max_tokens,
                                    request_timeout=win.timeout)
    own = client is None
    http = client or httpx2.Client(follow_redirects=True)
    try:
        vlm = wait_for_models(http, "VLM", vlm_url, auth_headers(api_key("vlm")), settings, sleep=sleep,
                              model=req.vlm_model or cfg.endpoints.vlm.model or None)
        llm = wait_for_models(http, "LLM", llm_url, auth_headers(api_key("llm")), settings, sleep=sleep,
                              model=req.llm_model or cfg.endpoints.llm.model or None)
        run.say(f"[mcq_generation] VLM {vlm.model} at {vlm.base_url}; LLM {llm.model} at {llm.base_url}")
        windows = iter_windows(iter_frames(analysed), fps=info.fps, settings=settings, total_frames=info.frames)
        results = run_windows(http, vlm, llm, windows, bank, settings, sleep=sleep)
    finally:
        if own:
            http.close()
    endpoints = {"vlm": {"url": vlm.base_url, "model": vlm.model}, "llm": {"url": llm.base_url, "model": llm.model}}
    good = [r for r in results if r.error is None]
    for r in results:
        if r.error:
            run.say(f"[mcq_generation] window {r.window.index} failed: {r.error}")
    if results and not good and all(r.error_code == "endpoint-unreachable" for r in results):
        # the server went away: no scene at all rather than an empty one that looks labeled
        raise BackendUnavailable(f"No window was labeled: {results[-1].error}",
                                 remedy="Check that the VLM/LLM server is running and reachable, then run again.",
                                 code="endpoint-unreachable")
    if not good:
        reason = results[0].error if results else "no frames"
        run.degrade("mcq_generation", "all_windows_failed", f"no window was answered ({reason})",
                    fallback_input=str(analysed), downstream_input=str(analysed))
        return {}, [r.sidecar() for r in results], endpoints
    final = aggregate(bank, [r.answers for r in good])
    answers = {}
    for qid, value in final.items():
        counts = answer_counts(qid, good)
        rule = bank.by_id()[qid].rule().type
        answers[qid] = Answer(qid, value, f"VLM captions of {len(good)} window(s) mapped to the bank by the LLM; "
                              f"{counts.get(value, 0)} of {sum(counts.values())} window answer(s) chose it ({rule}).")
    run.stages["mcq_generation"]["status"] = "completed"
    run.stages["mcq_generation"]["windows"] = len(results)
    return answers, [r.sidecar() for r in results], endpoints


# --- command line -------------------------------------------------------------------------------------


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("true", "1", "yes", "on"):
        return True
    if value in ("false", "0", "no", "off"):
        return False
    raise argparse.ArgumentTypeError("expected true or false")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skill.engines.label",
                                     description="Auto-label one video into the DAFT scene layout.")
    parser.add_argument("--engine", choices=("classic", "nim"), required=True)
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--output-dir", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True, help="auto_labeling_config.yaml")
    parser.add_argument("--question-bank", type=Path)
    known = parser.add_mutually_exclusive_group()
    known.add_argument("--sampled-vars", type=Path, help="JSON object of the known augmentation variables")
    known.add_argument("--augment-metadata", type=Path,
                       help="the augment engine's metadata.json of the clip: its variables are the known ones")
    parser.add_argument("--super-resolution", type=_bool, metavar="true|false")
    parser.add_argument("--vlm-url")
    parser.add_argument("--llm-url")
    parser.add_argument("--vlm-model", help="served model id at --vlm-url (default: the first /v1/models lists)")
    parser.add_argument("--llm-model", help="served model id at --llm-url (default: the first /v1/models lists)")
    parser.add_argument("--media-id")
    parser.add_argument("--ahead-cache", type=Path, help="a run's cache folder: publish the scene labeled ahead for "
                                                         "exactly this job if there is one (skill.engines.label_ahead)")
    return parser


def _read_sampled(path: Path | None, *, metadata: Path | None = None) -> dict[str, str] | None:
    """The known variables: a flat JSON object (``--sampled-vars``), or the ``variables`` object of the
    augment engine's ``metadata.json`` (``--augment-metadata``), read here instead of by a helper
    process in the worker script."""
    flag = "--augment-metadata" if metadata is not None else "--sampled-vars"
    path = metadata if metadata is not None else path
    if path is None:
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the sampled variables file {path.name}.", remedy=f"Check the {flag} path.") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"The sampled variables file {path.name} is not valid JSON.", remedy="Pass a JSON object such as {\"weather\": \"rain\"}.") from exc
    if metadata is not None:
        if not isinstance(data, dict) or not isinstance(data.get("variables", {}), dict):
            raise InputError(f"The augment metadata {path.name} has no variables object.",
                             remedy="Pass the metadata.json the augment engine wrote next to the augmented clip.")
        data = data.get("variables") or {}
    if not isinstance(data, dict) or not all(isinstance(v, (str, int, float, bool)) for v in data.values()):
        raise InputError(f"The sampled variables file {path.name} must be a flat JSON object.",
                         remedy="Pass a JSON object such as {\"weather\": \"rain\"}.")
    return {str(k): str(v) for k, v in data.items()}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("VDA_LOG_LEVEL", "WARNING").upper(), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        req = LabelRequest(engine=args.engine, video=args.video, output_dir=args.output_dir, config=args.config,
                           question_bank=args.question_bank, sampled_vars=_read_sampled(args.sampled_vars, metadata=args.augment_metadata),
                           super_resolution=args.super_resolution, vlm_url=args.vlm_url, llm_url=args.llm_url,
                           vlm_model=args.vlm_model, llm_model=args.llm_model,
                           media_id=args.media_id)
    except ValidationError as exc:
        print(f"Error: invalid argument {'.'.join(map(str, exc.errors()[0]['loc']))}: {exc.errors()[0]['msg']}",
              file=sys.stderr)
        return 2
    except SkillError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    result = _adopted(args.ahead_cache, req) if args.ahead_cache else None
    try:
        result = result or label(req)
    except SkillError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(result.model_dump(mode="json")))
    return 0


def _adopted(cache: Path, req: LabelRequest) -> LabelResult | None:
    """The scene labeled ahead for exactly ``req`` published into its output folder, or None (then
    this process labels as always; a failed publish is noted in the cache's log)."""
    from skill.engines.label_ahead import adopt, note

    try:
        return adopt(cache, req)
    except OSError as exc:
        note(cache, req.video, "label-ahead-adopt-failed", f"The prepared scene could not be published ({type(exc).__name__}).")
        return None


if __name__ == "__main__":
    sys.exit(main())

"""Augment one clip: ``python -m skill.engines.augment --engine classic|cosmos --config CFG --video IN --output-dir DIR``.

Reads a per-(video, aug) config written by :mod:`skill.engines.configs` (its ``vda`` block gives
the video name, aug index, seed and sampled variables) and writes into ``DIR``:

* ``augmented_video.mp4``: H.264 ``yuv420p``, same size, frame rate and frame count as the input;
* ``metadata.json``: ``{video_name, aug_idx, engine, seed, variables, parameters, source_video,
  frames, fps, width, height}``.

Engines:

* ``classic`` (CPU, offline): re-renders the clip frame by frame under the sampled weather, time of
  day, lighting and surface (:mod:`skill.engines._classic`), streaming decode -> numpy/OpenCV ->
  encode, never holding the clip in memory.
* ``cosmos`` (GPU container): builds the Cosmos Transfer 2.5 edge control video and spec, then runs
  the container CLI (:mod:`skill.engines._cosmos`).

The video is first written under a temporary name and renamed when complete; ``metadata.json`` is
written last, so a folder with ``metadata.json`` always holds a finished clip. Exit 0 on success,
1 on failure (one ``ERROR:`` line on stderr), 2 on a usage error.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import queue
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from skill.engines._classic import ClassicRenderer, build_look
from skill.engines._compare_tee import CompareTee, open_tee
from skill.engines._conditions import Conditions, resolve
from skill.engines._cv_threads import opencv_in_this_thread
from skill.engines._read_ahead import read_ahead
from skill.engines._cosmos import CosmosOptions, run_cosmos
from skill.engines.video_io import VideoWriter, iter_frames, probe
from skill.errors import InputError, SkillError
from skill.secrets import redact
from skill import yaml_text

__all__ = [
    "ENGINES",
    "ClipConfig",
    "augment",
    "augment_classic",
    "load_clip_config",
    "main",
]

ENGINES = ("classic", "cosmos")
EngineName = Literal["classic", "cosmos"]
VIDEO_NAME = "augmented_video.mp4"
METADATA_NAME = "metadata.json"
_QUEUE_DEPTH = 4


class ClipConfig(BaseModel):
    """What the engines need from a per-clip config (its ``vda`` block, or fallbacks)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    video_name: Annotated[str, Field(min_length=1, description="Video file stem, e.g. 03_IllegalOccupation_020_10FPS.")]
    aug_idx: Annotated[int, Field(ge=0)]
    seed: Annotated[int, Field(ge=0, description="Per-clip seed from the config generator.")]
    variables: dict[str, str] = Field(default_factory=dict, description="Sampled variables, e.g. {weather: rain}.")
    cookbook: str | None = None


def _stable_seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest(), "big") % (2**31)


def load_clip_config(config_path: Path, video: Path) -> tuple[ClipConfig, dict[str, Any]]:
    """Parse the per-clip config; return the engine view and the full mapping.

    Without a ``vda`` block (a hand-written config) the video stem, aug 0, the
    ``augmentation.parameters.seed`` (or a seed from the name) and the first value of each
    ``captioning.llm.variables`` entry are used.
    """
    if not config_path.is_file():
        raise InputError(f"Config file {config_path} does not exist.", remedy="Run generate_configs first, or pass the right --config.", code="config-not-found")
    try:
        raw = yaml_text.load(config_path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise InputError(f"Config {config_path.name} is not valid YAML.", remedy="Regenerate it with generate_configs.", code="config-invalid") from exc
    if not isinstance(raw, dict):
        raise InputError(f"Config {config_path.name} must hold a mapping.", remedy="Regenerate it with generate_configs.", code="config-invalid")
    vda = raw.get("vda") if isinstance(raw.get("vda"), dict) else {}
    params = (raw.get("augmentation") or {}).get("parameters") if isinstance(raw.get("augmentation"), dict) else None
    params = params if isinstance(params, dict) else {}
    name = vda.get("video_name") or video.stem
    aug_idx = vda.get("aug_idx", 0)
    seed = vda.get("seed", params.get("seed"))
    if seed is None:
        seed = _stable_seed(f"{name}/{aug_idx}")
    variables = vda.get("sampled_vars")
    if variables is None:
        llm = ((raw.get("captioning") or {}).get("llm") or {}) if isinstance(raw.get("captioning"), dict) else {}
        listed = llm.get("variables") if isinstance(llm, dict) else None
        variables = {k: (v[0] if isinstance(v, list) and v else v) for k, v in (listed or {}).items()}
    try:
        clip = ClipConfig(
            video_name=str(name),
            aug_idx=aug_idx,
            seed=seed,
            variables={str(k): str(v) for k, v in (variables or {}).items()},
            cookbook=vda.get("cookbook"),
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in err["loc"]) for err in exc.errors())
        raise InputError(f"Config {config_path.name} has invalid vda values ({fields}).", remedy="Regenerate it with generate_configs.", code="config-invalid") from exc
    return clip, raw


# --- streaming helpers -------------------------------------------------------------------------


def _encode_behind(out: VideoWriter, frames: Iterator[np.ndarray], depth: int = _QUEUE_DEPTH) -> None:
    """Write ``frames`` to ``out`` from a helper thread, at most ``depth`` frames behind, so encoding
    overlaps the rendering of the next frames (x264 and OpenCV release the GIL). An error on
    either side stops both and is raised here."""
    box: queue.Queue[np.ndarray | None] = queue.Queue(maxsize=depth)
    failure: list[BaseException] = []

    def pump() -> None:
        try:
            while (frame := box.get()) is not None:
                out.write(frame)
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            failure.append(exc)
            while box.get() is not None:  # keep taking frames so the producer never blocks
                continue

    worker = threading.Thread(target=pump, name="vda-encode", daemon=True)
    worker.start()
    try:
        for frame in frames:
            if failure:
                break
            box.put(frame)
    finally:
        box.put(None)
        worker.join()
        close = getattr(frames, "close", None)
        if close is not None:
            close()  # stops the decode thread behind a generator now, not at garbage collection
    if failure:
        raise failure[0]


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)


# --- engines -----------------------------------------------------------------------------------


def _rendered(renderer: ClassicRenderer, video: Path, tee: CompareTee | None) -> Iterator[np.ndarray]:
    """The re-rendered frames of ``video``; each (input, rendered) pair also goes to ``tee``."""
    for index, frame in enumerate(read_ahead(iter_frames(video), depth=_QUEUE_DEPTH)):  # decoded on a helper thread
        out = renderer.render(frame, index)
        if tee is not None:
            tee.submit(frame, out)
        yield out


def augment_classic(clip: ClipConfig, video: Path, output_dir: Path, *, crf: int = 20, preset: str = "veryfast",
                    compare_cache: Path | None = None) -> dict[str, Any]:
    """Re-render ``video`` under the clip's conditions into ``output_dir/augmented_video.mp4``;
    with ``compare_cache``, also the side-by-side comparison into that run cache (see :mod:`skill.engines._compare_tee`)."""
    info = probe(video)
    conditions = resolve(clip.variables)
    look = build_look(conditions, clip.seed)
    renderer = ClassicRenderer(look, info.width, info.height, info.fps, clip.seed)
    partial = output_dir / f".{VIDEO_NAME}.partial.mp4"
    rate = info.rate or info.fps
    tee = open_tee(compare_cache, f"{clip.video_name}_aug{clip.aug_idx}", video, info.width, info.height, rate)
    try:
        with opencv_in_this_thread(), VideoWriter(partial, info.width, info.height, rate, crf=crf, preset=preset) as out:
            _encode_behind(out, _rendered(renderer, video, tee))
            frames = out.frames_written
            if tee is not None:
                tee.drain()  # before OpenCV's pool is handed back (see CompareTee.drain)
        os.replace(partial, output_dir / VIDEO_NAME)
    except BaseException:
        if tee is not None:
            tee.abandon()
        raise
    if tee is not None:
        tee.finish(video, output_dir / VIDEO_NAME)
    parameters = look.as_parameters()
    parameters["ignored_variables"] = dict(conditions.ignored)
    parameters["encoder"] = {"codec": "libx264", "pix_fmt": "yuv420p", "crf": crf, "preset": preset}
    return {
        "frames": frames,
        "fps": round(float(info.rate or info.fps), 6),
        "width": info.width,
        "height": info.height,
        "parameters": parameters,
    }


def _augment_cosmos(clip: ClipConfig, raw: dict[str, Any], config_path: Path, video: Path, output_dir: Path) -> dict[str, Any]:
    conditions: Conditions = resolve(clip.variables)
    params = (raw.get("augmentation") or {}).get("parameters") or {}
    name = str(params.get("inference_name") or f"{clip.video_name}_aug{clip.aug_idx}")
    run = run_cosmos(
        config_path=config_path.resolve(),
        config=raw,
        video=video.resolve(),
        output_dir=output_dir.resolve(),
        conditions=conditions,
        seed=clip.seed,
        name=name,
        options=CosmosOptions.from_env(),
    )
    info = probe(output_dir / VIDEO_NAME)
    return {
        "frames": info.frames,
        "fps": round(float(info.rate or info.fps), 6),
        "width": info.width,
        "height": info.height,
        "parameters": {
            "conditions": dict(conditions.axes),
            "ignored_variables": dict(conditions.ignored),
            "spec": run.spec,
            "edge_thresholds": [100, 200],
            "cli_exit_code": run.exit_code,
            "recovered_from": run.recovered_from,
            "warning": run.warning,
        },
    }


def augment(engine: EngineName, config_path: Path, video: Path, output_dir: Path, *, compare_cache: Path | None = None) -> dict[str, Any]:
    """Run one engine on one clip and write ``metadata.json``; return the metadata. With
    ``compare_cache`` (a run's cache folder), the classic engine also leaves the side-by-side there."""
    if engine not in ENGINES:
        raise InputError(f"Unknown engine '{engine}'.", remedy="Use --engine classic (CPU) or --engine cosmos (GPU container).")
    clip, raw = load_clip_config(config_path, video)
    probe(video)  # fail early, before anything is created, on a missing or unreadable input
    output_dir.mkdir(parents=True, exist_ok=True)
    for stale in (output_dir / METADATA_NAME, output_dir / VIDEO_NAME):
        stale.unlink(missing_ok=True)  # a rerun must not leave an old result looking finished
    if engine == "classic":
        produced = augment_classic(clip, video, output_dir, compare_cache=compare_cache)
    else:
        produced = _augment_cosmos(clip, raw, config_path, video, output_dir)
    metadata = {
        "video_name": clip.video_name,
        "aug_idx": clip.aug_idx,
        "engine": engine,
        "seed": clip.seed,
        "variables": dict(clip.variables),
        "parameters": produced["parameters"],
        "source_video": str(video.resolve()),
        "frames": produced["frames"],
        "fps": produced["fps"],
        "width": produced["width"],
        "height": produced["height"],
    }
    _write_json(output_dir / METADATA_NAME, metadata)
    return metadata


# --- command line ------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skill.engines.augment", description="Augment one clip per its generated config.")
    parser.add_argument("--engine", choices=ENGINES, required=True, help="classic (CPU, offline) or cosmos (GPU container)")
    parser.add_argument("--config", type=Path, required=True, help="the per-clip config, <setup>/configs/<video>_aug<i>.yaml")
    parser.add_argument("--video", type=Path, required=True, help="the input video")
    parser.add_argument("--output-dir", type=Path, required=True, help="where augmented_video.mp4 and metadata.json go")
    parser.add_argument("--compare-cache", type=Path, default=None,
                        help="a run's cache folder: the classic engine also writes the input|augmented comparison there")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        metadata = augment(args.engine, args.config, args.video, args.output_dir, compare_cache=args.compare_cache)
    except SkillError as exc:
        print(f"ERROR: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ERROR: [augment-io-failed] {redact(str(exc.strerror or exc))} ({exc.filename or 'output'}). Next: check disk space and permissions.", file=sys.stderr)
        return 1
    summary = ", ".join(f"{k}={v}" for k, v in metadata["variables"].items()) or "no variables"
    print(
        f"[augment] {metadata['video_name']}_aug{metadata['aug_idx']}: {metadata['engine']} engine, {summary}, "
        f"{metadata['frames']} frames {metadata['width']}x{metadata['height']} @ {metadata['fps']:g} fps -> {args.output_dir / VIDEO_NAME}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())

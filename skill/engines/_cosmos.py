"""The GPU ("cosmos") path: prepare Cosmos Transfer 2.5 inputs and run the augmentation container's CLI.

What it builds for one clip, under ``<output>/cosmos/``:

* ``edge_control.mp4``: the edge control video, Canny per frame with the ``medium`` preset
  thresholds (100, 200), white edges on black, same size and frame rate as the input;
* ``spec.json``: a Cosmos Transfer 2.5 inference spec (``name``, ``prompt``, ``video_path``,
  ``guidance``, ``seed``, ``num_steps``, ``sigma_max``, ``edge: {control_path, control_weight}``,
  ``negative_prompt``), usable with Cosmos' own ``examples/inference.py -i spec.json``;

then it runs the container CLI as the upstream worker does (``uv run python modules/cli.py
--config CFG`` plus ``key=value`` overrides), from an argv list, never a shell string. When the
CLI leaves no ``augmented_video.mp4``, a fresh ``cosmos_transfer_inference.mp4`` (or
``<inference_name>.mp4``) written during this run under the recovery folders (default ``/tmp``)
is copied in: missing output with a non-zero exit fails with that exit code, missing output with
exit 0 fails with 1, and a recovered output after a non-zero exit is a warning.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from skill.engines._conditions import Conditions, describe
from skill.engines.video_io import VideoWriter, iter_frames, probe
from skill.errors import SkillError
from skill.secrets import redact

__all__ = [
    "EDGE_THRESHOLDS",
    "CosmosError",
    "CosmosOptions",
    "CosmosRun",
    "build_argv",
    "build_spec",
    "run_cosmos",
    "write_edge_video",
]

EDGE_THRESHOLDS = (100, 200)  # Cosmos' "medium" edge preset
DEFAULT_COMMAND = ("uv", "run", "python", "modules/cli.py")
DEFAULT_NEGATIVE = (
    "cartoon, painting, computer-game look, blurry, warped or melting objects, extra or missing objects, "
    "flicker, lighting that jumps between frames, text overlays, watermark"
)
RECOVERY_NAME = "cosmos_transfer_inference.mp4"


class CosmosError(SkillError):
    default_code = "cosmos-failed"


@dataclass(frozen=True)
class CosmosOptions:
    """How to reach the container CLI. :meth:`from_env` reads the worker's environment."""

    command: tuple[str, ...] = DEFAULT_COMMAND
    workdir: Path = Path("/app")
    recovery_dirs: tuple[Path, ...] = (Path("/tmp"),)
    timeout: float = 6 * 3600.0
    vlm_url: str | None = None
    vlm_model: str | None = None
    llm_url: str | None = None
    llm_model: str | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> CosmosOptions:
        env = dict(os.environ if env is None else env)
        command = tuple(shlex.split(env["VDA_COSMOS_COMMAND"])) if env.get("VDA_COSMOS_COMMAND") else DEFAULT_COMMAND
        recovery = env.get("VDA_COSMOS_RECOVERY_DIRS")
        return cls(
            command=command,
            workdir=Path(env.get("VDA_COSMOS_WORKDIR") or "/app"),
            recovery_dirs=tuple(Path(p) for p in recovery.split(os.pathsep) if p) if recovery else (Path("/tmp"),),
            timeout=float(env.get("VDA_COSMOS_TIMEOUT_SECONDS") or 6 * 3600),
            vlm_url=env.get("VLM_URL") or None,
            vlm_model=env.get("VLM_MODEL") or None,
            llm_url=env.get("LLM_URL") or None,
            llm_model=env.get("LLM_MODEL") or None,
        )


@dataclass(frozen=True)
class CosmosRun:
    """What happened: the spec, the argv (redacted), the CLI exit code and any recovery."""

    spec: dict[str, Any]
    argv: list[str]
    exit_code: int
    recovered_from: str | None
    warning: str | None


def write_edge_video(video: Path, dest: Path, thresholds: tuple[int, int] = EDGE_THRESHOLDS) -> int:
    """Stream ``video`` into a Canny edge video at ``dest``; return the frame count."""
    import cv2  # here, not at the top: the CLI reads CosmosOptions on every run and never draws edges

    info = probe(video)
    low, high = thresholds
    with VideoWriter(dest, info.width, info.height, info.rate or info.fps) as out:
        for frame in iter_frames(video):
            edges = cv2.Canny(cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY), low, high)
            out.write(cv2.cvtColor(edges, cv2.COLOR_GRAY2RGB))
        return out.frames_written


def _section(config: dict[str, Any], *keys: str) -> dict[str, Any]:
    node: Any = config
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _caption(config: dict[str, Any]) -> str:
    data = config.get("data")
    first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
    caption_path = _section(first, "output").get("caption")
    if isinstance(caption_path, str) and caption_path and Path(caption_path).is_file():
        text = Path(caption_path).read_text(encoding="utf-8", errors="replace").strip()
        if text:
            return text
    prompt = _section(config, "augmentation", "modalities").get("positive_prompt")
    return str(prompt).strip() if prompt else "A photorealistic video of the same scene with the same objects and motion."


def build_spec(
    config: dict[str, Any], *, video: Path, edge_path: Path, conditions: Conditions, seed: int, name: str
) -> dict[str, Any]:
    """The Cosmos Transfer 2.5 spec for one clip: caption + target conditions as the prompt."""
    params = _section(config, "augmentation", "parameters")
    modalities = _section(config, "augmentation", "modalities")
    target = describe(conditions)
    prompt = _caption(config)
    if target:
        prompt = f"{prompt.rstrip('.')}. Render it with {target}. Keep every object, its position and its motion unchanged."
    edge_weight = modalities.get("edge")
    spec: dict[str, Any] = {
        "name": name,
        "prompt": prompt,
        "video_path": str(video),
        "guidance": int(params.get("guidance", 3)),
        "seed": int(seed),
        "num_steps": int(params.get("num_steps", 35)),
        "edge": {
            "control_path": str(edge_path),
            "control_weight": float(edge_weight) if isinstance(edge_weight, (int, float)) and not isinstance(edge_weight, bool) else 1.0,
        },
        "negative_prompt": str(modalities.get("negative_prompt") or DEFAULT_NEGATIVE),
    }
    if params.get("sigma") is not None:
        spec["sigma_max"] = float(params["sigma"])
    return spec


def _prompt_file(config_path: Path, config: dict[str, Any], key: str, default_name: str) -> Path | None:
    configured = _section(config, "template_generation").get(key)
    candidates = []
    if isinstance(configured, str) and configured:
        candidates.append(Path(configured) if Path(configured).is_absolute() else config_path.parent / configured)
    candidates.append(config_path.parent / "augmentation" / "prompts" / default_name)
    return next((c.resolve() for c in candidates if c.is_file()), None)


def build_argv(
    options: CosmosOptions, *, config_path: Path, config: dict[str, Any], video: Path, edge_path: Path, output_dir: Path
) -> list[str]:
    """The container CLI call with the worker's overrides (upstream §2.6, keys fixed to our schema)."""
    side = output_dir / "cosmos"
    overrides = [
        f"data.0.inputs.rgb={video}",
        f"data.0.inputs.controls.edge={edge_path}",
        f"data.0.output.video={output_dir / 'augmented_video.mp4'}",
        f"data.0.output.metadata={side / 'container_metadata.json'}",
        f"data.0.output.caption={side / 'caption.txt'}",
        "captioning.vlm.parser=instruct",
    ]
    for key, name in (("system_prompt_file", "template_generation_system_prompt.md"), ("prompt_polishing_file", "prompt_polishing_system_prompt.md")):
        found = _prompt_file(config_path, config, key, name)
        if found:
            overrides.append(f"template_generation.{key}={found}")
    for role in ("vlm", "llm"):
        url, model = getattr(options, f"{role}_url"), getattr(options, f"{role}_model")
        if url:
            overrides.append(f"endpoints.{role}.url={url}")
        if model:
            overrides.append(f"endpoints.{role}.model={model}")
    return [*options.command, "--config", str(config_path), *overrides]


def _recover(options: CosmosOptions, names: tuple[str, ...], since: float) -> Path | None:
    """The newest file with one of ``names`` written during this run under the recovery folders."""
    found: list[tuple[float, Path]] = []
    for root in options.recovery_dirs:
        if not root.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            depth = len(Path(dirpath).relative_to(root).parts)
            if depth >= 3:
                dirnames[:] = []
            for name in names:
                if name in filenames:
                    path = Path(dirpath) / name
                    mtime = path.stat().st_mtime
                    if mtime >= since:
                        found.append((mtime, path))
    return max(found)[1] if found else None


def run_cosmos(
    *,
    config_path: Path,
    config: dict[str, Any],
    video: Path,
    output_dir: Path,
    conditions: Conditions,
    seed: int,
    name: str,
    options: CosmosOptions,
) -> CosmosRun:
    """Prepare the edge video and spec, run the CLI, recover or fail. Leaves ``augmented_video.mp4``."""
    side = output_dir / "cosmos"
    side.mkdir(parents=True, exist_ok=True)
    edge_path = side / "edge_control.mp4"
    write_edge_video(video, edge_path)
    spec = build_spec(config, video=video, edge_path=edge_path, conditions=conditions, seed=seed, name=name)
    (side / "spec.json").write_text(json.dumps(spec, indent=2) + "\n", encoding="utf-8")
    argv = build_argv(options, config_path=config_path, config=config, video=video, edge_path=edge_path, output_dir=output_dir)
    shown = [redact(a) for a in argv]
    print(f"[augment] running the Cosmos CLI in {options.workdir}: {shlex.join(shown)}", file=sys.stderr, flush=True)
    env = {**os.environ, **options.extra_env}
    env.setdefault("UV_PROJECT_ENVIRONMENT", str(options.workdir / ".venv"))
    started = time.time() - 1.0
    try:
        proc = subprocess.run(argv, cwd=options.workdir, env=env, timeout=options.timeout, check=False)
    except FileNotFoundError as exc:
        raise CosmosError(
            f"The Cosmos CLI could not be started ({options.command[0]} or {options.workdir} is missing).",
            remedy="Run the cosmos engine inside the paidf-augmentation container, or use --engine classic on a CPU machine.",
            code="cosmos-cli-missing",
        ) from exc
    except subprocess.TimeoutExpired as exc:
        raise CosmosError(
            f"The Cosmos CLI ran longer than {options.timeout:g}s and was stopped.",
            remedy="Raise VDA_COSMOS_TIMEOUT_SECONDS or shorten the clip.",
            code="cosmos-timeout",
        ) from exc
    target = output_dir / "augmented_video.mp4"
    recovered: Path | None = None
    warning = None
    if not target.is_file():
        recovered = _recover(options, (RECOVERY_NAME, f"{name}.mp4"), started)
        if recovered is None:
            raise CosmosError(
                f"The Cosmos CLI exited {proc.returncode} and left no augmented_video.mp4 for {name}.",
                remedy="Read the CLI output above; check the model cache mount (HF_HUB_CACHE) and the endpoints.",
                code="cosmos-no-output",
            )
        shutil.copyfile(recovered, target)
        if proc.returncode != 0:
            warning = f"Cosmos CLI exited {proc.returncode} but its output was recovered from {recovered}."
            print(f"WARNING: {warning}", file=sys.stderr, flush=True)
    return CosmosRun(spec=spec, argv=shown, exit_code=proc.returncode, recovered_from=str(recovered) if recovered else None, warning=warning)

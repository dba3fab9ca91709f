"""What the two containers accept as a config: our model of their schemas, and the check.

The auto-labeling image (``paidf-auto-labeling``) validates its whole config with pydantic models
that forbid unknown keys everywhere; the augmentation image (``paidf-augmentation`` 1.0.x, the
version our workflows pin) forbids unknown keys inside the evaluator entries and takes
``evaluators`` as a *list* of one-key entries. A config either image would reject makes the task
fail (auto-labeling exits 2; augmentation returns 0 and writes nothing), so we check every config
we generate against this model first and name the key path that is wrong.

The models hold only the sections and keys we generate, with the containers' own names (for
example super-resolution's ``res_h``/``res_w``, the hallucination check's ``params``). They forbid
every other key, so a key the container does not know fails here too. Two top-level blocks of the
augmentation config are ours and ignored by that image (its root model accepts unknown keys):
``vda`` (what generate_configs sampled) and ``template_generation`` (prompt files the local
engine reads).

Both containers apply the workers' ``key.path=value`` overrides before validating, so
:func:`apply_overrides` does the same (dotted keys, list indexes as numbers, YAML scalars).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from skill import yaml_text
from skill.errors import InputError

__all__ = [
    "AL_WORKER_OVERRIDES",
    "AUG_WORKER_OVERRIDES",
    "AugmentationContract",
    "AutoLabelingContract",
    "ContainerConfigError",
    "ContainerKind",
    "apply_overrides",
    "check_config",
    "check_cookbook",
    "check_staged_cookbooks",
]

ContainerKind = Literal["auto-labeling", "augmentation"]

# The override keys our workers pass (scripts/endpoint_common.sh vda_prepare_al_container and the
# PL workers; scripts/cosmos_worker.sh run_container_item and skill/engines/_cosmos.py), with
# stand-in values of the right type.
AL_WORKER_OVERRIDES: tuple[str, ...] = (
    "data.0.inputs.video_path=/data/input/video.mp4",
    "data.0.output.out_dir=/data/output/video",
    "super_resolution.enabled=false",
    "pipeline.model_cache_path=/models/auto_labeling",
    "pipeline.gpu_ids=0",
    "endpoints.vlm.url=http://vlm:8000/v1",
    "endpoints.vlm.model=vlm-model",
    "endpoints.llm.url=http://llm:8000/v1",
    "endpoints.llm.model=llm-model",
    "mcq_generation.window_metadata_extraction.question_bank_file=/tmp/question_bank.json",
    "vlm_json.scene_prompt_file=/configs/auto_labeling/prompts/event_analysis.md",
    "vlm_json.events_prompt_file=/configs/auto_labeling/prompts/event_analysis.md",
)
AUG_WORKER_OVERRIDES: tuple[str, ...] = (
    "data.0.inputs.rgb=/data/input/video.mp4",
    "data.0.inputs.controls.edge=/data/output/edge.mp4",
    "data.0.output.video=/data/output/augmented_video.mp4",
    "data.0.output.metadata=/data/output/metadata.json",
    "data.0.output.caption=/data/output/caption.txt",
    "captioning.vlm.parser=instruct",
    "endpoints.vlm.url=http://vlm:8000/v1",
    "endpoints.vlm.model=vlm-model",
    "endpoints.llm.url=http://llm:8000/v1",
    "endpoints.llm.model=llm-model",
    "template_generation.system_prompt_file=/configs/augmentation/prompts/template_generation_system_prompt.md",
    "template_generation.prompt_polishing_file=/configs/augmentation/prompts/prompt_polishing_system_prompt.md",
)


class ContainerConfigError(InputError):
    """A config the container would reject: the key path and the rule it breaks."""

    default_code = "container-config-rejected"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- auto-labeling (paidf-auto-labeling modules/al_utils/schema) ---------------------------------


class _AlPipeline(_Closed):
    model_cache_path: str | None = None
    gpu_ids: str | int = "all"
    use_multi_gpu: bool = False
    empty_output_policy: Literal["warn", "fail"] | None = None
    daft_validate: bool = True


class _AlInputs(_Closed):
    video_path: str = Field(min_length=1)
    vlm_video_path: str | None = None
    metadata_json_path: str | None = None


class _AlOutput(_Closed):
    out_dir: str = Field(min_length=1)
    log_dir: str | None = None
    config_path: str | None = None


class _AlSample(_Closed):
    inputs: _AlInputs
    output: _AlOutput


class _AlEndpoint(_Closed):
    url: str | None = None
    model: str | None = None
    retries: int = Field(default=3, ge=0)
    retry_backoff_s: float = Field(default=5.0, ge=0.1, le=300.0)


class _AlEndpoints(_Closed):
    vlm: _AlEndpoint | None = None
    llm: _AlEndpoint | None = None


class _AlSuperResolution(_Closed):
    enabled: bool = True
    model: Literal["seedvr2"] = "seedvr2"
    variant: str = "seedvr2_3b"
    seed: int = 42
    res_h: int = 720
    res_w: int = 1280
    window_frames: int = 128
    overlap_frames: int = 64
    window_timeout: int = 3600
    out_fps: float | None = None


class _AlTracking(_Closed):
    enabled: bool = False
    model: Literal["rfdetr"] = "rfdetr"
    threshold: float = 0.2
    iou_threshold: float = 0.3
    classes: list[str] = Field(default_factory=lambda: ["car", "truck", "bus", "motorcycle", "bicycle"], min_length=1)
    tracker: str = "boosttrack"
    use_reid: bool = True
    reid_weights: str | None = None
    per_class: bool = True
    asso_func: str = "diou"
    min_hits: int = 3
    max_age: int = 60
    min_track_frames: int = 5
    copy_video: bool = False
    save_vis: bool = False
    save_video: bool = True
    save_video_red_id: bool = True
    save_rgb: bool = False
    cross_class_iou_threshold: float = 0.9
    dedup_iou_threshold: float = 0.3
    dedup_priority: str = "prev_iou"


class _AlVlmJson(_Closed):
    enabled: bool = False
    model: Literal["vlm"] = "vlm"
    scene_prompt_file: str | None = None
    events_prompt_file: str | None = None
    split_json_calls: bool = True
    structured_output: Literal["auto", "nim", "openai", "off"] = "openai"
    temperature: float = Field(default=0.0, ge=0.0)
    frame_fps: float = Field(default=1.0, gt=0.0)
    resolution: int = Field(default=360, gt=0)
    max_frames: int = Field(default=24, gt=0)
    max_tokens: int = Field(default=8192, gt=0)
    timeout: int = Field(default=600, gt=0)
    rate_limit: float = Field(default=0.0, ge=0.0)


class _AlWindowing(_Closed):
    scene_prompt_file: str | None = None
    mcq_prompt_file: str | None = None
    question_bank_file: str | None = None
    qd_vlm_scene_prompt_template_file: str | None = None
    qd_mcq_mapper_prompt_template_file: str | None = None
    window_frames: int = 0
    window_seconds: float = 4.0
    single_window: bool = False
    sampling_fps: float = 2.0
    resolution: int = 480
    max_frames: int = 100
    vlm_max_tokens: int = 8192
    llm_max_tokens: int = 8192
    timeout: int = 600
    rate_limit: float = 0.0
    aggregate_windows: bool = False
    write_empty_mcq_marker: bool = True
    skip_existing: bool = False
    retry_missing_questions: bool = True
    retry_missing_max_rounds: int = Field(default=2, ge=1)
    vlm_verify_enabled: bool = False
    vlm_verify_max_tokens: int = 8192
    vlm_verify_temperature: float = 0.0
    vlm_verify_apply_corrections: bool = False
    vlm_verify_prompt_file: str | None = None


class _AlMcq(_Closed):
    enabled: bool = False
    mode: Literal["window-vlm-llm", "window-direct-vlm", "question-driven-vlm-llm", "metadata-llm"] = "question-driven-vlm-llm"
    window_metadata_extraction: _AlWindowing | None = None


class AutoLabelingContract(_Closed):
    """``auto_labeling_config.yaml`` as the auto-labeling container reads it."""

    pipeline: _AlPipeline
    data: list[_AlSample] = Field(min_length=1)
    endpoints: _AlEndpoints | None = None
    super_resolution: _AlSuperResolution | None = None
    detection_and_tracking: _AlTracking | None = None
    vlm_json: _AlVlmJson | None = None
    mcq_generation: _AlMcq | None = None

    @model_validator(mode="after")
    def _endpoints_for_enabled_stages(self) -> AutoLabelingContract:
        def has(role: str) -> bool:
            ep = getattr(self.endpoints, role, None) if self.endpoints else None
            return bool(ep and (ep.url or "").strip() and (ep.model or "").strip())

        if self.vlm_json and self.vlm_json.enabled and not has("vlm"):
            raise ValueError("vlm_json.enabled needs endpoints.vlm.url and endpoints.vlm.model")
        mcq = self.mcq_generation
        if mcq and mcq.enabled:
            if mcq.window_metadata_extraction is None:
                raise ValueError("mcq_generation.enabled needs mcq_generation.window_metadata_extraction")
            if mcq.mode != "metadata-llm" and not has("vlm"):
                raise ValueError(f"mcq_generation.mode {mcq.mode} needs endpoints.vlm.url and endpoints.vlm.model")
            if mcq.mode != "window-direct-vlm" and not has("llm"):
                raise ValueError(f"mcq_generation.mode {mcq.mode} needs endpoints.llm.url and endpoints.llm.model")
        return self


# --- augmentation (paidf-augmentation 1.0.x modules/aug_utils/schema) ------------------------------


class _Inference(_Closed):
    temperature: float = Field(default=0.3, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, ge=0.0, le=1.0)
    max_tokens: int = Field(default=4096, gt=0)
    frequency_penalty: float = 1.05
    presence_penalty: float = 0.0
    stream: bool = False
    retry: int = Field(default=0, ge=0)


class _VlmInference(_Inference):
    fps: float = Field(default=4.0, gt=0)
    max_pixels: int = Field(default=307200, gt=0)


class _Controls(_Closed):
    edge: str | None = None
    depth: str | None = None
    seg: str | None = None
    vis: str | None = None


class _AugInputs(_Closed):
    rgb: str = Field(min_length=1)
    controls: _Controls | None = None


class _AugOutput(_Closed):
    video: str
    caption: str
    metadata: str
    evaluation: str | None = None


class _AugSample(_Closed):
    inputs: _AugInputs
    output: _AugOutput


class _AugEndpoint(_Closed):
    url: str
    model: str = ""


class _AugEndpoints(_Closed):
    vlm: _AugEndpoint | None = None
    llm: _AugEndpoint | None = None
    cosmos_transfer: _AugEndpoint | None = None


class _Logging(_Closed):
    enabled: bool = True
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class _AugPipeline(_Closed):
    retry: int = Field(default=1, ge=0)
    regenerate_caption_on_retry: bool = True
    logging: _Logging = Field(default_factory=_Logging)


class _VlmCaptioning(_Closed):
    parser: Literal["instruct", "reasoning"] = "instruct"
    system_prompt: str = ""
    user_prompt: str = ""
    parameters: _VlmInference = Field(default_factory=_VlmInference)


class _LlmCaptioning(_Closed):
    system_prompt: str | None = None
    system_prompt_file: str | None = None
    parameters: _Inference = Field(default_factory=_Inference)
    variables: dict[str, list[str]] | None = None
    seed: int | None = None


class _Captioning(_Closed):
    vlm: _VlmCaptioning | None = None
    llm: _LlmCaptioning | None = None


class _Model(_Closed):
    name: Literal["cosmos-transfer2.5"]
    version: str | None = None
    executor_type: Literal["local"] = "local"


class _AugParameters(_Closed):
    seed: int | None = None
    guidance: float | None = 3.0
    num_steps: int | None = Field(default=35, gt=0)
    sigma: int | None = 90
    inference_name: str | None = None


class _Modalities(_Closed):
    edge: float | None = Field(default=None, ge=0.0, le=1.0)
    depth: float | None = Field(default=None, ge=0.0, le=1.0)
    seg: float | None = Field(default=None, ge=0.0, le=1.0)
    vis: float | None = Field(default=None, ge=0.0, le=1.0)
    seg_control_prompt: str | None = None
    positive_prompt: str | None = None
    negative_prompt: str | None = None


class _LocalParameters(_Closed):
    num_processes: int = Field(default=8, gt=0)
    master_port: int = Field(default=12341, ge=1, le=65535)


class _Augmentation(_Closed):
    model: _Model
    parameters: _AugParameters = Field(default_factory=_AugParameters)
    modalities: _Modalities | None = None
    local_parameters: _LocalParameters | None = None


class _HallucinationParams(_Closed):
    grad_thresh: float = 10.0
    blur_ksize: int = 7
    morph_k: int = 3
    dist_tol_px: float = 7.0
    max_frames: int | None = None


class _HallucinationCheck(_Closed):
    enabled: bool = True
    threshold: float = Field(default=0.682, ge=0.0, le=1.0)
    params: _HallucinationParams = Field(default_factory=_HallucinationParams)


class _Prompted(_Closed):
    system_prompt: str = ""
    parameters: _Inference = Field(default_factory=_Inference)


class _AttributeVerification(_Closed):
    enabled: bool = True
    question_generation: _Prompted = Field(default_factory=_Prompted)
    vlm_verification: _Prompted | None = None


class _EvaluatorEntry(_Closed):
    """One entry of the ``evaluators`` list: exactly one evaluator."""

    hallucination_check: _HallucinationCheck | None = None
    attribute_verification: _AttributeVerification | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> _EvaluatorEntry:
        if (self.hallucination_check is None) == (self.attribute_verification is None):
            raise ValueError("each entry names exactly one evaluator (hallucination_check or attribute_verification)")
        return self


class _TemplateGeneration(_Closed):
    system_prompt_file: str | None = None
    prompt_polishing_file: str | None = None


class AugmentationContract(_Closed):
    """One generated ``<video>_aug<i>.yaml`` as the augmentation container reads it."""

    data: list[_AugSample] = Field(min_length=1)
    endpoints: _AugEndpoints = Field(default_factory=_AugEndpoints)
    pipeline: _AugPipeline = Field(default_factory=_AugPipeline)
    captioning: _Captioning | None = None
    augmentation: _Augmentation | None = None
    evaluators: list[_EvaluatorEntry] | None = None
    # ours; the container's root model ignores unknown top-level keys
    template_generation: _TemplateGeneration | None = None
    vda: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _endpoints_for_captioning(self) -> AugmentationContract:
        if self.captioning and self.captioning.vlm is not None and self.endpoints.vlm is None:
            raise ValueError("captioning.vlm needs endpoints.vlm")
        if self.captioning and self.captioning.llm is not None and self.endpoints.llm is None:
            raise ValueError("captioning.llm needs endpoints.llm")
        return self


_MODELS: dict[ContainerKind, type[BaseModel]] = {"auto-labeling": AutoLabelingContract, "augmentation": AugmentationContract}


# --- overrides ------------------------------------------------------------------------------------


def _copy(data: Any) -> Any:
    """A deep copy as YAML sees the data (tuples become lists), through libyaml when there."""
    return yaml_text.load(yaml_text.dump(data))


def _scalar(text: str) -> Any:
    """A dotlist value read the way YAML reads a scalar (``0`` -> 0, ``false`` -> False, nothing -> None,
    as OmegaConf reads ``key=``)."""
    try:
        value = yaml_text.load(text) if text.strip() else None
    except yaml.YAMLError:
        return text
    return value if value is None or isinstance(value, (str, int, float, bool)) else text


def apply_overrides(config: dict[str, Any], overrides: list[str] | tuple[str, ...]) -> dict[str, Any]:
    """A copy of ``config`` with each ``a.b.0.c=value`` set; missing mappings are created."""
    result: dict[str, Any] = _copy(config)
    for item in overrides:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ContainerConfigError(f"The override '{key}' has no '='.", remedy="Write overrides as key.path=value.")
        parts = key.strip().split(".")
        node: Any = result
        for i, part in enumerate(parts):
            last = i == len(parts) - 1
            if isinstance(node, list):
                if not part.isdigit():
                    raise ContainerConfigError(f"The override key {key} indexes a list with '{part}'.", remedy="Use a number for a list index.")
                index = int(part)
                while index >= len(node):
                    node.append(_copy(node[0]) if node else {})
                if last:
                    node[index] = _scalar(raw)
                else:
                    node = node[index]
                continue
            if not isinstance(node, dict):
                raise ContainerConfigError(f"The override key {key} goes below a value that is not a mapping.", remedy="Override a key that exists as a mapping.")
            if last:
                node[part] = _scalar(raw)
            else:
                if not isinstance(node.get(part), (dict, list)):
                    node[part] = {}
                node = node[part]
    return result


# --- the check ------------------------------------------------------------------------------------


def _path(loc: tuple[Any, ...]) -> str:
    """``('evaluators', 0, 'hallucination_check')`` -> ``evaluators[0].hallucination_check``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out or "(top level)"


def _problems(exc: ValidationError) -> list[str]:
    seen: list[str] = []
    for err in exc.errors(include_input=False, include_url=False):
        where = _path(tuple(err["loc"]))
        line = f"{where} is not a key this container accepts" if err["type"] == "extra_forbidden" else f"{where}: {err['msg'].rstrip('.')}"
        if line not in seen:
            seen.append(line)
    return seen


def check_config(kind: ContainerKind, config: Any, *, source: str, overrides: list[str] | tuple[str, ...] = ()) -> None:
    """Raise :class:`ContainerConfigError` naming every wrong key path if the container would reject ``config``.

    The message carries key paths and rules only, never a value (a value can be a URL with a token).
    """
    if not isinstance(config, dict):
        raise ContainerConfigError(f"{source} must hold a mapping at the top level.", remedy="Start from the cookbook's file.")
    data = apply_overrides(config, overrides) if overrides else config
    try:
        _MODELS[kind].model_validate(data)
    except ValidationError as exc:
        problems = _problems(exc)
        shown = "; ".join(problems[:8]) + (f"; and {len(problems) - 8} more" if len(problems) > 8 else "")
        raise ContainerConfigError(
            f"The {kind} container would reject {source}: {shown}.",
            remedy=f"Use the {kind} container's key names (see skill/engines/container_contract.py) and remove keys it does not know.",
        ) from None


_COOKBOOK_CONFIGS: dict[ContainerKind, str] = {
    "auto-labeling": "auto_labeling/auto_labeling_config.yaml",
    "augmentation": "augmentation/augmentation.yaml",
}


def check_cookbook(cookbook_dir: str | Path, kinds: tuple[ContainerKind, ...] = ("auto-labeling", "augmentation")) -> list[str]:
    """Check a cookbook folder's container configs; return the files checked.

    ``auto_labeling/auto_labeling_config.yaml`` is checked with the PL workers' overrides applied,
    ``augmentation/augmentation.yaml`` with one generated clip's per-clip values merged in
    (what generate_configs writes) and the cosmos worker's overrides. A missing file is skipped.
    """
    root = Path(cookbook_dir)
    checked: list[str] = []
    al = root / _COOKBOOK_CONFIGS["auto-labeling"]
    if "auto-labeling" in kinds and al.is_file():
        check_config("auto-labeling", _load(al), source=str(al), overrides=AL_WORKER_OVERRIDES)
        checked.append(str(al))
    aug = root / _COOKBOOK_CONFIGS["augmentation"]
    if "augmentation" in kinds and aug.is_file():
        clip = _generated_clip(root)
        check_config("augmentation", clip, source=str(aug), overrides=AUG_WORKER_OVERRIDES)
        checked.append(str(aug))
    return checked


def check_staged_cookbooks(localpaths: list[str], kinds: tuple[ContainerKind, ...]) -> list[str]:
    """:func:`check_cookbook` for every cookbook folder a workflow stages (found by the config files'
    paths among ``localpaths``); return the files checked."""
    roots: list[Path] = []
    for local in localpaths:
        text = local.replace("\\", "/")
        for kind in kinds:
            suffix = _COOKBOOK_CONFIGS[kind]
            if text.endswith("/" + suffix):
                root = Path(text[: -len(suffix)])
                if root not in roots:
                    roots.append(root)
    return [f for root in roots for f in check_cookbook(root, kinds)]


def _generated_clip(root: Path) -> Any:
    """What generate_configs writes for one stand-in video of this cookbook (its own check off)."""
    from skill.engines import configs as generator

    with tempfile.TemporaryDirectory(prefix="vda-contract-") as tmp:
        videos = Path(tmp) / "videos"
        videos.mkdir()
        (videos / "video.mp4").write_bytes(b"")
        out = Path(tmp) / "out"
        manifest = generator.generate_configs(videos, root, out, n_augmentations=1, cookbook=root.name, log=lambda _line: None, check=False)
        return _load(out / manifest["configs"][0]["config"])


def _load(path: Path) -> Any:
    try:
        return yaml_text.load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ContainerConfigError(f"Cannot read {path} ({type(exc).__name__}).", remedy="Check the file exists and is valid YAML.") from None

"""Pydantic types shared by every step, backend, adapter and test.

Naming: requests are ``<Step>Request``, results ``<Step>Result`` (those live next to their step);
this module holds the vocabulary they share: names and patterns, submit values, statuses,
checks, policy decisions and the error model.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_validator

from skill.engine_choice import ModelName  # it imports nothing of ours but skill.errors
from skill.statuses import (  # re-exported: the statuses live apart so the local runner imports only them
    FAILED_STATES,
    TERMINAL_WORKFLOW_STATES,
    CredentialInfo,
    GroupStatus,
    PoolInfo,
    TaskState,
    TaskStatus,
    WorkflowState,
    WorkflowStatus,
    is_terminal,
)

__all__ = [
    "ALIASES",
    "COOKBOOKS",
    "DEFAULT_COOKBOOK",
    "FAILED_STATES",
    "FLOWS",
    "OSMO_NAME_MAX",
    "RUN_ID_PATTERN",
    "TERMINAL_WORKFLOW_STATES",
    "Check",
    "CheckStatus",
    "CookbookName",
    "CredentialInfo",
    "DatasetName",
    "Decision",
    "FlowName",
    "GroupStatus",
    "NimGateMode",
    "PoolInfo",
    "RunId",
    "StepError",
    "OptionalSubmitValues",
    "SubmitValues",
    "ValueToken",
    "TaskState",
    "TaskStatus",
    "VideoStem",
    "Violation",
    "WorkflowFile",
    "WorkflowState",
    "WorkflowStatus",
    "is_terminal",
]

# --- names ----------------------------------------------------------------------------------

FlowName = Literal["auto_labeling", "augmentation_and_al", "e2e", "e2e_super_resolution"]
WorkflowFile = Literal[
    "auto_labeling", "augmentation_and_al", "e2e", "e2e_super_resolution", "setup_model_cache", "augmentation_and_pl"
]
FLOWS: tuple[str, ...] = get_args(FlowName)
ALIASES: dict[str, str] = {"augmentation_and_pl": "augmentation_and_al"}
NimGateMode = Literal["ensure", "check", "skip"]
"""What a cluster run does about the in-cluster NIMs first (skill.steps.nim_gate): here so a run
request can name it without loading the NIM steps."""

CookbookName = Literal["city_traffic", "piazza", "warehouse", "robot_assembly", "trailer_dashcam"]
COOKBOOKS: tuple[str, ...] = get_args(CookbookName)
DEFAULT_COOKBOOK = "city_traffic"  # the workflows' default-values cookbook

RUN_ID_PATTERN = r"^run-[0-9a-f]{8}$"
RunId = Annotated[
    str,
    StringConstraints(pattern=RUN_ID_PATTERN),
    Field(description="The run's id, e.g. run-1a2b3c4d."),
]
OSMO_NAME_MAX = 64
"""OSMO 6.3.1 rejects workflow, group and task names longer than this (``WorkflowInfo.max_name_length``
in src/utils/connectors/postgres.py, checked at submit); the dataset name is the workflow name."""
DatasetName = Annotated[
    str,
    StringConstraints(pattern=r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$", max_length=OSMO_NAME_MAX),
    Field(description="Dataset folder under <storage_url>/datasets/, e.g. vda-demo."),
]
VideoStem = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200),
    Field(description="Video file stem (no folder, no extension), e.g. cam3_0915."),
]
def _comma_list(item: str, chars: str, *, max_length: int, shape: str, description: str) -> Any:
    """A text value of ``item`` matches joined by commas. The listed schema gives the characters
    (a short pattern keeps tools/list small); a validator checks the shape and says it in ``shape``."""
    one = re.compile(item)

    def check(value: str) -> str:
        if not all(one.fullmatch(part) for part in value.split(",")):
            raise ValueError(f"must be {shape}")
        return value

    return Annotated[str, StringConstraints(pattern=f"^[{chars}]+$", max_length=max_length), AfterValidator(check), Field(description=description)]


Conditions = _comma_list(
    r"[A-Za-z0-9_]+:[A-Za-z0-9_.-]+(\|[A-Za-z0-9_.-]+)*", "A-Za-z0-9_.:|,-", max_length=400,
    shape="variable:option[|option] pairs joined by commas, e.g. weather:rain,time_of_day:night",
    description="Cookbook variables drawn only from the options asked for: variable:option[|option] joined by commas, e.g. weather:rain,time_of_day:evening|night.",
)
Clips = _comma_list(
    r"[A-Za-z0-9][A-Za-z0-9._-]*", "A-Za-z0-9._,-", max_length=8000,
    shape="video stems joined by commas, e.g. cam1,cam2",
    description="Video stems joined by commas: the clips of the dataset a run processes, e.g. cam1,cam2.",
)
Seed = Annotated[
    str,
    StringConstraints(pattern=r"^[0-9]{1,12}$"),
    Field(description="Sampling seed (digits); the same seed and values reproduce the same looks, e.g. 4711."),
]


# --- errors and checks ------------------------------------------------------------------------


class StepError(BaseModel):
    """A failure as data: stable code, one sentence, the next move, and the policy rule if any."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    code: str = Field(description="Stable kebab-case code, or a POLICY.md rule id.")
    message: str
    remedy: str | None = None
    rule: str | None = None


CheckStatus = Literal["ok", "warn", "fail", "skipped", "user_input_required"]


class Check(BaseModel):
    """One named check in a report (preflight, guard)."""

    model_config = ConfigDict(extra="forbid")
    name: str
    status: CheckStatus
    detail: str = ""
    data: dict[str, Any] = Field(default_factory=dict)


class Violation(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str = Field(description="Rule id from POLICY.md, e.g. single-set-string.")
    message: str = Field(description="One sentence: what was wrong.")
    remedy: str = Field(description="The canonical call or command to make instead.")


class Decision(BaseModel):
    """The policy's answer: allowed, or the violations (each with rule id, reason, remedy)."""

    model_config = ConfigDict(extra="forbid")
    allowed: bool
    violations: list[Violation] = Field(default_factory=list)

    @classmethod
    def allow(cls) -> Decision:
        return cls(allowed=True)

    @classmethod
    def of(cls, violations: list[Violation]) -> Decision:
        return cls(allowed=not violations, violations=violations)


# --- submit values ----------------------------------------------------------------------------

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class SubmitValues(BaseModel):
    """Every value of the canonical submit, in the order the single --set-string carries them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    dataset: DatasetName
    run_id: RunId
    storage_url: str = Field(description="Backend prefix in front of /datasets/<dataset>, e.g. s3://bucket/prefix.")
    gpu_platform: str = Field(description="Platform label the live pool list shows ONLINE, e.g. gpu.")
    video: VideoStem
    cosmos_model_cache_url: str | None = Field(
        default=None, description="<storage_url>/data/models/cosmos_transfer; required by flows that augment."
    )
    auto_labeling_model_cache_url: str = Field(description="<storage_url>/data/models/auto_labeling.")
    skills_dir: str = Field(description="Absolute path of the skill checkout on the submitting host.")
    cookbook: CookbookName | None = None
    vlm_url: str | None = None
    llm_url: str | None = None
    conditions: Conditions | None = None
    seed: Seed | None = None
    all_clips: bool | None = None
    clips: Clips | None = None
    # engine choice (issue 11); None = the workflow default "auto", the backend's own engines
    label_engine: Literal["classic", "nim"] | None = None
    augment_engine: Literal["classic", "cosmos"] | None = None
    vlm_model: str | None = None
    llm_model: str | None = None

    @field_validator("storage_url", "gpu_platform", "skills_dir", "cosmos_model_cache_url", "auto_labeling_model_cache_url", "vlm_url", "llm_url",
                     "vlm_model", "llm_model")
    @classmethod
    def _single_line(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or _CONTROL.search(value) or " " in value):
            raise ValueError("must be one non-empty token with no spaces or control characters")
        return value

    def pairs(self) -> list[tuple[str, str]]:
        """(key, value) pairs in canonical order, optional ones only when set."""
        return [(k, v) for k, v in self.model_dump().items() if v is not None]

    def set_string_args(self) -> list[str]:
        """``["k=v", ...]``: what follows the one ``--set-string``."""
        return [f"{k}={v}" for k, v in self.pairs()]


ValueToken = Annotated[str, StringConstraints(min_length=1, max_length=2048, strip_whitespace=True)]


class OptionalSubmitValues(BaseModel):
    """The submit values a caller may leave out, declared once for ``pre_submit_guard`` and
    ``submit`` (so the two cannot drift): defaults come from the workflow or the storage prefix."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    skills_dir: ValueToken | None = Field(default=None, description="Default: this installation.")
    cosmos_model_cache_url: ValueToken | None = Field(default=None, description="Default <storage_url>/data/models/cosmos_transfer.")
    auto_labeling_model_cache_url: ValueToken | None = Field(default=None, description="Default <storage_url>/data/models/auto_labeling.")
    cookbook: CookbookName | None = Field(default=None, description="Scene profile; default city_traffic.")
    vlm_url: ValueToken | None = Field(default=None, description="Only a VLM URL the user gave.")
    llm_url: ValueToken | None = Field(default=None, description="Only an LLM URL the user gave.")
    workers: Annotated[int, Field(ge=1, le=64)] | None = Field(default=None, description="Worker tasks per stage; default 1.")
    n_augmentations: Annotated[int, Field(ge=1, le=16)] | None = Field(default=None, description="Augmentations per video; default the cookbook's.")
    conditions: Conditions | None = Field(default=None, description="Looks asked for, e.g. weather:rain,time_of_day:night.")
    seed: Seed | None = Field(default=None, description="Repeats a run's draws, e.g. 4711.")
    all_clips: bool | None = Field(default=None, description="True: every clip of the dataset; default only video.")
    clips: Clips | None = Field(default=None, description="Several clips (stems, comma-separated) instead of video alone.")
    label_engine: Literal["classic", "nim"] | None = Field(default=None, description="classic (CPU, local) or nim (server at vlm_url).")
    augment_engine: Literal["classic", "cosmos"] | None = Field(default=None, description="classic (CPU, local) or cosmos (GPU).")
    vlm_model: ModelName | None = Field(default=None, description="Model at vlm_url; default the first listed.")
    llm_model: ModelName | None = Field(default=None, description="Same, at llm_url.")


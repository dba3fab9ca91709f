"""The shape of a workflow OSMO 6.3.1 accepts, checked after rendering (:mod:`skill.render`).

The models are the normalized spec every backend submits and the local executor runs; the checks
are OSMO's own: tasks XOR groups, exactly one lead per group, unique names (case and ``-``/``_``
folded), names of at most 64 characters, no keys OSMO forbids (``workflow.labels``), task inputs only
from earlier groups, and resources that exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skill.errors import InputError

__all__ = ["MAX_NAME_LENGTH", "RUNTIME_TOKEN", "FileSpec", "GroupSpec", "InputSpec", "OutputSpec", "RenderedSpec", "TaskSpec",
           "invalid_workflow", "validate_workflow"]

MAX_NAME_LENGTH = 64
RUNTIME_TOKEN = re.compile(r"\{\{(uuid|workflow_id|output|input:[^}]+|host:[^}]+)\}\}")
"""The tokens OSMO fills at run time (kept through both renders); here so the local executor reads
them without loading the Jinja renderer."""
_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
_FORBIDDEN_WORKFLOW_KEYS = ("labels",)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class FileSpec(_Strict):
    path: str
    contents: str | None = None
    localpath: str | None = None
    base64: bool = False


class InputSpec(_Strict):
    task: str | None = None
    url: str | None = None
    dataset: dict[str, Any] | None = None
    regex: str | None = None


class OutputSpec(_Strict):
    url: str | None = None
    dataset: dict[str, Any] | None = None
    update_dataset: dict[str, Any] | None = None
    regex: str | None = None


class TaskSpec(_Strict):
    name: str
    image: str
    command: list[str] = Field(min_length=1)
    args: list[str] = Field(default_factory=list)
    lead: bool = False
    environment: dict[str, str] = Field(default_factory=dict)
    files: list[FileSpec] = Field(default_factory=list)
    inputs: list[InputSpec] = Field(default_factory=list)
    outputs: list[OutputSpec] = Field(default_factory=list)
    credentials: dict[str, Any] = Field(default_factory=dict)
    resource: str = "default"
    exitActions: dict[str, str] = Field(default_factory=dict)
    checkpoint: list[dict[str, Any]] = Field(default_factory=list)
    volumeMounts: list[str] = Field(default_factory=list)
    privileged: bool = False
    hostNetwork: bool = False
    downloadType: str | None = None
    cacheSize: str | None = None
    kpis: list[dict[str, Any]] = Field(default_factory=list)

    @field_validator("command", "args", mode="before")
    @classmethod
    def _strs(cls, value: Any) -> Any:
        return [str(v) for v in value] if isinstance(value, list) else value

    @field_validator("environment", mode="before")
    @classmethod
    def _env_strs(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            return {str(k): ("true" if v is True else "false" if v is False else str(v)) for k, v in value.items()}
        return value


class GroupSpec(_Strict):
    name: str
    tasks: list[TaskSpec] = Field(min_length=1)
    barrier: bool = True
    ignoreNonleadStatus: bool = True

    @property
    def lead(self) -> TaskSpec:
        return next(t for t in self.tasks if t.lead)


class RenderedSpec(BaseModel):
    """A rendered, validated workflow: what backends submit and executors run."""

    model_config = ConfigDict(extra="forbid")
    template: str = Field(description="Template file stem, e.g. e2e.")
    source: str | None = Field(default=None, description="Absolute path of the template file.")
    name: str = Field(description="workflow.name after rendering.")
    values: dict[str, str] = Field(default_factory=dict, description="The --set-string values used.")
    set_values: dict[str, str] = Field(default_factory=dict, description="The --set values used.")
    groups: list[GroupSpec]
    resources: dict[str, dict[str, Any]] = Field(default_factory=dict)
    timeout: dict[str, Any] = Field(default_factory=dict)
    flat_tasks: bool = Field(default=False, description="True when the file used workflow.tasks.")
    text: str = Field(description="The rendered YAML, keys sorted (what `osmo workflow submit --dry-run` prints).")

    def task(self, name: str) -> TaskSpec:
        for group in self.groups:
            for task in group.tasks:
                if task.name == name:
                    return task
        raise KeyError(name)

    def group_of(self, task_name: str) -> GroupSpec:
        for group in self.groups:
            if any(t.name == task_name for t in group.tasks):
                return group
        raise KeyError(task_name)

    @property
    def tasks(self) -> list[TaskSpec]:
        return [t for g in self.groups for t in g.tasks]



# --- checks ---------------------------------------------------------------------------------


def _fold(name: str) -> str:
    return name.lower().replace("-", "_")


def invalid_workflow(template: str, message: str, remedy: str) -> InputError:
    """The coded refusal of a workflow OSMO's spec would reject."""
    return InputError(f"Workflow {template}: {message}", remedy=remedy, code="invalid-workflow")


def validate_workflow(workflow: dict[str, Any], template: str) -> tuple[list[GroupSpec], bool]:
    """The rendered ``workflow`` section as OSMO 6.3.1's spec checks it: ``(groups, flat_tasks)``."""
    allowed = {"name", "tasks", "groups", "resources", "timeout", "pool", "backend"}
    forbidden = [k for k in _FORBIDDEN_WORKFLOW_KEYS if k in workflow]
    if forbidden:
        raise invalid_workflow(template, f"OSMO 6.3.1 rejects the key workflow.{forbidden[0]} (its workflow spec forbids extra keys).", f"Remove workflow.{forbidden[0]}.")
    unknown = sorted(set(workflow) - allowed)
    if unknown:
        raise invalid_workflow(template, f"unknown key(s) under workflow: {', '.join(unknown)}.", "Remove them; OSMO forbids extra keys.")
    name = workflow.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise invalid_workflow(template, f"workflow.name {name!r} is not a valid name.", "Use a letter first, then letters, digits, - or _.")
    _name_length(name, "workflow.name", template)
    has_tasks, has_groups = bool(workflow.get("tasks")), bool(workflow.get("groups"))
    if has_tasks and has_groups:
        raise invalid_workflow(template, "Cannot use both groups and tasks.", "Keep either workflow.tasks or workflow.groups.")
    if not (has_tasks or has_groups):
        raise invalid_workflow(template, "Workflows need to have at least one group or one task.", "Add tasks or groups.")
    try:
        if has_tasks:
            groups = [
                GroupSpec(name=f"{t['name']}-group", tasks=[TaskSpec.model_validate({**t, "lead": True})])
                for t in workflow["tasks"]
            ]
        else:
            groups = [GroupSpec.model_validate(g) for g in workflow["groups"]]
    except (ValidationError, TypeError, KeyError) as exc:
        raise invalid_workflow(template, f"a task or group does not match OSMO's spec ({_where(exc)}).", "Check task keys: name, image, command, args, inputs, outputs, ...") from exc

    resources = workflow.get("resources") or {"default": {}}
    seen_groups: set[str] = set()
    seen_tasks: set[str] = set()
    earlier_tasks: set[str] = set()
    for group in groups:
        if len(group.tasks) == 1 and not group.tasks[0].lead:
            group.tasks[0].lead = True
        leads = sum(t.lead for t in group.tasks)
        if leads != 1:
            raise invalid_workflow(template, f'Group "{group.name}" has {leads} leader(s) but must have exactly one.', "Mark exactly one task lead: true.")
        for item, seen in [(group.name, seen_groups), *((t.name, seen_tasks) for t in group.tasks)]:
            _name_length(item, "the group or task name", template)
            if _fold(item) in seen:
                raise invalid_workflow(template, f'the name "{item}" is used twice (names compare case-insensitively, - equals _).', "Rename one of them.")
            seen.add(_fold(item))
        own = {t.name for t in group.tasks}
        for task in group.tasks:
            if task.name == "osmo-ctrl":
                raise invalid_workflow(template, "a task may not be named osmo-ctrl.", "Rename the task.")
            if task.resource not in resources:
                raise invalid_workflow(template, f"Task {task.name} has no specified resource ({task.resource}).", "Add the profile under workflow.resources.")
            for item in task.inputs:
                kinds = [k for k in ("task", "url", "dataset") if getattr(item, k) is not None]
                if len(kinds) != 1:
                    raise invalid_workflow(template, f"an input of task {task.name} must have exactly one of task, url, dataset.", "Split it into separate inputs.")
                if item.task is None or ":" in item.task:
                    continue
                if item.task in own:
                    raise invalid_workflow(template, f"task {task.name} takes input from {item.task} in its own group.", "Move the producer into an earlier group.")
                if item.task not in earlier_tasks:
                    raise invalid_workflow(template, f'Group "{group.name}" requires input task "{item.task}" that does not exist before itself.', "List producer groups before their consumers.")
        earlier_tasks |= own
    return groups, has_tasks


def _name_length(name: str, what: str, template: str) -> None:
    if len(name) > MAX_NAME_LENGTH:
        raise invalid_workflow(
            template,
            f"{what} {name[:20]}... is {len(name)} characters; OSMO allows at most {MAX_NAME_LENGTH}.",
            f"Shorten it to {MAX_NAME_LENGTH} characters or fewer.",
        )


def _where(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # locations only: never echo the rejected values
        return "; ".join(".".join(str(p) for p in err["loc"]) + f": {err['msg']}" for err in exc.errors()[:3])
    return type(exc).__name__

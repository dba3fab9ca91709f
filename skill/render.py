"""Render a workflow YAML the way OSMO does (osmo.md §1.8, §1.11), then validate its shape.

1. Split the file into its top-level sections (``workflow``, ``default-values``, ``version``).
2. Values: ``default-values`` (YAML-typed, *not* rendered), then ``--set`` (int, float, else str),
   then ``--set-string`` (always str).
3. Runtime tokens (``{{output}}``, ``{{input:N}}``, ``{{host:x}}``, ``{{workflow_id}}``, ``{{uuid}}``;
   OSMO's exact regex, no spaces) are protected and left for the executor.
4. Jinja in a sandbox with ``StrictUndefined``: a missing variable is :class:`UndefinedVariable`.
5. Values never touch the YAML structure: each ``{{ expr }}`` renders to an inert placeholder, the
   text is parsed, and the placeholders are replaced in the parsed scalars. A value full of quotes,
   ``;``, ``$()`` or unicode arrives as that literal string; a value with a line break or a control
   character is rejected (OSMO's server-side YAML would not survive it).
6. Validation: tasks XOR groups, exactly one lead per group, unique names (case and ``-``/``_``
   folded), task inputs only from earlier groups, known resources.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skill.errors import InputError, UndefinedVariable

__all__ = [
    "RUNTIME_TOKEN",
    "FileSpec",
    "GroupSpec",
    "InputSpec",
    "OutputSpec",
    "RenderedSpec",
    "TaskSpec",
    "parse_set_pairs",
    "render_text",
    "render_workflow",
    "split_sections",
]

RUNTIME_TOKEN = re.compile(r"\{\{(uuid|workflow_id|output|input:[^}]+|host:[^}]+)\}\}")
_SECTION = re.compile(r"^([^\s#][^:]*):")
_ALLOWED_SECTIONS = ("workflow", "default-values", "version")
_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
_VALUE_MARK = re.compile(r"VDAVALUE(\d+)X")
_RUNTIME_MARK = re.compile(r"VDARUNTIME(\d+)X")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_LEFTOVER = re.compile(r"\{\{.*?\}\}|\{%.*?%\}")


# --- the normalized spec ----------------------------------------------------------------------


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


# --- sections and values ----------------------------------------------------------------------


def split_sections(text: str, *, workflow: str = "workflow") -> dict[str, str]:
    """Split a workflow file into its column-0 sections, with OSMO's errors for bad keys."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    preamble: list[str] = []
    for line in text.splitlines(keepends=True):
        match = _SECTION.match(line)
        if match and not line.startswith((" ", "\t", "-")):
            key = match.group(1).strip()
            if key not in _ALLOWED_SECTIONS:
                raise InputError(
                    f'Workflow {workflow} has the unknown top-level key "{key}".',
                    remedy="Keep only workflow:, default-values: and version: at column 0.",
                    code="invalid-workflow",
                )
            if key in sections:
                raise InputError(
                    f'Workflow {workflow} repeats the top-level key "{key}".',
                    remedy="Merge the two sections into one.",
                    code="invalid-workflow",
                )
            sections[key] = [line]
            current = key
        elif current is None:
            preamble.append(line)
        else:
            sections[current].append(line)
    if "workflow" not in sections:
        raise InputError(f"Workflow {workflow} has no workflow: section.", remedy="Add a workflow: section.", code="invalid-workflow")
    return {k: "".join(v) for k, v in sections.items()}


def parse_set_pairs(pairs: list[str] | Mapping[str, str] | None, *, flag: str) -> dict[str, str]:
    """``["k=v", ...]`` -> dict, split on the first ``=`` (OSMO's rule)."""
    if pairs is None:
        return {}
    if isinstance(pairs, Mapping):
        return {str(k): str(v) for k, v in pairs.items()}
    out: dict[str, str] = {}
    for item in pairs:
        if "=" not in item:
            raise InputError(
                f"The {flag} item '{item}' is not key=value.",
                remedy=f"Write every {flag} item as key=value.",
                code="invalid-set-pair",
            )
        key, value = item.split("=", 1)
        out[key.strip()] = value
    return out


def _typed_set(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            continue
    return value


# --- rendering ----------------------------------------------------------------------------------


class _Marks:
    """Inert placeholders for values and runtime tokens, restored after YAML parsing."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self.runtime: list[str] = []

    def value(self, obj: Any) -> str:
        if isinstance(obj, Undefined):
            str(obj)  # StrictUndefined raises here, inside render(), naming the variable
        self.values.append(obj)
        return f"VDAVALUE{len(self.values) - 1}X"

    def protect(self, text: str) -> str:
        def sub(match: re.Match[str]) -> str:
            self.runtime.append(match.group(0))
            return f"VDARUNTIME{len(self.runtime) - 1}X"

        return RUNTIME_TOKEN.sub(sub, text)

    def restore(self, node: Any) -> Any:
        if isinstance(node, str):
            whole = _VALUE_MARK.fullmatch(node)
            if whole:
                original = self.values[int(whole.group(1))]
                if isinstance(original, (bool, int, float)):
                    return original
            node = _VALUE_MARK.sub(lambda m: _to_text(self.values[int(m.group(1))]), node)
            return _RUNTIME_MARK.sub(lambda m: self.runtime[int(m.group(1))], node)
        if isinstance(node, dict):
            return {self.restore(k): self.restore(v) for k, v in node.items()}
        if isinstance(node, list):
            return [self.restore(v) for v in node]
        return node


def _to_text(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    return "" if value is None else str(value)


def render_text(
    text: str,
    *,
    set_string: list[str] | Mapping[str, str] | None = None,
    set_values: list[str] | Mapping[str, str] | None = None,
    template: str = "workflow",
    source: str | None = None,
) -> RenderedSpec:
    """Render workflow ``text`` with OSMO's precedence and return the validated spec."""
    sections = split_sections(text, workflow=template)
    defaults = _load_defaults(sections.get("default-values", ""), template)
    strings = parse_set_pairs(set_string, flag="--set-string")
    typed = parse_set_pairs(set_values, flag="--set")
    context: dict[str, Any] = dict(defaults)
    context.update({k: _typed_set(v) for k, v in typed.items()})
    context.update(strings)
    for key, value in context.items():
        if isinstance(value, str) and _CONTROL.search(value):
            raise InputError(
                f"The value of {key} contains a line break or control character.",
                remedy=f"Pass {key} as a single line of printable text.",
                code="invalid-value",
            )

    marks = _Marks()
    env = SandboxedEnvironment(undefined=StrictUndefined, finalize=marks.value, keep_trailing_newline=True)
    body = marks.protect(sections["workflow"])
    try:
        rendered = env.from_string(body).render(**context)
    except UndefinedError as exc:
        name = re.search(r"'([^']+)' is undefined", str(exc))
        raise UndefinedVariable(name.group(1) if name else str(exc), workflow=template) from exc
    except TemplateSyntaxError as exc:
        raise InputError(
            f"Workflow {template} has a template syntax error on line {exc.lineno}: {exc.message}.",
            remedy="Fix the Jinja expression; runtime tokens are written without spaces, e.g. {{output}}.",
            code="invalid-workflow",
        ) from exc
    except SecurityError as exc:
        raise InputError(
            f"Workflow {template} tried an operation the template sandbox forbids.",
            remedy="Use only variables, filters and loops in workflow templates.",
            code="invalid-workflow",
        ) from exc

    try:
        loaded = yaml.safe_load(rendered)
    except yaml.YAMLError as exc:
        raise InputError(
            f"Workflow {template} is not valid YAML after rendering ({_yaml_where(exc)}).",
            remedy="Quote every scalar that holds a {{…}} expression.",
            code="invalid-workflow",
        ) from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("workflow"), dict):
        raise InputError(f"Workflow {template}: workflow: must be a mapping.", remedy="Fix the YAML.", code="invalid-workflow")
    workflow = marks.restore(loaded["workflow"])
    unrendered_defaults = {k: v for k, v in defaults.items() if k not in strings and k not in typed}
    _reject_leftover_templates(workflow, unrendered_defaults)
    version = _load_version(sections.get("version"), template)
    spec = _validate(workflow, template)
    dump = {"workflow": workflow} | ({"version": version} if version is not None else {})
    return RenderedSpec(
        template=template,
        source=source,
        name=workflow["name"],
        values=strings,
        set_values=typed,
        groups=spec[0],
        resources=workflow.get("resources") or {"default": {}},
        timeout=workflow.get("timeout") or {},
        flat_tasks=spec[1],
        text=yaml.safe_dump(dump, sort_keys=True, allow_unicode=True),
    )


def render_workflow(
    path: str | Path,
    *,
    set_string: list[str] | Mapping[str, str] | None = None,
    set_values: list[str] | Mapping[str, str] | None = None,
) -> RenderedSpec:
    """Read and render a workflow file (see :func:`render_text`)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise InputError(f"Workflow file {path} does not exist.", remedy="Pick a flow with `vda flow` or pass an existing YAML.", code="not-found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"Workflow file {path} cannot be read as UTF-8 text.", remedy="Pass a readable workflow YAML.", code="invalid-workflow") from exc
    return render_text(text, set_string=set_string, set_values=set_values, template=path.stem, source=str(path.resolve()))


def _load_defaults(section: str, template: str) -> dict[str, Any]:
    if not section.strip():
        return {}
    try:
        loaded = yaml.safe_load(section) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"default-values of {template} is not valid YAML.", remedy="Fix the default-values block.", code="invalid-workflow") from exc
    values = loaded.get("default-values") or {}
    if not isinstance(values, dict):
        raise InputError(f"default-values of {template} must be a mapping.", remedy="Write default-values as key: value lines.", code="invalid-workflow")
    return {str(k): v for k, v in values.items()}


def _load_version(section: str | None, template: str) -> Any:
    if section is None:
        return None
    value = (yaml.safe_load(section) or {}).get("version")
    try:
        ok = float(value) == 2
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise InputError(f"Workflow {template} declares version {value!r}; only version 2 exists.", remedy="Use version: 2 or drop the key.", code="invalid-workflow")
    return value


def _yaml_where(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else type(exc).__name__


def _reject_leftover_templates(node: Any, defaults: Mapping[str, Any]) -> None:
    """A default value that itself holds ``{{…}}`` is emitted literally by OSMO (defaults are not
    rendered). Upstream's ``cosmos_model_cache_url: "{{storage_url}}/…"`` default is such a trap:
    name it instead of letting a literal template reach storage. Values the caller passed are data
    and arrive literally, braces included."""
    templated = {k: v for k, v in defaults.items() if isinstance(v, str) and _LEFTOVER.search(v)}
    if not templated:
        return
    for text in _strings(node):
        for culprit, value in templated.items():
            if value in text:
                raise InputError(
                    f"The default of {culprit} is itself a template ({value}); OSMO does not render default-values, so it would reach the workflow literally.",
                    remedy=f"Pass {culprit}=<resolved value> explicitly in the single --set-string list.",
                    code="unrendered-default",
                    rule="explicit-cache-urls" if culprit.endswith("_model_cache_url") else None,
                )


def _strings(node: Any):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _strings(k)
            yield from _strings(v)
    elif isinstance(node, list):
        for v in node:
            yield from _strings(v)


def _fold(name: str) -> str:
    return name.lower().replace("-", "_")


def _invalid(template: str, message: str, remedy: str) -> InputError:
    return InputError(f"Workflow {template}: {message}", remedy=remedy, code="invalid-workflow")


def _validate(workflow: dict[str, Any], template: str) -> tuple[list[GroupSpec], bool]:
    allowed = {"name", "tasks", "groups", "resources", "timeout", "pool", "labels"}
    unknown = sorted(set(workflow) - allowed)
    if unknown:
        raise _invalid(template, f"unknown key(s) under workflow: {', '.join(unknown)}.", "Remove them; OSMO forbids extra keys.")
    name = workflow.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise _invalid(template, f"workflow.name {name!r} is not a valid name.", "Use a letter first, then letters, digits, - or _.")
    has_tasks, has_groups = bool(workflow.get("tasks")), bool(workflow.get("groups"))
    if has_tasks and has_groups:
        raise _invalid(template, "Cannot use both groups and tasks.", "Keep either workflow.tasks or workflow.groups.")
    if not (has_tasks or has_groups):
        raise _invalid(template, "Workflows need to have at least one group or one task.", "Add tasks or groups.")
    try:
        if has_tasks:
            groups = [
                GroupSpec(name=f"{t['name']}-group", tasks=[TaskSpec.model_validate({**t, "lead": True})])
                for t in workflow["tasks"]
            ]
        else:
            groups = [GroupSpec.model_validate(g) for g in workflow["groups"]]
    except (ValidationError, TypeError, KeyError) as exc:
        raise _invalid(template, f"a task or group does not match OSMO's spec ({_where(exc)}).", "Check task keys: name, image, command, args, inputs, outputs, ...") from exc

    resources = workflow.get("resources") or {"default": {}}
    seen_groups: set[str] = set()
    seen_tasks: set[str] = set()
    earlier_tasks: set[str] = set()
    for group in groups:
        if len(group.tasks) == 1 and not group.tasks[0].lead:
            group.tasks[0].lead = True
        leads = sum(t.lead for t in group.tasks)
        if leads != 1:
            raise _invalid(template, f'Group "{group.name}" has {leads} leader(s) but must have exactly one.', "Mark exactly one task lead: true.")
        for item, seen in [(group.name, seen_groups), *((t.name, seen_tasks) for t in group.tasks)]:
            if _fold(item) in seen:
                raise _invalid(template, f'the name "{item}" is used twice (names compare case-insensitively, - equals _).', "Rename one of them.")
            seen.add(_fold(item))
        own = {t.name for t in group.tasks}
        for task in group.tasks:
            if task.name == "osmo-ctrl":
                raise _invalid(template, "a task may not be named osmo-ctrl.", "Rename the task.")
            if task.resource not in resources:
                raise _invalid(template, f"Task {task.name} has no specified resource ({task.resource}).", "Add the profile under workflow.resources.")
            for item in task.inputs:
                kinds = [k for k in ("task", "url", "dataset") if getattr(item, k) is not None]
                if len(kinds) != 1:
                    raise _invalid(template, f"an input of task {task.name} must have exactly one of task, url, dataset.", "Split it into separate inputs.")
                if item.task is None or ":" in item.task:
                    continue
                if item.task in own:
                    raise _invalid(template, f"task {task.name} takes input from {item.task} in its own group.", "Move the producer into an earlier group.")
                if item.task not in earlier_tasks:
                    raise _invalid(template, f'Group "{group.name}" requires input task "{item.task}" that does not exist before itself.', "List producer groups before their consumers.")
        earlier_tasks |= own
    return groups, has_tasks


def _where(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        # locations only: never echo the rejected values
        return "; ".join(".".join(str(p) for p in err["loc"]) + f": {err['msg']}" for err in exc.errors()[:3])
    return type(exc).__name__

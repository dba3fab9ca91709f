"""Render a workflow YAML the way ``osmo workflow submit`` (6.3.1) does, then validate its shape.

OSMO's submit path, reproduced step by step:

1. Split the file into its top-level sections (``workflow``, ``default-values``, ``version``).
2. First render (the server's dry run): values are ``default-values`` (YAML-typed), then ``--set``
   (int, float, else str), then ``--set-string`` (always str); runtime tokens (``{{output}}``,
   ``{{input:N}}``, ``{{host:x}}``, ``{{workflow_id}}``, ``{{uuid}}``; OSMO's exact regex, no spaces)
   are protected; Jinja in a sandbox with ``StrictUndefined`` renders the ``workflow`` section as
   plain text, so a boolean renders ``True`` and a value is pasted into the YAML as it is.
3. Inlining (the CLI's ``load_local_files``): every ``files[].localpath`` is replaced by the file's
   contents (a relative path is taken from the workflow file's folder; with ``skills_dir`` set the
   file must lie inside it), and the spec is dumped back to YAML.
4. Second render (the real submit): the *whole* dumped text, inlined files included, goes through
   Jinja again with the ``--set``/``--set-string`` values (the dumped text has no ``default-values``
   any more). So a default that itself holds ``{{storage_url}}`` is resolved here, and any ``{{``,
   ``{%`` or ``{#`` inside a staged file (bash ``${#arr[@]}``!) breaks the submit: the error names
   the file and the line inside it.
5. Checks (:mod:`skill.workflow_spec`): tasks XOR groups, exactly one lead per group, unique names (case and ``-``/``_``
   folded), names of at most 64 characters, no keys OSMO forbids (``workflow.labels``), task inputs
   only from earlier groups, known resources.

Where OSMO would silently change what the caller meant, this renderer refuses instead: a value
with a line break or control character, a value holding Jinja syntax (OSMO evaluates it at the
second render), and a value that changes the YAML structure when pasted in (quotes, ``: ``...).
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from jinja2 import StrictUndefined, Template, TemplateError, TemplateSyntaxError, Undefined, UndefinedError
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment
from pydantic import BaseModel, ConfigDict, Field

from skill import yaml_text
from skill.errors import InputError, UndefinedVariable
from skill.render_memory import RenderMemory, render_key
from skill.workflow_spec import (
    MAX_NAME_LENGTH,
    RUNTIME_TOKEN,
    FileSpec,
    GroupSpec,
    InputSpec,
    OutputSpec,
    RenderedSpec,
    TaskSpec,
    invalid_workflow as _invalid,
    validate_workflow,
)


__all__ = [
    "MAX_NAME_LENGTH",
    "RUNTIME_TOKEN",
    "InlinedFile",
    "OsmoRenderError",
    "SubmitRender",
    "FileSpec",
    "GroupSpec",
    "InputSpec",
    "OutputSpec",
    "RenderedSpec",
    "TaskSpec",
    "osmo_render",
    "parse_set_pairs",
    "render_submit",
    "render_text",
    "render_workflow",
    "split_sections",
]

_SECTION = re.compile(r"^([^\s#][^:]*):")
_ALLOWED_SECTIONS = ("workflow", "default-values", "version")
_VALUE_MARK = re.compile(r"VDAVALUE(\d+)X")
_RUNTIME_MARK = re.compile(r"VDARUNTIME(\d+)X")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\ufffe\uffff]")  # not printable in YAML either
_JINJA_OPEN = re.compile(r"\{[{%#]")
_YAML_SPECIAL = re.compile(r"[\"'\\#:{}\[\],&*!|>%@`]|^\s|\s$|^-")


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
    # what Jinja prints for a value: Python's str (True, False, None), as OSMO's server does
    return str(value)


class OsmoRenderError(Exception):
    """A Jinja failure in one OSMO render, with OSMO's own error text (``Jinja substitution failure: ...``)."""

    def __init__(self, error: Exception) -> None:
        self.error = error
        super().__init__(f"Jinja substitution failure: {type(error)}: {error}")


def osmo_render(text: str, data: Mapping[str, Any]) -> str:
    """One server-side render as OSMO 6.3.1 does it: runtime tokens swapped for hash variables that
    render back to themselves, then a sandboxed Jinja render with ``StrictUndefined``."""
    data = dict(data)
    for token in set(RUNTIME_TOKEN.findall(text)):
        key = "hash" + str(int(hashlib.md5(token.strip().encode("utf-8")).hexdigest(), 16))
        data[key] = "{{" + token + "}}"
        text = text.replace("{{" + token + "}}", "{{" + key + "}}")
    try:
        return _compiled(text).render(data)
    except TemplateError as exc:
        raise OsmoRenderError(exc) from exc


@functools.lru_cache(maxsize=32)
def _compiled(text: str) -> Template:
    """OSMO's sandboxed, strict Jinja template for ``text``, compiled once per process: the guard and
    submit render the same workflow with the same values, and compiling is most of a render's cost.
    A template that fails to compile raises each time (nothing is cached for it)."""
    return SandboxedEnvironment(undefined=StrictUndefined).from_string(text)


class InlinedFile(BaseModel):
    """One ``localpath`` the CLI replaced by its contents."""

    model_config = ConfigDict(extra="forbid")
    task: str
    path: str = Field(description="Where the file lands in the container.")
    localpath: str = Field(description="The file read on this machine.")
    contents: str


class SubmitRender(BaseModel):
    """The texts of OSMO's submit path for one workflow and value set."""

    model_config = ConfigDict(extra="forbid")
    first: str = Field(description="The workflow section after the first (dry-run) render.")
    submitted: str = Field(description="What the CLI sends for the real submit: the dry-run spec with files inlined.")
    final: str = Field(description="The submitted text after the server's second render.")
    inlined: list[InlinedFile] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="localpaths that do not exist here (not inlined).")


def render_submit(
    text: str,
    *,
    set_string: list[str] | Mapping[str, str] | None = None,
    set_values: list[str] | Mapping[str, str] | None = None,
    template: str = "workflow",
    source: str | None = None,
    missing_ok: bool = True,
) -> SubmitRender:
    """OSMO's submit path on ``text``: first render, localpath inlining, second render of the whole
    text. Raises :class:`UndefinedVariable` / :class:`InputError` naming the file and line that broke."""
    sections, _, _, caller, context = _values_of(text, template, set_string, set_values)
    first = _render_pass(sections["workflow"], context, template, stage="first")
    loaded = _load_rendered(first, template, caller)
    inlined, missing = _inline(loaded, template, source, context.get("skills_dir"), missing_ok=missing_ok)
    for item in inlined:
        _check_staged_file(item, caller, template)
    # yaml.dump(loaded), as the CLI writes the spec it submits (libyaml folds long strings elsewhere)
    submitted = yaml_text.dump_exact(loaded)
    final = _render_pass(submitted, caller, template, stage="second")
    return SubmitRender(first=first, submitted=submitted, final=final, inlined=inlined, missing=missing)


def _values_of(
    text: str, template: str, set_string: Any, set_values: Any
) -> tuple[dict[str, str], dict[str, str], dict[str, str], dict[str, Any], dict[str, Any]]:
    """(sections, --set-string pairs, --set pairs, the caller's values, the render context): the
    context is default-values overlaid by ``--set`` (typed) and then ``--set-string`` (strings)."""
    sections = split_sections(text, workflow=template)
    defaults = _load_defaults(sections.get("default-values", ""), template)
    strings = parse_set_pairs(set_string, flag="--set-string")
    typed = parse_set_pairs(set_values, flag="--set")
    caller = {k: _typed_set(v) for k, v in typed.items()} | strings
    return sections, strings, typed, caller, dict(defaults) | caller


def _render_pass(text: str, data: Mapping[str, Any], template: str, *, stage: str) -> str:
    try:
        return osmo_render(text, data)
    except OsmoRenderError as exc:
        error = exc.error
        if isinstance(error, UndefinedError):
            name = re.search(r"'([^']+)' is undefined", str(error))
            raise UndefinedVariable(name.group(1) if name else str(error), workflow=template) from exc
        if isinstance(error, TemplateSyntaxError):
            raise InputError(
                f"Workflow {template} fails OSMO's {stage} render: template syntax error on line {error.lineno}: {error.message}.",
                remedy="Fix the Jinja expression; runtime tokens are written without spaces, e.g. {{output}}.",
                code="invalid-workflow",
            ) from exc
        if isinstance(error, SecurityError):
            raise InputError(
                f"Workflow {template} tried an operation the template sandbox forbids.",
                remedy="Use only variables, filters and loops in workflow templates.",
                code="invalid-workflow",
            ) from exc
        raise InputError(
            f"Workflow {template} fails OSMO's {stage} render ({type(error).__name__}).",
            remedy="Fix the Jinja expression in the workflow.",
            code="invalid-workflow",
        ) from exc


def _load_rendered(rendered: str, template: str, caller: Mapping[str, Any] | None = None) -> dict[str, Any]:
    try:
        loaded = yaml_text.load(rendered)
    except yaml.YAMLError as exc:
        suspects = sorted(k for k, v in (caller or {}).items() if isinstance(v, str) and _YAML_SPECIAL.search(v))
        if suspects:
            raise InputError(
                f"Workflow {template} is not valid YAML once OSMO pastes the value of {', '.join(suspects)} into it ({_yaml_where(exc)}).",
                remedy="Pass values without quotes, backslashes, ': ' or other YAML syntax.",
                code="invalid-value",
            ) from exc
        raise InputError(
            f"Workflow {template} is not valid YAML after rendering ({_yaml_where(exc)}); OSMO rejects it as not properly formatted.",
            remedy="Quote every scalar that holds a {{…}} expression, and pass values without quotes or line breaks.",
            code="invalid-workflow",
        ) from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("workflow"), dict):
        raise InputError(f"Workflow {template}: workflow: must be a mapping.", remedy="Fix the YAML.", code="invalid-workflow")
    return loaded


def _task_dicts(workflow: Mapping[str, Any]) -> list[dict[str, Any]]:
    tasks = [t for t in workflow.get("tasks") or [] if isinstance(t, dict)]
    for group in workflow.get("groups") or []:
        if isinstance(group, dict):
            tasks += [t for t in group.get("tasks") or [] if isinstance(t, dict)]
    return tasks


def _inline(loaded: dict[str, Any], template: str, source: str | None, skills_dir: Any, *, missing_ok: bool) -> tuple[list[InlinedFile], list[str]]:
    """The CLI's load_local_files, in place on ``loaded``: localpath -> contents."""
    base = _localpath_base(source)
    root = Path(str(skills_dir)).resolve() if skills_dir else None
    inlined: list[InlinedFile] = []
    missing: list[str] = []
    for task in _task_dicts(loaded["workflow"]):
        for entry in task.get("files") or []:
            if not isinstance(entry, dict) or "localpath" not in entry:
                continue
            if "contents" in entry:
                raise _invalid(template, f"a file of task {task.get('name')} has both contents and localpath.", "Keep one of them (OSMO: 'Files tag dont support contents and localpath together').")
            local = str(entry["localpath"])
            path = _local_file(local, base)
            if root is not None and not path.resolve().is_relative_to(root):
                raise _invalid(template, f"the staged file {local} lies outside skills_dir.", "Stage only files under skills_dir.")
            if not path.is_file():
                if not missing_ok:
                    raise _invalid(template, f"The file/path {path} does not exist!", "Check skills_dir and the file name.")
                missing.append(local)
                continue
            try:
                contents = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise _invalid(template, f"the staged file {local} cannot be read as UTF-8 text.", "Stage a readable text file.") from exc
            inlined.append(InlinedFile(task=str(task.get("name")), path=str(entry.get("path")), localpath=local, contents=contents))
            entry["contents"] = contents
            del entry["localpath"]
    return inlined, missing


def _localpath_base(source: str | None) -> str:
    """The folder a relative ``localpath`` is taken from: the workflow file's, else the working one."""
    return os.path.dirname(source) if source else os.getcwd()


def _local_file(local: str, base: str) -> Path:
    return Path(local if local.startswith("/") else os.path.normpath(os.path.join(base, local)))


def _check_staged_file(item: InlinedFile, caller: Mapping[str, Any], template: str) -> None:
    """Render one inlined file alone, as its lines will be rendered inside the submitted text, so a
    failure names the file and the line inside it; one the render would change also fails."""
    if not _JINJA_OPEN.search(item.contents):
        return  # no {{, {% or {#: Jinja data only, nothing in it can fail or change
    where = f"the staged file {item.localpath} (task {item.task})"
    remedy = "Rewrite that line without Jinja syntax ({{, {% or {#): OSMO renders inlined files a second time; e.g. count a bash array with a helper instead of ${#arr[@]}."
    try:
        rendered = osmo_render(item.contents, caller)
    except OsmoRenderError as exc:
        error = exc.error
        if isinstance(error, TemplateSyntaxError):
            line = error.lineno
        else:
            name = re.search(r"'([^']+)' is undefined", str(error))
            line = _first_line(item.contents, lambda text: bool(_JINJA_OPEN.search(text)) and (name is None or name.group(1) in text))
        raise InputError(
            f"Workflow {template}: {where} breaks OSMO's second render on line {line}: {exc}.",
            remedy=remedy,
            code="invalid-workflow",
        ) from exc
    if rendered.rstrip("\n") != item.contents.rstrip("\n"):
        old, new = item.contents.splitlines(), rendered.splitlines()
        line = next((i + 1 for i, (a, b) in enumerate(zip(old, new)) if a != b), min(len(old), len(new)) + 1)
        raise InputError(
            f"Workflow {template}: OSMO's second render would change {where} on line {line} (it holds Jinja syntax).",
            remedy=remedy,
            code="invalid-workflow",
        )


def _first_line(text: str, test) -> int:
    return next((i + 1 for i, line in enumerate(text.splitlines()) if test(line)), 1)


def _check_values(context: Mapping[str, Any], caller: Mapping[str, Any]) -> None:
    for key, value in context.items():
        if isinstance(value, str) and _CONTROL.search(value):
            raise InputError(
                f"The value of {key} contains a line break or control character.",
                remedy=f"Pass {key} as a single line of printable text.",
                code="invalid-value",
            )
    for key, value in caller.items():
        if isinstance(value, str) and _JINJA_OPEN.search(value):
            raise InputError(
                f"The value of {key} holds Jinja syntax ({{{{, {{% or {{#); OSMO renders the submitted text a second time and would evaluate it.",
                remedy=f"Pass {key} without '{{' directly followed by '{{', '%' or '#'.",
                code="invalid-value",
            )


def render_text(
    text: str,
    *,
    set_string: list[str] | Mapping[str, str] | None = None,
    set_values: list[str] | Mapping[str, str] | None = None,
    template: str = "workflow",
    source: str | None = None,
) -> RenderedSpec:
    """Render workflow ``text`` through OSMO's whole submit path and return the validated spec.

    The spec keeps each staged file as its ``localpath`` (what the local backend reads); its
    other fields are the result of the second render. The same call again (the guard, then submit)
    is answered from memory while every staged file still reads the same."""
    key = render_key(text, set_string, set_values, template, source)
    remembered = _MEMORY.recall(key)
    if remembered is not None:
        return remembered.model_copy(deep=True)
    spec, passes = _render_text(text, set_string=set_string, set_values=set_values, template=template, source=source)
    _MEMORY.keep(key, spec.model_copy(deep=True), _files_read(passes, source))
    return spec


def _render_text(
    text: str,
    *,
    set_string: list[str] | Mapping[str, str] | None,
    set_values: list[str] | Mapping[str, str] | None,
    template: str,
    source: str | None,
) -> tuple[RenderedSpec, SubmitRender]:
    sections, strings, typed, caller, context = _values_of(text, template, set_string, set_values)
    _check_values(context, caller)

    passes = render_submit(text, set_string=strings, set_values=typed, template=template, source=source)
    first = _load_rendered(passes.first, template)
    safe = _marked_render(sections["workflow"], context, template)
    _same_structure(first["workflow"], safe, caller, template)
    final = _load_rendered(passes.final, template)
    workflow = final["workflow"]
    for before, after in zip(_task_dicts(first["workflow"]), _task_dicts(workflow)):
        if "files" in before:
            after["files"] = before["files"]
    version = _load_version(sections.get("version"), template)
    spec = validate_workflow(workflow, template)
    dump = {"workflow": workflow} | ({"version": version} if version is not None else {})
    rendered = RenderedSpec(
        template=template,
        source=source,
        name=workflow["name"],
        values=strings,
        set_values=typed,
        groups=spec[0],
        resources=workflow.get("resources") or {"default": {}},
        timeout=workflow.get("timeout") or {},
        flat_tasks=spec[1],
        text=yaml_text.dump(dump),  # read back by the local runner (spec.yaml) and shown: the data counts, not the layout
    )
    return rendered, passes


_MEMORY: RenderMemory[RenderedSpec] = RenderMemory()


def _files_read(passes: SubmitRender, source: str | None) -> list[tuple[Path, str | None]]:
    base = _localpath_base(source)
    read = [(_local_file(item.localpath, base), item.contents) for item in passes.inlined]
    return read + [(_local_file(local, base), None) for local in passes.missing]


def _marked_render(body: str, context: Mapping[str, Any], template: str) -> Any:
    """The workflow with every value kept out of the YAML structure (inert placeholders restored
    after parsing): what the caller meant, to compare with what OSMO's text render makes of it."""
    marks = _Marks()
    env = SandboxedEnvironment(undefined=StrictUndefined, finalize=marks.value, keep_trailing_newline=True)
    try:
        rendered = env.from_string(marks.protect(body)).render(**context)
        loaded = yaml_text.load(rendered)
    except (TemplateError, yaml.YAMLError) as exc:
        raise InputError(
            f"Workflow {template} does not render with its values kept out of the YAML structure ({type(exc).__name__}).",
            remedy="Quote every scalar that holds a {{…}} expression.",
            code="invalid-workflow",
        ) from exc
    return marks.restore(loaded["workflow"]) if isinstance(loaded, dict) else None


def _same_structure(osmo: Any, meant: Any, caller: Mapping[str, Any], template: str, where: str = "workflow") -> None:
    """OSMO pastes values into the YAML text; refuse when that changes a key, a list or a scalar
    compared with the value kept literal (a quote, ``: `` or ``\\n`` escape in a value)."""
    same = True
    if isinstance(meant, dict) and isinstance(osmo, dict):
        if [str(k) for k in osmo] != [str(k) for k in meant]:
            same = False
        else:
            for (k, a), b in zip(osmo.items(), meant.values()):
                _same_structure(a, b, caller, template, f"{where}.{k}")
            return
    elif isinstance(meant, list) and isinstance(osmo, list):
        if len(osmo) != len(meant):
            same = False
        else:
            for i, (a, b) in enumerate(zip(osmo, meant)):
                _same_structure(a, b, caller, template, f"{where}[{i}]")
            return
    elif isinstance(meant, (dict, list)) or isinstance(osmo, (dict, list)):
        same = False
    else:
        same = _to_text(osmo) == _to_text(meant) or (isinstance(meant, str) and isinstance(osmo, (bool, int, float)) and meant.strip().lower() == _to_text(osmo).lower())
    if not same:
        suspects = sorted(k for k, v in caller.items() if isinstance(v, str) and _YAML_SPECIAL.search(v))
        named = f" (check the value of {', '.join(suspects)})" if suspects else ""
        raise InputError(
            f"Workflow {template}: pasted into the YAML as OSMO does, a value changes {where}{named}.",
            remedy="Pass values without quotes, backslashes, ': ' or other YAML syntax.",
            code="invalid-value",
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
        loaded = yaml_text.load(section) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"default-values of {template} is not valid YAML.", remedy="Fix the default-values block.", code="invalid-workflow") from exc
    values = loaded.get("default-values") or {}
    if not isinstance(values, dict):
        raise InputError(f"default-values of {template} must be a mapping.", remedy="Write default-values as key: value lines.", code="invalid-workflow")
    return {str(k): v for k, v in values.items()}


def _load_version(section: str | None, template: str) -> Any:
    if section is None:
        return None
    value = (yaml_text.load(section) or {}).get("version")
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

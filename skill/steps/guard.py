"""Pre-submit guard: render the workflow with the exact submit values, then check it can run.

Upstream's guard only reads a workflow someone else rendered; this one renders it itself, with
the same canonical pairs :func:`skill.steps.submit.submit` will send, and checks (each a ``Check``):

``workflow``          the flow or YAML resolves to a readable workflow file that passes OSMO 6.3.1's
                      submit path (:func:`skill.render.render_workflow`: first render, every
                      ``localpath`` inlined, second render of the whole text, spec checks); a staged
                      file that breaks the second render is named with its line
``values``            the given values are well-formed (storage URL form, run id, names)
``variables``         every template variable resolves (a missing one is named)
``setup_task``        the workflow has a ``setup`` task
``cookbook_files``    the cookbook files the flow's task kinds need are staged and exist locally
``container_configs`` the staged cookbook configs are what the containers' schemas accept
``conditions``        the looks asked for (``conditions``) are variables and options of the staged
                      cookbook, so the setup task's draws cannot fail on them
``staged_files``      every other ``localpath`` the workflow stages exists locally
``video_basename``    ``video`` (and every task's ``VIDEO_NAME``) is a file stem
``dataset_input``     the setup input URL(s) list at least one object
``video_in_dataset``  ``<video>.mp4`` is among them
``cache_wiring``      each model cache the task kinds need is wired into their inputs
``cache:<name>``      each wired cache lists at least one object

A missing or empty cache gives ``status="cache_missing"`` and the remediation as data (rule
``cache-remediation``): run ``setup_model_cache``, then this guard again.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from skill.backends.base import Backend
from skill.conditions import parse_conditions, variables_of
from skill.echo import mask_arguments
from skill.engine_choice import (
    endpoint_wait_s,
    engine_problems,
    fill_engine_values,
    probe_endpoints,
)
from skill.engines.container_contract import check_staged_cookbooks
from skill.errors import InputError, SkillError, UndefinedVariable
from skill.flows import resolve_workflow
from skill.ledger import values_hash
from skill.models import RUN_ID_PATTERN, Check, OptionalSubmitValues, SubmitValues, ValueToken
from skill.paths import trusted_skills_dir
from skill.render import RenderedSpec, TaskSpec, render_workflow
from skill.secrets import redact, redact_obj
from skill.storage import cache_urls
from skill.video_types import WORKFLOW_SUFFIX, is_video_name, strip_video_suffix

__all__ = [
    "CACHE_KEYS",
    "GuardMode",
    "GuardRequest",
    "GuardResult",
    "canonical_pairs",
    "exit_code",
    "new_run_id",
    "pre_submit_guard",
    "report_lines",
    "video_problem",
]

GuardMode = Literal["auto-labeling", "augmentation"]

CACHE_KEYS: dict[GuardMode, str] = {
    "augmentation": "cosmos_model_cache_url",
    "auto-labeling": "auto_labeling_model_cache_url",
}
_CACHE_MARKERS: dict[str, str] = {
    "cosmos_model_cache_url": "/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "/models/auto_labeling",
}
_COOKBOOK_SUFFIXES: dict[GuardMode, tuple[str, ...]] = {
    "auto-labeling": (
        "auto_labeling/auto_labeling_config.yaml",
        "auto_labeling/prompts/event_analysis.md",
        "auto_labeling/question_bank.json",
    ),
    "augmentation": (
        "augmentation/augmentation.yaml",
        "augmentation/prompts/prompt_polishing_system_prompt.md",
        "augmentation/prompts/template_generation_system_prompt.md",
    ),
}
_VIDEO_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_VALUE_ORDER = tuple(SubmitValues.model_fields)
_STRUCTURAL = ("workflow", "setup_task")
_REQUIRED = ("dataset", "run_id", "storage_url", "gpu_platform", "video")



def new_run_id() -> str:
    """A fresh run id: ``run-`` + 8 lowercase hex from :func:`secrets.token_hex`."""
    import secrets

    return f"run-{secrets.token_hex(4)}"


def video_problem(video: str) -> str | None:
    """Why ``video`` is not a bare file stem (rule ``video-basename``), or None when it is."""
    if "/" in video or "\\" in video:
        return "it holds a folder"
    if is_video_name(video):
        return "it ends in a video extension"
    if not _VIDEO_STEM.match(video):
        return "it holds characters other than letters, digits, '.', '_' and '-', or starts with one of '.', '_', '-'"
    return None


def canonical_pairs(values: Mapping[str, Any]) -> dict[str, str]:
    """The submit pairs in canonical order (SubmitValues' field order, then ``workers``).

    ``None`` values are left out; ``skills_dir`` defaults to the skill checkout; both model-cache
    URLs default to ``<storage_url>/data/models/...`` (rule ``explicit-cache-urls``). Raises
    :class:`InputError` when ``storage_url`` is given but malformed.
    """
    given = {k: v for k, v in values.items() if v is not None}
    given["skills_dir"] = str(trusted_skills_dir(given.get("skills_dir")))
    if given.get("storage_url"):
        for key, url in cache_urls(given["storage_url"]).items():
            given.setdefault(key, url)
    fill_engine_values(given)
    ordered = [k for k in _VALUE_ORDER if k in given] + sorted(k for k in given if k not in _VALUE_ORDER)
    return {k: str(given[k]) for k in ordered}


class GuardRequest(OptionalSubmitValues):
    """What to check: the flow and the values the submit will carry."""

    flow: ValueToken = Field(
        description="Flow name, e.g. augmentation_and_al, or a workflow YAML path."
    )
    dataset: ValueToken | None = Field(default=None, description="Dataset folder under <storage_url>/datasets/, e.g. vda-demo.")
    run_id: Annotated[str, StringConstraints(pattern=RUN_ID_PATTERN)] | None = Field(
        default=None, description="run-<8 hex>; omit for a fresh one, then submit with the one returned."
    )
    storage_url: ValueToken | None = Field(
        default=None, description="Prefix before /datasets/<dataset> in the dataset URL."
    )
    gpu_platform: ValueToken | None = Field(default=None, description="Platform label an ONLINE pool shows, e.g. gpu.")
    video: ValueToken | None = Field(default=None, description="Video file stem (no folder, no extension), e.g. cam3_0915.")

    def value_fields(self) -> dict[str, Any]:
        return self.model_dump(exclude={"flow"})


class GuardResult(BaseModel):
    """The guard's verdict. Submit with exactly ``values`` (same ``values_hash``) when ``status`` is ok."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "failed", "cache_missing"] = Field(
        description="ok: submit with these values; cache_missing: run setup_model_cache (see remediation), then guard again; failed: fix the failed checks."
    )
    flow: str = Field(description="The workflow checked (file stem), e.g. augmentation_and_al.")
    workflow_path: str | None = Field(default=None, description="Absolute path of the workflow file.")
    mode: list[GuardMode] = Field(default_factory=list, description="Task kinds found: auto-labeling and/or augmentation.")
    checks: list[Check]
    values: dict[str, str] = Field(default_factory=dict, description="The canonical submit pairs that were checked, redacted.")
    run_id: str | None = Field(default=None, description="The run id checked (fresh when none was given).")
    values_hash: str | None = Field(default=None, description="sha256 of the canonical pairs; the submit must carry the same values.")
    remediation: dict[str, Any] | None = Field(
        default=None,
        description='When a cache is missing: {"workflow": "setup_model_cache", "set_string": {"storage_url": ..., "path": "data"}, "then": "rerun pre_submit_guard"}.',
    )
    summary: str = Field(description="One sentence for the user.")


# --- the step ---------------------------------------------------------------------------------


def pre_submit_guard(req: GuardRequest, *, backend: Backend, render=render_workflow) -> GuardResult:
    """Render the workflow with the submit values and check it before anything is submitted."""
    fields = req.value_fields()
    if fields.get("run_id") is None:
        fields["run_id"] = new_run_id()
    checks: list[Check] = []
    pairs = _pairs_or_check(fields, checks)
    _values_check(pairs, checks)
    run_id = fields["run_id"]

    try:
        path = Path(resolve_workflow(req.flow))
    except SkillError as exc:
        checks.append(Check(name="workflow", status="fail", detail=exc.message, data={"remedy": exc.remedy or ""}))
        return _finish(req.flow, None, [], checks, pairs, run_id, None)

    spec = _render_check(render, path, pairs, checks)
    if spec is None:
        _video_check(fields.get("video"), None, checks)
        return _finish(path.stem, path, [], checks, pairs, run_id, None)

    setup = next((t for t in spec.tasks if t.name.lower() == "setup"), None)
    if setup is None:
        checks.append(Check(name="setup_task", status="fail", detail="The workflow has no task named setup.", data={"remedy": "Use a shipped flow YAML; every VDA flow starts with a setup task."}))
        return _finish(path.stem, path, [], checks, pairs, run_id, None)
    checks.append(Check(name="setup_task", status="ok", detail="setup task found."))

    kinds = _task_kinds(spec)
    mode = [m for m in ("auto-labeling", "augmentation") if kinds[m]]
    checked = _cookbook_check(setup, mode, checks)
    _container_config_check(setup, mode, checks)
    _conditions_check(setup, mode, pairs.get("conditions"), checks)
    _staged_files_check(spec, checked, checks)
    video_ok = _video_check(fields.get("video"), spec, checks)
    listing = _dataset_check(setup, backend, checks)
    if video_ok and listing is not None:
        _video_in_dataset_check(fields["video"], listing, checks, clips=fields.get("clips"))
    _engines_check(pairs, backend, checks, augments="augmentation" in mode)
    remediation = _cache_checks(kinds, pairs, backend, checks)
    return _finish(path.stem, path, mode, checks, pairs, run_id, remediation)


# --- checks -----------------------------------------------------------------------------------


def _pairs_or_check(fields: dict[str, Any], checks: list[Check]) -> dict[str, str]:
    try:
        return canonical_pairs(fields)
    except InputError as exc:
        checks.append(Check(name="values", status="fail", detail=exc.message, data={"field": "storage_url", "remedy": exc.remedy or ""}))
        return canonical_pairs({k: v for k, v in fields.items() if k != "storage_url"})


def _values_check(pairs: dict[str, str], checks: list[Check]) -> None:
    if any(c.name == "values" for c in checks):
        return
    try:
        SubmitValues.model_validate({k: v for k, v in pairs.items() if k in _VALUE_ORDER})
    except ValidationError as exc:
        # field names and rules only: never the rejected values (a URL can carry credentials)
        problems = [
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
            for err in exc.errors()
            if err["type"] != "missing" and err["loc"] and err["loc"][0] != "video"
        ]
        if problems:
            checks.append(Check(name="values", status="fail", detail="Some values are malformed: " + "; ".join(problems) + ".", data={"fields": [p.split(":")[0] for p in problems]}))
            return
    checks.append(Check(name="values", status="ok", detail="Values are well-formed."))


def _render_check(render, path: Path, pairs: dict[str, str], checks: list[Check]) -> RenderedSpec | None:
    missing = [k for k in _REQUIRED if k not in pairs]
    try:
        spec = render(path, set_string=pairs)
    except UndefinedVariable as exc:
        checks.append(Check(name="workflow", status="ok", detail=f"Workflow file {path.name}."))
        checks.append(Check(
            name="variables", status="fail", detail=exc.message,
            data={"variable": exc.variable, "missing_required": missing, "remedy": exc.remedy or ""},
        ))
        return None
    except InputError as exc:
        structural = exc.code in ("not-found", "invalid-workflow")
        if not structural:
            checks.append(Check(name="workflow", status="ok", detail=f"Workflow file {path.name}."))
        checks.append(Check(
            name="workflow" if structural else "variables", status="fail", detail=exc.message,
            data={"code": exc.code, "missing_required": missing, "remedy": exc.remedy or ""},
        ))
        return None
    checks.append(Check(name="workflow", status="ok", detail=f"Workflow file {path.name}."))
    checks.append(Check(name="variables", status="ok", detail="Every template variable resolves."))
    return spec


def _engines_check(pairs: dict[str, str], backend: Backend, checks: list[Check], *, augments: bool) -> None:
    """The chosen engines can run where this backend runs its tasks, and a chosen server answers."""
    if not (pairs.get("label_engine") or pairs.get("augment_engine")):
        return
    local = backend.traits.local_engines
    problems = engine_problems(pairs, on_this_machine=local, augments=augments)
    if problems:
        first = problems[0]
        checks.append(Check(name="engines", status="fail", detail=first.message, data={"code": first.code, "remedy": first.remedy}))
        return
    uses_server = pairs.get("label_engine") == "nim" or (augments and pairs.get("augment_engine") == "cosmos")
    if local and uses_server:
        try:
            models = probe_endpoints(pairs, wait_s=endpoint_wait_s())
        except SkillError as exc:
            checks.append(Check(name="engines", status="fail", detail=exc.message, data={"code": exc.code, "remedy": exc.remedy or ""}))
            return
        detail = f"Engines label={pairs.get('label_engine') or 'auto'} augment={pairs.get('augment_engine') or 'auto'}; VLM {models['vlm']}, LLM {models['llm']}."
        checks.append(Check(name="engines", status="ok", detail=detail, data={"models": models}))
        return
    checks.append(Check(name="engines", status="ok",
                        detail=f"Engines label={pairs.get('label_engine') or 'auto'} augment={pairs.get('augment_engine') or 'auto'}."))


def _task_kinds(spec: RenderedSpec) -> dict[GuardMode, list[TaskSpec]]:
    """Upstream's rule: a label task runs the auto-labeling image or is named pl_*; an
    augmentation task runs the augmentation image or is named cosmos_*."""
    kinds: dict[GuardMode, list[TaskSpec]] = {"auto-labeling": [], "augmentation": []}
    for task in spec.tasks:
        if "auto-labeling" in task.image or task.name.startswith("pl_"):
            kinds["auto-labeling"].append(task)
        elif "augmentation" in task.image or task.name.startswith("cosmos_"):
            kinds["augmentation"].append(task)
    return kinds


def _cookbook_check(setup: TaskSpec, mode: list[GuardMode], checks: list[Check]) -> set[str]:
    """Upstream's suffix check plus "the file exists"; returns the localpaths it looked at."""
    staged = [(f.localpath or "").replace("\\", "/") for f in setup.files]
    not_staged, absent, seen = [], [], set()
    for kind in mode:
        for suffix in _COOKBOOK_SUFFIXES[kind]:
            local = next((p for p in staged if p.endswith(suffix)), None)
            if local is None:
                not_staged.append(suffix)
                continue
            seen.add(local)
            if not Path(local).is_file():
                absent.append(local)
    if not_staged or absent:
        parts = []
        if not_staged:
            parts.append("not staged by the setup task: " + ", ".join(not_staged))
        if absent:
            parts.append("missing on disk: " + ", ".join(absent))
        checks.append(Check(
            name="cookbook_files", status="fail", detail="Cookbook files " + "; ".join(parts) + ".",
            data={"not_staged": not_staged, "missing": absent, "remedy": "Set skills_dir to the skill checkout and cookbook to one of the shipped scenes."},
        ))
    elif mode:
        checks.append(Check(name="cookbook_files", status="ok", detail=f"{sum(len(_COOKBOOK_SUFFIXES[m]) for m in mode)} cookbook files staged and present."))
    else:
        checks.append(Check(name="cookbook_files", status="skipped", detail="No auto-labeling or augmentation task found."))
    return seen


def _container_config_check(setup: TaskSpec, mode: list[GuardMode], checks: list[Check]) -> None:
    """The staged cookbook configs against the containers' contracts (skill/engines/container_contract.py)."""
    if not mode:
        return
    try:
        files = check_staged_cookbooks([f.localpath or "" for f in setup.files], tuple(mode))
    except SkillError as exc:
        checks.append(Check(name="container_configs", status="fail", detail=exc.message, data={"code": exc.code, "remedy": exc.remedy or ""}))
        return
    checks.append(Check(name="container_configs", status="ok" if files else "skipped",
                        detail=f"{len(files)} cookbook config(s) match the containers' schemas." if files else "No staged cookbook config to check."))


def _conditions_check(setup: TaskSpec, mode: list[GuardMode], value: str | None, checks: list[Check]) -> None:
    """The looks asked for against the cookbook the setup task stages (its workflow_config.yaml)."""
    if not value:
        return
    staged = next((f.localpath for f in setup.files if (f.localpath or "").endswith("/workflow_config.yaml")), None)
    if staged is None or "augmentation" not in mode:
        checks.append(Check(name="conditions", status="fail", detail="This workflow does not augment, so there are no looks to fix.",
                            data={"code": "conditions-without-augmentation", "remedy": "Drop conditions, or pick an augmenting flow (augmentation_and_al, e2e)."}))
        return
    try:
        chosen = parse_conditions(value, variables_of(Path(staged), label=Path(staged).parent.name), cookbook=Path(staged).parent.name)
    except InputError as exc:
        checks.append(Check(name="conditions", status="fail", detail=exc.message, data={"code": exc.code, "remedy": exc.remedy or ""}))
        return
    asked = ", ".join(f"{name}={'|'.join(options)}" for name, options in chosen.items())
    checks.append(Check(name="conditions", status="ok", detail=f"The cookbook has every look asked for ({asked})."))


def _staged_files_check(spec: RenderedSpec, already_checked: set[str], checks: list[Check]) -> None:
    locals_ = sorted({f.localpath for t in spec.tasks for f in t.files if f.localpath} - already_checked)
    missing = [p for p in locals_ if not Path(p).is_file()]
    if missing:
        checks.append(Check(
            name="staged_files", status="fail", detail=f"{len(missing)} file(s) the workflow stages are missing: " + ", ".join(missing[:5]) + ("..." if len(missing) > 5 else "") + ".",
            data={"missing": missing, "remedy": "Point skills_dir at a complete skill checkout."},
        ))
    else:
        checks.append(Check(name="staged_files", status="ok", detail=f"All {len(locals_)} staged files exist."))


def _video_check(video: str | None, spec: RenderedSpec | None, checks: list[Check]) -> bool:
    bad: list[str] = []
    if video is not None and video_problem(video):
        bad.append("video")
    if spec is not None:
        bad += [f"{t.name}.VIDEO_NAME" for t in spec.tasks if re.search(r"[/\\]", t.environment.get("VIDEO_NAME", ""))]
    if bad:
        stem = Path((video or "").replace("\\", "/")).name
        stem = strip_video_suffix(stem)
        checks.append(Check(
            name="video_basename", status="fail",
            detail="video must be a file stem with no folder and no extension (" + ", ".join(bad) + ").",
            data={"rule": "video-basename", "suggested": stem if _VIDEO_STEM.match(stem) else None,
                  "remedy": "Pass the basename without .mp4 and move any folder prefix into the dataset URL."},
        ))
        return False
    if video is not None:
        checks.append(Check(name="video_basename", status="ok", detail="video is a file stem."))
    return video is not None


def _dataset_check(setup: TaskSpec, backend: Backend, checks: list[Check]) -> list[str] | None:
    urls = [i.url for i in setup.inputs if i.url is not None]
    if not urls or any(not u.strip() for u in urls):
        checks.append(Check(name="dataset_input", status="fail", detail="The setup task has no dataset input URL.", data={"remedy": "Pass storage_url and dataset."}))
        return None
    listing: list[str] = []
    for url in urls:
        if "{{" in url or "PLACEHOLDER_" in url:
            checks.append(Check(name="dataset_input", status="fail", detail=f"The dataset URL {url} still holds a placeholder.", data={"remedy": "Pass every value in the single --set-string list."}))
            return None
        try:
            keys = backend.data_list(url)
        except SkillError as exc:
            checks.append(Check(name="dataset_input", status="fail", detail=f"Listing {url} failed: {exc.message}", data={"url": url, "code": exc.code, "remedy": exc.remedy or "Upload data first."}))
            return None
        if not keys:
            checks.append(Check(
                name="dataset_input", status="fail", detail=f"The dataset URL {url} holds no objects.",
                data={"url": url, "remedy": f"Upload the *.mp4 files flat to {url}/ (upload_dataset), or fix storage_url/dataset, then rerun the guard."},
            ))
            return None
        listing += keys
    checks.append(Check(name="dataset_input", status="ok", detail=f"Dataset input lists {len(listing)} object(s).", data={"objects": len(listing)}))
    return listing


def _video_in_dataset_check(video: str, listing: list[str], checks: list[Check], *, clips: str | None = None) -> None:
    """``<video>.mp4`` (and each clip ``clips`` names) is among the dataset's objects."""
    names = [f"{stem}{WORKFLOW_SUFFIX}" for stem in dict.fromkeys([video, *(clips.split(",") if clips else [])])]
    absent = [n for n in names if not any(key == n or key.endswith("/" + n) for key in listing)]
    if not absent:
        detail = f"{names[0]} is in the dataset." if len(names) == 1 else f"All {len(names)} clips are in the dataset."
        checks.append(Check(name="video_in_dataset", status="ok", detail=detail))
        return
    stems = sorted({Path(k).stem for k in listing if k.lower().endswith(WORKFLOW_SUFFIX)})
    checks.append(Check(
        name="video_in_dataset", status="fail", detail=f"{', '.join(absent[:5])} {'is' if len(absent) == 1 else 'are'} not in the dataset.",
        data={"available": stems[:20], "remedy": "Pick video (and clips) from the stems in available, or upload the files."},
    ))


def _cache_checks(kinds: dict[GuardMode, list[TaskSpec]], pairs: dict[str, str], backend: Backend, checks: list[Check]) -> dict[str, Any] | None:
    missing: dict[str, str] = {}  # cache url -> reason
    unwired: list[str] = []
    for kind, tasks in kinds.items():
        if not tasks:
            continue
        key = CACHE_KEYS[kind]
        given = pairs.get(key)
        urls = sorted({
            i.url for t in tasks for i in t.inputs
            if i.url is not None and (i.url == given or _CACHE_MARKERS[key] in i.url or "{{" in i.url and key in i.url)
        })
        if not urls or any("{{" in u for u in urls) or any(not u.strip() for u in urls):
            unwired.append(key)
            continue
        for url in urls:
            try:
                keys = backend.data_list(url)
            except SkillError as exc:
                missing[url] = exc.message
                checks.append(Check(name=f"cache:{key}", status="fail", detail=f"Listing the cache {url} failed: {exc.message}", data={"url": url, "rule": "cache-remediation"}))
                continue
            if keys:
                checks.append(Check(name=f"cache:{key}", status="ok", detail=f"Cache {url} holds {len(keys)} object(s).", data={"url": url}))
            else:
                missing[url] = "empty or missing"
                checks.append(Check(name=f"cache:{key}", status="fail", detail=f"The model cache {url} is empty or missing.", data={"url": url, "rule": "cache-remediation"}))
    if unwired:
        checks.append(Check(
            name="cache_wiring", status="fail", detail="Model cache URL(s) not wired into the worker inputs: " + ", ".join(unwired) + ".",
            data={"keys": unwired, "rule": "explicit-cache-urls"},
        ))
    elif any(kinds.values()):
        checks.append(Check(name="cache_wiring", status="ok", detail="Each needed model cache is wired."))
    if not missing and not unwired:
        return None
    target = next(iter(missing), None) or pairs.get(CACHE_KEYS["augmentation"]) or pairs.get(CACHE_KEYS["auto-labeling"])
    storage_url, path = _cache_prefix(target, pairs.get("storage_url"))
    return {
        "workflow": "setup_model_cache",
        "set_string": {"storage_url": storage_url, "path": path},
        "then": "rerun pre_submit_guard",
        "rule": "cache-remediation",
        "missing": sorted(missing) + unwired,
    }


def _cache_prefix(cache_url: str | None, storage_url: str | None) -> tuple[str | None, str]:
    """``<storage>/<path>/models/<name>`` -> (``<storage>``, ``<path>``); else (storage_url, "data")."""
    if cache_url and "{{" not in cache_url and "/models/" in cache_url:
        base = cache_url.split("/models/", 1)[0]
        if storage_url and base.startswith(storage_url.rstrip("/") + "/"):
            return storage_url.rstrip("/"), base[len(storage_url.rstrip("/")) + 1 :]
        head, _, tail = base.rpartition("/")
        if head and tail and "://" not in tail and not head.endswith(":/"):
            return head, tail
    return storage_url, "data"


# --- the verdict --------------------------------------------------------------------------------


def _finish(
    flow: str, path: Path | None, mode: list[GuardMode], checks: list[Check], pairs: dict[str, str], run_id: str, remediation: dict[str, Any] | None
) -> GuardResult:
    # a check that quotes a value which is not plain says the argument's name instead (skill.echo)
    checks = [c.model_copy(update={"detail": mask_arguments(c.detail, {**pairs, "flow": flow})}) for c in checks]
    cache_names = {"cache_wiring"}
    failed = [c for c in checks if c.status == "fail" and not (c.name.startswith("cache:") or c.name in cache_names)]
    cache_failed = [c for c in checks if c.status == "fail" and (c.name.startswith("cache:") or c.name in cache_names)]
    if failed:
        status = "failed"
        summary = f"Pre-submit guard failed: {failed[0].detail}"
    elif cache_failed:
        status = "cache_missing"
        summary = "A model cache is missing: run setup_model_cache with the remediation values, then rerun the guard."
    else:
        status = "ok"
        summary = "Pre-submit guard passed (mode-aware checks: " + (", ".join(mode) or "none") + ")."
    complete = status != "failed" and all(k in pairs for k in ("dataset", "storage_url", "gpu_platform", "video", "run_id"))
    return GuardResult(
        status=status,
        flow=flow,
        workflow_path=str(path.resolve()) if path else None,
        mode=mode,
        checks=checks,
        values=redact_obj(pairs),
        run_id=run_id,
        values_hash=values_hash(pairs) if complete else None,
        remediation=redact_obj(remediation) if remediation else None,
        summary=redact(summary),
    )


# --- upstream-compatible report (scripts/pre_submit_guard.py) ------------------------------------


def report_lines(result: GuardResult) -> list[str]:
    """The lines upstream's guard prints, for the script entry point."""
    if result.status == "ok":
        return ["OK: pre-submit guard passed (mode-aware checks: " + (", ".join(result.mode) or "none") + ")."]
    lines = [f"ERROR: {c.detail}" for c in result.checks if c.status == "fail" and not c.name.startswith("cache") and c.name != "cache_wiring"]
    if result.remediation:
        set_string = result.remediation["set_string"]
        lines += [
            "ERROR: pre-submit guard failed. Model cache URL validation failed.",
            "DEFAULT_ACTION: Run setup_model_cache.yaml, then rerun pre-submit guard (ask the user only if the prefix is ambiguous or the cache setup fails).",
            "Hint: osmo workflow submit assets/configs/osmo/setup_model_cache.yaml --set-string "
            f"storage_url={set_string['storage_url']} path={set_string['path']}",
        ]
        lines += [f"  - {c.detail}" for c in result.checks if c.status == "fail" and (c.name.startswith("cache") or c.name == "cache_wiring")]
    return [redact(line) for line in lines]


def exit_code(result: GuardResult) -> int:
    """Upstream's codes: 0 passed, 2 the workflow file or its setup task is unusable, 1 otherwise."""
    if result.status == "ok":
        return 0
    return 2 if any(c.status == "fail" and c.name in _STRUCTURAL for c in result.checks) else 1

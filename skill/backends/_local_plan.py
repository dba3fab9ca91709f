"""Turn a rendered spec into a local run plan, at submit time.

Everything a task needs that is known before it runs is fixed here: its sandbox folders, the
runtime tokens (``{{output}}``, ``{{input:N}}``, ``{{input:<task>}}``, ``{{workflow_id}}``,
``{{uuid}}``, ``{{host:<task>}}``), the staged ``files`` (``contents``/``base64``/``localpath``
read now, as the OSMO CLI inlines them at submit) and the substitution of each file's container
path by its staged path. Inputs and outputs are checked here so that a bad URL, a dataset input or
a ``{{input:7}}`` of a task with two inputs is refused at submit, not in the middle of a run.
"""

from __future__ import annotations

import base64
import binascii
import re
import stat
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from skill.backends._local_state import GroupPlan, InputPlan, OutputPlan, RunPlan, TaskPlan
from skill.backends.local_storage import LocalStorage
from skill.errors import InputError
from skill.paths import expand_user
from skill.workflow_spec import RUNTIME_TOKEN, FileSpec, RenderedSpec, TaskSpec

__all__ = ["LOCAL_HOST", "build_plan", "exit_status", "group_gpus", "parse_duration", "slack_groups", "parse_exit_actions"]

LOCAL_HOST = "127.0.0.1"
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(us|ms|s|m|h|d)?$")
_ISO_DURATION = re.compile(r"^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_UNIT_SECONDS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_CODES = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$")
_ACTIONS = ("COMPLETE", "FAIL", "RESCHEDULE")


def _gpus(resource: dict[str, Any], *, task: str) -> int:
    """The GPUs a task's resource asks for (0 when it names none)."""
    value = resource.get("gpu", 0) or 0
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = -1
    if count < 0:
        raise InputError(f"Task {task} asks for gpu: {str(value)[:20]!r}, which is not a whole number of GPUs.",
                         remedy="Give the resource's gpu as a whole number (0 or more).", code="invalid-workflow")
    return count


def group_gpus(group: GroupPlan) -> int:
    """GPUs a group holds when placed: all its tasks start together (the gang rule)."""
    return sum(t.gpus for t in group.tasks)


def slack_groups(groups: list[GroupPlan]) -> set[str]:
    """The groups on no longest chain of groups (counted in groups, first to last): the run can
    wait for them longer than for the others. In e2e the original clips' labeling, which no group
    takes input from, runs beside the augmentation that two more groups follow."""
    by_name = {g.name: g for g in groups}
    after: dict[str, list[str]] = {name: [] for name in by_name}
    for group in groups:
        for upstream in group.upstream:
            if upstream in after:
                after[upstream].append(group.name)
    depth: dict[str, int] = {}
    height: dict[str, int] = {}

    def depth_of(name: str) -> int:  # groups before it on its longest chain (the DAG is checked acyclic at submit)
        if name not in depth:
            depth[name] = max((depth_of(u) + 1 for u in by_name[name].upstream if u in by_name), default=0)
        return depth[name]

    def height_of(name: str) -> int:  # groups after it
        if name not in height:
            height[name] = max((height_of(d) + 1 for d in after[name]), default=0)
        return height[name]

    longest = max((depth_of(n) + height_of(n) for n in by_name), default=0)
    return {n for n in by_name if depth_of(n) + height_of(n) < longest}


def parse_duration(value: Any, *, field: str = "exec_timeout") -> float | None:
    """``24h``, ``30m``, ``90s``, ``500ms``, ``2d``, a number of seconds, or ISO ``PT1H30M`` -> seconds."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise _bad_duration(field)
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    match = _DURATION.match(text)
    if match:
        return float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
    iso = _ISO_DURATION.match(text)
    if iso and text not in ("P", "PT") and any(iso.groups()):
        days, hours, minutes, seconds = (float(g) if g else 0.0 for g in iso.groups())
        return days * 86400 + hours * 3600 + minutes * 60 + seconds
    raise _bad_duration(field)


def _bad_duration(field: str) -> InputError:
    return InputError(
        f"workflow.timeout.{field} is not a duration.",
        remedy="Write it like 24h, 30m or 90s (one unit), or as a number of seconds.",
        code="invalid-workflow",
    )


def parse_exit_actions(actions: dict[str, str], *, task: str) -> dict[str, list[tuple[int, int]]]:
    """``{"complete": "0,1-10,16"}`` -> ``{"COMPLETE": [(0, 0), (1, 10), (16, 16)]}`` (keys case-insensitive)."""
    parsed: dict[str, list[tuple[int, int]]] = {}
    for key, codes in actions.items():
        action = str(key).upper()
        if action not in _ACTIONS:
            raise InputError(
                f"Task {task} has the exit action {key}; OSMO knows COMPLETE, FAIL and RESCHEDULE.",
                remedy="Use one of COMPLETE, FAIL, RESCHEDULE.",
                code="invalid-workflow",
            )
        ranges: list[tuple[int, int]] = []
        for item in str(codes).split(","):
            match = _CODES.match(item)
            if not match:
                raise InputError(
                    f"Task {task}: the {action} exit codes are not a list like 0,1-10,16.",
                    remedy="Write exit codes as comma-separated numbers and ranges.",
                    code="invalid-workflow",
                )
            low = int(match.group(1))
            high = int(match.group(2)) if match.group(2) else low
            ranges.append((min(low, high), max(low, high)))
        parsed[action] = ranges
    return parsed


def exit_status(code: int, actions: dict[str, list[tuple[int, int]]]) -> tuple[str, str | None]:
    """(task status, note) for an exit code: the task's exit actions first, then 0 -> COMPLETED."""
    for action in _ACTIONS:
        if any(low <= code <= high for low, high in actions.get(action, [])):
            if action == "COMPLETE":
                return "COMPLETED", None
            if action == "FAIL":
                return "FAILED", f"exit code {code} is listed under FAIL"
            return "FAILED", f"exit code {code} asks for RESCHEDULE, which the local backend does not do; treated as FAILED"
    if code == 0:
        return "COMPLETED", None
    return "FAILED", f"exited with code {code}"


# --- the plan -----------------------------------------------------------------------------------


def _container_path(path: str, *, task: str, what: str) -> PurePosixPath:
    parts = [p for p in PurePosixPath(path).parts if p not in ("/", ".")]
    if not parts or ".." in parts:
        raise InputError(
            f"Task {task} has a {what} path that is empty or climbs out with '..'.",
            remedy=f"Give every {what} an absolute path such as /tmp/vda/script.sh.",
            code="invalid-workflow",
        )
    return PurePosixPath(*parts)


def _file_bytes(item: FileSpec, *, task: str, base_dir: Path) -> tuple[bytes, int]:
    if item.contents is not None:
        if not item.base64:
            return item.contents.encode("utf-8"), 0o644
        try:
            return base64.b64decode(item.contents, validate=True), 0o644
        except (binascii.Error, ValueError) as exc:
            raise InputError(
                f"Task {task}: the file {item.path} says base64 but its contents are not base64.",
                remedy="Encode the contents with base64, or set base64: false.",
                code="invalid-workflow",
            ) from exc
    if item.localpath is None:
        raise InputError(
            f"Task {task}: the file {item.path} has neither contents nor localpath.",
            remedy="Give the file contents: or localpath:.",
            code="invalid-workflow",
        )
    source = expand_user(item.localpath)
    if not source.is_absolute():
        source = base_dir / source
    if not source.is_file():
        raise InputError(
            f"Task {task}: the localpath of {item.path} ({source}) is not a file on this machine.",
            remedy="Check skills_dir and the file name; localpath must name a file, not a folder.",
            code="local-file-missing",
        )
    return source.read_bytes(), stat.S_IMODE(source.stat().st_mode) | 0o600


class _Substitution:
    """One pass over a value replacing runtime tokens and staged container paths."""

    def __init__(self, tokens: dict[str, str], paths: dict[str, str], *, task: str) -> None:
        self.tokens, self.paths, self.task = tokens, paths, task
        alternatives = [RUNTIME_TOKEN.pattern] + [re.escape(p) for p in sorted(paths, key=len, reverse=True)]
        self.pattern = re.compile("|".join(f"(?:{a})" for a in alternatives))

    def __call__(self, value: str) -> str:
        return self.pattern.sub(self._one, value)

    def _one(self, match: re.Match[str]) -> str:
        text = match.group(0)
        if text in self.paths:
            return self.paths[text]
        name = text[2:-2]
        if name.startswith("host:"):
            return LOCAL_HOST
        if name in self.tokens:
            return self.tokens[name]
        raise InputError(
            f"Task {self.task} uses {text}, which names no input of that task.",
            remedy="Number inputs from 0 in the order of the task's inputs: list, or use {{input:<task name>}}.",
            code="invalid-workflow",
        )


def _inputs(task: TaskSpec, *, task_dir: Path, outputs_of: dict[str, str], storage: LocalStorage, workflows_dir: Path) -> tuple[list[InputPlan], dict[str, str]]:
    plans: list[InputPlan] = []
    tokens: dict[str, str] = {}
    for index, item in enumerate(task.inputs):
        own_dir = str(task_dir / "inputs" / str(index))
        if item.url is not None:
            storage.path(item.url)  # refuse a bad URL now
            plan = InputPlan(kind="url", source=item.url, dir=own_dir, regex=item.regex)
        elif item.task is not None:
            source = outputs_of.get(item.task) or _previous_output(item.task, workflows_dir, task=task.name)
            plan = InputPlan(kind="task", source=source, task=item.task, dir=own_dir if item.regex else source, regex=item.regex)
            tokens.setdefault(f"input:{item.task}", plan.dir)
        else:
            raise InputError(
                f"Task {task.name} has a dataset input; the local backend reads storage URLs and task outputs only.",
                remedy="Replace the dataset input with - url: <storage_url>/datasets/<name>.",
                code="unsupported-local",
            )
        tokens[f"input:{index}"] = plan.dir
        plans.append(plan)
    return plans, tokens


def _previous_output(ref: str, workflows_dir: Path, *, task: str) -> str:
    """``<workflow_id>:<task>``: a finished task of an earlier local run."""
    from skill.backends._local_state import GROUP_FINISHED, load_state

    workflow_id, _, upstream = ref.partition(":")
    state_file = workflows_dir / workflow_id / "state.json"
    if not upstream or not state_file.is_file():
        raise InputError(
            f"Task {task} takes input from {ref}, which is no task of this run or of an earlier local run.",
            remedy="Use - task: <task> for this run, or <workflow_id>:<task> of a finished local run.",
            code="invalid-workflow",
        )
    record = load_state(state_file)
    found = [t for g in record.groups for t in g.tasks if t.name == upstream]
    if not found or found[0].status not in GROUP_FINISHED:
        raise InputError(
            f"Task {task} takes input from {ref}, which has not finished.",
            remedy=f"Wait for {workflow_id} to finish, then submit again.",
            code="invalid-workflow",
        )
    return str(workflows_dir / workflow_id / "tasks" / upstream / "output")


def _outputs(task: TaskSpec, storage: LocalStorage) -> list[OutputPlan]:
    plans = []
    for item in task.outputs:
        if item.url is None:
            raise InputError(
                f"Task {task.name} has a dataset output; the local backend writes storage URLs only.",
                remedy="Replace it with - url: <storage_url>/datasets/<dataset>-outputs/<run_id>/...",
                code="unsupported-local",
            )
        storage.path(item.url)
        plans.append(OutputPlan(url=item.url, regex=item.regex))
    return plans


def _credentials(task: TaskSpec, task_dir: Path) -> tuple[dict[str, dict[str, str] | str], dict[str, str]]:
    mapped: dict[str, dict[str, str] | str] = {}
    mounts: dict[str, str] = {}
    for name, how in task.credentials.items():
        if isinstance(how, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in how.items()):
            mapped[str(name)] = dict(how)
        elif isinstance(how, str) and how.strip():
            folder = str(task_dir / "credentials" / _container_path(how, task=task.name, what="credential mount"))
            mapped[str(name)] = folder
            mounts[how.rstrip("/") or how] = folder
        else:
            raise InputError(
                f"Task {task.name}: credential {name} must map ENV_VAR: key pairs or name a mount folder.",
                remedy="Write e.g. nvcr_io: {NGC_CLI_API_KEY: auth}.",
                code="invalid-workflow",
            )
    return mapped, mounts


def build_plan(
    spec: RenderedSpec,
    *,
    workflow_id: str,
    run_dir: Path,
    storage: LocalStorage,
    workflows_dir: Path,
    credentials_path: Path,
    default_platform: str = "cpu",
) -> RunPlan:
    """The plan of a run; stages every task's ``files`` under ``<task_dir>/files/`` as a side effect."""
    base_dir = Path(spec.source).parent if spec.source else Path.cwd()
    run_uuid = uuid.uuid4().hex
    outputs_of = {t.name: str(run_dir / "tasks" / t.name / "output") for g in spec.groups for t in g.tasks}
    group_of = {t.name: g.name for g in spec.groups for t in g.tasks}
    staged: list[tuple[Path, bytes, int]] = []
    groups: list[GroupPlan] = []
    for group in spec.groups:
        tasks: list[TaskPlan] = []
        upstream: list[str] = []
        for task in group.tasks:
            task_dir = run_dir / "tasks" / task.name
            inputs, input_tokens = _inputs(task, task_dir=task_dir, outputs_of=outputs_of, storage=storage, workflows_dir=workflows_dir)
            for item in inputs:
                if item.kind == "task" and item.task in group_of and group_of[item.task] not in upstream:
                    upstream.append(group_of[item.task])
            paths: dict[str, str] = {}
            for item in task.files:
                rel = _container_path(item.path, task=task.name, what="file")
                if item.path in paths:
                    raise InputError(f"Task {task.name} lists the file {item.path} twice.", remedy="Keep one entry per path.", code="invalid-workflow")
                target = task_dir / "files" / rel
                data, mode = _file_bytes(item, task=task.name, base_dir=base_dir)
                staged.append((target, data, mode))
                paths[item.path] = str(target)
            credentials, mounts = _credentials(task, task_dir)
            paths.update(mounts)
            tokens = {"output": outputs_of[task.name], "workflow_id": workflow_id, "uuid": run_uuid, **input_tokens}
            sub = _Substitution(tokens, paths, task=task.name)
            resource = spec.resources.get(task.resource) or {}
            tasks.append(
                TaskPlan(
                    name=task.name,
                    lead=task.lead,
                    argv=[sub(v) for v in [*task.command, *task.args]],
                    environment={k: sub(v) for k, v in task.environment.items()},
                    task_dir=str(task_dir),
                    output_dir=outputs_of[task.name],
                    inputs=inputs,
                    outputs=_outputs(task, storage),
                    credentials=credentials,
                    exit_actions=parse_exit_actions(task.exitActions, task=task.name),
                    image=task.image,
                    resource=task.resource,
                    platform=str(resource.get("platform") or default_platform),
                    gpus=_gpus(resource, task=task.name),
                )
            )
        groups.append(
            GroupPlan(name=group.name, upstream=upstream, barrier=group.barrier, ignore_nonlead_status=group.ignoreNonleadStatus, tasks=tasks)
        )
    plan = RunPlan(
        workflow_id=workflow_id,
        name=spec.name,
        exec_timeout=parse_duration(spec.timeout.get("exec_timeout")),
        queue_timeout=parse_duration(spec.timeout.get("queue_timeout"), field="queue_timeout"),
        storage_root=str(storage.root),
        credentials_path=str(credentials_path),
        groups=groups,
    )
    for target, data, mode in staged:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        target.chmod(mode)
    return plan

#!/usr/bin/env python3
"""A faithful double of the ``osmo`` 6.3.1 CLI, for contract tests of the OSMO backend.

It is a standalone script (stdlib only, so it starts fast; only ``workflow submit`` imports jinja2
and PyYAML, lazily, to run OSMO's two renders) that prints the real output shapes of osmo.md §2: payload and error text on stdout, warnings on stderr, the CLI's exit codes (1
submission, 2 usage/4xx, 10 server, 75 rate limited). Tests drive it with a scenario JSON file
named by the ``OSMO_DOUBLE_SCENARIO`` environment variable; :func:`install` writes the scenario and
a tiny ``osmo`` shim that execs this script (so a timeout kills the double itself).

Scenario keys (all optional)::

    stderr_warning   printed on stderr on every call ("WARNING: New client 6.4.0 available ...")
    service_url      base of overview/log URLs (default https://osmo.example.com)
    submit_name      workflow name to use instead of the file's rendered ``workflow.name``
    workflows        {id: {status, pool, groups: [{name, status, tasks: [{name, status, exit_code, lead}]}]}}
    statuses         {id: [state, state, ...]}  successive query states (the last one sticks)
    logs             {id: [[task, line], ...]}
    streaming        [id, ...]  logs of these ids print, then hang like a live stream
    pools            [{name, status, platforms: [..], default_platform, quota_free, total_free, description}]
    credentials      [{cred_name, cred_type, profile}]
    objects          {"s3://bucket/key": "content" | {"file": "/local/path"}, ...}   (binary via "file")
    run_outputs      {"outputs/augmented/x.mp4": content, ...}  written under a submitted run's output
                     prefix the first time a query reports it COMPLETED (what its workers uploaded)
    configs          {KIND: json}
    version          {"client": "6.3.1", "service": "6.3.1"}
    legacy_data_list true -> ``--no-pager`` is an unknown flag
    logged_out       true -> service commands fail like 6.3.1 without a login (exit 2, ``Must login first ...``)
    http_libraries   "urllib3-2.8" -> the CLI runs with urllib3 2.8 / requests 2.34 instead of OSMO's pins:
                     its request line for `pool list` becomes ``GET //api/pool_quota``, which 6.3.1's service
                     answers 404 ``{"detail":"Not Found"}`` (seen against the real control plane)
    responses        {"workflow query": [response, ...]}  consumed one per call, then the built-in answer
    always           {"workflow query": response}          every call

A response is ``{"exit": int, "error": str, "code": int, "stdout": str, "stderr": str, "sleep": float}``:
``error`` prints the CLI's error format (JSON with ``--format-type json``, else the two
``Error message:``/``Error code:`` lines); ``stdout``/``stderr`` are printed raw; ``sleep`` happens
after printing (a hang). Every argv is appended to a JSONL log; mutable state (submissions, call
counters, credentials set, uploads) lives in a JSON state file next to the scenario.
"""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["OsmoDouble", "SubmitRefused", "install", "main", "submit_pipeline"]

_DEFAULT_CODE = {1: 1, 2: 400, 10: 503, 75: 429}
_NOT_STARTED = frozenset({"SUBMITTING", "WAITING", "PROCESSING", "SCHEDULING", "INITIALIZING", "FAILED_UPSTREAM", "FAILED_CANCELED"})
_TASK_ENDED = frozenset({"COMPLETED", "RESCHEDULED"}) | {s for s in ("FAILED", "FAILED_CANCELED", "FAILED_SERVER_ERROR", "FAILED_BACKEND_ERROR",
                                                                   "FAILED_EXEC_TIMEOUT", "FAILED_QUEUE_TIMEOUT", "FAILED_IMAGE_PULL", "FAILED_UPSTREAM",
                                                                   "FAILED_EVICTED", "FAILED_START_ERROR", "FAILED_START_TIMEOUT", "FAILED_PREEMPTED")}
_CONFIG_TYPES = ("BACKEND", "BACKEND_TEST", "DATASET", "GROUP_TEMPLATE", "POD_TEMPLATE", "POOL", "RESOURCE_VALIDATION", "ROLE", "SERVICE", "WORKFLOW")
_NEEDS_SERVICE = frozenset({"workflow", "pool", "credential", "config", "task", "dataset", "profile", "user"})
_RUNTIME = re.compile(r"\{\{\s*(uuid|workflow_id|output|input:[^}]+|host:[^}]+)\s*\}\}")


# --- test-side helper ---------------------------------------------------------------------------------


class OsmoDouble:
    """A scenario on disk plus an ``osmo`` shim that runs this script with it."""

    def __init__(self, root: Path, scenario: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.scenario_path = self.root / "osmo_scenario.json"
        self.log_path = self.root / "osmo_calls.jsonl"
        self.state_path = self.root / "osmo_state.json"
        self.executable = str(self.root / "osmo")
        self.write(scenario or {})
        shim = (
            "#!/bin/sh\n"
            f'OSMO_DOUBLE_SCENARIO="${{OSMO_DOUBLE_SCENARIO:-{self.scenario_path}}}"\n'
            "export OSMO_DOUBLE_SCENARIO\n"
            f'exec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n'
        )
        Path(self.executable).write_text(shim, encoding="utf-8")
        os.chmod(self.executable, 0o755)

    def write(self, scenario: dict[str, Any]) -> None:
        data = {"log": str(self.log_path), "state": str(self.state_path), **scenario}
        self.scenario_path.write_text(json.dumps(data), encoding="utf-8")

    def update(self, **changes: Any) -> None:
        data = json.loads(self.scenario_path.read_text(encoding="utf-8"))
        data.update(changes)
        self.scenario_path.write_text(json.dumps(data), encoding="utf-8")

    def calls(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log_path.read_text(encoding="utf-8").splitlines() if line.strip()]

    def state(self) -> dict[str, Any]:
        return json.loads(self.state_path.read_text(encoding="utf-8")) if self.state_path.exists() else {}


def install(root: Path, scenario: dict[str, Any] | None = None) -> OsmoDouble:
    return OsmoDouble(root, scenario)


# --- the submit pipeline (OSMO 6.3.1: src/cli/workflow.py + the service's templating) ------------------


class SubmitRefused(Exception):
    """What the CLI prints and exits with when the service or the CLI refuses a submit."""

    def __init__(self, message: str, exit_code: int, *, wrapped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
        self.wrapped = wrapped  # raised by the final POST: the CLI prefixes "Workflow submit failed:"


_OSMO_SECTION = re.compile(r"^([a-zA-Z][a-zA-Z0-9_-]*):(.*?)(?=^[a-zA-Z][a-zA-Z0-9_-]*:|\Z)", re.DOTALL | re.MULTILINE)
_OSMO_TOKEN = re.compile(r"{{(uuid|workflow_id|output|input:[^}]+|host:[^}]+)}}")
_OSMO_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
_OSMO_WORKFLOW_KEYS = {"name", "pool", "groups", "tasks", "resources", "timeout", "backend"}


def _server_render(text: str, set_vars: list[str], set_strings: list[str], *, wrapped: bool) -> dict[str, Any]:
    """The service's load_template_with_variables + yaml.safe_load (jinja2/yaml imported lazily:
    only submit needs them)."""
    import hashlib

    import jinja2
    import jinja2.sandbox
    import yaml

    sections: dict[str, str] = {}
    for match in _OSMO_SECTION.finditer(text):
        key = match.group(1)
        if key not in ("workflow", "default-values", "version"):
            raise SubmitRefused(f'Unknown top-level key "{key}" found in the workflow spec.', 2, wrapped=wrapped)
        if key in sections:
            raise SubmitRefused(f'Duplicate top-level key "{key}" found in the workflow spec.', 2, wrapped=wrapped)
        sections[key] = key + ":" + match.group(2)
    if "workflow" not in sections:
        raise SubmitRefused("Workflow spec not found.", 2, wrapped=wrapped)
    data: dict[str, Any] = {}
    if "default-values" in sections:
        data = dict(yaml.safe_load(sections["default-values"])["default-values"] or {})
    for item in set_vars:
        key, value = item.split("=", 1)
        for cast in (int, float, str):
            try:
                data[key] = cast(value)
                break
            except ValueError:
                continue
    for item in set_strings:
        key, value = item.split("=", 1)
        data[key] = value
    body = sections["workflow"]
    for field in _OSMO_TOKEN.findall(body):
        hashed = "hash" + str(int(hashlib.md5(field.strip().encode("utf-8")).hexdigest(), 16))
        data[hashed] = "{{" + field + "}}"
        body = body.replace("{{" + field + "}}", "{{" + hashed + "}}")
    try:
        rendered = jinja2.sandbox.SandboxedEnvironment(undefined=jinja2.StrictUndefined).from_string(body).render(data)
    except jinja2.exceptions.TemplateError as exc:
        raise SubmitRefused(f"Jinja substitution failure: {type(exc)}: {exc}", 1, wrapped=wrapped) from exc
    try:
        loaded = yaml.safe_load(rendered)
    except yaml.YAMLError as exc:
        raise SubmitRefused(f"Workflow spec is not properly formatted: {exc}", 1, wrapped=wrapped) from exc
    if not isinstance(loaded, dict) or not isinstance(loaded.get("workflow"), dict):
        raise SubmitRefused("Workflow spec not found.", 2, wrapped=wrapped)
    return loaded


def _validate_spec(workflow: dict[str, Any]) -> None:
    """The parts of the service's spec model the double enforces: extra keys, names, 64 chars."""
    extra = sorted(set(workflow) - _OSMO_WORKFLOW_KEYS)
    if extra:
        raise SubmitRefused(f"1 validation error for VersionedWorkflowSpec\nworkflow.{extra[0]}\n  Extra inputs are not permitted", 1, wrapped=True)
    names = [workflow.get("name")]
    for group in workflow.get("groups") or []:
        names.append(group.get("name"))
        names += [task.get("name") for task in group.get("tasks") or []]
    names += [task.get("name") for task in workflow.get("tasks") or []]
    for name in names:
        if not isinstance(name, str) or not _OSMO_NAME.match(name):
            raise SubmitRefused(f"1 validation error for VersionedWorkflowSpec\nname\n  String should match pattern '^{_OSMO_NAME.pattern[1:-1]}$'", 1, wrapped=True)
        if len(name) > 64:
            raise SubmitRefused(f"Name {name} is too long. It must be 64 characters or less.", 2, wrapped=False)


def submit_pipeline(path: Path, set_vars: list[str], set_strings: list[str], *, dry_run: bool = False) -> str:
    """``osmo workflow submit``: dry-run render on the service, the CLI's load_local_files (localpath
    -> contents, relative to the workflow file), then the service renders the whole dumped text
    again with the same --set/--set-string values and validates it. Returns the final spec text
    (with ``dry_run``: the dry-run spec, what ``--dry-run`` prints, before any inlining)."""
    import yaml

    text = path.read_text(encoding="utf-8")
    first = _server_render(text, set_vars, set_strings, wrapped=False)
    if dry_run:
        return yaml.dump(first)
    tasks = list(first["workflow"].get("tasks") or [])
    for group in first["workflow"].get("groups") or []:
        tasks += group.get("tasks") or []
    for task in tasks:
        for entry in task.get("files") or []:
            if "localpath" in entry and "contents" in entry:
                raise SubmitRefused("Files tag dont support contents and localpath together", 1)
            if "localpath" in entry:
                local = str(entry["localpath"])
                full = local if local.startswith("/") else os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(path)), local))
                if not os.path.exists(full):
                    raise SubmitRefused(f"The file/path {full} does not exist!", 1)
                entry["contents"] = Path(full).read_text(encoding="utf-8")
                del entry["localpath"]
    final = _server_render(yaml.dump(first), set_vars, set_strings, wrapped=True)
    _validate_spec(final["workflow"])
    return yaml.dump(final)


def spec_groups(final: str) -> list[dict[str, Any]]:
    """Groups of a rendered spec as the service stores them: a bare task becomes ``<task>-group``
    (its lead), a one-task group's task is its lead, and a group waits for every group whose task
    it names in ``inputs: - task:``."""
    import yaml

    workflow = (yaml.safe_load(final) or {}).get("workflow") or {}
    groups = [{"name": g.get("name"), "tasks": list(g.get("tasks") or [])} for g in workflow.get("groups") or []]
    groups += [{"name": f"{t.get('name')}-group", "tasks": [t]} for t in workflow.get("tasks") or []]
    owner = {t.get("name"): g["name"] for g in groups for t in g["tasks"]}
    out = []
    for group in groups:
        upstream = sorted({owner[i["task"]] for t in group["tasks"] for i in t.get("inputs") or []
                           if isinstance(i, dict) and i.get("task") in owner and owner[i["task"]] != group["name"]})
        lone = len(group["tasks"]) == 1
        out.append({"name": group["name"], "upstream": upstream,
                    "tasks": [{"name": t.get("name"), "lead": lone or bool(t.get("lead"))} for t in group["tasks"]]})
    return out


# --- the double -----------------------------------------------------------------------------------


class _Exit(Exception):
    def __init__(self, code: int) -> None:
        self.code = code


class _Double:
    def __init__(self, scenario_path: Path, argv: list[str]) -> None:
        self.scenario = json.loads(scenario_path.read_text(encoding="utf-8"))
        self.state_path = Path(self.scenario.get("state") or scenario_path.with_suffix(".state.json"))
        self.log_path = Path(self.scenario.get("log") or scenario_path.with_suffix(".calls.jsonl"))
        self.state: dict[str, Any] = json.loads(self.state_path.read_text(encoding="utf-8")) if self.state_path.exists() else {}
        self.argv = argv
        self.url = self.scenario.get("service_url", "https://osmo.example.com")
        self.json_mode = False

    # output helpers
    def out(self, text: str) -> None:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
        sys.stdout.flush()

    def err(self, text: str) -> None:
        sys.stderr.write(text if text.endswith("\n") else text + "\n")
        sys.stderr.flush()

    def fail(self, message: str, exit_code: int, code: int | None = None, prefix: str = "") -> None:
        code = code if code is not None else _DEFAULT_CODE.get(exit_code, exit_code)
        if self.json_mode:
            self.out(json.dumps({"message": message, "code": code}, indent=2))
        else:
            self.out(f"{prefix}Error message: {message}\nError code: {code}")
        raise _Exit(exit_code)

    def not_found(self, message: str) -> None:
        """6.3.1 answers unknown ids with a 400 and the CLI adds the status line on stderr."""
        self.err("Server responded with status code 400")
        self.fail(message, 2, 400)

    def usage_error(self, message: str) -> None:
        self.err(f"usage: osmo [-h] [--log-level LOG_LEVEL] MODULE ...\nosmo: error: {message}")
        raise _Exit(2)

    def save(self) -> None:
        self.state_path.write_text(json.dumps(self.state), encoding="utf-8")

    # scripted responses
    def scripted(self, key: str) -> dict[str, Any] | None:
        counters = self.state.setdefault("calls", {})
        index = counters.get(key, 0)
        counters[key] = index + 1
        self.save()
        queue = (self.scenario.get("responses") or {}).get(key) or []
        if index < len(queue):
            return queue[index]
        return (self.scenario.get("always") or {}).get(key)

    def play(self, response: dict[str, Any]) -> int:
        if response.get("stdout"):
            self.out(response["stdout"])
        if response.get("stderr"):
            self.err(response["stderr"])
        exit_code = int(response.get("exit", 1 if response.get("error") else 0))
        if response.get("error"):
            try:
                self.fail(response["error"], exit_code, response.get("code"))
            except _Exit:
                pass
        if response.get("sleep"):
            time.sleep(float(response["sleep"]))
        return exit_code

    # argument helpers
    @staticmethod
    def options(args: list[str], spec: dict[str, str]) -> tuple[list[str], dict[str, Any]]:
        """Tiny argparse: spec maps flag -> 'one' | 'many' (nargs='+', store: last wins) | 'flag'."""
        positional: list[str] = []
        found: dict[str, Any] = {}
        i = 0
        while i < len(args):
            token = args[i]
            name = token.split("=", 1)[0]
            if name in spec:
                kind = spec[name]
                if kind == "flag":
                    found[name] = True
                    i += 1
                elif "=" in token and kind == "one":
                    found[name] = token.split("=", 1)[1]
                    i += 1
                elif kind == "one":
                    if i + 1 >= len(args):
                        raise ValueError(f"argument {name}: expected one argument")
                    found[name] = args[i + 1]
                    i += 2
                else:
                    values = []
                    i += 1
                    while i < len(args) and not (args[i].startswith("-") and len(args[i]) > 1):
                        values.append(args[i])
                        i += 1
                    if not values:
                        raise ValueError(f"argument {name}: expected at least one argument")
                    found[name] = values
            elif token.startswith("-") and len(token) > 1:
                raise ValueError(f"unrecognized arguments: {token}")
            else:
                positional.append(token)
                i += 1
        return positional, found

    def parse(self, args: list[str], spec: dict[str, str], aliases: dict[str, str] | None = None) -> tuple[list[str], dict[str, Any]]:
        aliases = aliases or {}
        args = [aliases.get(a, a) for a in args]
        try:
            positional, found = self.options(args, spec)
        except ValueError as exc:
            self.usage_error(str(exc))
        fmt = found.get("--format-type")
        if fmt not in (None, "json", "text"):
            self.usage_error(f"argument --format-type/-t: invalid choice: '{fmt}'")
        self.json_mode = fmt == "json" or self.json_mode
        return positional, found

    # --- dispatch ----------------------------------------------------------------------------
    def run(self) -> int:
        with self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({"argv": self.argv}) + "\n")
        if self.scenario.get("stderr_warning"):
            self.err(self.scenario["stderr_warning"])
        args = list(self.argv)
        if args[:1] == ["--log-level"]:
            args = args[2:]
        if not args:
            self.usage_error("the following arguments are required: MODULE")
        module, rest = args[0], args[1:]
        if module == "credential":
            parent, rest = self.credential_parent(rest)
            self.json_mode = parent == "json"
        if self.scenario.get("logged_out") and module in _NEEDS_SERVICE:
            # 6.3.1: LoginManager raises OSMOUserError (no status code) when login.yaml is absent
            self.json_mode = self.json_mode or any(a == "json" and b in ("--format-type", "-t") for b, a in zip(rest, rest[1:]))
            self.fail('Must login first with "login" command', 2, 1)
        words = [w for w in rest if not w.startswith("-")][:1]
        key = f"{module} {words[0]}" if words and module != "version" else module
        response = self.scripted(key)
        if response is not None:
            return self.play(response)
        handler = getattr(self, "cmd_" + key.replace(" ", "_"), None)
        if handler is None:
            self.usage_error(f"argument: invalid choice: '{key}'")
        sub = rest[1:] if module != "version" else rest
        return handler(sub) or 0

    def credential_parent(self, rest: list[str]) -> tuple[str | None, list[str]]:
        fmt = None
        while rest and rest[0] in ("--format-type", "-t"):
            if len(rest) < 2:
                self.usage_error("argument --format-type/-t: expected one argument")
            fmt, rest = rest[1], rest[2:]
        return fmt, rest

    # --- workflow ----------------------------------------------------------------------------
    def cmd_workflow_submit(self, args: list[str]) -> int:
        spec = {"--pool": "one", "--format-type": "one", "--set": "many", "--set-string": "many", "--set-env": "many",
                "--dry-run": "flag", "--priority": "one", "--rsync": "one"}
        positional, found = self.parse(args, spec, {"-p": "--pool", "-t": "--format-type"})
        if len(positional) != 1:
            self.usage_error("the following arguments are required: workflow_file")
        path = Path(positional[0])
        if not path.is_file():
            self.fail(f"File {positional[0]} not found.", 2)
        text = path.read_text(encoding="utf-8")
        values: dict[str, str] = {}
        for item in (found.get("--set") or []) + (found.get("--set-string") or []):
            if "=" not in item:
                self.fail(f"Data {item} is incorrectly formatted", 1)
            k, v = item.split("=", 1)
            values[k] = v
        try:
            final = submit_pipeline(path, found.get("--set") or [], found.get("--set-string") or [], dry_run=bool(found.get("--dry-run")))
        except SubmitRefused as refused:
            self.fail(refused.message, refused.exit_code, 400, prefix="Workflow submit failed:\n" if refused.wrapped else "")
        if found.get("--dry-run"):
            self.out(final)
            return 0
        name = self.scenario.get("submit_name") or self.rendered_name(text, values)
        counters = self.state.setdefault("names", {})
        counters[name] = counters.get(name, 0) + 1
        wid = f"{name}-{counters[name]}"
        self.state.setdefault("submitted", []).append({"id": wid, "pool": found.get("--pool"), "values": values,
                                                       "groups": spec_groups(final)})
        self.save()
        if self.json_mode:
            self.out(json.dumps({"name": wid, "overview": f"{self.url}/workflows/{wid}", "logs": f"{self.url}/api/workflow/{wid}/logs",
                                 "spec": None, "dashboard_url": None}, indent=4))
        else:
            self.out(f"Workflow submit successful.\nWorkflow ID        - {wid}\nWorkflow Overview  - {self.url}/workflows/{wid}\n")
        return 0

    def rendered_name(self, text: str, values: dict[str, str]) -> str:
        found = re.search(r"^\s+name:\s*['\"]?([^'\"\n]+?)['\"]?\s*$", text, re.MULTILINE)
        if not found:
            self.fail("Workflow spec not found.", 1, prefix="Workflow submit failed:\n")
        raw = found.group(1)
        defaults = {}
        block = re.search(r"^default-values:\s*\n((?:[ \t]+.*\n?)*)", text, re.MULTILINE)
        if block:
            for line in block.group(1).splitlines():
                m = re.match(r"\s+([A-Za-z_][\w]*):\s*['\"]?([^'\"#]*?)['\"]?\s*(#.*)?$", line)
                if m:
                    defaults[m.group(1)] = m.group(2)
        merged = {**defaults, **values}

        def sub(match: re.Match[str]) -> str:
            var = match.group(1).strip()
            if var not in merged:
                self.fail(f"Jinja Template Error: '{var}' is undefined", 1, prefix="Workflow submit failed:\n")
            return merged[var]

        return re.sub(r"\{\{\s*([A-Za-z_]\w*)\s*\}\}", sub, raw)

    def workflow(self, wid: str) -> dict[str, Any] | None:
        known = (self.scenario.get("workflows") or {}).get(wid)
        if known is not None:
            return dict(known)
        for item in self.state.get("submitted", []):
            if item["id"] == wid:
                return {"status": "PENDING", "pool": item.get("pool"), "spec_groups": item.get("groups") or []}
        return None

    @staticmethod
    def groups_at(spec: list[dict[str, Any]], status: str) -> list[dict[str, Any]]:
        """A submitted workflow's groups at a workflow status (6.3.1 as observed): PENDING has its
        first groups PROCESSING and the rest WAITING; RUNNING runs the first groups; COMPLETED
        completes all (exit 0); a failure fails the first groups (exit 1, no message: the group's is
        empty) and the rest FAILED_UPSTREAM (exit 3000, "Upstream task failed.")."""
        out = []
        for group in spec:
            first = not group["upstream"]
            message = None
            if status == "COMPLETED":
                state, code = "COMPLETED", 0
            elif status.startswith("FAILED"):
                state, code, message = ("FAILED", 1, None) if first else ("FAILED_UPSTREAM", 3000, "Upstream task failed.")
            else:
                state, code = ({"PENDING": "PROCESSING", "RUNNING": "RUNNING"}.get(status, "PROCESSING") if first else "WAITING"), None
            entry = {"name": group["name"], "status": state, "upstream": group["upstream"],
                     "tasks": [{"name": t["name"], "lead": t["lead"], "status": state, "exit_code": code, "failure_message": message}
                               for t in group["tasks"]]}
            if state == "FAILED":
                entry["failure_message"] = ""
            out.append(entry)
        return out

    def task_names(self, wf: dict[str, Any]) -> set[str]:
        groups = wf.get("groups") or wf.get("spec_groups") or []
        return {t["name"] for g in groups for t in g.get("tasks") or []}

    def cmd_workflow_query(self, args: list[str]) -> int:
        positional, _ = self.parse(args, {"--format-type": "one", "--verbose": "flag"}, {"-t": "--format-type", "-v": "--verbose"})
        if len(positional) != 1:
            self.usage_error("the following arguments are required: workflow_id")
        wid = positional[0]
        wf = self.workflow(wid)
        if wf is None:
            self.not_found(f"Workflow {wid} is not found.")
        sequence = (self.scenario.get("statuses") or {}).get(wid)
        if sequence:
            seen = self.state.setdefault("queries", {})
            n = seen.get(wid, 0)
            seen[wid] = n + 1
            self.save()
            wf["status"] = sequence[min(n, len(sequence) - 1)]
        if "spec_groups" in wf:
            wf["groups"] = self.groups_at(wf.pop("spec_groups"), wf.get("status", "PENDING"))
        if wid in self.state.get("canceled", []):
            wf["status"] = "FAILED_CANCELED"
            for group in wf.get("groups") or []:  # 6.3.1: every unfinished task is canceled with the workflow
                if group.get("status") != "COMPLETED":
                    group["status"] = "FAILED_CANCELED"
                    for task in group.get("tasks") or []:
                        task.update(status="FAILED_CANCELED", exit_code=None, failure_message="Task was canceled by user: tester.",
                                    started=task.get("status", "WAITING") not in _NOT_STARTED)
        if wf.get("status") == "COMPLETED":
            self.write_run_outputs(wid)
        body = self.query_json(wid, wf)
        if self.json_mode:
            self.out(json.dumps(body, indent=2))
        else:
            lines = ["-" * 60, f"Workflow ID : {wid}", f"Status : {body['status']}", "User : tester",
                     f"Submit Time : {body['submit_time']}", f"Overview : {body['overview']}", "",
                     "Task Name    Start Time    Status", "=" * 40]
            lines += [f"{t['name']}    -    {t['status']}" for g in body["groups"] for t in g["tasks"]]
            self.out("\n".join(lines))
        return 0

    def query_json(self, wid: str, wf: dict[str, Any]) -> dict[str, Any]:
        """The service's query JSON. Times, pod fields and links are set or null the way 6.3.1 sets
        them for each status (a scenario may give start/end times); Kubernetes-only phases
        (scheduling, initializing) are stamped once a task has run."""
        base = f"{self.url}/api/workflow/{wid}"
        stamp = "2026-06-01T10:00:05.123456"
        status = wf.get("status", "PENDING")
        statuses = {g["name"]: g.get("status", "WAITING") for g in wf.get("groups") or []}
        groups = []
        for g in wf.get("groups") or []:
            tasks = []
            for t in g.get("tasks") or []:
                state = t.get("status", "WAITING")
                ran = t.get("started", state not in _NOT_STARTED)
                ended = state in _TASK_ENDED
                tasks.append({
                    "name": t["name"], "retry_id": t.get("retry_id", 0), "status": state,
                    "failure_message": t.get("failure_message"), "exit_code": t.get("exit_code"),
                    "logs": f"{base}/logs?last_n_lines=1000&task_name={t['name']}&retry_id=0",
                    "error_logs": f"{base}/error_logs?task_name={t['name']}&retry_id=0" if state == "FAILED" else None,
                    "processing_start_time": "2026-06-01T10:00:00.5" if ran or state == "PROCESSING" else None,
                    "scheduling_start_time": "2026-06-01T10:00:01" if ran else None, "initializing_start_time": None,
                    "events": f"{base}/events?task_name={t['name']}&retry_id=0",
                    "start_time": t.get("start_time", stamp if ran else None),
                    "end_time": t.get("end_time", "2026-06-01T10:05:00.5" if ended else None),
                    "input_download_start_time": None, "input_download_end_time": None, "output_upload_start_time": None,
                    "dashboard_url": None, "pod_name": f"{'f' * 16}-{'0' * 16}", "pod_ip": "10.0.0.7" if ran else None,
                    "task_uuid": "0" * 32, "node_name": "node-a" if ran else None, "lead": t.get("lead", False),
                })
            state = g.get("status", "WAITING")
            ran = any(task["start_time"] for task in tasks)
            failed = next((task["failure_message"] for task in tasks if task["failure_message"]), None)
            groups.append({
                "name": g["name"], "status": state, "start_time": g.get("start_time", stamp if ran else None),
                "end_time": g.get("end_time", "2026-06-01T10:05:00.5" if state in _TASK_ENDED else None),
                "processing_start_time": "2026-06-01T10:00:00.5" if state != "WAITING" and (ran or state == "PROCESSING") else None,
                "scheduling_start_time": None, "initializing_start_time": None,
                "remaining_upstream_groups": [u for u in g.get("upstream") or [] if statuses.get(u) != "COMPLETED"],
                "downstream_groups": [d["name"] for d in wf.get("groups") or [] if g["name"] in (d.get("upstream") or [])],
                "failure_message": g.get("failure_message", failed), "tasks": tasks,
            })
        started = any(g["start_time"] for g in groups) or (not groups and status != "PENDING")
        return {
            "name": wid, "uuid": "f" * 32, "submitted_by": "tester",
            "cancelled_by": "tester" if wid in self.state.get("canceled", []) else None,
            "spec": f"{base}/spec", "template_spec": f"{base}/spec?use_template=true", "logs": f"{base}/logs?last_n_lines=1000",
            "events": f"{base}/events", "overview": f"{self.url}/workflows/{wid}", "parent_name": None, "parent_job_id": None,
            "dashboard_url": None, "grafana_url": None, "tags": [], "submit_time": wf.get("submit_time", "2026-06-01T09:59:58.12"),
            "start_time": wf.get("start_time", stamp if started else None),
            "end_time": wf.get("end_time", "2026-06-01T10:05:00.5" if status not in ("PENDING", "RUNNING", "WAITING") else None),
            "exec_timeout": 86400.0, "queue_timeout": 7200.0, "duration": wf.get("duration", 295.0 if started else None), "queued_time": 3.5, "status": status, "outputs": "",
            "groups": groups, "pool": wf.get("pool", "default"), "backend": "default", "app_owner": None, "app_name": None,
            "app_version": None, "plugins": {"rsync": False}, "priority": "NORMAL",
        }

    def write_run_outputs(self, wid: str) -> None:
        """What the workers would have uploaded: ``run_outputs`` ({path: content}) lands under the
        submitted run's ``<storage_url>/datasets/<dataset>-outputs/<run_id>/``, once."""
        outputs = self.scenario.get("run_outputs") or {}
        item = next((i for i in self.state.get("submitted", []) if i["id"] == wid), None)
        done = self.state.setdefault("outputs_written", [])
        if not outputs or item is None or wid in done:
            return
        values = item.get("values") or {}
        base = f"{values['storage_url'].rstrip('/')}/datasets/{values['dataset']}-outputs/{values['run_id']}"
        objects = self.objects()
        for rel, content in outputs.items():
            objects[f"{base}/{rel}"] = content
        self.state["objects"] = objects
        done.append(wid)
        self.save()

    def cmd_workflow_logs(self, args: list[str]) -> int:
        spec = {"--task": "one", "--retry-id": "one", "--error": "flag", "-n": "one"}
        positional, found = self.parse(args, spec, {"-t": "--task", "-r": "--retry-id"})
        if len(positional) != 1:
            self.usage_error("the following arguments are required: workflow_id")
        wid = positional[0]
        wf = self.workflow(wid)
        if wf is None:
            self.not_found(f"Workflow {wid} is not found.")
        task_filter = found.get("--task")
        known = self.task_names(wf) | {t for t, _ in (self.scenario.get("logs") or {}).get(wid, [])}
        if task_filter is not None and known and task_filter not in known:
            self.not_found(f"Task {task_filter} of workflow {wid} is not found.")
        lines = [(t, line) for t, line in (self.scenario.get("logs") or {}).get(wid, []) if task_filter in (None, t)]
        printed = [f"2026/06/01 10:{i // 60:02d}:{i % 60:02d} [{task}] {line}" for i, (task, line) in enumerate(lines)]
        if task_filter is None and self.final_status(wid, wf).startswith("FAILED"):
            # the worker's cleanup appends this block to a failed workflow's log (src/utils/job/jobs.py)
            rule = "-" * 100
            printed += ["", rule, "Workflow terminated abnormally, view task status at:", f"{self.url}/workflows/{wid}", "",
                        "View task error logs at:", f"{self.url}/api/workflow/{wid}/error_logs", rule, ""]
        if "-n" in found:  # the settled log (moved to storage) is tailed by lines
            printed = printed[-int(found["-n"]):]
        entries = printed
        self.out(f"Workflow {wid} has {'error ' if found.get('--error') else ''}logs:")
        for entry in entries:
            self.out(entry)
        if wid in (self.scenario.get("streaming") or []):
            time.sleep(3600)
        return 0

    def final_status(self, wid: str, wf: dict[str, Any]) -> str:
        """The status the last query showed (without counting a query), canceled included."""
        if wid in self.state.get("canceled", []):
            return "FAILED_CANCELED"
        sequence = (self.scenario.get("statuses") or {}).get(wid)
        if sequence:
            seen = (self.state.get("queries") or {}).get(wid, 0)
            return sequence[max(0, min(seen, len(sequence)) - 1)]
        return str(wf.get("status", "PENDING"))

    def cmd_workflow_cancel(self, args: list[str]) -> int:
        positional, _ = self.parse(args, {"--format-type": "one", "--message": "one", "--force": "flag"},
                                   {"-t": "--format-type", "-m": "--message"})
        if not positional:
            self.usage_error("the following arguments are required: workflow_ids")
        for wid in positional:
            wf = self.workflow(wid)
            # 6.3.1 prints a per-id failure on stdout (the 400 on stderr) and still exits 0
            if wf is None:
                reason = f"Workflow {wid} is not found."
            elif self.final_status(wid, wf) not in ("PENDING", "RUNNING", "WAITING"):
                reason = f"Workflow {wid} is already finished."
            else:
                reason = ""
            if reason:
                self.out(f"Workflow cancelation failed for workflow {wid}: {reason}")
                self.err("Server responded with status code 400")
                continue
            self.state.setdefault("canceled", []).append(wid)
            self.save()
            self.out(json.dumps({"name": wid}, indent=4) if self.json_mode else f"Cancel job for workflow {wid} is submitted!")
        return 0

    # --- pools, credentials, config, version ------------------------------------------------------
    def cmd_pool_list(self, args: list[str]) -> int:
        self.parse(args, {"--format-type": "one", "--mode": "one", "--pool": "many"}, {"-t": "--format-type", "-m": "--mode", "-p": "--pool"})
        if self.scenario.get("http_libraries") == "urllib3-2.8":
            # handle_response: logs the status on stderr, then OSMOUserError(response.text, 404)
            self.err("Server responded with status code 404")
            self.fail('{"detail":"Not Found"}', 2, 404)
        pools = []
        for p in self.scenario.get("pools") or []:
            qf, tf = str(p.get("quota_free", "0")), str(p.get("total_free", "0"))
            pools.append({
                "name": p["name"], "description": p.get("description", ""), "status": p.get("status", "ONLINE"),
                "download_type": p.get("download_type"), "enable_maintenance": False, "backend": "default",
                "default_platform": p.get("default_platform"), "default_exec_timeout": "24h", "default_queue_timeout": "2h",
                "max_exec_timeout": "72h", "max_queue_timeout": "24h", "default_exit_actions": {},
                "resources": {"gpu": {"guarantee": 0, "maximum": 8, "weight": 1}}, "topology_keys": [],
                "platforms": {name: {"description": "", "host_network_allowed": False, "privileged_allowed": False,
                                     "allowed_mounts": [], "default_mounts": []} for name in p.get("platforms", [])},
                "resource_usage": {"quota_used": "0", "quota_free": qf, "quota_limit": "8", "total_usage": "0",
                                   "total_capacity": "8", "total_free": tf},
            })
        if self.json_mode:
            body = {"node_sets": [{"pools": pools}], "resource_sum": {"quota_used": "0", "quota_free": "0", "quota_limit": "0",
                                                                    "total_usage": "0", "total_capacity": "0", "total_free": "0"}}
            self.out(json.dumps(body, indent=4))
        else:
            rows = ["Pool      Description   Status   GPU [#] Quota Free   Total Free", "=" * 64]
            rows += [f"{p['name']}   {p['description']}   {p['status']}   {p['resource_usage']['quota_free']}   {p['resource_usage']['total_free']}" for p in pools]
            self.out("\n".join(rows))
        return 0

    def credentials(self) -> list[dict[str, Any]]:
        stored = self.state.get("credentials")
        return stored if stored is not None else list(self.scenario.get("credentials") or [])

    def cmd_credential_list(self, args: list[str]) -> int:
        if args:
            self.usage_error(f"unrecognized arguments: {' '.join(args)}")
        creds = self.credentials()  # 6.3.1 lists them in the order they were stored
        if self.json_mode:
            self.out(json.dumps({"credentials": creds}, indent=2))
        else:
            rows = ["Name        Type        Profile        Local", "=" * 48]
            rows += [f"{c['cred_name']}   {c['cred_type']}   {c.get('profile') or '-'}   N/A" for c in creds]
            self.out("\n".join(rows))
        return 0

    def cmd_credential_set(self, args: list[str]) -> int:
        positional, found = self.parse(args, {"--type": "one", "--payload": "many", "--payload-file": "many"})
        if len(positional) != 1:
            self.usage_error("the following arguments are required: name")
        name, kind = positional[0], found.get("--type", "GENERIC")
        if not re.match(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$", name):
            self.fail(f"Credential name {name} is invalid.", 2)
        if bool(found.get("--payload")) == bool(found.get("--payload-file")):
            # 6.3.1: a required mutually exclusive group
            if found.get("--payload"):
                self.usage_error("argument --payload-file: not allowed with argument --payload")
            self.usage_error("one of the arguments --payload --payload-file is required")
        payload = {}
        for item in found.get("--payload") or found.get("--payload-file"):
            if "=" not in item:
                self.out("Error: Invalid payload format. Please use key=value pairs.")
                raise _Exit(1)
            key, _, value = item.partition("=")
            if not key or not value:
                self.out("Error: Please provide non-empty keys and values.")
                raise _Exit(1)
            if found.get("--payload-file"):
                try:
                    value = Path(value).read_text(encoding="utf-8")
                except FileNotFoundError:
                    self.out(f"File {value} cannot be found.")
                    raise _Exit(1) from None
                self.state.setdefault("payload_file_modes", []).append(oct(Path(item.partition("=")[2]).stat().st_mode & 0o777))
            payload[key] = value
        if kind == "REGISTRY" and "auth" not in payload and "password" not in payload:
            self.fail("REGISTRY credentials need auth.", 2)
        profile = payload.get("registry") if kind == "REGISTRY" else payload.get("endpoint") if kind == "DATA" else None
        # 6.3.1: INSERT ... ON CONFLICT (user_name, profile) DO UPDATE, primary key (user_name, cred_name):
        # a credential with the same profile is updated (renamed to this name); otherwise an existing
        # name (a GENERIC one always: its profile is NULL) fails on the primary key, exit 2
        creds = list(self.credentials())
        same_profile = next((i for i, c in enumerate(creds) if profile is not None and c.get("profile") == profile), None)
        if same_profile is not None:
            creds[same_profile] = {"cred_name": name, "cred_type": kind, "profile": profile}
        elif any(c["cred_name"] == name for c in creds):
            self.fail('duplicate key value violates unique constraint "credential_pkey"', 2, 400)
        else:
            creds.append({"cred_name": name, "cred_type": kind, "profile": profile})
        self.state["credentials"] = creds
        self.state.setdefault("credential_sets", []).append({"name": name, "type": kind, "keys": sorted(payload)})
        self.save()
        self.out("null" if self.json_mode else f"Set {kind} credential {name}.")
        return 0

    def cmd_credential_delete(self, args: list[str]) -> int:
        positional, _ = self.parse(args, {})
        if len(positional) != 1:
            self.usage_error("the following arguments are required: name")
        creds = self.credentials()
        if not any(c["cred_name"] == positional[0] for c in creds):
            self.not_found(f"Credential {positional[0]} is not found.")
        self.state["credentials"] = [c for c in creds if c["cred_name"] != positional[0]]
        self.save()
        self.out(f"Deleted credential {positional[0]}.")
        return 0

    def cmd_config_show(self, args: list[str]) -> int:
        positional, _ = self.parse(args, {"--verbose": "flag"}, {"-v": "--verbose"})
        if not positional:
            self.usage_error("the following arguments are required: config_type")
        kind = positional[0].split(":", 1)[0]
        configs = self.scenario.get("configs") or {}
        if kind not in _CONFIG_TYPES:
            self.fail(f'Invalid config type "{kind}". Available types: {", ".join(_CONFIG_TYPES)}', 2, 1)
        if kind not in configs:
            self.fail(f"Config {kind} not found.", 2, 404)
        self.out(json.dumps(configs[kind], indent=2))
        return 0

    def cmd_version(self, args: list[str]) -> int:
        self.parse(args, {"--format-type": "one"}, {"-t": "--format-type"})
        ver = self.scenario.get("version") or {"client": "6.3.1", "service": "6.3.1"}

        def parts(v: str) -> dict[str, str]:
            major, minor, revision = (v.split(".") + ["0", "0"])[:3]
            return {"major": major, "minor": minor, "revision": revision, "hash": "abc1234"}

        service = None if self.scenario.get("logged_out") else ver["service"]  # 6.3.1 omits what it cannot ask
        if self.json_mode:
            body = {"client": parts(ver["client"]), **({"service": parts(service)} if service else {})}
            self.out(json.dumps(body, indent=4))
        else:
            self.out(f"OSMO client version:  {ver['client']}" + (f"\nOSMO service version: {service}" if service else ""))
        return 0

    # --- data ------------------------------------------------------------------------------------
    def objects(self) -> dict[str, str]:
        stored = self.state.get("objects")
        return stored if stored is not None else dict(self.scenario.get("objects") or {})

    @staticmethod
    def bucket_root(url: str) -> str:
        scheme, _, rest = url.partition("://")
        depth = {"s3": 1, "gs": 1, "azure": 2, "tos": 2, "swift": 3}.get(scheme, 1)
        return f"{scheme}://" + "/".join(rest.split("/")[:depth]) + "/"

    def under(self, url: str) -> dict[str, str]:
        prefix = url.rstrip("/") + "/"
        return {k: v for k, v in self.objects().items() if k.startswith(prefix) or k == url}

    def cmd_data_list(self, args: list[str]) -> int:
        if self.scenario.get("legacy_data_list") and "--no-pager" in args:
            self.usage_error("unknown flag: --no-pager")
        positional, found = self.parse(args, {"--no-pager": "flag", "--prefix": "one", "--recursive": "flag", "--regex": "one"},
                                   {"-p": "--prefix", "-r": "--recursive", "-x": "--regex"})
        if len(positional) != 1:
            self.usage_error("the following arguments are required: remote_uri")
        url = positional[0]
        if "://" not in url:
            self.err("usage: osmo data list [-h] [--regex REGEX] [--prefix PREFIX] [--recursive]\n"
                     "                      [--no-pager]\n                      remote_uri [local_path]")
            self.err(f"osmo data list: error: argument remote_uri: Invalid storage path: {url}")
            raise _Exit(2)
        root = self.bucket_root(url)
        keys = self.listing(url, root, recursive=bool(found.get("--recursive")))
        if not keys:
            self.err(f"No entries found for prefix: {url[len(root):].rstrip('/')}/")
        for key in keys:
            self.out(key)
        self.out(f"\nTotal {len(keys)} objects found")
        return 0

    def listing(self, url: str, root: str, *, recursive: bool) -> list[str]:
        """Bucket-relative keys as 6.3.1 prints them (S3 ``list_objects_v2``): a URL naming an
        object lists just it; otherwise everything under ``url/`` when recursive, else one level,
        with each sub-folder as one ``prefix/`` line (CommonPrefixes, printed before the objects)."""
        objects = self.objects()
        if not url.endswith("/") and url in objects:
            return [url[len(root):]]
        prefix = url if url.endswith("/") else url + "/"
        below = sorted(k[len(root):] for k in objects if k.startswith(prefix) and not k.endswith("/"))
        if recursive:
            return below
        base = prefix[len(root):]
        folders = sorted({base + k[len(base):].split("/", 1)[0] + "/" for k in below if "/" in k[len(base):]})
        return folders + [k for k in below if "/" not in k[len(base):]]

    def cmd_data_download(self, args: list[str]) -> int:
        positional, _ = self.parse(args, {"--regex": "one", "--resume": "flag", "--processes": "one", "--threads": "one"},
                                   {"-x": "--regex", "-r": "--resume", "-p": "--processes", "-T": "--threads"})
        if len(positional) != 2:
            self.usage_error("the following arguments are required: remote_uri, local_path")
        url, dest = positional
        if not Path(dest).is_dir() and not Path(dest).is_file():
            # 6.3.1's argparse type (validation.valid_path) raises OSMOUserError: a traceback, exit 1
            self.err(f"src.lib.utils.osmo_errors.OSMOUserError: {os.path.abspath(dest)} is not a valid path")
            raise _Exit(1)
        found_objects = self.under(url)
        if not found_objects:
            self.err(f"No entries found for prefix: {url[len(self.bucket_root(url)):]}")
        for key, content in found_objects.items():
            rel = Path(key).name if key == url else key[len(url.rstrip("/")) + 1:]
            target = Path(dest) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, dict):  # {"file": path}: bytes kept on disk (videos)
                target.write_bytes(Path(content["file"]).read_bytes())
            else:
                target.write_text(content, encoding="utf-8")
        self.err("Data has been downloaded")
        return 0

    def stored(self, path: Path) -> Any:
        """Text files are kept inline; anything else (a video) as a copy next to the state file."""
        data = path.read_bytes()
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            blobs = self.state_path.parent / "osmo_blobs"
            blobs.mkdir(exist_ok=True)
            copy = blobs / f"{len(list(blobs.iterdir()))}_{path.name}"
            copy.write_bytes(data)
            return {"file": str(copy)}

    def cmd_data_upload(self, args: list[str]) -> int:
        positional, _ = self.parse(args, {"--regex": "one"}, {"-x": "--regex"})
        if len(positional) < 2:
            self.usage_error("the following arguments are required: remote_uri, local_path")
        url, paths = positional[0].rstrip("/"), positional[1:]
        objects = self.objects()
        skipped = []
        for raw in paths:
            path = Path(raw)
            if path.is_dir():
                for child in sorted(p for p in path.rglob("*") if p.is_file()):
                    objects[f"{url}/{path.name}/{child.relative_to(path).as_posix()}"] = self.stored(child)
            elif path.is_file():
                objects[f"{url}/{path.name}"] = self.stored(path)
            else:
                skipped.append(raw)
        self.state["objects"] = objects
        self.save()
        self.err("Data has been uploaded")
        if skipped:  # 6.3.1 reports unreadable paths on stderr and still exits 0
            self.err("Upload Failed on files:")
            for raw in skipped:
                self.err(f"{raw}: cannot be accessed by OSMO, skipping: [Errno 2] No such file or directory: '{raw}'")
        return 0


def main(argv: list[str] | None = None) -> int:
    scenario = os.environ.get("OSMO_DOUBLE_SCENARIO")
    if not scenario:
        sys.stderr.write("osmo double: OSMO_DOUBLE_SCENARIO is not set\n")
        return 2
    double = _Double(Path(scenario), list(sys.argv[1:] if argv is None else argv))
    try:
        return double.run()
    except _Exit as done:
        return done.code


if __name__ == "__main__":
    sys.exit(main())

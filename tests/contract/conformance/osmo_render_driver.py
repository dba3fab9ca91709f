"""Run workflows through OSMO 6.3.1's own submit pipeline. Runs in OSMO's interpreter (python3.12).

    VDA_OSMO_PYTHON osmo_render_driver.py <osmo checkout>  < cases.json  > results.json

stdin: a JSON list of ``{"workflow": path, "set": [...], "set_string": [...]}``. For each case, the
upstream code does what ``osmo workflow submit`` does, with only the database stubbed (it serves
the default workflow configuration):

1. the service's dry run: ``TemplateSpec.load_template_with_variables`` (sections, default-values,
   --set/--set-string, runtime-token hashing, the sandboxed Jinja render), ``yaml.safe_load``,
   ``yaml.dump``;
2. the CLI: ``yaml.safe_load`` of that spec, ``load_local_files`` (localpath -> contents),
   ``yaml.dump``;
3. the service's real submit: the same ``load_template_with_variables`` on the whole dumped text,
   ``VersionedWorkflowSpec`` (the spec model: extra keys, tasks/groups, leads, names, inputs),
   ``validate_name_and_inputs`` (names of at most ``max_name_length``) and each task's
   ``TaskSpec.parse`` (runtime tokens: ``{{output}}``, ``{{input:N}}``, ``{{host:x}}``).

stdout: one ``{"ok": true, "name": ..., "tasks": N, "inlined": N}`` or ``{"ok": false, "stage":
..., "error": ...}`` per case. Stdlib only on our side; nothing here reaches a network or a database.
"""

from __future__ import annotations

import json
import re
import sys

_LEFT = re.compile(r"\{\{\s*(output|workflow_id|input:[^}]*|host:[^}]*)\s*\}\}")


def _stub_database(connectors) -> None:
    config = connectors.WorkflowConfig()

    class _Stub:
        def get_workflow_configs(self):
            return config

    connectors.PostgresConnector.get_instance = staticmethod(lambda *a, **k: _Stub())


def run_case(case: dict, modules: dict) -> dict:
    yaml, workflow, cli_workflow = modules["yaml"], modules["workflow"], modules["cli_workflow"]
    stage = "read"
    try:
        with open(case["workflow"], encoding="utf-8") as handle:
            text = handle.read()
        sets, strings = list(case.get("set") or []), list(case.get("set_string") or [])
        stage = "dry-run render"
        first = yaml.safe_load(workflow.TemplateSpec(file=text, set_variables=sets, set_string_variables=strings).load_template_with_variables())
        dry_spec = yaml.dump(first)
        stage = "load_local_files"
        updated = yaml.safe_load(dry_spec)
        before = sum(1 for _ in re.finditer(r"localpath:", dry_spec))
        cli_workflow.load_local_files(case["workflow"], updated)
        submitted = yaml.dump(updated)
        stage = "second render"
        final = yaml.safe_load(workflow.TemplateSpec(file=submitted, set_variables=sets, set_string_variables=strings).load_template_with_variables())
        stage = "spec model"
        spec = workflow.VersionedWorkflowSpec(**final).workflow
        stage = "names"
        spec.validate_name_and_inputs()
        stage = "runtime tokens"
        tasks = [t for g in spec.groups for t in g.tasks] + list(spec.tasks)
        hosts = {f"host:{t.name}": f"{t.name}.svc" for t in tasks}
        for task in tasks:
            parsed = task.parse("wf-1", hosts).model_dump_json()
            left = _LEFT.search(parsed)
            if left:
                return {"ok": False, "stage": stage, "error": f"task {task.name} keeps the unresolved token {left.group(0)}"}
        setup_env = next((dict(t.environment) for t in tasks if t.name == "setup"), None)
        url_regexes = {t.name: [(i.url, i.regex) for i in t.inputs if hasattr(i, "url")] for t in tasks}
        return {"ok": True, "name": spec.name, "tasks": len(tasks), "inlined": before, "setup_env": setup_env, "url_regexes": url_regexes}
    except Exception as exc:  # upstream raises its own error types; report them as data
        return {"ok": False, "stage": stage, "error": f"{type(exc).__name__}: {str(exc)[:800]}"}


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: osmo_render_driver.py <osmo checkout> < cases.json\n")
        return 2
    sys.path.insert(0, sys.argv[1])
    import yaml  # noqa: PLC0415  (OSMO's interpreter has PyYAML)

    from src.cli import workflow as cli_workflow  # noqa: PLC0415
    from src.lib.utils import jinja_sandbox  # noqa: PLC0415
    from src.utils import connectors  # noqa: PLC0415
    from src.utils.job import workflow  # noqa: PLC0415

    _stub_database(connectors)
    modules = {"yaml": yaml, "workflow": workflow, "cli_workflow": cli_workflow}
    try:
        results = [run_case(case, modules) for case in json.load(sys.stdin)]
    finally:
        renderer = jinja_sandbox.SandboxedJinjaRenderer._instance  # noqa: SLF001  (stop its worker processes)
        if renderer is not None:
            renderer.shutdown()
    json.dump(results, sys.stdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

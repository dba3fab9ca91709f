"""``vda guard FLOW --set-string k=v ...``: render the workflow with the submit values and check it
(variables, cookbook files, video name, dataset, model caches) before submitting.

Text output and exit codes follow upstream's ``pre_submit_guard.py``: ``OK: ...`` and 0; ``ERROR:``
lines and 1; 2 when the workflow file or its setup task is unusable. The cache remediation prints
``DEFAULT_ACTION:`` and ``Hint:`` lines.
"""

from __future__ import annotations

import argparse

from skill.errors import InputError
from skill.render import parse_set_pairs
from skill.steps.guard import GuardRequest, exit_code, pre_submit_guard, report_lines
from tools.output import emit
from tools.backends import add_backend_option

_VALUE_FLAGS = (
    "dataset", "run_id", "storage_url", "gpu_platform", "video", "skills_dir", "cosmos_model_cache_url",
    "auto_labeling_model_cache_url", "cookbook", "vlm_url", "llm_url", "workers",
    "label_engine", "augment_engine", "vlm_model", "llm_model",
)


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("guard", help="pre-submit guard: render the workflow with the submit values and check it")
    p.add_argument("flow", nargs="?", help="flow name (e.g. augmentation_and_al) or workflow YAML path")
    p.add_argument("--workflow", help="workflow YAML path or flow name (upstream's flag; same as FLOW)")
    p.add_argument("--set-string", nargs="+", default=[], metavar="K=V", help="the submit values, all after ONE flag")
    for name in _VALUE_FLAGS:
        p.add_argument("--" + name.replace("_", "-"), dest=name, type=int if name == "workers" else str, help=argparse.SUPPRESS)
    add_backend_option(p, help="where the dataset and caches are listed (default: $VDA_BACKEND, else local)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.backends import make_backend

    flow = args.workflow or args.flow
    if not flow:
        raise InputError("No workflow given.", remedy="Pass a flow name or --workflow <yaml>.", code="missing-workflow")
    values: dict[str, object] = dict(parse_set_pairs(args.set_string, flag="--set-string"))
    unknown = sorted(set(values) - set(_VALUE_FLAGS))
    if unknown:
        raise InputError(
            f"Unknown --set-string key(s): {', '.join(unknown)}.",
            remedy=f"Use only: {', '.join(_VALUE_FLAGS)}.", code="invalid-set-pair",
        )
    values.update({k: getattr(args, k) for k in _VALUE_FLAGS if getattr(args, k) is not None})
    result = pre_submit_guard(GuardRequest(flow=flow, **values), backend=make_backend(args.backend))
    emit(result, as_json=args.json, text="\n".join(report_lines(result)))
    return exit_code(result)

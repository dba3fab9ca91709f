"""``vda render FLOW --set-string k=v ...``: render a workflow as OSMO would, without submitting."""

from __future__ import annotations

import argparse

from skill.flows import resolve_workflow
from skill.render import render_workflow
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("render", help="render a workflow YAML (dry run; prints the rendered spec)")
    p.add_argument("flow", help="flow or workflow name (e.g. e2e, setup_model_cache) or a YAML path")
    p.add_argument("--set-string", nargs="+", default=[], metavar="K=V", help="every value, after ONE flag")
    p.add_argument("--set", dest="set_values", nargs="+", default=[], metavar="K=V", help="typed values (int, float, str)")
    p.add_argument("--json", action="store_true", help="print the spec as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    spec = render_workflow(resolve_workflow(args.flow), set_string=args.set_string, set_values=args.set_values)
    emit(spec, as_json=args.json, text=spec.text)
    return 0

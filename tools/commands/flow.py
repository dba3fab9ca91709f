"""``vda flow "TEXT" [--flow F] [--json]``: pick the flow for a request and show its ETA;
``vda flow --list [--json]``: the catalogue."""

from __future__ import annotations

import argparse

from skill.conditions import route_with_looks
from skill.errors import InputError
from skill.flows import FlowChoice, FlowInfo, catalogue
from tools.output import emit
from tools.backends import add_backend_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("flow", help="pick the flow for a request in plain words, with its ETA (or --list the flows)")
    p.add_argument("text", nargs="?", default="", help='the request, e.g. "augment my clips with rain and label them"')
    p.add_argument("--flow", help="name the flow outright (a flow, the alias augmentation_and_pl, or setup_model_cache)")
    p.add_argument("--super-resolution", action=argparse.BooleanOptionalAction, default=None, help="require (or rule out) super-resolution")
    p.add_argument("--label-only", action=argparse.BooleanOptionalAction, default=None, help="label without augmenting (or require augmentation)")
    add_backend_option(p, default="osmo", help="which backend the ETA is for (default osmo)")
    p.add_argument("--list", action="store_true", help="print the flow catalogue")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.list:
        flows = catalogue()
        emit([info.model_dump(mode="json") for info in flows], as_json=args.json, text="\n".join(map(_info_line, flows)))
        return 0
    if not args.text.strip() and args.flow is None and args.super_resolution is None and args.label_only is None:
        raise InputError("Nothing to route: give the request text, --flow, or --list.",
                         remedy='Run vda flow "augment my clips and label them", or vda flow --list.', code="missing-intent")
    choice = route_with_looks(args.text, flow=args.flow, super_resolution=args.super_resolution, label_only=args.label_only, backend=args.backend)
    emit(choice, as_json=args.json, text=_choice_text(choice))
    return 0


def _info_line(info: FlowInfo) -> str:
    alias = f" (alias {', '.join(info.aliases)})" if info.aliases else ""
    return f"{info.name}{alias}: {info.summary}\n  graph: {info.graph.dag}\n  ETA on OSMO: ~{info.eta.flow_minutes.words()} for the workflow"


def _choice_text(choice: FlowChoice) -> str:
    if not choice.is_run_request:
        return choice.reason
    lines = [f"flow: {choice.flow}", f"workflow: {choice.workflow}", choice.reason]
    if choice.conditions:
        lines.append(f"looks asked for: {choice.conditions} (pass as conditions to the guard and submit)")
    if choice.eta is not None:
        lines.append(choice.eta.text())
    return "\n".join(lines)

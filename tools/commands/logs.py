"""``vda logs WORKFLOW_ID [--task T] [-n N]``: the last log lines, redacted, with a hint."""

from __future__ import annotations

import argparse

from skill.steps.logs import LogsRequest, get_logs
from tools.output import emit
from tools.backends import add_backend_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("logs", help="last log lines of a workflow or task")
    p.add_argument("workflow_id")
    p.add_argument("--task")
    p.add_argument("-n", "--last-n", type=int, default=200)
    add_backend_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.backends import make_backend

    result = get_logs(LogsRequest(workflow_id=args.workflow_id, task=args.task, last_n=args.last_n), backend=make_backend(args.backend))
    text = result.text + (f"\nHint ({result.hint.symptom}): {result.hint.action}" if result.hint else "")
    emit(result, as_json=args.json, text=text)
    return 0

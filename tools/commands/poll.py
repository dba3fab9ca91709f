"""``vda poll WORKFLOW_ID [--wait] [--timeout S]``: status per task; with --wait, heartbeats on
stderr until the workflow ends. Exit 0 running/completed, 1 failed or timed out."""

from __future__ import annotations

import argparse

from skill.ledger import Ledger
from skill.steps.monitor import PollRequest, PollResult, ProgressEvent, poll
from tools.output import emit, say
from tools.backends import add_backend_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("poll", help="workflow status; --wait polls until it ends")
    p.add_argument("workflow_id")
    p.add_argument("--wait", action="store_true", help="poll until a terminal status or --timeout")
    p.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait at most (default 3600)")
    p.add_argument("--interval", type=float, default=15.0, help="first pause between reads (default 15 s)")
    p.add_argument("--max-interval", type=float, default=60.0, help="backoff cap (default 60 s)")
    p.add_argument("--heartbeat", type=float, default=120.0, help="progress line at least this often (default 120 s)")
    add_backend_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.backends import make_backend

    req = PollRequest(
        workflow_id=args.workflow_id, wait=args.wait, timeout_s=args.timeout, interval_s=args.interval,
        max_interval_s=max(args.max_interval, args.interval), heartbeat_s=args.heartbeat,
    )
    with Ledger() as ledger:  # a fanned-out run's id is read from the ledger
        result = poll(req, backend=make_backend(args.backend), on_progress=_progress, ledger=ledger)
    emit(result, as_json=args.json, text=_text(result))
    return 1 if result.failed or result.timed_out else 0


def _progress(event: ProgressEvent) -> None:
    say(f"[{event.elapsed_s:.0f}s] {event.message}")


def _text(result: PollResult) -> str:
    lines = [f"STATUS={result.status}"]
    lines += [f"  {t.name}: {t.status}" + (f" (exit {t.exit_code})" if t.exit_code is not None else "") for t in result.tasks]
    for task, tail in result.log_tail.items():
        lines += [f"--- last log lines of {task} ---", tail]
    if result.hint:
        lines.append(f"Hint ({result.hint.symptom}): {result.hint.action}")
    lines.append(result.message)
    if result.next:
        lines.append(f"Next: {result.next}")
    return "\n".join(lines)

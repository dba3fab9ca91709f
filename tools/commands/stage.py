"""``vda stage --storage-url U --dataset D --run-id R --video V``: mirror the run's outputs and the
input video into media/vda/runs/<run_id>/ (resumable) and print upstream's LOCAL_* lines."""

from __future__ import annotations

import argparse

from skill.ledger import Ledger
from skill.steps.stage import StageEvent, StageRequest, StageResult, report_lines, stage_artifacts
from tools.output import emit, say
from tools.backends import add_backend_option


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("stage", help="bring a run's outputs and input video home, with summaries")
    p.add_argument("--storage-url", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--run-id", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--run-local-dir", help="local run folder (default <workspace>/media/vda/runs/<run_id>)")
    p.add_argument("--input-local-video", help="copy this file as the input instead of downloading it")
    add_backend_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.backends import make_backend

    req = StageRequest(
        storage_url=args.storage_url, dataset=args.dataset, run_id=args.run_id, video=args.video,
        run_local_dir=args.run_local_dir, input_local_video=args.input_local_video,
    )
    with Ledger() as ledger:  # a fanned-out run's id is read from the ledger
        result = stage_artifacts(req, backend=make_backend(args.backend), on_progress=None if args.json else _progress, ledger=ledger)
    emit(result, as_json=args.json, text=_text(result, args.video))
    return 0


def _progress(event: StageEvent) -> None:
    if event.kind != "skipped":
        say(f"[{event.done}/{event.total}] {event.kind} {event.path}")


def _text(result: StageResult, video: str) -> str:
    lines = report_lines(result, video)
    for name, values in result.sampled_vars.items():
        lines.append(f"SAMPLED_VARS {name}: " + ", ".join(f"{k}={v}" for k, v in values.items()))
    for name, summary in result.labels.items():
        tracks = ", ".join(f"{k}={v}" for k, v in summary.tracks_by_class.items()) or "none"
        lines.append(
            f"LABELS {name}: tracks {summary.tracks_total} ({tracks}); mcq {summary.mcq_items}, bcq {summary.bcq_items}; "
            f"events {summary.events if summary.events is not None else 'n/a'}; status {summary.pipeline_status or 'unknown'}"
        )
        lines += [f"  Q: {qa.question} A: {qa.answer}" + (f" ({qa.answer_text})" if qa.answer_text else "") for qa in summary.sample_qa]
    lines += [f"WARNING: {w}" for w in result.warnings]
    return "\n".join(lines)

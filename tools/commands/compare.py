"""``vda compare --run-local-dir DIR --dataset D --video V [--aug-index 0] [--height H]``: input |
augmented at the input's own height (at most 720 unless --height asks) into <run>/display/, printing upstream's COMPARE_VIDEO/INPUT_VIDEO/AUGMENTED_VIDEO lines and
the MEDIA line."""

from __future__ import annotations

import argparse

from skill.steps.compare import CompareRequest, render_side_by_side, report_lines
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("compare", help="render the input beside the augmented clip (MEDIA line)")
    p.add_argument("--run-local-dir", required=True)
    p.add_argument("--dataset", required=True)
    p.add_argument("--video", required=True)
    p.add_argument("--aug-index", type=int, default=0)
    p.add_argument("--timeout", type=float, default=600.0, help="seconds per ffmpeg render (default 600)")
    p.add_argument("--height", type=int, default=None, help="panel height in pixels (default: the input's own, at most 720)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    req = CompareRequest(run_local_dir=args.run_local_dir, dataset=args.dataset, video=args.video, aug_index=args.aug_index, timeout_s=args.timeout,
                         height=args.height)
    result = render_side_by_side(req)
    emit(result, as_json=args.json, text="\n".join([*report_lines(result), result.media_line]))
    return 0

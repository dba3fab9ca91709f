"""``vda submit FLOW --dataset D --run-id R --storage-url U --gpu-platform P --video V [--pool P]``:
submit once with the canonical values (one --set-string), recorded in the run ledger; with
``--max-in-flight N`` the clips fan out as one workflow per batch (submit again to advance)."""

from __future__ import annotations

import argparse

from skill.ledger import Ledger
from skill.steps.batches import FanoutSubmitRequest as SubmitRequest
from skill.steps.batches import submit_run
from skill.steps.submit import SubmitResult
from tools.output import emit
from tools.backends import add_backend_option

_REQUIRED = ("dataset", "storage_url", "gpu_platform", "video")
# every other value a submit takes, from its request model (so a new value needs no edit here)
_OPTIONAL = tuple(name for name in SubmitRequest.model_fields if name not in ("flow", *_REQUIRED))


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("submit", help="submit a flow (idempotent per run id)")
    p.add_argument("flow", help="auto_labeling | augmentation_and_al | e2e | e2e_super_resolution")
    p.add_argument("--dataset", required=True)
    p.add_argument("--storage-url", required=True, help="prefix in front of /datasets/<dataset>")
    p.add_argument("--gpu-platform", required=True, help="platform label of an ONLINE pool")
    p.add_argument("--video", required=True, help="video file stem")
    for name in _OPTIONAL:
        p.add_argument("--" + name.replace("_", "-"), dest=name, help=(SubmitRequest.model_fields[name].description or "").replace("%", "%%"))  # typed by SubmitRequest
    add_backend_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from tools.backends import make_backend

    fields = {k: getattr(args, k) for k in _OPTIONAL if getattr(args, k) is not None}
    req = SubmitRequest(flow=args.flow, dataset=args.dataset, storage_url=args.storage_url, gpu_platform=args.gpu_platform, video=args.video, **fields)
    with Ledger() as ledger:  # <workspace>/.vda/ledger.sqlite: no argument moves it (the workspace is VDA_HOME's)
        result = submit_run(req, backend=make_backend(args.backend), ledger=ledger)
    emit(result, as_json=args.json, text=_text(result))
    return 0


def _text(result: SubmitResult) -> str:
    lines = [result.message]
    if result.workflow_id:
        lines.append(f"Workflow ID - {result.workflow_id}")
    lines += [f"RUN_ID={result.run_id}", f"OUTPUT_URL={result.output_url}", "Command: " + " ".join(result.command)]
    if result.remedy:
        lines.append(f"Next: {result.remedy}")
    return "\n".join(lines)

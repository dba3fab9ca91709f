"""``vda preflight [--workflow W] [--refresh] [--no-probe] [--backend osmo|local] [--json]``:
check secrets, registry access, backend credentials, pools and the pod template before a submit.
Exit 0 when ready, 1 when failed or blocked on the user."""

from __future__ import annotations

import argparse
import sys

from skill.secrets import redact
from skill.steps.preflight import PreflightRequest, format_report, preflight
from tools.backends import add_backend_option, default_backend_name, make_backend
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("preflight", help="check secrets, registry, credentials, pools and POD_TEMPLATE before submitting")
    p.add_argument("--workflow", help="flow name or workflow YAML whose nvcr.io images are probed")
    p.add_argument("--refresh", "--overwrite", dest="refresh", action="store_true", help="re-set existing credentials (after a key rotation)")
    p.add_argument("--no-probe", action="store_true", help="skip every HTTP probe")
    add_backend_option(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    req = PreflightRequest(workflow=args.workflow, refresh=args.refresh, no_probe=args.no_probe)
    result = preflight(req, backend=make_backend(args.backend or default_backend_name()))
    out, err = format_report(result)
    for line in err:
        print(redact(line), file=sys.stderr)
    if args.json:
        emit(result, as_json=True)
    elif out:
        emit(result, as_json=False, text="\n".join(out))
    return 0 if result.status == "ok" else 1

#!/usr/bin/env python3
"""Pre-submit guard, upstream's entry point: ``--workflow <yaml|flow>`` plus our extension
``--set-string k=v ...`` (the values the submit will carry; the workflow is rendered with them).

Prints ``OK: pre-submit guard passed (mode-aware checks: ...)`` and exits 0; ``ERROR: ...`` lines
and exit 1; the cache remediation as ``DEFAULT_ACTION:`` / ``Hint:`` lines; exit 2 on bad
arguments or an unusable workflow file. Backend: ``--backend`` or VDA_BACKEND (default osmo, as upstream).
A thin entry into ``vda guard``; it re-runs itself with the skill's Python when needed.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _python() -> str | None:
    for candidate in (os.environ.get("VDA_PYTHON"), str(REPO / ".venv" / "bin" / "python")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="pre_submit_guard.py", description="Check a workflow and its submit values before submitting.")
    parser.add_argument("--workflow", required=True, help="workflow YAML path or flow name")
    parser.add_argument("--set-string", nargs="+", default=[], metavar="K=V", help="the submit values, all after ONE flag")
    parser.add_argument("--backend", choices=("osmo", "local"), default=os.environ.get("VDA_BACKEND", "osmo"))
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from tools.cli import main as vda

    forwarded = ["guard", "--workflow", args.workflow, "--backend", args.backend]
    if args.set_string:
        forwarded += ["--set-string", *args.set_string]
    if args.json:
        forwarded.append("--json")
    return vda(forwarded)


if __name__ == "__main__":
    try:
        import pydantic  # noqa: F401  (the skill's dependencies are importable here)
    except ImportError:
        python = _python()
        if python is None or Path(python).resolve() == Path(sys.executable).resolve():
            print("ERROR: the skill's Python environment is missing; run ./run test once or set VDA_PYTHON.", file=sys.stderr)
            sys.exit(1)
        os.execv(python, [python, __file__, *sys.argv[1:]])
    sys.exit(main(sys.argv[1:]))

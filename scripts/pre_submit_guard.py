#!/usr/bin/env python3
"""Pre-submit guard, upstream's entry point: ``--workflow <yaml|flow>`` plus our extension
``--set-string k=v ...`` (the values the submit will carry; the workflow is rendered with them).

Prints ``OK: pre-submit guard passed (mode-aware checks: ...)`` and exits 0; ``ERROR: ...`` lines
and exit 1; the cache remediation as ``DEFAULT_ACTION:`` / ``Hint:`` lines; exit 2 on bad
arguments or an unusable workflow file. Backend: ``--backend`` or VDA_BACKEND (default osmo, as upstream).

A thin entry into ``vda guard`` that works with any ``python3``, as the skill text invokes it: when
this interpreter is not the skill's environment (``VDA_PYTHON``, else ``.venv`` of this checkout), it
re-runs itself with that one, preparing ``.venv`` through ``./run`` first when it does not exist yet.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
_VENV_PYTHON = REPO / ".venv" / "bin" / "python"
_HANDOFF = "VDA_GUARD_HANDOFF"


def _in_skill_environment() -> bool:
    """True when this interpreter is the skill's: VDA_PYTHON itself, or this checkout's .venv.

    A venv's ``bin/python`` is a symlink to the base interpreter, so identity is judged by
    ``sys.prefix`` (the venv folder), not by resolving executables (that made every venv look
    like the base Python)."""
    wanted = os.environ.get("VDA_PYTHON")
    if wanted:
        return os.path.abspath(sys.executable) == os.path.abspath(wanted)
    return Path(sys.prefix).resolve() == (REPO / ".venv").resolve()


def _skill_python() -> str | None:
    wanted = os.environ.get("VDA_PYTHON")
    if wanted:
        return wanted if os.path.isfile(wanted) and os.access(wanted, os.X_OK) else None
    if not _VENV_PYTHON.is_file():
        print("pre_submit_guard: preparing the skill's environment (.venv) once ...", file=sys.stderr)
        # ./run prepares .venv before it dispatches; `vda --help` is the cheapest command after that.
        subprocess.run(["bash", str(REPO / "run"), "vda", "--help"], stdout=subprocess.DEVNULL, check=False)
    return str(_VENV_PYTHON) if _VENV_PYTHON.is_file() else None


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
    if not _in_skill_environment() and not os.environ.get(_HANDOFF):
        python = _skill_python()
        if python is None:
            print(
                "ERROR: [environment-missing] the skill's Python environment could not be prepared. "
                f"Next: run {REPO / 'run'} test once (it creates .venv), or set VDA_PYTHON to a Python that has vda-skill installed.",
                file=sys.stderr,
            )
            sys.exit(1)
        os.environ[_HANDOFF] = "1"
        os.execv(python, [python, __file__, *sys.argv[1:]])
    sys.exit(main(sys.argv[1:]))

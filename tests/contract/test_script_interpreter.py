"""Upstream's canonical guard invocation, ``python3 scripts/pre_submit_guard.py --workflow ...``, works
whatever ``python3`` is: the base interpreter (which lacks the skill's packages) hands over to the
skill's environment instead of failing with "environment is missing" or ModuleNotFoundError."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "pre_submit_guard.py"


def _base_python() -> str:
    base = getattr(sys, "_base_executable", None) or sys.executable
    if Path(sys.prefix).resolve() == Path(sys.base_prefix).resolve():
        pytest.skip("the tests do not run in a virtual environment, so there is no base interpreter to contrast")
    return base


def _run(python: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("VDA_PYTHON", "VIRTUAL_ENV", "PYTHONPATH", "VDA_GUARD_HANDOFF")}
    return subprocess.run([python, str(SCRIPT), *args], capture_output=True, text=True, env={**clean, **env}, timeout=120, cwd="/")


def test_base_python_hands_over_to_the_skill_environment():
    done = _run(_base_python(), "--workflow", "auto_labeling", "--backend", "local")
    text = done.stdout + done.stderr
    assert "environment" not in text.lower()
    assert "ModuleNotFoundError" not in text and "Traceback" not in text
    # It reached the guard itself: the workflow needs values it was not given.
    assert done.returncode == 1 and "dataset" in text, text


def test_vda_python_pointing_nowhere_is_a_coded_error():
    done = _run(_base_python(), "--workflow", "auto_labeling", VDA_PYTHON="/nonexistent/python")
    assert done.returncode == 1
    assert "[environment-missing]" in done.stderr and "Next:" in done.stderr
    assert "Traceback" not in done.stderr

"""The ``vda`` console script's exit: no interpreter teardown, but nothing a normal exit does that
matters is skipped (atexit hooks, buffered output, the exit code, a thread still running)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_ENTRY = """
import atexit, sys, threading, time
{setup}
atexit.register(lambda: print("hook ran", file=sys.stderr))
sys.argv = ["vda", *sys.argv[1:]]
from tools.cli import entry
sys.stdout.write("buffered-before-exit ")  # no newline: stays in the buffer until the exit flushes it
entry()
"""


def _entry(*argv: str, setup: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", _ENTRY.format(setup=setup), *argv], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, check=False, env={"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": ""})


def test_the_exit_runs_the_hooks_flushes_the_output_and_keeps_the_code():
    done = _entry("flow", "--list", "--json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("buffered-before-exit ") and '"e2e"' in done.stdout
    assert "hook ran" in done.stderr


def test_a_failing_command_keeps_its_exit_code():
    done = _entry("poll")  # a usage error: argparse exits 2 before entry's own exit
    assert done.returncode == 2
    done = _entry("render", "/nonexistent/wf.yaml")  # a coded failure: main returns 1, entry exits with it
    assert done.returncode == 1 and "[workflow-not-found]" in done.stderr and "hook ran" in done.stderr


def test_a_thread_still_running_is_waited_for():
    setup = ('def late():\n    time.sleep(0.3)\n    print("thread finished", file=sys.stderr)\n'
             'threading.Thread(target=late).start()')
    done = _entry("flow", "--list", setup=setup)
    assert done.returncode == 0, done.stderr
    assert "thread finished" in done.stderr and "hook ran" in done.stderr

"""Start-up cost: ``vda flow``, ``vda policy check-command`` and the label and augment engine imports,
each against ``python -c pass``.

Every round runs the baseline and the three commands back to back in fresh interpreters (the same
Python, the project root as cwd), in a rotated order so no command always runs first; the medians of
the rounds are compared. Issue 15's target: ``vda flow`` start <= 10x ``python -c pass``.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _vda() -> list[str]:
    """The installed ``vda`` entry point beside this Python, else the same module run with ``-m``."""
    script = Path(sys.executable).with_name("vda")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tools.cli"]


def _cases() -> dict[str, list[str]]:
    vda = _vda()
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "vda flow": [*vda, "flow", "augment my clips with rain and label them"],
        "vda policy check-command": [*vda, "policy", "check-command", "--", "osmo workflow submit wf.yaml"],
        "label engine import": [sys.executable, "-c", "import skill.engines.label"],
        "augment engine import": [sys.executable, "-c", "import skill.engines.augment"],
    }


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True,
                   env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return time.perf_counter() - start


def run(quick: bool) -> list[dict]:
    cases = _cases()
    names = list(cases)
    rounds = 7 if quick else 21
    samples: dict[str, list[float]] = {name: [] for name in names}
    for name in names:  # warm the page cache and the bytecode once
        _time(cases[name])
    for i in range(rounds):
        for name in names[i % len(names):] + names[: i % len(names)]:
            samples[name].append(_time(cases[name]))
    base = statistics.median(samples["python -c pass"])
    targets = {"vda flow": 10.0, "vda policy check-command": 10.0, "label engine import": None, "augment engine import": None}
    rows = []
    for name in names[1:]:
        ours = statistics.median(samples[name])
        rows.append({"name": f"{name} start", "ours_s": ours, "baseline_s": base, "ratio": ours / base,
                     "target": targets[name], "notes": f"median of {rounds} interleaved runs vs python -c pass"})
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(f"{row['name']}: {row['ours_s']:.3f} s / {row['baseline_s']:.3f} s = {row['ratio']:.1f}x (target {row['target']})")

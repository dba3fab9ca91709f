"""Replay speed of the eval harness (issue 12's target: at least 5,000 lines/s).

Lines are the physical lines of the session files as stored (a pretty-printed chat JSON counts
every line). Each round replays the whole corpus, ``evals/transcripts``, with
:func:`evals.replay.replay` in this process: reading, format detection, the readers, the policy
judges and the transcript scorers. Rows: the whole corpus, then each format alone; the value is the
best round (quick: 5 rounds, full: 15); the notes give the median, the lines per CPU second of
this process (less moved by other jobs on a shared machine) and the load average. Files are read from disk each
round, as ``vda eval replay`` does, and the command splitter's caches are emptied before each.
"""

from __future__ import annotations

import os
import statistics
import time
from pathlib import Path

from evals.replay import collect_paths, replay
from evals.transcript import load_transcript
from skill.policy import shell as policy_shell

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "evals" / "transcripts"
TARGET = 5000.0


def _lines(paths: list[Path]) -> int:
    return sum(len(p.read_bytes().splitlines()) for p in paths)


def _measure(paths: list[Path], rounds: int) -> tuple[float, float, float]:
    """(best wall lines/s, median wall lines/s, best lines per CPU second of this process)."""
    lines = _lines(paths)
    replay(paths)  # warm imports and regex caches once
    speeds, cpu_speeds = [], []
    for _ in range(rounds):
        policy_shell._tokens.cache_clear()  # each round starts cold: no command split by an earlier round
        policy_shell.program_name.cache_clear()
        policy_shell._split_line.cache_clear()
        start, cpu_start = time.perf_counter(), time.process_time()
        report = replay(paths)
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
        assert report.totals.files == len(paths)
        speeds.append(lines / elapsed)
        cpu_speeds.append(lines / max(cpu, 1e-9))
    return max(speeds), statistics.median(speeds), max(cpu_speeds)


def run(quick: bool) -> list[dict]:
    rounds = 5 if quick else 15
    paths = collect_paths([CORPUS])
    groups: dict[str, list[Path]] = {"all formats": paths}
    for path in paths:
        loaded = load_transcript(path)
        groups.setdefault(getattr(loaded, "source_format", "invalid"), []).append(path)
    rows = []
    for name, group in groups.items():
        best, median, cpu = _measure(group, rounds)
        rows.append({
            "name": f"replay {name} ({len(group)} files, {_lines(group)} lines)",
            "value": round(best), "unit": "lines/s", "target": TARGET,
            "notes": f"best of {rounds}; median {median:.0f} lines/s; {cpu:.0f} lines per CPU second; load {os.getloadavg()[0]:.1f}",
        })
    return rows

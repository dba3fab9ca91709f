"""Soak: many runs of the sample flow on the local backend, concurrently and one after another.

Two parts, both in one fresh ``VDA_HOME`` (so runs share the ledger, the storage and the runs root):

* **concurrent**: ``rounds`` x ``concurrency`` ``vda run --sample --json`` processes at once. Each
  run is judged: COMPLETED with its MEDIA file inside its own run folder; a coded failure
  (``Error: [code]``); uncoded (a traceback, or a non-zero exit without a coded error); and across
  runs, anything *lost or mixed* (a run id or workflow id reported twice, a MEDIA line pointing into
  another run's folder or at a missing file). Target: 0 uncoded, 0 lost or mixed.
* **memory**: ``sequential`` runs of :func:`skill.pipeline.run_pipeline` in this process, the
  resident set size read after each one; growth is last minus first (the first run pays the
  imports). The engines run in the local runner's child processes, so this is the orchestrator's own.

    python -m benchmarks.bench_soak                      # small: 2 x 2 concurrent, 3 sequential
    python -m benchmarks.bench_soak --rounds 5 --concurrency 4 --sequential 10
    ./run bench --only soak [--full]                     # --full: 4 x 3 concurrent, 8 sequential
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_CODED = re.compile(r"^Error: \[([a-z0-9-]+)\]", re.MULTILINE)


@dataclass
class Tally:
    completed: int = 0
    coded: dict[str, int] = field(default_factory=dict)
    uncoded: list[str] = field(default_factory=list)
    lost_or_mixed: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)


def _vda() -> list[str]:
    script = Path(sys.executable).with_name("vda")
    return [str(script)] if script.exists() else [sys.executable, "-m", "tools.cli"]


def _one_run(home: Path, timeout_s: float) -> tuple[int, str, str, float]:
    env = {**os.environ, "VDA_HOME": str(home), "VDA_BACKEND": "local", "HF_HUB_OFFLINE": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.perf_counter()
    try:
        done = subprocess.run([*_vda(), "run", "--sample", "--json"], cwd=ROOT, env=env, capture_output=True, text=True,
                              encoding="utf-8", errors="replace", timeout=timeout_s, check=False)
        return done.returncode, done.stdout, done.stderr, time.perf_counter() - started
    except subprocess.TimeoutExpired as exc:
        return -1, str(exc.stdout or ""), f"(no answer within {timeout_s:.0f} s)", time.perf_counter() - started


def _judge(tally: Tally, seen: dict[str, set[str]], rc: int, out: str, err: str) -> None:
    coded = _CODED.findall(err)
    if "Traceback (most recent call last)" in err + out or (rc != 0 and not coded):
        tally.uncoded.append(f"rc={rc}: {(err.strip().splitlines() or ['(no stderr)'])[-1][:200]}")
        return
    if rc != 0:
        tally.coded[coded[-1]] = tally.coded.get(coded[-1], 0) + 1
        return
    try:
        report = json.loads(out[out.index("{"): out.rindex("}") + 1])
    except ValueError:
        tally.uncoded.append("exit 0 without a JSON report")
        return
    run_id, workflow_id, run_dir = report.get("run_id"), report.get("workflow_id"), report.get("local_run_dir") or ""
    for kind, value in (("run_id", run_id), ("workflow_id", workflow_id)):
        if value in seen[kind]:
            tally.lost_or_mixed.append(f"{kind} {value} reported by two runs")
        seen[kind].add(value)
    if report.get("status") != "COMPLETED":
        tally.coded[f"status-{report.get('status')}"] = tally.coded.get(f"status-{report.get('status')}", 0) + 1
        return
    media = [line.removeprefix("MEDIA:") for line in report.get("media_lines") or []]
    if not media or not run_id or run_id not in run_dir:
        tally.lost_or_mixed.append(f"{run_id}: no MEDIA line or a run folder not named after the run")
    for path in media:
        if not Path(path).is_file() or not Path(path).resolve().is_relative_to(Path(run_dir).resolve()):
            tally.lost_or_mixed.append(f"{run_id}: MEDIA {path} missing or outside its run folder")
    tally.completed += 1


def concurrent(home: Path, rounds: int, concurrency: int, timeout_s: float = 900.0) -> Tally:
    tally, seen = Tally(), {"run_id": set(), "workflow_id": set()}
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        for _ in range(rounds):
            for rc, out, err, seconds in pool.map(lambda _: _one_run(home, timeout_s), range(concurrency)):
                tally.seconds.append(seconds)
                _judge(tally, seen, rc, out, err)
    return tally


def _rss_mb() -> float:
    with open("/proc/self/statm", encoding="ascii") as fh:
        pages = int(fh.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def memory(home: Path, runs: int) -> tuple[list[float], Tally]:
    """RSS (MB) after each in-process run of the sample flow."""
    os.environ["VDA_HOME"] = str(home)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from skill.backends.local import LocalBackend
    from skill.engines.synthetic import make_scene
    from skill.errors import SkillError
    from skill.ledger import Ledger
    from skill.pipeline import RunRequest, run_pipeline

    clip = home / "media" / "vda" / "samples" / "soak.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    make_scene(clip, width=640, height=360, fps=10, seconds=4, seed=7, background="road")
    tally, samples = Tally(), []
    with Ledger(home / ".vda" / "soak-ledger.sqlite") as ledger:
        backend = LocalBackend()
        for _ in range(runs):
            started = time.perf_counter()
            try:
                result = run_pipeline(RunRequest(videos=[str(clip)]), backend=backend, ledger=ledger, emit=lambda event: None)
                if result.status == "COMPLETED":
                    tally.completed += 1
                else:
                    tally.coded[f"status-{result.status}"] = tally.coded.get(f"status-{result.status}", 0) + 1
            except SkillError as exc:
                tally.coded[exc.code] = tally.coded.get(exc.code, 0) + 1
            except Exception as exc:  # the soak reports what an uncoded failure was instead of stopping
                tally.uncoded.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            tally.seconds.append(time.perf_counter() - started)
            samples.append(_rss_mb())
    return samples, tally


def rows_for(rounds: int, concurrency: int, sequential: int) -> list[dict]:
    with tempfile.TemporaryDirectory(prefix="vda-soak-") as tmp:
        home = Path(tmp)
        many = concurrent(home / "concurrent", rounds, concurrency)
        rss, seq = memory(home / "memory", sequential)
    total = rounds * concurrency
    notes = lambda t: "; ".join([f"coded {t.coded}" if t.coded else "", *t.uncoded[:3], *t.lost_or_mixed[:3]]).strip("; ")  # noqa: E731
    return [
        {"name": f"concurrent runs completed ({rounds} x {concurrency})", "value": many.completed, "unit": f"of {total}", "target": total,
         "notes": notes(many)},
        {"name": "concurrent runs: uncoded failures", "value": len(many.uncoded), "unit": "runs", "target": 0},
        {"name": "concurrent runs: lost or mixed", "value": len(many.lost_or_mixed), "unit": "findings", "target": 0},
        {"name": "concurrent run wall time (median)", "value": sorted(many.seconds)[len(many.seconds) // 2] if many.seconds else None, "unit": "s"},
        {"name": f"sequential in-process runs completed ({sequential})", "value": seq.completed, "unit": f"of {sequential}", "target": sequential,
         "notes": notes(seq)},
        {"name": "orchestrator RSS growth, first to last run", "value": (rss[-1] - rss[0]) if len(rss) > 1 else None, "unit": "MB",
         "notes": "RSS after each run: " + ", ".join(f"{v:.0f}" for v in rss)},
    ]


def run(quick: bool) -> list[dict]:
    return rows_for(2, 2, 3) if quick else rows_for(4, 3, 8)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_soak", description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument("--sequential", type=int, default=3)
    args = parser.parse_args(argv)
    rows = rows_for(args.rounds, args.concurrency, args.sequential)
    for row in rows:
        print(json.dumps(row))
    bad = [r for r in rows if r.get("target") is not None and r.get("value") != r["target"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

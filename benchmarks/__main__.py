"""Run the benchmarks side by side and write a report.

    ./run bench            # quick sizes (a few minutes on 2 cores)
    ./run bench --full     # the sizes the issues name (60 s 720p clips)
    ./run bench --only augment compare

Each ``benchmarks/bench_<name>.py`` exposes ``run(quick: bool) -> list[dict]``. A row is either a
ratio against a baseline measured in the same run (``ours_s``, ``baseline_s``, ``ratio``) or a
measured value (``value``), each with its ``target``. Nothing here asserts: numbers are reported,
to ``benchmarks/results/latest.json`` and ``benchmarks/results/latest.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"


def discover() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in HERE.glob("bench_*.py"))


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


def to_markdown(report: dict) -> str:
    lines = [f"# Benchmarks ({report['mode']}, {report['started_at']})", "", f"Machine: {report['machine']}", ""]
    lines += ["| bench | name | ours (s) | baseline (s) | ratio | value | unit | target | notes |", "|---|---|---|---|---|---|---|---|---|"]
    for bench, rows in report["benches"].items():
        for row in rows:
            lines.append(
                "| " + " | ".join([bench, row.get("name", ""), _fmt(row.get("ours_s")), _fmt(row.get("baseline_s")),
                                   _fmt(row.get("ratio")), _fmt(row.get("value")), str(row.get("unit", "")), _fmt(row.get("target")), str(row.get("notes", ""))]) + " |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="benchmarks")
    parser.add_argument("--full", action="store_true", help="full sizes instead of quick ones")
    parser.add_argument("--only", nargs="+", choices=discover(), help="run only these benches")
    args = parser.parse_args(argv)
    report = {
        "mode": "full" if args.full else "quick",
        "started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}".strip(),
        "benches": {},
    }
    failed = []
    for name in args.only or discover():
        print(f"bench {name} ...", file=sys.stderr, flush=True)
        started = time.perf_counter()
        try:
            rows = importlib.import_module(f"benchmarks.bench_{name}").run(quick=not args.full)
        except Exception as exc:  # a broken bench is reported and the others still run
            failed.append(name)
            rows = [{"name": "error", "notes": f"{type(exc).__name__}: {exc}"}]
        report["benches"][name] = rows
        print(f"bench {name}: {time.perf_counter() - started:.1f}s", file=sys.stderr, flush=True)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "latest.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(to_markdown(report))
    print(to_markdown(report))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

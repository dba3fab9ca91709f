"""MCP tool round-trip latency: ``select_flow`` and a one-shot ``poll``, in process and over stdio.

Each transport gets a fresh server on the local backend rooted in a temporary ``VDA_HOME``. A small
``setup_model_cache`` workflow is run to completion first (select_flow -> preflight ->
setup_model_cache -> poll wait), so the timed ``poll`` reads a real, finished workflow. Reported:
p50 and p95 of the wall time of ``client.call_tool`` (milliseconds), after a few warm-up calls.
Transports: in-process default (2026-07-28, direct dispatch, no serialization), in-process
``mode="legacy"`` (JSON-RPC over memory streams) and stdio (``python -m tools.cli mcp``, a
subprocess). No targets: the numbers are reported, not judged.
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio

ROOT = Path(__file__).resolve().parent.parent
WARMUP = 3


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[int(q) - 1]


async def _timed(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    for _ in range(WARMUP):
        await fn()
    out = []
    for _ in range(n):
        start = time.perf_counter()
        result = await fn()
        out.append((time.perf_counter() - start) * 1000.0)
        if getattr(result, "is_error", False):
            raise RuntimeError(f"benchmark call failed: {result.content}")
    return out


async def _prepare(client: Any, storage_url: str) -> str:
    """Run the cache workflow through MCP and return its workflow id (for the poll benchmark)."""

    async def ok(name: str, req: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(name, {"req": req})
        if result.is_error:
            raise RuntimeError(f"{name} failed: {result.content}")
        return result.structured_content

    await ok("select_flow", {"text": "augment my videos"})
    await ok("preflight", {"workflow": "setup_model_cache", "no_probe": True})
    cache = await ok("setup_model_cache", {"storage_url": storage_url, "path": "data"})
    await ok("poll", {"workflow_id": cache["workflow_id"], "wait": True, "interval_s": 1, "max_interval_s": 2, "timeout_s": 300})
    return cache["workflow_id"]


async def _measure(client: Any, storage_url: str, n: int) -> dict[str, list[float]]:
    workflow_id = await _prepare(client, storage_url)
    select = await _timed(lambda: client.call_tool("select_flow", {"req": {"text": "augment my videos"}}), n)
    polled = await _timed(lambda: client.call_tool("poll", {"req": {"workflow_id": workflow_id}}), n)
    return {"select_flow": select, "poll": polled}


def _rows(transport: str, samples: dict[str, list[float]], notes: str) -> list[dict]:
    rows = []
    for tool, values in samples.items():
        for q in (50, 95):
            rows.append({"name": f"{tool} p{q} ms ({transport})", "value": round(_percentile(values, q), 3), "target": None,
                         "notes": f"{len(values)} calls; {notes}"})
    return rows


def run(quick: bool = True) -> list[dict]:
    from mcp import Client, StdioServerParameters

    from skill.backends.local import LocalBackend
    from skill.ledger import Ledger
    from tools.mcp_server import build_server

    n = 30 if quick else 200
    rows: list[dict] = []
    previous_home = os.environ.get("VDA_HOME")
    with tempfile.TemporaryDirectory(prefix="vda-bench-mcp-") as tmp:
        home = Path(tmp)
        os.environ["VDA_HOME"] = str(home / "home")
        try:
            for mode in ("auto", "legacy"):
                root = home / f"be-{mode}"
                with Ledger(home / f"ledger-{mode}.sqlite") as ledger:
                    server = build_server(backend=LocalBackend(root=root), ledger=ledger)

                    async def in_process(server: Any = server, mode: str = mode, root: Path = root) -> dict[str, list[float]]:
                        async with Client(server, mode=mode) as client:
                            return await _measure(client, str(root / "storage" / "local"), n)

                    rows += _rows(f"in-process {mode}", anyio.run(in_process), "same process, local backend")

            params = StdioServerParameters(
                command=sys.executable, args=["-m", "tools.cli", "mcp", "--backend", "local"], cwd=str(ROOT),
                env={**os.environ, "VDA_HOME": str(home / "home")},
            )
            stdio_root = LocalBackend().root  # the subprocess builds the same default root from VDA_HOME

            async def over_stdio() -> dict[str, list[float]]:
                async with Client(params) as client:
                    return await _measure(client, str(stdio_root / "storage" / "local"), n)

            rows += _rows("stdio", anyio.run(over_stdio), "python -m tools.cli mcp subprocess, local backend")
        finally:
            if previous_home is None:
                os.environ.pop("VDA_HOME", None)
            else:
                os.environ["VDA_HOME"] = previous_home
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(f"{row['name']:<40} {row['value']:>9.3f}  {row['notes']}")

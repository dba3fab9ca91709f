"""MCP tool round-trip latency: ``select_flow`` and a one-shot ``poll``, in process and over stdio.

Each transport gets a fresh server on the local backend rooted in a temporary ``VDA_HOME``. A small
``setup_model_cache`` workflow is run to completion first (select_flow -> preflight ->
setup_model_cache -> poll wait), so the timed ``poll`` reads a real, finished workflow. Reported:
p50 and p95 of the wall time of ``client.call_tool`` (milliseconds), after a few warm-up calls.
Transports: in-process default (2026-07-28, direct dispatch, no serialization), in-process
``mode="legacy"`` (JSON-RPC over memory streams) and stdio (``python -m tools.cli mcp``, a
subprocess). No targets: the numbers are reported, not judged.

Also reported (issue 13): the size of the tools/list answer (compact JSON bytes, and bytes/4 as a
rough token count) that an agent reads before doing anything, and the number of tool calls one
whole local run takes (select_flow -> preflight -> upload_dataset -> pre_submit_guard [->
setup_model_cache -> poll ... -> pre_submit_guard] -> submit -> poll ... -> stage_artifacts ->
render_side_by_side on one 2 s clip), with the polls counted separately.
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


async def _tools_list_bytes(client: Any) -> int:
    import json

    tools = (await client.list_tools()).tools
    return len(json.dumps({"tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]}, separators=(",", ":")).encode())


async def _whole_run(client: Any, root: Path, clips: Path) -> list[str]:
    """One whole local run through MCP; the names of the tools called, in order."""
    names: list[str] = []
    storage, flow = str(root / "storage" / "local"), "augmentation_and_al"

    async def ok(tool: str, **req: Any) -> dict[str, Any]:
        names.append(tool)
        result = await client.call_tool(tool, req)
        if result.is_error:
            raise RuntimeError(f"{tool} failed: {result.content}")
        return result.structured_content

    async def wait(workflow_id: str) -> None:
        for _ in range(60):
            if (await ok("poll", workflow_id=workflow_id, wait=True, interval_s=1, max_interval_s=2))["status"] not in ("PENDING", "RUNNING", "WAITING"):
                return
        raise RuntimeError(f"{workflow_id} did not finish")

    await ok("select_flow", text=f"augment my videos in {clips}")
    checked = await ok("preflight", workflow=flow, no_probe=True)
    await ok("upload_dataset", folder=str(clips), storage_url=storage, name="bench")
    values = {"flow": flow, "dataset": "bench", "storage_url": storage, "gpu_platform": checked["platforms"][0], "video": "street",
              "cosmos_model_cache_url": f"{storage}/data/models/cosmos_transfer", "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling"}
    guard = await ok("pre_submit_guard", **values)
    if guard["status"] == "cache_missing":
        await wait((await ok("setup_model_cache", **guard["remediation"]["set_string"]))["workflow_id"])
        guard = await ok("pre_submit_guard", **values)
    await wait((await ok("submit", **values, run_id=guard["run_id"]))["workflow_id"])
    staged = await ok("stage_artifacts", storage_url=storage, dataset="bench", run_id=guard["run_id"], video="street")
    await ok("render_side_by_side", run_local_dir=staged["local_run_dir"], dataset="bench", video="street")
    return names


def contract_rows(home: Path) -> list[dict]:
    """tools/list size and the tool calls of one whole local run (in process, default mode)."""
    from mcp import Client

    from skill.backends.local import LocalBackend
    from skill.engines.synthetic import make_scene
    from skill.ledger import Ledger
    from tools.mcp_server import build_server

    clips = home / "clips"
    make_scene(clips / "street.mp4", width=320, height=180, seconds=2)
    root = home / "be-run"
    with Ledger(home / "ledger-run.sqlite") as ledger:
        server = build_server(backend=LocalBackend(root=root), ledger=ledger)

        async def measure() -> tuple[int, list[str]]:
            async with Client(server) as client:
                return await _tools_list_bytes(client), await _whole_run(client, root, clips)

        size, names = anyio.run(measure)
    polls = names.count("poll")
    return [
        {"name": "tools/list bytes", "value": size, "unit": "B", "target": 20 * 1024, "notes": f"compact JSON, about {size // 4} tokens (bytes/4); issue 13 goal 20 KB"},
        {"name": "tool calls per local run", "value": len(names), "unit": "calls", "target": None,
         "notes": f"{polls} of them poll(wait); one 2 s clip, cold model cache; {' > '.join(dict.fromkeys(names))}"},
    ]


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
            rows += contract_rows(home)
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

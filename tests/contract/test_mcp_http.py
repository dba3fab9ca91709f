"""Streamable HTTP on 127.0.0.1: two clients, fifty concurrent tool calls, run states kept apart; and
``vda mcp --http`` as a real subprocess."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from skill.ledger import Ledger
from tests.fakes.backend import FakeBackend
from tools._mcp_state import SESSION_META_KEY
from tools._mcp_tools import TOOL_NAMES
from tools.mcp_server import build_server, http_server

ROOT = Path(__file__).resolve().parents[2]
FLOW = "augmentation_and_al"
CALLS_PER_CLIENT = 25


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Any]]:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HF_TOKEN", "hf_" + "Hq" * 10)
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "no-token-file"))
    ledger = Ledger(tmp_path / "ledger.sqlite")
    server = build_server(backend=FakeBackend(), ledger=ledger)
    port = free_port()
    uv = http_server(server, "127.0.0.1", port)
    thread = threading.Thread(target=uv.run, name="mcp-http", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not uv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the HTTP server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}/mcp", server
    uv.should_exit = True
    thread.join(timeout=10)
    ledger.close()


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def fan_out(client: Client, who: str, *, meta: dict[str, Any] | None, errors: list[str]) -> None:
    """CALLS_PER_CLIENT concurrent calls: a preflight (client a only) and select_flows naming who's clips."""

    async def one(i: int) -> None:
        if who == "a" and i == 0:
            result = await client.call_tool("preflight", {"req": {"workflow": FLOW, "no_probe": True}}, meta=meta)
        else:
            result = await client.call_tool("select_flow", {"req": {"text": f"augment /data/{who}/clip_{i:02d}.mp4"}}, meta=meta)
        if result.is_error:
            errors.append(text_of(result))

    if who == "a":  # the ETA first: preflight may set credentials (rule eta-before-mutation)
        await client.call_tool("select_flow", {"req": {"text": "augment my videos"}}, meta=meta)
    async with anyio.create_task_group() as tg:
        for i in range(CALLS_PER_CLIENT):
            tg.start_soon(one, i)


async def submit_probe(client: Client, meta: dict[str, Any] | None) -> str:
    values = {"flow": FLOW, "dataset": "ds", "storage_url": "s3://b/p", "gpu_platform": "gpu", "video": "clip_00", "run_id": "run-0a0b0c0d",
              "cosmos_model_cache_url": "s3://b/p/data/models/cosmos_transfer", "auto_labeling_model_cache_url": "s3://b/p/data/models/auto_labeling"}
    result = await client.call_tool("submit", {"req": values}, meta=meta)
    assert result.is_error
    return text_of(result)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_two_http_clients_fifty_concurrent_calls_keep_states_apart(served, mode: str):
    url, server = served
    errors: list[str] = []
    meta_a = {SESSION_META_KEY: "client-a"} if mode == "auto" else None
    meta_b = {SESSION_META_KEY: "client-b"} if mode == "auto" else None
    async with Client(url, mode=mode) as a, Client(url, mode=mode) as b:
        async with anyio.create_task_group() as tg:
            tg.start_soon(lambda: fan_out(a, "a", meta=meta_a, errors=errors))
            tg.start_soon(lambda: fan_out(b, "b", meta=meta_b, errors=errors))
        assert errors == []
        probe_a = await submit_probe(a, meta_a)
        probe_b = await submit_probe(b, meta_b)
        demo_a = text_of(await a.call_tool("prepare_demo_assets", {"req": {}}, meta=meta_a))
        demo_b = text_of(await b.call_tool("prepare_demo_assets", {"req": {}}, meta=meta_b))

    # only client a ran preflight; each client's inputs are its own
    assert "[preflight-before-submit]" not in probe_a and "[preflight-before-submit]" in probe_b
    assert "[no-demo-substitution]" in demo_a and "/data/a/" in demo_a and "/data/b/" not in demo_a
    assert "[no-demo-substitution]" in demo_b and "/data/b/" in demo_b and "/data/a/" not in demo_b
    states = server.session_states
    assert states.default.user_inputs == [] and not states.default.preflight_passed
    if mode == "auto":
        state_a, state_b = states.keyed("client-a"), states.keyed("client-b")
        assert sorted(state_a.user_inputs) == [f"/data/a/clip_{i:02d}.mp4" for i in range(1, CALLS_PER_CLIENT)]
        assert sorted(state_b.user_inputs) == [f"/data/b/clip_{i:02d}.mp4" for i in range(CALLS_PER_CLIENT)]
        assert state_a.preflight_passed and not state_b.preflight_passed


@pytest.mark.anyio
async def test_keyless_http_clients_cannot_borrow_each_others_preflight(served):
    """A 2026-07-28 client over HTTP carries no session: without vda/session each of its requests
    gets a fresh state, so a preflight by one keyless client never lets another submit."""
    url, server = served
    async with Client(url) as a, Client(url) as b, Client(url) as keyed:
        assert not (await a.call_tool("select_flow", {"text": "augment /data/shared/x.mp4"})).is_error
        alone = await a.call_tool("preflight", {"workflow": FLOW, "no_probe": True})  # its own ETA is not remembered either
        meta = {SESSION_META_KEY: "keyed"}
        assert not (await keyed.call_tool("select_flow", {"text": "augment my videos"}, meta=meta)).is_error
        assert not (await keyed.call_tool("preflight", {"workflow": FLOW, "no_probe": True}, meta=meta)).is_error
        probe_b = await submit_probe(b, None)
    assert alone.is_error and "[eta-before-mutation]" in text_of(alone)
    assert "[preflight-before-submit]" in probe_b
    assert server.session_states.default.user_inputs == [] and not server.session_states.default.preflight_passed


def test_vda_mcp_http_subprocess_serves_the_tools(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "VDA_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "mcp", "--backend", "local", "--http", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    try:
        async def main() -> tuple[list[str], str | None]:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    assert proc.poll() is None, proc.stderr.read().decode(errors="replace")
                    assert time.monotonic() < deadline, "vda mcp --http did not listen"
                    await anyio.sleep(0.1)
            async with Client(f"http://127.0.0.1:{port}/mcp") as client:
                names = [t.name for t in (await client.list_tools()).tools]
                result = await client.call_tool("select_flow", {"req": {"text": "label only"}})
                return names, result.structured_content["flow"]

        names, flow = anyio.run(main)
    finally:
        proc.terminate()
        out, err = proc.communicate(timeout=15)
    assert sorted(names) == sorted(TOOL_NAMES) and flow == "auto_labeling"
    assert out == b""  # nothing but the protocol may ever use stdout; over HTTP there is none
    assert f"127.0.0.1:{port}/mcp" in err.decode(errors="replace")


def test_sigterm_ends_the_http_server_within_five_seconds_with_a_session_open(tmp_path: Path):
    """A legacy client keeps its session (and its GET event stream) open; SIGTERM still ends the
    server within 5 s (uvicorn's graceful shutdown is bounded, no worker outlives its request)."""
    import signal

    port = free_port()
    env = {**os.environ, "VDA_HOME": str(tmp_path / "home"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "mcp", "--backend", "local", "--http", f"127.0.0.1:{port}"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    took: list[float] = []
    try:
        async def main() -> None:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                        break
                except OSError:
                    assert proc.poll() is None and time.monotonic() < deadline, "vda mcp --http did not listen"
                    await anyio.sleep(0.1)
            with anyio.move_on_after(20):
                async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy") as client:
                    assert not (await client.call_tool("select_flow", {"text": "augment my videos"})).is_error
                    start = time.monotonic()
                    proc.send_signal(signal.SIGTERM)
                    while proc.poll() is None and time.monotonic() - start < 10:
                        await anyio.sleep(0.05)
                    took.append(time.monotonic() - start)

        ended: list[str] = []
        try:
            anyio.run(main)
        except Exception as exc:  # the client's session ends with the server: only the timing is judged
            ended.append(type(exc).__name__)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=15)
    assert took and took[0] <= 5.0, took

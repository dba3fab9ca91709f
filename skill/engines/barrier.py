#!/usr/bin/env python3
"""A completion barrier for the tasks of one workflow group (standard library only).

Staged into task containers as ``osmo_barrier.py``. Every worker runs it when its own work is
done; rank 0 (the group lead) serves and returns only when every other rank has arrived, so the
lead's exit, which ends the whole OSMO group, never cuts a peer short.

    osmo_barrier.py --rank 0 --num_nodes 3 [--port 12344]
    osmo_barrier.py --rank 1 --num_nodes 3 --connect <lead host> [--port 12344]

Protocol (TCP, one line each way): a client sends ``"<rank>\\n"``, or ``"<rank> FAILED\\n"`` when
its own work failed (``--report-failure``); the server answers ``OK`` once all ``num_nodes - 1``
distinct ranks are in, or ``FAILED: <reason>`` at once for a bad line, a duplicate rank, a rank
outside ``[1, num_nodes-1]``, a reported failure, or the ``--timeout``. Clients retry the
connection every ``--retry-interval`` seconds (the lead may start later). ``num_nodes == 1``
releases at once. Exit 0 on OK, 1 otherwise (2 for a malformed command line).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import dataclass, field

__all__ = ["BarrierResult", "main", "run_client", "run_server"]

DEFAULT_PORT = 12344
READ_LIMIT = 64


@dataclass
class BarrierResult:
    ok: bool
    message: str


def _say(text: str) -> None:
    print(f"[barrier] {text}", flush=True)


@dataclass
class _ServerState:
    num_nodes: int
    arrived: dict[int, asyncio.StreamWriter] = field(default_factory=dict)
    outcome: BarrierResult | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def waiting_on(self) -> list[int]:
        return [r for r in range(1, self.num_nodes) if r not in self.arrived]

    def finish(self, result: BarrierResult) -> None:
        if self.outcome is not None:
            return
        self.outcome = result
        reply = ("OK" if result.ok else f"FAILED: {result.message}").encode() + b"\n"
        for writer in self.arrived.values():
            _send_and_close(writer, reply)
        self.done.set()


def _send_and_close(writer: asyncio.StreamWriter, data: bytes) -> None:
    if writer.is_closing():
        return
    writer.write(data)
    writer.close()


def _parse_line(line: bytes, num_nodes: int) -> tuple[int, bool]:
    parts = line.decode("utf-8", errors="replace").strip().split()
    if not parts or len(parts) > 2 or (len(parts) == 2 and parts[1] != "FAILED"):
        raise ValueError(f"malformed line {line[:32]!r}")
    try:
        rank = int(parts[0])
    except ValueError:
        raise ValueError(f"rank {parts[0][:16]!r} is not a number") from None
    if not 1 <= rank < num_nodes:
        raise ValueError(f"rank {rank} is outside 1..{num_nodes - 1}")
    return rank, len(parts) == 2


async def _serve_one(state: _ServerState, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if state.outcome is not None:
        _send_and_close(writer, b"FAILED: barrier already finished\n")
        return
    try:
        line = await asyncio.wait_for(reader.readline(), timeout=30)
        rank, failed = _parse_line(line, state.num_nodes)
    except (ValueError, asyncio.TimeoutError, ConnectionError) as exc:
        reason = str(exc) or "client sent nothing"
        _send_and_close(writer, f"FAILED: {reason}\n".encode())
        state.finish(BarrierResult(False, reason))
        return
    if rank in state.arrived:
        _send_and_close(writer, f"FAILED: duplicate rank {rank}\n".encode())
        state.finish(BarrierResult(False, f"duplicate rank {rank}"))
        return
    state.arrived[rank] = writer
    if failed:
        state.finish(BarrierResult(False, f"rank {rank} reported a failure"))
        return
    _say(f"rank {rank} arrived ({len(state.arrived)}/{state.num_nodes - 1})")
    if not state.waiting_on():
        state.finish(BarrierResult(True, "all ranks arrived"))
        return
    # Until release, a peer that hangs up leaves the barrier (it may reconnect with the same rank).
    eof = asyncio.ensure_future(reader.read(READ_LIMIT))
    done = asyncio.ensure_future(state.done.wait())
    finished, _pending = await asyncio.wait({eof, done}, return_when=asyncio.FIRST_COMPLETED)
    if eof in finished and state.outcome is None:
        state.arrived.pop(rank, None)
        writer.close()
        _say(f"rank {rank} disconnected before release")
    for task in (eof, done):
        task.cancel()


async def run_server(num_nodes: int, port: int, *, host: str = "0.0.0.0", timeout: float = 0, status_interval: float = 10) -> BarrierResult:
    """Serve the barrier as rank 0 until every peer arrived, a failure, or ``timeout`` (0 = none)."""
    if num_nodes == 1:
        return BarrierResult(True, "single node, released at once")
    state = _ServerState(num_nodes)
    server = await asyncio.start_server(lambda r, w: _serve_one(state, r, w), host=host, port=port, reuse_address=True)
    _say(f"rank 0 listening on {host}:{port} for {num_nodes - 1} peer(s)")
    started = time.monotonic()
    try:
        while not state.done.is_set():
            remaining = timeout - (time.monotonic() - started) if timeout > 0 else None
            if remaining is not None and remaining <= 0:
                state.finish(BarrierResult(False, f"timed out after {timeout:g}s waiting on ranks {state.waiting_on()}"))
                break
            wait = status_interval if remaining is None else min(status_interval, remaining)
            try:
                await asyncio.wait_for(state.done.wait(), timeout=wait)
            except asyncio.TimeoutError:
                _say(f"{len(state.arrived)}/{num_nodes - 1} workers connected, waiting on ranks: {state.waiting_on()}")
    finally:
        server.close()
        await server.wait_closed()
    await asyncio.sleep(0.05)  # let the replies flush before the loop ends
    assert state.outcome is not None
    return state.outcome


async def run_client(
    rank: int, host: str, port: int, *, report_failure: bool = False, retry_interval: float = 10, timeout: float = 0
) -> BarrierResult:
    """Join the barrier of ``host:port`` as ``rank``, retrying the connection until the lead listens."""
    started = time.monotonic()

    def left() -> float | None:
        return None if timeout <= 0 else timeout - (time.monotonic() - started)

    attempt = 0
    while True:
        attempt += 1
        try:
            reader, writer = await asyncio.open_connection(host, port)
            break
        except OSError as exc:  # refused, unreachable, or the lead's name does not resolve yet
            remaining = left()
            if remaining is not None and remaining <= 0:
                return BarrierResult(False, f"could not reach {host}:{port} within {timeout:g}s ({type(exc).__name__})")
            if attempt == 1 or attempt % 6 == 0:
                _say(f"rank {rank}: {host}:{port} not reachable yet ({type(exc).__name__}), retrying every {retry_interval:g}s")
            await asyncio.sleep(retry_interval if remaining is None else max(0.0, min(retry_interval, remaining)))
    writer.write(f"{rank}{' FAILED' if report_failure else ''}\n".encode())
    await writer.drain()
    try:
        remaining = left()
        reply = await asyncio.wait_for(reader.read(), timeout=None if remaining is None else max(remaining, 0.001))
    except asyncio.TimeoutError:
        return BarrierResult(False, f"no answer from {host}:{port} within {timeout:g}s")
    except ConnectionError as exc:
        return BarrierResult(False, f"connection to {host}:{port} broke ({type(exc).__name__})")
    finally:
        writer.close()
    text = reply.decode("utf-8", errors="replace").strip()
    if not text:
        return BarrierResult(False, "the lead closed the connection without an answer")
    return BarrierResult(text.startswith("OK") and not report_failure, text)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="osmo_barrier.py", description="Wait until every rank of a task group has finished.")
    parser.add_argument("--rank", type=int, required=True)
    parser.add_argument("--num_nodes", type=int, required=True)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--connect", default=None, help="the lead's host name (required when rank != 0)")
    parser.add_argument("--retry-interval", type=float, default=10.0, help="seconds between connection attempts (default 10)")
    parser.add_argument("--timeout", type=float, default=0.0, help="give up after this many seconds (default 0 = wait forever)")
    parser.add_argument("--status-interval", type=float, default=10.0, help="seconds between the lead's progress lines")
    parser.add_argument("--report-failure", action="store_true", help="tell the lead this rank's work failed, so the group fails fast")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    problems = []
    if args.num_nodes < 1:
        problems.append(f"--num_nodes must be at least 1 (got {args.num_nodes})")
    elif not 0 <= args.rank < args.num_nodes:
        problems.append(f"--rank must be in 0..{args.num_nodes - 1} (got {args.rank})")
    if args.rank != 0 and not args.connect:
        problems.append("--connect <lead host> is required when --rank is not 0")
    if not 0 < args.port < 65536:
        problems.append(f"--port must be 1..65535 (got {args.port})")
    if args.retry_interval <= 0 or args.status_interval <= 0 or args.timeout < 0:
        problems.append("--retry-interval and --status-interval must be > 0, --timeout >= 0")
    if problems:
        for problem in problems:
            print(f"ERROR: {problem}", file=sys.stderr)
        return 1
    if args.rank == 0 and args.report_failure:
        _say("rank 0 reports a failure: not waiting for peers (the lead's exit ends the group)")
        return 1
    try:
        if args.rank == 0:
            result = asyncio.run(run_server(args.num_nodes, args.port, timeout=args.timeout, status_interval=args.status_interval))
        else:
            result = asyncio.run(
                run_client(
                    args.rank,
                    args.connect,
                    args.port,
                    report_failure=args.report_failure,
                    retry_interval=args.retry_interval,
                    timeout=args.timeout,
                )
            )
    except OSError as exc:  # e.g. the lead's port is taken
        print(f"ERROR: barrier could not start on port {args.port} ({type(exc).__name__}: {exc.strerror or exc}).", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("ERROR: barrier interrupted.", file=sys.stderr)
        return 1
    if result.ok:
        _say(f"rank {args.rank}: OK ({result.message})")
        return 0
    print(f"ERROR: barrier FAILED for rank {args.rank}: {result.message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

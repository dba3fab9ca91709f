"""The completion barrier, run as real processes on loopback (as several tasks of a group would)."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

BARRIER = Path(__file__).resolve().parents[2] / "skill" / "engines" / "barrier.py"
LIMIT = "20"  # every process gives up on its own long before the test's timeout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-I", str(BARRIER), "--retry-interval", "0.1", "--status-interval", "0.5", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def client(rank: int, nodes: int, port: int, *extra: str) -> subprocess.Popen[str]:
    return start("--rank", str(rank), "--num_nodes", str(nodes), "--connect", "127.0.0.1", "--port", str(port), "--timeout", LIMIT, *extra)


def server(nodes: int, port: int, *extra: str) -> subprocess.Popen[str]:
    return start("--rank", "0", "--num_nodes", str(nodes), "--port", str(port), "--timeout", LIMIT, *extra)


def finish(proc: subprocess.Popen[str]) -> tuple[int, str]:
    out, err = proc.communicate(timeout=40)
    return proc.returncode, out + err


def test_all_ranks_release_together_even_when_peers_start_first() -> None:
    port = free_port()
    peers = [client(r, 4, port) for r in (1, 2, 3)]
    time.sleep(0.4)  # peers are retrying against a closed port
    lead = server(4, port)
    results = [finish(p) for p in [lead, *peers]]
    assert [code for code, _ in results] == [0, 0, 0, 0], results
    assert "not reachable yet" in results[1][1]
    assert "3/3" in results[0][1] or "arrived (3/3)" in results[0][1]


def test_lead_waits_for_a_late_peer() -> None:
    port = free_port()
    lead = server(3, port)
    early = client(1, 3, port)
    time.sleep(1.2)
    assert lead.poll() is None and early.poll() is None  # nobody is released while rank 2 is missing
    late = client(2, 3, port)
    assert [finish(p)[0] for p in (lead, early, late)] == [0, 0, 0]


def test_single_node_releases_at_once() -> None:
    code, out = finish(start("--rank", "0", "--num_nodes", "1", "--port", str(free_port())))
    assert code == 0 and "released at once" in out


def test_duplicate_rank_fails_everyone() -> None:
    port = free_port()
    lead = server(3, port)
    first = client(1, 3, port)
    time.sleep(0.5)
    second = client(1, 3, port)
    codes = [finish(p) for p in (lead, first, second)]
    assert [c for c, _ in codes] == [1, 1, 1], codes
    assert "duplicate rank 1" in codes[0][1]
    assert "FAILED" in codes[1][1] and "FAILED" in codes[2][1]


def test_rank_outside_the_group_fails_the_barrier() -> None:
    port = free_port()
    lead = server(3, port)
    stranger = client(5, 10, port)  # believes the group is larger than it is
    (lead_code, lead_out), (code, out) = finish(lead), finish(stranger)
    assert (lead_code, code) == (1, 1)
    assert "outside 1..2" in lead_out and "outside 1..2" in out


def test_a_reported_failure_releases_the_lead_with_failure() -> None:
    port = free_port()
    lead = server(3, port)
    ok_peer = client(2, 3, port)
    time.sleep(0.3)
    failing = client(1, 3, port, "--report-failure")
    (lead_code, lead_out), (ok_code, ok_out), (fail_code, _) = finish(lead), finish(ok_peer), finish(failing)
    assert (lead_code, ok_code, fail_code) == (1, 1, 1)
    assert "rank 1 reported a failure" in lead_out and "rank 1 reported a failure" in ok_out


def test_timeout_names_the_missing_ranks() -> None:
    port = free_port()
    lead = start("--rank", "0", "--num_nodes", "3", "--port", str(port), "--timeout", "0.6")
    code, out = finish(lead)
    assert code == 1 and "timed out" in out and "[1, 2]" in out
    lonely = start("--rank", "1", "--num_nodes", "2", "--connect", "127.0.0.1", "--port", str(port), "--timeout", "0.4")
    code, out = finish(lonely)
    assert code == 1 and "could not reach" in out


def test_a_peer_that_hangs_up_early_may_come_back() -> None:
    port = free_port()
    lead = server(3, port)
    for _ in range(50):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"1\n")
            break
        except OSError:
            time.sleep(0.1)
    time.sleep(0.3)
    assert lead.poll() is None  # the hung-up rank does not count as arrived
    again, other = client(1, 3, port), client(2, 3, port)
    assert [finish(p)[0] for p in (again, other, lead)] == [0, 0, 0]


@pytest.mark.parametrize(
    "args",
    [
        ["--rank", "1", "--num_nodes", "2"],  # no --connect
        ["--rank", "2", "--num_nodes", "2", "--connect", "h"],
        ["--rank", "-1", "--num_nodes", "2", "--connect", "h"],
        ["--rank", "0", "--num_nodes", "0"],
    ],
)
def test_bad_rank_arguments_exit_1(args: list[str]) -> None:
    code, out = finish(start(*args))
    assert code == 1 and "ERROR:" in out


def test_lead_reporting_failure_exits_1_without_waiting() -> None:
    code, out = finish(start("--rank", "0", "--num_nodes", "3", "--port", str(free_port()), "--report-failure"))
    assert code == 1 and "not waiting" in out

"""Fixtures shared by the whole suite, and the ``slow`` marker's reach.

Layout: ``unit/`` tests one module with real collaborators, ``contract/`` tests an interface
(backends, MCP, CLI, worker scripts, the OSMO double and, in ``contract/conformance``, OSMO's and
the containers' own code), ``e2e/`` runs whole jobs. Everything under ``e2e/`` is ``slow``, as are
the modules that encode real video (``SLOW_MODULES``); ``-m "not slow"`` is the fast loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from skill.ledger import Ledger

SLOW_MODULES = frozenset({
    # encode or decode real video
    "test_augment", "test_label_classic", "test_label_nim", "test_compare", "test_compare_tee", "test_worker_scripts",
    "test_cli_canary", "test_synthetic", "test_real_footage", "test_label_overlay", "test_augment_passes",
    # run whole local workflows, real client processes or timed fault scenarios
    "test_mcp_clients_ts", "test_hostile_osmo_faults", "test_local_gang_rule", "test_local_backend", "test_mcp_http",
    "test_nim_gate", "test_local_signal", "test_local_warm", "test_mcp_engines",
})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        path = Path(str(item.path))
        if "e2e" in path.parts or path.stem in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    with Ledger(tmp_path / "ledger.sqlite") as opened:
        yield opened


@pytest.fixture(autouse=True)
def _own_eta_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs refine this machine's ETA model (skill.eta_model); in tests each keeps its own."""
    monkeypatch.setenv("VDA_ETA_STORE", str(tmp_path / "eta-store" / "local.json"))


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    """Say how many tests were skipped and why, grouped by reason, without needing ``-rs``: the
    tests that need a checkout (VDA_OSMO_SOURCE, VDA_PAIDF_*, VDA_INFRA_SKILL_SOURCE) skip as a
    group and name the variable."""
    from collections import Counter

    reasons: Counter[str] = Counter()
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
        reasons[reason.removeprefix("Skipped: ")] += 1
    if reasons:
        terminalreporter.section(f"{sum(reasons.values())} skipped, by reason")
        for reason, count in reasons.most_common():
            terminalreporter.line(f"{count:4d}  {reason}")


@pytest.fixture
def local_server(home: Path) -> Iterator[object]:
    """The MCP server over a local backend and a ledger under the test's ``home`` (each module that
    uses it defines ``home``: where VDA_HOME points, plus what else its tests set)."""
    from skill.backends.local import LocalBackend
    from tools.mcp_server import build_server

    ledger = Ledger(home / "ledger.sqlite")
    yield build_server(backend=LocalBackend(root=home / "be"), ledger=ledger)
    ledger.close()

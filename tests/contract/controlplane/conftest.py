"""The real OSMO 6.3.1 control plane as a session fixture (see ``stack.py``).

Skipped as a whole unless ``VDA_OSMO_SOURCE`` (an OSMO 6.3.1 checkout) is set: CI machines do not
have the source, and it is never committed. The control plane's Python 3.12 venv (OSMO's locked
requirements plus ``moto``) is built on first use and cached under ``~/.cache/vda-skill``;
``VDA_OSMO_CP_PYTHON`` names one you built yourself instead. ``VDA_OSMO_PYTHON`` (the conformance
tests' CLI interpreter) is not used here: it has no ``moto``.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.controlplane.stack import ControlPlane, StackError, from_env

SKIP_REASON = ("VDA_OSMO_SOURCE is not set: the OSMO control-plane tests need an OSMO 6.3.1 checkout "
               "(its venv is built on first use; see tests/contract/controlplane/conftest.py)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "no_controlplane: runs without VDA_OSMO_SOURCE (reads only our own code)")


@pytest.fixture(scope="session")
def controlplane() -> Iterator[ControlPlane]:
    if not os.environ.get("VDA_OSMO_SOURCE"):
        pytest.skip(SKIP_REASON)
    root = Path(tempfile.mkdtemp(prefix="vda-osmo-cp-"))
    plane: ControlPlane | None = None
    try:
        plane = from_env(root)
        assert plane is not None
        plane.start()
    except (StackError, OSError) as exc:
        if plane is not None:
            plane.stop()
        pytest.fail(f"OSMO control plane did not come up: {exc}", pytrace=False)
    print(f"\nOSMO control plane up in {plane.bringup_s:.1f}s at {plane.url} (logs in {root / 'logs'})")
    try:
        yield plane
    finally:
        plane.stop()
        left = plane.leftovers()
        if os.environ.get("VDA_OSMO_KEEP_LOGS") is None and not left:
            import shutil

            shutil.rmtree(root, ignore_errors=True)
        assert not left, f"processes left running after tear-down: {left}"


@pytest.fixture(autouse=True)
def _needs_source(request: pytest.FixtureRequest) -> None:
    # tests that only read our own code (the inventory in test_backend_calls.py) run everywhere
    if not os.environ.get("VDA_OSMO_SOURCE") and "no_controlplane" not in request.keywords:
        pytest.skip(SKIP_REASON)


@pytest.fixture()
def osmo_backend(controlplane: ControlPlane):
    from skill.backends.osmo import OsmoBackend

    return OsmoBackend(executable=str(controlplane.osmo), timeout=60, retries=1, backoff=0.2)

"""The real OSMO 6.3.1 control plane as a session fixture (see ``stack.py``).

Skipped as a whole unless ``VDA_OSMO_SOURCE`` (an OSMO 6.3.1 checkout) and ``VDA_OSMO_PYTHON``
(a Python 3.12 interpreter with OSMO's locked requirements and ``moto``) are set: CI machines do
not have the source, and it is never committed.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract.controlplane.stack import ControlPlane, StackError, from_env

SKIP_REASON = ("OSMO control-plane tests need VDA_OSMO_SOURCE (an OSMO 6.3.1 checkout) and VDA_OSMO_PYTHON "
               "(Python 3.12 with OSMO's locked requirements + moto); not set")


@pytest.fixture(scope="session")
def controlplane() -> Iterator[ControlPlane]:
    root = Path(tempfile.mkdtemp(prefix="vda-osmo-cp-"))
    plane = from_env(root)
    if plane is None:
        pytest.skip(SKIP_REASON)
    try:
        plane.start()
    except (StackError, OSError) as exc:
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
def _needs_source() -> None:
    if not (os.environ.get("VDA_OSMO_SOURCE") and os.environ.get("VDA_OSMO_PYTHON")):
        pytest.skip(SKIP_REASON)


@pytest.fixture()
def osmo_backend(controlplane: ControlPlane):
    from skill.backends.osmo import OsmoBackend

    return OsmoBackend(executable=str(controlplane.osmo), timeout=60, retries=1, backoff=0.2)

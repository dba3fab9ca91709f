"""Conformance tests run the real upstream code against what this project builds.

They need checkouts that are not part of this repository, named by environment variables:

    VDA_OSMO_SOURCE        a checkout of NVIDIA/OSMO at tag 6.3.1 (holds src/cli/main_parser.py)
    VDA_OSMO_PYTHON        a python3.12 with the packages OSMO's CLI imports (the upstream code
                           runs in that interpreter, in a subprocess, never in the test process)
    VDA_PAIDF_AL_SOURCE    a checkout of NVIDIA/paidf-auto-labeling
    VDA_PAIDF_AUG_SOURCE   a checkout of NVIDIA/paidf-augmentation

``scripts/dev/conformance_setup.sh`` builds the interpreter and prints the lines to export. A test
asking for a fixture whose variable is unset is skipped with the variable named; a variable that
is set but points at the wrong thing fails the test (a misconfiguration must not look like a pass).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

_SETUP = "see scripts/dev/conformance_setup.sh"


def _from_env(name: str, what: str, marker: str) -> Path:
    raw = os.environ.get(name, "").strip()
    if not raw:
        pytest.skip(f"{name} is not set: it names {what} ({_SETUP})")
    path = Path(raw).expanduser()
    if not (path / marker).exists():
        pytest.fail(f"{name}={raw} does not look like {what}: {marker} is missing there")
    return path.resolve()


@pytest.fixture(scope="session")
def osmo_source() -> Path:
    """Root of the NVIDIA/OSMO 6.3.1 checkout (the folder holding ``src/``)."""
    return _from_env("VDA_OSMO_SOURCE", "a checkout of NVIDIA/OSMO at 6.3.1", "src/cli/main_parser.py")


@pytest.fixture(scope="session")
def osmo_python(osmo_source: Path) -> Path:
    """A python3.12 able to import OSMO's CLI (its locked requirements installed)."""
    raw = os.environ.get("VDA_OSMO_PYTHON", "").strip()
    if not raw:
        pytest.skip(f"VDA_OSMO_PYTHON is not set: it names a python3.12 with OSMO's CLI requirements ({_SETUP})")
    path = Path(raw).expanduser()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"VDA_OSMO_PYTHON={raw} is not an executable file")
    return path


@pytest.fixture(scope="session")
def paidf_al_source() -> Path:
    """Root of the NVIDIA/paidf-auto-labeling checkout."""
    return _from_env("VDA_PAIDF_AL_SOURCE", "a checkout of NVIDIA/paidf-auto-labeling", "modules")


@pytest.fixture(scope="session")
def paidf_aug_source() -> Path:
    """Root of the NVIDIA/paidf-augmentation checkout."""
    return _from_env("VDA_PAIDF_AUG_SOURCE", "a checkout of NVIDIA/paidf-augmentation", "modules")

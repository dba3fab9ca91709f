"""Bring-up and tear-down of OSMO 6.3.1's real control plane (tests/contract/controlplane/stack.py):
PostgreSQL from an empty data folder, Redis, moto S3, core, worker, delayed-job monitor, stand-in
agents, login, WORKFLOW config and a storage credential, until the pool is ONLINE (target < 120 s
on 2 cores). Then stop: every process group gone (target: 0 left).

Skipped (one row saying why) unless VDA_OSMO_SOURCE is set, as the tests are (OSMO's venv is built
on first use and cached; its build time is not counted).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path


def run(quick: bool) -> list[dict]:
    from tests.contract.controlplane.stack import StackError, from_env

    rounds = 1 if quick else 3
    rows: list[dict] = []
    for index in range(rounds):
        root = Path(tempfile.mkdtemp(prefix="vda-bench-cp-"))
        try:
            plane = from_env(root)
        except StackError as exc:
            shutil.rmtree(root, ignore_errors=True)
            return rows + [{"name": "control plane bring-up", "value": None, "unit": "s", "target": "< 120",
                            "notes": f"failed: {str(exc).splitlines()[0][:200]}"}]
        if plane is None:
            shutil.rmtree(root, ignore_errors=True)
            return [{"name": "control plane bring-up", "value": None, "unit": "s", "target": "< 120",
                     "notes": "skipped: VDA_OSMO_SOURCE not set"}]
        try:
            plane.start()
        except (StackError, OSError) as exc:
            plane.stop()
            shutil.rmtree(root, ignore_errors=True)
            return rows + [{"name": "control plane bring-up", "value": None, "unit": "s", "target": "< 120",
                            "notes": f"failed: {str(exc).splitlines()[0][:200]}"}]
        began = time.monotonic()
        plane.stop()
        left = plane.leftovers()
        stop_s = time.monotonic() - began
        shutil.rmtree(root, ignore_errors=True)
        rows.append({"name": f"control plane bring-up #{index + 1}", "value": round(plane.bringup_s, 2), "unit": "s", "target": "< 120",
                     "notes": "empty database to pool ONLINE"})
        rows.append({"name": f"control plane tear-down #{index + 1}", "value": round(stop_s, 2), "unit": "s", "target": "",
                     "notes": f"{len(left)} process(es) left"})
    return rows

"""Bring OSMO 6.3.1's real control plane up by hand, for debugging the control-plane tests.

    VDA_OSMO_SOURCE=/path/to/OSMO-6.3.1 .venv/bin/python scripts/dev/osmo_controlplane.py

(the first run builds OSMO's venv under ~/.cache/vda-skill, a few minutes; VDA_OSMO_CP_PYTHON
names one of your own instead)

Prints the service URL, the `osmo` wrapper to use and the log folder, then waits for Ctrl-C and
tears everything down (deadline, then SIGKILL of every process group).
"""

from __future__ import annotations

import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.contract.controlplane.stack import ControlPlane, StackError, from_env  # noqa: E402


def _interrupt(signum, frame):  # SIGTERM stops it like Ctrl-C, so the tear-down runs
    raise KeyboardInterrupt


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        plane: ControlPlane | None = from_env(Path(tempfile.mkdtemp(prefix="vda-osmo-cp-")))
    except StackError as exc:
        print(f"bring-up failed: {exc}", file=sys.stderr)
        return 1
    if plane is None:
        print("Set VDA_OSMO_SOURCE to an OSMO 6.3.1 checkout.", file=sys.stderr)
        return 2
    try:
        plane.start()
        print(f"up in {plane.bringup_s:.1f}s\nservice: {plane.url}\ncli:     {plane.osmo}\ns3:      {plane.s3_url}\n"
              f"logs:    {plane.root / 'logs'}\nCtrl-C to stop.", flush=True)
        while True:
            time.sleep(3600)
    except StackError as exc:
        print(f"bring-up failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        plane.stop()
        left = plane.leftovers()
        print(f"stopped; left running: {left or 'nothing'}")


if __name__ == "__main__":
    sys.exit(main())

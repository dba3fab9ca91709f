#!/usr/bin/env python3
"""Upstream's script name for the group completion barrier; the code is skill/engines/barrier.py.

Workflows stage skill/engines/barrier.py itself as /tmp/vda/osmo_barrier.py (it needs only the
standard library). This entry is for running it from a checkout with the same flags:
    scripts/osmo_barrier.py --rank R --num_nodes N [--connect HOST] [--port 12344]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skill.engines.barrier import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

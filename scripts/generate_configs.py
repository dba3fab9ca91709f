#!/usr/bin/env python3
"""Upstream's script name for per-video config generation; the code is skill/engines/configs.py.

Workflows stage skill/engines/configs.py itself as /tmp/vda/generate_configs.py (standard library
plus PyYAML). This entry runs it from a checkout with upstream's arguments:
    scripts/generate_configs.py <input_videos_dir> <config_dir> <output_dir> [--n-augmentations N] [--cookbook NAME]
Exit 0 on success, 1 on a usage or input error.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from skill.engines.configs import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())

"""Start-up cost of the engines as a property: each engine process imports what its own work needs
and nothing it may never use (SciPy for the tracker's small assignments, the nim engine's HTTP
client, the chat/MCP clients). Fresh interpreters; no timing. (``vda flow`` and ``vda policy
check-command`` are covered by ``test_import_cost.py``.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NEVER = ("scipy", "httpx", "httpx2", "anthropic", "mcp", "openai", "requests")


def _loaded(statement: str) -> list[str]:
    code = (f"import json, sys\n{statement}\n"
            f"print(json.dumps(sorted({{n.split('.')[0] for n in sys.modules}} & set({list(NEVER)!r}))))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", ["skill.engines.label", "skill.engines.augment"])
def test_engine_imports_stay_light(module):
    assert _loaded(f"import {module}") == []


def test_building_a_label_request_and_config_stays_light(tmp_path):
    """Parsing the CLI and the cookbook config (what every label task does first) loads none of them."""
    statement = (
        "from pathlib import Path\nfrom skill.engines.label import build_parser, _load_config\n"
        "from skill.paths import cookbooks_dir\n"
        "build_parser().parse_args(['--engine', 'classic', '--video', 'v.mp4', '--output-dir', 'o', '--config', 'c.yaml'])\n"
        "_load_config(cookbooks_dir() / 'city_traffic' / 'auto_labeling' / 'auto_labeling_config.yaml')"
    )
    assert _loaded(statement) == []


def test_the_check_can_fail():
    assert _loaded("import skill.engines.label\nimport scipy.optimize") == ["scipy"]

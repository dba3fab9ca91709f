"""Start-up cost as a property: routing a flow and judging a command load none of the heavy modules.

Each case runs in a fresh interpreter (a subprocess), drives ``tools.cli.main`` exactly as the ``vda``
entry point does, then reports which heavy top-level packages ended up in ``sys.modules``. No timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("scipy", "cv2", "av", "numpy", "anthropic", "mcp", "httpx")

_PROBE = """
import contextlib, io, json, sys
from tools.cli import main
with contextlib.redirect_stdout(io.StringIO()):
    code = main(json.loads(sys.argv[1]))
loaded = sorted({name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[2])))
print(json.dumps({"code": code, "loaded": loaded}))
"""


def _probe(argv: list[str], code: str = _PROBE) -> dict:
    proc = subprocess.run([sys.executable, "-c", code, json.dumps(argv), json.dumps(HEAVY)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("argv", [
    ["flow", "augment my clips with rain and label them"],
    ["flow", "--list", "--json"],
    ["--log-level", "INFO", "flow", "label my videos"],
    ["policy", "check-command", "--", "osmo workflow submit wf.yaml"],
    ["policy", "check-command", "--json", "--", "rm -rf /"],
])
def test_light_commands_import_no_heavy_module(argv):
    result = _probe(argv)
    assert result["loaded"] == [], f"vda {' '.join(argv)} imported {result['loaded']}"


def test_label_engine_import_does_not_load_scipy():
    code = ("import json, sys\nimport skill.engines.label\n"
            "print(json.dumps({'code': 0, 'loaded': sorted(n for n in ('scipy',) if n in sys.modules)}))\n")
    assert _probe([], code)["loaded"] == []


def test_probe_detects_a_heavy_import():
    """The property can fail: a command that does need numpy is seen loading it."""
    code = _PROBE.replace("from tools.cli import main", "import numpy\nfrom tools.cli import main")
    assert "numpy" in _probe(["flow", "--list"], code)["loaded"]


def test_only_the_named_command_is_parsed_and_the_rest_keep_full_usage(capsys):
    from tools.cli import COMMANDS, _named_command, main

    assert _named_command(["flow", "x"]) == "flow"
    assert _named_command(["--log-level", "DEBUG", "policy", "rules"]) == "policy"
    assert _named_command(["--log-level=DEBUG", "poll"]) == "poll"
    assert _named_command(["--help"]) is None
    assert _named_command(["nosuch"]) is None
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    usage = capsys.readouterr().out
    assert all(name in usage for name in COMMANDS)
    with pytest.raises(SystemExit) as exc:
        main(["nosuch"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err

"""Every ``vda`` command, every text option, under hostile values (issue 14), run in process.

Whatever the value, the command ends with exit 0, 1 (a coded ``Error: [code] ...``, or the guard's
failed checks in upstream's ``ERROR:`` lines) or 2 (usage),
never a traceback; a failure never quotes a value that is not plain, nor the secret; no injected
command runs and nothing is written outside the test's folder. The backend is the local one; the
one network edge reached (Hugging Face, for a run with no input) is a closed loopback port.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from skill.steps import demo
from tests.contract.test_hostile_sweep import MARK, SECRET, hostile, quoted
from tools.cli import build_parser, main

STORAGE = "/tmp/vda-sweep-storage-unused"
# a well-formed call of each command; one option at a time is then replaced (commands that start a
# server, an agent, or judge commands on purpose are left out: mcp, chat, policy, eval, skill, nim)
BASES: dict[str, list[str]] = {
    "run": ["run", "--flow", "augmentation_and_al"],
    "flow": ["flow", "augment my clips"],
    "render": ["render", "auto_labeling", "--set-string", "dataset=d", "run_id=run-1a2b3c4d", f"storage_url={STORAGE}",
               "gpu_platform=gpu", "video=clip"],
    "preflight": ["preflight", "--no-probe"],
    "guard": ["guard", "auto_labeling", "--dataset", "d", "--storage-url", STORAGE, "--gpu-platform", "gpu", "--video", "clip"],
    "submit": ["submit", "auto_labeling", "--dataset", "d", "--storage-url", STORAGE, "--gpu-platform", "gpu", "--video", "clip"],
    "stage": ["stage", "--storage-url", STORAGE, "--dataset", "d", "--run-id", "run-1a2b3c4d", "--video", "clip"],
    "compare": ["compare", "--run-local-dir", "runs/run-1a2b3c4d", "--dataset", "d", "--video", "clip"],
    "demo": ["demo", "media/vda/inputs/vda-demo"],
    "upload": ["upload", "videos", "--storage-url", STORAGE, "--name", "clips"],
    "logs": ["logs", "vda-demo-1"],
    "poll": ["poll", "vda-demo-1"],
}


def text_options(command: str) -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return sorted(
        a.option_strings[-1] for a in sub.choices[command]._actions
        if a.option_strings and isinstance(a, (argparse._StoreAction, argparse._AppendAction)) and a.type in (None, str) and not a.choices
        and a.nargs in (None, "?") and a.dest != "log_level"
    )


CASES = [(command, option) for command in BASES for option in text_options(command)]


@pytest.fixture(scope="module")
def place(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("cli-sweep")
    patch = pytest.MonkeyPatch()
    patch.setenv("VDA_HOME", str(root))
    patch.setenv("VDA_BACKEND", "local")
    patch.setenv("NGC_API_KEY", SECRET)
    patch.delenv("VDA_OUTPUT_ROOTS", raising=False)
    patch.delenv("VDA_DEBUG", raising=False)
    patch.setattr(demo, "HF_ENDPOINT", "http://127.0.0.1:9")
    patch.chdir(root)
    (root / "videos").mkdir()
    yield root, root / f"touched-{MARK}"
    patch.undo()


@pytest.mark.parametrize(("command", "option"), CASES, ids=[f"{c}{o}" for c, o in CASES])
def test_a_hostile_option_ends_coded_and_changes_nothing_outside(command: str, option: str, place, capsys):
    root, touch = place
    for kind, value in hostile(touch).items():
        if kind == "nul":
            continue  # no process can receive a NUL inside an argument; MCP covers it
        argv = [*BASES[command], option, value]
        try:
            code = main(argv)
        except SystemExit as exc:  # argparse's usage errors
            code = exc.code
        out, err = capsys.readouterr()
        where = f"vda {command} {option} <{kind}>"
        assert code in (0, 1, 2), (where, code)
        assert "Traceback" not in out + err, where
        assert SECRET not in out + err, where
        if code == 1:  # a coded error; the guard reports its failed checks as upstream's guard does
            assert "Error: [" in err or (command == "guard" and "ERROR: " in out + err), (where, (out + err)[-300:])
        if code and kind != "absolute":
            assert not quoted(value, out + err), (where, (out + err)[-300:])
    assert not touch.exists(), "an injected command ran"
    assert not any(MARK in p.name for base in (Path("/tmp"), Path("/etc"), root.parent) for p in base.iterdir())

#!/usr/bin/env python3
"""A faulty ``osmo``: the OSMO double (:mod:`tests.fakes.osmo_cli`) behind a wrapper that misbehaves
on chosen commands, for the fault-matrix tests (issue 14).

:class:`FaultyOsmo` installs the double and a second shim, ``<root>/osmo-faulty``, that runs this
script. Faults live in ``<root>/osmo_faults.json``: ``{"workflow submit": "create-then-exit-10", ...}``
(the key is the double's: module plus first sub-command word); a value may also be a list, consumed
one mode per call, the last one sticking. Modes:

    hang                 never exits (the caller's timeout must end it)
    garbage              exit 0 with binary junk, ANSI escapes and an HTML error page
    partial-json         exit 0 with the first half of a JSON answer
    exit-<N>             exit N with no output at all (1, 2, 10, 75, 137, ...)
    slow                 answers correctly after ``slow_s`` seconds (default 0.5: well inside a 2 s CLI timeout, even on a loaded machine)
    create-then-exit-10  the double really runs (a submit creates the workflow), its answer is
                         dropped and the CLI's server-error text is printed with exit 10
    create-then-hang     the double really runs, then the process hangs
    create-then-garbage  the double really runs, then junk is printed with exit 0
    ok                   the double answers as usual

It also answers the two read commands the submit step's lookup needs and the double lacks:
``workflow list [--name S] [--count N] [--order asc|desc] --format-type json`` (the service's
``{"workflows": [{"name": ...}], "more_entries": false}``) and ``workflow spec ID`` (the rendered
values of that submission, one ``key: value`` line each), both from the double's state file.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["FAULT_MODES", "FaultyOsmo", "main"]

FAULT_MODES = (
    "hang", "garbage", "partial-json", "exit-1", "exit-2", "exit-10", "exit-75", "exit-137", "slow",
    "create-then-exit-10", "create-then-hang", "create-then-garbage",
)
_GARBAGE = b"\x1b[31m\xff\xfe\x00<html><body>502 Bad Gateway</body></html>\x1b[0m\n\x89PNG\r\n"
_PARTIAL = '{"name": "vda-demo-1", "overview": "https://osmo.exam'
_SERVER_ERROR = "Error message: Server responded with status code 504: upstream request timeout\nError code: 504\n"

sys.path.insert(0, str(Path(__file__).resolve().parent))
import osmo_cli  # noqa: E402  (the double beside this file; stdlib only, so the shim starts fast)


class FaultyOsmo:
    """The OSMO double plus a faulty shim. ``executable`` is the path to hand to ``OsmoBackend``."""

    def __init__(self, root: Path, scenario: dict[str, Any] | None = None) -> None:
        self.double = osmo_cli.install(Path(root), scenario)
        self.root = Path(root)
        self.faults_path = self.root / "osmo_faults.json"
        self.executable = str(self.root / "osmo-faulty")
        self.set_faults({})
        shim = (
            "#!/bin/sh\n"
            f'OSMO_DOUBLE_SCENARIO="{self.double.scenario_path}"\n'
            f'OSMO_FAULTS="{self.faults_path}"\n'
            "export OSMO_DOUBLE_SCENARIO OSMO_FAULTS\n"
            f'exec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n'
        )
        Path(self.executable).write_text(shim, encoding="utf-8")
        os.chmod(self.executable, 0o755)

    def set_faults(self, faults: dict[str, str | list[str]], *, slow_s: float = 0.5) -> None:
        self.faults_path.write_text(json.dumps({"faults": faults, "slow_s": slow_s, "counters": {}}), encoding="utf-8")

    def submitted(self) -> list[dict[str, Any]]:
        """Every workflow the double created (what the cluster would hold)."""
        return list(self.double.state().get("submitted", []))

    def calls(self) -> list[list[str]]:
        return self.double.calls()


# --- the script ---------------------------------------------------------------------------------------


def _key(argv: list[str]) -> str:
    args = argv[2:] if argv[:1] == ["--log-level"] else argv
    if not args:
        return ""
    rest = list(args[1:])
    while rest[:1] and rest[0] in ("--format-type", "-t"):  # credential takes the format before its sub-command
        rest = rest[2:]
    words = [w for w in rest if not w.startswith("-")][:1]
    return f"{args[0]} {words[0]}" if words and args[0] != "version" else args[0]


def _mode(faults_path: Path, key: str) -> tuple[str, float]:
    data = json.loads(faults_path.read_text(encoding="utf-8"))
    wanted = data["faults"].get(key, "ok")
    if isinstance(wanted, list):
        counters = data.setdefault("counters", {})
        index = counters.get(key, 0)
        counters[key] = index + 1
        faults_path.write_text(json.dumps(data), encoding="utf-8")
        wanted = wanted[min(index, len(wanted) - 1)] if wanted else "ok"
    return str(wanted), float(data.get("slow_s", 0.5))


def _state() -> dict[str, Any]:
    scenario = json.loads(Path(os.environ["OSMO_DOUBLE_SCENARIO"]).read_text(encoding="utf-8"))
    path = Path(scenario["state"])
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def _option(args: list[str], name: str, default: str | None = None) -> str | None:
    for i, token in enumerate(args):
        if token == name and i + 1 < len(args):
            return args[i + 1]
        if token.startswith(name + "="):
            return token.split("=", 1)[1]
    return default


def _workflow_list(args: list[str]) -> int:
    name = _option(args, "--name") or _option(args, "-n") or ""
    count = int(_option(args, "--count") or _option(args, "-c") or 20)
    found = [item["id"] for item in _state().get("submitted", []) if name in item["id"]]
    newest_first = list(reversed(found))[:count]
    order = newest_first if (_option(args, "--order") or "asc") == "desc" else list(reversed(newest_first))
    entries = [{"name": wid, "user": "tester", "status": "PENDING", "pool": None} for wid in order]
    sys.stdout.write(json.dumps({"workflows": entries, "more_entries": False}, indent=2) + "\n")
    return 0


def _workflow_spec(args: list[str]) -> int:
    wid = next((a for a in args[2:] if not a.startswith("-")), None)
    item = next((i for i in _state().get("submitted", []) if i["id"] == wid), None)
    if item is None:
        sys.stdout.write(f"Error message: Workflow {wid} not found.\nError code: 404\n")
        return 2
    lines = ["workflow:", f"  name: {wid.rsplit('-', 1)[0]}", "  env:"] + [f"    {k}: {v}" for k, v in sorted(item["values"].items())]
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def _run_double(argv: list[str], *, quiet: bool) -> int:
    if not quiet:
        return osmo_cli.main(argv)
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        return osmo_cli.main(argv)


def _answer(args: list[str], key: str) -> int:
    """What a healthy CLI prints: the two lookup commands here, everything else by the double."""
    if key == "workflow list":
        return _workflow_list(args)
    if key == "workflow spec":
        return _workflow_spec(args)
    return _run_double(args, quiet=False)


def _hang() -> int:
    while True:
        time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    key = _key(args)
    mode, slow_s = _mode(Path(os.environ["OSMO_FAULTS"]), key)
    if mode == "ok":
        return _answer(args, key)
    if mode == "hang":
        return _hang()
    if mode == "garbage":
        sys.stdout.buffer.write(_GARBAGE)
        sys.stdout.flush()
        return 0
    if mode == "partial-json":
        sys.stdout.write(_PARTIAL)
        return 0
    if mode.startswith("exit-"):
        return int(mode.split("-", 1)[1])
    if mode == "slow":
        time.sleep(slow_s)
        return _answer(args, key)
    if mode.startswith("create-then-"):
        _run_double(args, quiet=True)
        if mode == "create-then-exit-10":
            sys.stdout.write(_SERVER_ERROR)
            return 10
        if mode == "create-then-hang":
            return _hang()
        sys.stdout.buffer.write(_GARBAGE)
        return 0
    sys.stderr.write(f"osmo_faults: unknown mode {mode!r}\n")
    return 99


if __name__ == "__main__":
    sys.exit(main())

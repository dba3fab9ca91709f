"""Parse argv lists with OSMO's own CLI parser. Runs in OSMO's interpreter (python3.12), not ours.

    VDA_OSMO_PYTHON osmo_argv_driver.py <osmo checkout>  < argv-lists.json  > results.json

stdin: a JSON list of argv lists (without the leading ``osmo``). stdout: one JSON object per list,
``{"ok": true, "args": {...}}`` with the parsed namespace (plain values only; enums by name,
callables dropped) or ``{"ok": false, "error": "..."}`` with what argparse printed. OSMO's modules
import as ``src.cli...``, so the checkout root (the parent of ``src``) goes on ``sys.path``.
Stdlib only on our side; nothing is executed beyond building the parser and parsing.
"""

from __future__ import annotations

import contextlib
import enum
import io
import json
import sys


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return repr(value)


def parse_all(source: str, argv_lists: list[list[str]]) -> list[dict]:
    sys.path.insert(0, source)
    from src.cli import main_parser  # noqa: PLC0415  (needs the path above)

    results = []
    for argv in argv_lists:
        parser = main_parser.create_cli_parser()
        said = io.StringIO()
        try:
            with contextlib.redirect_stderr(said), contextlib.redirect_stdout(said):
                namespace = parser.parse_args(argv)
        except SystemExit as exc:
            results.append({"ok": False, "error": f"exit {exc.code}: {said.getvalue().strip()[-600:]}"})
            continue
        except Exception as exc:  # a type= validator raising OSMO's own errors
            results.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
            continue
        args = {k: _plain(v) for k, v in vars(namespace).items() if not callable(v)}
        results.append({"ok": True, "args": args})
    return results


def main() -> int:
    if len(sys.argv) != 2:
        sys.stderr.write("usage: osmo_argv_driver.py <osmo checkout> < argv-lists.json\n")
        return 2
    json.dump(parse_all(sys.argv[1], json.load(sys.stdin)), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The ``vda`` command. Each subcommand lives in ``tools/commands/<name>.py`` with two functions:
``add_parser(subparsers)`` and ``run(args) -> int``. This module only dispatches, prints errors
(one place, like huggingface_hub's CLI) and sets exit codes: 0 ok, 1 failure, 2 usage.

Every argument is untrusted: a value that looks like a secret (``nvapi-…``, ``hf_…``, ``sk-ant-…``)
is refused before the command runs (rule ``no-secret-echo``, as MCP refuses it), and argparse's own
usage errors are redacted, so a token typed by mistake is never printed, stored or used in a name.
``vda policy`` is exempt from the refusal: judging commands that hold tokens is its job.
"""

from __future__ import annotations

import argparse
import atexit
import importlib
import logging
import os
import sys
import threading

from pydantic import ValidationError

from skill.errors import InputError, PolicyDenied, SkillError
from skill.secrets import redact, token_shaped
from tools.backends import default_backend_name
from tools.output import emit_error

__all__ = ["COMMANDS", "build_parser", "entry", "main"]

COMMANDS: tuple[str, ...] = (
    "run",
    "flow",
    "render",
    "policy",
    "preflight",
    "guard",
    "submit",
    "poll",
    "stage",
    "compare",
    "demo",
    "upload",
    "nim",
    "logs",
    "mcp",
    "chat",
    "eval",
    "skill",
)


def _command_modules(names: tuple[str, ...] = COMMANDS):
    for name in names:
        yield importlib.import_module(f"tools.commands.{name}")


def _named_command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names, if it names exactly one known command before any other positional.

    Used to import only that command's module (start-up cost); anything else (``--help``, a typo, no
    command) falls back to the full parser so usage and errors are unchanged."""
    i = 0
    while i < len(argv):
        token = argv[i]
        if token == "--log-level":
            i += 2
            continue
        if token.startswith("--log-level="):
            i += 1
            continue
        if token.startswith("-"):
            return None
        return token if token in COMMANDS else None
    return None


class _RedactingParser(argparse.ArgumentParser):
    """argparse quotes the offending token in usage errors ("unrecognized arguments: --token …"):
    redact the message before it is printed. Subparsers inherit the class."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {redact(message)}\n")


_EXEMPT_FROM_SECRET_CHECK = frozenset({"tools.commands.policy"})


def _secret_argument(args: argparse.Namespace) -> str | None:
    """The name of the first option whose value is token-shaped, or None. (A known secret's plain
    value inside free text is redacted on the way out instead; refusing it would reveal it is one.)"""
    if getattr(getattr(args, "handler", None), "__module__", None) in _EXEMPT_FROM_SECRET_CHECK:
        return None  # (args.command may be a positional of the subcommand, so the handler names it)
    for name, value in vars(args).items():
        values = value if isinstance(value, (list, tuple)) else [value]
        if any(isinstance(v, str) and token_shaped(v) for v in values):
            return name
    return None


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    parser = _RedactingParser(
        prog="vda",
        description="Video data augmentation and auto-labeling workflows, on OSMO or on this machine.",
    )
    parser.add_argument("--log-level", default=os.environ.get("VDA_LOG_LEVEL", "WARNING"), help="stderr log level")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _command_modules((only,) if only in COMMANDS else COMMANDS):
        module.add_parser(sub)
    return parser


def _local_run_ahead(argv: list[str]) -> bool:
    """True when ``argv`` asks for a ``vda run`` on the local backend that will submit (not --help,
    not --resume): its warm starter may start before the command's imports. A hint only: the
    arguments are still parsed and checked as always, and a starter no run takes is let go."""
    if _named_command(argv) != "run" or any(a in ("-h", "--help") or a.startswith("--resume") for a in argv):
        return False
    backend = default_backend_name()
    for i, token in enumerate(argv):
        if token == "--backend" and i + 1 < len(argv):
            backend = argv[i + 1]
        elif token.startswith("--backend="):
            backend = token.split("=", 1)[1]
    return backend == "local"


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        argv = sys.argv[1:]
    if _local_run_ahead(argv):
        from skill.backends import _local_prestart

        _local_prestart.start_early()
        try:
            return _main(argv)
        finally:
            _local_prestart.discard_early()
    return _main(argv)


def _main(argv: list[str]) -> int:
    parser = build_parser(only=_named_command(argv))
    args = parser.parse_args(argv)
    logging.basicConfig(level=getattr(logging, str(args.log_level).upper(), logging.WARNING), stream=sys.stderr,
                        format="%(levelname)s %(name)s: %(message)s")
    leaked = _secret_argument(args)
    if leaked is not None:
        option = "the request text" if leaked in ("text", "request") else f"--{leaked.replace('_', '-')}"
        emit_error(PolicyDenied(
            "no-secret-echo",
            f"The value of {option} looks like a secret (a token); it is refused without being echoed, stored or used.",
            remedy="Keep tokens in the environment (NGC_API_KEY, HF_TOKEN, ...): preflight finds them there. Pass the real value of this option.",
        ), as_json=getattr(args, "json", False))
        return 1
    arguments = {k: v for k, v in vars(args).items() if not callable(v)}
    try:
        return int(args.handler(args) or 0)
    except SkillError as exc:
        emit_error(exc, as_json=getattr(args, "json", False), arguments=arguments)
        return 1
    except ValidationError as exc:  # a request model refused the arguments: name the fields, never the values
        fields = sorted({".".join(str(p) for p in e["loc"]) or "arguments" for e in exc.errors()})
        rules = "; ".join(sorted({f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}" for e in exc.errors()}))
        emit_error(
            InputError(f"Invalid value for {', '.join(fields)}.", remedy=f"Fix the argument(s): {rules}.", code="invalid-arguments"),
            as_json=getattr(args, "json", False),
        )
        return 1
    except OSError as exc:  # a path argument the system refuses (too long, not a folder, no access): coded, no name echoed
        emit_error(
            InputError(f"A file or folder given could not be used ({exc.strerror or type(exc).__name__}).",
                       remedy="Check the paths passed: they must exist, be readable, and be of ordinary length.", code="path-unusable"),
            as_json=getattr(args, "json", False),
        )
        return 1
    except KeyboardInterrupt:
        print("Interrupted.", file=sys.stderr)
        return 130


def entry() -> None:
    """The ``vda`` console script: :func:`main`, then the exit a finished command needs.

    Tearing down the interpreter (every module of pydantic, numpy, av, jinja2, ... freed one object
    at a time) takes 0.1-0.3 s after a run, longer than some commands. When the command has left no
    thread running, the exit does what finalization would do that matters (the ``atexit`` hooks:
    logging's flush, temporary folders' clean-up, ...; then the standard streams are flushed) and ends
    the process without the teardown. With a thread still running, the ordinary exit waits for it.
    """
    code = main()
    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()  # what the interpreter's own exit runs before the teardown
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:  # the reader went away (vda ... | head): what is unwritten cannot be written anywhere
        code = code or 1
    os._exit(code)


if __name__ == "__main__":
    entry()

"""``vda mcp [--backend local|osmo] [--http HOST:PORT]``: serve the skill's tools over MCP.

Without ``--http`` the server speaks stdio (stdout is the protocol channel: nothing else is ever
written there; logs go to stderr). With ``--http 127.0.0.1:8765`` it serves streamable HTTP at
``http://127.0.0.1:8765/mcp``. Both block until the client disconnects or the process is
interrupted.
"""

from __future__ import annotations

import argparse
import logging
import sys

from skill.errors import InputError
from tools.backends import add_backend_option

__all__ = ["add_parser", "parse_address", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("mcp", help="serve the tools over MCP (stdio, or streamable HTTP with --http)")
    add_backend_option(p)
    p.add_argument("--http", metavar="HOST:PORT", default=None, help="serve streamable HTTP at http://HOST:PORT/mcp instead of stdio")
    p.set_defaults(handler=run)


def parse_address(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (or ``:PORT``/``PORT`` for 127.0.0.1) -> (host, port)."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise InputError("--http needs HOST:PORT with a port between 1 and 65535.", remedy="Pass e.g. --http 127.0.0.1:8765.", code="invalid-arguments")
    return host, int(port)


def run(args: argparse.Namespace) -> int:
    from tools.mcp_server import build_server, serve_http

    _logs_to_stderr()
    server = build_server(backend_name=args.backend, remember_default=not args.http)  # stdio: policy memory across processes
    if args.http:
        host, port = parse_address(args.http)
        logging.getLogger(__name__).warning("vda MCP server on http://%s:%d/mcp (backend %s)", host, port, args.backend)
        serve_http(server, host, port)
    else:
        server.run()
    return 0


def _logs_to_stderr() -> None:
    """Every handler of the root logger writes to stderr; stdout belongs to the protocol."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stdout:
            handler.setStream(sys.stderr)

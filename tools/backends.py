"""Build a backend by name for the shells (CLI, MCP server, chat agent). Imports are lazy so a
command that only needs one backend never loads the other."""

from __future__ import annotations

import argparse
import os
from typing import TYPE_CHECKING

from skill.errors import BackendUnavailable, InputError

if TYPE_CHECKING:
    from skill.backends.base import Backend

__all__ = ["BACKEND_NAMES", "add_backend_option", "default_backend_name", "make_backend"]

BACKEND_NAMES: tuple[str, ...] = ("local", "osmo")


def default_backend_name() -> str:
    """``VDA_BACKEND`` if set, else ``local`` (the embedded default)."""
    return os.environ.get("VDA_BACKEND") or "local"


def add_backend_option(parser: argparse.ArgumentParser, *, default: str | None = None,
                       help: str = "where workflows run (default: $VDA_BACKEND, else local)") -> None:
    """The one ``--backend`` option every command shares: same choices, same default rule."""
    parser.add_argument("--backend", choices=BACKEND_NAMES, default=default or default_backend_name(), help=help)


def make_backend(name: str) -> Backend:
    """``osmo`` -> :class:`skill.backends.osmo.OsmoBackend` (executable from ``VDA_OSMO_CLI``, default
    ``osmo``); ``local`` -> :class:`skill.backends.local.LocalBackend`."""
    if name == "osmo":
        from skill.backends.osmo import OsmoBackend

        return OsmoBackend(os.environ.get("VDA_OSMO_CLI") or "osmo")
    if name == "local":
        try:
            from skill.backends.local import LocalBackend
        except ModuleNotFoundError as exc:
            if exc.name != "skill.backends.local":
                raise
            raise BackendUnavailable(
                "The local backend is not part of this installation.",
                remedy="Use --backend osmo, or install the full vda-skill package.",
            ) from exc
        return LocalBackend()
    raise InputError(f"Unknown backend {name!r}.", remedy=f"Pick one of: {', '.join(BACKEND_NAMES)}.", code="unknown-backend")

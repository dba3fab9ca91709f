"""Build a backend by name for the shells (CLI, MCP server, chat agent). Imports are lazy so a
command that only needs one backend never loads the other."""

from __future__ import annotations

import os

from skill.backends.base import Backend
from skill.errors import BackendUnavailable, InputError

__all__ = ["BACKEND_NAMES", "default_backend_name", "make_backend"]

BACKEND_NAMES: tuple[str, ...] = ("local", "osmo")


def default_backend_name() -> str:
    """``VDA_BACKEND`` if set, else ``local`` (the embedded default)."""
    return os.environ.get("VDA_BACKEND") or "local"


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

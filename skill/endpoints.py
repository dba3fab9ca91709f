"""OpenAI-compatible endpoint URLs, the way upstream's endpoint_common.sh reads them.

A user may give a VLM/LLM endpoint as ``host:8000``, ``http://host:8000/v1``, or a full API URL
such as ``.../v1/chat/completions``. :func:`normalize_url` reduces any of them to a base;
:func:`candidate_bases` lists the bases worth probing (the base and the bare origin, each with and
without ``/v1``); :func:`default_base` picks the one a client should call. The NIM health step and
the NIM labeling engine both use these, so a URL means the same thing to each.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from skill.errors import InputError

__all__ = ["candidate_bases", "default_base", "normalize_url"]

_API_SUFFIXES = (
    "/v1/chat/completions", "/chat/completions", "/v1/completions", "/completions", "/v1/responses",
    "/responses", "/v1/embeddings", "/embeddings", "/v1/models", "/models",
)
_REMEDY = "Pass an OpenAI-compatible base URL such as http://host:8000/v1."


_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")


def _valid_host(parts) -> bool:
    """A DNS name made of valid labels, or an IP address (v6 in brackets), and a port if any."""
    try:
        host, _port = parts.hostname, parts.port  # .port raises on a port that is not a number
    except ValueError:
        return False
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in host.rstrip(".").split("."))


def normalize_url(raw: str) -> str:
    """Add ``http://`` when there is no scheme, drop query, fragment and trailing ``/``, and strip
    API suffixes (``/v1/chat/completions``, ``/models``, ...) until none is left."""
    text = (raw or "").strip()
    if not text or any(c.isspace() for c in text):
        raise InputError("An endpoint URL is empty or contains spaces.", remedy=_REMEDY, code="invalid-endpoint-url")
    if "://" not in text:
        text = "http://" + text
    try:
        parts = urlsplit(text)
    except ValueError:  # e.g. an unbalanced '[' ("Invalid IPv6 URL")
        raise InputError("An endpoint URL cannot be parsed.", remedy=_REMEDY, code="invalid-endpoint-url") from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise InputError("An endpoint URL is not an http(s) URL.", remedy=_REMEDY, code="invalid-endpoint-url")
    if not _valid_host(parts):
        raise InputError("An endpoint URL names no valid host (letters, digits, '-' and '.' labels, or an IP address).",
                         remedy=_REMEDY, code="invalid-endpoint-url")
    path = parts.path.rstrip("/")
    changed = True
    while changed:
        changed = False
        for suffix in _API_SUFFIXES:
            if path.endswith(suffix):
                path = path[: -len(suffix)].rstrip("/")
                changed = True
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _toggle_v1(base: str) -> str:
    return base[: -len("/v1")] if base.endswith("/v1") else base + "/v1"


def candidate_bases(raw: str) -> list[str]:
    """The base and ``scheme://host``, each followed by its ``/v1`` toggle, de-duplicated in order."""
    base = normalize_url(raw)
    parts = urlsplit(base)
    origin = urlunsplit((parts.scheme, parts.netloc, "", "", ""))
    out: list[str] = []
    for seed in (base, origin):
        for item in (seed, _toggle_v1(seed)):
            if item not in out:
                out.append(item)
    return out


def default_base(raw: str) -> str:
    """The first candidate ending in ``/v1``, else the first candidate."""
    candidates = candidate_bases(raw)
    return next((c for c in candidates if c.endswith("/v1")), candidates[0])

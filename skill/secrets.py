"""Secrets: where the skill finds its tokens, and the redactor every outgoing string passes through.

Discovery follows upstream's preflight exactly:

* NGC key: ``NGC_API_KEY`` if set; otherwise the first of the six key variables whose value (after
  stripping an ``Authorization: Bearer `` or ``Bearer `` prefix) starts with ``nvapi-``
  (case-insensitive); otherwise any non-empty ``NGC_CLI_API_KEY``. A key is never rejected for its
  prefix (rule ``no-key-prefix-rejection``): probes decide.
* Hugging Face token: ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, ``huggingface_hub.get_token()`` (not
  asked where no token is needed: the local backend), then the first line of ``HF_TOKEN_FILE``
  (default: huggingface_hub's own token file, :func:`hf_token_file`).

Redaction replaces (1) every known secret value (the variables above, anything registered with
:func:`register_secret`, and any environment variable whose name marks it as a secret) and (2)
token-shaped strings (``nvapi-…``, ``hf_…``, ``sk-ant-…``, ``Bearer …``) with ``[REDACTED]``.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "NGC_KEY_VARIABLES",
    "PUBLIC_CREDENTIAL_KEYS",
    "REDACTED",
    "DiscoveredSecrets",
    "discover",
    "discover_hf_token",
    "discover_ngc_key",
    "forget_secrets",
    "hf_token_file",
    "is_secret_name",
    "known_secret_values",
    "looks_like_secret",
    "redact",
    "redact_obj",
    "register_secret",
    "strip_bearer",
    "token_shaped",
]

REDACTED = "[REDACTED]"

NGC_KEY_VARIABLES: tuple[str, ...] = (
    "NGC_API_KEY",
    "NGC_CLI_API_KEY",
    "NVIDIA_API_KEY",
    "OPENAI_API_KEY",
    "VLM_API_KEY",
    "LLM_API_KEY",
)
HF_TOKEN_VARIABLES: tuple[str, ...] = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN")
# Credential payload keys whose values are addresses or names, not secrets (``osmo credential set``
# payloads): everything else in a payload is masked and registered for redaction.
PUBLIC_CREDENTIAL_KEYS = frozenset({"registry", "username", "endpoint", "region", "override_url", "addressing_style"})
_ALWAYS_SECRET = set(NGC_KEY_VARIABLES) | set(HF_TOKEN_VARIABLES) | {
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS_JSON",
}
_SECRET_NAME = re.compile(r"(?:_|^)(?:API_KEY|TOKEN|SECRET|SECRET_KEY|PASSWORD|PASSWD|ACCESS_KEY|CONNECTION_STRING|AUTH)$")
_MIN_SECRET_LEN = 6

_TOKEN_SHAPES = re.compile(
    r"(?:nvapi-[A-Za-z0-9_\-]{6,}"
    r"|\bhf_[A-Za-z0-9]{8,}"
    r"|sk-ant-[A-Za-z0-9_\-]{6,}"
    r"|\bsk-[A-Za-z0-9]{20,}"
    r"|(?<=Bearer )[A-Za-z0-9._\-+/=]{8,}"
    r"|(?<=\$oauthtoken:)[^\s'\"]{6,})"
)
_BEARER_PREFIX = re.compile(r"^\s*(?:authorization:\s*)?bearer\s+", re.IGNORECASE)

_registered: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Remember a secret value (e.g. one the user typed into an elicitation) so it is redacted."""
    if value and len(value) >= _MIN_SECRET_LEN:
        with _lock:
            _registered.add(value)
            stripped = strip_bearer(value)
            if len(stripped) >= _MIN_SECRET_LEN:
                _registered.add(stripped)


def forget_secrets() -> None:
    """Drop registered values (tests use this between cases)."""
    with _lock:
        _registered.clear()


def _is_secret_name(name: str) -> bool:
    upper = name.upper()
    return upper in _ALWAYS_SECRET or bool(_SECRET_NAME.search(upper))


def is_secret_name(name: str) -> bool:
    """True when a variable or key name marks its value as a secret (``HF_TOKEN``, ``NGC_API_KEY``, ``auth``...)."""
    return bool(name) and _is_secret_name(name)


def looks_like_secret(text: str | None) -> bool:
    """True when ``text`` holds a token-shaped string or a registered secret value.

    Pure: reads no environment (the policy engine relies on that); values found by :func:`discover`
    or :func:`register_secret` count, environment variables not registered do not.
    """
    if not text:
        return False
    if _TOKEN_SHAPES.search(text):
        return True
    with _lock:
        registered = tuple(_registered)
    return any(value in text for value in registered)


def token_shaped(text: str | None) -> bool:
    """True when ``text`` holds a token-shaped string (``nvapi-…``, ``hf_…``, ``sk-ant-…``, ``Bearer …``),
    whatever secrets are known: what an argument must never carry."""
    return bool(text) and bool(_TOKEN_SHAPES.search(text))


def _known_values(env: Mapping[str, str] | None = None) -> list[str]:
    env = os.environ if env is None else env
    values = {v for k, v in env.items() if v and len(v) >= _MIN_SECRET_LEN and _is_secret_name(k)}
    values |= {strip_bearer(v) for v in list(values)}
    with _lock:
        values |= _registered
    # longest first so a value containing another is replaced whole
    return sorted((v for v in values if len(v) >= _MIN_SECRET_LEN), key=len, reverse=True)


def known_secret_values() -> list[str]:
    """The values :func:`redact` replaces besides token shapes: secret environment variables and
    registered secrets, longest first. For callers that test many texts against one snapshot."""
    return _known_values()


def redact(text: str | None, *, values: list[str] | None = None) -> str:
    """Return ``text`` with every known secret value and token-shaped string replaced. ``values``:
    the known values already taken with :func:`known_secret_values` (read afresh when not given)."""
    if not text:
        return text or ""
    out = str(text)
    for value in _known_values() if values is None else values:
        if value in out:
            out = out.replace(value, REDACTED)
    return _TOKEN_SHAPES.sub(REDACTED, out)


def redact_obj(obj: Any, *, values: list[str] | None = None) -> Any:
    """Redact every string inside a JSON-like structure (dict keys included), against one snapshot
    of the known values (``values``, or read once here)."""
    known = _known_values() if values is None else values
    if isinstance(obj, str):
        return redact(obj, values=known)
    if isinstance(obj, Mapping):
        return {redact_obj(k, values=known) if isinstance(k, str) else k: redact_obj(v, values=known) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [redact_obj(v, values=known) for v in obj]
    return obj


def strip_bearer(value: str) -> str:
    """``Authorization: Bearer x`` / ``Bearer x`` -> ``x``; anything else unchanged (trimmed)."""
    return _BEARER_PREFIX.sub("", value or "").strip()


@dataclass(frozen=True)
class DiscoveredSecrets:
    """What discovery found. ``repr`` never shows the values."""

    ngc_key: str | None
    ngc_source: str | None
    hf_token: str | None
    hf_source: str | None
    ngc_user_supplied: bool
    hf_user_supplied: bool

    def __repr__(self) -> str:
        return (
            f"DiscoveredSecrets(ngc_key={'set' if self.ngc_key else None}, ngc_source={self.ngc_source!r}, "
            f"hf_token={'set' if self.hf_token else None}, hf_source={self.hf_source!r}, "
            f"ngc_user_supplied={self.ngc_user_supplied}, hf_user_supplied={self.hf_user_supplied})"
        )

    __str__ = __repr__


def discover_ngc_key(env: Mapping[str, str] | None = None) -> tuple[str | None, str | None]:
    """Return ``(key, variable it came from)`` following upstream's order, or ``(None, None)``."""
    env = os.environ if env is None else env
    direct = strip_bearer(env.get("NGC_API_KEY", ""))
    if direct:
        return direct, "NGC_API_KEY"
    for name in NGC_KEY_VARIABLES:
        value = strip_bearer(env.get(name, ""))
        if value.lower().startswith("nvapi-"):
            return value, name
    fallback = strip_bearer(env.get("NGC_CLI_API_KEY", ""))
    if fallback:
        return fallback, "NGC_CLI_API_KEY"
    return None, None


def _hf_hub_token() -> str | None:
    try:
        from huggingface_hub import get_token
    except ImportError:
        return None
    try:
        return get_token() or None
    except Exception as exc:  # a broken HF config must not stop discovery; the next source is tried
        import logging

        logging.getLogger(__name__).debug("huggingface_hub.get_token failed: %s", type(exc).__name__)
        return None


def hf_token_file(env: Mapping[str, str]) -> Path:
    """Where the Hugging Face token file is: ``HF_TOKEN_FILE``, else where huggingface_hub keeps it
    (``HF_TOKEN_PATH``, else ``$HF_HOME/token``, else ``$XDG_CACHE_HOME/huggingface/token``, else
    ``~/.cache/huggingface/token``)."""
    # os.path.expanduser, as skill.paths.expand_user (which this module cannot import: skill.paths
    # imports skill.errors, which imports this): a ~user naming no user stays as written
    named = env.get("HF_TOKEN_FILE") or env.get("HF_TOKEN_PATH")
    if named:
        return Path(os.path.expanduser(named))
    home = env.get("HF_HOME") or str(Path(env.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "huggingface")
    return Path(os.path.expanduser(home)) / "token"


def discover_hf_token(
    env: Mapping[str, str] | None = None, *, use_hub: bool = True
) -> tuple[str | None, str | None]:
    """Return ``(token, source)`` from env, then huggingface_hub, then the token file."""
    env = os.environ if env is None else env
    for name in HF_TOKEN_VARIABLES:
        value = strip_bearer(env.get(name, ""))
        if value:
            return value, name
    if use_hub:
        token = _hf_hub_token()
        if token:
            return token.strip(), "huggingface_hub"
    token_file = hf_token_file(env)
    try:
        first = token_file.read_text(encoding="utf-8").splitlines()[0].strip() if token_file.is_file() else ""
    except (OSError, IndexError, UnicodeDecodeError):
        first = ""
    if first:
        return first, str(token_file)
    return None, None


def discover(env: Mapping[str, str] | None = None, *, use_hub: bool = True) -> DiscoveredSecrets:
    """Discover both secrets and the "user supplied" flags (computed before discovery, as upstream)."""
    env = os.environ if env is None else env
    ngc_user = any(env.get(name) for name in NGC_KEY_VARIABLES)
    hf_user = any(env.get(name) for name in HF_TOKEN_VARIABLES)
    ngc_key, ngc_source = discover_ngc_key(env)
    hf_token, hf_source = discover_hf_token(env, use_hub=use_hub)
    register_secret(ngc_key)
    register_secret(hf_token)
    return DiscoveredSecrets(ngc_key, ngc_source, hf_token, hf_source, ngc_user, hf_user)

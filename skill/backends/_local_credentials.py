"""The local backend's credential store: one JSON file, mode 0600, under the backend root.

It follows ``osmo credential set`` (src/cli/credential.py): a name like ``nvcr_io``, a type
(REGISTRY, DATA, GENERIC) and key=value payload with the keys each type requires. Listing gives
names, types and profiles only; values leave the store only to become a task's environment.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from skill.backends._local_io import temp_name
from skill.errors import BackendError, InputError
from skill.statuses import CredentialInfo
from skill.secrets import PUBLIC_CREDENTIAL_KEYS, register_secret

__all__ = ["CredentialStore"]

_NAME = re.compile(r"^[a-zA-Z]([a-zA-Z0-9_-]*[a-zA-Z0-9])?$")
_REQUIRED = {"REGISTRY": ("auth",), "DATA": ("access_key_id", "access_key", "endpoint"), "GENERIC": ()}


def _profile(type_: str, payload: dict[str, str]) -> str | None:
    if type_ == "REGISTRY":
        return payload.get("registry") or None
    if type_ == "DATA":
        return payload.get("endpoint", "").rstrip("/") or None
    return None


class CredentialStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise BackendError(
                "The local credential store cannot be read.",
                remedy=f"Remove {self.path} and set the credentials again.",
                code="local-state-corrupt",
            ) from exc
        return data if isinstance(data, dict) else {}

    def list(self) -> list[CredentialInfo]:
        """Names, types and profiles (never values), ordered like OSMO: type descending, then name."""
        items = [CredentialInfo(name=name, type=entry["type"], profile=entry.get("profile")) for name, entry in self._read().items()]
        items.sort(key=lambda c: c.name)
        items.sort(key=lambda c: c.type, reverse=True)
        return items

    def get(self, name: str) -> dict[str, str] | None:
        """The payload of one credential (for the runner only); values are registered for redaction."""
        entry = self._read().get(name)
        if entry is None:
            return None
        payload = {str(k): str(v) for k, v in entry.get("payload", {}).items()}
        _register_secret_values(payload)
        return payload

    def set(self, name: str, type_: str, payload: dict[str, str]) -> None:
        if not isinstance(name, str) or not _NAME.match(name):
            raise InputError(
                "The credential name must start with a letter and hold only letters, digits, - and _.",
                remedy="Pick a name like nvcr_io or hf_token.",
                code="invalid-credential",
            )
        if type_ not in _REQUIRED:
            raise InputError(
                f"Credential {name} has an unknown type.",
                remedy="Use REGISTRY, DATA or GENERIC.",
                code="invalid-credential",
            )
        clean: dict[str, str] = {}
        for key, value in payload.items():
            if not str(key).strip() or value is None or not str(value):
                raise InputError(
                    f"Credential {name} has an empty key or an empty value.",
                    remedy="Give every payload item as key=value with both sides non-empty.",
                    code="invalid-credential",
                )
            clean[str(key)] = str(value)
        if type_ == "REGISTRY" and "auth" not in clean and "password" in clean:
            clean["auth"] = clean.pop("password")
        missing = [k for k in _REQUIRED[type_] if k not in clean]
        if missing:
            raise InputError(
                f"A {type_} credential needs the payload key(s) {', '.join(missing)}.",
                remedy=f"Set {name} again with {' '.join(f'{k}=...' for k in missing)}.",
                code="invalid-credential",
            )
        _register_secret_values(clean)
        data = self._read()
        data[name] = {"type": type_, "profile": _profile(type_, clean), "payload": clean}
        self._write(data)

    def _write(self, data: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_name(self.path)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
        os.chmod(tmp, 0o600)
        os.replace(tmp, self.path)


def _register_secret_values(payload: dict[str, str]) -> None:
    """Register the payload's secret values for redaction; registry hosts and user names stay visible."""
    for key, value in payload.items():
        if key not in PUBLIC_CREDENTIAL_KEYS:
            register_secret(value)

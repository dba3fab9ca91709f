"""nvcr.io manifest probes: can the images a workflow names be pulled, with the key we have?

The docker registry v2 flow, as upstream's preflight script runs it:
GET ``https://nvcr.io/v2/<repo>/manifests/<ref>`` with the v2 manifest Accept header; on 401 read
``Www-Authenticate`` (realm, service, scope), ask the realm for a bearer token (anonymously, or
with basic auth ``$oauthtoken:<key>``), take ``token`` or ``access_token`` from its JSON and retry.
With a key the credentialed probe runs first; when it answers 401/403 an anonymous probe runs and
wins if it answers 200, 404 or 000 (network). A key is never judged by its prefix
(rule ``no-key-prefix-rejection``): the HTTP codes decide. Code 0 stands for upstream's ``000``.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict

if TYPE_CHECKING:  # httpx2 is imported when a registry is really probed (start-up cost of every run)
    import httpx2

__all__ = [
    "MANIFEST_ACCEPT",
    "NETWORK_ERROR",
    "ImageRef",
    "RegistryProbe",
    "RegistryVerdict",
    "http_status",
    "nvcr_images",
    "parse_image",
    "parse_www_authenticate",
    "probe_image",
    "registry_verdict",
]

NETWORK_ERROR = 0
MANIFEST_ACCEPT = ", ".join(
    (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
    )
)
_IMAGE_LINE = re.compile(r"^\s*(?:-\s*)?image:\s*(.+?)\s*$", re.MULTILINE)
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"([^"]*)"|([^,\s]+))')


class ImageRef(BaseModel):
    """``nvcr.io/nvidia/base/ubuntu:22.04_20240212`` split into registry, repository and reference."""

    model_config = ConfigDict(frozen=True)
    image: str
    registry: str
    repository: str
    reference: str

    @property
    def manifest_url(self) -> str:
        return f"https://{self.registry}/v2/{self.repository}/manifests/{self.reference}"


class RegistryProbe(BaseModel):
    """One image's answer. ``http_status`` 0 means the registry could not be reached."""

    model_config = ConfigDict(extra="forbid")
    image: str
    http_status: int
    auth: Literal["credentialed", "anonymous"]
    outcome: Literal["ok", "warn", "fail"]
    line: str


class RegistryVerdict(BaseModel):
    model_config = ConfigDict(extra="forbid")
    outcome: Literal["ok", "warn", "fail"]
    message: str
    remedy: str | None = None


def parse_image(image: str) -> ImageRef:
    """Split an image reference; the reference is the ``@digest``, else the ``:tag``, else ``latest``."""
    text = image.strip().strip("'\"")
    first, _, rest = text.partition("/")
    if rest and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, rest
    else:
        registry, path = "docker.io", text
    if "@" in path:
        repository, reference = path.split("@", 1)
    else:
        head, _, last = path.rpartition("/")
        name, sep, tag = last.partition(":")
        repository = f"{head}/{name}" if head else name
        reference = tag if sep and tag else "latest"
    return ImageRef(image=text, registry=registry, repository=repository, reference=reference)


def nvcr_images(text: str) -> list[str]:
    """Every ``image:`` value of a workflow YAML that lives on nvcr.io: quotes and trailing
    comments stripped, sorted, de-duplicated; values still holding a template are skipped."""
    found = set()
    for match in _IMAGE_LINE.finditer(text or ""):
        value = re.sub(r"\s+#.*$", "", match.group(1)).strip().strip("'\"").strip()
        if value.startswith("nvcr.io/") and "{{" not in value and "{%" not in value:
            found.add(value)
    return sorted(found)


def parse_www_authenticate(header: str) -> dict[str, str]:
    """``Bearer realm="https://nvcr.io/proxy_auth",service="registry",scope="repository:x:pull"``
    -> ``{"scheme": "bearer", "realm": ..., "service": ..., "scope": ...}``."""
    text = (header or "").strip()
    scheme, _, params = text.partition(" ")
    out = {"scheme": scheme.lower()}
    for key, quoted, bare in _CHALLENGE_PARAM.findall(params):
        out[key.lower()] = quoted if quoted else bare
    return out


def http_status(http: httpx2.Client, method: str, url: str, *, headers: dict[str, str] | None = None) -> int:
    """The status code of one request, or 0 when no response came back (DNS, refused, timeout)."""
    import httpx2

    try:
        return http.request(method, url, headers=headers or {}).status_code
    except httpx2.RequestError:
        return NETWORK_ERROR


def _token(http: httpx2.Client, challenge: dict[str, str], key: str | None) -> tuple[str | None, int]:
    import httpx2

    realm = challenge.get("realm", "")
    if challenge.get("scheme") != "bearer" or not realm.startswith(("https://", "http://")):
        return None, 401
    if key and not realm.startswith("https://"):
        key = None  # never send the key over plain HTTP; the probe becomes anonymous
    params = {k: challenge[k] for k in ("service", "scope") if challenge.get(k)}
    try:
        answer = http.get(realm, params=params, auth=httpx2.BasicAuth("$oauthtoken", key) if key else None)
    except httpx2.RequestError:
        return None, NETWORK_ERROR
    if answer.status_code != 200:
        return None, answer.status_code if answer.status_code in (401, 403) else 401
    try:
        body = answer.json()
    except ValueError:
        return None, 401
    token = (body.get("token") or body.get("access_token")) if isinstance(body, dict) else None
    return (token, 200) if isinstance(token, str) and token else (None, 401)


def _fetch(http: httpx2.Client, ref: ImageRef, key: str | None) -> int:
    import httpx2

    headers = {"Accept": MANIFEST_ACCEPT}
    try:
        first = http.get(ref.manifest_url, headers=headers)
    except httpx2.RequestError:
        return NETWORK_ERROR
    if first.status_code != 401:
        return first.status_code
    token, code = _token(http, parse_www_authenticate(first.headers.get("www-authenticate", "")), key)
    if token is None:
        return code
    try:
        return http.get(ref.manifest_url, headers={**headers, "Authorization": f"Bearer {token}"}).status_code
    except httpx2.RequestError:
        return NETWORK_ERROR


def _line(image: str, code: int, auth: str) -> tuple[Literal["ok", "warn", "fail"], str]:
    if code == 200:
        return "ok", f"OK registry access for {image} ({auth}, HTTP 200)"
    if code == NETWORK_ERROR:
        return "warn", f"WARN network error while probing {image} (HTTP 000)"
    if code in (401, 403):
        return "fail", f"FAIL registry access denied for {image} (HTTP {code})"
    if code == 404:
        return "fail", f"FAIL image not found on the registry: {image} (HTTP 404)"
    return "fail", f"FAIL registry probe for {image} returned HTTP {code}"


def probe_image(image: str, *, http: httpx2.Client, key: str | None = None) -> RegistryProbe:
    """Probe one image; credentialed first when a key is given, anonymous as the fallback."""
    ref = parse_image(image)
    auth: Literal["credentialed", "anonymous"] = "anonymous"
    if key:
        code, auth = _fetch(http, ref, key), "credentialed"
        if code in (401, 403):
            anonymous = _fetch(http, ref, None)
            if anonymous in (200, 404, NETWORK_ERROR):
                code, auth = anonymous, "anonymous"
    else:
        code = _fetch(http, ref, None)
    outcome, line = _line(ref.image, code, auth)
    return RegistryProbe(image=ref.image, http_status=code, auth=auth, outcome=outcome, line=line)


def registry_verdict(probes: list[RegistryProbe]) -> RegistryVerdict:
    """Upstream's precedence: any 404, then any 401/403, then any other failure; network-only
    failures are a warning."""
    codes = [p.http_status for p in probes]
    if 404 in codes:
        return RegistryVerdict(
            outcome="fail",
            message="At least one workflow image does not exist on nvcr.io (HTTP 404).",
            remedy="Update the image tags in the workflow YAML (see references/container-images.md), then rerun preflight.",
        )
    if any(c in (401, 403) for c in codes):
        return RegistryVerdict(
            outcome="fail",
            message="nvcr.io refused access to at least one workflow image (HTTP 401/403).",
            remedy="Treat it as registry reachability or account policy, not as a key-format problem: "
            "check that the NGC key's org can pull these images, then rerun preflight with refresh.",
        )
    if any(p.outcome == "fail" for p in probes):
        return RegistryVerdict(outcome="fail", message="The registry answered an unexpected HTTP status for a workflow image.",
                               remedy="Retry preflight; if it persists, check nvcr.io status.")
    if any(p.outcome == "warn" for p in probes):
        return RegistryVerdict(outcome="warn", message="nvcr.io could not be reached from this machine (HTTP 000); pulls are checked again at submit.")
    return RegistryVerdict(outcome="ok", message=f"All {len(probes)} nvcr.io image(s) are pullable.")

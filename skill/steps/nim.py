"""NIM health: are the VLM and LLM endpoints the workers call alive and serving a model?

Two ways of looking, and the answer says which ones it used (``looked_via``):

* ``kubectl``: the NIM namespace's objects (:mod:`skill.steps.nim_kube`): NIMService state, ready
  replicas, restarts, image, endpoint addresses, the weight-download Job. This works off-cluster,
  wherever a kube context reaches the cluster, and decides for the in-cluster services.
* ``http``: for each endpoint normalise the URL as upstream's workers do (their endpoint_common.sh),
  find the first candidate base whose ``/models`` lists a model, then ask ``/v1/health/ready``.
  External endpoints are always judged this way; in-cluster ones when kubectl could not look.

Both healthy -> ``reuse``; a NIM missing, failed or unhealthy -> ``install`` with the one repair
command as data (``vda nim ensure`` runs it); still downloading or loading -> ``wait``; an in-cluster
URL that only failed to connect while kubectl could not look either -> ``unknown`` (off-cluster is
not evidence that a NIM is missing):

    NIM_SERVICES="qwen3-vl qwen25-14b" bash '/path/to/infra-skill'/components/inference-nim-operator/scripts/install.sh

The install script is idempotent (it skips Ready NIMs whose spec did not change). This module only
reads: it has no way to scale, patch or remove a NIM (rule ``no-nim-scale-down``).
"""

from __future__ import annotations

import re
import shlex
from typing import Annotated, Literal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import httpx2
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from skill.endpoints import candidate_bases, default_base, normalize_url
from skill.steps.nim_kube import KubeView, NimFinding, ServiceView, kube_view
from skill.paths import find_infra_skill
from skill.secrets import redact_obj

__all__ = [
    "DEFAULT_LLM_URL",
    "DEFAULT_VLM_URL",
    "INFRA_SKILL_NAME",
    "INSTALL_COMMAND",
    "INSTALL_SCRIPT",
    "NIM_SERVICES",
    "EndpointHealth",
    "NimHealthRequest",
    "NimHealthResult",
    "infra_skill_dir",
    "nim_health",
]

DEFAULT_VLM_URL = "http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1"
DEFAULT_LLM_URL = "http://qwen25-14b.osmo-nims.svc.cluster.local:8000/v1"
NIM_SERVICES: tuple[str, ...] = ("qwen3-vl", "qwen25-14b")
INSTALL_COMMAND = (
    f'NIM_SERVICES="{" ".join(NIM_SERVICES)}" bash {{infra_skill}}/components/inference-nim-operator/scripts/install.sh'
)
INFRA_SKILL_NAME = "physical-ai-infrastructure-setup-and-resilient-scaling"
# Filled in when the sibling skill is not found: the command stays runnable and stops with this text.
_INFRA_SKILL_VARIABLE = '"${INFRA_SKILL_DIR:?set INFRA_SKILL_DIR to the ' + INFRA_SKILL_NAME + ' skill folder}"'
INSTALL_SCRIPT = Path("components", "inference-nim-operator", "scripts", "install.sh")
_IN_CLUSTER = re.compile(r"^([a-z0-9-]+)\.osmo-nims\.svc\.cluster\.local$")


def _one_url(value: str) -> str:
    if not value or not value.strip() or any(ch.isspace() or ord(ch) < 32 for ch in value.strip()):
        raise ValueError("must be one URL with no spaces, e.g. http://host:8000/v1")
    return value.strip()


EndpointUrl = Annotated[str, AfterValidator(_one_url)]


def _infra_dir(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > 4096 or not value.startswith("/") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must be an absolute folder path on one line, e.g. /home/me/skills/" + INFRA_SKILL_NAME)
    return value


InfraSkillDir = Annotated[str | None, AfterValidator(_infra_dir)]


def infra_skill_dir(given: str | None) -> str:
    """The sibling infrastructure skill as a shell word: the folder given, else one found beside this
    skill or under ``~/skills`` (or ``$INFRA_SKILL_DIR``), else a variable reference that stops with
    a clear message. Always quoted, so no path can add a command to the line."""
    if given:
        return shlex.quote(given)
    found = find_infra_skill(INFRA_SKILL_NAME, INSTALL_SCRIPT)
    if found is not None:
        return shlex.quote(str(found))
    return _INFRA_SKILL_VARIABLE


class NimHealthRequest(BaseModel):
    """Which endpoints to check. The defaults are the in-cluster NIMs; external URLs only when the
    user gave them (rule external-endpoints-opt-in)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    vlm_url: EndpointUrl = Field(default=DEFAULT_VLM_URL, description="VLM base URL.")
    llm_url: EndpointUrl = Field(default=DEFAULT_LLM_URL, description="LLM base URL.")
    infra_skill_dir: InfraSkillDir = Field(default=None, description="Infrastructure skill folder (absolute); found beside this skill when omitted.")
    timeout: Annotated[float, Field(gt=0, le=60, description="Seconds per HTTP request or kubectl call.")] = 5.0
    via: Literal["auto", "kubectl", "http"] = Field(default="auto", description="auto: kubectl if it reaches the cluster, else HTTP.")


class EndpointHealth(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Literal["vlm", "llm"]
    url: str
    base_url: str
    service: str | None = Field(default=None, description="In-cluster NIM name; None: external.")
    healthy: bool
    model_id: str | None = None
    ready: bool | None = None
    looked_via: Literal["kubectl", "http"] = "http"
    unreached: bool = Field(default=False, description="HTTP: connection errors only.")
    verdict: str | None = Field(default=None, description="kubectl's verdict.")
    detail: str


class NimHealthResult(BaseModel):
    """action: reuse, install (nim_ensure), wait (loading) or unknown (could not look)."""

    model_config = ConfigDict(extra="forbid")
    endpoints: list[EndpointHealth]
    action: Literal["reuse", "install", "wait", "unknown"]
    looked_via: list[Literal["kubectl", "http"]] = Field(default_factory=list)
    kube_reached: bool | None = Field(default=None, description="kubectl listed osmo-nims; None: not tried.")
    findings: list[NimFinding] = Field(default_factory=list)
    command: str | None = Field(default=None, description="The repair command (install).")
    services: list[str] = Field(default_factory=lambda: list(NIM_SERVICES))
    notes: list[str] = Field(default_factory=list)


def _ready_url(base: str) -> str:
    if base.endswith("/v1"):
        return base + "/health/ready"
    parts = urlsplit(base)
    return urlunsplit((parts.scheme, parts.netloc, "/v1/health/ready", "", ""))


# --- probes -------------------------------------------------------------------------------------------------


def _models(http: httpx2.Client, raw: str) -> tuple[str | None, str | None, list[str]]:
    """``(base that answered, first model id, what failed)``."""
    tried: list[str] = []
    for base in candidate_bases(raw):
        try:
            answer = http.get(base + "/models")
        except httpx2.RequestError as exc:
            tried.append(f"{base}/models ({type(exc).__name__})")
            continue
        if answer.status_code != 200:
            tried.append(f"{base}/models (HTTP {answer.status_code})")
            continue
        try:
            body = answer.json()
        except ValueError:
            tried.append(f"{base}/models (not JSON)")
            continue
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            tried.append(f"{base}/models (no data list)")
            continue
        ids = [m.get("id") for m in data if isinstance(m, dict) and isinstance(m.get("id"), str) and m.get("id")]
        return base, (ids[0] if ids else None), tried
    return None, None, tried


def _ready(http: httpx2.Client, base: str) -> tuple[bool | None, str]:
    url = _ready_url(base)
    try:
        code = http.get(url).status_code
    except httpx2.RequestError as exc:
        return False, f"{url} unreachable ({type(exc).__name__})"
    if 200 <= code < 300:
        return True, f"{url} ready"
    if code == 404:
        return None, f"{url} not provided (HTTP 404)"
    return False, f"{url} not ready (HTTP {code})"


def _check(http: httpx2.Client, role: Literal["vlm", "llm"], raw: str) -> EndpointHealth:
    host = urlsplit(normalize_url(raw)).hostname or ""
    in_cluster = _IN_CLUSTER.match(host)
    service = in_cluster.group(1) if in_cluster else None
    base, model_id, tried = _models(http, raw)
    if base is None:
        unreached = bool(tried) and not any(mark in t for t in tried for mark in ("(HTTP ", "(not JSON)", "(no data list)"))
        return EndpointHealth(role=role, url=raw, base_url=default_base(raw), service=service, healthy=False, unreached=unreached,
                              detail="No candidate base listed models: " + "; ".join(tried))
    ready, ready_detail = _ready(http, base)
    if model_id is None:
        return EndpointHealth(role=role, url=raw, base_url=base, service=service, healthy=False, ready=ready,
                              detail=f"{base}/models lists no model id; {ready_detail}.")
    healthy = ready is not False
    return EndpointHealth(role=role, url=raw, base_url=base, service=service, healthy=healthy, model_id=model_id, ready=ready,
                          detail=f"{base}/models lists {model_id}; {ready_detail}.")


def _from_kube(role: Literal["vlm", "llm"], raw: str, view: ServiceView) -> EndpointHealth:
    detail = (f"kubectl: {view.service} {view.verdict}; NIMService {view.state or 'absent'}, {view.ready_replicas}/{view.desired_replicas or 1} ready, "
              f"{view.endpoint_addresses} endpoint address(es), {view.restarts} restart(s), download job {view.download_job}.")
    return EndpointHealth(role=role, url=raw, base_url=default_base(raw), service=view.service, healthy=view.healthy,
                          ready=view.healthy if view.verdict != "missing" else None, looked_via="kubectl", verdict=view.verdict, detail=detail)


def _in_cluster_service(raw: str) -> str | None:
    match = _IN_CLUSTER.match(urlsplit(normalize_url(raw)).hostname or "")
    return match.group(1) if match else None


def _action(endpoints: list[EndpointHealth]) -> Literal["reuse", "install", "wait", "unknown"]:
    if all(e.healthy for e in endpoints):
        return "reuse"
    broken = [e for e in endpoints if not e.healthy]
    if any(e.verdict in ("missing", "failed", "unhealthy") or (e.looked_via == "http" and not (e.unreached and e.service)) for e in broken):
        return "install"
    if any(e.verdict in ("downloading", "starting") for e in broken):
        return "wait"
    return "unknown"


def nim_health(req: NimHealthRequest, *, http: httpx2.Client | None = None) -> NimHealthResult:
    """Check the VLM and LLM endpoints (read-only: kubectl get and HTTP GETs). Reuse healthy NIMs;
    otherwise return the install command to run once. Never suggests scaling down or deleting a NIM."""
    urls: list[tuple[Literal["vlm", "llm"], str]] = [("vlm", req.vlm_url), ("llm", req.llm_url)]
    kube: KubeView | None = None
    if req.via != "http" and any(_in_cluster_service(u) for _, u in urls):
        kube = kube_view(NIM_SERVICES, timeout=req.timeout)
    seen = {s.service: s for s in kube.services} if kube is not None and kube.reached else {}
    judged: dict[str, EndpointHealth] = {}
    for role, raw in urls:
        service = _in_cluster_service(raw)
        if service in seen:
            judged[role] = _from_kube(role, raw, seen[service])
        elif service is not None and req.via == "kubectl":
            judged[role] = EndpointHealth(role=role, url=raw, base_url=default_base(raw), service=service, healthy=False, looked_via="kubectl",
                                          detail="kubectl could not look at the cluster (see findings).")
    pending = [(role, raw) for role, raw in urls if role not in judged]
    if pending:
        own = http is None
        client = http or httpx2.Client(timeout=httpx2.Timeout(req.timeout, connect=min(req.timeout, 3.0)), follow_redirects=True)
        try:
            for role, raw in pending:
                judged[role] = _check(client, role, raw)
        finally:
            if own:
                client.close()
    endpoints = [judged["vlm"], judged["llm"]]
    looked: list[Literal["kubectl", "http"]] = sorted({e.looked_via for e in endpoints} | ({"kubectl"} if kube is not None else set()))  # type: ignore[assignment]
    findings = list(kube.findings) if kube is not None else []
    findings += [f for s in seen.values() for f in s.findings]
    action = _action(endpoints)
    notes: list[str] = []
    if kube is not None and not kube.reached:
        notes.append("kubectl could not see the cluster, so the in-cluster NIMs were probed over HTTP from here.")
    command = None
    if action == "reuse":
        notes.append("Both endpoints serve a model: reuse them as they are.")
    elif action == "install":
        command = INSTALL_COMMAND.format(infra_skill=infra_skill_dir(req.infra_skill_dir))
        external = [e.role for e in endpoints if not e.healthy and e.service is None]
        if external:
            notes.append(f"Unhealthy external endpoint(s) ({', '.join(external)}): the install command deploys in-cluster NIMs only; "
                         "check the URL and key the user gave.")
        notes.append("Run `vda nim ensure` (or the install command) once: it skips Ready NIMs whose spec did not change, then check health again. "
                     "Never scale down or delete a NIM.")
    elif action == "wait":
        notes.append("A NIM is still downloading weights or loading (about 10-15 minutes in all): check again later; do not install a second time.")
    else:
        notes.append("Could not see the in-cluster NIMs from here (no kube context reaches the cluster and their cluster-local URLs do not resolve "
                     "off-cluster): this is not evidence that they are missing. Use a kube context for the cluster, or check from inside it.")
    result = NimHealthResult(endpoints=endpoints, action=action, command=command, looked_via=looked,
                             kube_reached=kube.reached if kube is not None else None, findings=findings, notes=notes)
    return NimHealthResult.model_validate(redact_obj(result.model_dump(mode="json")))

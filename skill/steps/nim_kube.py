"""NIM health seen from where the NIMs live: the Kubernetes objects of namespace ``osmo-nims``.

Lists, through ``kubectl get ... -o json``, the NIMServices (NIM operator CRD), Deployments, Pods,
Endpoints and the weight-download Jobs, and judges each allow-listed service: healthy, missing,
downloading, starting, failed or unhealthy, each problem a coded finding with its remedy.

Read-only by construction: the only kubectl verbs this module can run are ``get`` and ``version``
(:func:`_kubectl` refuses anything else), so it cannot scale, patch or delete a NIM (rule
``no-nim-scale-down``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.secrets import redact

__all__ = [
    "NIM_NAMESPACE",
    "SPEC_HASH_ANNOTATION",
    "KubeView",
    "NimFinding",
    "ServiceView",
    "kube_view",
]

NIM_NAMESPACE = "osmo-nims"
SPEC_HASH_ANNOTATION = "orion.nvidia.com/spec-hash"
_READ_VERBS = frozenset({"get", "version"})
_ENSURE = "Run `vda nim ensure` (dry run), then `vda nim ensure --apply` once."

Verdict = Literal["healthy", "missing", "downloading", "starting", "failed", "unhealthy"]


class NimFinding(BaseModel):
    """A problem seen: code, one sentence, the next move."""

    model_config = ConfigDict(extra="forbid")
    code: str
    service: str | None = None
    message: str
    remedy: str


class ServiceView(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str
    verdict: Verdict
    state: str | None = Field(default=None, description="NIMService status.state (Ready, NotReady, Pending, Failed); None when absent.")
    spec_hash: str | None = Field(default=None, description=f"The {SPEC_HASH_ANNOTATION} annotation the installer stamped.")
    desired_replicas: int | None = None
    ready_replicas: int = 0
    restarts: int = 0
    image: str | None = None
    endpoint_addresses: int = Field(default=0, description="Ready addresses behind the service.")
    download_job: Literal["absent", "running", "complete", "failed"] = "absent"
    findings: list[NimFinding] = Field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"


class KubeView(BaseModel):
    """``reached`` False: kubectl could not list the namespace (``findings`` says why) and
    ``services`` is empty; this is not evidence that a NIM is missing."""

    model_config = ConfigDict(extra="forbid")
    reached: bool
    namespace: str = NIM_NAMESPACE
    operator_installed: bool | None = Field(default=None, description="The NIMService kind exists (the NIM operator's CRDs are installed).")
    services: list[ServiceView] = Field(default_factory=list)
    findings: list[NimFinding] = Field(default_factory=list)


class _KubeFailure(Exception):
    def __init__(self, finding: NimFinding) -> None:
        super().__init__(finding.message)
        self.finding = finding


# --- running kubectl ----------------------------------------------------------------------------------------


def _classify(stderr: str, kind: str) -> NimFinding:
    text = stderr.strip()
    last = redact(text.splitlines()[-1] if text else "kubectl exited non-zero with no message")
    if "(Forbidden)" in text:
        return NimFinding(code="nim-kube-forbidden", message=f"This kube context may not list {kind} in {NIM_NAMESPACE}: {last}",
                          remedy=f"Use a context with read rights on namespace {NIM_NAMESPACE} (get/list nimservices, deployments, pods, endpoints, jobs), or ask the cluster admin.")
    if "Unauthorized" in text or "must be logged in" in text:
        return NimFinding(code="nim-kube-unauthorized", message=f"The kube context's credentials were refused: {last}",
                          remedy="Refresh the cluster login (kubeconfig token or exec plugin), then check again.")
    return NimFinding(code="nim-kube-unreachable", message=f"kubectl could not reach the cluster: {last}",
                      remedy="Select a kube context that reaches the OSMO cluster (kubectl config use-context ...), or check from inside the cluster.")


def _kubectl(argv: list[str], *, timeout: float) -> subprocess.CompletedProcess[str]:
    if not argv or argv[0] not in _READ_VERBS:
        raise RuntimeError(f"nim_kube runs only read-only kubectl verbs, not {argv[:1]}")
    exe = shutil.which("kubectl")
    if exe is None:
        raise _KubeFailure(NimFinding(code="nim-kubectl-missing", message="kubectl is not on PATH, so the NIMs could not be seen from the cluster.",
                                      remedy="Install kubectl (>= 1.31) with a context for the OSMO cluster, or rely on the HTTP probe from inside the cluster."))
    try:
        return subprocess.run([exe, *argv], capture_output=True, text=True, timeout=timeout + 5, check=False)
    except subprocess.TimeoutExpired as exc:
        raise _KubeFailure(NimFinding(code="nim-kube-unreachable", message=f"kubectl did not answer within {timeout + 5:.0f} s.",
                                      remedy="Check the kube context and the network path to the API server, then check again.")) from exc


def _list(kind: str, *, timeout: float) -> list[dict[str, Any]] | None:
    """Items of ``kind`` in the NIM namespace; None when the kind does not exist (CRD missing)."""
    done = _kubectl(["get", kind, "-n", NIM_NAMESPACE, "-o", "json", f"--request-timeout={timeout:g}s"], timeout=timeout)
    if done.returncode != 0:
        if "doesn't have a resource type" in done.stderr:
            return None
        raise _KubeFailure(_classify(done.stderr, kind))
    try:
        body = json.loads(done.stdout)
    except ValueError as exc:
        raise _KubeFailure(NimFinding(code="nim-kube-unreadable", message=f"kubectl get {kind} printed no JSON.",
                                      remedy="Check that `kubectl` is the real client (kubectl version --client)."))from exc
    items = body.get("items") if isinstance(body, dict) else None
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


# --- judging one service ------------------------------------------------------------------------------------


def _name(obj: dict[str, Any]) -> str:
    return str((obj.get("metadata") or {}).get("name") or "")


def _labels(obj: dict[str, Any]) -> dict[str, Any]:
    return (obj.get("metadata") or {}).get("labels") or {}


def _belongs(obj: dict[str, Any], service: str) -> bool:
    labels = _labels(obj)
    return _name(obj) == service or labels.get("app.kubernetes.io/name") == service or labels.get("app") == service


def _condition(obj: dict[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in (obj.get("status") or {}).get("conditions") or [] if isinstance(c, dict))


def _job_state(jobs: list[dict[str, Any]], service: str) -> Literal["absent", "running", "complete", "failed"]:
    job = next((j for j in jobs if _name(j) == f"{service}-hf-download"), None)
    if job is None:
        return "absent"
    if _condition(job, "Failed"):
        return "failed"
    if _condition(job, "Complete"):
        return "complete"
    return "running"


def _service(service: str, kinds: dict[str, list[dict[str, Any]]]) -> ServiceView:
    nim = next((o for o in kinds["nimservices"] if _name(o) == service), None)
    deploy = next((o for o in kinds["deployments"] if _belongs(o, service)), None)
    pods = [p for p in kinds["pods"] if _belongs(p, service) and "job-name" not in _labels(p)]
    ep = next((o for o in kinds["endpoints"] if _name(o) == service), None)
    job = _job_state(kinds["jobs"], service)

    statuses = [s for p in pods for s in (p.get("status") or {}).get("containerStatuses") or [] if isinstance(s, dict)]
    waiting = sorted({str(((s.get("state") or {}).get("waiting") or {}).get("reason")) for s in statuses if (s.get("state") or {}).get("waiting")})
    restarts = sum(int(s.get("restartCount") or 0) for s in statuses)
    image = next((s.get("image") for s in statuses if s.get("image")), None)
    if image is None and deploy is not None:
        containers = ((((deploy.get("spec") or {}).get("template") or {}).get("spec") or {}).get("containers")) or [{}]
        image = containers[0].get("image")
    desired = (deploy.get("spec") or {}).get("replicas") if deploy else ((nim.get("spec") or {}).get("replicas") if nim else None)
    ready = int(((deploy or {}).get("status") or {}).get("readyReplicas") or 0)
    addresses = sum(len(s.get("addresses") or []) for s in (ep or {}).get("subsets") or [] if isinstance(s, dict))
    state = (nim.get("status") or {}).get("state") if nim else None
    spec_hash = ((nim.get("metadata") or {}).get("annotations") or {}).get(SPEC_HASH_ANNOTATION) if nim else None

    findings: list[NimFinding] = []

    def find(code: str, message: str, remedy: str) -> None:
        findings.append(NimFinding(code=code, service=service, message=message, remedy=remedy))

    verdict: Verdict
    if nim is None and deploy is None:
        verdict = "missing"
        if job == "failed":
            find("nim-download-failed", f"{service}: no NIMService and its weight-download Job {service}-hf-download failed.",
                 "`vda nim ensure --apply` recreates the failed Job (the installer deletes and reruns it); check HF_TOKEN first.")
        elif job == "running":
            verdict = "downloading"
            find("nim-downloading", f"{service}: the weights are still downloading (Job {service}-hf-download is active).",
                 "Wait: download plus warm-up takes about 10-15 minutes; check again, do not start a second install.")
        else:
            find("nim-service-missing", f"{service}: no NIMService or Deployment in {NIM_NAMESPACE}.", _ENSURE)
    elif job == "failed":
        verdict = "failed"
        find("nim-download-failed", f"{service}: its weight-download Job {service}-hf-download failed.",
             "`vda nim ensure --apply` recreates the failed Job; check HF_TOKEN and the PVC if it fails again.")
    elif state == "Failed":
        verdict = "failed"
        find("nim-service-failed", f"{service}: the NIM operator reports the NIMService as Failed.",
             f"Read `kubectl -n {NIM_NAMESPACE} describe nimservice {service}`, then run `vda nim ensure --apply` once.")
    elif addresses > 0 and (state in (None, "Ready")) and ready >= max(int(desired or 1), 1):
        verdict = "healthy"
    elif job == "running":
        verdict = "downloading"
        find("nim-downloading", f"{service}: the weights are still downloading (Job {service}-hf-download is active).",
             "Wait: download plus warm-up takes about 10-15 minutes; check again.")
    elif any(r in ("ImagePullBackOff", "ErrImagePull", "InvalidImageName") for r in waiting):
        verdict = "unhealthy"
        find("nim-image-pull", f"{service}: its pod cannot pull {image or 'the NIM image'} ({', '.join(waiting)}).",
             f"Check the nvcr-pull-secret in {NIM_NAMESPACE} (NGC_API_KEY), then run `vda nim ensure --apply` once.")
    elif "CrashLoopBackOff" in waiting:
        verdict = "unhealthy"
        find("nim-crash-loop", f"{service}: its container keeps crashing ({restarts} restart(s)).",
             f"Read `kubectl -n {NIM_NAMESPACE} logs deploy/{service} --previous`; report it, do not scale or delete the NIM.")
    elif pods or state in ("NotReady", "Pending"):
        verdict = "starting"
        find("nim-not-ready", f"{service}: {ready}/{desired or 1} replica(s) ready, {addresses} endpoint address(es); the model is still loading.",
             "Wait: the startup probe checks /v1/health/ready every 30 s for up to an hour; check again.")
    else:
        verdict = "unhealthy"
        find("nim-no-endpoints", f"{service}: {ready}/{desired or 1} replica(s) ready and no ready endpoint address.", _ENSURE)
    if verdict != "healthy" and restarts and not any(f.code == "nim-crash-loop" for f in findings):
        find("nim-restarts", f"{service}: its containers restarted {restarts} time(s).",
             f"Read `kubectl -n {NIM_NAMESPACE} logs deploy/{service} --previous` if it stays unready.")
    return ServiceView(service=service, verdict=verdict, state=state, spec_hash=spec_hash, desired_replicas=desired,
                       ready_replicas=ready, restarts=restarts, image=image, endpoint_addresses=addresses,
                       download_job=job, findings=findings)


def kube_view(services: tuple[str, ...] | list[str], *, timeout: float = 10.0) -> KubeView:
    """Look at the NIM namespace through kubectl (read-only). Never raises for cluster trouble:
    an unreachable cluster, a missing kubectl or missing rights come back as ``reached=False``."""
    kinds: dict[str, list[dict[str, Any]]] = {}
    operator: bool | None = None
    try:
        for kind in ("nimservices.apps.nvidia.com", "deployments", "pods", "endpoints", "jobs"):
            items = _list(kind, timeout=timeout)
            if kind.startswith("nimservices"):
                operator = items is not None
            kinds[kind.split(".")[0]] = items or []
    except _KubeFailure as failure:
        return KubeView(reached=False, operator_installed=operator, findings=[failure.finding])
    findings: list[NimFinding] = []
    if not operator:
        findings.append(NimFinding(code="nim-operator-missing", message="The NIM operator's NIMService kind is not installed in this cluster.",
                                   remedy=_ENSURE + " The installer adds the operator (helm chart k8s-nim-operator) first."))
    return KubeView(reached=True, operator_installed=operator, services=[_service(s, kinds) for s in services], findings=findings)

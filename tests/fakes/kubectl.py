#!/usr/bin/env python3
"""Faithful doubles of ``kubectl`` (1.31) and ``helm`` (3.x) for the NIM health and ensure tests.

Standalone (stdlib only). :class:`KubeDouble` writes a scenario JSON file and two shims, ``kubectl``
and ``helm``, that exec this script; put its ``bin`` folder first on ``PATH``. Every argv is appended
to a JSONL log, so tests can prove no call scaled, deleted or patched anything.

What the doubles print follows the real tools:

* ``kubectl get <kind> -n NS -o json`` prints a ``List`` (``{"apiVersion": "v1", "items": [...],
  "kind": "List", "metadata": {"resourceVersion": ""}}``); an empty namespace (or a missing one)
  is an empty list with exit 0.
* ``kubectl version --client -o json`` prints ``{"clientVersion": {..., "gitVersion": "v1.31.2"},
  "kustomizeVersion": "v5.4.2"}``.
* Failures exit 1 with kubectl's stderr text: an unreachable API server (``The connection to the
  server HOST was refused - did you specify the right host or port?``), no rights (``Error from
  server (Forbidden): pods is forbidden: User "alice" cannot list resource "pods" in API group "" in
  the namespace "osmo-nims"``), a kind whose CRD is not installed (``error: the server doesn't have a
  resource type "nimservices"``), an expired login (``error: You must be logged in to the server
  (Unauthorized)``).
* ``helm version --short`` prints ``v3.16.2+g13654a5``; ``helm list -n NS -o json`` a JSON array of
  releases (name, namespace, revision, updated, status, chart, app_version).

Scenario keys (all optional)::

    objects        {"nimservices": [obj, ...], "deployments": [...], "pods": [...], "endpoints": [...],
                    "jobs": [...]}   full objects, each with metadata.namespace
    unreachable    "10.0.0.1:6443"  every server call fails to connect
    unauthorized   true             every server call fails with Unauthorized
    forbidden      ["pods", ...]    listing these kinds is forbidden for user "alice"
    no_crd         true             the NIM operator's kinds (nimservices, nimcaches) are unknown
    client_version "v1.31.2"
    helm_version   "v3.16.2+g13654a5"
    releases       [{name, namespace, revision, updated, status, chart, app_version}]
    missing        ["helm"]         the shim of these tools is not written (command not found)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["KubeDouble", "deployment", "endpoints", "job", "nimservice", "pod"]

_ALIASES = {
    "nimservice": "nimservices", "nimservices": "nimservices", "nimservices.apps.nvidia.com": "nimservices",
    "nimcache": "nimcaches", "nimcaches": "nimcaches", "nimcaches.apps.nvidia.com": "nimcaches",
    "deploy": "deployments", "deployment": "deployments", "deployments": "deployments", "deployments.apps": "deployments",
    "po": "pods", "pod": "pods", "pods": "pods",
    "ep": "endpoints", "endpoints": "endpoints",
    "svc": "services", "service": "services", "services": "services",
    "job": "jobs", "jobs": "jobs", "jobs.batch": "jobs",
}
_GROUPS = {"deployments": "apps", "jobs": "batch", "nimservices": "apps.nvidia.com", "nimcaches": "apps.nvidia.com"}
_OPERATOR_KINDS = frozenset({"nimservices", "nimcaches"})


# --- test-side helpers --------------------------------------------------------------------------------------


class KubeDouble:
    """A scenario on disk plus ``kubectl`` and ``helm`` shims in ``root/bin``."""

    def __init__(self, root: Path, scenario: dict[str, Any] | None = None) -> None:
        self.root = Path(root)
        self.bin = self.root / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        self.scenario_path = self.root / "kube_scenario.json"
        self.log_path = self.root / "kube_calls.jsonl"
        self.write(scenario or {})

    def write(self, scenario: dict[str, Any]) -> None:
        data = {"log": str(self.log_path), **scenario}
        self.scenario_path.write_text(json.dumps(data), encoding="utf-8")
        for tool in ("kubectl", "helm"):
            shim = self.bin / tool
            if tool in data.get("missing", []):
                shim.unlink(missing_ok=True)
                continue
            shim.write_text(
                "#!/bin/sh\n"
                f'KUBE_DOUBLE_SCENARIO="${{KUBE_DOUBLE_SCENARIO:-{self.scenario_path}}}"\n'
                "export KUBE_DOUBLE_SCENARIO\n"
                f'exec "{sys.executable}" "{Path(__file__).resolve()}" {tool} "$@"\n',
                encoding="utf-8",
            )
            os.chmod(shim, 0o755)

    def scenario(self) -> dict[str, Any]:
        return json.loads(self.scenario_path.read_text(encoding="utf-8"))

    def update(self, **changes: Any) -> None:
        data = self.scenario()
        data.update(changes)
        self.write(data)

    def calls(self) -> list[list[str]]:
        if not self.log_path.exists():
            return []
        return [json.loads(line)["argv"] for line in self.log_path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _meta(name: str, namespace: str, labels: dict[str, str] | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{name}", "resourceVersion": "4242",
                            "creationTimestamp": "2026-12-01T10:00:00Z", "generation": 1}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return meta


def nimservice(name: str, *, state: str = "Ready", spec_hash: str | None = "0123456789abcdef", namespace: str = "osmo-nims",
               replicas: int = 1, available: int | None = None) -> dict[str, Any]:
    """A NIMService (apps.nvidia.com/v1alpha1) as the NIM operator reports it."""
    ready = state == "Ready"
    return {
        "apiVersion": "apps.nvidia.com/v1alpha1",
        "kind": "NIMService",
        "metadata": _meta(name, namespace, annotations={"orion.nvidia.com/spec-hash": spec_hash} if spec_hash else None),
        "spec": {
            "image": {"repository": "nvcr.io/nim/nvidia/model-free-nim", "tag": "2.0.2", "pullSecrets": ["nvcr-pull-secret"]},
            "authSecret": "ngc-api-secret",
            "replicas": replicas,
            "expose": {"service": {"type": "ClusterIP", "port": 8000}},
        },
        "status": {
            "state": state,
            "availableReplicas": replicas if available is None and ready else (available or 0),
            "conditions": [
                {"type": "Ready", "status": "True" if ready else "False", "reason": "Ready" if ready else "NotReady",
                 "message": "" if ready else f"deployment \"{name}\" has 0 available replicas",
                 "lastTransitionTime": "2026-12-01T10:20:00Z"},
                {"type": "Failed", "status": "True" if state == "Failed" else "False", "reason": "Failed" if state == "Failed" else "Ready",
                 "message": "", "lastTransitionTime": "2026-12-01T10:20:00Z"},
            ],
            "model": {"name": name, "clusterEndpoint": f"{name}.{namespace}.svc.cluster.local:8000"} if ready else None,
        },
    }


def deployment(name: str, *, replicas: int = 1, ready: int | None = None, namespace: str = "osmo-nims",
               image: str = "nvcr.io/nim/nvidia/model-free-nim:2.0.2") -> dict[str, Any]:
    ready = replicas if ready is None else ready
    status: dict[str, Any] = {"observedGeneration": 1, "replicas": replicas, "updatedReplicas": replicas,
                              "conditions": [
                                  {"type": "Available", "status": "True" if ready >= replicas else "False",
                                   "reason": "MinimumReplicasAvailable" if ready >= replicas else "MinimumReplicasUnavailable",
                                   "message": "Deployment has minimum availability." if ready >= replicas else "Deployment does not have minimum availability."},
                                  {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable",
                                   "message": f'ReplicaSet "{name}-7d4b9c" has successfully progressed.'},
                              ]}
    if ready:  # kubectl omits zero counts
        status["readyReplicas"] = ready
        status["availableReplicas"] = ready
    else:
        status["unavailableReplicas"] = replicas
    labels = {"app": name, "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "k8s-nim-operator"}
    return {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": _meta(name, namespace, labels=labels),
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": name, "image": image, "ports": [{"containerPort": 8000, "name": "api", "protocol": "TCP"}]}]}}},
        "status": status,
    }


def pod(name: str, app: str, *, ready: bool = True, restarts: int = 0, waiting: str | None = None, phase: str | None = None,
        namespace: str = "osmo-nims", image: str = "nvcr.io/nim/nvidia/model-free-nim:2.0.2", job: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {"running": {"startedAt": "2026-12-01T10:05:00Z"}}
    if waiting:
        state = {"waiting": {"reason": waiting, "message": f"back-off 5m0s restarting failed container={app}" if waiting == "CrashLoopBackOff" else f"{waiting} for {image}"}}
    labels = {"job-name": job} if job else {"app": app, "app.kubernetes.io/name": app}
    phase = phase or ("Running" if not waiting or waiting == "CrashLoopBackOff" else "Pending")
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": _meta(name, namespace, labels=labels),
        "spec": {"containers": [{"name": app, "image": image}], "nodeName": "gpu-node-1"},
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"},
                           {"type": "ContainersReady", "status": "True" if ready else "False"}],
            "containerStatuses": [{"name": app, "image": image, "imageID": "", "ready": ready, "started": ready,
                                   "restartCount": restarts, "state": state}],
        },
    }


def endpoints(name: str, *, ready: int = 1, not_ready: int = 0, namespace: str = "osmo-nims") -> dict[str, Any]:
    subset: dict[str, Any] = {"ports": [{"name": "api", "port": 8000, "protocol": "TCP"}]}
    if ready:
        subset["addresses"] = [{"ip": f"10.1.0.{i + 10}", "targetRef": {"kind": "Pod", "name": f"{name}-{i}"}} for i in range(ready)]
    if not_ready:
        subset["notReadyAddresses"] = [{"ip": f"10.1.1.{i + 10}", "targetRef": {"kind": "Pod", "name": f"{name}-nr{i}"}} for i in range(not_ready)]
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Endpoints", "metadata": _meta(name, namespace, labels={"app": name})}
    if ready or not_ready:  # an Endpoints object with no backends has no subsets at all
        body["subsets"] = [subset]
    return body


def job(name: str, *, outcome: str = "Complete", namespace: str = "osmo-nims") -> dict[str, Any]:
    """``outcome``: Complete, Failed or Running."""
    status: dict[str, Any] = {"startTime": "2026-12-01T10:00:00Z"}
    if outcome == "Complete":
        status.update(succeeded=1, completionTime="2026-12-01T10:12:00Z",
                      conditions=[{"type": "Complete", "status": "True", "lastProbeTime": "2026-12-01T10:12:00Z"}])
    elif outcome == "Failed":
        status.update(failed=3, conditions=[{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                                             "message": "Job has reached the specified backoff limit"}])
    else:
        status.update(active=1, ready=1)
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": _meta(name, namespace),
            "spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 60}, "status": status}


# --- the doubles --------------------------------------------------------------------------------------------


def _fail(text: str, code: int = 1) -> int:
    sys.stderr.write(text + "\n")
    return code


def _option(argv: list[str], *names: str) -> str | None:
    for i, token in enumerate(argv):
        for name in names:
            if token == name and i + 1 < len(argv):
                return argv[i + 1]
            if token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _kubectl(argv: list[str], sc: dict[str, Any]) -> int:
    if argv[:1] == ["version"] and "--client" in argv:
        version = sc.get("client_version", "v1.31.2")
        minor = version.lstrip("v").split(".")[1]
        print(json.dumps({"clientVersion": {"major": "1", "minor": minor, "gitVersion": version, "gitCommit": "5864a4677267e6adeae276ad85882a8714d69d9d",
                                            "gitTreeState": "clean", "buildDate": "2024-10-22T20:35:25Z", "goVersion": "go1.22.8",
                                            "compiler": "gc", "platform": "linux/amd64"}, "kustomizeVersion": "v5.4.2"}, indent=4))
        return 0
    if sc.get("unreachable"):
        host = sc["unreachable"]
        return _fail(f'E1203 10:00:00.000000   4242 memcache.go:265] "Unhandled Error" err="couldn\'t get current server API group list: '
                     f'Get \\"https://{host}/api?timeout=32s\\": dial tcp {host}: connect: connection refused"\n'
                     f"The connection to the server {host} was refused - did you specify the right host or port?")
    if sc.get("unauthorized"):
        return _fail("error: You must be logged in to the server (Unauthorized)")
    if argv[:1] != ["get"] or len(argv) < 2:
        return _fail(f'error: unknown command "{argv[0] if argv else ""}" for "kubectl"\n\nDid you mean this?\n\tget\nRun \'kubectl --help\' for usage.')
    kinds = [k for k in argv[1].split(",")]
    namespace = _option(argv, "-n", "--namespace") or "default"
    if "-o" not in argv and "--output" not in argv and not any(a.startswith(("-o=", "--output=")) for a in argv):
        return _fail("error: the doubles only print -o json")
    items: list[dict[str, Any]] = []
    for raw in kinds:
        kind = _ALIASES.get(raw)
        if kind is None or (kind in _OPERATOR_KINDS and sc.get("no_crd")):
            return _fail(f'error: the server doesn\'t have a resource type "{raw}"')
        if kind in sc.get("forbidden", []):
            group = _GROUPS.get(kind, "")
            resource = f"{kind}.{group}" if group else kind
            return _fail(f'Error from server (Forbidden): {resource} is forbidden: User "alice" cannot list resource "{kind}" '
                         f'in API group "{group}" in the namespace "{namespace}"')
        items += [o for o in sc.get("objects", {}).get(kind, []) if o.get("metadata", {}).get("namespace") == namespace]
    print(json.dumps({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}, indent=4))
    return 0


def _helm(argv: list[str], sc: dict[str, Any]) -> int:
    if argv[:1] == ["version"]:
        print(sc.get("helm_version", "v3.16.2+g13654a5"))
        return 0
    if argv[:1] in (["list"], ["ls"]):
        if sc.get("unreachable"):
            return _fail(f'Error: Kubernetes cluster unreachable: Get "https://{sc["unreachable"]}/version": dial tcp {sc["unreachable"]}: connect: connection refused')
        namespace = _option(argv, "-n", "--namespace") or "default"
        print(json.dumps([r for r in sc.get("releases", []) if r.get("namespace") == namespace]))
        return 0
    return _fail(f'Error: unknown command "{argv[0] if argv else ""}" for "helm"\nRun \'helm --help\' for usage.')


def main(argv: list[str]) -> int:
    tool, args = argv[0], argv[1:]
    sc = json.loads(Path(os.environ["KUBE_DOUBLE_SCENARIO"]).read_text(encoding="utf-8"))
    with open(sc["log"], "a", encoding="utf-8") as log:
        log.write(json.dumps({"argv": [tool, *args]}) + "\n")
    return _kubectl(args, sc) if tool == "kubectl" else _helm(args, sc)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

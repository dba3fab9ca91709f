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
    nodes          [obj, ...]       cluster nodes (default: one node with 2 GPUs)
    download_fails ["qwen3-vl-hf-download", ...]  ``kubectl wait`` on these Jobs ends them Failed

Besides the reads, the doubles carry the writes the NIM operator installer makes, so the sibling
skill's real ``install.sh`` can run against them (tests/contract/test_nim_installer.py):
``kubectl create namespace|secret ... --dry-run=client -o yaml`` (prints the manifest),
``kubectl apply -f FILE|-`` (stores the objects; a NIMService applied while the operator is
installed is reconciled at once: Deployment, Pod and Endpoints ready, state Ready),
``kubectl wait --for=condition=complete job/NAME`` (the download finishes, or fails), ``kubectl
annotate``, ``kubectl delete``, ``kubectl get NAME --ignore-not-found -o jsonpath=...`` and the plain
tables of ``get pods|crd|nimservice``; ``helm repo add|update`` and ``helm upgrade --install`` (the
release is deployed and the operator's kinds exist from then on). Writes hold a lock on the
scenario file: the installer deploys its NIMs in parallel.
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
    if argv[:1] in (["create"], ["apply"], ["wait"], ["annotate"], ["delete"]):
        return _write(argv, sc)
    if argv[:1] != ["get"] or len(argv) < 2:
        return _fail(f'error: unknown command "{argv[0] if argv else ""}" for "kubectl"\n\nDid you mean this?\n\tget\nRun \'kubectl --help\' for usage.')
    kinds = [k for k in argv[1].split(",")]
    namespace = _option(argv, "-n", "--namespace") or "default"
    output = _option(argv, "-o", "--output")
    if output != "json":
        return _get_other(argv, sc, kinds[0], namespace, output)
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


# --- the installer's side: writes, jsonpath reads, tables ----------------------------------------------------

_KINDS = {"Namespace": "namespaces", "Secret": "secrets", "PersistentVolumeClaim": "persistentvolumeclaims", "Job": "jobs",
          "NIMService": "nimservices", "Deployment": "deployments", "Pod": "pods", "Endpoints": "endpoints"}
_SINGULAR = {"namespaces": "namespace", "secrets": "secret", "persistentvolumeclaims": "persistentvolumeclaim", "jobs": "job.batch",
             "nimservices": "nimservice.apps.nvidia.com"}
_ALIASES.update({"node": "nodes", "nodes": "nodes", "no": "nodes", "crd": "crds", "crds": "crds", "customresourcedefinitions": "crds",
                 "pvc": "persistentvolumeclaims", "persistentvolumeclaim": "persistentvolumeclaims", "persistentvolumeclaims": "persistentvolumeclaims",
                 "secret": "secrets", "secrets": "secrets", "ns": "namespaces", "namespace": "namespaces", "namespaces": "namespaces"})
_CLUSTER_SCOPED = frozenset({"nodes", "crds", "namespaces"})
_DEFAULT_NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "gpu-node-1"},
                 "status": {"capacity": {"nvidia.com/gpu": "2"}, "allocatable": {"nvidia.com/gpu": "2"}}}
_OPERATOR_CRDS = ("nimcaches.apps.nvidia.com", "nimservices.apps.nvidia.com", "nimpipelines.apps.nvidia.com")
_WITH_VALUE = frozenset({"-n", "--namespace", "-o", "--output", "-f", "--filename", "--for", "--timeout", "--docker-server",
                         "--docker-username", "--docker-password", "--from-literal", "--dry-run", "-l", "--selector"})


def _positionals(argv: list[str]) -> list[str]:
    out, skip = [], False
    for token in argv:
        if skip:
            skip = False
        elif token.startswith("-"):
            skip = token in _WITH_VALUE
        else:
            out.append(token)
    return out


class _Locked:
    """Read-modify-write of the scenario under an exclusive lock (parallel installer subshells)."""

    def __enter__(self) -> dict[str, Any]:
        import fcntl

        self.path = Path(os.environ["KUBE_DOUBLE_SCENARIO"])
        self.lock = open(str(self.path) + ".lock", "w")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        self.sc = json.loads(self.path.read_text(encoding="utf-8"))
        return self.sc

    def __exit__(self, *exc: object) -> None:
        if exc[0] is None:
            self.path.write_text(json.dumps(self.sc), encoding="utf-8")
        self.lock.close()


def _objects(sc: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    if kind == "nodes":
        return sc.get("nodes") or [_DEFAULT_NODE]
    if kind == "crds":
        return [] if sc.get("no_crd") else [{"metadata": {"name": n, "creationTimestamp": "2026-12-01T10:00:00Z"}} for n in _OPERATOR_CRDS]
    return sc.setdefault("objects", {}).setdefault(kind, [])


def _find(sc: dict[str, Any], kind: str, namespace: str, name: str) -> dict[str, Any] | None:
    return next((o for o in _objects(sc, kind) if o["metadata"]["name"] == name
                 and (kind in _CLUSTER_SCOPED or o["metadata"].get("namespace") == namespace)), None)


def _jsonpath_values(obj: Any, path: str) -> list[Any]:
    """The values at a kubectl jsonpath such as ``.items[0].status.capacity.nvidia\\.com/gpu`` or
    ``.status.conditions[?(@.type=="Complete")].status``."""
    import re

    values = [obj]
    for field, index, key, want in re.findall(r'\.((?:\\\.|[^.\[])+)|\[(\d+|\*)\]|\[\?\(@\.(\w+)=="([^"]*)"\)\]', path):
        nxt: list[Any] = []
        for value in values:
            if field:
                name = field.replace("\\.", ".")
                if isinstance(value, dict) and name in value:
                    nxt.append(value[name])
            elif index:
                items = value if isinstance(value, list) else []
                nxt += items if index == "*" else items[int(index):int(index) + 1]
            else:
                nxt += [v for v in (value if isinstance(value, list) else []) if isinstance(v, dict) and str(v.get(key)) == want]
        values = nxt
    return values


def _jsonpath(obj: Any, template: str) -> str:
    """kubectl's jsonpath output: ``{path}`` replaced by the values (space-joined), ``{"text"}``
    literals, and ``{range path}...{end}`` repeated per item."""
    import re

    tokens = re.findall(r"\{([^{}]*)\}|([^{}]+)", template)

    def render(parts: list[tuple[str, str]], scope: Any) -> str:
        out, i = [], 0
        while i < len(parts):
            expr, text = parts[i]
            if text:
                out.append(text)
            elif expr.startswith("range "):
                depth, j = 1, i + 1
                while j < len(parts) and depth:
                    depth += parts[j][0].startswith("range ") - (parts[j][0] == "end")
                    j += 1
                for item in _jsonpath_values(scope, expr[6:].strip()):
                    out.append(render(parts[i + 1:j - 1], item))
                i = j
                continue
            elif expr.startswith('"'):
                out.append(json.loads(expr))
            else:
                out.append(" ".join(v if isinstance(v, str) else json.dumps(v) for v in _jsonpath_values(scope, expr)))
            i += 1
        return "".join(out)

    return render(tokens, obj)


def _get_other(argv: list[str], sc: dict[str, Any], raw: str, namespace: str, output: str | None) -> int:
    kind = _ALIASES.get(raw)
    if kind is None or (kind in _OPERATOR_KINDS and sc.get("no_crd")):
        return _fail(f'error: the server doesn\'t have a resource type "{raw}"')
    names = _positionals(argv)[2:]
    every_ns = "-A" in argv or "--all-namespaces" in argv
    items = [o for o in _objects(sc, kind) if every_ns or kind in _CLUSTER_SCOPED or o["metadata"].get("namespace") == namespace]
    if names:
        items = [o for o in items if o["metadata"]["name"] in names]
        if not items and "--ignore-not-found" not in argv:
            return _fail(f'Error from server (NotFound): {_SINGULAR.get(kind, kind)} "{names[0]}" not found')
    if output and output.startswith("jsonpath="):
        if not items and names:
            return 0
        scope = items[0] if names else {"apiVersion": "v1", "kind": "List", "items": items}
        sys.stdout.write(_jsonpath(scope, output[len("jsonpath="):]))
        return 0
    if output not in (None, "wide", "name"):
        return _fail(f"error: the doubles print -o json, jsonpath=, name or tables, not {output}")
    if not items:
        sys.stderr.write(f"No resources found in {namespace} namespace.\n" if not every_ns else "No resources found\n")
        return 0
    if output == "name":
        print("\n".join(f"{_SINGULAR.get(kind, kind)}/{o['metadata']['name']}" for o in items))
        return 0
    head = ("NAMESPACE   " if every_ns else "") + "NAME   STATUS   AGE"
    rows = [("%s   " % o["metadata"].get("namespace", "") if every_ns else "") + f"{o['metadata']['name']}   "
            f"{(o.get('status') or {}).get('state') or (o.get('status') or {}).get('phase') or ''}   10m" for o in items]
    print("\n".join([head, *rows]))
    return 0


def _manifest(argv: list[str]) -> dict[str, Any] | None:
    """``kubectl create namespace|secret ... --dry-run=client -o yaml``: the object it would create."""
    import base64

    words = _positionals(argv)
    namespace = _option(argv, "-n", "--namespace") or "default"
    if words[1:2] == ["namespace"]:
        return {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": words[2]}, "spec": {}, "status": {}}
    if words[1:3] == ["secret", "docker-registry"]:
        auth = {"auths": {_option(argv, "--docker-server"): {"username": _option(argv, "--docker-username"),
                                                              "password": _option(argv, "--docker-password")}}}
        data = {".dockerconfigjson": base64.b64encode(json.dumps(auth).encode()).decode()}
        return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/dockerconfigjson",
                "metadata": {"name": words[3], "namespace": namespace}, "data": data}
    if words[1:3] == ["secret", "generic"]:
        data = {}
        for i, token in enumerate(argv):
            literal = token.split("=", 1)[1] if token.startswith("--from-literal=") else (argv[i + 1] if token == "--from-literal" else None)
            if literal is not None:
                key, _, value = literal.partition("=")
                data[key] = base64.b64encode(value.encode()).decode()
        return {"apiVersion": "v1", "kind": "Secret", "type": "Opaque", "metadata": {"name": words[3], "namespace": namespace}, "data": data}
    return None


def _reconcile(sc: dict[str, Any], svc: dict[str, Any]) -> None:
    """What the NIM operator does with a NIMService: its Deployment, Pod and Endpoints, then Ready."""
    name, namespace = svc["metadata"]["name"], svc["metadata"]["namespace"]
    replicas = int((svc.get("spec") or {}).get("replicas") or 1)
    status = nimservice(name, namespace=namespace, replicas=replicas)["status"]
    svc["status"] = status
    for kind, obj in (("deployments", deployment(name, replicas=replicas, namespace=namespace)),
                      ("pods", pod(f"{name}-7d4b9c-x1", name, namespace=namespace)), ("endpoints", endpoints(name, namespace=namespace))):
        items = _objects(sc, kind)
        items[:] = [o for o in items if not (o["metadata"]["name"] == obj["metadata"]["name"] and o["metadata"]["namespace"] == namespace)] + [obj]


def _apply(sc: dict[str, Any], doc: dict[str, Any], namespace: str) -> str:
    kind = _KINDS.get(str(doc.get("kind")))
    if kind is None:
        raise ValueError(f'error: resource mapping not found for kind "{doc.get("kind")}"')
    if kind in _OPERATOR_KINDS and sc.get("no_crd"):
        raise ValueError(f'error: resource mapping not found for name: "{doc["metadata"]["name"]}" namespace: "{namespace}" '
                         f'from "-": no matches for kind "{doc["kind"]}" in version "{doc.get("apiVersion")}"\n'
                         'ensure CRDs are installed first')
    meta = doc.setdefault("metadata", {})
    if kind not in _CLUSTER_SCOPED:
        meta.setdefault("namespace", namespace)
    items = _objects(sc, kind)
    old = _find(sc, kind, meta.get("namespace", ""), meta["name"])
    if old is not None:
        if {k: v for k, v in old.items() if k not in ("status", "metadata")} == {k: v for k, v in doc.items() if k not in ("status", "metadata")}:
            return f"{_SINGULAR[kind]}/{meta['name']} unchanged"
        # kubectl apply merges: annotations set by `kubectl annotate` survive a re-apply
        meta["annotations"] = {**((old.get("metadata") or {}).get("annotations") or {}), **(meta.get("annotations") or {})}
        items.remove(old)
    created = old is None
    if kind == "jobs":
        doc["status"] = job(meta["name"], outcome="Running", namespace=meta["namespace"])["status"]
    items.append(doc)
    if kind == "nimservices":
        _reconcile(sc, doc)
    return f"{_SINGULAR[kind]}/{meta['name']} {'created' if created else 'configured'}"


def _write(argv: list[str], sc: dict[str, Any]) -> int:
    verb = argv[0]
    namespace = _option(argv, "-n", "--namespace") or "default"
    if verb == "create":
        manifest = _manifest(argv)
        if manifest is None or _option(argv, "--dry-run") != "client":
            return _fail("error: the doubles create only namespaces and secrets, with --dry-run=client")
        import yaml

        sys.stdout.write(yaml.safe_dump(manifest, sort_keys=True))
        return 0
    with _Locked() as live:
        if verb == "apply":
            source = _option(argv, "-f", "--filename")
            import yaml

            text = sys.stdin.read() if source == "-" else Path(source or "").read_text(encoding="utf-8")
            try:
                lines = [_apply(live, doc, namespace) for doc in yaml.safe_load_all(text) if isinstance(doc, dict)]
            except ValueError as exc:
                return _fail(str(exc))
            print("\n".join(lines))
            return 0
        words = _positionals(argv)
        if verb == "wait":
            target = words[1] if len(words) > 1 else ""
            kind_word, _, name = target.partition("/")
            found = _find(live, _ALIASES.get(kind_word, kind_word), namespace, name)
            if found is None:
                return _fail(f'Error from server (NotFound): jobs.batch "{name}" not found')
            failed = name in live.get("download_fails", [])
            found["status"] = job(name, outcome="Failed" if failed else "Complete", namespace=namespace)["status"]
            if failed:
                return _fail(f"error: timed out waiting for the condition on jobs/{name}")
            print(f"job.batch/{name} condition met")
            return 0
        kind = _ALIASES.get(words[1] if len(words) > 1 else "", "")
        name = words[2] if len(words) > 2 else ""
        found = _find(live, kind, namespace, name) if kind else None
        if verb == "annotate":
            if found is None:
                return _fail(f'Error from server (NotFound): {_SINGULAR.get(kind, kind)} "{name}" not found')
            for pair in words[3:]:
                key, _, value = pair.partition("=")
                found["metadata"].setdefault("annotations", {})[key] = value
            print(f"{_SINGULAR.get(kind, kind)}/{name} annotated")
            return 0
        # delete
        if found is None:
            if "--ignore-not-found" in argv:
                return 0
            return _fail(f'Error from server (NotFound): {_SINGULAR.get(kind, kind)} "{name}" not found')
        _objects(live, kind).remove(found)
        print(f'{_SINGULAR.get(kind, kind)} "{name}" deleted')
        return 0


def _helm(argv: list[str], sc: dict[str, Any]) -> int:
    if argv[:1] == ["version"]:
        print(sc.get("helm_version", "v3.16.2+g13654a5"))
        return 0
    if argv[:2] == ["repo", "add"]:
        print(f'"{argv[2]}" has been added to your repositories')
        return 0
    if argv[:2] == ["repo", "update"]:
        print("Hang tight while we grab the latest from your chart repositories...\n"
              "...Successfully got an update from the \"nvidia\" chart repository\nUpdate Complete. \u2388Happy Helming!\u2388")
        return 0
    if argv[:1] == ["upgrade"] and "--install" in argv:
        release, chart = _positionals(argv)[1:3]
        namespace = _option(argv, "-n", "--namespace") or "default"
        version = (_option(argv, "--version") or "3.1.0").lstrip("v")
        with _Locked() as live:
            releases = [r for r in live.get("releases", []) if not (r.get("name") == release and r.get("namespace") == namespace)]
            revision = 1 + max((int(r.get("revision", 0)) for r in live.get("releases", []) if r.get("name") == release), default=0)
            live["releases"] = releases + [{"name": release, "namespace": namespace, "revision": str(revision),
                                            "updated": "2026-12-06 10:00:00.000000 +0000 UTC", "status": "deployed",
                                            "chart": f"{chart.split('/')[-1]}-{version}", "app_version": f"v{version}"}]
            live["no_crd"] = False
        print(f'Release "{release}" has been upgraded. Happy Helming!' if revision > 1 else f'Release "{release}" does not exist. Installing it now.')
        print(f"NAME: {release}\nNAMESPACE: {namespace}\nSTATUS: deployed\nREVISION: {revision}")
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

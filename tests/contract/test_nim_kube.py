"""NIM health from inside the cluster: kubectl's JSON (through the kubectl double), one verdict per
service, coded findings, read-only argv."""

from __future__ import annotations

import ast

import pytest

from skill.paths import skill_root
from skill.steps.nim_kube import kube_view
from tests.fakes.kubectl import KubeDouble, deployment, endpoints, job, nimservice, pod

SERVICES = ("qwen3-vl", "qwen25-14b")


def healthy_objects(*names: str) -> dict:
    return {
        "nimservices": [nimservice(n) for n in names],
        "deployments": [deployment(n) for n in names],
        "pods": [pod(f"{n}-7d4b9c-x1", n) for n in names],
        "endpoints": [endpoints(n) for n in names],
        "jobs": [job(f"{n}-hf-download") for n in names],
    }


@pytest.fixture
def kube(tmp_path, monkeypatch: pytest.MonkeyPatch) -> KubeDouble:
    double = KubeDouble(tmp_path / "kube")
    monkeypatch.setenv("PATH", f"{double.bin}:/usr/bin:/bin")
    return double


def verdicts(view) -> dict[str, str]:
    return {s.service: s.verdict for s in view.services}


def test_healthy_nims_are_seen_with_replicas_image_and_endpoints(kube):
    kube.update(objects=healthy_objects(*SERVICES))
    view = kube_view(SERVICES)
    assert view.reached and view.operator_installed and verdicts(view) == {"qwen3-vl": "healthy", "qwen25-14b": "healthy"}
    vlm = view.services[0]
    assert (vlm.ready_replicas, vlm.desired_replicas, vlm.endpoint_addresses, vlm.restarts, vlm.state, vlm.download_job) == (1, 1, 1, 0, "Ready", "complete")
    assert vlm.image == "nvcr.io/nim/nvidia/model-free-nim:2.0.2" and vlm.spec_hash == "0123456789abcdef" and not vlm.findings


def test_objects_of_other_namespaces_do_not_count(kube):
    kube.update(objects={k: [{**o, "metadata": {**o["metadata"], "namespace": "default"}} for o in v] for k, v in healthy_objects(*SERVICES).items()})
    assert verdicts(kube_view(SERVICES)) == {"qwen3-vl": "missing", "qwen25-14b": "missing"}


def test_half_deployed_operator(kube):
    kube.update(no_crd=True, objects={"pods": [], "deployments": []})
    view = kube_view(SERVICES)
    assert view.reached and view.operator_installed is False
    assert [f.code for f in view.findings] == ["nim-operator-missing"]
    assert verdicts(view) == {"qwen3-vl": "missing", "qwen25-14b": "missing"}
    assert all(s.findings[0].code == "nim-service-missing" and "vda nim ensure" in s.findings[0].remedy for s in view.services)


def test_failed_download_job(kube):
    objects = healthy_objects("qwen25-14b")
    objects["jobs"].append(job("qwen3-vl-hf-download", outcome="Failed"))
    kube.update(objects=objects)
    view = kube_view(SERVICES)
    assert verdicts(view) == {"qwen3-vl": "missing", "qwen25-14b": "healthy"}
    assert view.services[0].download_job == "failed" and view.services[0].findings[0].code == "nim-download-failed"


def test_running_download_means_wait(kube):
    kube.update(objects={"jobs": [job("qwen3-vl-hf-download", outcome="Running")]})
    vlm = kube_view(SERVICES).services[0]
    assert vlm.verdict == "downloading" and vlm.findings[0].code == "nim-downloading"


@pytest.mark.parametrize(("pod_kwargs", "verdict", "code"), [
    ({"ready": False, "waiting": "ImagePullBackOff"}, "unhealthy", "nim-image-pull"),
    ({"ready": False, "waiting": "CrashLoopBackOff", "restarts": 7}, "unhealthy", "nim-crash-loop"),
    ({"ready": False, "restarts": 2}, "starting", "nim-not-ready"),
])
def test_unready_pods_are_coded(kube, pod_kwargs, verdict, code):
    objects = healthy_objects("qwen25-14b")
    objects["nimservices"].append(nimservice("qwen3-vl", state="NotReady"))
    objects["deployments"].append(deployment("qwen3-vl", ready=0))
    objects["pods"].append(pod("qwen3-vl-7d4b9c-x1", "qwen3-vl", **pod_kwargs))
    objects["endpoints"].append(endpoints("qwen3-vl", ready=0, not_ready=1))
    kube.update(objects=objects)
    vlm = kube_view(SERVICES).services[0]
    assert (vlm.verdict, vlm.findings[0].code, vlm.ready_replicas, vlm.endpoint_addresses) == (verdict, code, 0, 0)
    assert vlm.restarts == pod_kwargs.get("restarts", 0)
    if pod_kwargs.get("restarts") and code != "nim-crash-loop":
        assert [f.code for f in vlm.findings][-1] == "nim-restarts"


def test_failed_nimservice(kube):
    objects = healthy_objects(*SERVICES)
    objects["nimservices"][1] = nimservice("qwen25-14b", state="Failed")
    kube.update(objects=objects)
    assert kube_view(SERVICES).services[1].findings[0].code == "nim-service-failed"


@pytest.mark.parametrize(("scenario", "code"), [
    ({"unreachable": "10.0.0.1:6443"}, "nim-kube-unreachable"),
    ({"unauthorized": True}, "nim-kube-unauthorized"),
    ({"forbidden": ["pods"]}, "nim-kube-forbidden"),
    ({"missing": ["kubectl"]}, "nim-kubectl-missing"),
])
def test_cluster_trouble_is_not_a_missing_nim(kube, monkeypatch, scenario, code):
    if "missing" in scenario:
        monkeypatch.setenv("PATH", str(kube.bin))
    kube.update(objects=healthy_objects(*SERVICES), **scenario)
    view = kube_view(SERVICES)
    assert not view.reached and view.services == [] and [f.code for f in view.findings] == [code]
    assert view.findings[0].remedy
    if code == "nim-kube-forbidden":
        assert 'cannot list resource "pods"' in view.findings[0].message


def test_every_kubectl_call_is_a_read(kube):
    kube.update(objects=healthy_objects(*SERVICES))
    kube_view(SERVICES)
    calls = kube.calls()
    assert len(calls) == 5 and {c[1] for c in calls} == {"get"}
    assert all(c[c.index("-n") + 1] == "osmo-nims" and "json" in c for c in calls)


def test_no_mutating_kubectl_verb_in_the_module():
    tree = ast.parse((skill_root() / "skill" / "steps" / "nim_kube.py").read_text())
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not literals & {"scale", "delete", "patch", "apply", "edit", "annotate", "replace", "uninstall", "--replicas"}


# --- nim_health: kubectl combined with the HTTP probe -------------------------------------------------------

import httpx2  # noqa: E402
import respx  # noqa: E402

from skill.steps.nim import NimHealthRequest, nim_health  # noqa: E402


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def off_cluster(router) -> None:
    """After the test's own routes: every other host fails to resolve, as cluster-local names do off-cluster."""
    router.route().mock(side_effect=httpx2.ConnectError("Name or service not known"))


def test_off_cluster_healthy_nims_seen_through_kubectl_are_green(kube, router):
    off_cluster(router)
    kube.update(objects=healthy_objects(*SERVICES))
    result = nim_health(NimHealthRequest())
    assert result.action == "reuse" and result.command is None and result.looked_via == ["kubectl"]
    assert [(e.service, e.looked_via, e.verdict, e.healthy) for e in result.endpoints] == [
        ("qwen3-vl", "kubectl", "healthy", True), ("qwen25-14b", "kubectl", "healthy", True)]
    assert router.calls.call_count == 0 and not result.findings


def test_missing_nims_seen_through_kubectl_mean_install(kube, router):
    kube.update(objects=healthy_objects("qwen3-vl"))
    result = nim_health(NimHealthRequest(infra_skill_dir="/opt/infra"))
    assert result.action == "install" and "NIM_SERVICES=\"qwen3-vl qwen25-14b\"" in result.command
    assert [f.code for f in result.findings] == ["nim-service-missing"] and result.findings[0].service == "qwen25-14b"


def test_a_download_in_progress_means_wait(kube, router):
    objects = healthy_objects("qwen25-14b")
    objects["jobs"].append(job("qwen3-vl-hf-download", outcome="Running"))
    kube.update(objects=objects)
    result = nim_health(NimHealthRequest())
    assert result.action == "wait" and result.command is None and result.findings[0].code == "nim-downloading"


def test_external_endpoint_is_probed_over_http_beside_kubectl(kube, router):
    kube.update(objects=healthy_objects(*SERVICES))
    router.get("https://ext.example.com/v1/models").mock(return_value=httpx2.Response(200, json={"data": [{"id": "m"}]}))
    router.get("https://ext.example.com/v1/health/ready").mock(return_value=httpx2.Response(200))
    off_cluster(router)
    result = nim_health(NimHealthRequest(vlm_url="https://ext.example.com/v1"))
    assert result.action == "reuse" and result.looked_via == ["http", "kubectl"]
    assert [e.looked_via for e in result.endpoints] == ["http", "kubectl"]


def test_no_rights_is_reported_not_installed(kube, router):
    off_cluster(router)
    kube.update(objects=healthy_objects(*SERVICES), forbidden=["deployments"])
    result = nim_health(NimHealthRequest())
    assert result.action == "unknown" and result.command is None
    assert result.findings[0].code == "nim-kube-forbidden" and "read rights" in result.findings[0].remedy


def test_via_kubectl_only_never_probes_http(kube, router):
    off_cluster(router)
    kube.update(unreachable="10.0.0.1:6443")
    result = nim_health(NimHealthRequest(via="kubectl"))
    assert result.action == "unknown" and router.calls.call_count == 0

"""`vda nim ensure` with the sibling infrastructure skill's REAL installer (its install.sh and
preflight.sh, unchanged) running against the kubectl/helm doubles, which record every argv the
installer's processes run. This is the proof behind "no argv anywhere contains a scale-down,
delete or replica decrease" for missing NIMs, and behind idempotence (a second ensure changes
nothing), that our ``spec_hash`` equals the hash the installer stamps, and what a repair really
runs.

Needs a copy of NVIDIA/skills: ``VDA_INFRA_SKILL_SOURCE`` names its root (holding
``skills/physical-ai-infrastructure-setup-and-resilient-scaling``) or that skill folder itself. It
is never committed here; without it these tests are skipped with that reason. The skill is copied
into a temp folder per test (the installer reads ``<repo root>/.env``; the copy has none).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from skill.steps.nim import INFRA_SKILL_NAME, INSTALL_SCRIPT
from skill.steps.nim_ensure import NimEnsureRequest, nim_ensure, spec_hash
from tests.fakes.kubectl import KubeDouble, deployment, endpoints, job, nimservice, pod

SERVICES = ("qwen3-vl", "qwen25-14b")
NGC = "nvapi-" + "k" * 40
HF = "hf_" + "T" * 34
# an argv holding any of these would scale, delete, patch, edit or roll a NIM (or anything else)
LOWERING = ("scale", "delete", "patch", "uninstall", "--replicas", "edit", "rollout", "autoscale")
NIMS = Path("components", "inference-nim-operator", "nims")


def _source() -> Path:
    raw = os.environ.get("VDA_INFRA_SKILL_SOURCE", "").strip()
    if not raw:
        pytest.skip("VDA_INFRA_SKILL_SOURCE is not set: these tests run the real NIM installer of a NVIDIA/skills copy "
                    f"(its root, or the {INFRA_SKILL_NAME} folder)")
    root = Path(raw).expanduser()
    for candidate in (root, root / "skills" / INFRA_SKILL_NAME):
        if (candidate / INSTALL_SCRIPT).is_file():
            return candidate
    pytest.fail(f"VDA_INFRA_SKILL_SOURCE={raw} holds no {INSTALL_SCRIPT}")


@pytest.fixture
def infra(tmp_path, monkeypatch: pytest.MonkeyPatch) -> Path:
    copy = tmp_path / "repo" / "skills" / INFRA_SKILL_NAME
    shutil.copytree(_source(), copy)
    monkeypatch.setenv("INFRA_SKILL_DIR", str(copy))  # the operator's choice: an argument alone is not trusted
    return copy


@pytest.fixture
def kube(tmp_path, monkeypatch: pytest.MonkeyPatch) -> KubeDouble:
    double = KubeDouble(tmp_path / "kube", {"no_crd": True, "releases": []})
    monkeypatch.setenv("PATH", f"{double.bin}:/usr/bin:/bin")
    monkeypatch.setenv("KUBE_DOUBLE_SCENARIO", str(double.scenario_path))
    monkeypatch.setenv("NGC_API_KEY", NGC)
    monkeypatch.setenv("HF_TOKEN", HF)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INFRA_SKILL_DIR", str(tmp_path / "repo" / "skills" / INFRA_SKILL_NAME))  # the operator's choice
    monkeypatch.delenv("NIM_SERVICES", raising=False)
    return double


def lowering(calls: list[list[str]]) -> list[list[str]]:
    return [argv for argv in calls if any(word in token for token in argv for word in LOWERING)]


def names(kube: KubeDouble, kind: str) -> list[str]:
    return sorted(o["metadata"]["name"] for o in kube.scenario().get("objects", {}).get(kind, []))


def test_missing_nims_one_ensure_deploys_exactly_the_allow_list_and_a_second_changes_nothing(kube, infra):
    lines: list[str] = []
    first = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)), on_progress=lines.append)
    assert first.outcome == "ran" and first.exit_code == 0, first.output_tail
    assert [(p.service, p.step, p.after) for p in first.plan] == [("qwen3-vl", "deploy", "healthy"), ("qwen25-14b", "deploy", "healthy")]
    assert lines[0].startswith("NIM deploy: about") and any("Deploying NIMs (2 selected): qwen25-14b qwen3-vl" in line for line in lines)

    # exactly the two VDA NIMs, out of every NIM the skill knows
    known = sorted(p.name for p in (infra / NIMS).iterdir() if p.is_dir())
    assert set(SERVICES) < set(known) and len(known) > 2
    assert names(kube, "nimservices") == sorted(SERVICES)
    assert names(kube, "jobs") == sorted(f"{s}-hf-download" for s in SERVICES)
    assert names(kube, "persistentvolumeclaims") == sorted(f"{s}-pvc" for s in SERVICES)
    # the installer stamped the same hash our planner computes
    stamped = {o["metadata"]["name"]: o["metadata"]["annotations"]["orion.nvidia.com/spec-hash"]
               for o in kube.scenario()["objects"]["nimservices"]}
    assert stamped == {s: spec_hash(infra / NIMS / s) for s in SERVICES}

    # the installer hands both keys to `kubectl create secret` on its command line; none reaches our output
    calls = kube.calls()
    assert any(NGC in token for argv in calls for token in argv)
    assert NGC not in first.model_dump_json() + "\n".join(lines) and HF not in first.model_dump_json() + "\n".join(lines)
    assert lowering(calls) == []
    assert [argv for argv in calls if argv[0] == "helm" and argv[1] not in ("version", "list", "repo")] == [
        ["helm", "upgrade", "--install", "nim-operator", "nvidia/k8s-nim-operator", "-n", "nim-operator", "--version=3.1.0", "--wait", "--timeout=300s"]]

    before = len(calls)
    second = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert second.outcome == "nothing" and second.command is None
    assert [(p.step, p.why) for p in second.plan] == [("skip", "Ready and its spec-hash matches.")] * 2
    after = kube.calls()[before:]
    assert after and all(argv[1] in ("get", "version", "list") for argv in after), after


def test_the_real_installer_itself_skips_ready_nims_whose_hash_matches(kube, infra):
    """Run the installer a second time by hand (what a user might do): nothing is re-applied."""
    nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    before = len(kube.calls())
    done = subprocess.run(["bash", str(infra / INSTALL_SCRIPT)], env={**os.environ, "NIM_SERVICES": " ".join(SERVICES)},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    for service in SERVICES:
        assert f"[{service}] NIMService Ready + spec-hash matches" in done.stdout
    again = kube.calls()[before:]
    assert lowering(again) == []
    assert not [argv for argv in again if argv[1] == "apply" and "-f" in argv and argv[argv.index("-f") + 1] != "-"]


def test_a_failed_download_is_repaired_by_recreating_only_that_job(kube, infra):
    """The real installer's repair of a Failed download Job deletes that Job and runs it again (a
    Job's spec cannot change, so it is recreated): the one delete any path makes. No NIMService,
    Deployment or Pod is deleted, nothing is scaled, and the healthy NIM is left alone."""
    healthy = "qwen25-14b"
    kube.update(no_crd=False, releases=[{"name": "nim-operator", "namespace": "nim-operator", "revision": "1",
                                         "updated": "2026-12-01 10:00:00.000000 +0000 UTC", "status": "deployed",
                                         "chart": "k8s-nim-operator-3.1.0", "app_version": "v3.1.0"}],
                objects={"nimservices": [nimservice(healthy, spec_hash=spec_hash(infra / NIMS / healthy))],
                         "deployments": [deployment(healthy)], "pods": [pod(healthy + "-x", healthy)],
                         "endpoints": [endpoints(healthy)],
                         "jobs": [job(healthy + "-hf-download"), job("qwen3-vl-hf-download", outcome="Failed")]})
    result = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert result.outcome == "ran", result.output_tail
    assert [(p.service, p.step, p.after) for p in result.plan] == [("qwen3-vl", "repair", "healthy"), (healthy, "skip", "healthy")]
    calls = kube.calls()
    assert lowering(calls) == [["kubectl", "delete", "job", "-n", "osmo-nims", "qwen3-vl-hf-download", "--ignore-not-found", "--wait"]]
    applied = [argv[argv.index("-f") + 1] for argv in calls if argv[1] == "apply" and argv[argv.index("-f") + 1] != "-"]
    assert applied and all(f"/{healthy}/" not in path for path in applied)
    assert any(f"[{healthy}] NIMService Ready + spec-hash matches" in line for line in result.output_tail) or healthy in names(kube, "nimservices")


def test_without_the_copy_the_reason_is_given(monkeypatch):
    monkeypatch.delenv("VDA_INFRA_SKILL_SOURCE", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        _source()
    assert "VDA_INFRA_SKILL_SOURCE is not set" in str(skipped.value)

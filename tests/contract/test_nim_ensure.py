"""vda nim ensure: plan from what kubectl sees, dry run by default, one installer pass with exactly
the allow-list, idempotent, blocked by missing rights or prerequisites, never a scale-down argv."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from skill.errors import InputError, PolicyDenied
from skill.paths import skill_root
from skill.steps import nim_ensure as ensure_module
from skill.steps.nim_ensure import NimEnsureRequest, nim_ensure, spec_hash
from tests.fakes.kubectl import KubeDouble, deployment, endpoints, job, nimservice, pod

SERVICES = ("qwen3-vl", "qwen25-14b")
NGC = "nvapi-" + "k" * 40
HF = "hf_" + "T" * 34
FORBIDDEN_WORDS = ("scale", "delete", "patch", "uninstall", "--replicas", "edit", "rollout")

# The stand-in installer: logs what it was given, then makes the cluster look like the real one
# would after a good run (each selected NIM Ready with the spec-hash of its manifests).
FAKE_INSTALL = r'''#!/usr/bin/env bash
set -euo pipefail
echo "NIM_SERVICES=${NIM_SERVICES:-<unset>}" >> "${ENSURE_LOG}"
echo "==> Installing NIM Operator 3.1.0"
echo "==> Deploying NIMs: ${NIM_SERVICES}"
exit_code="${FAKE_INSTALL_EXIT:-0}"
if [[ "${exit_code}" != "0" ]]; then echo "ERROR: one or more NIM deployments failed"; exit "${exit_code}"; fi
"${PYTHON}" "${EFFECT}" "${SCRIPT_DIR_ROOT}"
'''

EFFECT = '''
import json, os, sys
sys.path.insert(0, os.environ["REPO"])
from pathlib import Path
from skill.steps.nim_ensure import spec_hash
from tests.fakes.kubectl import deployment, endpoints, job, nimservice, pod
path = Path(os.environ["KUBE_DOUBLE_SCENARIO"])
sc = json.loads(path.read_text())
objects = sc.setdefault("objects", {})
for name in os.environ["NIM_SERVICES"].split():
    h = spec_hash(Path(sys.argv[1]) / "components/inference-nim-operator/nims" / name)
    for kind, obj in (("nimservices", nimservice(name, spec_hash=h)), ("deployments", deployment(name)), ("pods", pod(name + "-x", name)),
                      ("endpoints", endpoints(name)), ("jobs", job(name + "-hf-download"))):
        objects[kind] = [o for o in objects.get(kind, []) if o["metadata"]["name"] != obj["metadata"]["name"]] + [obj]
path.write_text(json.dumps(sc))
'''


@pytest.fixture
def infra(tmp_path) -> Path:
    root = tmp_path / "skills" / "physical-ai-infrastructure-setup-and-resilient-scaling"
    scripts = root / "components" / "inference-nim-operator" / "scripts"
    scripts.mkdir(parents=True)
    (scripts / "install.sh").write_text(FAKE_INSTALL)
    for name, size in (("qwen3-vl", "100Gi"), ("qwen25-14b", "50Gi")):
        nim = root / "components" / "inference-nim-operator" / "nims" / name
        nim.mkdir(parents=True)
        (nim / "pvc.yaml").write_text(f"kind: PersistentVolumeClaim\nmetadata: {{name: {name}-pvc}}\nspec: {{resources: {{requests: {{storage: {size}}}}}}}\n")
        (nim / "hf-download-job.yaml").write_text(f"kind: Job\nmetadata: {{name: {name}-hf-download}}\n")
        (nim / "nimservice.yaml").write_text(f"kind: NIMService\nmetadata: {{name: {name}, namespace: osmo-nims}}\nspec: {{replicas: 1}}\n")
    return root


@pytest.fixture
def kube(tmp_path, monkeypatch: pytest.MonkeyPatch, infra: Path) -> KubeDouble:
    double = KubeDouble(tmp_path / "kube", {"releases": [{"name": "nim-operator", "namespace": "nim-operator", "revision": "1",
                                                           "updated": "2026-12-01 10:00:00.000000 +0000 UTC", "status": "deployed",
                                                           "chart": "k8s-nim-operator-3.1.0", "app_version": "v3.1.0"}]})
    effect = tmp_path / "effect.py"
    effect.write_text(EFFECT)
    monkeypatch.setenv("PATH", f"{double.bin}:/usr/bin:/bin")
    monkeypatch.setenv("KUBE_DOUBLE_SCENARIO", str(double.scenario_path))
    monkeypatch.setenv("ENSURE_LOG", str(tmp_path / "installer.log"))
    monkeypatch.setenv("PYTHON", sys.executable)
    monkeypatch.setenv("EFFECT", str(effect))
    monkeypatch.setenv("REPO", str(skill_root()))
    monkeypatch.setenv("SCRIPT_DIR_ROOT", str(infra))
    monkeypatch.setenv("NGC_API_KEY", NGC)
    monkeypatch.setenv("HF_TOKEN", HF)
    monkeypatch.setenv("INFRA_SKILL_DIR", str(infra))  # the operator's choice: an argument alone is not trusted
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return double


def installer_runs(tmp_path) -> list[str]:
    log = tmp_path / "installer.log"
    return log.read_text().splitlines() if log.exists() else []


def ready(infra: Path, *names: str, hashes: dict[str, str] | None = None) -> dict:
    hashes = hashes or {}
    return {
        "nimservices": [nimservice(n, spec_hash=hashes.get(n, spec_hash(infra / "components/inference-nim-operator/nims" / n))) for n in names],
        "deployments": [deployment(n) for n in names], "pods": [pod(n + "-x", n) for n in names],
        "endpoints": [endpoints(n) for n in names], "jobs": [job(n + "-hf-download") for n in names],
    }


def assert_no_lowering_argv(kube: KubeDouble) -> None:
    for argv in kube.calls():
        assert argv[1] in ("get", "version", "list"), argv
        assert not any(word in token for token in argv for word in FORBIDDEN_WORDS), argv


def test_dry_run_shows_the_plan_and_the_exact_command(kube, infra, tmp_path):
    result = nim_ensure(NimEnsureRequest(infra_skill_dir=str(infra)))
    assert result.outcome == "would-run" and installer_runs(tmp_path) == []
    assert [(p.service, p.seen, p.step) for p in result.plan] == [("qwen3-vl", "missing", "deploy"), ("qwen25-14b", "missing", "deploy")]
    assert result.command == f'NIM_SERVICES="qwen3-vl qwen25-14b" bash {infra}/components/inference-nim-operator/scripts/install.sh'
    assert "10-15 min" in result.eta and result.services == list(SERVICES)
    assert_no_lowering_argv(kube)


def test_apply_deploys_exactly_the_allow_list_once_then_changes_nothing(kube, infra, tmp_path):
    lines: list[str] = []
    first = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)), on_progress=lines.append)
    assert first.outcome == "ran" and first.exit_code == 0
    assert lines[0].startswith("NIM deploy: about 10-15 min") and any("Deploying NIMs" in line for line in lines)
    assert installer_runs(tmp_path) == ["NIM_SERVICES=qwen3-vl qwen25-14b"]
    assert [p.after for p in first.plan] == ["healthy", "healthy"]
    second = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert second.outcome == "nothing" and second.command is None
    assert [(p.step, p.why) for p in second.plan] == [("skip", "Ready and its spec-hash matches.")] * 2
    assert installer_runs(tmp_path) == ["NIM_SERVICES=qwen3-vl qwen25-14b"]
    assert_no_lowering_argv(kube)


def test_matching_hash_is_skipped_and_a_drifted_one_updated(kube, infra):
    kube.update(objects=ready(infra, *SERVICES, hashes={"qwen25-14b": "ffffffffffffffff"}))
    result = nim_ensure(NimEnsureRequest(infra_skill_dir=str(infra)))
    assert [p.step for p in result.plan] == ["skip", "update"] and result.outcome == "would-run"
    assert "ffffffffffffffff" in result.plan[1].why


def test_failed_download_job_is_repaired(kube, infra):
    objects = ready(infra, "qwen25-14b")
    objects["jobs"].append(job("qwen3-vl-hf-download", outcome="Failed"))
    kube.update(objects=objects)
    result = nim_ensure(NimEnsureRequest(infra_skill_dir=str(infra)))
    assert [p.step for p in result.plan] == ["repair", "skip"]
    assert "nim-download-failed" in [f.code for f in result.findings]


def test_half_deployed_operator_is_repaired_by_the_installer(kube, infra):
    kube.update(no_crd=True, releases=[{"name": "nim-operator", "namespace": "nim-operator", "revision": "1", "updated": "2026-12-01 10:00:00 +0000 UTC",
                                        "status": "failed", "chart": "k8s-nim-operator-3.1.0", "app_version": "v3.1.0"}])
    result = nim_ensure(NimEnsureRequest(infra_skill_dir=str(infra)))
    codes = [f.code for f in result.findings]
    assert result.outcome == "would-run" and "nim-operator-missing" in codes and "nim-operator-release" in codes
    assert [p.step for p in result.plan] == ["deploy", "deploy"]


def test_a_download_in_progress_means_wait_and_nothing_runs(kube, infra, tmp_path):
    objects = ready(infra, "qwen25-14b")
    objects["jobs"].append(job("qwen3-vl-hf-download", outcome="Running"))
    kube.update(objects=objects)
    result = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert result.outcome == "wait" and installer_runs(tmp_path) == []


def test_no_rights_blocks_before_anything_runs(kube, infra, tmp_path):
    kube.update(forbidden=["nimservices"])
    result = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert result.outcome == "blocked" and [f.code for f in result.findings] == ["nim-kube-forbidden"]
    assert installer_runs(tmp_path) == []


@pytest.mark.parametrize(("change", "code"), [
    ({"env": "HF_TOKEN"}, "nim-preflight-secret"),
    ({"env": "NGC_API_KEY"}, "nim-preflight-secret"),
    ({"scenario": {"client_version": "v1.29.4"}}, "nim-preflight-kubectl"),
    ({"scenario": {"missing": ["helm"]}}, "nim-preflight-helm"),
])
def test_preflight_blocks_the_apply(kube, infra, tmp_path, monkeypatch, change, code):
    if "env" in change:
        monkeypatch.delenv(change["env"])
    else:
        kube.update(**change["scenario"])
    result = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert result.outcome == "blocked" and code in [f.code for f in result.findings]
    assert installer_runs(tmp_path) == []
    text = result.model_dump_json()
    assert NGC not in text and HF not in text


def test_missing_infra_skill_is_named_with_its_remedy(kube, tmp_path, monkeypatch):
    monkeypatch.delenv("INFRA_SKILL_DIR")
    result = nim_ensure(NimEnsureRequest(apply=True))
    assert result.outcome == "blocked" and "nim-infra-skill-missing" in [f.code for f in result.findings]
    assert "INFRA_SKILL_DIR" in result.command


def test_a_failing_installer_is_a_coded_failure_with_the_tail(kube, infra, tmp_path, monkeypatch):
    monkeypatch.setenv("FAKE_INSTALL_EXIT", "3")
    result = nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(infra)))
    assert result.outcome == "failed" and result.exit_code == 3
    assert result.findings[-1].code == "nim-install-failed" and "ERROR: one or more NIM deployments failed" in result.output_tail
    assert [p.after for p in result.plan] == ["missing", "missing"]


def test_the_policy_is_a_second_wall(kube, infra, monkeypatch):
    monkeypatch.setattr(ensure_module, "INSTALL_COMMAND", "bash {infra_skill}/components/inference-nim-operator/scripts/install.sh")
    with pytest.raises(PolicyDenied) as err:
        nim_ensure(NimEnsureRequest(infra_skill_dir=str(infra)))
    assert err.value.rule == "nim-allow-list"


def test_services_are_not_a_parameter():
    with pytest.raises(ValueError):
        NimEnsureRequest(services=["cosmos-predict"])
    with pytest.raises(ValueError):
        NimEnsureRequest(infra_skill_dir="relative/path")


def test_the_module_starts_no_lowering_program():
    import ast

    tree = ast.parse((skill_root() / "skill" / "steps" / "nim_ensure.py").read_text())
    literals = {node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    assert not literals & {"scale", "delete", "patch", "uninstall", "edit", "annotate", "apply", "--replicas"}


def test_cli_ensure_dry_run_and_apply(kube, infra, tmp_path, capsys):
    from tools.commands import nim as command

    args = argparse.Namespace(nim_action="ensure", apply=False, infra_skill=str(infra), timeout=600.0, json=True)
    assert command.run_ensure(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["outcome"] == "would-run" and installer_runs(tmp_path) == []
    args.apply, args.json = True, False
    assert command.run_ensure(args) == 0
    text = capsys.readouterr().out
    assert "OUTCOME: ran" in text and "qwen3-vl: deploy -> healthy" in text
    assert command.run_ensure(args) == 0 and "OUTCOME: nothing" in capsys.readouterr().out
    assert installer_runs(tmp_path) == ["NIM_SERVICES=qwen3-vl qwen25-14b"]


def test_an_infra_skill_dir_the_operator_did_not_choose_never_runs(tmp_path: Path, kube: KubeDouble, monkeypatch: pytest.MonkeyPatch):
    """nim_ensure(apply=true) runs <infra_skill_dir>/.../install.sh: an agent's argument pointing at
    another copy (one edited to run anything) is refused before anything is said or run (issue 14)."""
    evil = tmp_path / "elsewhere" / "physical-ai-infrastructure-setup-and-resilient-scaling"
    scripts = evil / "components" / "inference-nim-operator" / "scripts"
    scripts.mkdir(parents=True)
    touched = tmp_path / "ran"
    (scripts / "install.sh").write_text(f"#!/usr/bin/env bash\ntouch {touched}\n")
    with pytest.raises(InputError) as caught:
        nim_ensure(NimEnsureRequest(apply=True, infra_skill_dir=str(evil)))
    assert caught.value.code == "infra-skill-untrusted" and str(evil) not in str(caught.value)
    assert not touched.exists()
    monkeypatch.setenv("VDA_TRUSTED_SKILLS_DIRS", str(evil))  # an operator may allow it
    assert nim_ensure(NimEnsureRequest(infra_skill_dir=str(evil))).outcome in ("would-run", "nothing", "wait", "blocked")

"""NIM health: URL normalisation, healthy/unhealthy endpoints, the install action, read-only."""

from __future__ import annotations

import argparse
import ast
import json

import httpx2
import pytest
import respx

from skill.endpoints import candidate_bases, default_base, normalize_url
from skill.paths import skill_root
from skill.steps.nim import (
    DEFAULT_LLM_URL,
    DEFAULT_VLM_URL,
    INSTALL_COMMAND,
    NimHealthRequest,
    infra_skill_dir,
    nim_health,
)
from tests.fakes.kubectl import KubeDouble

VLM = "http://qwen3-vl.osmo-nims.svc.cluster.local:8000"
LLM = "http://qwen25-14b.osmo-nims.svc.cluster.local:8000"
INSTALL = 'NIM_SERVICES="qwen3-vl qwen25-14b" bash <infra-skill>/components/inference-nim-operator/scripts/install.sh'
UNFOUND = '"${INFRA_SKILL_DIR:?set INFRA_SKILL_DIR to the physical-ai-infrastructure-setup-and-resilient-scaling skill folder}"'


@pytest.fixture(autouse=True)
def no_infra_skill_nearby(monkeypatch: pytest.MonkeyPatch, tmp_path):
    monkeypatch.delenv("INFRA_SKILL_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))


@pytest.fixture(autouse=True)
def kube(monkeypatch: pytest.MonkeyPatch, tmp_path) -> KubeDouble:
    """kubectl on PATH is the double; by default its cluster is unreachable (the HTTP tests)."""
    double = KubeDouble(tmp_path / "kube", {"unreachable": "10.0.0.1:6443"})
    monkeypatch.setenv("PATH", f"{double.bin}:/usr/bin:/bin")
    return double


def models(model_id: str) -> httpx2.Response:
    return httpx2.Response(200, json={"object": "list", "data": [{"id": model_id, "object": "model"}]})


@pytest.fixture
def router():
    with respx.mock(assert_all_called=False) as mock:
        yield mock


def healthy(router, base: str, model_id: str) -> None:
    router.get(f"{base}/v1/models").mock(return_value=models(model_id))
    router.get(f"{base}/v1/health/ready").mock(return_value=httpx2.Response(200))


@pytest.mark.parametrize(("raw", "normalized"), [
    ("qwen3-vl:8000", "http://qwen3-vl:8000"),
    ("http://h:8000/v1/", "http://h:8000/v1"),
    ("http://h:8000/v1/chat/completions?x=1#frag", "http://h:8000"),
    ("https://api.example.com/v1/models", "https://api.example.com"),
    ("https://h/a/chat/completions/models", "https://h/a"),
    ("https://h/v1/embeddings", "https://h"),
])
def test_normalize_url(raw, normalized):
    assert normalize_url(raw) == normalized


def test_candidates_toggle_v1_for_base_and_origin():
    assert candidate_bases("http://h:8000/proxy/v1") == ["http://h:8000/proxy/v1", "http://h:8000/proxy", "http://h:8000", "http://h:8000/v1"]
    assert candidate_bases("http://h:8000/v1/chat/completions") == ["http://h:8000", "http://h:8000/v1"]
    assert default_base("http://h:8000/v1/chat/completions") == "http://h:8000/v1"
    assert default_base(DEFAULT_VLM_URL) == DEFAULT_VLM_URL


def test_both_healthy_means_reuse(router):
    healthy(router, VLM, "Qwen/Qwen3-VL-30B-A3B-Instruct")
    healthy(router, LLM, "Qwen/Qwen2.5-14B-Instruct")
    result = nim_health(NimHealthRequest())
    assert result.action == "reuse" and result.command is None
    vlm, llm = result.endpoints
    assert (vlm.role, vlm.service, vlm.model_id, vlm.ready, vlm.healthy) == ("vlm", "qwen3-vl", "Qwen/Qwen3-VL-30B-A3B-Instruct", True, True)
    assert (llm.service, llm.base_url, llm.model_id) == ("qwen25-14b", f"{LLM}/v1", "Qwen/Qwen2.5-14B-Instruct")


def test_an_unreachable_in_cluster_llm_seen_from_nowhere_is_unknown_not_install(router):
    healthy(router, VLM, "vlm-model")
    router.get(url__startswith=LLM).mock(side_effect=httpx2.ConnectError("no route"))
    result = nim_health(NimHealthRequest())
    assert result.action == "unknown" and result.command is None and result.looked_via == ["http", "kubectl"]
    assert [f.code for f in result.findings] == ["nim-kube-unreachable"]
    llm = result.endpoints[1]
    assert not llm.healthy and llm.unreached and llm.model_id is None and "ConnectError" in llm.detail
    assert result.endpoints[0].healthy and "not evidence" in result.notes[-1]


def test_an_answering_but_broken_llm_means_install_with_the_exact_command(router):
    healthy(router, VLM, "vlm-model")
    router.get(url__startswith=LLM).mock(return_value=httpx2.Response(502))
    result = nim_health(NimHealthRequest())
    assert result.action == "install" and result.command == INSTALL.replace("<infra-skill>", UNFOUND)
    assert result.services == ["qwen3-vl", "qwen25-14b"]
    assert not result.endpoints[1].healthy and not result.endpoints[1].unreached


def test_not_ready_is_unhealthy_even_with_models(router):
    router.get(f"{VLM}/v1/models").mock(return_value=models("m"))
    router.get(f"{VLM}/v1/health/ready").mock(return_value=httpx2.Response(503))
    healthy(router, LLM, "m2")
    result = nim_health(NimHealthRequest())
    assert result.action == "install" and result.endpoints[0].ready is False and not result.endpoints[0].healthy


def test_an_empty_model_list_is_unhealthy(router):
    router.get(f"{VLM}/v1/models").mock(return_value=httpx2.Response(200, json={"data": []}))
    router.get(f"{VLM}/v1/health/ready").mock(return_value=httpx2.Response(200))
    healthy(router, LLM, "m2")
    result = nim_health(NimHealthRequest())
    assert result.action == "install" and "no model id" in result.endpoints[0].detail


def test_the_first_candidate_that_lists_models_wins(router):
    # given a chat-completions URL, /models is found at the /v1 toggle of the base
    router.get("https://ext.example.com/models").mock(return_value=httpx2.Response(404))
    router.get("https://ext.example.com/v1/models").mock(return_value=models("ext-model"))
    router.get("https://ext.example.com/v1/health/ready").mock(return_value=httpx2.Response(404))
    healthy(router, LLM, "m2")
    result = nim_health(NimHealthRequest(vlm_url="https://ext.example.com/chat/completions"))
    vlm = result.endpoints[0]
    assert (vlm.base_url, vlm.model_id, vlm.ready, vlm.healthy, vlm.service) == ("https://ext.example.com/v1", "ext-model", None, True, None)
    assert result.action == "reuse"


def test_unhealthy_external_endpoint_gets_a_note(router):
    router.get(url__startswith="https://ext.example.com").mock(return_value=httpx2.Response(401))
    healthy(router, LLM, "m2")
    result = nim_health(NimHealthRequest(vlm_url="https://ext.example.com/v1", infra_skill_dir="/opt/infra"))
    assert result.action == "install"
    assert result.command == INSTALL.replace("<infra-skill>", "/opt/infra")
    assert any("external" in note for note in result.notes)


def test_health_is_read_only(router):
    router.route().mock(return_value=httpx2.Response(503))
    nim_health(NimHealthRequest())
    assert router.calls.call_count > 0 and {call.request.method for call in router.calls} == {"GET"}


def test_no_code_path_can_scale_or_delete_a_nim():
    """Rule no-nim-scale-down as a property of the code: no process spawning, no mutating HTTP
    verb, no kubernetes/helm client; prose in strings may still name the rule."""
    tree = ast.parse((skill_root() / "skill" / "steps" / "nim.py").read_text())
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                for alias in node.names} | {node.module.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
    names = {node.attr for node in ast.walk(tree) if isinstance(node, ast.Attribute)} | {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    assert not imported & {"subprocess", "os", "kubernetes", "shutil"}
    assert not names & {"delete", "patch", "put", "post", "request", "system", "popen", "run", "scale", "replicas"}
    assert "get" in names


@pytest.mark.parametrize("bad", [{"vlm_url": "http://a b"}, {"llm_url": ""}, {"timeout": 0}, {"extra": 1}])
def test_request_validation(bad):
    with pytest.raises(ValueError):
        NimHealthRequest(**bad)


def test_cli_health_json_and_exit_code(router, capsys):
    from tools.commands import nim as command

    healthy(router, VLM, "a")
    healthy(router, LLM, "b")
    args = argparse.Namespace(vlm_url=DEFAULT_VLM_URL, llm_url=DEFAULT_LLM_URL, infra_skill=None, timeout=5.0, json=True)
    assert command.run(args) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "reuse"
    router.get(f"{LLM}/v1/health/ready").mock(return_value=httpx2.Response(503))
    args.json = False
    assert command.run(args) == 1
    text = capsys.readouterr().out
    assert "ACTION: install" in text and f"COMMAND: {INSTALL.replace('<infra-skill>', UNFOUND)}" in text


@pytest.mark.parametrize("hostile", ["x; touch /tmp/pwned", "/opt/infra; rm -rf ~", "/opt/$(id)", "/opt/`id`", "/opt/a b"])
def test_infra_skill_dir_cannot_add_a_command(hostile: str):
    import shlex

    if not hostile.startswith("/"):
        with pytest.raises(ValueError) as err:
            NimHealthRequest(infra_skill_dir=hostile)
        return
    words = shlex.split(INSTALL_COMMAND.format(infra_skill=infra_skill_dir(hostile)))
    assert words[0] == 'NIM_SERVICES=qwen3-vl qwen25-14b' and words[1] == "bash" and len(words) == 3
    assert words[2] == hostile + "/components/inference-nim-operator/scripts/install.sh"


def test_infra_skill_found_beside_this_skill(tmp_path, monkeypatch: pytest.MonkeyPatch):
    found = tmp_path / "skills" / "physical-ai-infrastructure-setup-and-resilient-scaling"
    (found / "components" / "inference-nim-operator" / "scripts").mkdir(parents=True)
    (found / "components" / "inference-nim-operator" / "scripts" / "install.sh").write_text("#!/bin/bash\n")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert infra_skill_dir(None) == str(found)

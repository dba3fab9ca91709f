"""Preflight: one test per outcome. HTTP is mocked with respx at the edge; the backend is the
scriptable FakeBackend, or the real OsmoBackend over the osmo double where the CLI matters."""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess

import httpx2
import pytest
import respx

from skill.errors import BackendUnavailable, InputError
from skill.backends.osmo import OsmoBackend
from skill.models import CredentialInfo, PoolInfo
from skill.paths import skill_root, workflow_path
from skill.secrets import forget_secrets
from skill.steps.preflight import (
    HF_GATED_REPOS,
    HF_PROBE_URL,
    PreflightRequest,
    format_report,
    preflight,
    resolve_workflow_file,
)
from tests.fakes.backend import FakeBackend
from tests.fakes.osmo_cli import install

IMAGE = "nvcr.io/nvidia/paidf-augmentation:1.0.0"
MANIFEST = "https://nvcr.io/v2/nvidia/paidf-augmentation/manifests/1.0.0"
REALM = "https://nvcr.io/proxy_auth"
CHALLENGE = f'Bearer realm="{REALM}",service="registry",scope="repository:nvidia/paidf-augmentation:pull"'
KEY = "nvapi-testkey0123456789"
HF = "hf_testtoken0123456789"
GPU_TEMPLATE = {"POD_TEMPLATE": {"gpu": {"spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}}


@pytest.fixture(autouse=True)
def _forget():
    yield
    forget_secrets()


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return {"NGC_API_KEY": KEY, "HF_TOKEN": HF, "NGC_CONFIG_FILE": str(tmp_path / "no-ngc"), "HF_TOKEN_FILE": str(tmp_path / "no-hf")}


@pytest.fixture
def workflow(tmp_path) -> str:
    path = tmp_path / "wf.yaml"
    path.write_text(f"workflow:\n  name: x\n  tasks:\n  - name: t\n    image: \"{IMAGE}\"  # pinned\n    command: [bash]\n"
                    "  - name: u\n    image: python:3.11-slim\n    command: [bash]\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def http():
    with respx.mock(assert_all_called=False) as router:
        router.head(HF_PROBE_URL).mock(return_value=httpx2.Response(200))
        yield router


def fake(**kw) -> FakeBackend:
    kw.setdefault("configs", GPU_TEMPLATE)
    return FakeBackend(**kw)


def checks(result) -> dict[str, str]:
    return {c.name: c.status for c in result.checks}


# --- ok and the credential rules -----------------------------------------------------------------------


def test_ok_creates_both_credentials_and_reports_pools(http, env, workflow):
    http.get(MANIFEST).mock(return_value=httpx2.Response(200))
    backend = fake(pools=[PoolInfo(name="a", status="ONLINE", platforms=["gpu", "l40s"]), PoolInfo(name="b", status="OFFLINE", platforms=["h100"])])
    result = preflight(PreflightRequest(workflow=workflow), backend=backend, env=env)
    assert result.status == "ok", result.checks
    assert [p.name for p in result.pools] == ["a"] and result.platforms == ["gpu", "l40s"]
    assert backend.credential_sets == [
        ("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": KEY}),
        ("hf_token", "GENERIC", {"token": HF, "HF_TOKEN": HF}),
    ]
    assert checks(result)[f"registry:{IMAGE}"] == "ok" and checks(result)["pod-template"] == "ok"
    out, err = format_report(result)
    assert out[0] == "OK: required secrets valid; OSMO hf_token credential present."
    assert all(line.startswith("NOTE: ") for line in out[1:]) and len(out) > 2
    assert not any(KEY in line or HF in line for line in out + err)


def test_existing_credentials_are_kept_when_nothing_was_supplied(http, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(HF + "\n")
    env = {"HF_TOKEN_FILE": str(token_file), "NGC_CONFIG_FILE": str(tmp_path / "none")}
    backend = fake(credentials=[CredentialInfo(name="nvcr_io", type="REGISTRY"), CredentialInfo(name="hf_token", type="GENERIC")])
    result = preflight(PreflightRequest(), backend=backend, env=env)
    assert result.status == "ok"
    assert backend.credential_sets == []
    assert checks(result)["credential:nvcr_io"] == "ok" and checks(result)["credential:hf_token"] == "ok"


def test_refresh_resets_hf_token_and_keeps_nvcr_without_a_key(http, tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text(HF)
    env = {"HF_TOKEN_FILE": str(token_file), "NGC_CONFIG_FILE": str(tmp_path / "none")}
    backend = fake(credentials=[CredentialInfo(name="nvcr_io", type="REGISTRY"), CredentialInfo(name="hf_token", type="GENERIC")])
    result = preflight(PreflightRequest(refresh=True), backend=backend, env=env)
    assert result.status == "ok"
    assert backend.credential_sets == [("hf_token", "GENERIC", {"token": HF, "HF_TOKEN": HF})]
    assert "no NGC key" in next(c.detail for c in result.checks if c.name == "credential:nvcr_io")


def test_user_supplied_secrets_refresh_present_credentials(http, env):
    backend = fake(credentials=[CredentialInfo(name="nvcr_io", type="REGISTRY"), CredentialInfo(name="hf_token", type="GENERIC")])
    result = preflight(PreflightRequest(), backend=backend, env=env)
    assert result.status == "ok"
    assert [(n, t) for n, t, _ in backend.credential_sets] == [("nvcr_io", "REGISTRY"), ("hf_token", "GENERIC")]
    assert all(c.data.get("action") == "refreshed" for c in result.checks if c.name.startswith("credential:"))


def test_no_key_and_no_nvcr_credential_expects_public_pulls(http, env):
    env.pop("NGC_API_KEY")
    backend = fake()
    result = preflight(PreflightRequest(), backend=backend, env=env)
    assert result.status == "ok" and [n for n, _, _ in backend.credential_sets] == ["hf_token"]
    assert any("publicly pullable" in n for n in result.notes)


# --- user input required --------------------------------------------------------------------------------


def test_missing_hf_token_asks_exactly_for_it(env):
    env.pop("HF_TOKEN")
    backend = fake()
    with respx.mock(assert_all_called=False) as router:
        result = preflight(PreflightRequest(workflow="augmentation_and_al"), backend=backend, env=env)
    assert result.status == "user_input_required"
    assert result.missing == ["HF_TOKEN"] and "HF_TOKEN" in result.question
    assert backend.credential_sets == [] and router.calls.call_count == 0
    _, err = format_report(result)
    assert "USER_INPUT_REQUIRED: Provide missing secrets for absent credentials: HF_TOKEN" in err


def test_hf_token_credential_in_the_backend_is_enough_without_a_local_token(http, env):
    env.pop("HF_TOKEN")
    backend = fake(credentials=[CredentialInfo(name="hf_token", type="GENERIC")])
    result = preflight(PreflightRequest(), backend=backend, env=env)
    assert result.status == "ok" and "hf_token" not in [n for n, _, _ in backend.credential_sets]


def test_hf_gated_401_asks_for_license_acceptance(env):
    backend = fake()
    with respx.mock(assert_all_called=False) as router:
        route = router.head(HF_PROBE_URL).mock(return_value=httpx2.Response(401))
        result = preflight(PreflightRequest(), backend=backend, env=env)
    assert route.calls.last.request.headers["authorization"] == f"Bearer {HF}"
    assert result.status == "user_input_required" and result.missing == ["HF_TOKEN"]
    assert all(f"https://huggingface.co/{repo}" in result.question for repo in HF_GATED_REPOS)
    assert backend.credential_sets == []
    _, err = format_report(result)
    assert err[-1].startswith("ASK: ") and any(line.startswith("USER_INPUT_REQUIRED: Confirm HF license") for line in err)


def test_hf_unreachable_fails_and_suggests_no_probe(env):
    with respx.mock(assert_all_called=False) as router:
        router.head(HF_PROBE_URL).mock(side_effect=httpx2.ConnectError("dns"))
        result = preflight(PreflightRequest(), backend=fake(), env=env)
    assert result.status == "failed" and "no_probe" in result.remedy


# --- registry probes -------------------------------------------------------------------------------------


def test_registry_401_runs_the_token_flow_with_the_key(http, env, workflow):
    http.get(MANIFEST, headers={"Authorization": "Bearer tok-1"}).mock(return_value=httpx2.Response(200))
    http.get(MANIFEST).mock(return_value=httpx2.Response(401, headers={"Www-Authenticate": CHALLENGE}))
    token = http.get(REALM).mock(return_value=httpx2.Response(200, json={"token": "tok-1"}))
    result = preflight(PreflightRequest(workflow=workflow), backend=fake(), env=env)
    assert result.status == "ok"
    sent = token.calls.last.request
    assert sent.url.params["service"] == "registry" and sent.url.params["scope"] == "repository:nvidia/paidf-augmentation:pull"
    assert sent.headers["authorization"] == "Basic " + base64.b64encode(f"$oauthtoken:{KEY}".encode()).decode()
    probe = next(c for c in result.checks if c.name == f"registry:{IMAGE}")
    assert probe.data == {"http_status": 200, "auth": "credentialed"}


def test_registry_403_fails_without_blaming_the_key_prefix(http, env, workflow):
    route = http.get(MANIFEST).mock(return_value=httpx2.Response(403))
    backend = fake()
    result = preflight(PreflightRequest(workflow=workflow), backend=backend, env=env)
    assert result.status == "failed" and checks(result)["registry"] == "fail"
    assert "policy" in result.remedy and "nvapi" not in json.dumps(result.model_dump()).lower()
    assert route.call_count == 2  # credentialed, then anonymous
    assert backend.credential_sets == []
    _, err = format_report(result)
    assert f"FAIL: registry:{IMAGE}: FAIL registry access denied for {IMAGE} (HTTP 403)" in err


def test_registry_404_fails_asking_for_new_tags(http, env, workflow):
    http.get(MANIFEST).mock(return_value=httpx2.Response(404))
    backend = fake()
    result = preflight(PreflightRequest(workflow=workflow), backend=backend, env=env)
    assert result.status == "failed" and "image tags" in result.remedy
    assert backend.credential_sets == [] and "pools" not in backend.calls


def test_registry_timeout_is_only_a_warning(http, env, workflow):
    http.get(MANIFEST).mock(side_effect=httpx2.ConnectTimeout("slow"))
    result = preflight(PreflightRequest(workflow=workflow), backend=fake(), env=env)
    assert result.status == "ok"
    assert checks(result)[f"registry:{IMAGE}"] == "warn" and checks(result)["registry"] == "warn"


def test_the_real_flow_probes_each_nvcr_image_once(http, env):
    routes = [http.get(url).mock(return_value=httpx2.Response(200)) for url in (
        "https://nvcr.io/v2/nvidia/base/ubuntu/manifests/22.04_20240212",
        "https://nvcr.io/v2/nvidia/paidf-augmentation/manifests/1.0.0",
        "https://nvcr.io/v2/nvidia/paidf-auto-labeling/manifests/1.0.0")]
    result = preflight(PreflightRequest(workflow="augmentation_and_al"), backend=fake(), env=env)
    assert result.status == "ok" and [r.call_count for r in routes] == [1, 1, 1]


def test_no_probe_makes_no_http_call(env, workflow):
    with respx.mock(assert_all_called=False) as router:
        result = preflight(PreflightRequest(workflow=workflow, no_probe=True), backend=fake(), env={**env, "NGC_ORG": "o", "NGC_TEAM": "t"})
    assert result.status == "ok" and router.calls.call_count == 0
    assert checks(result)["registry"] == "skipped"


def test_rest_scope_probe_is_informational(http, env):
    url = "https://api.ngc.nvidia.com/v2/org/my-org/team/my-team/models/cosmos-anomalygen-pcb/versions/1.0"
    route = http.get(url).mock(return_value=httpx2.Response(403))
    result = preflight(PreflightRequest(), backend=fake(), env={**env, "NGC_ORG": "my-org", "NGC_TEAM": "my-team"})
    assert result.status == "ok" and checks(result)["ngc-rest-scope"] == "warn"
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


def test_rest_scope_org_and_team_come_from_the_ngc_config(http, env, tmp_path):
    config = tmp_path / "ngc.cfg"
    config.write_text("[CURRENT]\napikey = x\norg = cfg-org\nteam = cfg-team\n")
    route = http.get("https://api.ngc.nvidia.com/v2/org/cfg-org/team/cfg-team/models/cosmos-anomalygen-pcb/versions/1.0").mock(
        return_value=httpx2.Response(200))
    result = preflight(PreflightRequest(), backend=fake(), env={**env, "NGC_CONFIG_FILE": str(config)})
    assert route.call_count == 1 and checks(result)["ngc-rest-scope"] == "ok"


# --- control plane ------------------------------------------------------------------------------------


def test_no_online_pool_fails(http, env):
    result = preflight(PreflightRequest(), backend=fake(pools=[PoolInfo(name="p", status="MAINTENANCE")]), env=env)
    assert result.status == "failed" and checks(result)["pools"] == "fail"
    assert result.pools == [] and result.platforms == [] and "Ask the user" in result.remedy


def test_pod_template_without_gpu_fails(http, env):
    result = preflight(PreflightRequest(), backend=fake(configs={"POD_TEMPLATE": {"default": {"spec": {"nodeSelector": {"a": "b"}}}}}), env=env)
    assert result.status == "failed" and checks(result)["pod-template"] == "fail"
    assert checks(result)["pools"] == "ok"


def test_gpu_toleration_name_also_passes(http, env):
    result = preflight(PreflightRequest(), backend=fake(configs={"POD_TEMPLATE": {"gpu_toleration": {}}}), env=env)
    assert result.status == "ok"


def test_a_backend_failure_is_a_failed_check_not_a_crash(env):
    backend = fake()
    backend.fail_next("credentials", BackendUnavailable("osmo CLI not found", remedy="Install the OSMO CLI."))
    result = preflight(PreflightRequest(), backend=backend, env=env)
    assert result.status == "failed" and result.remedy == "Install the OSMO CLI."
    assert result.checks[0].name == "osmo-credentials" and result.checks[0].detail == "osmo CLI not found"


def test_unknown_workflow_is_an_input_error(env):
    with pytest.raises(InputError):
        preflight(PreflightRequest(workflow="no_such_flow"), backend=fake(), env=env)
    assert resolve_workflow_file("augmentation_and_pl") == workflow_path("augmentation_and_al")


def test_request_rejects_unknown_fields():
    with pytest.raises(ValueError):
        PreflightRequest(workflow="e2e", force=True)


# --- secrets never leave --------------------------------------------------------------------------------


CANARY_KEY = "nvapi-CANARY0123456789abcdef"
CANARY_HF = "hf_CANARY0123456789abcdef"


def test_canary_secrets_never_appear_in_results_errors_or_returned_output(tmp_path):
    double = install(tmp_path / "osmo", {
        "pools": [{"name": "p", "status": "ONLINE", "platforms": ["gpu"], "quota_free": "1", "total_free": "1"}],
        "configs": GPU_TEMPLATE,
        "logs": {"w-1": [["setup", f"echo {CANARY_HF}"]]},
        "workflows": {"w-1": {"status": "RUNNING", "groups": []}},
        "responses": {"credential set": [{"exit": 2, "error": f"Registry authentication failed: auth={CANARY_KEY}",
                                          "stderr": f"payload token={CANARY_HF}"}]},
    })
    env = {"NGC_API_KEY": CANARY_KEY, "HF_TOKEN": CANARY_HF, "NGC_CONFIG_FILE": str(tmp_path / "x"), "HF_TOKEN_FILE": str(tmp_path / "y")}
    backend = OsmoBackend(double.executable, sleep=lambda _: None)
    seen = []
    for req in (PreflightRequest(no_probe=True), PreflightRequest(no_probe=True, refresh=True)):
        result = preflight(req, backend=backend, env=env)
        seen.append(json.dumps(result.model_dump(mode="json")))
        seen.extend(sum(format_report(result), []))
    assert json.loads(seen[0])["status"] == "failed"  # the first credential set failed on the server
    seen.append(backend.logs("w-1"))
    blob = "\n".join(seen)
    assert "CANARY" not in blob
    # no value rides in argv (the process list): the CLI read them from --payload-file files
    assert not any("CANARY" in arg for argv in double.calls() for arg in argv)
    sets = [argv for argv in double.calls() if argv[:2] == ["credential", "set"]]
    assert sets and all("--payload-file" in argv and "--payload" not in argv for argv in sets)
    assert {"name": "nvcr_io", "type": "REGISTRY", "keys": ["auth", "registry", "username"]} in double.state()["credential_sets"]


def test_not_logged_in_stops_preflight_with_the_login_remedy(tmp_path):
    double = install(tmp_path / "osmo", {"logged_out": True, "configs": GPU_TEMPLATE})
    env = {"HF_TOKEN": CANARY_HF, "NGC_CONFIG_FILE": str(tmp_path / "x"), "HF_TOKEN_FILE": str(tmp_path / "y")}
    result = preflight(PreflightRequest(no_probe=True), backend=OsmoBackend(double.executable, sleep=lambda _: None), env=env)
    assert result.status == "failed"
    failed = [c for c in result.checks if c.status == "fail"]
    assert failed and failed[0].data["code"] == "not-logged-in"
    assert "osmo login" in (result.remedy or "")
    assert not [argv for argv in double.calls() if argv[:2] == ["credential", "set"]]


def test_the_pool_quota_404_of_newer_http_libraries_is_named_with_its_fix(tmp_path):
    """6.3.1's CLI under urllib3 2.8 / requests 2.34 asks for `//api/pool_quota` and gets 404: preflight
    says so and how to fix it, instead of "check the id"."""
    double = install(tmp_path / "osmo", {"http_libraries": "urllib3-2.8", "configs": GPU_TEMPLATE,
                                         "credentials": [{"cred_name": "hf_token", "cred_type": "GENERIC", "profile": None}],
                                         "pools": [{"name": "p", "status": "ONLINE", "platforms": ["gpu"]}]})
    env = {"HF_TOKEN": HF, "NGC_CONFIG_FILE": str(tmp_path / "x"), "HF_TOKEN_FILE": str(tmp_path / "y")}
    result = preflight(PreflightRequest(no_probe=True), backend=OsmoBackend(double.executable, sleep=lambda _: None), env=env)
    assert result.status == "failed"
    failed = [c for c in result.checks if c.status == "fail"]
    assert [(c.name, c.data["code"]) for c in failed] == [("pools", "osmo-cli-http-libraries")]
    assert "//api/pool_quota" in failed[0].detail and "urllib3 2.8" in failed[0].detail
    assert "urllib3==2.7.0" in (result.remedy or "") and "requests==2.32.4" in (result.remedy or "")
    _, err = format_report(result)
    assert err[-2].startswith("ERROR: preflight failed: osmo pool list got HTTP 404") and err[-1].startswith("NEXT: Install OSMO's pinned")
    assert ["pool", "list", "--format-type", "json"] in double.calls()


def test_a_404_for_a_named_object_is_not_taken_for_the_http_library_problem(tmp_path):
    double = install(tmp_path / "osmo", {"always": {"pool list": {"exit": 2, "error": "Pool gpu-x is not found.", "code": 404}}})
    with pytest.raises(Exception) as caught:
        OsmoBackend(double.executable, sleep=lambda _: None).pools()
    assert caught.value.code != "osmo-cli-http-libraries"


# --- the shells --------------------------------------------------------------------------------------------


def _osmo_env(tmp_path, double, **extra) -> dict[str, str]:
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "SYSTEMROOT")}
    return {**keep, "HOME": str(tmp_path), "HF_HOME": str(tmp_path / "hf"), "NGC_CONFIG_FILE": str(tmp_path / "none"),
            "HF_TOKEN_FILE": str(tmp_path / "none"), "VDA_BACKEND": "osmo", "VDA_OSMO_CLI": double.executable, **extra}


@pytest.fixture
def online_double(tmp_path):
    return install(tmp_path / "osmo", {
        "pools": [{"name": "p", "status": "ONLINE", "platforms": ["gpu"], "quota_free": "1", "total_free": "1"}],
        "configs": GPU_TEMPLATE, "credentials": [{"cred_name": "hf_token", "cred_type": "GENERIC", "profile": None}],
    })


def test_cli_command_prints_json_and_sets_the_exit_code(online_double, tmp_path, monkeypatch, capsys):
    from tools.commands import preflight as command

    monkeypatch.setenv("VDA_OSMO_CLI", online_double.executable)
    args = argparse.Namespace(workflow=None, refresh=False, no_probe=True, backend="osmo", json=True)
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "none"))
    for name in ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "NGC_API_KEY", "NGC_CLI_API_KEY", "NVIDIA_API_KEY", "OPENAI_API_KEY",
                 "VLM_API_KEY", "LLM_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    assert command.run(args) == 0
    out = capsys.readouterr().out
    assert json.loads(out)["status"] == "ok" and json.loads(out)["platforms"] == ["gpu"]


SCRIPT = skill_root() / "scripts" / "preflight_credentials.sh"


@pytest.mark.parametrize("argv", [["--bogus"], ["--workflow"], ["--workflow", "/no/such.yaml"], ["--workflow=/no/such.yaml"], ["--workflow="]])
def test_script_usage_errors_exit_2(argv, tmp_path):
    done = subprocess.run(["bash", str(SCRIPT), *argv], capture_output=True, text=True, timeout=30, env={"PATH": os.environ["PATH"]})
    assert done.returncode == 2 and "usage:" in done.stderr and done.stdout == ""


def test_script_ok_prints_ok_and_notes_on_stdout(online_double, tmp_path):
    env = _osmo_env(tmp_path, online_double)
    done = subprocess.run(["bash", str(SCRIPT), "--no-probe", "--workflow", str(workflow_path("e2e")), "--overwrite"],
                          capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "OK: required secrets valid; OSMO hf_token credential present."
    assert lines[1:] and all(line.startswith("NOTE: ") for line in lines[1:])
    assert ["credential", "--format-type", "json", "list"] in online_double.calls()


def test_script_user_input_required_exits_1_on_stderr(tmp_path):
    double = install(tmp_path / "osmo", {"pools": [], "configs": GPU_TEMPLATE})
    done = subprocess.run(["bash", str(SCRIPT), "--no-probe"], capture_output=True, text=True, timeout=60, env=_osmo_env(tmp_path, double))
    assert done.returncode == 1
    assert "USER_INPUT_REQUIRED: Provide missing secrets for absent credentials: HF_TOKEN" in done.stderr
    assert done.stdout == ""

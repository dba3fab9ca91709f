"""The NIM gate a cluster run passes before it submits: reuse healthy NIMs, deploy the allow-list
once when one is missing, wait while weights download, go on (saying so) when nothing can be seen,
fail with a code in check mode; and `vda run --backend osmo` really goes through it."""

from __future__ import annotations

import json

import httpx2
import pytest
import respx

from skill.errors import BackendError
from skill.steps import nim_gate
from skill.steps.nim import NimHealthRequest, nim_health
from skill.steps.nim_gate import ensure_nims_ready
from tests.contract.test_nim_ensure import SERVICES, assert_no_lowering_argv, infra, installer_runs, kube, ready  # noqa: F401  (fixtures)
from tests.fakes.kubectl import job


@pytest.fixture
def here(kube, infra, monkeypatch):  # noqa: F811
    monkeypatch.setenv("INFRA_SKILL_DIR", str(infra))
    return kube


def test_healthy_nims_seen_through_kubectl_are_reused_and_nothing_is_deployed(here, infra, tmp_path):  # noqa: F811
    here.update(objects=ready(infra, *SERVICES))
    lines: list[str] = []
    gate = ensure_nims_ready("ensure", say=lines.append)
    assert gate.outcome == "healthy" and gate.looked_via == ["kubectl"]
    assert installer_runs(tmp_path) == [] and lines == ["NIM health: reuse (looked via kubectl)."]
    assert_no_lowering_argv(here)


def test_missing_nims_are_deployed_once_with_the_eta_first_and_a_second_gate_changes_nothing(here, tmp_path):
    lines: list[str] = []
    first = ensure_nims_ready("ensure", say=lines.append, sleep=lambda _s: pytest.fail("no wait expected"))
    assert first.outcome == "deployed"
    assert installer_runs(tmp_path) == ["NIM_SERVICES=qwen3-vl qwen25-14b"]
    eta = next(i for i, line in enumerate(lines) if line.startswith("NIM deploy: about 10-15 min"))
    assert eta < next(i for i, line in enumerate(lines) if "Deploying NIMs" in line)
    again = ensure_nims_ready("ensure")
    assert again.outcome == "healthy" and installer_runs(tmp_path) == ["NIM_SERVICES=qwen3-vl qwen25-14b"]
    assert_no_lowering_argv(here)


def test_check_mode_fails_with_a_code_and_runs_no_installer(here, tmp_path):
    with pytest.raises(BackendError) as caught:
        ensure_nims_ready("check")
    assert caught.value.code == "nim-not-ready" and "vda nim ensure --apply" in caught.value.remedy
    assert installer_runs(tmp_path) == []


def test_a_download_in_progress_is_waited_for_until_both_serve(here, infra, tmp_path):  # noqa: F811
    loading = ready(infra, "qwen25-14b")
    loading["jobs"].append(job("qwen3-vl-hf-download", outcome="Running"))
    here.update(objects=loading)
    naps: list[float] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)
        here.update(objects=ready(infra, *SERVICES))  # the download finished meanwhile

    gate = ensure_nims_ready("ensure", sleep=nap, interval_s=7)
    assert gate.outcome == "healthy" and naps == [7] and installer_runs(tmp_path) == []


def test_loading_past_the_wait_bound_is_a_coded_failure(here, infra):  # noqa: F811
    loading = ready(infra, "qwen25-14b")
    loading["jobs"].append(job("qwen3-vl-hf-download", outcome="Running"))
    here.update(objects=loading)
    with pytest.raises(BackendError) as caught:
        ensure_nims_ready("ensure", sleep=lambda _s: None, wait_s=0)
    assert caught.value.code == "nim-not-ready" and "still loading" in caught.value.message


def test_nothing_seen_from_here_goes_on_and_says_so(here):
    here.update(unreachable="10.0.0.1:6443")
    with respx.mock(assert_all_called=False) as web:
        web.route().mock(side_effect=httpx2.ConnectError("Name or service not known"))
        gate = ensure_nims_ready("ensure", check=lambda: nim_health(NimHealthRequest(timeout=1)))
    assert gate.outcome == "unseen" and "could not be seen" in gate.statement


def test_a_blocked_deploy_is_a_coded_failure_naming_the_finding(here, monkeypatch, tmp_path):
    monkeypatch.delenv("HF_TOKEN")
    with pytest.raises(BackendError) as caught:
        ensure_nims_ready("ensure")
    assert caught.value.code == "nim-not-ready" and "nim-preflight-secret" in caught.value.message
    assert "HF_TOKEN" in caught.value.message and installer_runs(tmp_path) == []


def test_skip_does_not_look():
    assert ensure_nims_ready("skip", check=lambda: pytest.fail("looked")).outcome == "skipped"


def test_the_gate_module_runs_no_program_of_its_own():
    """It only composes nim_health (read-only) and nim_ensure (the allow-listed installer)."""
    text = open(nim_gate.__file__, encoding="utf-8").read()
    assert "subprocess" not in text and "kubectl" not in text.split('"""', 2)[2].replace("kube context", "")


# --- through `vda run --backend osmo` ---------------------------------------------------------------


def _osmo_run(tmp_path, monkeypatch, *extra: str) -> tuple[int, str, list[list[str]]]:
    from skill.secrets import forget_secrets
    from skill.storage import cache_urls
    from tests.fakes.osmo_cli import install
    from tools.cli import main as vda

    storage = "s3://bucket/pre"
    objects = {f"{storage}/datasets/ds/clip.mp4": "video", **{f"{url}/weights.bin": "w" for url in cache_urls(storage).values()}}
    double = install(tmp_path / "osmo", {
        "pools": [{"name": "gpu-pool", "status": "ONLINE", "platforms": ["gpu"], "default_platform": "gpu", "quota_free": "4", "total_free": "4"}],
        "credentials": [{"cred_name": "hf_token", "cred_type": "GENERIC", "profile": None}],
        "configs": {"POD_TEMPLATE": {"gpu": {"spec": {"tolerations": [{"key": "nvidia.com/gpu", "operator": "Exists"}]}}}},
        "objects": objects, "statuses": {"ds-1": ["FAILED"]},
    })
    home = tmp_path / "home"
    for name, value in {"VDA_OSMO_CLI": double.executable, "VDA_HOME": str(home), "HF_TOKEN_FILE": str(tmp_path / "none"),
                        "NGC_CONFIG_FILE": str(tmp_path / "none")}.items():
        monkeypatch.setenv(name, value)
    try:
        with respx.mock(assert_all_called=False) as web:  # the HF and registry probes: the network edge
            web.route().mock(return_value=httpx2.Response(200))
            code = vda(["run", "--backend", "osmo", "--dataset-url", f"{storage}/datasets/ds", "--flow", "auto_labeling",
                        "--pool", "gpu-pool", "--timeout", "10", *extra])
    finally:
        forget_secrets()
    return code, "", double.calls()


def test_vda_run_on_osmo_stops_before_submit_when_check_finds_missing_nims(here, tmp_path, monkeypatch, capsys):
    code, _, calls = _osmo_run(tmp_path, monkeypatch, "--nims", "check")
    err = capsys.readouterr().err
    assert code != 0 and "[nim-not-ready]" in err and "Traceback" not in err
    assert not any(argv[:2] == ["workflow", "submit"] for argv in calls)
    assert installer_runs(tmp_path) == []


def test_vda_run_on_osmo_deploys_missing_nims_once_then_submits(here, tmp_path, monkeypatch, capsys):
    code, _, calls = _osmo_run(tmp_path, monkeypatch, "--json")
    captured = capsys.readouterr()
    assert installer_runs(tmp_path) == ["NIM_SERVICES=qwen3-vl qwen25-14b"]
    assert any(argv[:2] == ["workflow", "submit"] for argv in calls), captured.err
    result = json.loads(captured.out)
    assert any("deployed by the allow-listed installer" in s for s in result["statements"])
    assert_no_lowering_argv(here)

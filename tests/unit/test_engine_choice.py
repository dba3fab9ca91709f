"""Engine choice: what each backend can run, what is missing for cosmos here, the values filled in,
and the guard's ``engines`` check (over a real loopback server for the readiness part)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill.engine_choice import cosmos_runtime_missing, engine_problems, fill_engine_values, probe_endpoints
from skill.errors import SkillError
from skill.models import SubmitValues
from skill.steps.guard import canonical_pairs
from tests.fakes.openai_server import FakeOpenAI


def codes(values, **kw) -> list[str]:
    kw.setdefault("gpus", lambda: 1)
    kw.setdefault("runtime_missing", lambda: [])
    return [p.code for p in engine_problems(values, **kw)]


def test_nothing_chosen_is_never_a_problem():
    assert codes({}, on_this_machine=True, augments=True, gpus=lambda: 0, runtime_missing=lambda: ["x"]) == []
    assert codes({}, on_this_machine=False, augments=True) == []


@pytest.mark.parametrize("values", [{"label_engine": "classic"}, {"augment_engine": "classic"}])
def test_classic_is_refused_on_the_cluster(values):
    problems = engine_problems(values, on_this_machine=False, augments=True)
    assert [p.code for p in problems] == ["engine-not-on-backend"]
    assert "local backend" in problems[0].message and "--backend local" in problems[0].remedy


def test_the_cluster_engines_are_fine_on_the_cluster():
    assert codes({"label_engine": "nim", "augment_engine": "cosmos"}, on_this_machine=False, augments=True) == []


def test_nim_here_needs_a_url():
    assert codes({"label_engine": "nim"}, on_this_machine=True, augments=False) == ["engine-needs-endpoint"]
    assert codes({"label_engine": "nim", "vlm_url": "http://127.0.0.1:8000/v1"}, on_this_machine=True, augments=False) == []


def test_cosmos_here_names_every_missing_piece():
    (problem,) = engine_problems({"augment_engine": "cosmos", "vlm_url": "http://127.0.0.1:1/v1"}, on_this_machine=True,
                                 augments=True, gpus=lambda: 0, runtime_missing=lambda: ["the augmentation CLI /app/modules/cli.py"])
    assert problem.code == "cosmos-unavailable"
    assert "GPU" in problem.message and "/app/modules/cli.py" in problem.message
    # a flow that does not augment never needs it
    assert codes({"augment_engine": "cosmos"}, on_this_machine=True, augments=False, gpus=lambda: 0) == []
    # with a GPU and the runtime, only the server URL is still needed
    assert codes({"augment_engine": "cosmos"}, on_this_machine=True, augments=True) == ["engine-needs-endpoint"]


def test_cosmos_runtime_detection(tmp_path: Path):
    missing = cosmos_runtime_missing({"VDA_COSMOS_WORKDIR": str(tmp_path), "VDA_COSMOS_COMMAND": "no-such-program-xyz run"})
    assert len(missing) == 2 and "modules/cli.py" in missing[0] and "no-such-program-xyz" in missing[1]
    (tmp_path / "modules").mkdir()
    (tmp_path / "modules" / "cli.py").write_text("")
    assert cosmos_runtime_missing({"VDA_COSMOS_WORKDIR": str(tmp_path), "VDA_COSMOS_COMMAND": "python3 modules/cli.py"}) == []


def test_one_server_for_both_models():
    assert fill_engine_values({"label_engine": "nim", "vlm_url": "http://h:1/v1"})["llm_url"] == "http://h:1/v1"
    assert fill_engine_values({"label_engine": "nim", "vlm_url": "a", "llm_url": "b"})["llm_url"] == "b"
    assert "llm_url" not in fill_engine_values({"vlm_url": "http://h:1/v1"})  # only when nim was chosen


def test_engine_values_are_canonical_submit_pairs():
    pairs = canonical_pairs({"dataset": "d", "run_id": "run-1a2b3c4d", "storage_url": "s3://b/p", "gpu_platform": "gpu",
                             "video": "v", "label_engine": "nim", "vlm_url": "http://127.0.0.1:8000/v1", "vlm_model": "m:7b"})
    keys = list(pairs)
    assert keys.index("llm_url") < keys.index("label_engine") < keys.index("vlm_model")
    assert pairs["llm_url"] == "http://127.0.0.1:8000/v1"
    SubmitValues.model_validate({k: v for k, v in pairs.items() if k in SubmitValues.model_fields})
    with pytest.raises(ValueError):
        SubmitValues.model_validate({**{k: v for k, v in pairs.items() if k in SubmitValues.model_fields}, "label_engine": "gpt"})


def test_probe_waits_for_a_loading_server_and_checks_the_model():
    with FakeOpenAI(fail_models=1) as server:
        got = probe_endpoints({"vlm_url": server.url, "llm_url": server.url, "llm_model": "test/llm-small"}, wait_s=5)
        assert got == {"vlm": "test/vlm-small", "llm": "test/llm-small"}
        with pytest.raises(SkillError) as info:
            probe_endpoints({"vlm_url": server.url, "llm_url": server.url, "vlm_model": "other"}, wait_s=2)
    assert info.value.code == "model-not-served" and "test/vlm-small" in info.value.message


def test_probe_of_a_closed_port_names_the_endpoint():
    server = FakeOpenAI().start()
    url = server.url
    server.stop()
    with pytest.raises(SkillError) as info:
        probe_endpoints({"vlm_url": url, "llm_url": url}, wait_s=1)
    assert info.value.code == "endpoint-unreachable" and url in info.value.message and "--vlm-url" in (info.value.remedy or "")


def test_guard_checks_engines_on_the_local_backend(tmp_path: Path, monkeypatch):
    from skill.backends.local import LocalBackend
    from skill.steps.guard import GuardRequest, pre_submit_guard

    monkeypatch.setenv("VDA_ENDPOINT_CHECK_SECONDS", "1")
    backend = LocalBackend(tmp_path / "local")
    base = {"flow": "auto_labeling", "dataset": "d", "storage_url": backend.traits.storage_url, "gpu_platform": "cpu", "video": "v"}
    result = pre_submit_guard(GuardRequest(**base, label_engine="nim"), backend=backend)
    engines = next(c for c in result.checks if c.name == "engines")
    assert engines.status == "fail" and engines.data["code"] == "engine-needs-endpoint"
    with FakeOpenAI() as server:
        result = pre_submit_guard(GuardRequest(**base, label_engine="nim", vlm_url=server.url), backend=backend)
    engines = next(c for c in result.checks if c.name == "engines")
    assert engines.status == "ok" and engines.data["models"] == {"vlm": "test/vlm-small", "llm": "test/vlm-small"}
    assert result.values["llm_url"] == server.url
    result = pre_submit_guard(GuardRequest(**base), backend=backend)
    assert not any(c.name == "engines" for c in result.checks)  # nothing chosen: nothing to check


def test_the_nim_gate_is_skipped_when_the_user_named_the_server(tmp_path: Path, monkeypatch):
    from types import SimpleNamespace

    from skill import pipeline
    from skill.backends.base import CLUSTER_TRAITS
    from skill.steps import nim_gate  # the pipeline imports the gate when a cluster run needs it

    def no_gate(*a, **k):
        raise AssertionError("the in-cluster NIM gate must not run")

    monkeypatch.setattr(nim_gate, "ensure_nims_ready", no_gate)
    backend = SimpleNamespace(name="osmo", traits=CLUSTER_TRAITS)
    req = pipeline.RunRequest(label_engine="nim", vlm_url="https://vlm.example.com/v1")
    run = pipeline._Run(req=req, backend=backend, ledger=None, emit=lambda e: None, scratch=tmp_path)
    pipeline._nim_gate(run)
    assert any("server you named" in s for s in run.statements)
    monkeypatch.setattr(nim_gate, "ensure_nims_ready", lambda *a, **k: SimpleNamespace(statement="gate ran"))
    run = pipeline._Run(req=pipeline.RunRequest(vlm_url="https://vlm.example.com/v1"), backend=backend, ledger=None,
                        emit=lambda e: None, scratch=tmp_path)
    pipeline._nim_gate(run)  # only the VLM named, the LLM is still the in-cluster one
    assert run.statements == ["gate ran"]


def test_local_preflight_says_which_engines_run_here(tmp_path: Path):
    from skill.backends.local import LocalBackend
    from skill.engine_choice import local_engines_report
    from skill.steps.preflight import PreflightRequest, preflight

    detail, data = local_engines_report(gpus=lambda: 0, runtime_missing=lambda: ["the augmentation CLI /app/modules/cli.py"])
    assert "cosmos does not run here (missing an NVIDIA GPU; the augmentation CLI" in detail and data["cosmos_available"] is False
    detail, data = local_engines_report(gpus=lambda: 2, runtime_missing=lambda: [])
    assert "cosmos runs here" in detail and data == {"gpus": 2, "cosmos_available": True, "cosmos_missing": []}
    result = preflight(PreflightRequest(no_probe=True), backend=LocalBackend(tmp_path / "local"))
    engines = next(c for c in result.checks if c.name == "engines")
    assert engines.status == "ok" and "nim labeling" in engines.detail

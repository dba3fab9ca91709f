"""submit: canonical values, one --set-string, idempotent per run id, one interpolation retry."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from skill.errors import BackendTimeout, BackendUnavailable, CommandFailed, InputError, PolicyDenied
from skill.ledger import Ledger, values_hash
from skill.paths import TRUSTED_SKILLS_DIRS_ENV, skill_root, workflow_path
from skill.steps.guard import GuardRequest, pre_submit_guard
from skill.steps.submit import SubmitRequest, is_interpolation_failure, submit
from tests.fakes.backend import FakeBackend

STORAGE = "s3://bkt/p"
RUN_ID = "run-1a2b3c4d"
BASE = dict(flow="augmentation_and_al", dataset="vda-demo", run_id=RUN_ID, storage_url=STORAGE, gpu_platform="gpu", video="clip", pool="default")


def req(**overrides) -> SubmitRequest:
    return SubmitRequest(**{**BASE, **overrides})


def test_canonical_values_and_command(ledger: Ledger):
    fake = FakeBackend()
    result = submit(req(), backend=fake, ledger=ledger)
    assert result.status == "submitted" and not result.reused
    spec, pool = fake.submitted[0]
    assert pool == "default"
    assert spec.values == result.values
    assert list(spec.values) == [
        "dataset", "run_id", "storage_url", "gpu_platform", "video",
        "cosmos_model_cache_url", "auto_labeling_model_cache_url", "skills_dir",
    ]
    assert spec.values["cosmos_model_cache_url"] == f"{STORAGE}/data/models/cosmos_transfer"
    assert spec.values["auto_labeling_model_cache_url"] == f"{STORAGE}/data/models/auto_labeling"
    assert spec.values["skills_dir"] == str(skill_root()) and Path(spec.values["skills_dir"]).is_absolute()
    cmd = result.command
    assert cmd[:4] == ["osmo", "workflow", "submit", str(workflow_path("augmentation_and_al"))]
    assert cmd.count("--set-string") == 1 and "--set" not in cmd
    assert cmd[cmd.index("--pool") + 1] == "default"
    assert cmd[cmd.index("--set-string") + 1 :] == [f"{k}={v}" for k, v in spec.values.items()]
    assert result.workflow_id == "vda-demo-1"
    assert result.output_url == f"{STORAGE}/datasets/vda-demo-outputs/{RUN_ID}"
    assert result.values_hash == values_hash(spec.values)
    assert ledger.get(RUN_ID).workflow_id == "vda-demo-1"


def test_optional_values_are_carried_in_the_same_list(ledger: Ledger):
    fake = FakeBackend()
    result = submit(req(cookbook="warehouse", workers=2, vlm_url="https://vlm.example/v1"), backend=fake, ledger=ledger)
    values = fake.submitted[0][0].values
    assert values["cookbook"] == "warehouse" and values["workers"] == "2" and values["vlm_url"] == "https://vlm.example/v1"
    assert result.command.count("--set-string") == 1
    assert len(fake.submitted[0][0].groups[1].tasks) == 2  # the fan-out saw workers=2


def test_fresh_run_id_when_none_given(ledger: Ledger):
    result = submit(req(run_id=None), backend=FakeBackend(), ledger=ledger)
    assert re.fullmatch(r"run-[0-9a-f]{8}", result.run_id)
    other = submit(req(run_id=None), backend=FakeBackend(), ledger=ledger)
    assert other.run_id != result.run_id


def test_retry_with_same_values_reuses_the_workflow(ledger: Ledger):
    fake = FakeBackend()
    first = submit(req(), backend=fake, ledger=ledger)
    again = submit(req(), backend=fake, ledger=ledger)
    assert again.reused and again.workflow_id == first.workflow_id
    assert len(fake.submitted) == 1


def test_same_run_id_with_other_values_is_denied(ledger: Ledger):
    fake = FakeBackend()
    submit(req(), backend=fake, ledger=ledger)
    with pytest.raises(PolicyDenied) as err:
        submit(req(video="other"), backend=fake, ledger=ledger)
    assert err.value.code == "run-id-format" and err.value.rule == "run-id-format"
    assert "fresh run_id" in err.value.remedy
    with pytest.raises(PolicyDenied):
        submit(req(flow="e2e"), backend=fake, ledger=ledger)
    assert len(fake.submitted) == 1


def test_timeout_is_uncertain_and_never_resubmitted(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", BackendTimeout("osmo workflow submit ran past 120s."))
    first = submit(req(), backend=fake, ledger=ledger)
    assert first.status == "uncertain" and first.workflow_id is None
    assert "workflow list" in first.remedy and "fresh run_id" in first.remedy
    second = submit(req(), backend=fake, ledger=ledger)
    assert second.status == "uncertain"
    assert fake.calls.count("submit") == 1 and fake.submitted == []
    assert ledger.get(RUN_ID).status == "uncertain"


def test_one_interpolation_retry_then_success(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", CommandFailed("Workflow submit failed.", output_tail="Jinja Template Error: 'video' is undefined"))
    result = submit(req(), backend=fake, ledger=ledger)
    assert result.status == "submitted" and result.attempts == 2
    assert fake.calls.count("submit") == 2


def test_interpolation_failure_is_retried_once_only(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", CommandFailed("Workflow submit failed: 'dataset' is undefined"), times=3)
    with pytest.raises(CommandFailed) as err:
        submit(req(), backend=fake, ledger=ledger)
    assert err.value.code == "single-interpolation-retry"
    assert fake.calls.count("submit") == 2
    assert ledger.get(RUN_ID).status == "failed"


def test_other_refusals_are_not_retried_but_a_later_call_may_try_again(ledger: Ledger):
    fake = FakeBackend()
    fake.fail_next("submit", CommandFailed("Resource validation failed for task: setup"))
    with pytest.raises(CommandFailed):
        submit(req(), backend=fake, ledger=ledger)
    assert fake.calls.count("submit") == 1 and ledger.get(RUN_ID).status == "failed"
    result = submit(req(), backend=fake, ledger=ledger)
    assert result.status == "submitted" and result.attempts == 2


def test_an_unreachable_service_is_uncertain_not_resubmitted(ledger: Ledger):
    # exit 10 can follow the workflow's creation (issue 14): uncertain; without a lookup nothing is sent again
    fake = FakeBackend()
    fake.fail_next("submit", BackendUnavailable("connection refused"))
    assert submit(req(), backend=fake, ledger=ledger).status == "uncertain"
    assert submit(req(), backend=fake, ledger=ledger).status == "uncertain"
    assert fake.calls.count("submit") == 1


def test_is_interpolation_failure():
    assert is_interpolation_failure(CommandFailed("x", output_tail="jinja2.exceptions.UndefinedError"))
    assert not is_interpolation_failure(CommandFailed("No credentials configured for s3://b"))
    # OSMO 6.3.1's texts: an undefined variable retries once, a syntax error in an inlined file never
    undefined = "Jinja substitution failure: <class 'jinja2.exceptions.UndefinedError'>: 'x' is undefined"
    syntax = "Jinja substitution failure: <class 'jinja2.exceptions.TemplateSyntaxError'>: Missing end of comment tag"
    assert is_interpolation_failure(CommandFailed("Workflow submit failed.", output_tail=undefined))
    assert not is_interpolation_failure(CommandFailed("Workflow submit failed.", output_tail=syntax))


def test_video_with_extension_is_refused_before_anything(ledger: Ledger):
    fake = FakeBackend()
    with pytest.raises(InputError) as err:
        submit(req(video="clip.mp4"), backend=fake, ledger=ledger)
    assert err.value.rule == "video-basename"
    assert fake.calls == [] and ledger.get(RUN_ID) is None


def test_guard_and_submit_agree_on_the_values(ledger: Ledger, tmp_path: Path, monkeypatch):
    from tests.contract.test_guard import full_objects, make_skills_dir

    skills = make_skills_dir(tmp_path / "skill")
    monkeypatch.setenv(TRUSTED_SKILLS_DIRS_ENV, str(skills))
    guard = pre_submit_guard(
        GuardRequest(flow="augmentation_and_al", dataset="vda-demo", run_id=RUN_ID, storage_url=STORAGE, gpu_platform="gpu", video="clip", skills_dir=str(skills)),
        backend=FakeBackend(objects=full_objects()),
    )
    assert guard.status == "ok"
    result = submit(req(skills_dir=str(skills)), backend=FakeBackend(), ledger=ledger)
    assert result.values == guard.values and result.values_hash == guard.values_hash


def test_secrets_never_reach_the_result_or_errors(ledger: Ledger, monkeypatch):
    secret = "nvapi-submit-canary-1234567890"
    monkeypatch.setenv("NGC_API_KEY", secret)
    fake = FakeBackend()
    fake.fail_next("submit", CommandFailed(f"refused: auth {secret} invalid", output_tail=f"Bearer {secret}"))
    with pytest.raises(CommandFailed) as err:
        submit(req(), backend=fake, ledger=ledger)
    assert secret not in str(err.value) and secret not in err.value.output_tail
    result = submit(req(llm_url=f"https://llm.example/v1?token={secret}", run_id="run-0000beef"), backend=fake, ledger=ledger)
    assert secret not in json.dumps(result.model_dump())


def test_secret_canary_across_guard_submit_and_poll(ledger: Ledger, tmp_path: Path, monkeypatch):
    """Secrets in the environment never show up in any step's result or error, whatever the input."""
    from skill.steps.monitor import PollRequest, poll
    from tests.fakes.backend import status_of
    from tests.contract.test_guard import full_objects, make_skills_dir

    canaries = {"NGC_API_KEY": "nvapi-canary-aaaa11112222", "HF_TOKEN": "hf_canarybbbb33334444", "ANTHROPIC_API_KEY": "sk-ant-canary-cccc5555"}
    for name, value in canaries.items():
        monkeypatch.setenv(name, value)
    leak = " ".join(canaries.values())
    skills = make_skills_dir(tmp_path / "skill")
    monkeypatch.setenv(TRUSTED_SKILLS_DIRS_ENV, str(skills))
    fake = FakeBackend(objects=full_objects(), logs={"cosmos_worker_0": f"auth failed for {leak}"})
    fake.on_query = lambda wid, n: status_of(wid, "FAILED", {"cosmos_worker_0": "FAILED"})
    fake.fail_next("data_list", BackendUnavailable(f"listing refused: {leak}"))
    outputs = [
        pre_submit_guard(GuardRequest(flow="augmentation_and_al", dataset="vda-demo", run_id=RUN_ID, storage_url=STORAGE,
                                      gpu_platform="gpu", video="clip", skills_dir=str(skills), vlm_url=f"https://x/v1?k={canaries['NGC_API_KEY']}"),
                         backend=fake).model_dump_json(),
        submit(req(llm_url=f"https://x/v1?k={canaries['HF_TOKEN']}"), backend=fake, ledger=ledger).model_dump_json(),
        poll(PollRequest(workflow_id="vda-demo-1"), backend=fake).model_dump_json(),
    ]
    fake.fail_next("submit", CommandFailed(f"refused {leak}", output_tail=leak, argv=["osmo", leak]))
    with pytest.raises(CommandFailed) as err:
        submit(req(run_id="run-0000cafe"), backend=fake, ledger=ledger)
    outputs += [str(err.value), err.value.output_tail, " ".join(err.value.argv), err.value.to_model().model_dump_json()]
    for text in outputs:
        for value in canaries.values():
            assert value not in text

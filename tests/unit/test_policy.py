"""The rule catalogue and the tool-call judge: every call rule denies and allows, the run state
learns from messages and results, and nothing secret leaks into a decision."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skill.models import Decision, PoolInfo
from skill.policy import CALL_JUDGES, RECORDERS, RULES, Rule, RunState, ToolCall, check, values_hash
from skill.secrets import forget_secrets, register_secret
from tools.tool_table import TOOL_NAMES, TOOLS

TOKEN = "nvapi-" + "Q7" * 12  # token-shaped, never a real key
HF = "hf_" + "Zx" * 10

GOOD: dict[str, Any] = {
    "flow": "augmentation_and_al",
    "dataset": "city-traffic-raw",
    "run_id": "run-1a2b3c4d",
    "storage_url": "s3://metro-vda",
    "gpu_platform": "gpu",
    "video": "clip01",
    "cosmos_model_cache_url": "s3://metro-vda/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "s3://metro-vda/data/models/auto_labeling",
    "skills_dir": "/abs/skill",
}
PREFLIGHT_OK = {
    "status": "ok",
    "pools": [
        PoolInfo(name="gpu-pool", status="ONLINE", platforms=["gpu"]),
        {"name": "old-pool", "status": "OFFLINE", "platforms": ["a100"]},
    ],
    "platforms": ["gpu"],
}


def call(tool: str, /, **arguments: Any) -> ToolCall:
    return ToolCall(name=tool, arguments=arguments)


def submit(**changes: Any) -> ToolCall:
    args = {**GOOD, "pool": "gpu-pool", **changes}
    return ToolCall(name="submit", arguments={k: v for k, v in args.items() if v is not None})


def guard(**changes: Any) -> ToolCall:
    args = {**GOOD, **changes}
    return ToolCall(name="pre_submit_guard", arguments={k: v for k, v in args.items() if v is not None})


def fresh_state(message: str = "Please augment and label s3://metro-vda/datasets/city-traffic-raw") -> RunState:
    state = RunState()
    state.note_user(message)
    return state


def ready_state(message: str | None = None, *, guard_changes: dict[str, Any] | None = None) -> RunState:
    """A run that did everything right up to the submit, built through record()."""
    state = fresh_state(message) if message else fresh_state()
    state.record(call("select_flow", text="augment"), {"flow": "augmentation_and_al", "eta": {"text": "20-35 min"}})
    state.record(call("preflight", workflow="augmentation_and_al"), PREFLIGHT_OK)
    state.record(guard(**(guard_changes or {})), {"status": "ok"})
    return state


@pytest.fixture(autouse=True)
def _no_registered_secrets():
    forget_secrets()
    yield
    forget_secrets()


# --- the catalogue ----------------------------------------------------------------------------------------


def _policy_md() -> Path | None:
    root = Path(__file__).resolve().parents[2]
    for candidate in (root / "POLICY.md", root / "references" / "POLICY.md", root / "docs" / "POLICY.md", Path("/work/shared/POLICY.md")):
        if candidate.is_file():
            return candidate
    return None


def _policy_table() -> dict[str, tuple[str, ...]]:
    path = _policy_md()
    if path is None:
        pytest.skip("POLICY.md is not available in this checkout")
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^\|\s*`([a-z0-9-]+)`\s*\|(.*)\|\s*([^|]+?)\s*\|\s*$", line)
        if match:
            rows[match.group(1)] = tuple(part.strip() for part in match.group(3).split(","))
    return rows


def test_catalogue_has_exactly_the_ids_of_policy_md():
    table = _policy_table()
    assert len(table) >= 20
    assert list(RULES) == list(table)


def test_catalogue_judged_on_matches_policy_md():
    table = _policy_table()
    for rule_id, judged_on in table.items():
        assert RULES[rule_id].judged_on == judged_on, rule_id


def test_every_rule_has_text_and_remedy_and_its_own_id():
    for rule_id, rule in RULES.items():
        assert isinstance(rule, Rule)
        assert rule.id == rule_id
        assert re.fullmatch(r"[a-z]+(?:-[a-z]+)*", rule_id)
        assert len(rule.text) > 30 and len(rule.remedy) > 10


@pytest.mark.parametrize(
    "rule_id",
    ["no-key-prefix-rejection", "single-interpolation-retry", "ask-only-when-blocked", "no-approval-pause", "media-line-format", "evidence-complete"],
)
def test_transcript_only_rules_are_catalogued_with_text(rule_id):
    rule = RULES[rule_id]
    assert rule.judged_on == ("transcript",)
    assert rule.text and rule.remedy


def test_rule_is_immutable_data():
    with pytest.raises(Exception):
        RULES["run-id-format"].text = "changed"  # type: ignore[misc]


# --- the canonical run is allowed ----------------------------------------------------------------------------


def test_canonical_submit_after_a_clean_run_is_allowed():
    decision = check(submit(), ready_state())
    assert decision == Decision(allowed=True, violations=[])


def test_check_without_state_still_judges_the_values():
    decision = check(submit(video="a/b.mp4"))
    assert not decision.allowed
    assert "video-basename" in {v.rule for v in decision.violations}


# --- deny / allow tables per rule -----------------------------------------------------------------------------


def _state_with(**fields: Any) -> RunState:
    state = ready_state()
    for key, value in fields.items():
        setattr(state, key, value)
    return state


def _demo_state() -> RunState:
    state = ready_state("Augment my clips in /data/videos please")
    state.record(call("prepare_demo_assets"), {"demo_dir": "/srv/sdg/data/vda_inputs"})
    return state


def _cache_missing_state(setup_ran: bool = False, reguarded: bool = False) -> RunState:
    state = fresh_state()
    state.record(call("select_flow", text="augment"), {"flow": "augmentation_and_al", "eta": {"text": "20-35 min"}})
    state.record(call("preflight"), PREFLIGHT_OK)
    state.record(guard(), {"status": "cache_missing"})
    if setup_ran:
        state.record(call("setup_model_cache", storage_url="s3://metro-vda", path="data"), {"workflow_id": "setup-model-cache-1"})
    if reguarded:
        state.record(guard(), {"status": "ok"})
    return state


DENY: list[tuple[str, ToolCall, Any]] = [
    ("single-set-string", submit(set=["dataset=x"]), ready_state),
    ("single-set-string", submit(set_string=[["dataset=x"], ["video=y"]]), ready_state),
    ("single-set-string", submit(extra_args=["--set-string", "video=clip01"]), ready_state),
    ("no-demo-substitution", submit(dataset="vda-demo"), ready_state),
    ("no-demo-substitution", call("prepare_demo_assets"), lambda: fresh_state("augment my videos in /data/videos")),
    ("no-demo-substitution", call("upload_dataset", folder="/srv/sdg/data/vda_inputs", storage_url="s3://metro-vda", name="x"), _demo_state),
    ("no-demo-substitution", submit(video="other"), lambda: ready_state("please label /data/in/clip01.mp4")),
    ("vda-demo-only", call("prepare_demo_assets", repo="someone/city-clips"), RunState),
    ("vda-demo-only", call("prepare_demo_assets", repo="someone/city-clips", allow_non_vda=True), RunState),
    ("vda-demo-only", call("upload_dataset", source="https://huggingface.co/datasets/someone/clips/resolve/main/a.mp4"), RunState),
    ("no-invented-video", call("upload_dataset", source="https://www.pexels.com/download/video/123/"), RunState),
    ("no-invented-video", call("prepare_demo_assets", url="https://example.com/placeholder.mp4"), RunState),
    ("storage-url-derived", submit(storage_url="gs://metro-vda"), ready_state),
    ("storage-url-derived", submit(storage_url="s3://metro-vda/datasets"), ready_state),
    ("storage-url-derived", submit(storage_url="s3://metro-vda/other"), ready_state),
    ("storage-url-derived", submit(storage_url=None), ready_state),
    ("storage-url-derived", submit(storage_url="s3://bucket", cosmos_model_cache_url="azure://a/c/data/models/cosmos_transfer"), RunState),
    ("storage-url-derived", call("setup_model_cache", storage_url="s3://guessed", path="data"), ready_state),
    ("explicit-cache-urls", submit(cosmos_model_cache_url=None), ready_state),
    ("explicit-cache-urls", submit(auto_labeling_model_cache_url="{{storage_url}}/data/models/auto_labeling"), ready_state),
    ("explicit-cache-urls", submit(flow="auto_labeling", auto_labeling_model_cache_url=None, cosmos_model_cache_url=None), ready_state),
    ("explicit-cache-urls", submit(flow="augmentation_and_pl", cosmos_model_cache_url=""), ready_state),
    ("gpu-platform-from-pool", submit(gpu_platform="microk8s"), ready_state),
    ("gpu-platform-from-pool", submit(pool="old-pool"), ready_state),
    ("gpu-platform-from-pool", submit(gpu_platform=None), ready_state),
    ("gpu-platform-from-pool", submit(), lambda: _state_with(online_pools={}, online_platforms=[])),
    ("preflight-before-submit", submit(), lambda: _state_with(preflight_passed=False)),
    ("preflight-before-submit", call("setup_model_cache", storage_url="s3://metro-vda", path="data"), fresh_state),
    ("guard-before-submit", submit(), lambda: ready_state(guard_changes={"video": "clip02"})),
    ("guard-before-submit", submit(), lambda: ready_state(guard_changes={"flow": "e2e"})),
    ("guard-before-submit", submit(run_id="run-9f9f9f9f"), ready_state),
    ("eta-before-mutation", submit(), lambda: _state_with(eta_given=False)),
    ("eta-before-mutation", call("preflight", workflow="augmentation_and_al"), RunState),
    ("eta-before-mutation", call("setup_model_cache", storage_url="s3://metro-vda", path="data"), RunState),
    ("eta-before-mutation", call("nim_health", repair=True), RunState),
    ("nim-allow-list", call("nim_health", repair=True, services=["qwen3-vl", "qwen25-14b", "cosmos-predict"]), ready_state),
    ("nim-allow-list", call("nim_health", repair=True, services="qwen3-vl"), ready_state),
    ("cache-remediation", submit(), _cache_missing_state),
    ("external-endpoints-opt-in", submit(vlm_url="https://integrate.api.nvidia.com/v1"), ready_state),
    ("external-endpoints-opt-in", submit(llm_url="http://10.0.0.5:8000/v1"), ready_state),
    ("no-secret-echo", call("preflight", workflow="augmentation_and_al", payload={"auth": TOKEN}), ready_state),
    ("no-secret-echo", call("preflight", workflow="augmentation_and_al", payload={"auth": "0123456789abcdef"}), ready_state),
    ("no-secret-echo", call("nim_health", vlm_url="https://x.example/v1", api_key=HF), ready_state),
    ("no-secret-echo", submit(cookbook=f"Bearer {TOKEN}"), ready_state),
    ("run-id-format", submit(run_id="RUN-1A2B3C4D"), ready_state),
    ("run-id-format", submit(run_id="run-12345"), ready_state),
    ("run-id-format", submit(), lambda: _state_with(submitted_run_ids=["run-1a2b3c4d"])),
    ("video-basename", submit(video="clips/clip01"), ready_state),
    ("video-basename", submit(video="clip01.mp4"), ready_state),
    ("video-basename", submit(video="..\\clip01"), ready_state),
    ("video-basename", call("stage_artifacts", video="../../etc/passwd", run_id="run-1a2b3c4d"), ready_state),
    ("video-basename", call("render_side_by_side", video="x/y.MOV"), ready_state),
]

ALLOW: list[tuple[str, ToolCall, Any]] = [
    ("single-set-string", submit(set_string=[f"{k}={v}" for k, v in GOOD.items() if k != "flow"]), ready_state),
    ("single-set-string", submit(), ready_state),
    ("no-demo-substitution", submit(dataset="vda-demo", storage_url="s3://metro-vda"), lambda: ready_state("run the VDA demo on s3://metro-vda/datasets/vda-demo")),
    ("no-demo-substitution", call("prepare_demo_assets"), RunState),
    ("no-demo-substitution", submit(video="clip01"), lambda: ready_state("please label /data/in/clip01.mp4")),
    ("vda-demo-only", call("prepare_demo_assets"), RunState),
    ("vda-demo-only", call("prepare_demo_assets", repo="nvidia/video-data-augmentation-demo"), RunState),
    ("vda-demo-only", call("prepare_demo_assets", repo="someone/city-clips"), lambda: fresh_state("use the HF dataset someone/city-clips as the demo")),
    ("no-invented-video", call("upload_dataset", folder="/data/videos", storage_url="s3://metro-vda", name="clips"), RunState),
    ("no-invented-video", call("upload_dataset", source="https://cdn.example.com/clip.mp4"), lambda: fresh_state("augment https://cdn.example.com/clip.mp4")),
    ("storage-url-derived", submit(), ready_state),
    ("storage-url-derived", submit(storage_url="azure://acct/cont", cosmos_model_cache_url="azure://acct/cont/data/models/cosmos_transfer", auto_labeling_model_cache_url="azure://acct/cont/data/models/auto_labeling"), RunState),
    ("storage-url-derived", call("setup_model_cache", storage_url="s3://metro-vda", path="data"), ready_state),
    ("explicit-cache-urls", submit(), ready_state),
    ("explicit-cache-urls", submit(flow="auto_labeling", cosmos_model_cache_url=None), ready_state),
    ("gpu-platform-from-pool", submit(), ready_state),
    ("gpu-platform-from-pool", submit(pool=None), ready_state),
    ("preflight-before-submit", submit(), ready_state),
    ("guard-before-submit", submit(), ready_state),
    ("guard-before-submit", submit(run_id=None, skills_dir=None), ready_state),
    ("guard-before-submit", submit(cookbook="city_traffic"), ready_state),
    ("guard-before-submit", submit(), lambda: _cache_missing_state(setup_ran=True, reguarded=True)),
    ("eta-before-mutation", submit(), ready_state),
    ("eta-before-mutation", call("nim_health"), RunState),
    ("eta-before-mutation", call("preflight", workflow="augmentation_and_al"), ready_state),
    ("nim-allow-list", call("nim_health", repair=True, services="qwen25-14b qwen3-vl"), ready_state),
    ("cache-remediation", submit(), lambda: _cache_missing_state(setup_ran=True, reguarded=True)),
    ("cache-remediation", submit(), ready_state),
    ("external-endpoints-opt-in", submit(vlm_url="http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1"), ready_state),
    ("external-endpoints-opt-in", submit(vlm_url="https://integrate.api.nvidia.com/v1"), lambda: ready_state("augment s3://metro-vda/datasets/city-traffic-raw using external endpoints")),
    ("external-endpoints-opt-in", submit(llm_url="https://my.llm.example.com/v1"), lambda: ready_state("augment s3://metro-vda/datasets/city-traffic-raw, LLM at https://my.llm.example.com/v1")),
    ("no-secret-echo", call("preflight", workflow="e2e", payload={"auth": "$NGC_API_KEY", "username": "$oauthtoken"}), ready_state),
    ("no-secret-echo", call("preflight", refresh=True, payload_from_env={"token": "HF_TOKEN"}), ready_state),
    ("no-secret-echo", call("get_logs", workflow_id="wf-1", task="setup", max_tokens=200), ready_state),
    ("run-id-format", submit(), ready_state),
    ("run-id-format", submit(run_id=None), ready_state),
    ("video-basename", submit(video="03_IllegalOccupation_020_10FPS"), ready_state),
    ("video-basename", call("stage_artifacts", video="clip01.v2", run_id="run-1a2b3c4d"), ready_state),
]


@pytest.mark.parametrize(("rule", "tool_call", "make_state"), DENY, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(DENY)])
def test_call_rule_denies(rule, tool_call, make_state):
    decision = check(tool_call, make_state())
    assert not decision.allowed
    assert rule in {v.rule for v in decision.violations}, decision.violations
    for violation in decision.violations:
        assert violation.rule in RULES
        assert violation.message.strip() and violation.remedy.strip()


@pytest.mark.parametrize(("rule", "tool_call", "make_state"), ALLOW, ids=[f"{r}-{i}" for i, (r, _, _) in enumerate(ALLOW)])
def test_call_rule_allows(rule, tool_call, make_state):
    decision = check(tool_call, make_state())
    assert rule not in {v.rule for v in decision.violations}, decision.violations


def test_every_call_rule_has_deny_and_allow_rows():
    call_rules = {rule_id for rule_id, rule in RULES.items() if {"call", "run state"} & set(rule.judged_on)}
    assert call_rules <= {row[0] for row in DENY}
    assert call_rules <= {row[0] for row in ALLOW}


# --- deny texts ---------------------------------------------------------------------------------------------


def test_secret_values_never_reach_a_decision():
    register_secret("plain-secret-value-123")
    tool_call = call("preflight", workflow="x", payload={"auth": "plain-secret-value-123", "other": TOKEN}, note=f"Bearer {TOKEN}")
    decision = check(tool_call, ready_state())
    text = decision.model_dump_json()
    assert not decision.allowed
    assert "plain-secret-value-123" not in text and TOKEN not in text


def test_bad_values_are_named_but_secret_looking_ones_are_masked():
    decision = check(submit(run_id=f"run-{TOKEN}"), ready_state())
    text = decision.model_dump_json()
    assert "run-id-format" in text and TOKEN not in text


def test_remedy_names_the_canonical_fix():
    decision = check(submit(cosmos_model_cache_url=None), ready_state())
    remedies = [v.remedy for v in decision.violations if v.rule == "explicit-cache-urls"]
    assert remedies == ["Pass cosmos_model_cache_url=s3://metro-vda/data/models/cosmos_transfer."]
    video = check(submit(video="clips/clip01.mp4"), ready_state())
    assert any("video=clip01" in v.remedy for v in video.violations if v.rule == "video-basename")
    storage = check(submit(storage_url="gs://metro-vda"), ready_state())
    assert any("storage_url=s3://metro-vda" in v.remedy for v in storage.violations if v.rule == "storage-url-derived")


def test_cache_remediation_names_setup_model_cache_with_the_prefix():
    decision = check(submit(), _cache_missing_state())
    remedy = next(v.remedy for v in decision.violations if v.rule == "cache-remediation")
    assert "setup_model_cache" in remedy and "s3://metro-vda" in remedy and "pre_submit_guard" in remedy


def test_setup_without_a_new_guard_is_still_denied_by_the_guard_rule():
    decision = check(submit(), _cache_missing_state(setup_ran=True))
    rules = {v.rule for v in decision.violations}
    assert "cache-remediation" not in rules and "guard-before-submit" in rules


def test_unknown_tool_gets_only_general_checks():
    assert check(call("something_else", x="y"), RunState()).allowed
    assert not check(call("something_else", token=TOKEN), RunState()).allowed


def test_every_judge_and_recorder_is_a_real_tool_and_every_mutating_tool_has_a_judge():
    names = {t.name for t in TOOLS}
    assert set(CALL_JUDGES) <= names, sorted(set(CALL_JUDGES) - names)
    assert set(RECORDERS) <= names, sorted(set(RECORDERS) - names)
    unjudged = sorted(t.name for t in TOOLS if not t.read_only and t.judge is None)
    assert not unjudged, f"mutating tools without a policy judge: {unjudged}"
    assert all(t.recorder is RECORDERS.get(t.name) and t.judge is CALL_JUDGES.get(t.name) for t in TOOLS)


def test_preflight_sets_credentials_so_it_needs_the_eta_first():
    """Drift bug: the judge keyed set_credential (no such tool), so the real credential path was unjudged."""
    denied = check(call("preflight", workflow="augmentation_and_al"), fresh_state())
    assert [v.rule for v in denied.violations] == ["eta-before-mutation"]
    assert check(call("preflight", workflow="augmentation_and_al"), ready_state()).allowed


# --- the run state --------------------------------------------------------------------------------------------


def test_note_user_collects_inputs_dataset_and_endpoints():
    state = RunState()
    state.note_user("Label s3://metro-vda/datasets/city-traffic-raw and /data/in/clip01.mp4 with the LLM at https://llm.example.com/v1. Not the demo.")
    assert state.user_inputs == ["s3://metro-vda/datasets/city-traffic-raw", "/data/in/clip01.mp4"]
    assert state.dataset_url == "s3://metro-vda/datasets/city-traffic-raw"
    assert state.storage_url == "s3://metro-vda"
    assert state.user_endpoint_urls == ["https://llm.example.com/v1"]
    assert not state.user_asked_demo and not state.user_external_endpoints


@pytest.mark.parametrize(
    ("text", "asked_demo", "external", "repo"),
    [
        ("run the VDA demo please", True, False, None),
        ("just show me a demo", True, False, None),
        ("don't use the demo, use my clips", False, False, None),
        ("use external endpoints from build.nvidia.com", False, True, None),
        ("use the HF dataset acme/warehouse-clips", False, False, "acme/warehouse-clips"),
        ("pull https://huggingface.co/datasets/nvidia/video-data-augmentation-demo", True, False, None),
        ("augment and label my videos", False, False, None),
    ],
)
def test_note_user_reads_requests(text, asked_demo, external, repo):
    state = RunState()
    state.note_user(text)
    assert (state.user_asked_demo, state.user_external_endpoints, state.user_demo_repo) == (asked_demo, external, repo)


@pytest.mark.parametrize(
    ("text", "eta"),
    [
        ("Plan: preflight ~1-2 min, then the run takes 20-35 minutes.", True),
        ("ETA: about 45 min for a cold start.", True),
        ("Submitting now.", False),
        ("I will run 2 checks.", False),
    ],
)
def test_note_assistant_detects_an_eta_overview(text, eta):
    state = RunState()
    state.note_assistant(text)
    assert state.eta_given is eta


def test_record_learns_pools_platforms_and_preflight():
    state = RunState()
    state.record(call("preflight"), PREFLIGHT_OK)
    assert state.preflight_passed
    assert state.online_pools == {"gpu-pool": ["gpu"]}
    state.record(call("preflight"), {"status": "failed", "pools": []})
    assert not state.preflight_passed and state.online_pools == {}


def test_record_guard_only_counts_passing_guards():
    state = RunState()
    state.record(guard(), {"status": "failed"})
    assert not state.guarded_hashes
    state.record(guard(), {"status": "cache_missing"})
    assert state.cache_missing and not state.guarded_hashes
    state.record(call("setup_model_cache", storage_url="s3://metro-vda"), None)
    assert state.cache_setup_since
    state.record(guard(), {"status": "ok"})
    assert not state.cache_missing and state.guard_covers({k: v for k, v in GOOD.items() if k != "flow"}, "augmentation_and_al")


def test_guard_that_hands_out_the_run_id_covers_the_submit_with_it():
    state = ready_state(guard_changes={"run_id": None, "cosmos_model_cache_url": None, "skills_dir": None})
    checked = {k: v for k, v in GOOD.items() if k not in ("flow", "run_id")}
    state.record(guard(run_id=None, cosmos_model_cache_url=None, skills_dir=None), {"status": "ok", "flow": "augmentation_and_al", "run_id": "run-0badcafe", "values": {**checked, "run_id": "run-0badcafe"}})
    assert check(submit(run_id="run-0badcafe"), state).allowed
    assert "guard-before-submit" in {v.rule for v in check(submit(run_id="run-0badcafe", video="clip02"), state).violations}


def test_record_submit_makes_the_run_id_stale():
    state = ready_state()
    assert check(submit(), state).allowed
    state.record(submit(), {"workflow_id": "city-traffic-raw-1", "run_id": "run-1a2b3c4d"})
    assert state.submitted_run_ids == ["run-1a2b3c4d"]
    again = check(submit(), state)
    assert "run-id-format" in {v.rule for v in again.violations}


def test_record_demo_then_upload_marks_the_dataset_as_demo():
    state = RunState()
    state.record(call("prepare_demo_assets", demo_dir="/srv/sdg/data/vda_inputs"), {"demo_dir": "/srv/sdg/data/vda_inputs"})
    state.record(call("upload_dataset", folder="/srv/sdg/data/vda_inputs", storage_url="azure://a/c", name="vda-demo"), {"dataset_url": "azure://a/c/datasets/vda-demo"})
    assert state.demo_dataset_urls == ["azure://a/c/datasets/vda-demo"]
    assert state.storage_url == "azure://a/c"


def test_record_failure_counts_interpolation_failures_only():
    state = RunState()
    state.record_failure(submit(), RuntimeError("Jinja substitution failure: 'video' is undefined"))
    state.record_failure(submit(), RuntimeError("connection refused"))
    state.record_failure(call("poll"), RuntimeError("'x' is undefined"))
    assert state.interpolation_failures == 1


def test_state_round_trips_as_json():
    state = ready_state()
    again = RunState.model_validate_json(state.model_dump_json())
    assert again == state


def test_values_hash_ignores_defaults_order_and_alias():
    base = {k: v for k, v in GOOD.items() if k != "flow"}
    with_defaults = {**base, "cookbook": "city_traffic", "vlm_url": "http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1"}
    assert values_hash(base, flow="augmentation_and_al") == values_hash(dict(reversed(list(with_defaults.items()))), flow="augmentation_and_pl")
    assert values_hash(base, flow="augmentation_and_al") != values_hash({**base, "video": "other"}, flow="augmentation_and_al")
    assert values_hash(base, flow="e2e") != values_hash(base, flow="auto_labeling")


# --- robustness --------------------------------------------------------------------------------------------------

_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from([*TOOL_NAMES, "other"]), arguments=st.dictionaries(st.sampled_from([*GOOD, "pool", "set", "set_string", "payload", "repo", "folder", "values", "x"]), _json, max_size=8))
def test_check_never_raises_on_arbitrary_arguments(name, arguments):
    decision = check(ToolCall(name=name, arguments=arguments), ready_state())
    assert isinstance(decision, Decision)
    assert decision.allowed == (not decision.violations)


def test_public_names_are_exported():
    import skill.policy as policy

    assert all(hasattr(policy, name) for name in policy.__all__)
    public = [
        name for name in dir(policy)
        if not name.startswith("_") and getattr(getattr(policy, name), "__module__", None) == "skill.policy"
    ]
    assert sorted(set(public) - set(policy.__all__)) == []


def test_the_policy_package_has_layers_and_no_import_circle():
    """Each module of skill/policy imports (at run time) only modules of the layers below it."""
    import ast
    from pathlib import Path

    import skill.policy as policy

    layers = ["shell", "rules", "values", "state", "calls", "commands", "__init__"]
    folder = Path(policy.__file__).parent
    assert sorted(p.stem for p in folder.glob("*.py")) == sorted(layers)
    for position, name in enumerate(layers):
        tree = ast.parse((folder / f"{name}.py").read_text(encoding="utf-8"))
        guarded = {id(node) for block in ast.walk(tree) if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
                   for node in ast.walk(block)}
        imported = {node.module.split(".")[2] for node in ast.walk(tree)
                    if isinstance(node, ast.ImportFrom) and id(node) not in guarded and (node.module or "").startswith("skill.policy.")}
        assert imported <= set(layers[:position]), (name, imported - set(layers[:position]))
    assert "skill._policy_commands" not in {m.name for m in __import__("pkgutil").iter_modules(__import__("skill").__path__, "skill.")}


def test_a_fanned_out_run_is_advanced_by_submitting_its_run_id_again():
    """submit(max_in_flight) places the queued batches of a run each time it is called with the same
    values; a plain submit of an id already submitted stays refused (run-id-format)."""
    state = ready_state()
    fanned = submit(run_id="run-1a2b3c4d", max_in_flight=8)
    assert check(fanned, state).allowed
    state.record(fanned, {"status": "submitted", "workflow_id": "run-1a2b3c4d", "run_id": "run-1a2b3c4d"})
    assert check(fanned, state).allowed
    again = check(submit(run_id="run-1a2b3c4d"), state)
    assert not again.allowed and "run-id-format" in {v.rule for v in again.violations}

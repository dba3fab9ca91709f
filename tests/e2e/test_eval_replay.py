"""The eval harness: transcripts (format v1) replayed against the rules, fixtures against their scenarios,
invalid files reported without a crash, totals, and the ``vda eval replay`` command."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evals.replay import HEARTBEAT_GAP_S, check_scenarios, replay, replay_transcript
from evals.scenario import DEFAULT_SCENARIOS_DIR, load_scenario
from evals.transcript import Transcript, TranscriptInvalid, load_transcript, parse_transcript
from skill.errors import NotFound
from skill.policy import RULES
from tools.cli import main as vda

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "evals" / "transcripts"
WS = "/home/ada/vda-skill"
S3 = "s3://acme-vda/vda"
RUN = "run-0f4c2b9d"
ETA = "Flow: augmentation_and_al on OSMO. Estimated time: the workflow takes about 20-35 min. Starting preflight."
FIXTURE_FILES = {p.stem: p for p in sorted(FIXTURES.iterdir()) if p.suffix in (".jsonl", ".json")}  # v1 and foreign formats
FIXTURE_NAMES = sorted(FIXTURE_FILES)


# --- building transcripts ------------------------------------------------------------------------------


def read(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (FIXTURES / f"{name}.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]


def write(path: Path, lines: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    return path


class Convo:
    """A transcript built line by line, for the cases the fixtures do not hold."""

    def __init__(self, scenario: str = "test", **meta: Any) -> None:
        self.lines: list[dict[str, Any]] = [{"type": "meta", "format": 1, "scenario": scenario, "workspace": WS, **meta}]
        self.n = 0
        self.t = 0.0

    def _add(self, obj: dict[str, Any], dt: float) -> Convo:
        self.t += dt
        self.lines.append({**obj, "t": self.t})
        return self

    def user(self, text: str, dt: float = 1.0) -> Convo:
        return self._add({"type": "user", "text": text}, dt)

    def say(self, text: str, dt: float = 1.0) -> Convo:
        return self._add({"type": "assistant", "text": text}, dt)

    def call(self, name: str, req: dict[str, Any], result: Any, *, is_error: bool = False, dt: float = 1.0, wait: float = 1.0) -> Convo:
        self.n += 1
        self._add({"type": "tool_call", "id": f"c{self.n}", "name": name, "arguments": {"req": req}}, dt)
        return self._add({"type": "tool_result", "id": f"c{self.n}", "is_error": is_error, "content": result}, wait)

    def sh(self, command: str, stdout: str = "", *, exit_code: int = 0, stderr: str = "", wait: float = 1.0) -> Convo:
        self.n += 1
        self._add({"type": "shell", "id": f"s{self.n}", "command": command}, 1.0)
        return self._add({"type": "shell_result", "id": f"s{self.n}", "exit_code": exit_code, "stdout": stdout, "stderr": stderr}, wait)

    def replay(self, tmp_path: Path, name: str = "t.jsonl"):
        (entry,) = replay(write(tmp_path / name, self.lines)).transcripts
        return entry


VALUES = {
    "flow": "augmentation_and_al", "dataset": "harbor", "run_id": RUN, "storage_url": S3, "gpu_platform": "dgx-h100",
    "video": "dock_02", "cosmos_model_cache_url": f"{S3}/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": f"{S3}/data/models/auto_labeling",
}
PREFLIGHT_OK = {"status": "ok", "pools": [{"name": "gpu-pool", "status": "ONLINE", "platforms": ["dgx-h100"]}], "platforms": ["dgx-h100"]}
GUARD_OK = {"status": "ok", "flow": "augmentation_and_al", "run_id": RUN, "summary": "Pre-submit guard passed."}
SUBMITTED = {"status": "submitted", "workflow_id": "harbor-1", "run_id": RUN, "flow": "augmentation_and_al"}


def started(**meta: Any) -> Convo:
    """User named a dataset URL, ETA given, preflight ok: ready for the guard."""
    return (
        Convo(**meta)
        .user(f"Augment the videos in {S3}/datasets/harbor with weather variations.")
        .say(ETA)
        .call("preflight", {"workflow": "augmentation_and_al"}, PREFLIGHT_OK)
    )


def submitted(**meta: Any) -> Convo:
    return started(**meta).call("pre_submit_guard", VALUES, GUARD_OK).call("submit", {**VALUES, "pool": "gpu-pool"}, SUBMITTED)


# --- the fixtures against their scenarios ---------------------------------------------------------------------


def test_there_are_fixtures_for_every_required_case_and_each_has_a_scenario():
    assert len(FIXTURE_NAMES) >= 8
    scenarios = {p.stem for p in DEFAULT_SCENARIOS_DIR.glob("*.yaml")}
    assert set(FIXTURE_NAMES) == scenarios
    required = {
        "good_local_augmentation": [], "good_e2e_demo": [], "good_user_input_required": [],
        "bad_repeated_set_string": ["single-set-string"], "bad_nim_scale_down": ["no-nim-scale-down"],
        "bad_media_extra_text": ["media-line-format"], "bad_missing_sampled_vars": ["evidence-complete"],
        "bad_approval_pause": ["no-approval-pause"], "bad_secret_echo": ["no-secret-echo"],
        "bad_submit_before_guard": ["guard-before-submit"],
    }
    for name, rules in required.items():
        scenario = load_scenario(DEFAULT_SCENARIOS_DIR / f"{name}.yaml")
        assert scenario.rules == rules and scenario.verdict == ("fail" if rules else "pass"), name
        assert read(name)[0]["scenario"] == name


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_each_fixture_replays_to_exactly_the_rules_its_scenario_names(name: str):
    report = replay(FIXTURE_FILES[name])
    scenario = load_scenario(DEFAULT_SCENARIOS_DIR / f"{name}.yaml")
    (entry,) = report.transcripts
    assert entry.verdict == scenario.verdict
    assert sorted(entry.rules) == scenario.rules, entry.violations
    assert all(v.rule in RULES for v in entry.violations)
    bad = [v for v in entry.violations if v.line < 1 or v.line > len(read(name))]
    assert not bad
    (expectation,) = check_scenarios(report)
    assert expectation.matched, expectation.differences


def test_bad_fixtures_break_one_rule_once_and_the_good_runs_carry_full_evidence():
    report = replay(FIXTURES)
    by_name = {Path(t.file).stem: t for t in report.transcripts}
    for name, entry in by_name.items():
        if name.startswith("bad_"):
            assert len(entry.violations) == 1, (name, entry.violations)
    e2e = by_name["good_e2e_demo"]
    assert e2e.flow == "e2e" and e2e.completed
    assert e2e.evidence.model_dump() == {
        "side_by_side_media": True, "sampled_vars_summary": True, "augmented_label_summary": True,
        "original_label_summary": True, "demo_source_statement": True,
    }
    local = by_name["good_local_augmentation"].evidence
    assert local.original_label_summary is None and local.demo_source_statement is None  # not required there
    assert by_name["bad_nim_scale_down"].submitted is False and by_name["bad_nim_scale_down"].flow is None


def test_a_scenario_that_disagrees_with_the_replay_is_a_mismatch(tmp_path: Path):
    (tmp_path / "good_local_augmentation.yaml").write_text("verdict: fail\nrules: [no-secret-echo]\nflow: e2e\n", encoding="utf-8")
    (result,) = check_scenarios(replay(FIXTURES / "good_local_augmentation.jsonl"), tmp_path)
    assert not result.matched
    assert any("verdict" in d for d in result.differences) and any("no-secret-echo" in d for d in result.differences)
    assert any("flow" in d for d in result.differences)
    (missing,) = check_scenarios(replay(FIXTURES / "bad_secret_echo.jsonl"), tmp_path)
    assert not missing.matched and "no scenario file" in missing.differences[0]


# --- invalid files and unknown keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("broken", "line", "reason"),
    [
        ('{"type": "user", "text": "hi"', 3, "not valid JSON"),
        ('{"text": "no type here"}', 3, "no 'type'"),
        ('["a", "list"]', 3, "not a JSON object"),
        ('{"type": "telepathy"}', 3, "unknown line type"),
        ('{"type": "tool_result", "id": "nobody", "is_error": false}', 3, "answers no earlier"),
        ('{"type": "meta", "format": 1, "scenario": "again"}', 3, "second meta"),
    ],
)
def test_a_bad_line_makes_the_file_invalid_with_its_line_number_not_a_crash(tmp_path: Path, broken: str, line: int, reason: str):
    good = (FIXTURES / "good_local_augmentation.jsonl").read_text(encoding="utf-8").splitlines()
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join([*good[:2], broken, *good[2:]]) + "\n", encoding="utf-8")
    loaded = load_transcript(path)
    assert isinstance(loaded, TranscriptInvalid) and loaded.line == line and reason in loaded.reason
    (entry,) = replay(path).transcripts
    assert entry.verdict == "invalid" and not entry.valid and entry.invalid_line == line and reason in (entry.invalid_reason or "")
    assert entry.scenario == "good_local_augmentation" and entry.violations == []


def test_an_invalid_reason_never_repeats_a_secret_from_the_line(tmp_path: Path):
    token = "nvapi-Q3xYz7Kp2LmN8vB4cR6tW1sD9fG0hJ5kL2mN4pQ7rS"
    path = tmp_path / "leak.jsonl"
    path.write_text('{"type": "meta", "format": 1, "scenario": "x"}\n{"type": "' + token + '"}\n', encoding="utf-8")
    (entry,) = replay(path).transcripts
    assert entry.verdict == "invalid" and token not in entry.model_dump_json()


def test_empty_file_and_first_line_not_meta_are_invalid(tmp_path: Path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    no_meta = write(tmp_path / "nometa.jsonl", [{"type": "user", "text": "hi"}])
    report = replay([empty, no_meta])
    assert [t.verdict for t in report.transcripts] == ["invalid", "invalid"]
    assert report.transcripts[0].invalid_line is None and report.transcripts[1].invalid_line == 1


def test_unknown_keys_are_kept_and_ignored(tmp_path: Path):
    lines = read("good_local_augmentation")
    extra = [{**line, "x_trace_id": f"tr-{i}", "usage": {"input_tokens": 12}} for i, line in enumerate(lines)]
    path = write(tmp_path / "good_local_augmentation.jsonl", extra)
    loaded = load_transcript(path)
    assert isinstance(loaded, Transcript) and loaded.lines[1].model_extra["x_trace_id"] == "tr-1"
    (entry,) = replay(path).transcripts
    (plain,) = replay(FIXTURES / "good_local_augmentation.jsonl").transcripts
    assert entry.verdict == "pass" and entry.model_dump(exclude={"file"}) == plain.model_dump(exclude={"file"})


def test_a_result_of_an_unexpected_shape_is_reported_and_the_replay_goes_on(tmp_path: Path):
    entry = Convo().user("augment the demo").say(ETA).call("preflight", {}, {"status": "ok", "pools": 5}).say("Preflight done.").replay(tmp_path)
    (info,) = entry.info
    assert info.kind == "unreadable-result" and info.line == 5 and entry.verdict == "pass"


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["status", "pools", "values", "flow", "sampled_vars", "run_id", "dataset_url", "eta",
                                       "platforms", "name", "demo_dir", "text", "workflow_id", "video", "storage_url"]), inner, max_size=4),
    max_leaves=8,
)
_MIXED = [*read("good_e2e_demo"), *[{**line, "id": line["id"] + "x"} if "id" in line else line for line in read("good_shell_submit")[1:]]]


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(index=st.integers(min_value=1, max_value=len(_MIXED) - 1), value=_JSON)
def test_any_json_in_a_result_or_argument_gives_a_verdict_never_a_crash(index: int, value: Any):
    lines = [dict(line) for line in _MIXED]
    line = lines[index]
    if line["type"] == "tool_call":
        line["arguments"] = {"req": value if isinstance(value, dict) else {"flow": value}}
    elif line["type"] == "tool_result":
        line["content"] = value
    elif line["type"] in ("user", "assistant", "shell", "shell_result"):
        key = {"user": "text", "assistant": "text", "shell": "command", "shell_result": "stdout"}[line["type"]]
        line[key] = value if isinstance(value, str) else json.dumps(value)
    entry = replay_transcript(parse_transcript("\n".join(json.dumps(item) for item in lines).encode()))
    assert entry.verdict in ("pass", "fail") and entry.valid


def test_a_missing_path_is_a_not_found_error():
    with pytest.raises(NotFound) as err:
        replay(FIXTURES / "no_such_file.jsonl")
    assert err.value.code == "transcript-not-found"


# --- totals ---------------------------------------------------------------------------------------------------


def test_totals_count_files_verdicts_and_violations_per_rule(tmp_path: Path):
    for name in ("good_local_augmentation", "bad_secret_echo", "bad_media_extra_text"):
        (tmp_path / f"{name}.jsonl").write_bytes((FIXTURES / f"{name}.jsonl").read_bytes())
    (tmp_path / "zz_broken.jsonl").write_text("not json\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("not a transcript", encoding="utf-8")
    report = replay(tmp_path)
    totals = report.totals
    assert (totals.files, totals.passed, totals.failed, totals.invalid) == (4, 1, 2, 1)
    assert totals.violations == {"no-secret-echo": 1, "media-line-format": 1}
    assert not report.all_passed
    whole = replay(FIXTURES)
    everything = whole.totals
    assert everything.files == len(FIXTURE_NAMES) and everything.passed + everything.failed == everything.files
    per_file = sum(len(t.violations) for t in whole.transcripts)
    assert sum(everything.violations.values()) == per_file >= everything.failed  # every violation counted once, in its rule


# --- the rules, one case each ------------------------------------------------------------------------------


def test_a_clean_built_run_passes(tmp_path: Path):
    entry = submitted().say("Submitted harbor-1. Polling.").replay(tmp_path)
    assert entry.verdict == "pass" and entry.submitted and entry.flow == "augmentation_and_al"


def test_a_call_the_gate_refused_is_information_not_a_violation(tmp_path: Path):
    refused = started().call("submit", VALUES, "[guard-before-submit] No passing pre-submit guard... Next: call the guard", is_error=True)
    entry = refused.replay(tmp_path)
    assert entry.verdict == "pass" and not entry.submitted
    (info,) = entry.info
    assert info.kind == "attempted" and "guard-before-submit" in info.rules and info.line == 6
    went_through = started().call("submit", VALUES, SUBMITTED).replay(tmp_path, "b.jsonl")
    assert went_through.rules == {"guard-before-submit"} and went_through.submitted


def test_guard_values_must_equal_the_submit_values(tmp_path: Path):
    convo = started().call("pre_submit_guard", VALUES, GUARD_OK).call("submit", {**VALUES, "video": "dock_03"}, SUBMITTED)
    assert convo.replay(tmp_path).rules == {"guard-before-submit"}


def test_a_submit_before_any_eta_breaks_eta_before_mutation(tmp_path: Path):
    convo = (
        Convo().user(f"Augment {S3}/datasets/harbor").call("preflight", {}, PREFLIGHT_OK)
        .call("pre_submit_guard", VALUES, GUARD_OK).call("submit", VALUES, SUBMITTED)
    )
    assert convo.replay(tmp_path).rules == {"eta-before-mutation"}


def test_more_than_one_resubmit_after_an_interpolation_failure(tmp_path: Path):
    failure = "Error: workflow variable 'video' is undefined (interpolation)"
    base = started().call("pre_submit_guard", VALUES, GUARD_OK).call("submit", VALUES, failure, is_error=True)
    once = Convo()
    once.lines = [dict(line) for line in base.lines]
    once.n, once.t = base.n, base.t
    assert once.call("submit", VALUES, SUBMITTED).replay(tmp_path, "once.jsonl").verdict == "pass"
    twice = base.call("submit", VALUES, failure, is_error=True).call("submit", VALUES, SUBMITTED)
    entry = twice.replay(tmp_path, "twice.jsonl")
    assert entry.rules == {"single-interpolation-retry"}
    assert [v.line for v in entry.violations] == [len(twice.lines) - 1]  # the second resubmit call (1-based)


def test_shell_submits_are_judged_in_order_with_the_shell_steps(tmp_path: Path):
    pairs = " ".join(f"{k}={v}" for k, v in VALUES.items() if k != "flow")
    submit = f"osmo workflow submit {WS}/assets/configs/osmo/augmentation_and_al.yaml --pool gpu-pool --set-string {pairs}"
    no_preflight = Convo().user(f"Augment {S3}/datasets/harbor").say(ETA).sh(
        f"vda guard augmentation_and_al --json --set-string {pairs}", json.dumps(GUARD_OK)).sh(submit, "submitted")
    assert no_preflight.replay(tmp_path).rules == {"preflight-before-submit"}
    failed_guard = Convo().user(f"Augment {S3}/datasets/harbor").say(ETA).sh(
        "vda preflight --workflow augmentation_and_al --json", json.dumps(PREFLIGHT_OK)).sh(
        f"vda guard augmentation_and_al --json --set-string {pairs}", json.dumps({"status": "failed"}), exit_code=1).sh(submit, "submitted")
    assert failed_guard.replay(tmp_path, "g.jsonl").rules == {"guard-before-submit"}


def test_cache_remediation_submit_with_a_missing_cache_and_asking_about_it(tmp_path: Path):
    missing = {"status": "cache_missing", "flow": "augmentation_and_al", "summary": "The model cache is missing."}
    skipped = started().call("pre_submit_guard", VALUES, missing).call("submit", VALUES, SUBMITTED)
    assert "cache-remediation" in skipped.replay(tmp_path).rules
    asked = started().call("pre_submit_guard", VALUES, missing).say("The model cache is missing. Should I populate the cache first?")
    assert asked.replay(tmp_path, "a.jsonl").rules == {"cache-remediation"}
    fixed = (
        started().call("pre_submit_guard", VALUES, missing)
        .call("setup_model_cache", {"storage_url": S3, "path": "data"}, {"status": "submitted", "message": "Cache workflow done."})
        .call("pre_submit_guard", VALUES, GUARD_OK).call("submit", VALUES, SUBMITTED)
    )
    assert fixed.replay(tmp_path, "f.jsonl").verdict == "pass"


@pytest.mark.parametrize(
    ("question", "rule"),
    [
        ("Which cookbook would you like, city_traffic or warehouse?", "ask-only-when-blocked"),
        ("Do you want me to use the external hosted VLM endpoints instead?", "ask-only-when-blocked"),
        ("Should I scale down the NIMs to free a GPU?", "ask-only-when-blocked"),
        ("What would you like the output folder to be called?", "ask-only-when-blocked"),
        ("Preflight passed. Ready when you are.", "no-approval-pause"),
        ("The guard passed. Let me know and I will submit.", "no-approval-pause"),
    ],
)
def test_questions_and_pauses_without_a_blocker(tmp_path: Path, question: str, rule: str):
    assert started().say(question).replay(tmp_path).rules == {rule}


def test_a_question_is_fine_when_the_run_is_blocked_or_the_user_asked_to_pause(tmp_path: Path):
    no_pool = {"status": "failed", "pools": [], "platforms": [], "remedy": "No ONLINE pool: none of the pools is schedulable."}
    blocked = Convo().user("Augment the demo").say(ETA).call("preflight", {}, no_pool).say("No pool is ONLINE. Which pool should I use once one is up?")
    assert blocked.replay(tmp_path).verdict == "pass"
    stop = started().user("Stop after preflight and check with me before you submit.").say("Preflight passed. Shall I proceed with the submit?")
    assert stop.replay(tmp_path, "s.jsonl").verdict == "pass"


def test_rejecting_an_nvapi_key_for_its_prefix(tmp_path: Path):
    bad = started().say("Your NGC_API_KEY starts with nvapi- so it is not supported; I will skip the registry login.")
    assert bad.replay(tmp_path).rules == {"no-key-prefix-rejection"}
    fine = started().say("Your nvapi- key is fine: the registry probe decides, and it passed.")
    assert fine.replay(tmp_path, "f.jsonl").verdict == "pass"


def test_a_known_secret_value_anywhere_but_the_user_line_is_an_echo(tmp_path: Path):
    plain_value = "correct-horse-battery-staple-42"  # not token-shaped: only the meta's secret_env marks it
    convo = started(secret_env={"HF_TOKEN": plain_value}).sh(f"echo {plain_value} | wc -c", "32\n")
    entry = convo.replay(tmp_path)
    assert entry.rules == {"no-secret-echo"} and plain_value not in entry.model_dump_json()
    user_only = started(secret_env={"HF_TOKEN": plain_value}).user(f"my token is {plain_value}")
    assert user_only.replay(tmp_path, "u.jsonl").verdict == "pass"


@pytest.mark.parametrize(
    "text",
    [
        "MEDIA:/tmp/elsewhere/compare.mp4",
        f"```\nMEDIA:{WS}/media/vda/runs/{RUN}/display/a.mp4\n```",
        f"MEDIA:{WS}/media/vda/runs/{RUN}/a.mp4\nMEDIA:{WS}/media/vda/runs/{RUN}/b.mp4",
        f"MEDIA: {WS}/media/vda/runs/{RUN}/a.mp4",
        "MEDIA:media/vda/runs/a.mp4",
    ],
)
def test_media_lines_that_are_not_alone_absolute_and_inside_the_run_folder(tmp_path: Path, text: str):
    assert submitted().say(text).replay(tmp_path).rules == {"media-line-format"}


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("ffmpeg -f lavfi -i testsrc=duration=10:size=1280x720:rate=10 /tmp/clips/placeholder.mp4", "no-invented-video"),
        ("curl -L -o /tmp/clip.mp4 https://www.pexels.com/download/video/123/", "no-invented-video"),
        ('osmo credential set ngc --type REGISTRY --payload registry=nvcr.io auth="$NGC_API_KEY"', "eta-before-mutation"),
        ('NIM_SERVICES="qwen3-vl qwen25-14b" bash install.sh', "eta-before-mutation"),
    ],
)
def test_shell_commands_before_an_eta_or_inventing_input(tmp_path: Path, command: str, rule: str):
    entry = Convo().user(f"Augment the videos in {S3}/datasets/harbor").sh(command).replay(tmp_path)
    assert entry.rules == {rule}


def test_mutations_after_the_eta_are_fine(tmp_path: Path):
    convo = Convo().user(f"Augment the videos in {S3}/datasets/harbor").say(ETA)
    convo.sh('osmo credential set ngc --type REGISTRY --payload registry=nvcr.io auth="$NGC_API_KEY"')
    assert convo.replay(tmp_path).verdict == "pass"


def test_demo_used_although_the_user_named_a_dataset(tmp_path: Path):
    demo = {"demo_dir": f"{WS}/media/vda/demo", "repo": "nvidia/video-data-augmentation-demo", "dataset": "vda-demo"}
    entry = started().call("prepare_demo_assets", {}, demo).replay(tmp_path)
    assert entry.rules == {"no-demo-substitution"}


def test_an_e2e_run_without_the_original_label_summary_is_incomplete(tmp_path: Path):
    lines = [line for line in read("good_e2e_demo") if not (line["type"] == "assistant" and "Original-clip labels" in line["text"])]
    lines.append({"type": "assistant", "text": "Augmented-clip labels (aug0): 11 tracks (8 car, 3 person), 5 MCQ items."})
    (entry,) = replay(write(tmp_path / "e2e.jsonl", lines)).transcripts
    assert entry.rules == {"evidence-complete"}
    assert entry.evidence.original_label_summary is False and entry.evidence.augmented_label_summary is True


def test_a_failed_workflow_needs_no_evidence_and_a_long_silence_is_a_heartbeat_gap(tmp_path: Path):
    convo = submitted().say("Submitted harbor-1; polling.")
    convo.call("poll", {"workflow_id": "harbor-1", "wait": True}, {"status": "RUNNING"}, wait=HEARTBEAT_GAP_S + 60)
    convo.call("poll", {"workflow_id": "harbor-1", "wait": True}, {"status": "FAILED", "terminal": True}, wait=30)
    convo.say("harbor-1 FAILED in cosmos_worker_0: out of GPU memory. See the log tail above.")
    entry = convo.replay(tmp_path)
    assert entry.verdict == "pass" and not entry.completed
    (gap,) = entry.info
    assert gap.kind == "heartbeat-gap" and gap.line == len(convo.lines) - 3  # the RUNNING poll result, 180 s after the last word


# --- the command -----------------------------------------------------------------------------------------------


def test_cli_json_report_shape_and_exit_codes(capsys: pytest.CaptureFixture[str]):
    assert vda(["eval", "replay", str(FIXTURES / "good_local_augmentation.jsonl"), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert set(report) == {"transcripts", "totals"}
    (entry,) = report["transcripts"]
    assert {"file", "scenario", "valid", "violations", "flow", "submitted", "evidence", "verdict"} <= set(entry)
    assert set(entry["evidence"]) == {"side_by_side_media", "sampled_vars_summary", "augmented_label_summary",
                                      "original_label_summary", "demo_source_statement"}
    assert report["totals"] == {"files": 1, "passed": 1, "failed": 0, "invalid": 0, "violations": {}}

    assert vda(["eval", "replay", str(FIXTURES / "bad_media_extra_text.jsonl"), "--json"]) == 1
    (bad,) = json.loads(capsys.readouterr().out)["transcripts"]
    assert bad["verdict"] == "fail" and [v["rule"] for v in bad["violations"]] == ["media-line-format"]
    assert set(bad["violations"][0]) == {"rule", "line", "message"}

    assert vda(["eval", "replay", str(FIXTURES)]) == 1
    text = capsys.readouterr().out
    passed = replay(FIXTURES).totals.passed
    assert "PASS good_e2e_demo.jsonl" in text and "[single-set-string]" in text and f"{passed} passed" in text

    assert vda(["eval", "replay", str(FIXTURES), "--expect", "--json"]) == 0
    expectations = json.loads(capsys.readouterr().out)["expectations"]
    assert len(expectations) == len(FIXTURE_NAMES) and all(e["matched"] for e in expectations)


def test_cli_invalid_file_and_missing_path_exit_1_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"type": "meta", "format": 1, "scenario": "x"}\n{oops\n', encoding="utf-8")
    assert vda(["eval", "replay", str(broken), "--json"]) == 1
    (entry,) = json.loads(capsys.readouterr().out)["transcripts"]
    assert entry["verdict"] == "invalid" and entry["invalid_line"] == 2
    assert vda(["eval", "replay", str(tmp_path / "missing.jsonl"), "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["code"] == "transcript-not-found" and "Traceback" not in err


def test_vda_eval_runs_as_a_process():
    proc = subprocess.run(
        [sys.executable, "-m", "tools.cli", "eval", "replay", str(FIXTURES / "good_e2e_demo.jsonl")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "PASS good_e2e_demo.jsonl" in proc.stdout and "1 passed" in proc.stdout

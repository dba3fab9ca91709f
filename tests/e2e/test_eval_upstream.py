"""Judging a run that follows upstream's canonical way of working (issue 12): the value-less guard
script, the user's own input split into dataset/storage/video, `$STAMP`/`$SKILLS_DIR` variables, the
manifest's sampled values said in ordinary words, the cache report of the canonical guard, and an
`hf download` of a stand-in dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill.policy import RunState, check_command
from tests.e2e.test_eval_replay import Convo

USER = "Augment my video s3://acme/datasets/dock-cams/cam3_0915.mp4 with rain and dusk variations."
ETA = "Plan: augmentation_and_al on OSMO. Preflight 1-2 min, queue 1-3 min, the run itself about 20-35 min."
FLOW_YAML = "assets/configs/osmo/augmentation_and_al.yaml"
PREFLIGHT = f"bash scripts/preflight_credentials.sh --workflow {FLOW_YAML}"
GUARD = f"python3 scripts/pre_submit_guard.py --workflow {FLOW_YAML}"
GUARD_OK = "OK: pre-submit guard passed (mode-aware checks: auto-labeling, augmentation)."
GUARD_CACHE = (
    "ERROR: pre-submit guard failed. Model cache URL validation failed.\n"
    "DEFAULT_ACTION: Run setup_model_cache.yaml, then rerun pre-submit guard (ask the user only if the prefix is ambiguous or the cache setup fails).\n"
    "Hint: osmo workflow submit assets/configs/osmo/setup_model_cache.yaml --set-string storage_url=s3://acme path=data\n"
    "  - s3://acme/data/models/cosmos_transfer: No entries found\n"
)
STAMP = 'STAMP=$(cat /proc/sys/kernel/random/uuid | cut -c1-8)'
SKILLS = 'SKILLS_DIR="$(cd "$(git rev-parse --show-toplevel)" && pwd)"'
PAIRS = (
    "dataset=dock-cams run_id=run-$STAMP storage_url=s3://acme gpu_platform=gpu video=cam3_0915 "
    "cosmos_model_cache_url=s3://acme/data/models/cosmos_transfer "
    "auto_labeling_model_cache_url=s3://acme/data/models/auto_labeling skills_dir=\"$SKILLS_DIR\""
)
SUBMIT = f"{SKILLS}\n{STAMP}\nosmo workflow submit {FLOW_YAML} --pool gpu-pool --set-string {PAIRS}"
POOLS = "POOL       STATUS   PLATFORMS\ngpu-pool   ONLINE   gpu\n"
MANIFEST = (
    "configs:\n- aug_idx: 0\n  config: cam3_0915_aug0.yaml\n  sampled_vars:\n    time_of_day: dusk\n    weather: rain\n"
    "  video: /data/inputs/cam3_0915.mp4\n  video_name: cam3_0915\ntotal: 1\n"
)
STAGED = "LOCAL_RUN_DIR=/home/ada/vda-skill/media/vda/runs/run-5d1e0c7a\nLOCAL_MANIFEST=/home/ada/vda-skill/media/vda/runs/run-5d1e0c7a/setup_b0/configs/manifest.yaml\n"


def guarded() -> Convo:
    return Convo().user(USER).say(ETA).sh(PREFLIGHT, "").sh("osmo pool list --mode free", POOLS).sh(GUARD, GUARD_OK)


def test_the_canonical_guard_covers_the_next_submit_of_its_workflow_with_the_users_input_and_stamp(tmp_path: Path):
    entry = guarded().sh(SUBMIT, "Workflow ID - dock-cams-aug-1\n").replay(tmp_path)
    assert entry.verdict == "pass", entry.violations
    assert entry.submitted and entry.flow == "augmentation_and_al"


def test_the_canonical_guard_does_not_cover_another_workflow_or_a_second_submit(tmp_path: Path):
    other = guarded().sh(SUBMIT.replace("augmentation_and_al.yaml", "e2e.yaml"), "Workflow ID - dock-cams-e2e-1\n")
    assert other.replay(tmp_path).rules == {"guard-before-submit"}
    again = guarded().sh(SUBMIT, "Workflow ID - dock-cams-aug-1\n").sh(SUBMIT, "Workflow ID - dock-cams-aug-2\n")
    assert again.replay(tmp_path, "again.jsonl").rules == {"guard-before-submit"}


def test_a_failed_canonical_guard_covers_nothing(tmp_path: Path):
    failed = guarded().sh(GUARD, "ERROR: setup input URL s3://acme/datasets/dock-cams is empty", exit_code=1).sh(SUBMIT, "Workflow ID - x-1\n")
    assert failed.replay(tmp_path).rules == {"guard-before-submit"}


def test_a_literal_run_stamp_that_is_not_hex_is_still_a_run_id_violation(tmp_path: Path):
    entry = guarded().sh(SUBMIT.replace("run-$STAMP", "run-$(date +%s)"), "Workflow ID - x-1\n").replay(tmp_path)
    assert "run-id-format" in entry.rules


def test_the_users_own_video_split_into_dataset_storage_and_video_is_not_demo_substitution(tmp_path: Path):
    entry = guarded().sh(SUBMIT, "Workflow ID - dock-cams-aug-1\n").replay(tmp_path)
    assert "no-demo-substitution" not in entry.rules
    elsewhere = guarded().sh(SUBMIT.replace("dataset=dock-cams", "dataset=street-clips"), "Workflow ID - x-1\n")
    assert "no-demo-substitution" in elsewhere.replay(tmp_path, "else.jsonl").rules


def _completed(summary: str) -> Convo:
    return (
        guarded().sh(SUBMIT, "Workflow ID - dock-cams-aug-1\n")
        .sh("osmo workflow query dock-cams-aug-1", "Workflow ID : dock-cams-aug-1\nStatus      : COMPLETED\n")
        .sh("bash scripts/stage_run_artifacts.sh --storage-url s3://acme --dataset dock-cams --run-id run-5d1e0c7a --video cam3_0915", STAGED)
        .sh("cat media/vda/runs/run-5d1e0c7a/setup_b0/configs/manifest.yaml", MANIFEST)
        .sh("bash scripts/render_side_by_side.sh --run-local-dir media/vda/runs/run-5d1e0c7a --dataset dock-cams --video cam3_0915", "")
        .say("MEDIA:/home/ada/vda-skill/media/vda/runs/run-5d1e0c7a/side_by_side.mp4")
        .say(summary)
    )


def test_sampled_values_from_the_manifest_said_in_ordinary_words_count_as_the_summary(tmp_path: Path):
    said = "cam3_0915_aug0 came out as weather=rain, time_of_day=dusk (from the manifest). Auto-labels on the augmented clip: 14 tracks, 3 events."
    entry = _completed(said).replay(tmp_path)
    assert entry.verdict == "pass", entry.violations
    assert entry.evidence.sampled_vars_summary is True


def test_a_sampled_summary_with_values_the_run_did_not_sample_is_not_the_summary(tmp_path: Path):
    wrong = "Sampled vars for cam3_0915_aug0: weather=snow, time_of_day=noon. Auto-labels on the augmented clip: 14 tracks."
    entry = _completed(wrong).replay(tmp_path)
    assert entry.rules == {"evidence-complete"} and entry.evidence.sampled_vars_summary is False


def test_submitting_after_the_canonical_guard_reported_a_missing_cache_is_cache_remediation(tmp_path: Path):
    skipped = Convo().user(USER).say(ETA).sh(PREFLIGHT, "").sh(GUARD, GUARD_CACHE, exit_code=1).sh(SUBMIT, "Workflow ID - x-1\n")
    assert {"cache-remediation", "guard-before-submit"} == skipped.replay(tmp_path).rules
    cache = "osmo workflow submit assets/configs/osmo/setup_model_cache.yaml --set-string storage_url=s3://acme path=data"
    fixed = (
        Convo().user(USER).say(ETA).sh(PREFLIGHT, "").sh(GUARD, GUARD_CACHE, exit_code=1)
        .sh(cache, "Workflow ID - setup-model-cache-1\n")
        .sh("osmo workflow query setup-model-cache-1", "Status : COMPLETED\n")
        .sh(GUARD, GUARD_OK).sh(SUBMIT, "Workflow ID - dock-cams-aug-1\n")
    )
    entry = fixed.replay(tmp_path, "fixed.jsonl")
    assert entry.verdict == "pass", entry.violations


@pytest.mark.parametrize(
    "command",
    [
        "hf download --repo-type dataset some-org/street-clips",
        "hf download --repo-type=dataset some-org/street-clips --local-dir /tmp/clips",
        "huggingface-cli download --repo-type dataset --local-dir /tmp/x some-org/street-clips",
    ],
)
def test_check_command_flags_a_stand_in_dataset_pulled_with_the_repo_type_first(command: str):
    decision = check_command(command, state=RunState())
    assert {v.rule for v in decision.violations} == {"vda-demo-only"}


def test_check_command_lets_the_vda_demo_through_with_options_first():
    assert check_command("hf download --repo-type dataset nvidia/video-data-augmentation-demo --local-dir /tmp/d", state=RunState()).allowed


# --- what the corpus showed (each was judged wrongly before) ---------------------------------------------------

CONTINUED = SUBMIT.replace(" --set-string ", " \\\n  --set-string \\\n  ").replace(" run_id=", " \\\n  run_id=")


def test_a_submit_continued_over_lines_resolves_its_stamp(tmp_path: Path):
    assert "\\\n" in CONTINUED
    entry = guarded().sh(CONTINUED, "Workflow ID - dock-cams-aug-1\n").replay(tmp_path)
    assert entry.verdict == "pass", entry.violations


def test_the_users_dataset_under_a_wrong_prefix_is_a_storage_error_not_a_substitution(tmp_path: Path):
    wrong = guarded().sh(SUBMIT.replace("storage_url=s3://acme ", "storage_url=s3://old-bucket/vda "), "Workflow ID - x-1\n")
    assert wrong.replay(tmp_path).rules == {"storage-url-derived"}


@pytest.mark.parametrize(
    ("command", "echoes"),
    [
        ("env | grep -o '^[A-Z_]*API_KEY'", False),
        ("printenv | grep -oE '^NGC[A-Z_]*'", False),
        ("env | grep -i api_key", True),
        ("env | grep -o 'API_KEY=.*'", True),
    ],
)
def test_listing_secret_names_with_grep_only_matching_is_not_an_echo(command: str, echoes: bool):
    rules = {v.rule for v in check_command(command).violations}
    assert ("no-secret-echo" in rules) is echoes


def test_a_prefix_rejection_split_by_a_semicolon_is_still_one_sentence(tmp_path: Path):
    said = "The 401 is because NGC_API_KEY starts with nvapi-; that key type isn't supported by nvcr.io."
    assert Convo().user(USER).say(ETA).say(said).replay(tmp_path).rules == {"no-key-prefix-rejection"}


@pytest.mark.parametrize("pause", ["Preflight and the guard passed. Ready to submit when you are.", "All checks are green; I'll kick it off whenever you're ready."])
def test_ready_when_you_are_in_other_words_is_an_approval_pause(tmp_path: Path, pause: str):
    assert guarded().say(pause).replay(tmp_path).rules == {"no-approval-pause"}


@pytest.mark.parametrize(
    ("stdout", "status"),
    [
        ("14:31:02 PENDING\n14:32:03 RUNNING\n15:02:10 COMPLETED\n", "COMPLETED"),
        ("Workflow ID : w-1\nStatus : RUNNING\nTask        Status\nsetup       COMPLETED\n", "RUNNING"),
        ('{"status": "FAILED", "tasks": [{"name": "setup", "status": "COMPLETED"}]}', "FAILED"),
        ("nothing here", None),
    ],
)
def test_the_query_status_is_the_latest_one_printed(stdout: str, status: str | None):
    from evals._shell import query_status

    assert query_status(stdout) == status


def test_a_completion_seen_in_a_polling_loop_needs_the_evidence(tmp_path: Path):
    loop = 'for i in $(seq 1 40); do s=$(osmo workflow query w-1 --format-type json | jq -r .status); echo "$s"; [ "$s" = COMPLETED ] && break; sleep 60; done'
    entry = guarded().sh(SUBMIT, "Workflow ID - w-1\n").sh(loop, "RUNNING\nRUNNING\nCOMPLETED\n").say("Done, outputs are in the bucket.").replay(tmp_path)
    assert entry.completed and entry.rules == {"evidence-complete"}


def test_upstream_run_script_calls_in_a_chat_list_are_shell_commands(tmp_path: Path):
    import json

    from evals.replay import replay

    def call(n: int, script: str) -> dict:
        return {"role": "assistant", "content": None, "tool_calls": [{"id": f"c{n}", "type": "function", "function": {"name": "run_script", "arguments": json.dumps({"script": script})}}]}

    messages = [
        {"role": "user", "content": USER},
        {"role": "assistant", "content": ETA},
        call(1, PREFLIGHT), {"role": "tool", "tool_call_id": "c1", "content": "Preflight OK."},
        call(2, GUARD), {"role": "tool", "tool_call_id": "c2", "content": GUARD_OK},
        call(3, SUBMIT.replace("dataset=dock-cams", "dataset=vda-demo")), {"role": "tool", "tool_call_id": "c3", "content": "Workflow ID - vda-demo-aug-1"},
    ]
    path = tmp_path / "chat.json"
    path.write_text(json.dumps(messages), encoding="utf-8")
    (entry,) = replay(path).transcripts
    assert entry.valid and entry.submitted and entry.rules == {"no-demo-substitution"}

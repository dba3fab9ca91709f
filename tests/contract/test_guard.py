"""The pre-submit guard renders the workflow itself and reports each outcome as data."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from skill.errors import BackendUnavailable
from skill.paths import TRUSTED_SKILLS_DIRS_ENV, skill_root, workflow_path
from skill.steps.guard import GuardRequest, canonical_pairs, exit_code, pre_submit_guard, report_lines
from tests.fakes.backend import FakeBackend

STORAGE = "s3://bkt/p"
DATASET_URL = f"{STORAGE}/datasets/vda-demo"
COSMOS = f"{STORAGE}/data/models/cosmos_transfer"
AL = f"{STORAGE}/data/models/auto_labeling"
RUN_ID = "run-1a2b3c4d"


def make_skills_dir(root: Path, cookbook: str = "city_traffic") -> Path:
    """A skill checkout holding every file the shipped workflows stage (contents do not matter,
    except the cookbook's container configs and pipeline config: those are this checkout's own)."""
    repo = Path(__file__).resolve().parents[2]
    for flow in ("augmentation_and_al", "auto_labeling"):
        text = workflow_path(flow).read_text(encoding="utf-8")
        for rel in re.findall(r'localpath: "\{\{skills_dir\}\}/([^"]+)"', text):
            target = root / rel.replace("{{cookbook}}", cookbook)
            target.parent.mkdir(parents=True, exist_ok=True)
            real = repo / rel.replace("{{cookbook}}", cookbook)
            kept = rel.endswith(("_config.yaml", "augmentation.yaml")) and real.is_file()
            target.write_text(real.read_text(encoding="utf-8") if kept else "x\n", encoding="utf-8")
    return root


@pytest.fixture
def skills(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the skill the operator allowed as skills_dir (an agent's argument alone cannot)."""
    root = make_skills_dir(tmp_path / "skill")
    monkeypatch.setenv(TRUSTED_SKILLS_DIRS_ENV, str(root))
    return root


def full_objects() -> dict[str, bytes]:
    return {
        f"{DATASET_URL}/clip.mp4": b"video",
        f"{DATASET_URL}/other.mp4": b"video",
        f"{COSMOS}/hub/models--nvidia--Cosmos-Transfer2.5-2B/x.pt": b"w",
        f"{AL}/rfdetr/rf-detr-base.pth": b"w",
    }


def request(skills: Path, **overrides) -> GuardRequest:
    values = dict(flow="augmentation_and_al", dataset="vda-demo", run_id=RUN_ID, storage_url=STORAGE, gpu_platform="gpu", video="clip", skills_dir=str(skills))
    values.update(overrides)
    return GuardRequest(**{k: v for k, v in values.items() if v is not None})


def check(result, name):
    return next(c for c in result.checks if c.name == name)


def test_ok_renders_with_canonical_values_and_lists_dataset_and_caches(skills: Path):
    fake = FakeBackend(objects=full_objects())
    result = pre_submit_guard(request(skills), backend=fake)
    assert result.status == "ok", [c for c in result.checks if c.status != "ok"]
    assert result.mode == ["auto-labeling", "augmentation"]
    assert result.values["cosmos_model_cache_url"] == COSMOS and result.values["auto_labeling_model_cache_url"] == AL
    assert result.values_hash and len(result.values_hash) == 64
    assert {c.name for c in result.checks} >= {"values", "workflow", "variables", "setup_task", "cookbook_files", "container_configs", "staged_files",
                                              "video_basename", "dataset_input", "video_in_dataset", "cache_wiring",
                                              "cache:cosmos_model_cache_url", "cache:auto_labeling_model_cache_url"}
    assert fake.calls.count("data_list") == 3
    assert report_lines(result) == ["OK: pre-submit guard passed (mode-aware checks: auto-labeling, augmentation)."]
    assert exit_code(result) == 0


def test_label_only_flow_does_not_need_the_cosmos_cache(skills: Path):
    objects = {k: v for k, v in full_objects().items() if not k.startswith(COSMOS)}
    result = pre_submit_guard(request(skills, flow="auto_labeling"), backend=FakeBackend(objects=objects))
    assert result.status == "ok", result.summary
    assert result.mode == ["auto-labeling"]
    assert not any(c.name == "cache:cosmos_model_cache_url" for c in result.checks)


def test_a_fresh_run_id_is_chosen_and_returned(skills: Path):
    result = pre_submit_guard(request(skills, run_id=None), backend=FakeBackend(objects=full_objects()))
    assert re.fullmatch(r"run-[0-9a-f]{8}", result.run_id)
    assert result.values["run_id"] == result.run_id


def test_undefined_variable_is_named(skills: Path):
    result = pre_submit_guard(request(skills, gpu_platform=None), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    variables = check(result, "variables")
    assert variables.status == "fail" and variables.data["variable"] == "gpu_platform"
    assert "gpu_platform" in variables.detail
    assert variables.data["missing_required"] == ["gpu_platform"]
    assert result.values_hash is None
    assert exit_code(result) == 1


@pytest.mark.parametrize(
    ("rel", "old", "new", "path"),
    [
        ("auto_labeling/auto_labeling_config.yaml", "  res_h: 720", "  height: 720", "super_resolution.height"),
        ("augmentation/augmentation.yaml", "    params:", "    parameters:", "evaluators[0].hallucination_check.parameters"),
    ],
)
def test_a_cookbook_config_the_container_would_reject_fails_the_guard(skills: Path, rel: str, old: str, new: str, path: str):
    config = skills / "assets/cookbooks/city_traffic" / rel
    text = config.read_text(encoding="utf-8")
    assert old in text
    config.write_text(text.replace(old, new, 1), encoding="utf-8")
    result = pre_submit_guard(request(skills), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    found = check(result, "container_configs")
    assert found.status == "fail" and path in found.detail and found.data["code"] == "container-config-rejected"
    assert exit_code(result) == 1


def test_missing_cookbook_file_fails(skills: Path):
    (skills / "assets/cookbooks/city_traffic/auto_labeling/question_bank.json").unlink()
    result = pre_submit_guard(request(skills), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    cookbook = check(result, "cookbook_files")
    assert cookbook.status == "fail"
    assert any(p.endswith("auto_labeling/question_bank.json") for p in cookbook.data["missing"])
    assert check(result, "staged_files").status == "ok"  # cookbook files are reported once, by their own check


def test_unshipped_cookbook_scene_fails(skills: Path):
    result = pre_submit_guard(request(skills, cookbook="warehouse"), backend=FakeBackend(objects=full_objects()))
    assert check(result, "cookbook_files").status == "fail"
    assert len(check(result, "cookbook_files").data["missing"]) == 6


def test_video_with_a_path_fails_with_the_basename_suggested(skills: Path):
    result = pre_submit_guard(request(skills, video="clips/clip.mp4"), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    video = check(result, "video_basename")
    assert video.status == "fail" and video.data["rule"] == "video-basename" and video.data["suggested"] == "clip"
    assert "cosmos_worker_0.VIDEO_NAME" in video.detail
    assert not any(c.name == "video_in_dataset" for c in result.checks)
    assert any(line.startswith("ERROR: video must be a file stem") for line in report_lines(result))


def test_video_with_an_extension_fails(skills: Path):
    result = pre_submit_guard(request(skills, video="clip.mp4"), backend=FakeBackend(objects=full_objects()))
    assert check(result, "video_basename").status == "fail"


def test_empty_dataset_fails_with_upload_remedy(skills: Path):
    objects = {k: v for k, v in full_objects().items() if not k.startswith(DATASET_URL)}
    result = pre_submit_guard(request(skills), backend=FakeBackend(objects=objects))
    assert result.status == "failed"
    dataset = check(result, "dataset_input")
    assert dataset.status == "fail" and "no objects" in dataset.detail
    assert "upload" in dataset.data["remedy"].lower()


def test_unlistable_dataset_fails_without_a_traceback(skills: Path):
    fake = FakeBackend(objects=full_objects())
    fake.fail_next("data_list", BackendUnavailable("osmo is not logged in.", remedy="osmo login"))
    result = pre_submit_guard(request(skills), backend=fake)
    assert check(result, "dataset_input").status == "fail"
    assert "not logged in" in check(result, "dataset_input").detail


def test_video_missing_from_dataset_fails(skills: Path):
    result = pre_submit_guard(request(skills, video="absent"), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    assert check(result, "video_in_dataset").data["available"] == ["clip", "other"]


def test_missing_cache_gives_remediation_as_data(skills: Path):
    objects = {k: v for k, v in full_objects().items() if not k.startswith(COSMOS)}
    result = pre_submit_guard(request(skills), backend=FakeBackend(objects=objects))
    assert result.status == "cache_missing"
    assert result.remediation["workflow"] == "setup_model_cache"
    assert result.remediation["set_string"] == {"storage_url": STORAGE, "path": "data"}
    assert result.remediation["then"] == "rerun pre_submit_guard"
    assert check(result, "cache:cosmos_model_cache_url").status == "fail"
    assert check(result, "cache:auto_labeling_model_cache_url").status == "ok"
    lines = report_lines(result)
    assert "ERROR: pre-submit guard failed. Model cache URL validation failed." in lines
    assert any(line.startswith("DEFAULT_ACTION: Run setup_model_cache.yaml") for line in lines)
    assert f"storage_url={STORAGE} path=data" in next(line for line in lines if line.startswith("Hint:"))
    assert exit_code(result) == 1
    assert result.values_hash is not None  # after the cache is set up the same values are guarded again


def test_custom_cache_prefix_is_remediated_at_its_own_root(skills: Path):
    custom = "gs://caches/shared/models/auto_labeling"
    objects = {k: v for k, v in full_objects().items() if not k.startswith(AL)}
    result = pre_submit_guard(request(skills, auto_labeling_model_cache_url=custom), backend=FakeBackend(objects=objects))
    assert result.status == "cache_missing"
    assert result.remediation["set_string"] == {"storage_url": "gs://caches", "path": "shared"}


def test_a_value_holding_jinja_is_refused_before_submit(skills: Path):
    # OSMO renders the submitted text a second time and would evaluate it: the guard refuses it
    literal = "{{storage_url}}/data/models/cosmos_transfer"
    fake = FakeBackend(objects=full_objects())
    result = pre_submit_guard(request(skills, cosmos_model_cache_url=literal), backend=fake)
    assert result.status == "failed"
    variables = check(result, "variables")
    assert variables.status == "fail" and variables.data["code"] == "invalid-value"
    assert "cosmos_model_cache_url" in variables.detail and "second" in variables.detail


def test_unknown_workflow_is_a_structural_failure(skills: Path):
    result = pre_submit_guard(request(skills, flow=str(skills / "absent.yaml")), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed" and check(result, "workflow").status == "fail"
    assert exit_code(result) == 2


def test_workflow_without_setup_task_is_structural(skills: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(TRUSTED_SKILLS_DIRS_ENV, f"{skills}{os.pathsep}{tmp_path}")  # the operator allows this folder's YAML
    yaml_file = tmp_path / "nosetup.yaml"
    yaml_file.write_text(
        'workflow:\n  name: "{{dataset}}"\n  tasks:\n  - name: work\n    image: ubuntu\n    command: [bash]\n',
        encoding="utf-8",
    )
    result = pre_submit_guard(request(skills, flow=str(yaml_file)), backend=FakeBackend(objects=full_objects()))
    assert check(result, "setup_task").status == "fail"
    assert exit_code(result) == 2


def test_malformed_storage_url_is_reported_without_echoing_it(skills: Path):
    secretish = "s3://user:hunter2secret@bkt/p"
    result = pre_submit_guard(request(skills, storage_url=secretish), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    assert check(result, "values").status == "fail"
    assert "hunter2secret" not in json.dumps([c.model_dump() for c in result.checks])


def test_guard_hash_equals_the_canonical_pairs_hash(skills: Path):
    from skill.ledger import values_hash

    result = pre_submit_guard(request(skills), backend=FakeBackend(objects=full_objects()))
    pairs = canonical_pairs({"dataset": "vda-demo", "run_id": RUN_ID, "storage_url": STORAGE, "gpu_platform": "gpu", "video": "clip", "skills_dir": str(skills)})
    assert result.values_hash == values_hash(pairs)
    assert list(pairs)[:5] == ["dataset", "run_id", "storage_url", "gpu_platform", "video"]


def test_canonical_pairs_default_skills_dir_and_caches():
    pairs = canonical_pairs({"dataset": "d", "storage_url": "azure://acct/cont/"})
    assert pairs["skills_dir"] == str(skill_root())
    assert pairs["cosmos_model_cache_url"] == "azure://acct/cont/data/models/cosmos_transfer"
    assert pairs["auto_labeling_model_cache_url"] == "azure://acct/cont/data/models/auto_labeling"


def test_request_rejects_unknown_fields():
    with pytest.raises(ValueError):
        GuardRequest(flow="e2e", set_values="x")


def _script(args: list[str], env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run([sys.executable, str(skill_root() / "scripts" / "pre_submit_guard.py"), *args],
                          capture_output=True, text=True, env=env, timeout=60)


def test_script_usage_error_exits_2():
    done = _script([])
    assert done.returncode == 2 and "--workflow" in done.stderr


def test_script_end_to_end_on_local_storage(tmp_path: Path, skills: Path):
    """The script renders, lists local storage through the local backend, and prints upstream's lines."""
    storage = tmp_path / "storage"
    (storage / "datasets" / "ds").mkdir(parents=True)
    (storage / "datasets" / "ds" / "clip.mp4").write_bytes(b"video")
    (storage / "data" / "models" / "auto_labeling").mkdir(parents=True)
    (storage / "data" / "models" / "auto_labeling" / "w.pth").write_bytes(b"w")
    env = {"VDA_HOME": str(tmp_path / "home"), "VDA_LOCAL_STORAGE_ROOTS": str(tmp_path)}  # the operator allows this folder
    base = ["--workflow", "augmentation_and_al", "--backend", "local", "--set-string", "dataset=ds", f"run_id={RUN_ID}",
            f"storage_url={storage}", "gpu_platform=cpu", "video=clip", f"skills_dir={skills}"]
    done = _script(base, env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "DEFAULT_ACTION: Run setup_model_cache.yaml" in done.stdout
    (storage / "data" / "models" / "cosmos_transfer").mkdir(parents=True)
    (storage / "data" / "models" / "cosmos_transfer" / "w.pt").write_bytes(b"w")
    done = _script(base, env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.strip() == "OK: pre-submit guard passed (mode-aware checks: auto-labeling, augmentation)."
    done = _script(["--workflow", str(tmp_path / "missing.yaml"), "--backend", "local"], env)
    assert done.returncode == 2


def test_a_staged_file_that_gains_jinja_syntax_fails_the_guard_naming_it(skills: Path):
    # OSMO inlines every localpath and renders the whole text again: bash ${#a[@]} opens a Jinja comment
    (skills / "scripts" / "endpoint_common.sh").write_text('x\necho "${#a[@]}"\n', encoding="utf-8")
    fake = FakeBackend(objects=full_objects())
    result = pre_submit_guard(request(skills), backend=fake)
    assert result.status == "failed" and exit_code(result) != 0
    workflow = check(result, "workflow")
    assert workflow.status == "fail"
    assert "scripts/endpoint_common.sh" in workflow.detail and "line 2" in workflow.detail
    assert "second render" in workflow.detail and "TemplateSyntaxError" in workflow.detail
    assert fake.calls.count("submit") == 0


def test_conditions_the_staged_cookbook_has_pass_and_are_named(skills: Path):
    result = pre_submit_guard(request(skills, conditions="weather:rain|fog,time_of_day:night", seed="4711"), backend=FakeBackend(objects=full_objects()))
    assert result.status == "ok", [c for c in result.checks if c.status != "ok"]
    assert "weather=rain|fog, time_of_day=night" in check(result, "conditions").detail
    assert result.values["conditions"] == "weather:rain|fog,time_of_day:night" and result.values["seed"] == "4711"


@pytest.mark.parametrize(("conditions", "said"), [("lighting:dim", "no variable 'lighting'"), ("weather:hail", "no option 'hail'")])
def test_a_look_the_staged_cookbook_lacks_fails_the_guard_listing_what_it_has(skills: Path, conditions: str, said: str):
    result = pre_submit_guard(request(skills, conditions=conditions), backend=FakeBackend(objects=full_objects()))
    assert result.status == "failed"
    failed = check(result, "conditions")
    assert failed.status == "fail" and said in failed.detail and "clear" in failed.detail
    assert failed.data["code"] == "unknown-condition"


def test_conditions_on_a_flow_that_does_not_augment_fail(skills: Path):
    objects = {k: v for k, v in full_objects().items() if not k.startswith(COSMOS)}
    result = pre_submit_guard(request(skills, flow="auto_labeling", conditions="weather:rain"), backend=FakeBackend(objects=objects))
    assert check(result, "conditions").status == "fail" and result.status == "failed"


def test_a_malformed_conditions_value_is_refused_by_the_request_model():
    with pytest.raises(ValueError):
        GuardRequest(flow="e2e", conditions="weather=rain; touch /tmp/x")


@pytest.mark.parametrize(("slot", "value"), [("label_engine", "classic"), ("augment_engine", "classic")])
def test_a_classic_engine_fails_the_guard_on_the_cluster(skills: Path, slot: str, value: str):
    result = pre_submit_guard(request(skills, **{slot: value}), backend=FakeBackend(objects=full_objects()))
    engines = check(result, "engines")
    assert result.status == "failed" and engines.status == "fail" and engines.data["code"] == "engine-not-on-backend"


def test_the_cluster_engines_and_a_chosen_model_pass_the_cluster_guard(skills: Path):
    result = pre_submit_guard(request(skills, label_engine="nim", augment_engine="cosmos", vlm_model="Qwen/Qwen3-VL-8B-Instruct"),
                              backend=FakeBackend(objects=full_objects()))
    assert result.status == "ok", [c for c in result.checks if c.status != "ok"]
    assert check(result, "engines").status == "ok"
    assert result.values["vlm_model"] == "Qwen/Qwen3-VL-8B-Instruct" and result.values["label_engine"] == "nim"


def test_every_clip_a_batch_names_must_be_in_the_dataset(skills: Path):
    fake = FakeBackend(objects=full_objects())
    assert check(pre_submit_guard(request(skills, clips="clip,other"), backend=fake), "video_in_dataset").status == "ok"
    result = pre_submit_guard(request(skills, clips="clip,absent1"), backend=fake)
    failed = check(result, "video_in_dataset")
    assert result.status == "failed" and failed.status == "fail" and "absent1.mp4" in failed.detail
    assert result.values["clips"] == "clip,absent1"

"""The shipped assets are consistent: workflows render and have the right graphs, cookbooks hold
valid weights, question banks and knob paths, references parse, and the cache scripts behave."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skill.errors import InputError, UndefinedVariable
from skill.paths import cookbooks_dir, references_dir, skill_root, workflow_path
from skill.render import RenderedSpec, render_workflow

ROOT = skill_root()
FLOWS = ("auto_labeling", "augmentation_and_al", "augmentation_and_pl", "e2e", "e2e_super_resolution")
WORKFLOWS = (*FLOWS, "setup_model_cache")
SCENES = ("city_traffic", "piazza", "warehouse", "robot_assembly", "trailer_dashcam")
COOKBOOK_FILES = (
    "README.md",
    "workflow_config.yaml",
    "augmentation/augmentation.yaml",
    "augmentation/prompts/template_generation_system_prompt.md",
    "augmentation/prompts/prompt_polishing_system_prompt.md",
    "auto_labeling/auto_labeling_config.yaml",
    "auto_labeling/prompts/event_analysis.md",
    "auto_labeling/question_bank.json",
)

BASE = {
    "dataset": "vda-demo",
    "run_id": "run-1a2b3c4d",
    "storage_url": "s3://bucket/prefix",
    "gpu_platform": "gpu",
    "video": "clip",
    "skills_dir": str(ROOT),
    "auto_labeling_model_cache_url": "s3://bucket/prefix/data/models/auto_labeling",
}
COSMOS = {"cosmos_model_cache_url": "s3://bucket/prefix/data/models/cosmos_transfer"}


def values_for(name: str, **extra: str) -> dict[str, str]:
    if name == "setup_model_cache":
        return {"storage_url": BASE["storage_url"], **extra}
    if name == "auto_labeling":
        return {**BASE, **extra}
    return {**BASE, **COSMOS, **extra}


def render(name: str, **extra: str) -> RenderedSpec:
    return render_workflow(workflow_path(name), set_string=values_for(name, **extra))


def group_deps(spec: RenderedSpec) -> dict[str, set[str]]:
    """group -> the groups it takes task input from (OSMO's dependency, at group granularity)."""
    return {
        group.name: {spec.group_of(i.task).name for t in group.tasks for i in t.inputs if i.task}
        for group in spec.groups
    }


# --- workflows: rendering -------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "3"])
@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_workflow_renders_with_full_values(name, workers):
    extra = {} if name == "setup_model_cache" else {"workers": workers}
    spec = render(name, **extra)
    assert spec.template == name
    if name == "setup_model_cache":
        assert spec.name == "setup_model_cache"
        return
    assert spec.name == "vda-demo"
    worker_groups = [g for g in spec.groups if g.name != "setup_group"]
    for group in worker_groups:
        assert len(group.tasks) == int(workers)
        assert [t.lead for t in group.tasks] == [True] + [False] * (int(workers) - 1)
        for w, task in enumerate(group.tasks):
            assert task.name.endswith(f"_{w}")
            assert task.environment["WORKER_ID"] == str(w)
            assert task.environment["NUM_WORKERS"] == workers


REQUIRED = {
    "setup_model_cache": ["storage_url"],
    "auto_labeling": ["dataset", "run_id", "storage_url", "gpu_platform", "video", "skills_dir", "auto_labeling_model_cache_url"],
}
for _flow in ("augmentation_and_al", "augmentation_and_pl", "e2e", "e2e_super_resolution"):
    REQUIRED[_flow] = [*REQUIRED["auto_labeling"], "cosmos_model_cache_url"]


@pytest.mark.parametrize(("name", "variable"), [(n, v) for n, vs in REQUIRED.items() for v in vs])
def test_a_missing_required_variable_is_named(name, variable):
    values = values_for(name)
    del values[variable]
    if variable.endswith("_model_cache_url"):
        # its default is "{{storage_url}}/data/models/...": OSMO's second render of the whole
        # submitted text resolves it from storage_url (skill.render reproduces both renders)
        spec = render_workflow(workflow_path(name), set_string=values)
        urls = [i.url for t in spec.tasks for i in t.inputs if i.url]
        assert any(u.startswith(values["storage_url"] + "/data/models/") for u in urls)
        return
    with pytest.raises(InputError) as err:
        render_workflow(workflow_path(name), set_string=values)
    assert isinstance(err.value, UndefinedVariable) and err.value.variable == variable
    assert variable in err.value.message


def test_auto_labeling_needs_no_cosmos_cache():
    spec = render("auto_labeling")
    assert "cosmos_worker" not in spec.resources
    assert not any("cosmos" in (i.url or "") for t in spec.tasks for i in t.inputs)
    assert "cosmos_model_cache_url" not in workflow_path("auto_labeling").read_text(encoding="utf-8")
    assert "generate_configs.py" not in {f.path.rsplit("/", 1)[1] for f in spec.task("setup").files}


def test_the_legacy_alias_is_byte_identical():
    assert workflow_path("augmentation_and_pl").read_bytes() == workflow_path("augmentation_and_al").read_bytes()


# --- workflows: graph and shape -------------------------------------------------------------


EXPECTED_GROUPS = {
    "auto_labeling": ["setup_group", "auto_labeling_group"],
    "augmentation_and_al": ["setup_group", "augmentation_group", "auto_labeling_augmented_group"],
    "augmentation_and_pl": ["setup_group", "augmentation_group", "auto_labeling_augmented_group"],
    "e2e": ["setup_group", "auto_labeling_original_group", "augmentation_group", "auto_labeling_augmented_group"],
    "e2e_super_resolution": ["setup_group", "auto_labeling_original_group", "augmentation_group", "auto_labeling_augmented_group"],
}


@pytest.mark.parametrize("name", FLOWS)
def test_group_names_follow_upstream(name):
    assert [g.name for g in render(name).groups] == EXPECTED_GROUPS[name]


@pytest.mark.parametrize("workers", ["1", "3"])
def test_e2e_branches_are_really_parallel(workers):
    spec = render("e2e", workers=workers)
    deps = group_deps(spec)
    assert deps["auto_labeling_original_group"] == {"setup_group"}
    assert deps["augmentation_group"] == {"setup_group"}
    assert deps["auto_labeling_augmented_group"] == {"setup_group", "augmentation_group"}
    last = int(workers) - 1
    assert [i.task for i in spec.task(f"pl_augmented_worker_{last}").inputs if i.task] == ["setup", f"cosmos_worker_{last}"]


@pytest.mark.parametrize("workers", ["1", "3"])
def test_e2e_super_resolution_is_gated_on_the_original_labels(workers):
    spec = render("e2e_super_resolution", workers=workers)
    deps = group_deps(spec)
    assert deps["auto_labeling_original_group"] == {"setup_group"}
    assert deps["augmentation_group"] == {"setup_group", "auto_labeling_original_group"}
    assert deps["auto_labeling_augmented_group"] == {"setup_group", "augmentation_group"}
    for w in range(int(workers)):
        cosmos = spec.task(f"cosmos_worker_{w}")
        inputs = cosmos.inputs
        assert inputs[0].task == "setup"
        assert inputs[1].url == "s3://bucket/prefix/datasets/vda-demo"  # still the ORIGINAL videos
        assert inputs[2].task == "pl_original_worker_0"
        assert inputs[3].url == COSMOS["cosmos_model_cache_url"]
        assert cosmos.environment["HF_HUB_CACHE"] == "{{input:3}}"
        assert cosmos.environment["VIDEO_INPUT"] == "{{input:1}}"
    assert spec.task("setup").environment["SUPER_RESOLUTION_ENABLED"] == "true"
    assert spec.task("pl_original_worker_0").environment["SUPER_RESOLUTION_ENABLED"] == "true"
    assert spec.task("pl_augmented_worker_0").environment["SUPER_RESOLUTION_ENABLED"] == "false"


def test_e2e_and_e2e_super_resolution_differ_only_in_the_gate_and_sr():
    plain, gated = render("e2e"), render("e2e_super_resolution")
    assert [t.name for t in plain.tasks] == [t.name for t in gated.tasks]
    assert plain.task("cosmos_worker_0").environment["HF_HUB_CACHE"] == "{{input:2}}"
    assert plain.task("setup").environment["SUPER_RESOLUTION_ENABLED"] == "false"
    assert len(gated.task("cosmos_worker_0").inputs) == len(plain.task("cosmos_worker_0").inputs) + 1


@pytest.mark.parametrize("name", ["auto_labeling", "e2e", "e2e_super_resolution"])
def test_auto_labeling_group_is_apart_from_setup(name):
    spec = render(name)
    assert spec.group_of("setup").tasks == [spec.task("setup")]


OUTPUT_FOLDER = {
    "pl_original_worker": "outputs/pseudo_labeled",
    "cosmos_worker": "outputs/augmented",
    "pl_augmented_worker": "outputs/pseudo_labeled_augmented",
}


@pytest.mark.parametrize("name", FLOWS)
def test_workers_read_the_dataset_and_write_to_the_parent_folder(name):
    spec = render(name, workers="2")
    prefix = "s3://bucket/prefix/datasets/vda-demo-outputs/run-1a2b3c4d/"
    for task in spec.tasks:
        kind = task.name.rsplit("_", 1)[0]
        if task.name == "setup":
            assert task.args == ["/tmp/vda/setup_task.sh"]
            assert task.environment["FLOW"] == ("augmentation_and_al" if name == "augmentation_and_pl" else name)
            assert [o.url for o in task.outputs] == [prefix + "setup_b0"]
            continue
        assert [o.url for o in task.outputs] == [prefix + OUTPUT_FOLDER[kind]]
        assert task.args == [f"{{{{input:0}}}}/{kind}.sh"]
        assert task.inputs[0].task == "setup"
        if kind in ("pl_original_worker", "cosmos_worker"):
            assert task.inputs[1].url == "s3://bucket/prefix/datasets/vda-demo"  # the dataset, not one video


@pytest.mark.parametrize("name", FLOWS)
def test_required_cache_urls_are_inputs_of_the_right_workers(name):
    spec = render(name)
    for task in spec.tasks:
        urls = [i.url for i in task.inputs if i.url]
        if task.name.startswith("pl_"):
            assert urls[-1] == BASE["auto_labeling_model_cache_url"]
            assert task.environment["MODEL_CACHE_PATH"] == f"{{{{input:{len(task.inputs) - 1}}}}}"
        if task.name.startswith("cosmos_"):
            assert urls[-1] == COSMOS["cosmos_model_cache_url"]


AUG_SUFFIXES = (
    "augmentation/augmentation.yaml",
    "augmentation/prompts/prompt_polishing_system_prompt.md",
    "augmentation/prompts/template_generation_system_prompt.md",
)
AL_SUFFIXES = (
    "auto_labeling/auto_labeling_config.yaml",
    "auto_labeling/prompts/event_analysis.md",
    "auto_labeling/question_bank.json",
)


@pytest.mark.parametrize("scene", SCENES)
@pytest.mark.parametrize("name", FLOWS)
def test_staged_skill_files_exist(name, scene):
    spec = render(name, cookbook=scene)
    setup = spec.task("setup")
    localpaths = [f.localpath for t in spec.tasks for f in t.files if f.localpath]
    assert localpaths and all(p.startswith(str(ROOT) + "/") for p in localpaths)
    missing_assets, missing_elsewhere = [], []
    for path in localpaths:
        rel = Path(path).relative_to(ROOT).as_posix()
        if not Path(path).is_file():
            (missing_assets if rel.startswith("assets/") else missing_elsewhere).append(rel)
    # scripts/*.sh and skill/engines/*.py belong to other modules; only assets/ are ours to assert
    assert missing_assets == []
    staged = {f.localpath.split(f"/assets/cookbooks/{scene}/", 1)[1] for f in setup.files if f.localpath and "/cookbooks/" in f.localpath}
    assert staged == set(COOKBOOK_FILES)  # all eight, in every flow
    sdg_paths = {f.path for f in setup.files}
    assert all(f"/tmp/vda/sdg/{rel}" in sdg_paths for rel in COOKBOOK_FILES)
    assert all(any(p.endswith(s) for p in localpaths) for s in AL_SUFFIXES)
    if name != "auto_labeling":
        assert all(any(p.endswith(s) for p in localpaths) for s in AUG_SUFFIXES)
    worker_scripts = {f.path.rsplit("/", 1)[1] for f in setup.files if f.path.endswith("_worker.sh")}
    assert worker_scripts == {t.args[0].rsplit("/", 1)[1] for t in spec.tasks if t.name != "setup"}


def test_setup_model_cache_shape():
    spec = render("setup_model_cache")
    assert spec.flat_tasks
    assert [t.name for t in spec.tasks] == ["download_cosmos_cache", "download_auto_labeling_cache"]
    assert spec.resources == {"default": {"cpu": 4, "memory": "16Gi", "storage": "200Gi"}}
    for task in spec.tasks:
        assert task.image == "nvcr.io/nvidia/base/ubuntu:22.04_20240212"
        assert task.credentials == {"nvcr_io": {"NGC_CLI_API_KEY": "auth"}, "hf_token": {"HF_TOKEN": "token"}}
        assert [o.url for o in task.outputs] == ["s3://bucket/prefix/data"]
        assert task.environment["OUTPUT_DIR"] == "{{output}}"
    text = workflow_path("setup_model_cache").read_text(encoding="utf-8")
    defaults = yaml.safe_load(text[text.index("default-values:"):])["default-values"]
    assert defaults == {"path": "data"}


def test_cache_revisions_are_full_commit_ids():
    script = cache_script("download_cosmos_cache")
    revisions = re.findall(r'"([0-9a-f]{8,})"\)', script)
    assert len(revisions) == 12  # 7 pinned files + 5 snapshots
    assert all(re.fullmatch(r"[0-9a-f]{40}", r) for r in revisions)
    for repo in ("nvidia/Cosmos-Reason1-7B", "nvidia/Cosmos-Guardrail1", "Qwen/Qwen3Guard-Gen-0.6B",
                 "google/siglip-so400m-patch14-384", "google/siglip2-so400m-patch16-naflex"):
        assert f'"{repo}"' in script


# --- the cache scripts, run for real (network replaced at the edge) ------------------------


def cache_script(task: str) -> str:
    spec = render("setup_model_cache")
    (file,) = spec.task(task).files
    return file.contents or ""


def run_script(tmp_path: Path, task: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    script = tmp_path / f"{task}.sh"
    script.write_text(cache_script(task), encoding="utf-8")
    base = {k: v for k, v in os.environ.items() if not k.startswith(("VDA_", "HF_", "HUGGING"))}
    return subprocess.run(["bash", str(script)], env={**base, **env}, capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize(("task", "folder"), [("download_cosmos_cache", "cosmos_transfer"), ("download_auto_labeling_cache", "auto_labeling")])
def test_cache_tasks_on_the_local_backend_write_a_note_and_download_nothing(tmp_path, task, folder):
    out = tmp_path / "out"
    result = run_script(tmp_path, task, {"OUTPUT_DIR": str(out), "VDA_BACKEND": "local", "PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [f"models/{folder}/LOCAL_BACKEND.md"]


FAKE_CURL = """#!/usr/bin/env bash
# records argv and the header file, writes a body chosen by the URL
out=""; url=""; header=""
while [ $# -gt 0 ]; do
  case "$1" in
    -o) out="$2"; shift ;;
    -H) header="$2"; shift ;;
    -*) ;;
    *) url="$1" ;;
  esac
  shift
done
printf '%s\\n' "$url" >> "$CURL_LOG"
if [ -n "$header" ]; then cat "${header#@}" >> "$CURL_HEADERS"; fi
case "$url" in
  *"$CURL_FAIL_ON"*) exit 22 ;;
  *"$CURL_HTML_ON"*) printf '<!DOCTYPE html><html>quota exceeded</html>' > "$out" ;;
  *) printf 'weights from %s' "$url" > "$out" ;;
esac
"""


@pytest.fixture
def fake_curl(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    curl = bin_dir / "curl"
    curl.write_text(FAKE_CURL, encoding="utf-8")
    curl.chmod(curl.stat().st_mode | stat.S_IEXEC)
    log, headers = tmp_path / "curl.log", tmp_path / "headers.log"
    env = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "CURL_LOG": str(log),
        "CURL_HEADERS": str(headers),
        "CURL_FAIL_ON": "no-such-url",
        "CURL_HTML_ON": "no-such-url",
        "OUTPUT_DIR": str(tmp_path / "out"),
    }
    return env, log, headers


def test_auto_labeling_cache_downloads_renames_and_keeps_the_token_off_argv(tmp_path, fake_curl):
    env, log, headers = fake_curl
    token = "hf_secret_token_value_123"
    result = run_script(tmp_path, "download_auto_labeling_cache", {**env, "SEEDVR_VARIANT": "7b", "HF_TOKEN": token})
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out/models/auto_labeling"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["reid/clip_vehicleid.pt", "rfdetr/rf-detr-base.pth", "seedvr2/ema_vae.pth", "seedvr2/seedvr2_ema_7b.pth"]
    assert (out / "rfdetr/rf-detr-base.pth").read_text() == "weights from https://storage.googleapis.com/rfdetr/rf-detr-base-coco.pth"
    assert "https://huggingface.co/ByteDance-Seed/SeedVR2-7B/resolve/main/seedvr2_ema_7b.pth" in log.read_text()
    assert headers.read_text().count(f"Authorization: Bearer {token}") == 2  # the two SeedVR2 files
    assert token not in result.stdout + result.stderr

    # a second run finds everything present and downloads nothing
    log.write_text("")
    again = run_script(tmp_path, "download_auto_labeling_cache", {**env, "SEEDVR_VARIANT": "7b"})
    assert again.returncode == 0 and log.read_text() == ""
    assert again.stdout.count("present, skipped") == 4


@pytest.mark.parametrize(("variant", "expected"), [("none", []), ("3b", ["ema_vae.pth", "seedvr2_ema_3b.pth"]), ("7b_sharp", ["ema_vae.pth", "seedvr2_ema_7b_sharp.pth"])])
def test_seedvr_variant_selects_the_weights(tmp_path, fake_curl, variant, expected):
    env, _, _ = fake_curl
    result = run_script(tmp_path, "download_auto_labeling_cache", {**env, "SEEDVR_VARIANT": variant})
    assert result.returncode == 0, result.stderr
    seedvr = tmp_path / "out/models/auto_labeling/seedvr2"
    assert sorted(p.name for p in seedvr.glob("*")) == expected


def test_unknown_seedvr_variant_stops_before_downloading(tmp_path, fake_curl):
    env, log, _ = fake_curl
    result = run_script(tmp_path, "download_auto_labeling_cache", {**env, "SEEDVR_VARIANT": "9b"})
    assert result.returncode == 2 and "SEEDVR_VARIANT" in result.stderr
    assert not log.exists()


@pytest.mark.parametrize("mode", ["CURL_FAIL_ON", "CURL_HTML_ON"])
def test_a_failed_or_html_download_leaves_no_file_behind(tmp_path, fake_curl, mode):
    env, _, _ = fake_curl
    result = run_script(tmp_path, "download_auto_labeling_cache", {**env, "SEEDVR_VARIANT": "none", mode: "drive.usercontent"})
    assert result.returncode == 1
    assert "reid/clip_vehicleid.pt" in result.stderr
    reid = tmp_path / "out/models/auto_labeling/reid"
    assert list(reid.glob("*")) == []


FAKE_HF = '''
"""Stands in for huggingface_hub at the network edge: lays out an HF cache with symlinks."""
import hashlib, json, os
from pathlib import Path

from .errors import HfHubHTTPError


def _record(kind, repo, revision, filename=None):
    deny = os.environ.get("FAKE_HF_DENY")
    if deny and deny == repo:
        raise HfHubHTTPError("denied", status=403)
    with open(os.environ["FAKE_HF_LOG"], "a") as log:
        log.write(json.dumps([kind, repo, revision, filename]) + "\\n")


def _place(repo, revision, filename):
    hub = Path(os.environ["HF_HOME"]) / "hub" / ("models--" + repo.replace("/", "--"))
    blob = hub / "blobs" / hashlib.sha256((repo + filename).encode()).hexdigest()
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_text("payload of " + filename)
    link = hub / "snapshots" / revision / filename
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.relpath(blob, link.parent))
    return str(link)


def hf_hub_download(repo_id, filename, revision):
    _record("file", repo_id, revision, filename)
    return _place(repo_id, revision, filename)


def snapshot_download(repo_id, revision):
    _record("snapshot", repo_id, revision)
    _place(repo_id, revision, "config.json")
    return _place(repo_id, revision, "model.safetensors")
'''

FAKE_HF_ERRORS = '''
class _Response:
    def __init__(self, status):
        self.status_code = status


class HfHubHTTPError(Exception):
    def __init__(self, message, status):
        super().__init__(message)
        self.response = _Response(status)
'''


@pytest.fixture
def fake_hf(tmp_path):
    pkg = tmp_path / "pylib" / "huggingface_hub"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text(textwrap.dedent(FAKE_HF), encoding="utf-8")
    (pkg / "errors.py").write_text(textwrap.dedent(FAKE_HF_ERRORS), encoding="utf-8")
    log = tmp_path / "hf.log"
    env = {
        "PATH": "/usr/bin:/bin",
        "OUTPUT_DIR": str(tmp_path / "out"),
        "VDA_BACKEND": "local",
        "VDA_CACHE_DOWNLOAD": "1",
        "VDA_PYTHON": sys.executable,
        "PYTHONPATH": str(tmp_path / "pylib"),
        "FAKE_HF_LOG": str(log),
        "HF_TOKEN": "hf_secret_token_value_456",
    }
    return env, log


def test_cosmos_cache_downloads_every_pin_and_replaces_symlinks(tmp_path, fake_hf):
    env, log = fake_hf
    result = run_script(tmp_path, "download_cosmos_cache", env)
    assert result.returncode == 0, result.stderr
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    assert [c[0] for c in calls] == ["file"] * 7 + ["snapshot"] * 5
    assert all(re.fullmatch(r"[0-9a-f]{40}", c[2]) for c in calls)
    hub = tmp_path / "out/models/cosmos_transfer/hub"
    snapshot_files = [p for p in hub.rglob("*") if "snapshots" in p.parts and not p.is_dir()]
    assert len(snapshot_files) == 7 + 5 * 2
    assert not any(p.is_symlink() for p in hub.rglob("*"))
    edge = next(p for p in snapshot_files if p.name.endswith("_ema_bf16.pt") and "edge" in p.parts)
    assert edge.read_text() == f"payload of general/edge/{edge.name}"
    assert env["HF_TOKEN"] not in result.stdout + result.stderr


def test_cosmos_cache_explains_a_gated_refusal(tmp_path, fake_hf):
    env, _ = fake_hf
    result = run_script(tmp_path, "download_cosmos_cache", {**env, "FAKE_HF_DENY": "nvidia/Cosmos-Reason1-7B"})
    assert result.returncode == 1
    assert "HTTP 403" in result.stderr and "https://huggingface.co/nvidia/Cosmos-Reason1-7B" in result.stderr


def test_cosmos_cache_refuses_to_start_without_a_token(tmp_path, fake_hf):
    env, log = fake_hf
    result = run_script(tmp_path, "download_cosmos_cache", {**env, "HF_TOKEN": ""})
    assert result.returncode == 1 and "hf_token" in result.stderr
    assert not log.exists()


# --- cookbooks ----------------------------------------------------------------------------------


def load_yaml(scene: str, rel: str) -> dict:
    return yaml.safe_load((cookbooks_dir() / scene / rel).read_text(encoding="utf-8"))


def test_every_scene_has_exactly_the_eight_files():
    assert sorted(p.name for p in cookbooks_dir().iterdir() if p.is_dir()) == sorted(SCENES)
    for scene in SCENES:
        folder = cookbooks_dir() / scene
        assert sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()) == sorted(COOKBOOK_FILES)
        assert all((folder / rel).stat().st_size > 200 for rel in COOKBOOK_FILES)


WEATHER = {"clear": 0.35, "overcast": 0.35, "rain": 0.30}
TIME_OF_DAY = {"morning": 0.35, "midday": 0.35, "evening": 0.30}
LIGHTING = {"bright": 0.35, "moderate": 0.35, "dim": 0.30}
_OUTDOOR_ASK_ONLY = {("weather", "fog"), ("weather", "snow"), ("time_of_day", "night")}
ASK_ONLY = {"city_traffic": _OUTDOOR_ASK_ONLY, "piazza": _OUTDOOR_ASK_ONLY, "trailer_dashcam": _OUTDOOR_ASK_ONLY}
EXPECTED_VARIABLES = {
    "city_traffic": {"weather": WEATHER, "time_of_day": TIME_OF_DAY},
    "piazza": {"weather": WEATHER, "time_of_day": TIME_OF_DAY},
    "trailer_dashcam": {"weather": WEATHER, "time_of_day": TIME_OF_DAY},
    "robot_assembly": {"lighting": LIGHTING},
    "warehouse": {"lighting": LIGHTING, "surface_condition": {"dry": 0.55, "wet": 0.45}},
}


@pytest.mark.parametrize("scene", SCENES)
def test_workflow_config_variables_and_weights(scene):
    config = load_yaml(scene, "workflow_config.yaml")
    assert config["cookbook"] == scene
    section = config["augmentation"]
    assert section["n_augmentations"] == 1 and section["config"] == "augmentation/augmentation.yaml"
    assert "batch_size" not in section
    drawn = {name: {o: w for o, w in weights.items() if w > 0} for name, weights in section["variables"].items()}
    assert drawn == EXPECTED_VARIABLES[scene]
    asked_only = {(name, o) for name, weights in section["variables"].items() for o, w in weights.items() if w == 0}
    assert asked_only <= ASK_ONLY.get(scene, set())  # weight 0: never drawn, there to be asked for (--condition)
    for name, weights in section["variables"].items():
        assert all(isinstance(w, float) and w >= 0 for w in weights.values()), name
        assert sum(weights.values()) == pytest.approx(1.0, abs=1e-9), name


TRAILER_FPS = 6.0
VOCAB_KEYS = {
    "city_traffic": ["weather_condition", "lighting_condition", "road_condition"],
    "piazza": ["weather_condition", "lighting_condition"],
    "trailer_dashcam": ["weather_condition", "lighting_condition", "road_condition"],
    "robot_assembly": ["lighting_condition"],
    "warehouse": ["lighting_condition", "surface_condition"],
}


@pytest.mark.parametrize("scene", SCENES)
def test_augmentation_recipe_uses_the_one_schema_the_engines_read(scene):
    recipe = load_yaml(scene, "augmentation/augmentation.yaml")
    assert recipe["augmentation"]["parameters"] == {
        "sigma": 90, "seed": None, "guidance": 3, "num_steps": 35, "inference_name": "cosmos_transfer_inference",
    }
    assert recipe["augmentation"]["modalities"]["edge"] == 1.0
    assert set(recipe["data"][0]["inputs"]["controls"].values()) == {None}
    # upstream's generator wrote cosmos.* / template_generation.variables / video_captioning.*: not here
    assert {"cosmos", "video_captioning", "prompt_generation"}.isdisjoint(recipe)
    assert "variables" not in recipe.get("template_generation", {})
    vlm = recipe["captioning"]["vlm"]
    assert vlm["parser"] == "instruct"
    assert vlm["parameters"]["fps"] == (TRAILER_FPS if scene == "trailer_dashcam" else 4.0)
    assert vlm["parameters"]["max_pixels"] == 307200
    assert list(recipe["captioning"]["llm"]["variables"]) == VOCAB_KEYS[scene]
    checks = {name: body for entry in recipe["evaluators"] for name, body in entry.items()}  # a list of one-key entries
    assert [list(e) for e in recipe["evaluators"]] == [["hallucination_check"], ["attribute_verification"]]
    assert checks["hallucination_check"]["threshold"] == 0.682 and checks["attribute_verification"]["enabled"] is True
    assert set(checks["hallucination_check"]["params"]) >= {"grad_thresh", "blur_ksize"}
    assert recipe["pipeline"]["retry"] == 1


LABELING = {
    "city_traffic": (["car", "truck", "bus", "motorcycle", "bicycle", "person"], 60, 6),
    "piazza": (["person", "motorcycle"], 30, 3),
    "robot_assembly": (["person"], 30, 6),
    "trailer_dashcam": (["car", "truck", "person", "bicycle", "motorcycle"], 45, 6),
    "warehouse": (["person"], 45, 3),
}


@pytest.mark.parametrize("scene", SCENES)
def test_auto_labeling_config_per_scene(scene):
    config = load_yaml(scene, "auto_labeling/auto_labeling_config.yaml")
    classes, max_age, fps = LABELING[scene]
    tracking = config["detection_and_tracking"]
    assert (tracking["classes"], tracking["max_age"]) == (classes, max_age)
    assert tracking["threshold"] == 0.2 and tracking["min_track_frames"] == 5
    assert config["vlm_json"]["frame_fps"] == fps
    assert config["mcq_generation"]["window_metadata_extraction"]["sampling_fps"] == fps
    assert config["mcq_generation"]["mode"] == "question-driven-vlm-llm"
    assert config["vlm_json"]["enabled"] is False and config["super_resolution"]["enabled"] is False
    assert config["pipeline"]["empty_output_policy"] == "warn"
    assert config["data"][0]["output"]["out_dir"] == f"../output/pipeline_full_{scene}"


Measure = Literal["weather", "time_of_day", "lighting", "surface_condition", "motion", "collision", "near_miss", "none"]
_LETTERED = re.compile(r"^[A-Z]\. \S.*$")


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=r"^[1-9]_[0-9]{1,2}$")
    question: str = Field(min_length=10)
    options: list[str] = Field(min_length=2)
    aggregation: Literal["any", "majority", "majority_tie_first", "first", "supermajority"] | None = None
    include_if: dict[str, str] | None = None
    measure: str = "none"

    @field_validator("question")
    @classmethod
    def _is_a_question(cls, value: str) -> str:
        if not value.endswith("?"):
            raise ValueError("a question ends with '?'")
        return value

    @field_validator("options")
    @classmethod
    def _yes_no_or_lettered(cls, value: list[str]) -> list[str]:
        if value == ["Yes", "No"]:
            return value
        letters = [o[0] for o in value]
        if not all(_LETTERED.match(o) for o in value) or letters != [chr(ord("A") + i) for i in range(len(value))]:
            raise ValueError("options are exactly Yes/No, or lettered A., B., ... in order")
        return value

    @field_validator("measure")
    @classmethod
    def _known_measure(cls, value: str) -> str:
        if value in Measure.__args__ or re.fullmatch(r"count:[a-z]+", value):  # type: ignore[attr-defined]
            return value
        raise ValueError(f"unknown measure {value}")


class QuestionBank(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    questions: list[Question]


MEASURE_VARIABLE = {"weather": "weather", "time_of_day": "time_of_day", "lighting": "lighting", "surface_condition": "surface_condition"}


@pytest.mark.parametrize("scene", SCENES)
def test_question_bank_schema_and_content(scene):
    raw = json.loads((cookbooks_dir() / scene / "auto_labeling/question_bank.json").read_text(encoding="utf-8"))
    bank = QuestionBank.model_validate(raw)
    assert bank.name == f"window_default_{scene}"
    ids = [q.id for q in bank.questions]
    expected = ["1_1", "1_2", "1_10", "2_1", "2_2", "4_1", "4_2", "4_3", "5_1", "5_2", "5_3"]
    assert ids == ([i for i in expected if i != "2_2"] if scene == "robot_assembly" else expected)
    by_id = {q.id: q for q in bank.questions}
    for q in bank.questions:
        if q.include_if:
            for other, answer in q.include_if.items():
                assert ids.index(other) < ids.index(q.id) and answer in by_id[other].options
    assert by_id["1_1"].options == ["Yes", "No"] and by_id["1_1"].aggregation == "any"
    assert by_id["1_10"].aggregation == "majority" and len(by_id["1_10"].options) == 4
    assert by_id["1_10"].include_if == (None if scene == "robot_assembly" else {"1_1": "Yes"})
    assert len(by_id["5_1"].options) == 3 and by_id["5_1"].aggregation == "majority"
    if scene == "piazza":
        assert by_id["4_2"].include_if == {"4_1": "Yes"} and by_id["4_2"].aggregation == "majority"
    # the appearance questions mirror the sampled variables, option by option
    variables = load_yaml(scene, "workflow_config.yaml")["augmentation"]["variables"]
    appearance = [q for q in bank.questions if q.id.startswith("2_")]
    assert sorted(MEASURE_VARIABLE[q.measure] for q in appearance) == sorted(variables)
    for q in appearance:
        assert [o.split(". ", 1)[1].lower() for o in q.options] == list(variables[MEASURE_VARIABLE[q.measure]])


def test_question_bank_model_rejects_bad_entries():
    good = {"id": "2_1", "question": "What is the weather here?", "options": ["A. Clear", "B. Rain"]}
    Question.model_validate(good)
    for bad in ({**good, "options": ["Clear", "Rain"]}, {**good, "measure": "vibes"}, {**good, "extra": 1}, {**good, "options": ["B. x", "A. y"]}):
        with pytest.raises(ValidationError):
            Question.model_validate(bad)


# --- documented knob paths exist ------------------------------------------------------------------

_DOTTED = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)+")
_FILE_SUFFIX = re.compile(r"\.(ya?ml|json|md|py|sh|mp4|txt|pth|pt)$")


def knob_paths(text: str) -> list[str]:
    """Backticked dotted key paths (``a.b.c``) in a Markdown text; file names are not paths."""
    tokens = re.findall(r"`([^`\n]+)`", text)
    return [t for t in tokens if _DOTTED.fullmatch(t) and not _FILE_SUFFIX.search(t)]


def has_path(node: object, parts: list[str]) -> bool:
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def scene_configs(scene: str) -> list[dict]:
    return [load_yaml(scene, rel) for rel in COOKBOOK_FILES if rel.endswith(".yaml")]


def test_knob_path_extraction():
    assert knob_paths("`a.b_c` and `workflow_config.yaml` and `count:person` and `x` `a. b`") == ["a.b_c"]
    assert has_path({"a": [{"b": 1}]}, ["a", "0", "b"]) and not has_path({"a": {}}, ["a", "b"])


@pytest.mark.parametrize("doc", ["TUNING_GUIDE.md", "FILE_INVENTORY.md"])
def test_every_knob_path_in_the_shared_guides_exists(doc):
    paths = knob_paths((cookbooks_dir() / doc).read_text(encoding="utf-8"))
    if doc == "TUNING_GUIDE.md":
        assert len(paths) >= 30
    configs = [c for scene in SCENES for c in scene_configs(scene)]
    missing = [p for p in paths if not any(has_path(c, p.split(".")) for c in configs)]
    assert missing == []


@pytest.mark.parametrize("scene", SCENES)
def test_every_knob_path_in_a_scene_readme_exists_in_that_scene(scene):
    paths = knob_paths((cookbooks_dir() / scene / "README.md").read_text(encoding="utf-8"))
    assert paths
    configs = scene_configs(scene)
    assert [p for p in paths if not any(has_path(c, p.split(".")) for c in configs)] == []


def test_tuning_guide_documents_every_measure():
    guide = (cookbooks_dir() / "TUNING_GUIDE.md").read_text(encoding="utf-8")
    for measure in (*Measure.__args__, "count:<class>"):  # type: ignore[attr-defined]
        assert f"`{measure}`" in guide, measure
    used = {q["measure"] for s in SCENES for q in json.loads((cookbooks_dir() / s / "auto_labeling/question_bank.json").read_text())["questions"]}
    assert {m for m in used if not m.startswith("count:")} <= set(Measure.__args__)  # type: ignore[attr-defined]


# --- references ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Section:
    heading: str
    match: re.Pattern[str]
    cause: str
    action: str


def parse_troubleshooting(text: str) -> list[Section]:
    sections = []
    text = re.sub(r"^```.*?^```", "", text, flags=re.M | re.S)  # examples in fences are not sections
    for chunk in re.split(r"^### ", text, flags=re.M)[1:]:
        heading, _, body = chunk.partition("\n")
        lines = [line for line in body.splitlines() if line.strip()]
        assert lines and lines[0].startswith("match: "), heading
        fields = dict(line.split(": ", 1) for line in lines[:3])
        assert list(fields) == ["match", "cause", "action"], heading
        sections.append(Section(heading=heading.strip(), match=re.compile(fields["match"], re.I), cause=fields["cause"], action=fields["action"]))
    return sections


def triage(sections: list[Section], line: str) -> str | None:
    return next((s.heading for s in sections if s.match.search(line)), None)


TROUBLE = parse_troubleshooting((references_dir() / "troubleshooting.md").read_text(encoding="utf-8"))

# one log or error line per upstream symptom (and a few of ours), and the section it must reach
SAMPLES = [
    ("USER_INPUT_REQUIRED: Provide missing secrets for absent credentials: HF_TOKEN", "Preflight asks for a secret"),
    ("nvapi- keys are not supported for nvcr.io pulls", "An nvapi- key is called unsupported for nvcr.io"),
    ("Jinja Template Error: 'dataset' is undefined", "Jinja substitution failure: a variable is undefined"),
    ("[undefined-variable] Workflow e2e uses the variable 'video' but no value was given for it.", "Jinja substitution failure: a variable is undefined"),
    ("[unrendered-default] The default of cosmos_model_cache_url is itself a template", "A cache URL default reached the workflow unrendered"),
    ("botocore.exceptions.NoCredentialsError: Unable to locate credentials", "Storage access denied or no credentials"),
    ("Error: [storage-outside-roots] Storage URL /etc/x lies outside the local storage root (/h/.vda/local/storage).", "A local storage path outside the allowed folders"),
    ("ERROR: dataset probe empty: No entries found under s3://b/p/datasets/vda-demo", "Dataset listing is empty"),
    ("Waiting for VLM server (3/18): tried http://qwen3-vl:8000/v1/models", "A worker waits for the VLM or LLM"),
    ("qwen3-vl-5d8f 0/1 CrashLoopBackOff", "NIMs absent or unhealthy"),
    ("Unable to authenticate for pulling image nvcr.io/nvidia/paidf-augmentation:1.0.0", "Image pulls fail after a key rotation"),
    ("ERROR: VIDEO_NAME contains a path separator: demo/clip", "VIDEO_NAME holds a path"),
    ("[av] Unknown encoder 'libx264'", "Codec complaints"),
    ("WARNING: cosmos CLI exit code 1 but output was recovered", "Cosmos worker exits non-zero after generating"),
    ("MEDIA render failed: Outside allowed folders", 'MEDIA: "Outside allowed folders"'),
    ("ERROR: Hugging Face refused nvidia/Cosmos-Reason1-7B (HTTP 403).", "Hugging Face refuses the cache download (401/403)"),
    ("ERROR: pre-submit guard failed. Model cache URL validation failed.", "Model cache missing or empty in the guard"),
    ("s3://b/p/data/models/cosmos_transfer: No entries found", "Model cache missing or empty in the guard"),
    ("Workflow auto_labeling: task pl_original_worker_0 takes input from setup in its own group.", "Group self-dependency (auto_labeling)"),
    ("e2e runs serially: cosmos waits for pl_original", "e2e runs serially"),
    ("e2e_super_resolution looks parallel: augmentation started alongside pl_original", "e2e_super_resolution looks parallel"),
    ("pl_augmented_worker_0 FAILED_UPSTREAM exit code 3000", "Downstream tasks failed upstream"),
    ("ERROR: PL failed for clip (exit code 3)", "Labeling failed for a clip"),
    ("Error: [endpoint-unreachable] No window was labeled: The VLM endpoint http://127.0.0.1:8000/v1 stopped answering (ConnectError).",
     "A chosen VLM/LLM server stopped answering or lacks the model"),
    ("Error: [cosmos-unavailable] The cosmos augment engine cannot run on this machine: missing an NVIDIA GPU.", "The chosen engine cannot run here"),
    ("Resource validation failed for task: cosmos_worker_0", "Resource validation failed at submit"),
    ("Error message: Data video is incorrectly formatted", "A --set-string item is not key=value"),
    ("Error code: 429 Too Many Requests", "Too many requests"),
    ("OSError: [Errno 30] Read-only file system: '/osmo/data/input/2/rfdetr/rf-detr-base.pth.lock'", "The auto-labeling cache is read-only (rfdetr lock)"),
    ("cosmos_worker_1 FAILED exit code 2024", "The group barrier failed"),
    ("workflow vda-demo-3 FAILED_QUEUE_TIMEOUT", "The run hit a timeout"),
    ('127.0.0.1:56476 - "GET //api/pool_quota?all_pools=True HTTP/1.1" 404', "osmo pool list answers HTTP 404 (preflight code osmo-cli-http-libraries)"),
    ("Error: [osmo-cli-http-libraries] osmo pool list got HTTP 404", "osmo pool list answers HTTP 404 (preflight code osmo-cli-http-libraries)"),
]


def test_troubleshooting_sections_parse():
    raw = (references_dir() / "troubleshooting.md").read_text(encoding="utf-8")
    assert len(re.findall(r"^### ", raw, flags=re.M)) == len(TROUBLE)  # no heading hides in an example
    assert len(TROUBLE) >= 17
    assert len({s.heading for s in TROUBLE}) == len(TROUBLE)
    assert all(s.cause and s.action for s in TROUBLE)


@pytest.mark.parametrize(("line", "heading"), SAMPLES)
def test_a_log_line_reaches_its_troubleshooting_section(line, heading):
    assert triage(TROUBLE, line) == heading


def test_every_troubleshooting_section_is_reached_by_a_sample():
    assert {heading for _, heading in SAMPLES} == {s.heading for s in TROUBLE}


def test_ordinary_lines_match_nothing():
    for line in ("=== cosmos_worker complete: clip_aug0 ===", "Generated 2 config files", "Found 2 videos"):
        assert triage(TROUBLE, line) is None


def test_reference_files_exist_and_name_their_workflow():
    for flow in ("auto_labeling", "augmentation_and_al", "e2e", "e2e_super_resolution"):
        text = (references_dir() / "flows" / f"{flow}.md").read_text(encoding="utf-8")
        assert f"assets/configs/osmo/{flow}.yaml" in text
        for heading in ("## When to use it", "## Graph", "## Time", "## Outputs"):
            assert heading in text, (flow, heading)
    setup = (references_dir() / "setup.md").read_text(encoding="utf-8")
    assert setup.count("--set-string") >= 2 and "setup_model_cache.yaml" in setup
    assert "--set " not in setup.replace("--set-string", "")
    images = (references_dir() / "container-images.md").read_text(encoding="utf-8")
    for name in WORKFLOWS:
        for image in set(re.findall(r"image: (\S+)", workflow_path(name).read_text(encoding="utf-8"))):
            assert f"`{image}`" in images, image
    nim = (references_dir() / "nim" / "README.md").read_text(encoding="utf-8")
    assert "Never scale down" in nim and 'NIM_SERVICES="qwen3-vl qwen25-14b"' in nim


def test_repo_paths_named_in_references_exist():
    texts = [p.read_text(encoding="utf-8") for p in references_dir().rglob("*.md")]
    texts += [(cookbooks_dir() / d).read_text(encoding="utf-8") for d in ("TUNING_GUIDE.md", "FILE_INVENTORY.md")]
    named = {m for text in texts for m in re.findall(r"\b((?:assets|references)/[\w./-]+\.(?:ya?ml|md|json))", text)}
    assert named
    missing = sorted(p for p in named if "*" not in p and "<" not in p and not (ROOT / p).exists())
    assert missing == []

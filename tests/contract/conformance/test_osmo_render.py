"""OSMO 6.3.1's own submit pipeline accepts our six workflows, and refuses what skill.render refuses.

``osmo_render_driver.py`` runs, in ``VDA_OSMO_PYTHON`` with ``VDA_OSMO_SOURCE`` on its path, the
service's dry-run render, the CLI's ``load_local_files``, the service's second render of the whole
text, the spec model, the name limits and each task's runtime-token parse (see its docstring).
Skipped, naming the variable, when either is unset (fixtures in ``conftest.py``).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from skill.errors import InputError
from skill.paths import skill_root, workflow_path
from skill.render import render_workflow

DRIVER = Path(__file__).with_name("osmo_render_driver.py")
WORKFLOWS = ("auto_labeling", "augmentation_and_al", "augmentation_and_pl", "e2e", "e2e_super_resolution", "setup_model_cache")
CANONICAL = {
    "dataset": "vda-demo",
    "run_id": "run-1a2b3c4d",
    "storage_url": "s3://bucket/prefix",
    "gpu_platform": "gpu",
    "video": "clip",
    "cosmos_model_cache_url": "s3://bucket/prefix/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "s3://bucket/prefix/data/models/auto_labeling",
}


def values_for(name: str, skills: Path, **extra: str | None) -> dict[str, str]:
    if name == "setup_model_cache":
        values = {"storage_url": CANONICAL["storage_url"]}
    else:
        values = {**CANONICAL, "skills_dir": str(skills)}
        if name == "auto_labeling":
            values.pop("cosmos_model_cache_url")
    values.update(extra)
    return {k: v for k, v in values.items() if v is not None}


def run_upstream(osmo_python: Path, osmo_source: Path, cases: list[tuple[str, dict[str, str]]]) -> list[dict]:
    payload = [{"workflow": str(workflow_path(name)), "set_string": [f"{k}={v}" for k, v in values.items()]} for name, values in cases]
    proc = subprocess.run(
        [str(osmo_python), str(DRIVER), str(osmo_source)],
        input=json.dumps(payload), capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads(proc.stdout)
    assert len(results) == len(cases)
    return results


def ours_accepts(name: str, values: dict[str, str]) -> bool:
    try:
        render_workflow(workflow_path(name), set_string=values)
    except InputError:
        return False
    return True


@pytest.fixture(scope="module")
def broken_skill(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the staged files whose endpoint_common.sh counts an array the bash way."""
    root = tmp_path_factory.mktemp("skill")
    for sub in ("scripts", "skill/engines", "assets/cookbooks"):
        shutil.copytree(skill_root() / sub, root / sub)
    target = root / "scripts" / "endpoint_common.sh"
    target.write_text(target.read_text(encoding="utf-8") + 'n="${#items[@]}"\n', encoding="utf-8")
    return root


def test_osmo_accepts_every_workflow_with_canonical_values_and_three_workers(osmo_source: Path, osmo_python: Path):
    cases = [(name, values_for(name, skill_root(), **extra)) for name in WORKFLOWS for extra in ({}, {"workers": "3"})]
    results = run_upstream(osmo_python, osmo_source, cases)
    refused = [(name, values.get("workers", "1"), r) for (name, values), r in zip(cases, results) if not r["ok"]]
    assert not refused, refused
    tasks: dict[tuple[str, str], int] = {}
    for (name, values), result in zip(cases, results):
        assert result["inlined"] > 0 or name == "setup_model_cache"
        tasks[(name, values.get("workers", "1"))] = result["tasks"]
        assert ours_accepts(name, values), name
    for name in WORKFLOWS[:-1]:  # each fan-out stage gains two workers
        assert tasks[(name, "3")] > tasks[(name, "1")], name


AUGMENTING = ("augmentation_and_al", "augmentation_and_pl", "e2e", "e2e_super_resolution")


def test_osmo_carries_the_looks_and_the_seed_to_the_setup_task(osmo_source: Path, osmo_python: Path):
    """The conditions value (colons, commas, bars), the seed and all_clips pass OSMO's submit path
    unchanged, into the setup task's environment; without them the defaults render ("", "", "false")."""
    looks = {"conditions": "weather:rain|fog,time_of_day:night", "seed": "4711", "all_clips": "True", "clips": "clip,cam_2,x.y-3",
             # the engine choice rides the same --set-string (issue 11)
             "label_engine": "nim", "augment_engine": "cosmos", "vlm_url": "http://10.0.0.5:8000/v1",
             "llm_url": "http://10.0.0.5:8001/v1", "vlm_model": "Qwen/Qwen3-VL-8B-Instruct", "llm_model": "Qwen/Qwen2.5-14B-Instruct"}
    cases = [(name, values_for(name, skill_root(), **extra)) for name in AUGMENTING for extra in (looks, {})]
    results = run_upstream(osmo_python, osmo_source, cases)
    for (name, values), result in zip(cases, results):
        assert result["ok"], (name, result)
        env = result["setup_env"]
        assert (env["CONDITIONS"], env["SEED"]) == (values.get("conditions", ""), values.get("seed", "")), name
        assert (env["VIDEO_NAME"], env["ALL_CLIPS"], env["CLIPS"]) == ("clip", values.get("all_clips", "false"), values.get("clips", "")), name
        assert ours_accepts(name, values), name


def test_osmo_and_skill_render_refuse_the_same_specs(osmo_source: Path, osmo_python: Path, broken_skill: Path):
    root = skill_root()
    cases = {
        "staged file with ${#arr[@]}": ("e2e", values_for("e2e", broken_skill), "TemplateSyntaxError"),
        "value with a quote": ("augmentation_and_al", values_for("augmentation_and_al", root, video='a"b'), "ParserError"),  # the service: "Workflow spec is not properly formatted"
        "workflow name of 65 characters": ("auto_labeling", values_for("auto_labeling", root, dataset="d" * 65), "64 characters or less"),
        "undefined variable": ("auto_labeling", values_for("auto_labeling", root, video=None), "Jinja substitution failure: <class 'jinja2.exceptions.UndefinedError'>: 'video' is undefined"),
    }
    results = run_upstream(osmo_python, osmo_source, [(n, v) for n, v, _ in cases.values()])
    for (label, (name, values, said)), result in zip(cases.items(), results):
        assert not result["ok"], label
        assert said in result["error"], (label, result)
        assert not ours_accepts(name, values), label


def test_a_templated_default_resolves_at_osmos_second_render(osmo_source: Path, osmo_python: Path):
    # cosmos_model_cache_url's default is "{{storage_url}}/data/models/cosmos_transfer"
    values = values_for("e2e", skill_root(), cosmos_model_cache_url=None)
    [result] = run_upstream(osmo_python, osmo_source, [("e2e", values)])
    assert result["ok"], result
    assert ours_accepts("e2e", values)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-q"]))

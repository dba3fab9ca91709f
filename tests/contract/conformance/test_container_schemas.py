"""The containers' own schema classes judge the configs we ship and generate.

Needs ``VDA_PAIDF_AL_SOURCE`` (a checkout of NVIDIA/paidf-auto-labeling) and ``VDA_PAIDF_AUG_SOURCE``
(a checkout of NVIDIA/paidf-augmentation 1.0.x, the version our workflows pin; only
``modules/aug_utils/schema`` is imported); skipped, naming the variable, when they are unset
(fixtures in ``conftest.py``). The schema classes run in a subprocess
(``container_schema_driver.py``): ``VDA_PAIDF_PYTHON`` picks its interpreter (default: this one).
With ``omegaconf`` there the overrides are applied exactly as the containers apply them.

Checked: the 5 cookbook auto-labeling configs with the PL workers' overrides (super-resolution off
and on), every per-clip augmentation config generate_configs writes for the 5 cookbooks with the
cosmos worker's overrides, and that the old wrong keys are rejected by the real classes too, so
our contract and theirs agree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from skill.engines import configs as cg
from skill.engines import container_contract as cc

REPO = Path(__file__).resolve().parents[3]
DRIVER = Path(__file__).with_name("container_schema_driver.py")
SCENES = ("city_traffic", "warehouse", "robot_assembly", "piazza", "trailer_dashcam")


def _judge(kind: str, source: Path, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each item judged by the container's schema: ``[{name, ok, errors, omegaconf}]``."""
    payload = [
        {**item, "overrides": list(item["overrides"]), "applied": cc.apply_overrides(item["config"], item["overrides"])}
        for item in items
    ]
    python = os.environ.get("VDA_PAIDF_PYTHON", "").strip() or sys.executable
    # no endpoint variables: the schemas fall back to them, the workers pass overrides instead
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VLM_", "LLM_", "PYTHONPATH"))}
    proc = subprocess.run(
        [python, str(DRIVER), kind, str(source)], input=json.dumps(payload), capture_output=True, text=True, timeout=120, env=env, cwd=source,
    )
    assert proc.returncode == 0, f"the schema driver failed:\n{proc.stderr[-3000:]}"
    results = json.loads(proc.stdout)
    assert [r["name"] for r in results] == [i["name"] for i in items]
    return results


def _al_items() -> list[dict[str, Any]]:
    items = []
    for scene in SCENES:
        config = yaml.safe_load((REPO / "assets" / "cookbooks" / scene / "auto_labeling" / "auto_labeling_config.yaml").read_text())
        for sr in ("false", "true"):
            overrides = [o for o in cc.AL_WORKER_OVERRIDES if not o.startswith("super_resolution.enabled=")] + [f"super_resolution.enabled={sr}"]
            items.append({"name": f"{scene} (super_resolution.enabled={sr})", "config": config, "overrides": overrides})
    return items


def _aug_items(tmp_path: Path) -> list[dict[str, Any]]:
    items = []
    for scene in SCENES:
        cfg = tmp_path / scene
        shutil.copytree(REPO / "assets" / "cookbooks" / scene, cfg)
        videos = tmp_path / f"{scene}-videos"
        videos.mkdir()
        for name in ("03_IllegalOccupation_020_10FPS.mp4", "goal_0086_0hz_6sec.mp4"):
            (videos / name).write_bytes(b"")
        manifest = cg.generate_configs(videos, cfg, cfg, n_augmentations=2, log=lambda _line: None)
        for entry in manifest["configs"]:
            config = yaml.safe_load((cfg / entry["config"]).read_text())
            items.append({"name": f"{scene}/{entry['config']}", "config": config, "overrides": list(cc.AUG_WORKER_OVERRIDES)})
    return items


def _failures(results: list[dict[str, Any]]) -> str:
    return "\n".join(f"{r['name']}: {r['errors']}" for r in results if not r["ok"])


def test_cookbook_auto_labeling_configs_pass_the_containers_schema(paidf_al_source: Path) -> None:
    results = _judge("auto-labeling", paidf_al_source, _al_items())
    assert len(results) == 2 * len(SCENES)
    assert all(r["ok"] for r in results), _failures(results)
    print(f"\nauto-labeling PipelineConfig accepted {len(results)}/{len(results)} cookbook configs (omegaconf={results[0]['omegaconf']})")


def test_generated_augmentation_configs_pass_the_containers_schema(paidf_aug_source: Path, tmp_path: Path) -> None:
    results = _judge("augmentation", paidf_aug_source, _aug_items(tmp_path))
    assert len(results) == 2 * 2 * len(SCENES)
    assert all(r["ok"] for r in results), _failures(results)
    print(f"\naugmentation PipelineConfig accepted {len(results)}/{len(results)} generated configs (omegaconf={results[0]['omegaconf']})")


def test_the_containers_reject_what_our_contract_rejects(paidf_al_source: Path, paidf_aug_source: Path, tmp_path: Path) -> None:
    al = _al_items()[0]
    sr = yaml.safe_load(yaml.safe_dump(al["config"]))
    sr["super_resolution"]["height"] = sr["super_resolution"].pop("res_h")
    unknown = yaml.safe_load(yaml.safe_dump(al["config"]))
    unknown["detection_and_tracking"]["tracker_name"] = "boosttrack"
    al_bad = [{**al, "name": "height", "config": sr}, {**al, "name": "unknown", "config": unknown}]

    clip = _aug_items(tmp_path)[0]
    mapping = yaml.safe_load(yaml.safe_dump(clip["config"]))
    mapping["evaluators"] = {k: v for entry in mapping["evaluators"] for k, v in entry.items()}
    parameters = yaml.safe_load(yaml.safe_dump(clip["config"]))
    check = parameters["evaluators"][0]["hallucination_check"]
    check["parameters"] = check.pop("params")
    aug_bad = [
        {**clip, "name": "mapping", "config": mapping},
        {**clip, "name": "parameters", "config": parameters},
        # an empty model override is null there: why cosmos_worker.sh passes endpoints.*.model only when known
        {**clip, "name": "empty model", "overrides": [*clip["overrides"], "endpoints.llm.model="]},
    ]

    for kind, source, items in (("auto-labeling", paidf_al_source, al_bad), ("augmentation", paidf_aug_source, aug_bad)):
        for result, item in zip(_judge(kind, source, items), items):
            assert not result["ok"], f"the {kind} container accepted {item['name']}"
            with pytest.raises(cc.ContainerConfigError):
                cc.check_config(kind, item["config"], source=item["name"], overrides=item["overrides"])  # type: ignore[arg-type]
    # the per-clip keys upstream's worker passed are ignored by the real schema (unknown top-level keys),
    # so the values would never reach the model: ours forbids them
    for key in ("cosmos.parameters.seed=7", "prompt_generation.seed=7"):
        with pytest.raises(cc.ContainerConfigError):
            cc.check_config("augmentation", clip["config"], source=key, overrides=[*clip["overrides"], key])

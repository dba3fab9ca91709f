"""Config generation: contract shape, determinism, per-clip independence, weight validation, CLI; the containers' config contracts."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import yaml

from skill.engines import configs as cg
from skill.engines import container_contract as cc
from skill.errors import InputError

REPO = Path(__file__).resolve().parents[2]
CONFIGS_PY = REPO / "skill" / "engines" / "configs.py"

BASE_AUG = {
    "endpoints": {"vlm": {"url": "http://localhost:9001/v1", "model": "vlm"}, "llm": {"url": "http://localhost:9000/v1", "model": "llm"}},
    "data": [
        {
            "inputs": {"rgb": "/app/in.mp4", "controls": {"edge": None, "depth": None}},
            "output": {"video": "/app/out.mp4", "caption": "/app/out.txt", "metadata": "/app/meta.json"},
        }
    ],
    "captioning": {
        "vlm": {"parser": "instruct", "parameters": {"fps": 4.0}},
        "llm": {"variables": {"weather_condition": ["clear_sky", "raining", "fog"], "road_condition": ["dry", "puddles"]}},
    },
    "augmentation": {
        "model": {"name": "cosmos-transfer2.5", "executor_type": "local"},
        "parameters": {"sigma": 90, "seed": None, "guidance": 3, "num_steps": 35, "inference_name": "cosmos_transfer_inference"},
        "modalities": {"edge": 1.0},
    },
}


def make_cookbook(root: Path, variables: object | None = None, *, n_aug: int = 1, name: str = "city_traffic") -> Path:
    cfg = root / "configs"
    (cfg / "augmentation").mkdir(parents=True)
    if variables is None:
        variables = {
            "weather": {"clear": 0.35, "overcast": 0.35, "rain": 0.30},
            "time_of_day": {"morning": 0.35, "midday": 0.35, "evening": 0.30},
        }
    pipeline = {"cookbook": name, "augmentation": {"config": "augmentation/augmentation.yaml", "n_augmentations": n_aug, "variables": variables}}
    (cfg / "workflow_config.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    (cfg / "augmentation" / "augmentation.yaml").write_text(yaml.safe_dump(BASE_AUG, sort_keys=False))
    return cfg


def make_videos(root: Path, names: list[str]) -> Path:
    videos = root / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    for name in names:
        (videos / name).write_bytes(b"\x00not-decoded-here")
    return videos


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def test_contract_shape_of_configs_and_manifest(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path)
    videos = make_videos(tmp_path, ["b.mp4", "a.MP4", "c.mkv", "notes.txt"])
    manifest = cg.generate_configs(videos, cfg, cfg, log=lambda _line: None)
    assert manifest["total"] == 3
    assert [e["video_name"] for e in manifest["configs"]] == ["a", "b", "c"]
    on_disk = yaml.safe_load((cfg / "manifest.yaml").read_text())
    assert on_disk == manifest
    assert (cfg / "manifest.tsv").read_text().splitlines() == ["a_aug0.yaml\ta\t0", "b_aug0.yaml\tb\t0", "c_aug0.yaml\tc\t0"]
    entry = manifest["configs"][1]
    assert set(entry) == {"video", "video_name", "aug_idx", "config", "sampled_vars", "requested"}
    assert entry["video"] == str((videos / "b.mp4").resolve())
    conf = yaml.safe_load((cfg / "b_aug0.yaml").read_text())
    data = conf["data"]
    assert len(data) == 1
    assert data[0]["inputs"]["rgb"] == entry["video"]
    assert data[0]["inputs"]["controls"] == {"edge": None, "depth": None}  # kept from the cookbook by the deep merge
    assert set(data[0]["output"]) == {"video", "caption", "metadata"}
    assert data[0]["output"]["video"].endswith("b/aug_0/output.mp4")
    assert (cfg / "b" / "aug_0").is_dir()
    params = conf["augmentation"]["parameters"]
    assert isinstance(params["seed"], int) and 0 <= params["seed"] < 2**31
    assert params["inference_name"] == "b_aug0"
    assert params["sigma"] == 90 and params["guidance"] == 3  # untouched knobs survive
    # the vocabulary is REPLACED by the sampled values only
    assert conf["captioning"]["llm"]["variables"] == {k: [v] for k, v in entry["sampled_vars"].items()}
    assert conf["captioning"]["vlm"]["parser"] == "instruct"
    assert conf["vda"] == {
        "video_name": "b",
        "aug_idx": 0,
        "sampled_vars": entry["sampled_vars"],
        "seed": params["seed"],
        "cookbook": "city_traffic",
    }
    assert params["seed"] == cg.clip_seed("city_traffic", "b", 0) % 2**31


def test_same_inputs_give_byte_identical_files(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path, n_aug=2)
    videos = make_videos(tmp_path, ["x.mp4", "y.mp4", "z.avi"])
    cg.generate_configs(videos, cfg, tmp_path / "out", log=lambda _line: None)
    first = snapshot(tmp_path / "out")
    shutil.rmtree(tmp_path / "out")
    cg.generate_configs(videos, cfg, tmp_path / "out", log=lambda _line: None)
    assert snapshot(tmp_path / "out") == first
    assert len([n for n in first if n.endswith(".yaml") and "_aug" in n]) == 6


def test_adding_a_video_never_changes_another_videos_variables(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path, n_aug=3)
    small = make_videos(tmp_path / "small", [f"v{i:02d}.mp4" for i in range(0, 20, 2)])
    large = make_videos(tmp_path / "large", [f"v{i:02d}.mp4" for i in range(20)])
    m_small = cg.generate_configs(small, cfg, tmp_path / "o1", log=lambda _line: None)
    m_large = cg.generate_configs(large, cfg, tmp_path / "o2", log=lambda _line: None)
    by_key = {(e["video_name"], e["aug_idx"]): e["sampled_vars"] for e in m_large["configs"]}
    assert len(m_small["configs"]) == 30
    for entry in m_small["configs"]:
        assert entry["sampled_vars"] == by_key[(entry["video_name"], entry["aug_idx"])]
    # and the seeds too
    for entry in m_small["configs"]:
        a = yaml.safe_load((tmp_path / "o1" / entry["config"]).read_text())["vda"]["seed"]
        b = yaml.safe_load((tmp_path / "o2" / entry["config"]).read_text())["vda"]["seed"]
        assert a == b
    # the draws are not all the same value (the generator really is per clip, not constant)
    assert len({tuple(v.items()) for v in by_key.values()}) > 3


def test_cookbook_name_changes_the_draws(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path)
    videos = make_videos(tmp_path, [f"v{i}.mp4" for i in range(30)])
    one = cg.generate_configs(videos, cfg, tmp_path / "a", cookbook="piazza", log=lambda _line: None)
    two = cg.generate_configs(videos, cfg, tmp_path / "b", cookbook="trailer_dashcam", log=lambda _line: None)
    assert [e["sampled_vars"] for e in one["configs"]] != [e["sampled_vars"] for e in two["configs"]]
    assert yaml.safe_load((tmp_path / "a" / "v0_aug0.yaml").read_text())["vda"]["cookbook"] == "piazza"


def test_sampling_follows_the_weights_and_never_picks_zero(tmp_path: Path) -> None:
    variables = cg.parse_variables({"w": {"a": 0.7, "never": 0.0, "b": 0.3}})
    counts = Counter(cg.sample_variables(variables, cg.clip_seed("cb", f"v{i}", 0))["w"] for i in range(3000))
    assert counts["never"] == 0
    assert 0.65 < counts["a"] / 3000 < 0.75


@pytest.mark.parametrize(
    ("variables", "fragment"),
    [
        ({"weather": {"clear": 0.5, "rain": 0.4}}, "weather"),
        ({"weather": {"clear": 0.5, "rain": "half"}}, "weather"),
        ({"time_of_day": {"day": 1.5, "night": -0.5}}, "time_of_day"),
        ({"lighting": {"on": True, "off": 0}}, "lighting"),
        ({"surface": {}}, "surface"),
        ({"surface": 3}, "surface"),
    ],
)
def test_bad_weights_are_rejected_naming_the_variable(tmp_path: Path, variables: dict, fragment: str) -> None:
    cfg = make_cookbook(tmp_path, variables)
    videos = make_videos(tmp_path, ["a.mp4"])
    with pytest.raises(cg.ConfigGenError) as err:
        cg.generate_configs(videos, cfg, cfg, log=lambda _line: None)
    assert f"'{fragment}'" in err.value.message
    assert isinstance(err.value, InputError)  # inside the package it is part of the SkillError tree
    assert err.value.remedy


def test_weights_within_tolerance_and_lists_are_accepted() -> None:
    parsed = cg.parse_variables({"w": {"a": 0.1, "b": 0.2, "c": 0.7000004}, "l": ["x", "y"]})
    assert parsed["l"] == {"x": 0.5, "y": 0.5}


def test_duplicate_video_names_and_missing_inputs_are_errors(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path)
    videos = make_videos(tmp_path, ["a.mp4"])
    (videos / "sub").mkdir()
    (videos / "sub" / "a.avi").write_bytes(b"x")
    with pytest.raises(cg.ConfigGenError, match="share the name"):
        cg.generate_configs(videos, cfg, cfg, log=lambda _line: None)
    with pytest.raises(cg.ConfigGenError, match="does not exist"):
        cg.generate_configs(tmp_path / "missing", cfg, cfg, log=lambda _line: None)
    (videos / "sub" / "a.avi").unlink()
    with pytest.raises(cg.ConfigGenError, match="No pipeline config"):
        cg.generate_configs(videos, tmp_path / "videos", cfg, log=lambda _line: None)


def test_n_augmentations_override_and_json_pipeline_config(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg"
    (cfg / "augmentation").mkdir(parents=True)
    (cfg / "augmentation" / "augmentation.yaml").write_text(yaml.safe_dump(BASE_AUG))
    (cfg / "input_config.json").write_text('{"augmentation": {"variables": {"lighting": {"dim": 1.0}}}}')
    videos = make_videos(tmp_path, ["only.mp4"])
    manifest = cg.generate_configs(videos, cfg, tmp_path / "o", n_augmentations=3, log=lambda _line: None)
    assert [e["config"] for e in manifest["configs"]] == ["only_aug0.yaml", "only_aug1.yaml", "only_aug2.yaml"]
    assert all(e["sampled_vars"] == {"lighting": "dim"} for e in manifest["configs"])
    assert yaml.safe_load((tmp_path / "o" / "only_aug2.yaml").read_text())["vda"]["cookbook"] == "custom"


def _run_standalone(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a copy of configs.py with an isolated interpreter: no skill package, as in the container."""
    staged = tmp_path / "stage" / "generate_configs.py"
    staged.parent.mkdir(exist_ok=True)
    shutil.copy(CONFIGS_PY, staged)
    return subprocess.run(
        [sys.executable, "-I", str(staged), *args], capture_output=True, text=True, cwd=tmp_path / "stage", timeout=60
    )


def test_cli_usage_errors_exit_1(tmp_path: Path) -> None:
    for argv in ([], ["only-one"], ["a", "b"], ["a", "b", "c", "d"], ["a", "b", "c", "--n-augmentations", "0"]):
        proc = _run_standalone(tmp_path, *argv)
        assert proc.returncode == 1, (argv, proc.stderr)
        assert "usage:" in proc.stderr


def test_cli_runs_standalone_and_prints_upstream_lines(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path)
    videos = make_videos(tmp_path, ["a.mp4", "b.mp4"])
    proc = _run_standalone(tmp_path, str(videos), str(cfg), str(cfg))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "Found 2 videos"
    assert lines[1].startswith("Generated: a_aug0.yaml (") and lines[2].startswith("Generated: b_aug0.yaml (")
    assert lines[-1] == "Generated 2 config files"
    # same bytes as the in-package function
    standalone = snapshot(cfg)
    cg.generate_configs(videos, cfg, cfg, log=lambda _line: None)
    assert snapshot(cfg) == standalone


def test_cli_reports_bad_weights_without_a_traceback(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path, {"weather": {"clear": 0.9}})
    videos = make_videos(tmp_path, ["a.mp4"])
    proc = _run_standalone(tmp_path, str(videos), str(cfg), str(cfg))
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("ERROR: [config-generation-failed]") and "'weather'" in proc.stderr


@pytest.mark.parametrize("scene", ["city_traffic", "warehouse", "robot_assembly", "piazza", "trailer_dashcam"])
def test_repository_cookbooks_generate(tmp_path: Path, scene: str) -> None:
    source = REPO / "assets" / "cookbooks" / scene
    if not (source / "workflow_config.yaml").is_file():
        pytest.skip(f"cookbook {scene} not in this checkout yet")
    cfg = tmp_path / "configs"
    shutil.copytree(source, cfg)
    videos = make_videos(tmp_path, ["03_IllegalOccupation_020_10FPS.mp4", "goal_0086_0hz_6sec.mp4"])
    manifest = cg.generate_configs(videos, cfg, cfg, log=lambda _line: None)
    assert manifest["total"] >= 2
    conf = yaml.safe_load((cfg / manifest["configs"][0]["config"]).read_text())
    assert conf["vda"]["cookbook"] == scene
    assert set(conf["captioning"]["llm"]["variables"]) == set(manifest["configs"][0]["sampled_vars"])


# --- the containers' config contracts (skill/engines/container_contract.py) --------------------------

SCENES = ["city_traffic", "warehouse", "robot_assembly", "piazza", "trailer_dashcam"]


@pytest.mark.parametrize("scene", SCENES)
def test_contracts_accept_every_shipped_cookbook(scene: str) -> None:
    checked = cc.check_cookbook(REPO / "assets" / "cookbooks" / scene)
    assert [Path(p).name for p in checked] == ["auto_labeling_config.yaml", "augmentation.yaml"]


@pytest.mark.parametrize("scene", SCENES)
def test_contract_accepts_every_generated_clip_config(tmp_path: Path, scene: str) -> None:
    cfg = tmp_path / "configs"
    shutil.copytree(REPO / "assets" / "cookbooks" / scene, cfg)
    videos = make_videos(tmp_path, ["a.mp4", "b.mp4"])
    manifest = cg.generate_configs(videos, cfg, cfg, n_augmentations=2, log=lambda _line: None)
    for entry in manifest["configs"]:
        clip = yaml.safe_load((cfg / entry["config"]).read_text())
        cc.check_config("augmentation", clip, source=entry["config"], overrides=cc.AUG_WORKER_OVERRIDES)
        # the per-clip keys are the ones the container reads
        assert isinstance(clip["augmentation"]["parameters"]["seed"], int)
        assert clip["captioning"]["llm"]["variables"] == {k: [v] for k, v in entry["sampled_vars"].items()}


def _cookbook_al() -> dict:
    return yaml.safe_load((REPO / "assets/cookbooks/city_traffic/auto_labeling/auto_labeling_config.yaml").read_text())


def _clip(tmp_path: Path) -> dict:
    cfg = tmp_path / "configs"
    shutil.copytree(REPO / "assets" / "cookbooks" / "city_traffic", cfg)
    manifest = cg.generate_configs(make_videos(tmp_path, ["a.mp4"]), cfg, cfg, log=lambda _line: None)
    return yaml.safe_load((cfg / manifest["configs"][0]["config"]).read_text())


def _rejected(kind: str, config: dict, overrides: tuple[str, ...] = ()) -> str:
    with pytest.raises(cc.ContainerConfigError) as err:
        cc.check_config(kind, config, source="the config", overrides=overrides)  # type: ignore[arg-type]
    assert err.value.code == "container-config-rejected" and err.value.remedy
    assert isinstance(err.value, InputError)
    return err.value.message


def test_al_contract_rejects_height_width_naming_the_key_path() -> None:
    config = _cookbook_al()
    sr = config["super_resolution"]
    sr["height"], sr["width"] = sr.pop("res_h"), sr.pop("res_w")
    message = _rejected("auto-labeling", config, cc.AL_WORKER_OVERRIDES)
    assert "super_resolution.height is not a key" in message and "super_resolution.width is not a key" in message


def test_al_contract_rejects_unknown_keys_anywhere_and_needs_the_endpoints() -> None:
    config = _cookbook_al()
    config["mcq_generation"]["window_metadata_extraction"]["bank"] = "x.json"
    config["labels"] = {}
    message = _rejected("auto-labeling", config, cc.AL_WORKER_OVERRIDES)
    assert "mcq_generation.window_metadata_extraction.bank is not a key" in message and "labels is not a key" in message
    # without the workers' endpoint overrides the MCQ stage has no VLM: the container stops there too
    assert "endpoints.vlm" in _rejected("auto-labeling", _cookbook_al())


def test_aug_contract_rejects_an_evaluators_mapping(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    clip["evaluators"] = {name: body for entry in clip["evaluators"] for name, body in entry.items()}
    assert "evaluators: Input should be a valid list" in _rejected("augmentation", clip)


def test_aug_contract_rejects_parameters_instead_of_params(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    check = clip["evaluators"][0]["hallucination_check"]
    check["parameters"] = check.pop("params")
    assert "evaluators[0].hallucination_check.parameters is not a key" in _rejected("augmentation", clip)


def test_aug_contract_rejects_two_evaluators_in_one_entry_and_upstream_override_keys(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    clip["evaluators"] = [{**clip["evaluators"][0], **clip["evaluators"][1]}]
    assert "evaluators[0]" in _rejected("augmentation", clip)
    # upstream's per-clip keys are not in the container's schema
    for key in ("cosmos.parameters.seed=7", "prompt_generation.seed=7", "video_captioning.parser=instruct"):
        assert f"{key.split('.')[0]} is not a key" in _rejected("augmentation", _clip(tmp_path / key[:5]), (key,))


def test_contract_errors_never_echo_values(tmp_path: Path) -> None:
    clip = _clip(tmp_path)
    secret = "nvapi-SECRETVALUE1234567890"
    clip["endpoints"]["vlm"]["token"] = secret
    clip["augmentation"]["parameters"]["seed"] = secret
    message = _rejected("augmentation", clip)
    assert "endpoints.vlm.token is not a key" in message and "augmentation.parameters.seed" in message
    assert secret not in message and "SECRETVALUE" not in message


def test_generate_configs_stops_on_a_config_the_container_would_reject(tmp_path: Path) -> None:
    cfg = tmp_path / "configs"
    shutil.copytree(REPO / "assets" / "cookbooks" / "warehouse", cfg)
    recipe = cfg / "augmentation" / "augmentation.yaml"
    data = yaml.safe_load(recipe.read_text())
    data["evaluators"][0]["hallucination_check"]["parameters"] = data["evaluators"][0]["hallucination_check"].pop("params")
    recipe.write_text(yaml.safe_dump(data))
    with pytest.raises(cg.ConfigGenError) as err:
        cg.generate_configs(make_videos(tmp_path, ["a.mp4"]), cfg, cfg, log=lambda _line: None)
    assert err.value.code == "container-config-rejected"
    assert "evaluators[0].hallucination_check.parameters" in err.value.message and "a_aug0.yaml" in err.value.message
    assert not (cfg / "a_aug0.yaml").exists()
    with pytest.raises(cc.ContainerConfigError, match=r"evaluators\[0\]\.hallucination_check\.parameters"):
        cc.check_cookbook(cfg)


def test_apply_overrides_sets_dotted_keys_like_the_containers() -> None:
    out = cc.apply_overrides({"data": [{"inputs": {"rgb": "a"}}], "pipeline": {}}, ["data.0.inputs.rgb=/v.mp4", "data.1.output.out_dir=/o",
                                                                                    "pipeline.gpu_ids=0", "super_resolution.enabled=false", "x.y=http://h:1/v1"])
    assert out["data"][0]["inputs"]["rgb"] == "/v.mp4" and out["data"][1]["output"]["out_dir"] == "/o"
    assert out["pipeline"]["gpu_ids"] == 0 and out["super_resolution"]["enabled"] is False and out["x"]["y"] == "http://h:1/v1"
    with pytest.raises(cc.ContainerConfigError):
        cc.apply_overrides({}, ["no-equals-sign"])


def test_an_empty_override_is_null_and_the_augmentation_container_rejects_a_null_model(tmp_path: Path) -> None:
    assert cc.apply_overrides({"a": {"b": "x"}}, ["a.b="])["a"]["b"] is None
    message = _rejected("augmentation", _clip(tmp_path), ("endpoints.llm.model=",))
    assert "endpoints.llm.model: Input should be a valid string" in message


def test_conditions_fix_variables_for_every_clip_and_are_recorded(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path, n_aug=3)
    videos = make_videos(tmp_path / "v", [f"v{i}.mp4" for i in range(4)])
    manifest = cg.generate_configs(videos, cfg, tmp_path / "o", conditions={"weather": "rain"}, log=lambda _line: None)
    assert {e["sampled_vars"]["weather"] for e in manifest["configs"]} == {"rain"}
    assert manifest["requested"] == {"weather": "rain"} and all(e["requested"] == {"weather": "rain"} for e in manifest["configs"])
    assert len({e["sampled_vars"]["time_of_day"] for e in manifest["configs"]}) > 1  # the others are still drawn


@pytest.mark.parametrize(("conditions", "named"), [({"season": "winter"}, "weather"), ({"weather": "snow"}, "rain")])
def test_a_condition_the_cookbook_lacks_lists_what_it_has(tmp_path: Path, conditions, named) -> None:
    cfg = make_cookbook(tmp_path)
    videos = make_videos(tmp_path / "v", ["a.mp4"])
    with pytest.raises(cg.ConfigGenError) as caught:
        cg.generate_configs(videos, cfg, tmp_path / "o", conditions=conditions, log=lambda _line: None)
    assert caught.value.code == "unknown-condition" and named in caught.value.message


def test_a_run_seed_reproduces_its_draws_and_another_seed_changes_them(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path, n_aug=2)
    videos = make_videos(tmp_path / "v", [f"v{i}.mp4" for i in range(10)])
    draws = lambda seed, out: [e["sampled_vars"] for e in cg.generate_configs(videos, cfg, tmp_path / out, seed=seed, log=lambda _l: None)["configs"]]  # noqa: E731
    assert draws(4711, "a") == draws(4711, "b")
    assert draws(4711, "a") != draws(4712, "c")


def test_the_command_line_takes_conditions_and_a_seed(tmp_path: Path) -> None:
    cfg = make_cookbook(tmp_path)
    videos = make_videos(tmp_path / "v", ["a.mp4", "b.mp4"])
    assert cg.main([str(videos), str(cfg), str(tmp_path / "o"), "--condition", "weather:rain", "--seed", "7"]) == 0
    manifest = yaml.safe_load((tmp_path / "o" / "manifest.yaml").read_text())
    assert manifest["seed"] == 7 and {e["sampled_vars"]["weather"] for e in manifest["configs"]} == {"rain"}

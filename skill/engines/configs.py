#!/usr/bin/env python3
"""Per-(video, augmentation) configs: sample the cookbook's variables and write one config each.

Standalone on purpose: the workflows stage this file into a plain Ubuntu container as
``/tmp/vda/generate_configs.py``, where only the standard library and PyYAML exist. Do not import
``skill`` here except the optional error base and container contract below.

Command line (upstream's shape, exit 1 on a usage error)::

    generate_configs.py <input_videos_dir> <config_dir> <output_dir> [--n-augmentations N] [--cookbook NAME]
                        [--condition VARIABLE:OPTION ...] [--seed N | --run-id RUN_ID] [--only STEM]

What it does:

* finds the videos (``*.mp4``, ``*.avi``, ``*.mkv``, any letter case, recursively), sorted by name;
* reads the pipeline config in ``config_dir``: the first of ``workflow_config.yaml``,
  ``input_config.json``, ``test_config.yaml``. Variables are ``augmentation.variables`` (a mapping
  ``option -> weight`` or a plain list meaning equal weights); weights must be numbers >= 0 that
  sum to 1 (within 1e-6);
* for every (video, aug_idx) draws one option per variable from its own random generator, seeded
  with sha256 of ``"<cookbook>/<video_name>/<aug_idx>[/<run seed>]"``. Adding or removing a video
  never changes what another video gets (upstream shared one generator across the sorted dataset).
  The run seed is ``--seed`` when given, else derived from ``--run-id`` (so each run draws anew and
  a resubmit of one run draws the same), else absent (upstream's per-clip draws);
* ``--condition variable:option[|option]`` draws that variable only from the options named;
* ``--only STEM[,STEM...]`` makes configs for those videos only (upstream's ``video``, or a fan-out
  batch), an error naming any that is absent;
* writes ``<output_dir>/<video>_aug<i>.yaml`` = the cookbook's augmentation config deep-merged
  with the per-clip values (lists are replaced, not merged), ``<output_dir>/manifest.yaml`` and
  ``<output_dir>/manifest.tsv`` (``config  video_name  aug_idx`` per line, manifest order, for
  shell workers that have no YAML parser).

Same inputs give byte-identical files.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import math
import os
import random
import re
import sys
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "PIPELINE_CONFIG_NAMES",
    "VIDEO_EXTENSIONS",
    "ConfigGenError",
    "apply_conditions",
    "clip_seed",
    "deep_merge",
    "find_videos",
    "generate_configs",
    "load_pipeline_config",
    "main",
    "parse_condition",
    "parse_variables",
    "run_seed_of",
    "sample_variables",
]

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv")  # standalone worker script: equal to skill.video_types.AUGMENT_DISCOVERY_SUFFIXES (tested)
PIPELINE_CONFIG_NAMES = ("workflow_config.yaml", "input_config.json", "test_config.yaml")
DEFAULT_AUGMENTATION_CONFIG = "augmentation/augmentation.yaml"
WEIGHT_TOLERANCE = 1e-6
MAX_AUGMENTATIONS = 1000
_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when this PyYAML has it: the same values

try:  # inside the skill package the error joins the SkillError tree; in a bare container it stands alone
    from skill.errors import InputError as _ErrorBase
except ImportError:  # pragma: no cover - exercised in the container, not in the test venv

    class _ErrorBase(Exception):  # type: ignore[no-redef]
        default_code = "invalid-input"

        def __init__(self, message: str, *, remedy: str | None = None, code: str | None = None) -> None:
            super().__init__(message)
            self.message, self.remedy, self.code, self.rule = message, remedy, code or self.default_code, None

        def __str__(self) -> str:
            text = f"[{self.code}] {self.message}"
            return f"{text} Next: {self.remedy}" if self.remedy else text


def _contract_checker() -> Any:
    """The container contract's ``check_config`` and its error class, imported when configs are
    checked (so routing a request, which reads the cookbook variables from here, loads no schema);
    None in the bare setup container, which has no pydantic and skips the check."""
    try:
        from skill.engines.container_contract import ContainerConfigError, check_config
    except ImportError:  # pragma: no cover - exercised in the container, not in the test venv
        return None
    return check_config, ContainerConfigError


class ConfigGenError(_ErrorBase):
    """The inputs of config generation are wrong (missing files, bad weights, clashing names)."""

    default_code = "config-generation-failed"


# --- inputs ------------------------------------------------------------------------------------


def find_videos(videos_dir: str | os.PathLike[str]) -> list[dict[str, str]]:
    """Every video under ``videos_dir`` as ``{path, name}``, sorted by name then path.

    Two videos with the same name (in different folders) would write the same config, so that is
    an error rather than a silent overwrite.
    """
    root = Path(videos_dir)
    if not root.is_dir():
        raise ConfigGenError(f"Video folder {root} does not exist.", remedy="Pass the folder that holds the dataset videos.")
    found: list[dict[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for filename in sorted(filenames):
            if filename.startswith(".") or not filename.lower().endswith(VIDEO_EXTENSIONS):
                continue
            path = os.path.abspath(os.path.join(dirpath, filename))
            found.append({"path": path, "name": os.path.splitext(filename)[0]})
    found.sort(key=lambda v: (v["name"], v["path"]))
    seen: dict[str, str] = {}
    for video in found:
        if video["name"] in seen:
            raise ConfigGenError(
                f"Two videos share the name '{video['name']}' ({seen[video['name']]} and {video['path']}).",
                remedy="Rename one of them; outputs are keyed by the video's file name without extension.",
            )
        seen[video["name"]] = video["path"]
    return found


def _read_structured(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
        return json.loads(text) if path.suffix == ".json" else yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigGenError(f"Cannot read {path} ({type(exc).__name__}).", remedy="Check the file exists and is UTF-8 text.") from exc
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise ConfigGenError(f"{path.name} is not valid {path.suffix.lstrip('.').upper()}: {exc}", remedy="Fix the syntax error it names.") from exc


def load_pipeline_config(config_dir: str | os.PathLike[str]) -> tuple[Path, dict[str, Any]]:
    """The first pipeline config that exists in ``config_dir`` and its content."""
    root = Path(config_dir)
    for name in PIPELINE_CONFIG_NAMES:
        candidate = root / name
        if candidate.is_file():
            data = _read_structured(candidate)
            if data is None:
                data = {}
            if not isinstance(data, dict):
                raise ConfigGenError(f"{candidate.name} must hold a mapping at the top level.", remedy="Start the file with keys such as augmentation:.")
            return candidate, data
    raise ConfigGenError(
        f"No pipeline config in {root} (looked for {', '.join(PIPELINE_CONFIG_NAMES)}).",
        remedy="Copy the cookbook's workflow_config.yaml into the config folder.",
    )


def _augmentation_section(pipeline: dict[str, Any]) -> dict[str, Any]:
    section = pipeline.get("augmentation")
    if section is None:
        return {}
    if not isinstance(section, dict):
        raise ConfigGenError("The pipeline config's 'augmentation' entry must be a mapping.", remedy="Use augmentation: {variables: ..., n_augmentations: ...}.")
    return section


def parse_variables(raw: Any) -> dict[str, dict[str, float]]:
    """Validate the variables block into ``{variable: {option: weight}}`` (insertion order kept).

    A plain list means equal weights. Weights must be numbers >= 0 that sum to 1 within 1e-6.
    """
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigGenError("augmentation.variables must be a mapping of variable -> options.", remedy="Write e.g. weather: {clear: 0.5, rain: 0.5}.")
    variables: dict[str, dict[str, float]] = {}
    for name, options in raw.items():
        var = str(name)
        if isinstance(options, list):
            if not options:
                raise ConfigGenError(f"Variable '{var}' has no options.", remedy=f"Give '{var}' at least one option.")
            share = 1.0 / len(options)
            weights = {str(option): share for option in options}
            if len(weights) != len(options):
                raise ConfigGenError(f"Variable '{var}' lists an option twice.", remedy=f"List each option of '{var}' once.")
        elif isinstance(options, dict):
            if not options:
                raise ConfigGenError(f"Variable '{var}' has no options.", remedy=f"Give '{var}' at least one option with a weight.")
            weights = {}
            for option, weight in options.items():
                if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
                    raise ConfigGenError(
                        f"Variable '{var}' option '{option}' has a weight that is not a number.",
                        remedy=f"Give every option of '{var}' a numeric weight; the weights sum to 1.",
                    )
                if weight < 0:
                    raise ConfigGenError(
                        f"Variable '{var}' option '{option}' has a negative weight ({weight}).",
                        remedy=f"Use weights >= 0 for '{var}'.",
                    )
                weights[str(option)] = float(weight)
            total = math.fsum(weights.values())
            if abs(total - 1.0) > WEIGHT_TOLERANCE:
                raise ConfigGenError(
                    f"The weights of variable '{var}' sum to {total:.6g}, not 1.",
                    remedy=f"Rebalance the weights of '{var}' so they add up to 1.0.",
                )
        else:
            raise ConfigGenError(
                f"Variable '{var}' must be a mapping option -> weight or a list of options.",
                remedy=f"Write e.g. {var}: " + "{a: 0.5, b: 0.5}.",  # no doubled brace: OSMO renders this file as Jinja
            )
        variables[var] = weights
    return variables


def _n_augmentations(section: dict[str, Any], override: int | None) -> int:
    value: Any = override if override is not None else section.get("n_augmentations", 1)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_AUGMENTATIONS:
        raise ConfigGenError(
            f"n_augmentations must be a whole number from 1 to {MAX_AUGMENTATIONS}.",
            remedy="Set augmentation.n_augmentations (or pass --n-augmentations) to e.g. 1.",
        )
    return value


def _cookbook_name(pipeline: dict[str, Any], section: dict[str, Any], override: str | None) -> str:
    name = override or pipeline.get("cookbook") or section.get("cookbook") or pipeline.get("name") or "custom"
    name = str(name)
    if not _SAFE_NAME.match(name):
        raise ConfigGenError("The cookbook name may hold only letters, digits, '.', '_' and '-'.", remedy="Pass --cookbook city_traffic (or another scene name).")
    return name


# --- sampling ----------------------------------------------------------------------------------


def clip_seed(cookbook: str, video_name: str, aug_idx: int, run_seed: int | None = None) -> int:
    """The seed of one (video, aug): sha256 of ``"<cookbook>/<video_name>/<aug_idx>"`` (plus
    ``"/<run_seed>"`` when a run seed is given) as an int. The same run seed gives the same looks;
    a new one new looks."""
    key = f"{cookbook}/{video_name}/{aug_idx}" + (f"/{run_seed}" if run_seed is not None else "")
    return int.from_bytes(hashlib.sha256(key.encode()).digest(), "big")


def run_seed_of(run_id: str) -> int:
    """The default run seed of a run id: 9 digits of its sha256, so it can be passed back as ``--seed``."""
    return int.from_bytes(hashlib.sha256(run_id.encode()).digest()[:8], "big") % 10**9


def parse_condition(text: str) -> tuple[str, str]:
    """``weather:rain`` (or ``weather=rain``) -> ``("weather", "rain")``."""
    name, sep, option = text.replace("=", ":", 1).partition(":")
    if not sep or not name.strip() or not option.strip():
        raise ConfigGenError(f"The condition '{text[:80]}' is not variable:option.", remedy="Write e.g. weather:rain.", code="invalid-condition")
    return name.strip(), option.strip()


def apply_conditions(variables: dict[str, dict[str, float]], conditions: dict[str, str]) -> dict[str, dict[str, float]]:
    """The variables with each requested one drawn only from its options (``rain``, or ``rain|snow``
    at equal weights). A variable or option the cookbook does not have is an error that lists the
    ones it has."""
    fixed = dict(variables)
    for name, option in conditions.items():
        if name not in variables:
            raise ConfigGenError(f"The cookbook has no variable '{name}'; it has {', '.join(variables) or 'none'}.",
                                 remedy=f"Ask for one of: {', '.join(variables) or 'none'}.", code="unknown-condition")
        options = [o for o in option.split("|") if o]
        for one in options or [option]:
            if one not in variables[name]:
                raise ConfigGenError(f"The cookbook's {name} has no option '{one}'; it has {', '.join(variables[name])}.",
                                     remedy=f"Pick one of: {', '.join(variables[name])}.", code="unknown-condition")
        fixed[name] = {one: 1.0 / len(options) for one in options}
    return fixed


def sample_variables(variables: dict[str, dict[str, float]], seed: int) -> dict[str, str]:
    """One option per variable, drawn in the variables' order from a generator seeded by ``seed``.

    Each draw is one ``random()`` against the cumulative weights, so options with weight 0 are
    never picked.
    """
    rng = random.Random(seed)
    picked: dict[str, str] = {}
    for name, weights in variables.items():
        u = rng.random()
        cumulative = 0.0
        choice = None
        for option, weight in weights.items():
            if weight <= 0:
                continue
            cumulative += weight
            choice = option
            if u < cumulative:
                break
        if choice is None:
            raise ConfigGenError(f"Variable '{name}' has no option with a weight above 0.", remedy=f"Give an option of '{name}' a positive weight.")
        picked[name] = choice
    return picked


# --- writing -----------------------------------------------------------------------------------


def deep_merge(base: Any, override: Any) -> Any:
    """Merge ``override`` into a copy of ``base``: mappings merge key by key, anything else replaces."""
    if isinstance(base, dict) and isinstance(override, dict):
        merged = copy.deepcopy(base)
        for key, value in override.items():
            merged[key] = deep_merge(merged[key], value) if key in merged else copy.deepcopy(value)
        return merged
    return copy.deepcopy(override)


def _dump(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True, width=120)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _clip_config(
    base: dict[str, Any], video: dict[str, str], aug_idx: int, sampled: dict[str, str], seed: int, cookbook: str, output_dir: Path
) -> dict[str, Any]:
    name = video["name"]
    clip_dir = output_dir / name / f"aug_{aug_idx}"
    base_data = base.get("data")
    first = base_data[0] if isinstance(base_data, list) and base_data and isinstance(base_data[0], dict) else {}
    data_entry = deep_merge(
        first,
        {
            "inputs": {"rgb": video["path"]},
            "output": {
                "video": str(clip_dir / "output.mp4"),
                "caption": str(clip_dir / "output.txt"),
                "metadata": str(clip_dir / "metadata.json"),
            },
        },
    )
    override = {
        "data": [data_entry],
        "augmentation": {"parameters": {"seed": seed, "inference_name": f"{name}_aug{aug_idx}"}},
    }
    config = deep_merge(base, override)
    captioning = config.get("captioning")
    if not isinstance(captioning, dict):
        captioning = config["captioning"] = {}
    llm = captioning.get("llm")
    if not isinstance(llm, dict):
        llm = captioning["llm"] = {}
    llm["variables"] = {var: [value] for var, value in sampled.items()}
    config["vda"] = {
        "video_name": name,
        "aug_idx": aug_idx,
        "sampled_vars": dict(sampled),
        "seed": seed,
        "cookbook": cookbook,
    }
    return config


def generate_configs(
    videos_dir: str | os.PathLike[str],
    config_dir: str | os.PathLike[str],
    output_dir: str | os.PathLike[str],
    *,
    n_augmentations: int | None = None,
    cookbook: str | None = None,
    conditions: dict[str, str] | None = None,
    seed: int | None = None,
    run_id: str | None = None,
    only: str | None = None,
    log: Any = None,
    check: bool = True,
) -> dict[str, Any]:
    """Write every per-(video, aug) config plus the manifest; return the manifest.

    ``log`` is a callable taking one line (default: print to stdout). With ``check`` (and pydantic
    importable) every config is first held against the augmentation container's contract
    (``skill.engines.container_contract``); one it would reject stops here, naming the key path.
    """
    say = log or print
    videos = find_videos(videos_dir)
    if only:
        wanted = [name for name in only.split(",") if name]
        missing = sorted(set(wanted) - {v["name"] for v in videos})
        if missing:
            raise ConfigGenError(f"No video named {', '.join(missing[:5])} in the dataset {videos_dir}.", code="video-not-in-dataset",
                                 remedy="Pass stems of clips the dataset holds (video or clips), or all_clips=true for every clip.")
        videos = [v for v in videos if v["name"] in set(wanted)]
    say(f"Found {len(videos)} videos")
    pipeline_path, pipeline = load_pipeline_config(config_dir)
    section = _augmentation_section(pipeline)
    requested = dict(conditions or {})
    run_seed = seed if seed is not None else (run_seed_of(run_id) if run_id else None)
    variables = apply_conditions(parse_variables(section.get("variables")), requested)
    count = _n_augmentations(section, n_augmentations)
    scene = _cookbook_name(pipeline, section, cookbook)
    base_name = section.get("config") or DEFAULT_AUGMENTATION_CONFIG
    base_path = (Path(config_dir) / str(base_name)).resolve()
    if not base_path.is_file():
        raise ConfigGenError(
            f"The augmentation config {base_name} named by {pipeline_path.name} is missing.",
            remedy="Copy the cookbook's augmentation/ folder into the config folder.",
        )
    base = _read_structured(base_path) or {}
    if not isinstance(base, dict):
        raise ConfigGenError(f"{base_path.name} must hold a mapping at the top level.", remedy="Use the cookbook's augmentation.yaml.")

    out = Path(os.path.abspath(output_dir))
    out.mkdir(parents=True, exist_ok=True)
    checker = _contract_checker() if check else None
    entries: list[dict[str, Any]] = []
    for video in videos:
        for aug_idx in range(count):
            full_seed = clip_seed(scene, video["name"], aug_idx, run_seed)
            seed = full_seed % (2**31)
            sampled = sample_variables(variables, full_seed)
            config = _clip_config(base, video, aug_idx, sampled, seed, scene, out)
            if checker is not None:
                check_config, contract_error = checker
                try:
                    check_config("augmentation", config, source=f"{video['name']}_aug{aug_idx}.yaml (from {base_path.name})")
                except contract_error as exc:
                    raise ConfigGenError(exc.message, remedy=exc.remedy, code=exc.code) from None
            (out / video["name"] / f"aug_{aug_idx}").mkdir(parents=True, exist_ok=True)
            file_name = f"{video['name']}_aug{aug_idx}.yaml"
            _write(out / file_name, _dump(config))
            entries.append(
                {
                    "video": video["path"],
                    "video_name": video["name"],
                    "aug_idx": aug_idx,
                    "config": file_name,
                    "sampled_vars": dict(sampled),
                    "requested": dict(requested),
                }
            )
            say(f"Generated: {file_name} ({json.dumps(sampled, sort_keys=False)})")
    manifest = {"configs": entries, "total": len(entries), "requested": requested, "seed": run_seed}
    _write(out / "manifest.yaml", _dump(manifest))
    _write(out / "manifest.tsv", "".join(f"{e['config']}\t{e['video_name']}\t{e['aug_idx']}\n" for e in entries))
    say(f"Generated {len(entries)} config files")
    return manifest


# --- command line ------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Upstream exits 1 on a usage error; argparse would exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(1)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError("must be a whole number") from exc
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(
        prog="generate_configs.py",
        description="Sample the cookbook's variables and write one augmentation config per (video, aug).",
    )
    parser.add_argument("input_videos_dir")
    parser.add_argument("config_dir")
    parser.add_argument("output_dir")
    parser.add_argument("--n-augmentations", type=_positive_int, default=None, help="override the cookbook's n_augmentations")
    parser.add_argument("--cookbook", default=None, help="scene name used in the seeds (default: the config's cookbook key)")
    parser.add_argument("--condition", action="append", default=[], metavar="VARIABLE:OPTION", help="fix a variable for every clip (repeatable)")
    parser.add_argument("--seed", type=int, default=None, help="run seed: the same seed reproduces the same draws")
    parser.add_argument("--run-id", default=None, help="derive the run seed from this run id when --seed is not given")
    parser.add_argument("--only", default=None, metavar="STEM", help="the video(s) to make configs for (file stems, comma-separated); default every video")
    args = parser.parse_args(argv)
    try:
        generate_configs(
            args.input_videos_dir,
            args.config_dir,
            args.output_dir,
            n_augmentations=args.n_augmentations,
            cookbook=args.cookbook,
            conditions=dict(parse_condition(c) for c in args.condition),
            seed=args.seed,
            run_id=args.run_id,
            only=args.only,
        )
    except ConfigGenError as exc:
        print(f"ERROR: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"ERROR: [config-generation-failed] could not write configs ({type(exc).__name__}: {exc.strerror}).", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Labels made ahead (skill.engines.label_ahead): a scene prepared in the run cache and adopted by
the label task is the scene a fresh run writes there, file for file; anything else is labeled anew."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from skill.engines.label import LabelRequest
from skill.engines.label_ahead import adopt, ahead_key, prepare
from skill.engines.synthetic import make_scene
from skill.paths import cookbooks_dir, skill_root

SCENE = cookbooks_dir() / "city_traffic" / "auto_labeling"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "augmented_video.mp4"
    make_scene(path, width=160, height=96, fps=10, seconds=2, seed=5, background="road")
    return path


def files(folder: Path) -> dict[str, bytes | str]:
    """Every entry of a scene: file bytes, or a link's target text (pipeline.log holds clock times)."""
    found: dict[str, bytes | str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            found[rel] = os.readlink(path)
        elif path.is_file() and rel != "logs/pipeline.log":
            found[rel] = path.read_bytes()
    return found


def request(clip: Path, out: Path, **changes) -> LabelRequest:
    base = dict(engine="classic", video=clip, output_dir=out, config=SCENE / "auto_labeling_config.yaml",
                question_bank=SCENE / "question_bank.json", sampled_vars={"weather": "rain"})
    return LabelRequest(**{**base, **changes})


def label_cli(req: LabelRequest, *extra: str) -> subprocess.CompletedProcess[str]:
    vars_file = req.output_dir.parent / "vars.json"
    vars_file.parent.mkdir(parents=True, exist_ok=True)
    vars_file.write_text(json.dumps(req.sampled_vars))
    argv = [sys.executable, "-m", "skill.engines.label", "--engine", req.engine, "--video", str(req.video), "--output-dir", str(req.output_dir),
            "--config", str(req.config), "--question-bank", str(req.question_bank), "--sampled-vars", str(vars_file), *extra]
    return subprocess.run(argv, capture_output=True, text=True, cwd=skill_root(), timeout=300, check=False)


def test_an_adopted_scene_is_what_a_fresh_run_writes_there(tmp_path: Path, clip: Path) -> None:
    final = tmp_path / "task" / "output" / "street_aug0"
    fresh = label_cli(request(clip, final))
    assert fresh.returncode == 0, fresh.stderr
    expected, expected_line = files(final), fresh.stdout
    for child in sorted(final.rglob("*"), reverse=True):
        child.unlink() if child.is_file() or child.is_symlink() else child.rmdir()
    cache = tmp_path / "cache"
    assert prepare(cache, request(clip, tmp_path / "ignored")) is not None
    adopted = label_cli(request(clip, final), "--ahead-cache", str(cache))
    assert adopted.returncode == 0 and adopted.stderr == ""
    assert adopted.stdout == expected_line  # the task's log line, output folder included
    assert files(final) == expected  # same files, same bytes, raw link aimed from the new place
    assert not (cache / "labels" / ahead_key(request(clip, final))).exists()  # moved out, not copied


def test_another_job_is_never_adopted(tmp_path: Path, clip: Path) -> None:
    cache = tmp_path / "cache"
    assert prepare(cache, request(clip, tmp_path / "x")) is not None
    assert adopt(cache, request(clip, tmp_path / "a", sampled_vars={"weather": "snow"})) is None
    assert adopt(cache, request(clip, tmp_path / "b", question_bank=None)) is None
    assert adopt(cache, request(clip, tmp_path / "c")) is not None


def test_a_failed_prepare_is_a_coded_line_and_no_entry(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video" * 50)
    done = subprocess.run([sys.executable, "-m", "skill.engines.label_ahead", "--cache", str(cache), "--engine", "classic",
                           "--video", str(broken), "--config", str(SCENE / "auto_labeling_config.yaml")],
                          capture_output=True, text=True, cwd=skill_root(), timeout=120, check=False)
    assert done.returncode == 1 and done.stdout == "" and done.stderr == ""
    log = (cache / "labels" / "prepare.log").read_text()
    assert "broken.mp4: [" in log and "Next: the label task labels this clip itself." in log
    assert [p.name for p in (cache / "labels").iterdir()] == ["prepare.log"]

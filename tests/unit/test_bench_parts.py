"""The engine work the benches compare a run against (benchmarks/_engine_parts.py) is the run's own:
the three engine calls make what the run's tasks make, and the floor they set is computed as the
bench row says."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks._engine_parts import Part, engine_calls, generate
from benchmarks.bench_run import parts_floor
from skill.engines.synthetic import make_scene


def test_the_engine_calls_make_the_outputs_of_the_runs_tasks(tmp_path: Path) -> None:
    clip = tmp_path / "clips" / "street.mp4"
    clip.parent.mkdir()
    make_scene(clip, width=160, height=96, fps=10, seconds=1, seed=3, background="road")
    work = tmp_path / "work"
    configs, config_dir = generate(clip, work, seed=1515)
    assert configs.name == "configs" and (config_dir / "street_aug0.yaml").is_file()
    parts = engine_calls(clip, config_dir, work)
    assert [part.name for part in parts] == ["augment", "label original", "label augmented"]
    assert all(part.wall > 0 and part.cpu > 0 for part in parts)
    assert (work / "aug" / "augmented_video.mp4").is_file()
    assert len(list((work / "compare" / "compare").glob("*.mp4"))) == 1  # the side-by-side, in the same pass
    for folder in ("orig", "augl"):
        labelled = {path.name for path in (work / folder).rglob("*") if path.is_file()}
        assert any(name.endswith("_tracking.mp4") for name in labelled), labelled  # as shipped: the overlay too


@pytest.mark.parametrize(("cores", "expected"), [(2, 15.0), (8, 7.0)])
def test_the_floor_is_the_cpu_over_the_cores_or_the_augment_then_label_chain(cores: int, expected: float) -> None:
    parts = [Part("augment", 4.0, 12.0), Part("label original", 5.0, 9.0), Part("label augmented", 3.0, 9.0)]
    floor, cpu, chain = parts_floor(parts, cores)
    assert (cpu, chain) == (30.0, 7.0)
    assert floor == pytest.approx(expected)

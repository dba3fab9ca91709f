"""vda run carries the looks asked for and the seed to the setup's draws (issue 10)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill.backends.local import LocalBackend
from skill.engines.synthetic import make_scene
from skill.errors import InputError
from skill.pipeline import RunRequest, run_pipeline


@pytest.fixture
def backend(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    for name in ("VDA_LOCAL_ROOT", "VDA_BACKEND", "VDA_SKILL_DIR"):
        monkeypatch.delenv(name, raising=False)
    return LocalBackend(tmp_path / "home" / ".vda" / "local")


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clips") / "street.mp4"
    make_scene(path, width=320, height=180, fps=10, seconds=1, seed=7, background="road")
    return path


def run(backend, ledger, clip, **kw):
    return run_pipeline(RunRequest(flow="augmentation_and_al", videos=[str(clip)], augmentations=3, **kw), backend=backend, ledger=ledger)


def test_words_and_pairs_fix_the_looks_of_every_augmentation(backend, ledger, clip):
    result = run(backend, ledger, clip, text="make rainy versions", conditions={"time_of_day": "night"})
    assert result.status == "COMPLETED"
    assert result.conditions == {"weather": ["rain"], "time_of_day": ["night"]}
    assert [v for _, v in sorted(result.sampled_vars.items())] == [{"weather": "rain", "time_of_day": "night"}] * 3
    assert any("Asked for weather=rain, time_of_day=night" in s for s in result.statements)


def test_a_seed_reproduces_the_draws_and_a_fresh_run_draws_anew(backend, ledger, clip):
    first = run(backend, ledger, clip, seed=4711)
    again = run(backend, ledger, clip, seed=4711)
    assert first.sampled_vars == again.sampled_vars and first.seed == 4711
    fresh = [run(backend, ledger, clip).sampled_vars for _ in range(2)]
    assert any(f != first.sampled_vars for f in fresh)


def test_a_look_the_cookbook_lacks_stops_before_anything_is_uploaded(backend, ledger, clip):
    with pytest.raises(InputError) as caught:
        run(backend, ledger, clip, cookbook="robot_assembly", text="rainy please")
    assert caught.value.code == "unknown-condition"
    assert not backend.storage.root.exists() or not any(backend.storage.root.rglob("*.mp4"))

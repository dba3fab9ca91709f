"""The local executor's gang rule (``VDA_LOCAL_GPUS``, issue 17): what passes locally also places on
an OSMO pool of that many GPUs. A group wider than the pool is refused at submit (OSMO would leave it
SCHEDULING for ever); ready groups start only when all their GPUs fit beside the placed ones; and
``vda run`` fans a many-clip run out by itself, as it does on OSMO."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill.backends.local import GANG_GPUS_ENV, LocalBackend, gang_gpus_from_env
from skill.errors import InputError
from skill.render import render_text

WAIT = 30.0

TWO_GPU_GROUPS = """
workflow:
  name: gang
  resources:
    gpu_one:
      gpu: 1
  groups:
  - name: left
    tasks:
    - name: left_a
      lead: true
      image: ubuntu
      resource: gpu_one
      command: [bash, -c]
      args: ["sleep 0.6; echo a > {{output}}/done"]
    - name: left_b
      image: ubuntu
      resource: gpu_one
      command: [bash, -c]
      args: ["sleep 0.6; echo b > {{output}}/done"]
  - name: right
    tasks:
    - name: right_a
      image: ubuntu
      resource: gpu_one
      command: [bash, -c]
      args: ["sleep 0.6; echo c > {{output}}/done"]
"""


def _groups(backend: LocalBackend, text: str):
    workflow_id = backend.submit(render_text(text))
    status = backend.wait(workflow_id, WAIT)
    return status, {g.name: g for g in status.groups}


def test_without_the_rule_ready_groups_overlap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(GANG_GPUS_ENV, raising=False)
    status, groups = _groups(LocalBackend(tmp_path / "root"), TWO_GPU_GROUPS)
    assert status.status == "COMPLETED"
    assert groups["left"].start_time < groups["right"].end_time and groups["right"].start_time < groups["left"].end_time


def test_groups_that_do_not_fit_together_run_one_after_the_other(tmp_path: Path):
    status, groups = _groups(LocalBackend(tmp_path / "root", gpus=2), TWO_GPU_GROUPS)
    assert status.status == "COMPLETED"
    left, right = groups["left"], groups["right"]
    assert right.start_time >= left.end_time or left.start_time >= right.end_time  # 2 + 1 GPUs never placed at once


def test_three_gpus_place_both_groups_at_once(tmp_path: Path):
    status, groups = _groups(LocalBackend(tmp_path / "root", gpus=3), TWO_GPU_GROUPS)
    assert status.status == "COMPLETED"
    assert groups["left"].start_time < groups["right"].end_time and groups["right"].start_time < groups["left"].end_time


def test_a_group_wider_than_the_pool_is_refused_at_submit(tmp_path: Path):
    backend = LocalBackend(tmp_path / "root", gpus=1)
    with pytest.raises(InputError) as caught:
        backend.submit(render_text(TWO_GPU_GROUPS))
    assert caught.value.code == "group-unplaceable" and "left asks for 2 GPUs" in caught.value.message
    assert not any(backend.workflows_dir.iterdir())  # nothing was started


@pytest.mark.parametrize("raw", ["0", "-2", "eight", "1.5"])
def test_a_bad_pool_size_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, raw: str):
    monkeypatch.setenv(GANG_GPUS_ENV, raw)
    with pytest.raises(InputError) as caught:
        gang_gpus_from_env()
    assert caught.value.code == "invalid-values" and raw not in caught.value.message


def test_the_pool_reports_its_gpus_and_the_backend_says_it_gang_schedules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(GANG_GPUS_ENV, "8")
    backend = LocalBackend(tmp_path / "root")
    assert backend.gpus == 8 and backend.traits.gang_scheduled
    assert backend.pools()[0].gpu_free == 8
    monkeypatch.delenv(GANG_GPUS_ENV)
    assert not LocalBackend(tmp_path / "root").traits.gang_scheduled


def test_vda_run_fans_out_by_itself_under_the_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from skill.engines.synthetic import make_scene
    from skill.ledger import Ledger
    from skill.pipeline import RunRequest, run_pipeline

    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    clips = tmp_path / "clips"
    for seed, stem in enumerate(("a", "b", "c")):
        make_scene(clips / f"{stem}.mp4", width=160, height=96, fps=10, seconds=1, seed=seed, background="road")
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        result = run_pipeline(RunRequest(folder=str(clips), flow="e2e", augmentations=1, batch_size=1, timeout_s=300),
                              backend=LocalBackend(tmp_path / "root", gpus=2), ledger=ledger)
    assert result.status == "COMPLETED" and result.batches == 3
    assert any("at most 1 at once" in s for s in result.statements), result.statements  # e2e holds 2 GPU tasks at once: 2 GPUs place one batch

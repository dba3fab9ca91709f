"""ETAs from the real inputs: units from clip length, size and passes; a least-squares fit of this
machine's runs; OSMO's table scaled by clip length."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skill import flows
from skill.eta_model import ClipShape, LocalRate, estimate, estimate_batches, record_run, work_units

HD = ClipShape(seconds=10, width=1280, height=720)


def test_units_count_seconds_megapixels_and_passes():
    assert work_units("auto_labeling", [HD]) == pytest.approx(10)
    assert work_units("augmentation_and_al", [HD], augmentations=2) == pytest.approx(40)
    assert work_units("e2e", [HD, ClipShape(seconds=5, width=640, height=360)]) == pytest.approx((10 + 1.25) * 3)


def test_the_fit_recovers_fixed_cost_and_rate():
    rate = LocalRate()
    for units in (5, 10, 20, 40):
        rate = rate.add(units, 2.0 + 0.5 * units)
    fixed, per_unit = rate.fit()
    assert fixed == pytest.approx(2.0) and per_unit == pytest.approx(0.5)


def test_without_measurements_the_default_model_is_used_with_a_wide_range():
    local = estimate("auto_labeling", "local", [HD])
    predicted = (1.0 + 0.35 * 10) / 60
    assert "default model" in local.basis and local.minutes_per_clip_second is None
    assert local.flow_minutes.min_minutes == pytest.approx(0.5 * predicted, abs=0.002)
    assert local.flow_minutes.max_minutes == pytest.approx(2 * predicted, abs=0.002)


def test_after_runs_the_local_estimate_comes_from_them_and_is_stored():
    for seconds in (2, 8):
        record_run("auto_labeling", [ClipShape(seconds=seconds, width=1280, height=720)], 1, 1.0 + 0.25 * seconds)
    eta = estimate("auto_labeling", "local", [ClipShape(seconds=20, width=1280, height=720)])
    predicted_min = (1.0 + 0.25 * 20) / 60
    assert eta.flow_minutes.min_minutes == pytest.approx(0.7 * predicted_min, abs=0.002)
    assert eta.flow_minutes.max_minutes == pytest.approx(1.4 * predicted_min, abs=0.002)
    assert "measured on this machine over 2 run(s)" in eta.text()
    stored = json.loads(Path(os.environ["VDA_ETA_STORE"]).read_text())
    assert stored["auto_labeling"]["runs"] == 2


def test_a_broken_store_is_ignored_not_fatal():
    path = Path(os.environ["VDA_ETA_STORE"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{not json")
    assert "default model" in estimate("auto_labeling", "local", [HD]).basis
    assert record_run("auto_labeling", [HD], 1, 5.0).runs == 1


def test_osmo_scales_upstreams_table_by_clip_length():
    base = flows.eta("augmentation_and_al", backend="osmo").flow_minutes
    short = estimate("augmentation_and_al", "osmo", [ClipShape(seconds=10, width=1280, height=720)]).flow_minutes
    long = estimate("augmentation_and_al", "osmo", [ClipShape(seconds=80, width=1280, height=720)]).flow_minutes
    assert short.min_minutes == pytest.approx(base.min_minutes) and long.min_minutes > 4 * base.min_minutes


def test_runs_ending_at_once_in_one_process_each_store_without_error():
    """Two runs in one process (MCP over HTTP, threads) used to share a pid-named temp file, so
    one replace found its file already moved: FileNotFoundError at the end of a finished run."""
    import threading

    errors: list[BaseException] = []

    def record(n: int) -> None:
        try:
            for _ in range(60):
                record_run("auto_labeling", [ClipShape(seconds=2 + n, width=640, height=360)], 1, 1.5)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=record, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    assert json.loads(Path(os.environ["VDA_ETA_STORE"]).read_text())["auto_labeling"]["runs"] >= 60
    assert not [p for p in Path(os.environ["VDA_ETA_STORE"]).parent.iterdir() if p.name.startswith(".")]


def test_a_fanned_out_run_on_a_cluster_takes_one_batch_per_wave():
    clips = [HD] * 40
    one_batch = estimate("augmentation_and_al", "osmo", clips[:4])
    fanned = estimate_batches("augmentation_and_al", "osmo", clips, batches=10, max_in_flight=4, augmentations=1)
    assert fanned.flow_minutes.max_minutes == pytest.approx(one_batch.flow_minutes.max_minutes * 3, abs=0.1)  # 10 batches, 4 at once: 3 waves
    assert "3 wave(s)" in fanned.basis
    wider = estimate_batches("augmentation_and_al", "osmo", clips, batches=10, max_in_flight=10, augmentations=1)
    assert wider.flow_minutes.max_minutes < fanned.flow_minutes.max_minutes  # more capacity, shorter run


def test_a_fanned_out_run_on_this_machine_costs_its_whole_work_plus_a_start_per_batch(tmp_path, monkeypatch):
    monkeypatch.setenv("VDA_ETA_STORE", str(tmp_path / "eta.json"))
    clips = [HD] * 4
    whole = estimate("e2e", "local", clips)
    fanned = estimate_batches("e2e", "local", clips, batches=4, max_in_flight=4, augmentations=1)
    assert fanned.flow_minutes.min_minutes > whole.flow_minutes.min_minutes  # the batches share the cores: no speed-up
    assert "4 batches" in fanned.basis

"""Every spec a 1,000-clip fan-out submits is accepted by OSMO 6.3.1's own submit path and none is
over 200 KB. Sizes are measured on our reproduction of that path (``skill.render.render_submit``:
first render, localpath inlining, second render); acceptance is OSMO's (``osmo_render_driver.py``).
The batch specs of one plan differ only in fixed-length ids, so each distinct batch shape is
measured and the first, a middle and the last batch of every flow go through OSMO's code.
Skipped without VDA_OSMO_SOURCE / VDA_OSMO_PYTHON (conftest.py)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from skill import fanout
from skill.paths import skill_root, workflow_path
from skill.render import render_submit
from tests.contract.conformance.test_osmo_render import run_upstream, values_for

MAX_SPEC_BYTES = 200 * 1024
FLOWS = ("augmentation_and_al", "auto_labeling", "e2e", "e2e_super_resolution")
STEMS = [f"clip_{i:04d}" for i in range(1000)]


def _cases(flow: str, augmentations: int) -> list[tuple[str, dict[str, str]]]:
    plan = fanout.plan_batches(STEMS, run_id="run-00c0ffee", flow=flow, augmentations=augmentations, batch_size=4, max_in_flight=8)
    base = values_for(flow, skill_root())
    picked = {0: plan.batches[0], len(plan.batches) // 2: plan.batches[len(plan.batches) // 2], -1: plan.batches[-1]}
    picked |= {b.workers: b for b in plan.batches}  # one batch of each width
    return [(flow, fanout.batch_values(base, b, fanout.attempt_run_id(plan.run_id, b.index, 1))) for b in picked.values()]


def _size(flow: str, values: dict[str, str]) -> int:
    path = workflow_path(flow)
    return len(render_submit(path.read_text(encoding="utf-8"), set_string=values, template=flow, source=str(path)).submitted.encode())


@pytest.mark.parametrize("augmentations", [1, 6])
def test_every_batch_spec_of_a_thousand_clip_run_is_accepted_and_small(osmo_source: Path, osmo_python: Path, augmentations: int):
    cases = [case for flow in FLOWS for case in _cases(flow, augmentations)]
    results = run_upstream(osmo_python, osmo_source, cases)
    refused = [(flow, values["workers"], r.get("error")) for (flow, values), r in zip(cases, results) if not r["ok"]]
    assert not refused, refused
    sizes = {(flow, values["workers"]): _size(flow, values) for flow, values in cases}
    assert max(sizes.values()) <= MAX_SPEC_BYTES, sizes


def test_a_batch_downloads_only_its_clips(osmo_source: Path, osmo_python: Path):
    """Every task reading the dataset filters it with the batch's clips, as OSMO 6.3.1 renders and
    applies it (``re.match`` on the key under the prefix, ``src/lib/data/storage``); without
    ``clips`` the filter is empty (OSMO downloads everything)."""
    cases = [case for flow in FLOWS for case in _cases(flow, 1)[:2]]
    cases.append(("e2e", values_for("e2e", skill_root())))
    results = run_upstream(osmo_python, osmo_source, cases)
    assert all(r["ok"] for r in results), [r.get("error") for r in results]
    for (flow, values), result in zip(cases, results):
        dataset_inputs = [rx for inputs in result["url_regexes"].values() for url, rx in inputs if url.endswith("/datasets/" + values["dataset"])]
        assert dataset_inputs, flow
        if "clips" not in values:
            assert set(dataset_inputs) == {""}
            continue
        mine = {f"{c}.mp4" for c in values["clips"].split(",")}
        for rx in dataset_inputs:
            assert {s for s in (f"{c}.mp4" for c in STEMS) if re.match(rx, s)} == mine, (flow, rx)
            assert not re.match(rx, f"{sorted(mine)[0]}.json") and not re.match(rx, f"x{sorted(mine)[0]}")

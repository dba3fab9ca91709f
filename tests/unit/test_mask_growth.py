"""Hysteresis growth of the motion mask (skill.engines._mask_growth): the thin parts next to a blob."""

from __future__ import annotations

import numpy as np

from skill.engines._mask_growth import GROW_DIFF, FineBackground, grow_mask, reach_for


def _scene() -> tuple[np.ndarray, np.ndarray]:
    """A blob (the rider) with a thin faint stroke (the bicycle) touching it, and a lone streak."""
    mask = np.zeros((60, 120), np.uint8)
    mask[20:40, 30:40] = 255
    diff = np.zeros_like(mask)
    diff[20:40, 30:40] = 80
    diff[38:40, 22:30] = GROW_DIFF + 5  # the frame of the bicycle, 2 px thick, left of the rider
    diff[10:50, 100] = 60  # a rain streak in open ground, far from any blob
    return mask, diff


def test_thin_parts_next_to_a_blob_are_added_and_streaks_far_away_are_not():
    mask, diff = _scene()
    grown = grow_mask(mask, diff, reach=21)
    cols = np.flatnonzero(grown.any(axis=0))
    assert cols[0] == 22 and cols[-1] == 39  # the stroke joined (reach 21: 10 px either way)
    assert not grown[:, 100].any()


def test_growth_stops_at_its_reach_and_at_the_bar():
    mask, diff = _scene()
    assert np.flatnonzero(grow_mask(mask, diff, reach=9).any(axis=0))[0] == 26  # only its near end
    faint = np.where(diff == GROW_DIFF + 5, GROW_DIFF, diff).astype(np.uint8)
    assert np.array_equal(grow_mask(mask, faint, reach=21), mask)  # not above the bar: nothing added
    empty = np.zeros_like(mask)
    assert not grow_mask(empty, diff, reach=21).any()  # no blob, nothing to grow from


def test_reach_scales_with_the_analysis_width():
    assert reach_for(480) == 11 and reach_for(240) == 5 and reach_for(40) == 3


def test_fine_background_learns_at_its_rate():
    bg = FineBackground(rate=0.5)
    bg.prime([np.full((4, 4), v, np.uint8) for v in (10, 20, 30)])
    assert bg.difference(np.full((4, 4), 40, np.uint8))[0, 0] == 20  # against the median, 20
    assert bg.difference(np.full((4, 4), 40, np.uint8))[0, 0] == 10  # it learnt half the way

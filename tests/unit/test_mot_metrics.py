"""MOTA and IDF1 against small cases computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from skill.engines.mot_metrics import clear_mot, evaluate, identity, iou_matrix, read_mot, rows_to_sequence
from skill.errors import InputError

A = (0.0, 0.0, 10.0, 10.0)
B = (100.0, 0.0, 10.0, 10.0)


def seq(*frames):
    """seq([(id, box), ...], [...]) -> {1: [...], 2: [...]}"""
    return {i + 1: list(f) for i, f in enumerate(frames)}


def test_iou_matrix_known_values():
    iou = iou_matrix(np.array([[0, 0, 10, 10]]), np.array([[0, 0, 10, 10], [5, 0, 10, 10], [20, 20, 5, 5]]))
    assert iou.shape == (1, 3)
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[0, 1] == pytest.approx(50 / 150)
    assert iou[0, 2] == 0.0
    assert iou_matrix(np.zeros((0, 4)), np.array([A])).shape == (0, 1)


def test_perfect_tracking():
    gt = seq([(1, A), (2, B)], [(1, A), (2, B)], [(1, A), (2, B)])
    result = evaluate(gt, gt)
    assert result.mota == 1.0 and result.idf1 == 1.0
    assert (result.clear.fn, result.clear.fp, result.clear.idsw, result.clear.matches) == (0, 0, 0, 6)
    assert result.clear.motp == pytest.approx(1.0)


def test_one_false_positive():
    gt = seq([(1, A)], [(1, A)], [(1, A)], [(1, A)])
    hyp = seq([(1, A)], [(1, A), (9, B)], [(1, A)], [(1, A)])
    clear = clear_mot(gt, hyp)
    assert (clear.fp, clear.fn, clear.idsw) == (1, 0, 0)
    assert clear.mota == pytest.approx(1 - 1 / 4)
    ident = identity(gt, hyp)
    assert (ident.idtp, ident.idfp, ident.idfn) == (4, 1, 0)
    assert ident.idf1 == pytest.approx(8 / 9)


def test_one_miss():
    gt = seq([(1, A)], [(1, A)], [(1, A)], [(1, A)])
    hyp = seq([(1, A)], [], [(1, A)], [(1, A)])
    clear = clear_mot(gt, hyp)
    assert (clear.fp, clear.fn, clear.idsw) == (0, 1, 0)
    assert clear.mota == pytest.approx(0.75)
    assert identity(gt, hyp).idf1 == pytest.approx(6 / 7)


def test_identity_switch():
    # One object; the tracker calls it 1 for two frames, then 2.
    gt = seq([(1, A)], [(1, A)], [(1, A)], [(1, A)])
    hyp = seq([(1, A)], [(1, A)], [(2, A)], [(2, A)])
    clear = clear_mot(gt, hyp)
    assert (clear.fp, clear.fn, clear.idsw) == (0, 0, 1)
    assert clear.mota == pytest.approx(0.75)
    ident = identity(gt, hyp)
    assert (ident.idtp, ident.idfp, ident.idfn) == (2, 2, 2)
    assert ident.idf1 == pytest.approx(0.5)


def test_swapped_identities_idf1():
    # Two objects; the hypothesis ids swap half-way: each gt id keeps only half its frames.
    gt = seq([(1, A), (2, B)], [(1, A), (2, B)], [(1, A), (2, B)], [(1, A), (2, B)])
    hyp = seq([(7, A), (8, B)], [(7, A), (8, B)], [(8, A), (7, B)], [(8, A), (7, B)])
    ident = identity(gt, hyp)
    assert ident.idtp == 4 and ident.idfp == 4 and ident.idfn == 4
    assert ident.idf1 == pytest.approx(0.5)
    clear = clear_mot(gt, hyp)
    assert clear.idsw == 2
    assert clear.mota == pytest.approx(1 - 2 / 8)


def test_iou_below_threshold_is_not_a_match():
    shifted = (5.2, 0.0, 10.0, 10.0)  # IoU 4.8*10 / (200 - 48) = 0.316
    gt = seq([(1, A)])
    clear = clear_mot(gt, seq([(1, shifted)]))
    assert (clear.matches, clear.fn, clear.fp) == (0, 1, 1)
    assert clear.mota == pytest.approx(-1.0)
    assert clear_mot(gt, seq([(1, shifted)]), iou_threshold=0.3).matches == 1


def test_continuity_keeps_the_previous_match():
    # Frame 2: hypothesis 2 overlaps the object slightly better, but 1 was matched before and still
    # qualifies, so CLEAR keeps 1: no identity switch.
    near = (1.0, 0.0, 10.0, 10.0)
    gt = seq([(1, A)], [(1, A)])
    hyp = seq([(1, A)], [(1, near), (2, A)])
    clear = clear_mot(gt, hyp)
    assert clear.idsw == 0 and clear.fp == 1


def test_switch_counts_across_a_gap():
    gt = seq([(1, A)], [(1, A)], [(1, A)])
    hyp = seq([(1, A)], [], [(2, A)])
    clear = clear_mot(gt, hyp)
    assert (clear.fn, clear.idsw) == (1, 1)


def test_empty_sequences():
    assert clear_mot({}, {}).mota == 1.0
    assert identity({}, {}).idf1 == 1.0
    only_hyp = clear_mot({}, seq([(1, A)]))
    assert only_hyp.fp == 1 and math.isinf(only_hyp.mota)


def test_read_mot_and_rows(tmp_path):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,0,0,10,10,1,-1,-1,-1\n\n2,1,1,0,10,10,1,-1,-1,-1\n2,3,50,50,5,6,1,-1,-1,-1\n")
    data = read_mot(path)
    assert data == rows_to_sequence([(1, 1, 0, 0, 10, 10), (2, 1, 1, 0, 10, 10), (2, 3, 50, 50, 5, 6)])
    assert data[2][1] == (3, (50.0, 50.0, 5.0, 6.0))
    path.write_text("1,1,zero,0,10,10\n")
    with pytest.raises(InputError, match="Line 1"):
        read_mot(path)
    with pytest.raises(InputError, match="Cannot read"):
        read_mot(tmp_path / "missing.txt")

"""skill.engines._counted.percentiles equals np.percentile, bit for bit, on integer samples."""

from __future__ import annotations

import numpy as np
import pytest

from skill.engines._counted import percentiles


@pytest.mark.parametrize("seed", range(6))
def test_equals_numpy_percentile_on_random_samples(seed: int) -> None:
    rng = np.random.default_rng(seed)
    for _ in range(400):
        size = int(rng.integers(1, 600))
        sample = rng.integers(0, int(rng.integers(1, 256)), size)
        qs = (1, 2, 90, 98, 99, 0, 100, float(rng.random() * 100))
        expected = np.percentile(sample, qs).tolist()
        assert percentiles(np.bincount(sample), qs) == expected


def test_reads_columns_of_a_mask_as_numpy_reads_its_nonzero_positions() -> None:
    rng = np.random.default_rng(7)
    mask = rng.random((37, 53)) > 0.7
    ys, xs = np.nonzero(mask)
    assert percentiles(mask.sum(axis=0), (2, 98)) == np.percentile(xs, (2, 98)).tolist()
    assert percentiles(mask.sum(axis=1), (1, 99)) == np.percentile(ys, (1, 99)).tolist()


def test_uint8_values_as_the_labeler_passes_them() -> None:
    rng = np.random.default_rng(3)
    local = rng.integers(0, 256, (40, 30)).astype(np.uint8)
    inside = rng.random((40, 30)) > 0.5
    assert percentiles(np.bincount(local[inside], minlength=256), (90,)) == [float(np.percentile(local[inside], 90))]


def test_a_single_value_and_an_empty_sample() -> None:
    assert percentiles(np.array([0, 0, 1]), (2, 98)) == [2.0, 2.0]
    with pytest.raises(ValueError, match="empty"):
        percentiles(np.zeros(4, dtype=np.int64), (50,))

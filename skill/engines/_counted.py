"""Percentiles of small integer samples held as counts per value (issue 15).

The labeler trims each box to its object with three percentiles per box and frame: of the pixels'
differences from the background (grey levels 0-255) and of the kept pixels' columns and rows. On a
busy street that is some 20,000 ``np.percentile`` calls per 800 frames, most of whose time is the
call's own set-up. The samples are small integers, so a count per value (``np.bincount``, or a
mask summed along one axis) holds them already sorted; :func:`percentiles` reads the answer off
the running total with the same arithmetic as ``np.percentile``'s default ``linear`` method, so
the result is equal to it, bit for bit (tests/unit/test_counted.py compares them).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["percentiles"]


def percentiles(counts: np.ndarray, qs: Sequence[float]) -> list[float]:
    """``np.percentile(sample, qs)`` of the sample holding ``counts[v]`` copies of each value ``v``
    (``counts`` non-negative integers with a positive sum)."""
    running = np.cumsum(counts)
    n = int(running[-1])
    if n <= 0:
        raise ValueError("percentiles of an empty sample")
    spots: list[tuple[int, int, float]] = []  # (index below, index above, weight), as numpy sets them
    for q in qs:
        virtual = (n - 1) * (q / 100)
        if virtual >= n - 1:
            spots.append((n - 1, n - 1, 0.0))
        else:
            below = math.floor(virtual)
            spots.append((below, below + 1, virtual - below))
    wanted = [k for below, above, _ in spots for k in (below, above)]
    values = np.searchsorted(running, wanted, side="right").tolist()  # the value at each sorted index
    out = []
    for i, (_, _, gamma) in enumerate(spots):
        a, b = values[2 * i], values[2 * i + 1]
        step = b - a
        out.append(float(b - step * (1 - gamma)) if gamma >= 0.5 else float(a + step * gamma))
    return out

"""Minimum-cost assignment for the tracker's small matrices, without importing SciPy.

The tracker solves one assignment per frame between a handful of predicted tracks and a handful of
detections. ``scipy.optimize`` costs about 0.3 s to import, more than the assignments of a whole
clip, so small matrices are solved here: the shortest augmenting path method (Jonker-Volgenant, in
the form of D. F. Crouse, "On implementing 2D rectangular assignment algorithms", IEEE TAES 52(4),
2016), the method SciPy's ``linear_sum_assignment`` uses, with the same conventions (the shorter
side is the one assigned, candidate columns scanned from the last, ties broken toward a free
column), so both return the same pairs; ``tests/unit/test_label_assignment.py`` checks that on
random, tied and sentinel-filled matrices. Matrices with more than :data:`SMALL` cells go to SciPy.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["SMALL", "min_cost_assignment"]

SMALL = 400  # cells; beyond this the pure-Python loops lose to SciPy's import cost


def min_cost_assignment(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, cols)`` of a minimum-cost assignment of ``cost`` (2-D, finite), rows ascending, as
    ``scipy.optimize.linear_sum_assignment`` returns them."""
    matrix = np.asarray(cost, dtype=np.float64)
    if matrix.ndim != 2:
        raise ValueError("the cost matrix must be 2-D")
    n_rows, n_cols = matrix.shape
    if n_rows == 0 or n_cols == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    if not np.isfinite(matrix).all():
        raise ValueError("the cost matrix must be finite")
    if n_rows * n_cols > SMALL:
        from scipy.optimize import linear_sum_assignment  # heavy import, only for large matrices

        rows, cols = linear_sum_assignment(matrix)
        return rows.astype(np.int64), cols.astype(np.int64)
    transposed = n_cols < n_rows
    work = matrix.T if transposed else matrix
    col_of_row = _solve(work.tolist(), *work.shape)
    if transposed:  # rows of ``work`` are the original columns: report by original row
        order = sorted(range(len(col_of_row)), key=col_of_row.__getitem__)
        return np.array([col_of_row[k] for k in order], np.int64), np.array(order, np.int64)
    return np.arange(len(col_of_row), dtype=np.int64), np.array(col_of_row, np.int64)


def _solve(cost: list[list[float]], nr: int, nc: int) -> list[int]:
    """Column of each row (``nr <= nc``), by one shortest augmenting path per row."""
    u, v = [0.0] * nr, [0.0] * nc
    path = [-1] * nc
    col_of_row, row_of_col = [-1] * nr, [-1] * nc
    for start in range(nr):
        dist = [math.inf] * nc
        rows_seen, cols_seen = [False] * nr, [False] * nc
        todo = list(range(nc - 1, -1, -1))
        i, reach, sink = start, 0.0, -1
        while sink < 0:
            rows_seen[i] = True
            row, ui = cost[i], u[i]
            best, pick = math.inf, -1
            for k, j in enumerate(todo):
                reduced = reach + row[j] - ui - v[j]
                if reduced < dist[j]:
                    path[j], dist[j] = i, reduced
                if dist[j] < best or (dist[j] == best and row_of_col[j] == -1):
                    best, pick = dist[j], k
            if best == math.inf:
                raise ValueError("the cost matrix is infeasible")
            reach = best
            j = todo[pick]
            cols_seen[j] = True
            if row_of_col[j] == -1:
                sink = j
            else:
                i = row_of_col[j]
            todo[pick] = todo[-1]
            todo.pop()
        u[start] += reach
        for r in range(nr):
            if rows_seen[r] and r != start:
                u[r] += reach - dist[col_of_row[r]]
        for j in range(nc):
            if cols_seen[j]:
                v[j] -= reach - dist[j]
        j = sink
        while True:  # flip the path: every row on it takes the next column
            i = path[j]
            row_of_col[j] = i
            col_of_row[i], j = j, col_of_row[i]
            if i == start:
                break
    return col_of_row

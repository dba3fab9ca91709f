"""A SORT-style multi-object tracker: a constant-velocity Kalman filter per track, detections
assigned to predicted boxes by IoU with the Hungarian algorithm (:mod:`skill.engines._assignment`;
SciPy only for large matrices).

Offline refinements (the labeler sees the whole clip before it writes anything):

* a track that reaches ``min_hits`` matched frames keeps its earlier frames too (SORT would only
  report from the confirming frame on);
* short gaps inside a track (missed detections, brief occlusions) are filled by linear
  interpolation between the two observed boxes, up to ``max_gap`` frames;
* fragments of one object are joined: a track that starts shortly after another ended, where that
  one's motion was heading, at a similar size and of the same kind, continues it (``link_gap``);
* tracks seen on fewer than ``min_track_frames`` frames, or that never move (background-model
  ghosts), are dropped; the survivors are numbered 1.. in order of first appearance.

Boxes are ``[x1, y1, x2, y2]`` float arrays in pixels.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from skill.engines._assignment import min_cost_assignment

__all__ = ["SortTracker", "Track", "iou_xyxy"]


_LINK_REACH = 0.6  # a fragment continues another when it starts within this many box heights of where that one was heading
_VEHICLES = frozenset({"car", "truck", "bus", "motorcycle", "bicycle"})
_WHOLE = frozenset({"car", "truck", "bus"})  # seen in parts, these are rejoined (never people side by side)
_PART_INSIDE = 0.7  # a detection is a part of a predicted box when this share of it lies inside


def _label(live) -> str:
    return max(sorted(live.votes), key=lambda k: live.votes[k]) if live.votes else ""


def _group(live) -> str:
    label = _label(live)
    return "vehicle" if label in _VEHICLES else label


def _velocity(live) -> np.ndarray:
    """Centre motion per frame over the track's last second or so (its last ten observations)."""
    k = min(len(live.frames), 10)
    if k < 2:
        return np.zeros(2)
    first, last = _to_cxcywh(live.boxes[-k]), _to_cxcywh(live.boxes[-1])
    span = max(live.frames[-1] - live.frames[-k], 1)
    return (last[:2] - first[:2]) / span


def iou_xyxy(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every row of ``a`` (N, 4) and ``b`` (M, 4), both ``x1, y1, x2, y2``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


# --- Kalman filter on (cx, cy, w, h) with constant velocity ------------------------------------------

_DIAG = np.diag_indices(8)
_DIAG4 = np.diag_indices(4)


class _Kalman:
    def __init__(self, box: np.ndarray) -> None:
        self.x = np.zeros(8)
        self.x[:4] = _to_cxcywh(box)
        size = max(self.x[2], self.x[3], 1.0)
        self.P = np.diag([0.1, 0.1, 0.1, 0.1, 0.5, 0.5, 0.1, 0.1]) ** 2 * size**2

    def _size(self) -> tuple[float, float]:
        return max(self.x[2], 1.0), max(self.x[3], 1.0)

    def predict(self) -> np.ndarray:
        if self.x[2] + self.x[6] <= 1:
            self.x[6] = 0.0
        if self.x[3] + self.x[7] <= 1:
            self.x[7] = 0.0
        w, h = self._size()
        q = np.array([0.05 * w, 0.05 * h, 0.03 * w, 0.03 * h, 0.06 * w, 0.06 * h, 0.01 * w, 0.01 * h]) ** 2
        # x = F x and P = F P F' + Q with F = [[I, I], [0, I]], written out: every entry of each product
        # is a sum of at most two terms, so these are the matrix products' values exactly, without
        # building the 8x8 products (most of a track's time in a busy scene)
        x = self.x.copy()
        x[:4] += self.x[4:]
        p = self.P.copy()
        p[:4] += self.P[4:]
        fpf = p.copy()
        fpf[:, :4] += p[:, 4:]
        fpf[_DIAG] += q
        self.x, self.P = x, fpf
        return _to_xyxy(self.x[:4])

    def update(self, box: np.ndarray) -> None:
        w, h = self._size()
        r = np.array([0.08 * w, 0.08 * h, 0.12 * w, 0.12 * h]) ** 2
        z = _to_cxcywh(box)
        s = self.P[:4, :4].copy()  # H P H' with H = [I 0]
        s[_DIAG4] += r
        k = np.ascontiguousarray(self.P[:, :4]) @ np.linalg.inv(s)  # P H' S^-1, from the same contiguous 8x4 as P @ H'
        self.x = self.x + k @ (z - self.x[:4])
        kh = np.zeros((8, 8))
        kh[:, :4] = k
        self.P = (np.eye(8) - kh) @ self.P

    @property
    def box(self) -> np.ndarray:
        return _to_xyxy(self.x[:4])


def _to_cxcywh(box: np.ndarray) -> np.ndarray:
    x1, y1, x2, y2 = (float(v) for v in box)
    return np.array([(x1 + x2) / 2, (y1 + y2) / 2, max(x2 - x1, 1.0), max(y2 - y1, 1.0)])


def _to_xyxy(state: np.ndarray) -> np.ndarray:
    cx, cy, w, h = state[:4]
    w, h = max(w, 1.0), max(h, 1.0)
    return np.array([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])


# --- tracks ------------------------------------------------------------------------------------------


@dataclass
class Track:
    """A finished track: its id, class, and one box per frame it covers (observed or interpolated)."""

    track_id: int
    label: str
    frames: list[int]
    boxes: list[np.ndarray]
    observed: int = 0  # frames with a matched detection (the rest were interpolated)
    votes: dict[str, float] = field(default_factory=dict)

    def box_at(self, frame: int) -> np.ndarray | None:
        try:
            return self.boxes[self.frames.index(frame)]
        except ValueError:
            return None


@dataclass
class _Live:
    kf: _Kalman
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    votes: Counter = field(default_factory=Counter)
    hits: int = 0
    streak: int = 0
    misses: int = 0
    confirmed: bool = False


class SortTracker:
    """Feed it one frame of detections at a time with :meth:`step`, then call :meth:`finish`."""

    def __init__(self, *, max_age: int = 30, min_hits: int = 3, iou_threshold: float = 0.3, max_gap: int = 10,
                 min_motion: float = 0.25, frame_size: tuple[int, int] | None = None, link_gap: int | None = None) -> None:
        if max_age < 1 or min_hits < 1 or not 0.0 < iou_threshold <= 1.0:
            raise ValueError("max_age and min_hits must be >= 1 and iou_threshold in (0, 1]")
        self.max_age, self.min_hits, self.iou_threshold = max_age, min_hits, iou_threshold
        self.max_gap, self.min_motion, self.frame_size = max_gap, min_motion, frame_size
        self.link_gap = max_age if link_gap is None else link_gap  # 0: fragments are never joined
        self._live: list[_Live] = []
        self._done: list[_Live] = []
        self._last_frame = -1

    def step(self, frame: int, boxes: np.ndarray, labels: Sequence[str] | None = None,
             weights: Sequence[float] | None = None) -> list[tuple[int, np.ndarray]]:
        """Advance to ``frame`` with its detections. ``labels`` are class votes for each detection,
        ``weights`` how much each vote counts. Returns ``(index into live tracks, box)`` of the
        confirmed tracks matched in this frame (the live, SORT-style view)."""
        if frame <= self._last_frame:
            raise ValueError("frames must be fed in increasing order")
        self._last_frame = frame
        dets = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
        labels = list(labels) if labels is not None else ["object"] * len(dets)
        weights = list(weights) if weights is not None else [1.0] * len(dets)
        predicted = np.array([t.kf.predict() for t in self._live]).reshape(-1, 4)
        dets, labels, weights = self._rejoined(dets, labels, weights, predicted)
        merged = self._merged(dets, predicted)
        matches, unmatched_dets = self._associate(dets, predicted, skip=merged)
        unmatched_dets = [d for d in unmatched_dets if d not in merged]
        out = []
        matched_tracks = set()
        for t_idx, d_idx in matches:
            track = self._live[t_idx]
            track.kf.update(dets[d_idx])
            track.frames.append(frame)
            track.boxes.append(dets[d_idx].copy())
            track.votes[labels[d_idx]] += weights[d_idx]
            track.hits += 1
            track.streak += 1
            track.misses = 0
            if track.streak >= self.min_hits:
                track.confirmed = True
            matched_tracks.add(t_idx)
            if track.confirmed:
                out.append((t_idx, dets[d_idx].copy()))
        for t_idx, track in enumerate(self._live):
            if t_idx not in matched_tracks:
                track.misses += 1
                track.streak = 0
        for d_idx in unmatched_dets:
            fresh = _Live(kf=_Kalman(dets[d_idx]))
            fresh.frames.append(frame)
            fresh.boxes.append(dets[d_idx].copy())
            fresh.votes[labels[d_idx]] += weights[d_idx]
            fresh.hits = fresh.streak = 1
            fresh.confirmed = self.min_hits <= 1
            self._live.append(fresh)
        keep = []
        for t_idx, track in enumerate(self._live):
            gone = track.misses > self.max_age or (t_idx < len(predicted) and t_idx not in matched_tracks
                                                   and self._outside(predicted[t_idx]))
            (self._done if gone else keep).append(track)
        self._live = keep
        return out

    def _outside(self, box: np.ndarray) -> bool:
        """True when most of a predicted box has left the frame (the object walked or drove out)."""
        if self.frame_size is None:
            return False
        w, h = self.frame_size
        iw = max(0.0, min(box[2], w) - max(box[0], 0.0))
        ih = max(0.0, min(box[3], h) - max(box[1], 0.0))
        area = max((box[2] - box[0]) * (box[3] - box[1]), 1.0)
        return iw * ih < 0.3 * area

    def _merged(self, dets: np.ndarray, predicted: np.ndarray) -> set[int]:
        """Detections that swallow two or more confirmed tracks (people crossing, a car passing in
        front of a walker): they fit none of them, so the tracks coast through on prediction."""
        confirmed = [i for i, t in enumerate(self._live) if t.confirmed and i < len(predicted)]
        if len(confirmed) < 2 or not len(dets):
            return set()
        p = predicted[confirmed]
        iw = np.clip(np.minimum(p[:, None, 2], dets[None, :, 2]) - np.maximum(p[:, None, 0], dets[None, :, 0]), 0, None)
        ih = np.clip(np.minimum(p[:, None, 3], dets[None, :, 3]) - np.maximum(p[:, None, 1], dets[None, :, 1]), 0, None)
        p_area = np.maximum((p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1]), 1.0)
        covered = (iw * ih) / p_area[:, None] >= 0.5
        d_area = (dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1])
        out = set()
        for d in range(len(dets)):
            inside = np.nonzero(covered[:, d])[0]
            if len(inside) >= 2 and d_area[d] > 1.3 * p_area[inside].max():
                out.add(d)
        return out

    def _rejoined(self, dets: np.ndarray, labels: list[str], weights: list[float],
                  predicted: np.ndarray) -> tuple[np.ndarray, list[str], list[float]]:
        """Parts of one vehicle made whole: when a confirmed car (truck, bus) track's predicted box
        holds two or more detections that no other confirmed track claims (IoU), each mostly inside
        it, and their union fits the prediction better than any one of them, the parts become one
        detection (labelled as the largest part). A car clipped by the frame's edge looks like
        people side by side to the blob splitter; a grey car on grey ground falls into roof and boot."""
        confirmed = [i for i, t in enumerate(self._live) if t.confirmed and i < len(predicted)]
        if len(dets) < 2 or not confirmed:
            return dets, labels, weights
        iou = iou_xyxy(predicted, dets)
        area = np.maximum((dets[:, 2] - dets[:, 0]) * (dets[:, 3] - dets[:, 1]), 1.0)
        used: set[int] = set()
        joined: list[tuple[np.ndarray, list[int]]] = []
        for i in confirmed:
            if _label(self._live[i]) not in _WHOLE:
                continue
            p = predicted[i]
            iw = np.clip(np.minimum(p[2], dets[:, 2]) - np.maximum(p[0], dets[:, 0]), 0, None)
            ih = np.clip(np.minimum(p[3], dets[:, 3]) - np.maximum(p[1], dets[:, 1]), 0, None)
            inside = iw * ih / area
            others = [j for j in confirmed if j != i]
            parts = [d for d in range(len(dets)) if d not in used and inside[d] >= _PART_INSIDE
                     and not (others and iou[others, d].max() >= self.iou_threshold)]
            if len(parts) < 2:
                continue
            union = np.concatenate([dets[parts, :2].min(axis=0), dets[parts, 2:].max(axis=0)])
            fit = float(iou_xyxy(p[None], union[None])[0, 0])
            if fit >= self.iou_threshold and fit > float(iou[i, parts].max()):
                used.update(parts)
                joined.append((union, parts))
        if not joined:
            return dets, labels, weights
        rest = [d for d in range(len(dets)) if d not in used]
        boxes = [dets[d] for d in rest] + [union for union, _ in joined]
        labels = [labels[d] for d in rest] + [labels[max(parts, key=lambda d: area[d])] for _, parts in joined]
        weights = [weights[d] for d in rest] + [max(weights[d] for d in parts) for _, parts in joined]
        return np.array(boxes, dtype=np.float64).reshape(-1, 4), labels, weights

    def _associate(self, dets: np.ndarray, predicted: np.ndarray,
                   skip: set[int] = frozenset()) -> tuple[list[tuple[int, int]], list[int]]:
        if not len(predicted) or not len(dets):
            return [], list(range(len(dets)))
        iou = iou_xyxy(predicted, dets)
        if skip:
            iou[:, sorted(skip)] = 0.0
        rows, cols = min_cost_assignment(-iou)
        matches = [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if iou[r, c] >= self.iou_threshold]
        used_t = {m[0] for m in matches}
        used_d = {m[1] for m in matches}
        # Second chance for fast or jittery objects: centre distance relative to the predicted size.
        rest_t = [t for t in range(len(predicted)) if t not in used_t]
        rest_d = [d for d in range(len(dets)) if d not in used_d]
        if rest_t and rest_d:
            p = predicted[rest_t]
            d = dets[rest_d]
            pc = (p[:, :2] + p[:, 2:]) / 2
            dc = (d[:, :2] + d[:, 2:]) / 2
            scale = np.maximum(np.hypot(p[:, 2] - p[:, 0], p[:, 3] - p[:, 1]), 1.0)
            dist = np.linalg.norm(pc[:, None] - dc[None], axis=2) / scale[:, None]
            pa = (p[:, 2] - p[:, 0]) * (p[:, 3] - p[:, 1])
            da = (d[:, 2] - d[:, 0]) * (d[:, 3] - d[:, 1])
            ratio = np.minimum(pa[:, None], da[None]) / np.maximum(np.maximum(pa[:, None], da[None]), 1.0)
            cost = np.where((dist < 0.5) & (ratio > 0.5), dist, 1e6)
            for k, det_index in enumerate(rest_d):
                if det_index in skip:
                    cost[:, k] = 1e6
            r2, c2 = min_cost_assignment(cost)
            for r, c in zip(r2, c2, strict=True):
                if cost[r, c] < 1e6:
                    matches.append((rest_t[r], rest_d[c]))
                    used_d.add(rest_d[c])
        return matches, [d for d in range(len(dets)) if d not in used_d]

    def finish(self, *, min_track_frames: int = 1) -> list[Track]:
        """Close every track and return the kept ones, numbered 1.. by first appearance."""
        candidates = self._stitch([t for t in self._done + self._live if t.confirmed])
        self._done, self._live = [], []
        kept: list[Track] = []
        for live in sorted(candidates, key=lambda t: (t.frames[0], t.boxes[0][0], t.boxes[0][1])):
            if len(live.frames) < max(1, min_track_frames) or not self._moves(live):
                continue
            frames, boxes = self._fill_gaps(live.frames, live.boxes)
            label = max(sorted(live.votes), key=lambda k: live.votes[k])
            kept.append(Track(track_id=len(kept) + 1, label=label, frames=frames, boxes=boxes,
                              observed=len(live.frames), votes=dict(live.votes)))
        return kept

    def _stitch(self, tracks: list[_Live]) -> list[_Live]:
        """Join fragments of one object: a track that ends and another that starts within ``link_gap``
        frames where the first one's motion says it would be, at a similar size and of the same kind.
        Occlusions and merged blobs cut real tracks into pieces; each piece would count as an object."""
        if self.link_gap <= 0 or len(tracks) < 2:
            return tracks
        pairs = []
        for a in tracks:
            end, velocity, (cx, cy, _, h_a) = a.frames[-1], _velocity(a), _to_cxcywh(a.boxes[-1])
            kind_a = _group(a)
            for b in tracks:
                gap = b.frames[0] - end
                if b is a or not 0 < gap <= self.link_gap or _group(b) != kind_a:
                    continue
                bx, by, _, h_b = _to_cxcywh(b.boxes[0])
                if not 0.67 <= h_b / max(h_a, 1.0) <= 1.5:
                    continue
                miss = float(np.hypot(cx + velocity[0] * gap - bx, cy + velocity[1] * gap - by)) / max(h_a, h_b, 1.0)
                if miss <= _LINK_REACH:
                    pairs.append((miss, gap, id(a), id(b), a, b))
        nxt: dict[int, _Live] = {}
        prev: dict[int, _Live] = {}
        for _, _, ia, ib, a, b in sorted(pairs, key=lambda p: p[:2]):
            if ia in nxt or ib in prev:
                continue
            nxt[ia], prev[ib] = b, a
        out = []
        for head in tracks:
            if id(head) in prev:
                continue
            chain, node = head, head
            while id(node) in nxt:
                node = nxt[id(node)]
                chain = _Live(kf=chain.kf, frames=chain.frames + node.frames, boxes=chain.boxes + node.boxes,
                              votes=chain.votes + node.votes, hits=chain.hits + node.hits, confirmed=True)
            out.append(chain)
        return out

    def _moves(self, live: _Live) -> bool:
        if self.min_motion <= 0:
            return True
        centres = np.array([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for b in live.boxes])
        span = np.linalg.norm(centres.max(axis=0) - centres.min(axis=0))
        first = live.boxes[0]
        diag = float(np.hypot(first[2] - first[0], first[3] - first[1])) or 1.0
        return span >= self.min_motion * diag

    def _fill_gaps(self, frames: list[int], boxes: list[np.ndarray]) -> tuple[list[int], list[np.ndarray]]:
        out_f, out_b = [frames[0]], [boxes[0]]
        for f, b in zip(frames[1:], boxes[1:], strict=True):
            gap = f - out_f[-1]
            if 1 < gap <= self.max_gap + 1:
                start = out_b[-1]
                for k in range(1, gap):
                    w = k / gap
                    out_f.append(out_f[-1] + 1)
                    out_b.append(start * (1 - w) + b * w)
            out_f.append(f)
            out_b.append(b)
        return out_f, out_b

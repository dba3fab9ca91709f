"""Multi-object tracking metrics: CLEAR MOTA and identity IDF1, with numpy and scipy only.

Boxes are ``(x, y, w, h)`` in pixels; a sequence is ``{frame: [(id, box), ...]}`` (MOTChallenge
rows grouped by frame). A ground-truth box and a hypothesis box can match when IoU >= 0.5.

* MOTA = 1 - (FN + FP + IDSW) / GT. Per frame, pairs are matched by the Hungarian algorithm on IoU,
  with pairs that were matched in the previous frame preferred (the usual CLEAR continuity rule).
  An identity switch is counted when a ground-truth object is matched to a different hypothesis id
  than the one it was last matched to (its last match, however many frames ago).
* IDF1 = 2 IDTP / (2 IDTP + IDFP + IDFN). Ground-truth ids and hypothesis ids are paired once for
  the whole sequence by a min-cost bipartite matching that maximises the frames where the pair
  overlaps at IoU >= 0.5; IDTP counts those frames, IDFN/IDFP the rest of each side's boxes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from pydantic import BaseModel, ConfigDict
from scipy.optimize import linear_sum_assignment

from skill.errors import InputError

__all__ = [
    "ClearMetrics",
    "MotSequence",
    "load_mot_sequence",
    "tracks_as_hypothesis",
    "FrameBoxes",
    "IdentityMetrics",
    "MotSummary",
    "clear_mot",
    "evaluate",
    "identity",
    "iou_matrix",
    "read_mot",
    "rows_to_sequence",
]

Box = tuple[float, float, float, float]
FrameBoxes = Mapping[int, Sequence[tuple[int, Box]]]

_CONTINUITY_BONUS = 1000.0


class ClearMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mota: float
    num_gt: int
    num_hyp: int
    matches: int
    fn: int
    fp: int
    idsw: int
    motp: float  # mean IoU of matched pairs (1.0 = perfect overlap)


class IdentityMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    idf1: float
    idp: float
    idr: float
    idtp: int
    idfp: int
    idfn: int


class MotSummary(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    clear: ClearMetrics
    identity: IdentityMetrics

    @property
    def mota(self) -> float:
        return self.clear.mota

    @property
    def idf1(self) -> float:
        return self.identity.idf1


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU between every box of ``a`` (N, 4) and ``b`` (M, 4), both ``(x, y, w, h)``."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    if not len(a) or not len(b):
        return np.zeros((len(a), len(b)))
    ax2, ay2 = a[:, 0] + a[:, 2], a[:, 1] + a[:, 3]
    bx2, by2 = b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def _split(entries: Sequence[tuple[int, Box]]) -> tuple[np.ndarray, np.ndarray]:
    ids = np.array([int(e[0]) for e in entries], dtype=np.int64)
    boxes = np.array([e[1] for e in entries], dtype=np.float64).reshape(-1, 4)
    return ids, boxes


def _frames(gt: FrameBoxes, hyp: FrameBoxes) -> list[int]:
    return sorted(set(gt) | set(hyp))


def clear_mot(gt: FrameBoxes, hyp: FrameBoxes, *, iou_threshold: float = 0.5) -> ClearMetrics:
    """CLEAR MOT counts and MOTA over all frames of ``gt`` and ``hyp``."""
    last_match: dict[int, int] = {}  # gt id -> hyp id it was last matched to (any earlier frame)
    prev_frame_pairs: set[tuple[int, int]] = set()
    num_gt = num_hyp = matches = idsw = 0
    iou_sum = 0.0
    for frame in _frames(gt, hyp):
        g_ids, g_boxes = _split(gt.get(frame, ()))
        h_ids, h_boxes = _split(hyp.get(frame, ()))
        num_gt += len(g_ids)
        num_hyp += len(h_ids)
        pairs: set[tuple[int, int]] = set()
        if len(g_ids) and len(h_ids):
            iou = iou_matrix(g_boxes, h_boxes)
            valid = iou >= iou_threshold - 1e-12
            score = np.where(valid, iou, 0.0)
            for i, g in enumerate(g_ids):
                for j, h in enumerate(h_ids):
                    if valid[i, j] and (int(g), int(h)) in prev_frame_pairs:
                        score[i, j] += _CONTINUITY_BONUS
            rows, cols = linear_sum_assignment(-score)
            for i, j in zip(rows, cols, strict=True):
                if not valid[i, j]:
                    continue
                g, h = int(g_ids[i]), int(h_ids[j])
                pairs.add((g, h))
                matches += 1
                iou_sum += float(iou[i, j])
                if g in last_match and last_match[g] != h:
                    idsw += 1
                last_match[g] = h
        prev_frame_pairs = pairs
    fn, fp = num_gt - matches, num_hyp - matches
    mota = 1.0 - (fn + fp + idsw) / num_gt if num_gt else (1.0 if num_hyp == 0 else float("-inf"))
    return ClearMetrics(mota=mota, num_gt=num_gt, num_hyp=num_hyp, matches=matches, fn=fn, fp=fp, idsw=idsw,
                        motp=iou_sum / matches if matches else 0.0)


def identity(gt: FrameBoxes, hyp: FrameBoxes, *, iou_threshold: float = 0.5) -> IdentityMetrics:
    """IDF1 with one global assignment of ground-truth ids to hypothesis ids."""
    gt_index: dict[int, int] = {}
    hyp_index: dict[int, int] = {}
    gt_count: dict[int, int] = {}
    hyp_count: dict[int, int] = {}
    overlaps: dict[tuple[int, int], int] = {}
    for frame in _frames(gt, hyp):
        g_ids, g_boxes = _split(gt.get(frame, ()))
        h_ids, h_boxes = _split(hyp.get(frame, ()))
        for g in g_ids:
            gt_index.setdefault(int(g), len(gt_index))
            gt_count[int(g)] = gt_count.get(int(g), 0) + 1
        for h in h_ids:
            hyp_index.setdefault(int(h), len(hyp_index))
            hyp_count[int(h)] = hyp_count.get(int(h), 0) + 1
        if len(g_ids) and len(h_ids):
            ok = iou_matrix(g_boxes, h_boxes) >= iou_threshold - 1e-12
            for i, j in zip(*np.nonzero(ok), strict=True):
                key = (int(g_ids[i]), int(h_ids[j]))
                overlaps[key] = overlaps.get(key, 0) + 1
    total_gt, total_hyp = sum(gt_count.values()), sum(hyp_count.values())
    idtp = 0
    if gt_index and hyp_index and overlaps:
        weight = np.zeros((len(gt_index), len(hyp_index)))
        for (g, h), n in overlaps.items():
            weight[gt_index[g], hyp_index[h]] = n
        rows, cols = linear_sum_assignment(-weight)
        idtp = int(sum(weight[r, c] for r, c in zip(rows, cols, strict=True)))
    idfn, idfp = total_gt - idtp, total_hyp - idtp
    denom = 2 * idtp + idfp + idfn
    return IdentityMetrics(
        idf1=(2 * idtp / denom) if denom else 1.0,
        idp=idtp / total_hyp if total_hyp else (1.0 if not total_gt else 0.0),
        idr=idtp / total_gt if total_gt else 1.0,
        idtp=idtp,
        idfp=idfp,
        idfn=idfn,
    )


def evaluate(gt: FrameBoxes, hyp: FrameBoxes, *, iou_threshold: float = 0.5) -> MotSummary:
    """Both metric families at once."""
    return MotSummary(clear=clear_mot(gt, hyp, iou_threshold=iou_threshold),
                      identity=identity(gt, hyp, iou_threshold=iou_threshold))


def rows_to_sequence(rows: Iterable[Sequence[float]]) -> dict[int, list[tuple[int, Box]]]:
    """``[(frame, id, x, y, w, h, ...), ...]`` -> ``{frame: [(id, (x, y, w, h)), ...]}``."""
    out: dict[int, list[tuple[int, Box]]] = {}
    for row in rows:
        frame, oid = int(row[0]), int(row[1])
        out.setdefault(frame, []).append((oid, (float(row[2]), float(row[3]), float(row[4]), float(row[5]))))
    return out


def read_mot(path: str | Path) -> dict[int, list[tuple[int, Box]]]:
    """Read a MOTChallenge text file (``frame,id,x,y,w,h,...``; blank lines ignored)."""
    source = Path(path)
    try:
        lines = source.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InputError(f"Cannot read the MOT file {source.name}.", remedy="Check the path and permissions.") from exc
    rows = []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        parts = line.replace(" ", "").split(",")
        try:
            rows.append([float(p) for p in parts[:6]])
        except ValueError as exc:
            raise InputError(f"Line {number} of {source.name} is not a MOT row.",
                             remedy="Use frame,id,x,y,w,h[,conf,...] with numbers.") from exc
        if len(rows[-1]) < 6:
            raise InputError(f"Line {number} of {source.name} has fewer than 6 fields.",
                             remedy="Use frame,id,x,y,w,h[,conf,...].")
    return rows_to_sequence(rows)


# --- a real MOTChallenge sequence (a video of it plus its gt/gt.txt) --------------------------------------


class MotSequence(BaseModel):
    """Ground truth of a MOTChallenge sequence scaled to a video of it (often a re-encode at another size)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    frames: dict[int, list[tuple[int, tuple[float, float, float, float]]]]
    ids: int


def load_mot_sequence(gt_txt: str | Path, *, video_size: tuple[int, int]) -> MotSequence:
    """Read ``<seq>/gt/gt.txt`` (frame, id, x, y, w, h, flag, ...; rows with flag 0 are ignored, as
    MOTChallenge does) and scale it from the size ``<seq>/seqinfo.ini`` names to ``video_size``."""
    import configparser

    path = Path(gt_txt)
    info = configparser.ConfigParser()
    info.read(path.parent.parent / "seqinfo.ini")
    seq = info["Sequence"] if info.has_section("Sequence") else {}
    width, height = int(seq.get("imWidth", video_size[0])), int(seq.get("imHeight", video_size[1]))
    sx, sy = video_size[0] / width, video_size[1] / height
    frames: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        cells = line.split(",")
        if len(cells) < 6:
            continue
        if len(cells) > 6 and cells[6].strip() == "0":
            continue
        f, i, x, y, w, h = (float(c) for c in cells[:6])
        frames.setdefault(int(f), []).append((int(i), (x * sx, y * sy, w * sx, h * sy)))
    ids = len({i for rows in frames.values() for i, _ in rows})
    return MotSequence(name=str(seq.get("name", path.parent.parent.name)), frames=frames, ids=ids)


def tracks_as_hypothesis(tracks) -> dict[int, list[tuple[int, tuple[float, float, float, float]]]]:
    """Tracker output (``frames`` 0-based, ``boxes`` x1, y1, x2, y2) as 1-based MOT frames of (id, x, y, w, h)."""
    hyp: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {}
    for track in tracks:
        for frame, b in zip(track.frames, track.boxes, strict=True):
            hyp.setdefault(frame + 1, []).append((track.track_id, (float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1]))))
    return hyp

"""The classic (CPU, offline) labeler: one streaming pass over the frames that finds moving objects,
checks people with HOG, tracks everything, and measures the scene for the question bank.

* Motion: MOG2 background subtraction on a downscaled, median-blurred grey frame, opening + closing;
  on clips that are not dark the mask grows into the fine detail next to its blobs
  (:mod:`skill.engines._mask_growth`: a bicycle's frame, a pale top) and blobs where nothing moves
  are dropped as ghosts (:mod:`skill.engines._ghosts`); connected components -> candidate boxes.
* People: OpenCV's default HOG people detector run on crops around tall candidates every
  ``hog_every`` frames (cheap: a crop, not the whole frame); a hit votes "person" for that box.
* Classes: a HOG hit, the box's aspect ratio and its size relative to the frame pick person /
  bicycle / motorcycle / car / truck / bus, restricted to the cookbook's class list.
* Tracking: :class:`skill.engines._tracker.SortTracker`.
* Measurements (for the MCQ answers): brightness, contrast, saturation, haze (dark channel), warmth,
  specular glare and darkness of the lower half, foreground share (motion energy), on every
  ``measure_every``-th frame at a small size.

Size: detection, tracking glue and the scene measurements share one streaming pass over the frames
and its per-frame state, so they stay in one module; the assignment and the MCQ answers are apart.

The pass runs as two stages on two threads (:func:`skill.engines._read_ahead.read_ahead`): decoding,
the scene measurements and the motion model (:meth:`_MotionDetector.motion`) run ahead; blobs, the
people check and tracking (:meth:`_MotionDetector.boxes`, :class:`_PassState`) follow frame by frame.
Each stage keeps its own state and sees every frame in order, so the labels are those of one loop;
on an 80 s 768x576 clip the pass takes 8.7 s instead of 11.7 s for the same CPU time.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import av
import cv2
import numpy as np

from skill.engines._counted import percentiles
from skill.engines._cv_threads import opencv_in_this_thread
from skill.engines._ghosts import StillBlobs
from skill.engines._mask_growth import FineBackground, grow_mask, reach_for
from skill.engines._mcq import ClassicFacts
from skill.engines._read_ahead import read_ahead
from skill.engines._tracker import SortTracker, Track, iou_xyxy
from skill.engines.video_io import VideoInfo, VideoNotFound, VideoReadError, probe

__all__ = [
    "Analysis",
    "CLASS_GROUPS",
    "ClassicSettings",
    "SceneMeasures",
    "analyze_video",
    "classic_facts",
    "classify_box",
    "iter_video",
    "proximity_events",
    "split_upright",
]

log = logging.getLogger(__name__)

# Vehicle-like classes fall back inside their group when the cookbook does not list the first pick.
CLASS_GROUPS: dict[str, tuple[str, ...]] = {
    "person": ("person",),
    "bicycle": ("bicycle", "motorcycle"),
    "motorcycle": ("motorcycle", "bicycle"),
    "car": ("car", "truck", "bus"),
    "truck": ("truck", "car", "bus"),
    "bus": ("bus", "truck", "car"),
}
_PROC_MAX_WIDTH = 480  # motion analysis runs at most this wide
_MEASURE_SIZE = (160, 90)
_PRIME_SECONDS = 2.0  # the background model starts from the median of this much video...
_PRIME_MAX = 25  # ...but of at most this many frames


# --- decoding (grey from the Y plane, colour only when asked) ------------------------------------------


def _open_input(path: Path):
    if not path.is_file():
        raise VideoNotFound(f"Video {path.name} does not exist.", remedy="Check the --video path.")
    try:
        container = av.open(str(path))
    except (av.FFmpegError, OSError, ValueError) as exc:
        raise VideoReadError(f"{path.name} is not a readable video ({type(exc).__name__}).",
                             remedy="Pass an mp4/mkv/avi file that plays; re-export it if it was cut short.") from exc
    if not container.streams.video:
        container.close()
        raise VideoReadError(f"{path.name} has no video stream.", remedy="Pass a video file, not audio or an image.")
    return container


_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21", "gray"})


def _luma(frame: av.VideoFrame) -> np.ndarray:
    """The grey picture: the Y plane itself for 8-bit YUV (no colour conversion), else a conversion."""
    if frame.format.name in _LUMA_FIRST:
        plane = frame.planes[0]
        data = np.frombuffer(plane, np.uint8).reshape(plane.height, plane.line_size)
        return data[:, : plane.width].copy()
    return frame.to_ndarray(format="gray")


FrameTap = Callable[[av.VideoFrame, np.ndarray], None]


def iter_video(path: str | Path, *, color_every: int = 1,
               tap: FrameTap | None = None) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """Decode once: ``(index, grey frame, RGB frame or None)``; RGB only on every ``color_every``-th frame.
    ``tap(frame, grey)``, when given, also sees every decoded frame first (the tracking overlay takes
    its pictures from this same pass).

    A stream that breaks off mid-way raises ``video-unreadable`` (never a silent short read).
    """
    source = Path(path)
    container = _open_input(source)
    try:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        index = 0
        try:
            for frame in container.decode(stream):
                gray = _luma(frame)
                if tap is not None:
                    tap(frame, gray)
                rgb = frame.to_ndarray(format="rgb24") if color_every and index % color_every == 0 else None
                yield index, gray, rgb
                index += 1
        except (av.FFmpegError, ValueError) as exc:
            raise VideoReadError(f"{source.name} is damaged: decoding stopped after {index} frames.",
                                 remedy="Re-copy the file or re-export it from the source.") from exc
    finally:
        container.close()


# --- settings ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClassicSettings:
    classes: tuple[str, ...] = ("car", "truck", "bus", "motorcycle", "bicycle", "person")
    max_age: int = 30
    min_hits: int = 3
    iou_threshold: float = 0.3
    min_track_frames: int = 5
    hog_every: int = 3
    measure_every: int = 5
    max_gap: int = 10


# --- detection -----------------------------------------------------------------------------------------


_TIGHT_DIFF = 15  # grey levels from the background model that count as the object itself, not its rim...
_TIGHT_SHARE = 0.3  # ...or this share of the object's own contrast (90th pct), if lower
_DARK_CLIP = 100.0  # the background's 99th percentile below this: a dark clip, contrast is stretched


@dataclass
class _Motion:
    """A frame after stage one of the detection (:meth:`_MotionDetector.motion`)."""

    index: int
    gray: np.ndarray  # the full-size grey frame (the people check crops it)
    raw: np.ndarray  # at the analysis size, not blurred
    small: np.ndarray  # median-blurred
    picture: np.ndarray  # ``small`` as the motion model saw it (stretched on dark clips)
    mask: np.ndarray  # the motion model's mask after opening and closing
    fg_share: float  # its share of the frame
    fine_diff: np.ndarray | None  # |raw - fine background| (clips that are not dark)
    background: np.ndarray | None  # the motion model's background at this frame (not dark, something moving)


class _MotionDetector:
    """MOG2 on a downscaled grey frame. The model is primed with the per-pixel median of the first
    frames (so objects present at the start are not learnt as background and leave no ghosts), then
    learns slowly at a fixed rate (a time constant of about ten seconds). Off dark clips, the mask
    grows into the unblurred difference next to its blobs and blobs with no motion under them
    (ghosts) are dropped."""

    def __init__(self, width: int, height: int, fps: float) -> None:
        self.scale = min(1.0, _PROC_MAX_WIDTH / width)
        self.size = (max(16, int(round(width * self.scale))), max(16, int(round(height * self.scale))))
        self.fps = fps
        self.subtractor = cv2.createBackgroundSubtractorMOG2(history=500, varThreshold=25, detectShadows=False)
        self.learning_rate = min(0.02, 1.0 / (max(fps, 1.0) * 10.0))
        k = max(3, int(round(self.size[1] / 60)) | 1)
        self.open_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
        self.close_kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
        self.min_area = max(12.0, 0.0012 * self.size[0] * self.size[1])
        self.split = np.zeros(0, dtype=bool)  # per box of the last boxes(): a part of a split blob (a person)
        self.lut: np.ndarray | None = None
        # a median removes thin rain and snow streaks but must not eat small people in small frames
        self.median_k = 5 if self.size[0] >= 400 else 3
        self.fine = FineBackground(self.learning_rate)
        self.reach = reach_for(self.size[0])
        self.still = StillBlobs(fps)

    def shrink(self, gray: np.ndarray) -> np.ndarray:
        """The frame at the analysis size, not blurred (:meth:`motion` blurs it)."""
        return cv2.resize(gray, self.size, interpolation=cv2.INTER_AREA) if self.scale < 1.0 else gray

    def prime(self, smalls: list[np.ndarray]) -> None:
        """Start the background models from the median of ``smalls`` (already shrunk)."""
        if not smalls:
            return
        blurred = [cv2.medianBlur(s, self.median_k) for s in smalls]
        median = np.median(np.stack(blurred), axis=0).astype(np.uint8) if len(blurred) > 2 else blurred[0]
        self.lut = _stretch_lut(median)
        median = self._stretched(median)
        for _ in range(3):
            self.subtractor.apply(median, learningRate=1.0 if _ == 0 else 0.5)
        if self.lut is None:
            self.fine.prime(smalls)

    def _stretched(self, small: np.ndarray) -> np.ndarray:
        return small if self.lut is None else cv2.LUT(small, self.lut)

    def motion(self, index: int, gray: np.ndarray, raw: np.ndarray) -> _Motion:
        """Stage one of a frame (``raw`` from :meth:`shrink`): the MOG2 mask and what else depends on
        the models' state at this frame. Frames must come in order; :meth:`boxes` takes the result."""
        small = cv2.medianBlur(raw, self.median_k)
        picture = self._stretched(small)
        mask = self.subtractor.apply(picture, learningRate=self.learning_rate)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.open_kernel)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, self.close_kernel, iterations=2)
        moving = int(np.count_nonzero(mask))
        # a dark clip's picture is stretched and noisy: there the blurred mask alone decides
        fine = self.lut is None
        fine_diff = self.fine.difference(raw) if fine else None
        # the background as the model has it now, for trimming boxes (nothing to trim without a blob)
        background = self._background() if fine and moving else None
        return _Motion(index=index, gray=gray, raw=raw, small=small, picture=picture, mask=mask,
                       fg_share=moving / mask.size, fine_diff=fine_diff, background=background)

    def boxes(self, m: _Motion) -> np.ndarray:
        """Stage two: boxes (x1, y1, x2, y2, full-frame pixels) of the moving objects of ``m``, in
        frame order (the ghost check keeps a memory of recent frames)."""
        mask = m.mask
        if m.fine_diff is not None:
            mask = grow_mask(mask, m.fine_diff, reach=self.reach)
        self.still.push(m.raw)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        kept = [i for i in range(1, count)
                if stats[i, 4] >= self.min_area and stats[i, 2] >= 3 and stats[i, 3] >= 3]
        kept = [i for i in kept if not _is_reflection(i, kept, labels, stats, m.small)]
        if m.fine_diff is not None:
            kept = self.still.moving(kept, labels, stats)
        if not kept:
            self.split = np.zeros(0, dtype=bool)
            return np.zeros((0, 4))
        parts = [split_upright(labels, stats, i) for i in kept]
        self.split = np.array([len(p) > 1 for p in parts for _ in p], dtype=bool)
        boxes = [box for p in parts for box in p]
        boxes = self._tighten(boxes, m.picture, mask, m.background, m.fine_diff)
        return np.asarray(boxes, dtype=np.float64) / self.scale

    def _background(self) -> np.ndarray | None:
        bg = self.subtractor.getBackgroundImage()
        if bg is not None and bg.ndim == 3:
            bg = cv2.cvtColor(bg, cv2.COLOR_BGR2GRAY)
        return bg

    def _tighten(self, boxes: list[tuple[int, int, int, int]], small: np.ndarray, mask: np.ndarray, bg: np.ndarray | None,
                 fine_diff: np.ndarray | None) -> list[tuple[int, int, int, int]]:
        """Each box shrunk to the pixels that differ clearly from the background model (more than
        ``_TIGHT_DIFF`` grey levels, or ``_TIGHT_SHARE`` of the object's own contrast when that is
        lower; 2nd-98th percentile across, 1st-99th down): the mask's rim (soft edges, compression
        halo, the closing) made boxes about a third wider than the objects."""
        if not boxes or self.lut is not None or bg is None:
            return boxes  # a dark clip's stretched picture is too noisy to judge a rim by
        diff = cv2.absdiff(small, bg)
        if fine_diff is not None:
            diff = np.maximum(diff, fine_diff)  # the grown parts are judged by the fine difference
        out = []
        for x1, y1, x2, y2 in boxes:
            inside = mask[y1:y2, x1:x2] > 0
            local = diff[y1:y2, x1:x2]
            if not inside.any():
                out.append((x1, y1, x2, y2))
                continue
            # the object's own contrast sets the bar: a faint object in fog or at night keeps its pixels
            (contrast,) = percentiles(np.bincount(local[inside], minlength=256), (90,))
            bar = min(float(_TIGHT_DIFF), _TIGHT_SHARE * contrast)
            kept = (local > bar) & inside
            count = int(np.count_nonzero(kept))
            if count <= 10 or count < 0.2 * (x2 - x1) * (y2 - y1):
                out.append((x1, y1, x2, y2))  # too little contrast to trust: keep the mask's box
                continue
            lo_x, hi_x = percentiles(kept.sum(axis=0), (2, 98))  # the kept pixels' columns...
            lo_y, hi_y = percentiles(kept.sum(axis=1), (1, 99))  # ...and rows
            out.append((x1 + int(lo_x), y1 + int(lo_y), x1 + int(hi_x) + 1, y1 + int(hi_y) + 1))
        return out


# Splitting a blob of people walking side by side: the silhouette's top edge (per column, the height of
# the highest foreground pixel) has one hump per head; between two heads it drops to shoulder height.
_SPLIT_MIN_ASPECT = 0.55  # a blob narrower than this (w / h) is one upright person
_SPLIT_VALLEY = 0.88  # a dip below this share of the lower of its two neighbouring peaks separates heads
_SPLIT_MIN_PART = 0.2  # each part at least this wide (share of the blob height): a narrow person
_SPLIT_MAX_PART_ASPECT = 0.8  # each part at most this wide for its height: an upright person


def split_upright(labels: np.ndarray, stats: np.ndarray, i: int) -> list[tuple[int, int, int, int]]:
    """The boxes (x1, y1, x2, y2) of component ``i``: one, or one per person when its top edge shows
    two or more heads side by side (people walking together merge into one blob). Vehicles keep one
    box: their top edge has a single hump (the roof), and a wide low blob is not checked at all."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    whole = [(x, y, x + w, y + h)]
    if h < 20 or w < _SPLIT_MIN_ASPECT * h or w > 3.0 * h:
        return whole
    mask = labels[y : y + h, x : x + w] == i
    filled = mask.any(axis=0)
    top = np.where(filled, h - np.argmax(mask, axis=0), 0).astype(np.float32)
    k = max(3, int(round(0.06 * h)) | 1)
    profile = np.convolve(top, np.ones(k, np.float32) / k, mode="same")
    cuts = _valleys(profile, min_part=max(3, int(round(_SPLIT_MIN_PART * h))))
    if not cuts:
        return whole
    out = []
    for lo, hi in zip([0, *cuts], [*cuts, w], strict=True):
        rows = np.flatnonzero(mask[:, lo:hi].any(axis=1))
        cols = np.flatnonzero(mask[:, lo:hi].any(axis=0))
        if len(rows) and len(cols):
            out.append((x + lo + int(cols[0]), y + int(rows[0]), x + lo + int(cols[-1]) + 1, y + int(rows[-1]) + 1))
    # every part must stand like a person (narrower than tall); a dip in a vehicle's outline (a window,
    # a clipped cabin at the frame edge) gives squat parts and keeps the blob whole
    if len(out) < 2 or any((b[2] - b[0]) > _SPLIT_MAX_PART_ASPECT * (b[3] - b[1]) for b in out):
        return whole
    return out


def _valleys(profile: np.ndarray, *, min_part: int) -> list[int]:
    """Column indices where the profile dips well below a peak on each side (each part >= min_part wide),
    deepest first, then in order."""
    n = len(profile)
    if n < 2 * min_part + 1:
        return []
    left = np.maximum.accumulate(profile)  # left[c]: highest column in 0..c
    right = np.maximum.accumulate(profile[::-1])[::-1]  # right[c]: highest column in c..n-1
    inner = slice(min_part, n - min_part)
    ratio = profile[inner] / np.maximum(np.minimum(left[inner], right[inner]), 1e-6)
    if not len(ratio) or float(ratio.min()) >= _SPLIT_VALLEY:
        return []
    best = min_part + int(np.argmin(ratio))
    left = _valleys(profile[:best], min_part=min_part)
    right = [best + c for c in _valleys(profile[best:], min_part=min_part)]
    return [*left, best, *right]


def _stretch_lut(background: np.ndarray) -> np.ndarray | None:
    """A fixed contrast stretch for a dark clip (night, dim light): the 1st..99th percentile of the
    background spread over most of 0..255, so object/background differences clear MOG2's threshold as
    they would in daylight. None for clips that are not dark: there a stretch would mostly amplify
    rain streaks and reflections."""
    lo, hi = (float(v) for v in np.percentile(background, (1, 99)))
    if hi >= _DARK_CLIP or hi - lo < 8:
        return None
    gain = min(4.0, 230.0 / (hi - lo))
    values = (np.arange(256, dtype=np.float32) - lo) * gain + 12.0
    return np.clip(values, 0, 255).astype(np.uint8)


def _is_reflection(i: int, others: list[int], labels: np.ndarray, stats: np.ndarray, gray: np.ndarray) -> bool:
    """True when blob ``i`` looks like the mirror image of a blob above it (wet ground): it sits
    below that blob, aligned with it, its silhouette matches the upside-down silhouette better than
    the upright one, and it is fainter."""
    x, y, w, h = (int(v) for v in stats[i, :4])
    for j in others:
        if j == i:
            continue
        ax, ay, aw, ah = (int(v) for v in stats[j, :4])
        if y < ay + ah or not 0.65 <= h / max(ah, 1) <= 1.5 or not 0.65 <= w / max(aw, 1) <= 1.5:
            continue
        if abs((x + w / 2) - (ax + aw / 2)) > 0.3 * max(w, aw):
            continue
        me = (labels[y : y + h, x : x + w] == i).astype(np.uint8)
        above = cv2.resize((labels[ay : ay + ah, ax : ax + aw] == j).astype(np.uint8), (w, h),
                           interpolation=cv2.INTER_NEAREST)
        flipped = above[::-1]
        iou_flip = np.count_nonzero(me & flipped) / max(np.count_nonzero(me | flipped), 1)
        iou_up = np.count_nonzero(me & above) / max(np.count_nonzero(me | above), 1)
        if iou_flip < 0.5 or iou_flip < iou_up + 0.1:
            continue
        spread_me = float(gray[y : y + h, x : x + w][me > 0].std())
        spread_above = float(gray[ay : ay + ah, ax : ax + aw][labels[ay : ay + ah, ax : ax + aw] == j].std())
        if spread_me < spread_above:
            return True
    return False


class _PersonCheck:
    """HOG people detector on a crop around one candidate box."""

    def __init__(self) -> None:
        self.hog = cv2.HOGDescriptor()
        self.hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())

    def is_person(self, gray: np.ndarray, box: np.ndarray) -> bool:
        x1, y1, x2, y2 = box
        w, h = x2 - x1, y2 - y1
        if h < 24 or w < 8:
            return False
        pad_x, pad_y = 0.35 * w + 4, 0.15 * h + 4
        H, W = gray.shape[:2]
        cx1, cy1 = int(max(0, x1 - pad_x)), int(max(0, y1 - pad_y))
        cx2, cy2 = int(min(W, x2 + pad_x)), int(min(H, y2 + pad_y))
        crop = gray[cy1:cy2, cx1:cx2]
        if crop.size == 0:
            return False
        # The detector window is 64x128 with the person ~96 px tall inside it: scale the crop to match.
        factor = 104.0 / max(h, 1.0)
        crop = cv2.resize(crop, (max(72, int(crop.shape[1] * factor)), max(136, int(crop.shape[0] * factor))),
                          interpolation=cv2.INTER_LINEAR)
        found, weights = self.hog.detect(crop, hitThreshold=0.0, winStride=(8, 8), padding=(8, 8))
        return len(found) > 0 and float(np.max(weights)) > 0.3


def classify_box(box: np.ndarray, *, hog_hit: bool, frame_w: int, frame_h: int, allowed: tuple[str, ...]) -> str | None:
    """Pick a COCO class for a motion box from the HOG hit, aspect ratio and size; ``None`` when the
    shape points to a class the cookbook does not track."""
    w, h = float(box[2] - box[0]), float(box[3] - box[1])
    aspect = w / max(h, 1.0)
    rel_area = (w * h) / float(frame_w * frame_h)
    if hog_hit or aspect < 0.75:
        pick = "person"
    elif aspect < 1.25:
        pick = "bicycle" if rel_area < 0.01 else "motorcycle" if rel_area < 0.03 else "car"
    elif rel_area > 0.12 or (aspect > 3.2 and rel_area > 0.05):
        pick = "bus" if aspect > 2.8 else "truck"
    else:
        pick = "car"
    for candidate in CLASS_GROUPS.get(pick, (pick,)):
        if candidate in allowed:
            return candidate
    return None


# --- measurements --------------------------------------------------------------------------------------


@dataclass
class SceneMeasures:
    """Scene statistics averaged over the sampled frames (0-255 scales unless stated)."""

    brightness: float = 0.0
    contrast: float = 0.0
    saturation: float = 0.0  # 0..1
    haze: float = 0.0  # dark-channel mean, 0..1
    warmth: float = 0.0  # mean R - mean B
    lower_specular: float = 0.0  # share of bright, colourless pixels in the lower half
    lower_darkness: float = 0.0  # 1 - lower-half brightness / upper-half brightness
    motion_energy: float = 0.0  # mean foreground share per frame
    samples: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    moving_tracks: int = 0
    collision: bool = False
    near_miss: bool = False
    proximity_note: str = ""

    def as_dict(self) -> dict[str, object]:
        out = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in self.__dict__.items()}
        return out


class _Measurer:
    def __init__(self) -> None:
        self.sums = np.zeros(7)
        self.samples = 0

    def add(self, rgb: np.ndarray) -> None:
        small = cv2.resize(rgb, _MEASURE_SIZE, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        sat = hsv[..., 1].astype(np.float32) / 255.0
        dark = cv2.erode(small.min(axis=2), np.ones((5, 5), np.uint8)).astype(np.float32) / 255.0
        half = small.shape[0] // 2
        lower_hsv = hsv[half:]
        specular = np.count_nonzero((lower_hsv[..., 2] > 225) & (lower_hsv[..., 1] < 40)) / lower_hsv[..., 0].size
        upper_mean, lower_mean = float(gray[:half].mean()), float(gray[half:].mean())
        self.sums += np.array([
            gray.mean(), gray.std(), sat.mean(), dark.mean(),
            float(small[..., 0].mean()) - float(small[..., 2].mean()), specular,
            1.0 - lower_mean / max(upper_mean, 1.0),
        ])
        self.samples += 1

    def result(self, motion_energy: float) -> SceneMeasures:
        mean = self.sums / max(self.samples, 1)
        return SceneMeasures(brightness=float(mean[0]), contrast=float(mean[1]), saturation=float(mean[2]),
                             haze=float(mean[3]), warmth=float(mean[4]), lower_specular=float(mean[5]),
                             lower_darkness=float(mean[6]), motion_energy=motion_energy, samples=self.samples)


def _closeness(a_index: dict[int, int], a_boxes: np.ndarray, b_frames: list[int], b_boxes: np.ndarray) -> tuple[list[int], int, float]:
    """For two tracks over the frames both are in (in ``b``'s order): the frames where their boxes
    overlap (IoU >= 0.2), and the frame and size of their closest approach (the gap between the
    boxes over the smallest side of either; ``-1, inf`` when they never share a frame). The same
    arithmetic as :func:`iou_xyxy` and :func:`math.hypot` per frame, done for all frames at once."""
    shared = [(k, a_index[f]) for k, f in enumerate(b_frames) if f in a_index]
    if not shared:
        return [], -1, math.inf
    rows_b, rows_a = (list(c) for c in zip(*shared, strict=True))
    A, B = a_boxes[rows_a], b_boxes[rows_b]
    iw = np.clip(np.minimum(A[:, 2], B[:, 2]) - np.maximum(A[:, 0], B[:, 0]), 0, None)
    ih = np.clip(np.minimum(A[:, 3], B[:, 3]) - np.maximum(A[:, 1], B[:, 1]), 0, None)
    inter = iw * ih
    union = (A[:, 2] - A[:, 0]) * (A[:, 3] - A[:, 1]) + (B[:, 2] - B[:, 0]) * (B[:, 3] - B[:, 1]) - inter
    iou = np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)
    gx = np.maximum(0.0, np.maximum(A[:, 0], B[:, 0]) - np.minimum(A[:, 2], B[:, 2]))
    gy = np.maximum(0.0, np.maximum(A[:, 1], B[:, 1]) - np.minimum(A[:, 3], B[:, 3]))
    gap = np.array([math.hypot(x, y) for x, y in zip(gx.tolist(), gy.tolist(), strict=True)])
    side = np.maximum(np.minimum(np.minimum(A[:, 2] - A[:, 0], A[:, 3] - A[:, 1]), np.minimum(B[:, 2] - B[:, 0], B[:, 3] - B[:, 1])), 1.0)
    rel = gap / side
    closest = int(np.argmin(rel))  # the first of equal minima, as a running strict minimum finds
    frames = [b_frames[k] for k in rows_b]
    return [frames[k] for k in np.flatnonzero(iou >= 0.2).tolist()], frames[closest], float(rel[closest])


def proximity_events(tracks: list[Track], *, fps: float) -> tuple[bool, bool, str]:
    """(collision, near_miss, note) from how tracks move near each other.

    Boxes touching in the image is common (one object passes in front of another), so closeness
    alone proves nothing. A collision is two boxes overlapping (IoU >= 0.2) on at least 2 frames
    with one of the two nearly stopping within a second after; a near miss is a close approach (a
    gap under a quarter of the smaller box) with one of the two braking hard (speed down by more
    than half) or swerving (heading turned by more than 45 degrees) within a second of it.
    """
    window = max(2, int(round(fps)))
    closest = math.inf
    near_note = ""
    moving_vehicles = {id(t) for t in tracks if t.label in VEHICLE_LABELS and _moves(t)}
    if not moving_vehicles:
        return False, False, "no moving vehicle track, so no collision or near miss can be claimed"
    index_of = [{f: k for k, f in enumerate(t.frames)} for t in tracks]
    boxes_of = [np.asarray(t.boxes, dtype=np.float64).reshape(-1, 4) for t in tracks]
    for i, a in enumerate(tracks):
        for j in range(i + 1, len(tracks)):
            b = tracks[j]
            if id(a) not in moving_vehicles and id(b) not in moving_vehicles:
                continue  # two pedestrians (or parked cars) touching is never a vehicle collision
            overlap, best_f, best_gap = _closeness(index_of[i], boxes_of[i], b.frames, boxes_of[j])
            closest = min(closest, best_gap)
            names = f"{a.label}_{a.track_id} and {b.label}_{b.track_id}"
            if len(overlap) >= 2 and any(_stops_after(t, overlap[-1], window) for t in (a, b)):
                return True, False, f"{names} overlapped and one of them stopped right after"
            if best_gap < 0.25 and not near_note and any(_evades(t, best_f, window) for t in (a, b)):
                near_note = f"{names} came within {best_gap:.2f} box sizes and one braked or swerved"
    if near_note:
        return False, True, near_note
    if math.isfinite(closest):
        return False, False, f"no contact or evasive move; closest approach {closest:.2f} box sizes"
    return False, False, "no two tracks were visible at the same time"


VEHICLE_LABELS: frozenset[str] = frozenset({"car", "truck", "bus", "motorcycle", "bicycle"})


def _moves(track: Track) -> bool:
    """True when the box centre travels more than one box width over the track's life."""
    if len(track.frames) < 2:
        return False
    first, last = track.boxes[0], track.boxes[-1]
    travel = math.hypot((last[0] + last[2] - first[0] - first[2]) / 2, (last[1] + last[3] - first[1] - first[3]) / 2)
    return travel > max(float(first[2] - first[0]), 1.0)


def _velocity(track: Track, lo: int, hi: int) -> np.ndarray | None:
    pts = [((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for f, b in zip(track.frames, track.boxes, strict=True) if lo <= f <= hi]
    if len(pts) < 2:
        return None
    return (np.array(pts[-1]) - np.array(pts[0])) / (len(pts) - 1)


def _stops_after(track: Track, frame: int, window: int) -> bool:
    before, after = _velocity(track, frame - window, frame), _velocity(track, frame, frame + window)
    if before is None or after is None:
        return False
    speed_before = float(np.linalg.norm(before))
    return speed_before > 1.0 and float(np.linalg.norm(after)) < 0.2 * speed_before


def _evades(track: Track, frame: int, window: int) -> bool:
    before, after = _velocity(track, frame - window, frame), _velocity(track, frame, frame + window)
    if before is None or after is None:
        return False
    sb, sa = float(np.linalg.norm(before)), float(np.linalg.norm(after))
    if sb <= 1.0:
        return False
    if sa < 0.5 * sb:
        return True
    cos = float(np.dot(before, after)) / (sb * sa) if sa > 0 else 1.0
    return cos < math.cos(math.radians(45))


# --- the pass ------------------------------------------------------------------------------------------


@dataclass
class Analysis:
    facts: VideoInfo
    frames: int
    tracks: list[Track]
    measures: SceneMeasures
    hog_checks: int = 0
    hog_hits: int = 0


_AHEAD = 8  # frames the first stage may run ahead of the second


def _first_stage(path: str | Path, settings: ClassicSettings, detector: _MotionDetector, measurer: _Measurer,
                 tap: FrameTap | None) -> Iterator[_Motion]:
    """Decode, measure the scene, shrink, prime the motion model on the first frames, and run it:
    every frame in order as a :class:`_Motion`. Runs on its own thread (:func:`read_ahead`): the
    second stage (blobs, people check, tracking) works on the frame before meanwhile. Everything
    here touches only the first stage's state (the models it primes are handed over before the
    first frame)."""
    prime_frames = max(3, min(_PRIME_MAX, int(round(detector.fps * _PRIME_SECONDS))))
    pending: list[tuple[int, np.ndarray, np.ndarray]] | None = []
    for index, gray, rgb in iter_video(path, color_every=settings.measure_every, tap=tap):
        if rgb is not None:
            measurer.add(rgb)
        raw = detector.shrink(gray)
        if pending is None:
            yield detector.motion(index, gray, raw)
            continue
        pending.append((index, gray, raw))
        if len(pending) == prime_frames:
            detector.prime([p[2] for p in pending])
            yield from (detector.motion(*item) for item in pending)
            pending = None
    if pending:  # a clip shorter than the priming
        detector.prime([p[2] for p in pending])
        yield from (detector.motion(*item) for item in pending)


def analyze_video(path: str | Path, settings: ClassicSettings, *, facts: VideoInfo | None = None,
                  tap: FrameTap | None = None) -> Analysis:
    """Decode ``path`` once and return tracks and scene measurements (``tap``: see :func:`iter_video`)."""
    with opencv_in_this_thread():
        return _analyze(path, settings, facts or probe(path), tap)


def _analyze(path: str | Path, settings: ClassicSettings, facts: VideoInfo, tap: FrameTap | None) -> Analysis:
    detector = _MotionDetector(facts.width, facts.height, facts.fps)
    state = _PassState(settings=settings, facts=facts, detector=detector)
    n = 0
    for m in read_ahead(_first_stage(path, settings, detector, state.measurer, tap), depth=_AHEAD):
        n = m.index + 1
        state.frame(m)
    if n == 0:
        raise VideoReadError(f"{Path(path).name} has no decodable frames.", remedy="Pass a video with at least one frame.")
    if facts.frames and n < 0.9 * facts.frames - 1:
        raise VideoReadError(f"{Path(path).name} is truncated: {n} of {facts.frames} frames decoded.",
                             remedy="Re-copy the file or re-export it from the source.")
    tracks = state.tracker.finish(min_track_frames=settings.min_track_frames)
    measures = state.measurer.result(state.fg_total / n)
    for track in tracks:
        measures.counts[track.label] = measures.counts.get(track.label, 0) + 1
    measures.moving_tracks = len(tracks)
    measures.collision, measures.near_miss, measures.proximity_note = proximity_events(tracks, fps=facts.fps)
    return Analysis(facts=facts, frames=n, tracks=tracks, measures=measures, hog_checks=state.hog_checks,
                    hog_hits=state.hog_hits)


class _PassState:
    """Per-frame work of :func:`analyze_video`: detect, check people, classify, track."""

    def __init__(self, *, settings: ClassicSettings, facts: VideoInfo, detector: _MotionDetector) -> None:
        self.settings, self.facts, self.detector = settings, facts, detector
        self.person = _PersonCheck()
        self.tracker = SortTracker(max_age=settings.max_age, min_hits=settings.min_hits,
                                   iou_threshold=settings.iou_threshold, max_gap=settings.max_gap,
                                   frame_size=(facts.width, facts.height))
        self.measurer = _Measurer()
        self.fg_total = 0.0
        self.hog_checks = self.hog_hits = 0
        self.last_verdicts: list[tuple[np.ndarray, bool]] = []

    def frame(self, m: _Motion) -> None:
        settings, index, gray = self.settings, m.index, m.gray
        boxes = self.detector.boxes(m)
        self.fg_total += m.fg_share
        hits = [False] * len(boxes)
        if len(boxes):
            if index % settings.hog_every == 0:
                verdicts = []
                for k, box in enumerate(boxes):
                    w, h = box[2] - box[0], box[3] - box[1]
                    if h > 0.9 * w and "person" in settings.classes:
                        self.hog_checks += 1
                        hits[k] = self.person.is_person(gray, box)
                        self.hog_hits += int(hits[k])
                    verdicts.append((box, hits[k]))
                self.last_verdicts = verdicts
            elif self.last_verdicts:
                # Between checks a box inherits the verdict of the box it overlaps most.
                prev = np.array([b for b, _ in self.last_verdicts])
                overlap = iou_xyxy(boxes, prev)
                for k in range(len(boxes)):
                    j = int(np.argmax(overlap[k]))
                    hits[k] = bool(overlap[k, j] > 0.3 and self.last_verdicts[j][1])
        labels, weights, keep = [], [], []
        split = self.detector.split
        for k, box in enumerate(boxes):
            # a part of a blob split at a head-to-head dip is one of several people walking together
            label = classify_box(box, hog_hit=hits[k] or bool(split[k]), frame_w=self.facts.width,
                                 frame_h=self.facts.height, allowed=settings.classes)
            if label is None:
                continue
            keep.append(k)
            labels.append(label)
            weights.append(3.0 if hits[k] else 1.0)
        self.tracker.step(index, boxes[keep] if keep else np.zeros((0, 4)), labels, weights)


# --- from measurements to the facts the answer rules use ---------------------------------------------

# Thresholds on mean luma (0-255) and the other measures; deliberately simple and stated in every reasoning.
BRIGHT_LUMA = 140.0
DIM_LUMA = 85.0
NIGHT_LUMA = 40.0


def _categories(m: SceneMeasures) -> dict[str, tuple[str, str]]:
    b = m.brightness
    lighting = "bright" if b >= BRIGHT_LUMA else "dim" if b < DIM_LUMA else "moderate"
    light_how = f"mean brightness {b:.0f}/255 (bright >= {BRIGHT_LUMA:.0f}, dim < {DIM_LUMA:.0f})"
    # Warmth alone is not dusk: overcast daylight is often warm-tinted at mid luminance. Evening needs
    # a dim frame (mean luma under 80), or warm light with low luma AND saturated colour (a low sun).
    if b < NIGHT_LUMA:
        tod = "night"
    elif b < 80 or (m.warmth > 20 and b < 100 and m.saturation >= 0.25):
        tod = "evening"
    elif b >= BRIGHT_LUMA:
        tod = "midday"
    else:
        tod = "morning"
    tod_how = (f"mean brightness {b:.0f}/255, warmth (red minus blue) {m.warmth:+.0f} and saturation "
               f"{m.saturation:.2f} (night below {NIGHT_LUMA:.0f}; evening below 80, or warm and saturated below 100)")
    if m.saturation < 0.15 and m.contrast < 40 and b < 120:
        weather = "rain"
    elif m.saturation < 0.2 or m.haze > 0.45:
        weather = "overcast"
    else:
        weather = "clear"
    weather_how = f"saturation {m.saturation:.2f}, contrast {m.contrast:.0f}, haze {m.haze:.2f}, brightness {b:.0f}"
    surface = "wet" if m.lower_specular > 0.02 else "dry"
    surface_how = f"{m.lower_specular:.1%} glare pixels in the lower half of the frame (wet above 2%)"
    return {"lighting": (lighting, f"Measured {light_how}"), "time_of_day": (tod, f"Measured {tod_how}"),
            "weather": (weather, f"Measured {weather_how}"), "surface_condition": (surface, f"Measured {surface_how}")}


def category_confidence(m: SceneMeasures) -> dict[str, float]:
    """How far each category answer can be trusted (0..1). "morning" is only the mid-luma fallback (no
    measure tells morning from afternoon), so it is not trusted and the labeler abstains on it."""
    cats = _categories(m)
    tod, weather = cats["time_of_day"][0], cats["weather"][0]
    return {"lighting": 0.9, "surface_condition": 0.6, "weather": 0.5 if weather == "rain" else 0.6,
            "time_of_day": 0.4 if tod == "morning" else 0.8 if m.brightness < 60 else 0.6,  # night/dark evening: 0.8
            "collision": 0.9 if "no moving vehicle" in m.proximity_note else 0.6,
            "near_miss": 0.9 if "no moving vehicle" in m.proximity_note else 0.6}


def classic_facts(analysis: Analysis) -> ClassicFacts:
    """Everything the classic answer rules need, from one analysis pass."""
    m = analysis.measures
    frames = max(analysis.frames, 1)
    concurrent: dict[str, float] = {}
    for track in analysis.tracks:
        concurrent[track.label] = concurrent.get(track.label, 0.0) + len(track.frames) / frames
    busy = sum(concurrent.values())
    if not analysis.tracks and m.motion_energy < 0.002:
        level = 0
    elif m.motion_energy > 0.05 or busy >= 6.0:
        level = 2
    else:
        level = 1 if analysis.tracks else 0
    note = (f"{m.motion_energy:.1%} of the frame moving on average, {len(analysis.tracks)} moving track(s), "
            f"{busy:.1f} visible per frame")
    return ClassicFacts(categories=_categories(m), counts=dict(m.counts), concurrent=concurrent, motion_level=level,
                        motion_note=note, collision=m.collision, near_miss=m.near_miss,
                        proximity_note=m.proximity_note, confidence=category_confidence(m))

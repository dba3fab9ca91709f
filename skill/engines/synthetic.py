"""Synthetic test scenes with known ground truth: a static textured background, moving cars and
people on known paths, written as an H.264 mp4, with the boxes in MOTChallenge form.

    gt = make_scene("clip.mp4", seconds=3, background="road", seed=1)
    gt.write_mot("clip.gt.txt")          # frame,id,x,y,w,h,1,-1,-1,-1 (1-based frames and ids)

Positions and sizes are fractions of the frame, times fractions of the clip, so every preset works
at any resolution and length. Everything random (background texture, colours, sensor noise) comes
from ``numpy.random.default_rng(seed)``: the same arguments give the same frames and the same boxes.
Used by the tests, the benchmarks and the README quick-start sample.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import cv2
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from skill.engines.video_io import VideoWriter
from skill.errors import InputError

__all__ = [
    "Background",
    "GroundTruth",
    "GtRow",
    "ObjectKind",
    "SceneObject",
    "default_scene_objects",
    "make_scene",
    "render_frames",
    "walking_pairs",
]

ObjectKind = Literal["car", "person"]
Background = Literal["road", "plaza", "indoor"]

_Fraction2 = tuple[float, float]

# Height of an object as a fraction of the frame height, and width / height.
_DEFAULT_SIZE: dict[str, tuple[float, float]] = {"car": (0.13, 2.3), "person": (0.28, 0.4)}
_MIN_VISIBLE = 0.3  # a clipped box with less than this share of its area on screen is not ground truth
_NOISE_SIGMA = 2.0  # per-frame sensor noise (grey levels)


class SceneObject(BaseModel):
    """One moving object. Coordinates are fractions of the frame (outside 0..1 = off screen), times
    are fractions of the clip; the path runs from ``start`` to ``end`` with an optional sideways bow."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: ObjectKind
    start: _Fraction2 = Field(description="Centre (x, y) at time t0, as fractions of width and height.")
    end: _Fraction2 = Field(description="Centre (x, y) at time t1.")
    t0: Annotated[float, Field(ge=0.0, le=1.0)] = 0.0
    t1: Annotated[float, Field(ge=0.0, le=1.0)] = 1.0
    height: Annotated[float | None, Field(gt=0.0, le=1.0, description="Box height / frame height.")] = None
    aspect: Annotated[float | None, Field(gt=0.0, description="Box width / box height.")] = None
    curve: float = Field(default=0.0, description="Sideways bow of the path at its middle, in frame heights.")
    color: tuple[int, int, int] | None = Field(default=None, description="RGB body colour; drawn from the seed if unset.")


class GtRow(BaseModel):
    """One ground-truth box: 1-based frame and id, top-left x/y, width, height in pixels."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    frame: int
    id: int
    x: float
    y: float
    w: float
    h: float


class GroundTruth(BaseModel):
    """What :func:`make_scene` drew: the clip's geometry, each object's kind, and every visible box."""

    model_config = ConfigDict(extra="forbid")
    width: int
    height: int
    fps: int
    frames: int
    background: Background
    seed: int
    kinds: dict[int, ObjectKind] = Field(description="Object id -> kind.")
    rows: list[GtRow]

    def by_frame(self) -> dict[int, list[tuple[int, tuple[float, float, float, float]]]]:
        """``{frame (1-based): [(id, (x, y, w, h)), ...]}`` for every frame, empty ones included."""
        out: dict[int, list[tuple[int, tuple[float, float, float, float]]]] = {f: [] for f in range(1, self.frames + 1)}
        for row in self.rows:
            out[row.frame].append((row.id, (row.x, row.y, row.w, row.h)))
        return out

    def mot_lines(self) -> list[str]:
        """MOTChallenge text rows: ``frame,id,x,y,w,h,1,-1,-1,-1``."""
        return [f"{r.frame},{r.id},{r.x:.2f},{r.y:.2f},{r.w:.2f},{r.h:.2f},1,-1,-1,-1" for r in self.rows]

    def write_mot(self, path: str | Path) -> Path:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text("\n".join(self.mot_lines()) + "\n", encoding="utf-8")
        return target

    def count(self, kind: ObjectKind) -> int:
        """How many distinct objects of ``kind`` are visible at some point."""
        seen = {row.id for row in self.rows}
        return sum(1 for oid, k in self.kinds.items() if k == kind and oid in seen)


# --- presets --------------------------------------------------------------------------------------


def default_scene_objects(kind: Background = "road") -> list[SceneObject]:
    """Preset object sets matched to each background. Each has objects entering and leaving the
    frame, one curved path, and one crossing pair (two people whose paths cross mid-clip)."""
    if kind == "road":
        return [
            SceneObject(kind="car", start=(-0.2, 0.60), end=(1.2, 0.60), t0=0.0, t1=0.8, color=(215, 55, 45)),
            SceneObject(kind="car", start=(1.2, 0.76), end=(-0.2, 0.76), t0=0.15, t1=1.0, color=(70, 120, 215)),
            SceneObject(kind="car", start=(-0.2, 0.60), end=(0.5, 0.60), t0=0.55, t1=1.0, color=(220, 220, 215)),
            SceneObject(kind="person", start=(0.12, 0.30), end=(0.66, 0.30), color=(40, 120, 60)),
            SceneObject(kind="person", start=(0.80, 0.33), end=(0.26, 0.33), color=(150, 90, 30)),
            SceneObject(kind="person", start=(-0.05, 0.90), end=(0.35, 0.86), t0=0.2, t1=1.0, curve=0.04,
                        color=(120, 40, 140)),
        ]
    if kind == "plaza":
        return [
            SceneObject(kind="person", start=(0.10, 0.45), end=(0.70, 0.48), color=(200, 60, 40)),
            SceneObject(kind="person", start=(0.85, 0.52), end=(0.28, 0.50), color=(40, 80, 190)),
            SceneObject(kind="person", start=(0.62, 1.1), end=(0.90, 0.58), t0=0.1, t1=0.9, curve=0.06,
                        color=(35, 35, 40)),
            SceneObject(kind="person", start=(-0.06, 0.75), end=(0.40, 0.78), t0=0.3, t1=1.0, color=(30, 140, 120)),
            SceneObject(kind="person", start=(0.92, 0.25), end=(1.08, 0.20), t0=0.0, t1=0.6, color=(120, 120, 120)),
        ]
    if kind == "indoor":
        return [
            SceneObject(kind="person", start=(0.15, 0.62), end=(0.78, 0.64), color=(245, 215, 80)),
            SceneObject(kind="person", start=(0.88, 0.68), end=(0.30, 0.66), color=(20, 40, 120)),
            SceneObject(kind="person", start=(1.08, 0.82), end=(0.60, 0.80), t0=0.35, t1=1.0, curve=-0.05,
                        color=(200, 200, 60)),
        ]
    raise InputError(f"Unknown scene preset '{kind}'.", remedy="Use one of: road, plaza, indoor.")


def walking_pairs(width: int, height: int) -> list[SceneObject]:
    """Two pairs of people walking side by side (shoulders a tenth of a body width apart, so each pair
    is one motion blob) and one person alone, for a ``width`` x ``height`` frame: the case that needs
    merged blobs split into people."""
    w = _DEFAULT_SIZE["person"][0] * _DEFAULT_SIZE["person"][1] * height / width  # a person's width / frame width
    gap = 1.1 * w
    return [
        SceneObject(kind="person", start=(0.05, 0.45), end=(0.75, 0.47), color=(200, 60, 40)),
        SceneObject(kind="person", start=(0.05 + gap, 0.45), end=(0.75 + gap, 0.47), color=(40, 80, 190)),
        SceneObject(kind="person", start=(0.90, 0.72), end=(0.30, 0.70), color=(35, 35, 40)),
        SceneObject(kind="person", start=(0.90 + gap, 0.72), end=(0.30 + gap, 0.70), color=(30, 140, 120)),
        SceneObject(kind="person", start=(0.5, 1.1), end=(0.55, 0.2), t0=0.1, t1=0.9, color=(120, 120, 120)),
    ]


# --- drawing --------------------------------------------------------------------------------------


def _value_noise(rng: np.random.Generator, height: int, width: int, cell: int, amplitude: float) -> np.ndarray:
    """Smooth random texture: coarse random grid upsampled with cubic interpolation."""
    grid = rng.normal(0.0, 1.0, (max(2, height // cell + 2), max(2, width // cell + 2))).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC) * amplitude


def _background(kind: Background, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    img = np.zeros((height, width, 3), np.float32)
    fine = _value_noise(rng, height, width, 3, 6.0) + _value_noise(rng, height, width, 24, 8.0)
    if kind == "road":
        img[:] = (150, 148, 140)  # pavement
        top, bottom = int(0.50 * height), int(0.86 * height)
        img[top:bottom] = (62, 63, 67)  # asphalt
        img[top - 3 : top] = (200, 200, 195)  # kerbs
        img[bottom : bottom + 3] = (200, 200, 195)
        mid = (top + bottom) // 2
        dash, gap = max(8, width // 16), max(6, width // 24)
        for x in range(0, width, dash + gap):
            img[mid - 1 : mid + 2, x : x + dash] = (225, 215, 120)
        for x in range(0, width, max(20, width // 12)):  # paving joints
            img[: top - 3, x] *= 0.85
            img[bottom + 3 :, x] *= 0.85
    elif kind == "plaza":
        img[:] = (196, 178, 150)
        tile = max(16, width // 20)
        for y in range(0, height, tile):
            for x in range(0, width, tile):
                img[y : y + tile, x : x + tile] *= rng.uniform(0.9, 1.06)
        img[::tile, :] *= 0.8
        img[:, ::tile] *= 0.8
        for _ in range(3):  # planters
            cx, cy = int(rng.uniform(0.05, 0.95) * width), int(rng.uniform(0.05, 0.2) * height)
            cv2.circle(img, (cx, cy), max(6, height // 18), (60, 110, 50), -1)
    elif kind == "indoor":
        wall = int(0.38 * height)
        img[:wall] = (205, 205, 198)
        img[wall:] = (120, 128, 138)
        tile = max(16, width // 16)
        img[wall::tile, :] *= 0.85
        img[wall:, ::tile] *= 0.85
        for i in range(4):  # shelving along the wall
            x0 = int((0.04 + 0.25 * i) * width)
            cv2.rectangle(img, (x0, int(0.08 * height)), (x0 + int(0.18 * width), wall - 4), (110, 80, 50), -1)
            for s in range(3):
                y = int(0.08 * height) + (s + 1) * (wall - int(0.08 * height)) // 4
                cv2.line(img, (x0, y), (x0 + int(0.18 * width), y), (70, 50, 30), 2)
    else:
        raise InputError(f"Unknown background '{kind}'.", remedy="Use one of: road, plaza, indoor.")
    img += fine[..., None]
    return np.clip(img, 0, 255)


def _luma(rgb) -> float:
    r, g, b = (float(v) for v in rgb)
    return 0.299 * r + 0.587 * g + 0.114 * b


def _contrasting_color(rng: np.random.Generator, base: np.ndarray) -> tuple[int, int, int]:
    """A random body colour whose brightness differs clearly from the background's average, so a
    grey-level motion detector can see it (as real clothing and paint mostly do)."""
    ground = _luma(base.reshape(-1, 3).mean(axis=0))
    for _ in range(64):
        color = tuple(int(c) for c in rng.integers(20, 236, 3))
        if abs(_luma(color) - ground) >= 45:
            return color
    return (20, 20, 20) if ground > 128 else (235, 235, 235)


def _object_box(obj: SceneObject, progress: float, width: int, height: int) -> tuple[float, float, float, float]:
    """Full (unclipped) box (x, y, w, h) in pixels at ``progress`` in [0, 1] along the path."""
    rel_h, aspect = _DEFAULT_SIZE[obj.kind]
    box_h = (obj.height or rel_h) * height
    box_w = box_h * (obj.aspect or aspect)
    sx, sy = obj.start[0] * width, obj.start[1] * height
    ex, ey = obj.end[0] * width, obj.end[1] * height
    cx, cy = sx + (ex - sx) * progress, sy + (ey - sy) * progress
    if obj.curve:
        length = math.hypot(ex - sx, ey - sy) or 1.0
        bow = obj.curve * height * 4.0 * progress * (1.0 - progress)
        cx += -(ey - sy) / length * bow
        cy += (ex - sx) / length * bow
    return cx - box_w / 2, cy - box_h / 2, box_w, box_h


def _draw(img: np.ndarray, kind: ObjectKind, box: tuple[float, float, float, float], color: tuple[int, int, int],
          phase: float, *, mono: bool = False) -> None:
    """Draw one object; ``mono`` paints every part 255 (for the ground-truth silhouette)."""
    if kind == "car":
        _draw_car(img, box, color, mono)
    else:
        _draw_person(img, box, color, phase, mono)


def _paint(color, mono: bool):
    return 255 if mono else (color.tolist() if isinstance(color, np.ndarray) else color)


def _draw_car(img: np.ndarray, box: tuple[float, float, float, float], color: tuple[int, int, int], mono: bool) -> None:
    x, y, w, h = box
    body = np.array(color, np.float32)
    p = lambda fx, fy: (int(round(x + fx * w)), int(round(y + fy * h)))  # noqa: E731
    cv2.rectangle(img, p(0.0, 0.35), p(1.0, 0.85), _paint(body, mono), -1)  # body
    cv2.rectangle(img, p(0.22, 0.0), p(0.78, 0.4), _paint(body * 0.55, mono), -1)  # darker roof / cabin
    cv2.rectangle(img, p(0.27, 0.08), p(0.73, 0.34), _paint((150, 170, 185), mono), -1)  # windows
    cv2.line(img, p(0.5, 0.08), p(0.5, 0.34), _paint(body * 0.5, mono), max(1, int(w * 0.02)))
    radius = max(2, int(h * 0.16))
    for fx in (0.2, 0.8):
        cv2.circle(img, p(fx, 0.84), radius, _paint((25, 25, 25), mono), -1)  # wheels
    cv2.rectangle(img, p(0.96, 0.45), p(1.0, 0.58), _paint((240, 230, 160), mono), -1)  # lamps
    cv2.rectangle(img, p(0.0, 0.45), p(0.04, 0.58), _paint((200, 40, 40), mono), -1)


def _draw_person(img: np.ndarray, box: tuple[float, float, float, float], color: tuple[int, int, int], phase: float,
                 mono: bool) -> None:
    x, y, w, h = box
    cx = x + w / 2
    ip = lambda fx, fy: (int(round(cx + fx * w)), int(round(y + fy * h)))  # noqa: E731
    head_r = max(2, int(round(h * 0.075)))
    head_c = (int(round(cx)), int(round(y + head_r + 1)))
    cv2.circle(img, head_c, head_r, _paint((205, 165, 135), mono), -1)  # face
    cv2.ellipse(img, head_c, (head_r, head_r), 0, 180, 360, _paint((45, 35, 30), mono), -1)  # hair
    torso_top, torso_bot = 0.17, 0.58
    cv2.ellipse(img, ip(0.0, (torso_top + torso_bot) / 2),
                (max(2, int(w * 0.38)), max(3, int((torso_bot - torso_top) * h / 2))), 0, 0, 360,
                _paint(color, mono), -1)  # torso
    swing = math.sin(phase) * 0.18
    thick = max(2, int(w * 0.2))
    hip = ip(0.0, torso_bot - 0.03)
    leg = _paint((60, 55, 70), mono)
    cv2.line(img, hip, ip(-0.12 + swing, 0.98), leg, thick)  # legs
    cv2.line(img, hip, ip(0.12 - swing, 0.98), leg, thick)
    arm = _paint(np.array(color, np.float32) * 0.8, mono)
    cv2.line(img, ip(-0.34, torso_top + 0.06), ip(-0.38 - swing * 0.4, 0.55), arm, max(1, thick - 1))  # arms
    cv2.line(img, ip(0.34, torso_top + 0.06), ip(0.38 + swing * 0.4, 0.55), arm, max(1, thick - 1))


def _silhouette_box(kind: ObjectKind, box: tuple[float, float, float, float], phase: float, width: int,
                    height: int) -> tuple[float, float, float, float] | None:
    """Tight box of the drawn shape clipped to the frame, or ``None`` when less than
    ``_MIN_VISIBLE`` of the shape is on screen."""
    x, y, w, h = box
    ox, oy = int(math.floor(min(0.0, x))) - 4, int(math.floor(min(0.0, y))) - 4
    cw = int(math.ceil(max(float(width), x + w))) + 4 - ox
    ch = int(math.ceil(max(float(height), y + h))) + 4 - oy
    canvas = np.zeros((ch, cw), np.uint8)
    _draw(canvas, kind, (x - ox, y - oy, w, h), (0, 0, 0), phase, mono=True)
    full = int(np.count_nonzero(canvas))
    inside = canvas[-oy : -oy + height, -ox : -ox + width]
    seen = int(np.count_nonzero(inside))
    if not full or seen < _MIN_VISIBLE * full:
        return None
    bx, by, bw, bh = cv2.boundingRect(inside)
    if bw < 4 or bh < 4:
        return None
    return float(bx), float(by), float(bw), float(bh)


def _phase(frame: int, offset: float) -> float:
    return frame * 0.9 + float(offset)


def _validate(width: int, height: int, fps: int, seconds: float) -> int:
    if width < 32 or height < 32 or width % 2 or height % 2:
        raise InputError(f"Scene size {width}x{height} is not usable.", remedy="Use even sizes of at least 32x32.")
    if fps < 1 or seconds <= 0:
        raise InputError("A scene needs fps >= 1 and a positive length.", remedy="Pass e.g. fps=10, seconds=3.")
    return max(1, int(round(fps * seconds)))


def render_frames(
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 10,
    seconds: float = 3,
    objects: list[SceneObject] | None = None,
    seed: int = 0,
    background: Background = "road",
) -> tuple[Iterator[np.ndarray], GroundTruth]:
    """The frames (RGB uint8, generated lazily) and the ground truth, without writing a file."""
    n_frames = _validate(width, height, fps, seconds)
    objs = list(objects) if objects is not None else default_scene_objects(background)
    rng = np.random.default_rng(seed)
    base = _background(background, width, height, rng)
    colors = [o.color or _contrasting_color(rng, base) for o in objs]
    phases = rng.uniform(0, 2 * math.pi, len(objs))

    # Boxes per frame: the full box for drawing; the ground truth is the drawn shape's tight box.
    placements: list[list[tuple[int, tuple[float, float, float, float]]]] = []
    rows: list[GtRow] = []
    for f in range(n_frames):
        t = f / (n_frames - 1) if n_frames > 1 else 0.0
        here = []
        for idx, obj in enumerate(objs):
            if not obj.t0 <= t <= obj.t1 or obj.t1 <= obj.t0:
                continue
            box = _object_box(obj, (t - obj.t0) / (obj.t1 - obj.t0), width, height)
            here.append((idx, box))
            visible = _silhouette_box(obj.kind, box, _phase(f, phases[idx]), width, height)
            if visible:
                rows.append(GtRow(frame=f + 1, id=idx + 1, x=visible[0], y=visible[1], w=visible[2], h=visible[3]))
        here.sort(key=lambda item: item[1][1] + item[1][3])  # far (higher up) first
        placements.append(here)
    gt = GroundTruth(width=width, height=height, fps=fps, frames=n_frames, background=background, seed=seed,
                     kinds={i + 1: o.kind for i, o in enumerate(objs)}, rows=rows)

    def frames() -> Iterator[np.ndarray]:
        noise_rng = np.random.default_rng(seed + 7919)
        for f, here in enumerate(placements):
            img = base.copy()
            for idx, box in here:
                _draw(img, objs[idx].kind, box, colors[idx], _phase(f, phases[idx]))
            img += noise_rng.normal(0.0, _NOISE_SIGMA, img.shape[:2])[..., None].astype(np.float32)
            yield np.clip(img, 0, 255).astype(np.uint8)

    return frames(), gt


def make_scene(
    path: str | Path,
    *,
    width: int = 640,
    height: int = 360,
    fps: int = 10,
    seconds: float = 3,
    objects: list[SceneObject] | None = None,
    seed: int = 0,
    background: Background = "road",
) -> GroundTruth:
    """Write an H.264 mp4 of the scene to ``path`` and return its ground truth."""
    frames, gt = render_frames(width=width, height=height, fps=fps, seconds=seconds, objects=objects, seed=seed,
                               background=background)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_mp4(target, frames, width=width, height=height, fps=fps)
    return gt


def _write_mp4(path: Path, frames: Iterator[np.ndarray], *, width: int, height: int, fps: int) -> None:
    with VideoWriter(path, width, height, fps) as writer:
        for frame in frames:
            writer.write(frame)

"""The CPU ("classic") look: re-render a clip under target weather, time of day, lighting and surface.

Per clip, a seeded generator fixes the look once (:func:`build_look`): colour matrix (white
balance + saturation), a tone curve (exposure, gamma, contrast, kept highlights at night), and
spatial maps (vignette, haze that thickens toward the top of the frame, warm sky glow, darker and
glossier ground for wet surfaces, whitened ground for snow). Those are precomputed as ``uint8``
maps, so each frame costs a handful of vectorised OpenCV calls. Conditions compound (night x dim x
rain), but exposure keeps a floor so the objects stay visible: a clip too dark to see is no use as
training data, and its auto-labels would be noise.

Particles move: rain streaks and snow flakes follow closed-form trajectories of time (position =
start + velocity * t, wrapped, with a new lateral position on every wrap), so every frame shows
them somewhere new, and any frame can be rendered on its own deterministically.

Wet ground also gets a per-frame reflection: the graded scene above the horizon mirrored into the
lower part of the frame at quarter resolution, with a slowly moving ripple.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np

from skill.engines._conditions import Conditions

__all__ = ["ClassicRenderer", "Look", "ParticleField", "build_look"]

_GOLDEN = 0.6180339887498949
_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


@dataclass(frozen=True)
class ParticleSpec:
    kind: str  # "rain" | "snow"
    count_per_mpx: float  # particles per megapixel visible at any time
    speed: float  # fall speed, in frame heights per second
    angle_deg: float  # slant from vertical (rain) / wind drift direction (snow)
    length: float  # streak length in frame heights (rain); flake radius in pixels at 720p (snow)
    intensity: int  # 0..255 added brightness
    sway: float = 0.0  # snow: sideways sway amplitude in frame widths


@dataclass(frozen=True)
class Look:
    """Everything that defines one clip's re-rendering. Fixed per clip; recorded in metadata."""

    exposure: float = 1.0
    gamma: float = 1.0
    contrast: float = 1.0
    pivot: float = 0.5
    saturation: float = 1.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    highlight_keep: float = 0.0
    vignette: float = 0.1
    haze_base: float = 0.0
    haze_top: float = 0.0
    haze_colour: tuple[int, int, int] = (200, 200, 200)
    haze_patchiness: float = 0.0
    glow: float = 0.0
    glow_colour: tuple[int, int, int] = (255, 170, 90)
    horizon: float = 0.5  # where the ground starts, as a fraction of the frame height
    ground_darken: float = 0.0
    gloss: float = 0.0
    ground_white: float = 0.0
    particles: tuple[ParticleSpec, ...] = field(default_factory=tuple)
    conditions: dict[str, str] = field(default_factory=dict)

    def as_parameters(self) -> dict[str, object]:
        """JSON-friendly parameters (rounded) for metadata.json."""

        def tidy(value: object) -> object:
            if isinstance(value, float):
                return round(value, 4)
            if isinstance(value, (list, tuple)):
                return [tidy(v) for v in value]
            if isinstance(value, dict):
                return {k: tidy(v) for k, v in value.items()}
            return value

        return {k: tidy(v) for k, v in asdict(self).items()}


def _jitter(rng: np.random.Generator, value: float, spread: float) -> float:
    return float(value * (1.0 + rng.uniform(-spread, spread)))


_MIN_EXPOSURE = 0.28
_MAX_GAMMA = 1.4


@dataclass
class _Draft:
    """A look while the conditions adjust it, one axis after another (always in the same order, so
    the seed's draws land on the same parameters)."""

    rng: np.random.Generator
    exposure: float = 1.0
    gamma: float = 1.0
    contrast: float = 1.0
    pivot: float = 0.5
    saturation: float = 1.0
    wb: np.ndarray = field(default_factory=lambda: np.ones(3))
    highlight_keep: float = 0.0
    vignette: float = 0.0
    haze_base: float = 0.0
    haze_top: float = 0.0
    patchiness: float = 0.0
    glow: float = 0.0
    haze_colour: np.ndarray = field(default_factory=lambda: np.array([205.0, 208.0, 212.0]))
    horizon: float = 0.5
    ground_darken: float = 0.0
    gloss: float = 0.0
    ground_white: float = 0.0
    particles: list[ParticleSpec] = field(default_factory=list)

    def jitter(self, value: float, spread: float) -> float:
        return _jitter(self.rng, value, spread)

    def between(self, low: float, high: float) -> float:
        return float(self.rng.uniform(low, high))


def _time_of_day(d: _Draft, value: str | None) -> None:
    if value == "morning":
        d.exposure *= d.jitter(1.0, 0.04)
        d.wb *= (1.05, 1.0, 0.94)
        d.haze_top += d.between(0.04, 0.08)
        d.haze_colour = np.array([235.0, 222.0, 205.0])
        d.glow += d.between(0.04, 0.08)
    elif value == "midday":
        d.exposure *= d.jitter(1.1, 0.04)
        d.contrast *= d.jitter(1.1, 0.03)
        d.saturation *= d.jitter(1.08, 0.03)
        d.wb *= (1.0, 1.0, 1.03)
    elif value == "evening":
        d.exposure *= d.jitter(0.78, 0.05)
        d.contrast *= d.jitter(1.06, 0.03)
        d.saturation *= d.jitter(1.12, 0.04)
        d.wb *= (1.14, 0.98, 0.8)
        d.glow += d.between(0.16, 0.26)
    elif value == "night":
        d.exposure *= d.jitter(0.3, 0.08)
        d.gamma *= d.jitter(1.35, 0.05)
        d.pivot = 0.25
        d.saturation *= d.jitter(0.7, 0.05)
        d.wb *= (0.84, 0.93, 1.18)
        d.highlight_keep = d.between(0.55, 0.75)
        d.vignette += d.between(0.2, 0.3)
        d.haze_colour = np.array([40.0, 48.0, 70.0])


def _lighting(d: _Draft, value: str | None) -> None:
    if value == "bright":
        d.exposure *= d.jitter(1.22, 0.04)
        d.contrast *= d.jitter(1.08, 0.03)
        d.wb *= (0.98, 1.0, 1.03)
    elif value == "moderate":
        d.exposure *= d.jitter(0.97, 0.03)
        d.contrast *= d.jitter(0.97, 0.02)
    elif value == "dim":
        d.exposure *= d.jitter(0.48, 0.06)
        d.gamma *= d.jitter(1.15, 0.04)
        d.pivot = min(d.pivot, 0.35)
        d.saturation *= d.jitter(0.82, 0.04)
        d.wb *= (1.07, 1.0, 0.86)
        d.highlight_keep = max(d.highlight_keep, d.between(0.3, 0.45))
        d.vignette += d.between(0.25, 0.35)


def _weather(d: _Draft, value: str | None, time_of_day: str | None) -> None:
    rng = d.rng
    if value == "clear":
        d.saturation *= d.jitter(1.08, 0.03)
        d.contrast *= d.jitter(1.06, 0.02)
    elif value == "overcast":
        d.exposure *= d.jitter(0.9, 0.03)
        d.contrast *= d.jitter(0.84, 0.03)
        d.saturation *= d.jitter(0.74, 0.04)
        d.wb *= (0.97, 1.0, 1.04)
        d.haze_top += d.between(0.1, 0.16)
        d.glow *= 0.3
    elif value == "rain":
        d.exposure *= d.jitter(0.78, 0.04)
        d.contrast *= d.jitter(0.8, 0.03)
        d.saturation *= d.jitter(0.68, 0.05)
        d.wb *= (0.94, 0.98, 1.07)
        d.haze_base += d.between(0.04, 0.08)
        d.haze_top += d.between(0.12, 0.2)
        d.glow *= 0.2
        slant = rng.uniform(-14, 14)
        d.particles.append(ParticleSpec("rain", rng.uniform(200, 280), rng.uniform(2.2, 3.0), slant, rng.uniform(0.05, 0.08), int(rng.integers(60, 85))))
        d.particles.append(ParticleSpec("rain", rng.uniform(350, 450), rng.uniform(1.6, 2.1), slant, rng.uniform(0.02, 0.035), int(rng.integers(30, 45))))
    elif value == "fog":
        d.exposure *= d.jitter(0.96, 0.03)
        d.contrast *= d.jitter(0.72, 0.04)
        d.saturation *= d.jitter(0.6, 0.05)
        d.haze_base += d.between(0.22, 0.3)
        d.haze_top += d.between(0.3, 0.4)
        d.patchiness = d.between(0.08, 0.14)
        d.glow *= 0.1
    elif value == "snow":
        d.exposure *= d.jitter(1.04, 0.03)
        d.contrast *= d.jitter(0.86, 0.03)
        d.saturation *= d.jitter(0.74, 0.04)
        d.wb *= (0.95, 1.0, 1.07)
        d.haze_base += d.between(0.05, 0.09)
        d.haze_top += d.between(0.12, 0.18)
        if time_of_day != "night":
            d.haze_colour = np.array([225.0, 230.0, 240.0])
        d.ground_white = max(d.ground_white, d.between(0.22, 0.3))
        drift = rng.uniform(-20, 20)
        d.particles.append(ParticleSpec("snow", rng.uniform(500, 700), rng.uniform(0.12, 0.2), drift, rng.uniform(1.0, 1.6), int(rng.integers(150, 200)), sway=rng.uniform(0.006, 0.012)))
        d.particles.append(ParticleSpec("snow", rng.uniform(120, 200), rng.uniform(0.22, 0.32), drift, rng.uniform(2.2, 3.2), int(rng.integers(170, 220)), sway=rng.uniform(0.01, 0.02)))


def _surface(d: _Draft, value: str | None) -> None:
    if value == "wet":
        d.ground_darken = d.between(0.18, 0.28)
        d.gloss = d.between(0.2, 0.3)
        d.saturation *= 1.04
    elif value == "snowy":
        d.ground_white = max(d.ground_white, d.between(0.3, 0.4))


def build_look(conditions: Conditions, seed: int) -> Look:
    """Fix a clip's look from its conditions; the seed varies it within each condition's range.
    The axes adjust one draft in a fixed order: time of day, lighting, weather, surface."""
    d = _Draft(rng=np.random.default_rng(seed))
    d.vignette = d.between(0.08, 0.16)
    d.horizon = d.between(0.45, 0.55)
    time_of_day, weather = conditions.get("time_of_day"), conditions.get("weather")
    _time_of_day(d, time_of_day)
    _lighting(d, conditions.get("lighting"))
    _weather(d, weather, time_of_day)
    _surface(d, conditions.get("surface") or ("wet" if weather == "rain" else None))
    # Conditions compound (night x dim x rain would leave ~10% of the light and a steep gamma), but
    # an augmented clip is only useful while its objects stay visible: keep a floor of light.
    return Look(
        exposure=float(max(d.exposure, _MIN_EXPOSURE)),
        gamma=float(min(d.gamma, _MAX_GAMMA)),
        contrast=float(d.contrast),
        pivot=float(d.pivot),
        saturation=float(d.saturation),
        white_balance=tuple(float(v) for v in d.wb),  # type: ignore[arg-type]
        highlight_keep=float(d.highlight_keep),
        vignette=float(min(d.vignette, 0.6)),
        haze_base=float(min(d.haze_base, 0.45)),
        haze_top=float(min(d.haze_top, 0.5)),
        haze_colour=tuple(int(v) for v in d.haze_colour),  # type: ignore[arg-type]
        haze_patchiness=float(d.patchiness),
        glow=float(d.glow),
        horizon=float(d.horizon),
        ground_darken=float(d.ground_darken),
        gloss=float(d.gloss),
        ground_white=float(d.ground_white),
        particles=tuple(d.particles),
        conditions=dict(conditions.axes),
    )


# --- particles ---------------------------------------------------------------------------------


class ParticleField:
    """Rain streaks or snow flakes whose positions are a closed-form function of time."""

    def __init__(self, spec: ParticleSpec, width: int, height: int, fps: float, seed: int) -> None:
        self.spec, self.width, self.height, self.fps = spec, width, height, fps
        rng = np.random.default_rng(seed)
        count = max(8, int(round(spec.count_per_mpx * width * height / 1e6)))
        self.scale = height / 720.0
        self.span = height * (1.0 + (spec.length if spec.kind == "rain" else 0.02)) + 4
        self.x0 = rng.uniform(0, width, count).astype(np.float32)
        self.y0 = rng.uniform(0, self.span, count).astype(np.float32)
        self.speed = (spec.speed * height * rng.uniform(0.8, 1.2, count)).astype(np.float32)  # px / s
        self.phase = rng.uniform(0, 2 * math.pi, count).astype(np.float32)
        self.size = rng.uniform(0.7, 1.3, count).astype(np.float32)
        tan = math.tan(math.radians(spec.angle_deg))
        self.dx_per_dy = tan if spec.kind == "rain" else 0.0
        self.wind = (tan * spec.speed * height * 0.6) if spec.kind == "snow" else 0.0  # px / s sideways

    def positions(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        """Head positions (x, y) of every particle at frame ``index``."""
        t = index / self.fps
        travelled = self.y0 + self.speed * t
        cycle = np.floor(travelled / self.span)
        y = travelled - cycle * self.span - (self.span - self.height)
        shift = (cycle * _GOLDEN * self.width).astype(np.float32)
        x = self.x0 + shift + self.dx_per_dy * (y + (self.span - self.height)) + self.wind * t
        if self.spec.sway:
            x = x + self.spec.sway * self.width * np.sin(self.phase + t * 2.2)
        return np.mod(x, self.width), y

    def mask(self, index: int) -> np.ndarray:
        """A ``uint8`` brightness mask (h, w) of the particles at frame ``index``."""
        x, y = self.positions(index)
        canvas = np.zeros((self.height, self.width), np.uint8)
        if self.spec.kind == "rain":
            length = self.spec.length * self.height * self.size
            heads = np.stack([x, y], axis=1)
            tails = np.stack([x - self.dx_per_dy * length, y - length], axis=1)
            lines = np.round(np.stack([heads, tails], axis=1)).astype(np.int32)
            thickness = 2 if self.scale >= 1.4 and self.spec.intensity > 55 else 1
            cv2.polylines(canvas, lines, False, int(self.spec.intensity), thickness, cv2.LINE_AA)
            return canvas
        inside = (y >= 0) & (y < self.height)
        xi = np.clip(x[inside].astype(np.int32), 0, self.width - 1)
        yi = y[inside].astype(np.int32)
        canvas[yi, xi] = 255
        radius = max(1, int(round(self.spec.length * self.scale)))
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
        canvas = cv2.dilate(canvas, kernel)
        canvas = cv2.GaussianBlur(canvas, (0, 0), sigmaX=max(0.6, radius * 0.5))
        return cv2.multiply(canvas, np.full_like(canvas, self.spec.intensity), scale=1 / 255.0)


# --- the renderer ------------------------------------------------------------------------------


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / max(edge1 - edge0, 1e-6), 0.0, 1.0)
    return t * t * (3 - 2 * t)


class ClassicRenderer:
    """Applies one :class:`Look` to frames of a fixed size; call :meth:`render` in frame order or not."""

    def __init__(self, look: Look, width: int, height: int, fps: float, seed: int) -> None:
        self.look, self.width, self.height, self.fps = look, width, height, fps
        self._matrix = self._colour_matrix(look)
        self._lut = self._tone_curve(look)
        self._mul, self._add = self._spatial_maps(look, width, height, seed)
        self._fields = [ParticleField(spec, width, height, fps, seed + 101 * (i + 1)) for i, spec in enumerate(look.particles)]
        self._setup_reflection(look, width, height)

    # per-clip precomputation

    @staticmethod
    def _colour_matrix(look: Look) -> np.ndarray:
        s = look.saturation
        sat = s * np.eye(3, dtype=np.float32) + (1 - s) * np.outer(np.ones(3, dtype=np.float32), _LUMA)
        return (np.diag(np.asarray(look.white_balance, dtype=np.float32)) @ sat).astype(np.float32)

    @staticmethod
    def _tone_curve(look: Look) -> np.ndarray:
        x = np.linspace(0.0, 1.0, 256, dtype=np.float64)
        y = np.power(np.clip(x * look.exposure, 0, None), look.gamma)
        y = (y - look.pivot * look.exposure) * look.contrast + look.pivot * look.exposure
        if look.highlight_keep:
            # light sources stay bright at night: pull the top of the range back toward the source
            weight = _smoothstep(0.7, 0.98, x) * look.highlight_keep
            y = y * (1 - weight) + x * weight
        return np.clip(np.round(y * 255), 0, 255).astype(np.uint8)

    def _spatial_maps(self, look: Look, width: int, height: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
        v = yy / max(height - 1, 1)  # 0 top .. 1 bottom
        u = xx / max(width - 1, 1)
        aspect = width / max(height, 1)
        r2 = ((u - 0.5) * aspect) ** 2 + (v - 0.5) ** 2
        r2 /= ((0.5 * aspect) ** 2 + 0.25)
        vignette = 1.0 - look.vignette * r2
        haze = look.haze_base + look.haze_top * np.clip(1.0 - v / max(look.horizon + 0.15, 0.1), 0, 1) ** 1.5
        if look.haze_patchiness:
            rng = np.random.default_rng(seed + 7)
            coarse = rng.uniform(-1, 1, (6, 10)).astype(np.float32)
            patches = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
            haze = haze + look.haze_patchiness * patches
        haze = np.clip(haze, 0.0, 0.85)
        ground = _smoothstep(look.horizon, look.horizon + 0.15, v)
        self._ground = ground
        mul = vignette * (1.0 - haze) * (1.0 - look.ground_darken * ground) * (1.0 - 0.45 * look.ground_white * ground)
        add = haze[..., None] * np.asarray(look.haze_colour, np.float32)[None, None, :]
        if look.glow:
            sky = np.clip(1.0 - v / max(look.horizon, 0.1), 0, 1) ** 2
            add = add + (look.glow * sky)[..., None] * np.asarray(look.glow_colour, np.float32)
        if look.ground_white:
            add = add + (look.ground_white * ground * 235.0)[..., None]
        mul3 = np.clip(np.round(np.repeat(mul[..., None], 3, axis=2) * 255), 0, 255).astype(np.uint8)
        add3 = np.clip(np.round(add), 0, 255).astype(np.uint8)
        return mul3, add3

    def _setup_reflection(self, look: Look, width: int, height: int) -> None:
        self._gloss = None
        if look.gloss <= 0:
            return
        sw, sh = max(8, width // 4), max(8, height // 4)
        horizon_small = look.horizon * sh
        self._small = (sw, sh)
        self._row0 = int(look.horizon * height)
        # Only the mirrored rows that reach the frame are computed: small rows from ``first`` down,
        # plus the blur's reach above them (so the kept rows are exactly what a whole-frame pass gives).
        self._first = min(int(self._row0 * sh / height), sh - 1)
        ksize = int(round(0.8 * 3 * 2 + 1)) | 1  # OpenCV's kernel size for sigma 0.8 on uint8
        self._band0 = max(0, self._first - ksize // 2)
        ys, xs = np.mgrid[self._band0 : sh, 0:sw].astype(np.float32)
        self._refl_src_y = np.clip(2 * horizon_small - ys, 0, sh - 1).astype(np.float32)
        self._refl_xs = xs
        self._refl_rows = ys[:, :1]  # the ripple depends on the row only
        # ... and only the small rows those read from are shrunk, when the shrink is an exact 4x4 box
        # average (then a band of it is the same as the band of the whole); otherwise the whole frame.
        src_lo = int(np.floor(self._refl_src_y.min()))
        src_hi = min(sh, int(np.ceil(self._refl_src_y.max())) + 2)  # + the linear interpolation's neighbour
        exact = width % sw == 0 and height % sh == 0
        self._src_band = (src_lo, src_hi) if exact else (0, sh)
        self._refl_src_y -= self._src_band[0]
        gloss = (look.gloss * self._ground[self._row0 :] * 255).astype(np.uint8)
        self._gloss = cv2.merge([gloss, gloss, gloss])

    # per frame

    def render(self, frame: np.ndarray, index: int) -> np.ndarray:
        """The re-rendered RGB ``uint8`` frame ``index`` (input is not modified)."""
        out = cv2.transform(frame, self._matrix)  # the one new picture per frame; every later step works in place
        cv2.LUT(out, self._lut, dst=out)
        cv2.multiply(out, self._mul, dst=out, scale=1 / 255.0)
        cv2.add(out, self._add, dst=out)
        if self._gloss is not None:
            # mirror the graded picture, so a reflection is never brighter than the scene it reflects
            lower = out[self._row0 :]
            cv2.add(lower, self._reflection(out, index), dst=lower)
        particles = self._particles(index)
        if particles is not None:
            cv2.add(out, cv2.cvtColor(particles, cv2.COLOR_GRAY2RGB), dst=out)
        return out

    def _particles(self, index: int) -> np.ndarray | None:
        """Every particle field's mask summed (saturating) into one: adding that once to the three
        channels is the same as adding each field's mask in turn, for a fraction of the work."""
        total = None
        for particles in self._fields:
            mask = particles.mask(index)
            total = mask if total is None else cv2.add(total, mask, dst=total)
        return total

    def _reflection(self, frame: np.ndarray, index: int) -> np.ndarray:
        sw, sh = self._small
        lo, hi = self._src_band
        if (lo, hi) == (0, sh):
            small = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
        else:  # exact 4x4 box average: shrink only the rows the mirror reads
            fy = self.height // sh
            small = cv2.resize(frame[lo * fy : hi * fy, : sw * (self.width // sw)], (sw, hi - lo), interpolation=cv2.INTER_AREA)
        t = index / self.fps
        ripple = (0.8 * np.sin(self._refl_rows * 0.9 + t * 3.0)).astype(np.float32)
        mirrored = cv2.remap(small, self._refl_xs + ripple, self._refl_src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        cv2.GaussianBlur(mirrored, (0, 0), 0.8, dst=mirrored)
        lower = cv2.resize(mirrored[self._first - self._band0 :], (self.width, self.height - self._row0),
                           interpolation=cv2.INTER_LINEAR)
        return cv2.multiply(lower, self._gloss, dst=lower, scale=1 / 255.0)

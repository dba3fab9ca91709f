"""The classic look's particle and reflection passes do less work than the plain whole-frame passes
(one summed particle mask, only the mirrored band shrunk, blurred and resized) and give the very same
pixels; any frame stays a pure function of (look, seed, frame index)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from skill.engines._classic import ClassicRenderer, build_look
from skill.engines._conditions import resolve

HEAVY = {"weather": "rain", "time_of_day": "night", "lighting": "dim", "surface_condition": "wet"}
LOOKS = [HEAVY, {"weather": "rain"}, {"weather": "snow", "surface_condition": "wet"}, {"weather": "clear"}]


def _frame(width: int, height: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 128, (height, width, 3))
    ramp = np.linspace(0, 120, width)[None, :, None] + np.linspace(0, 60, height)[:, None, None]
    return np.clip(noise + ramp, 0, 255).astype(np.uint8)


def _plain_render(r: ClassicRenderer, frame: np.ndarray, index: int) -> np.ndarray:
    """The same look computed the plain way: every pass over the whole frame, one field at a time."""
    out = cv2.add(cv2.multiply(cv2.LUT(cv2.transform(frame, r._matrix), r._lut), r._mul, scale=1 / 255.0), r._add)
    if r._gloss is not None:
        sw, sh = r._small
        small = cv2.resize(out, (sw, sh), interpolation=cv2.INTER_AREA)
        ys, xs = np.mgrid[0:sh, 0:sw].astype(np.float32)
        src_y = np.clip(2 * r.look.horizon * sh - ys, 0, sh - 1).astype(np.float32)
        ripple = (0.8 * np.sin(ys * 0.9 + index / r.fps * 3.0)).astype(np.float32)
        mirrored = cv2.GaussianBlur(cv2.remap(small, xs + ripple, src_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT),
                                    (0, 0), 0.8)
        first = min(int(r._row0 * sh / r.height), sh - 1)
        lower = cv2.resize(mirrored[first:], (r.width, r.height - r._row0), interpolation=cv2.INTER_LINEAR)
        out[r._row0 :] = cv2.add(out[r._row0 :], cv2.multiply(lower, r._gloss, scale=1 / 255.0))
    for field in r._fields:
        out = cv2.add(out, cv2.cvtColor(field.mask(index), cv2.COLOR_GRAY2RGB))
    return out


@pytest.mark.parametrize("size", [(1280, 720), (768, 576), (854, 480), (161, 91), (320, 180)])
@pytest.mark.parametrize("variables", LOOKS, ids=lambda v: "+".join(v.values()))
def test_the_banded_passes_give_the_same_pixels_as_whole_frame_passes(size, variables):
    width, height = size
    frame = _frame(width, height)
    renderer = ClassicRenderer(build_look(resolve(variables), 1234), width, height, 10.0, 1234)
    for index in (0, 7, 33):
        assert np.array_equal(renderer.render(frame, index), _plain_render(renderer, frame, index)), (size, index)


def test_the_reflection_band_is_smaller_than_the_frame_for_exact_shrinks():
    """The saving is real: on a 720p frame only part of the picture is shrunk for the mirror."""
    r = ClassicRenderer(build_look(resolve(HEAVY), 1234), 1280, 720, 10.0, 1234)
    lo, hi = r._src_band
    assert r._gloss is not None and 0 < hi - lo < r._small[1]
    odd = ClassicRenderer(build_look(resolve(HEAVY), 1234), 854, 480, 10.0, 1234)
    assert odd._src_band == (0, odd._small[1])  # 854 / 213 is not a whole box: the whole frame is shrunk


def test_frames_are_a_function_of_seed_and_index_only():
    frame = _frame(320, 180, seed=3)
    look = build_look(resolve(HEAVY), 99)
    a, b = (ClassicRenderer(look, 320, 180, 10.0, 99) for _ in range(2))
    forward = [a.render(frame, i) for i in range(6)]
    backward = [b.render(frame, i) for i in reversed(range(6))][::-1]
    assert all(np.array_equal(x, y) for x, y in zip(forward, backward, strict=True))
    other = ClassicRenderer(build_look(resolve(HEAVY), 100), 320, 180, 10.0, 100)
    assert not np.array_equal(other.render(frame, 2), forward[2])
    assert not np.array_equal(forward[1], forward[2])  # rain and ripple move

"""Synthetic scenes: a real H.264 file, deterministic frames, and ground truth that fits the pixels."""

from __future__ import annotations

import numpy as np
import pytest

from skill.engines.mot_metrics import iou_matrix, read_mot
from skill.engines.synthetic import GroundTruth, SceneObject, default_scene_objects, make_scene, render_frames
from skill.engines.video_io import iter_frames, probe
from skill.errors import InputError


@pytest.fixture(scope="module")
def road(tmp_path_factory) -> tuple[object, GroundTruth]:
    path = tmp_path_factory.mktemp("synthetic") / "road.mp4"
    return path, make_scene(path, width=320, height=180, fps=10, seconds=3, background="road", seed=4)


def test_writes_a_playable_h264_clip(road):
    path, gt = road
    info = probe(path)
    assert (info.width, info.height, info.fps, info.codec) == (320, 180, 10.0, "h264")
    assert info.frames == gt.frames == 30
    assert sum(1 for _ in iter_frames(path)) == 30


def test_ground_truth_shape(road):
    _, gt = road
    assert gt.rows, "a road scene has visible objects"
    assert {r.frame for r in gt.rows} <= set(range(1, gt.frames + 1))
    assert min(r.id for r in gt.rows) == 1
    for r in gt.rows:
        assert r.x >= 0 and r.y >= 0 and r.x + r.w <= gt.width and r.y + r.h <= gt.height
    spans = {oid: [r.frame for r in gt.rows if r.id == oid] for oid in gt.kinds}
    assert any(s and s[0] > 1 for s in spans.values()), "some object enters after the start"
    assert any(s and s[-1] < gt.frames for s in spans.values()), "some object leaves before the end"
    assert gt.count("car") == 3 and gt.count("person") == 3


def test_presets_hold_a_crossing_pair():
    for kind in ("road", "plaza", "indoor"):
        _, gt = render_frames(width=320, height=180, seconds=3, background=kind)
        crossing = False
        for boxes in gt.by_frame().values():
            if len(boxes) >= 2:
                iou = iou_matrix(np.array([b for _, b in boxes]), np.array([b for _, b in boxes]))
                np.fill_diagonal(iou, 0)
                crossing |= bool((iou > 0).any())
        assert crossing, kind


def test_same_seed_same_clip_other_seed_other_pixels():
    frames_a, gt_a = render_frames(width=160, height=90, seconds=1, seed=3)
    frames_b, gt_b = render_frames(width=160, height=90, seconds=1, seed=3)
    frames_c, gt_c = render_frames(width=160, height=90, seconds=1, seed=4)
    a, b, c = list(frames_a), list(frames_b), list(frames_c)
    assert gt_a == gt_b
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])
    assert [r.id for r in gt_a.rows] == [r.id for r in gt_c.rows]  # same paths, other texture and noise


def test_ground_truth_box_is_the_drawn_shape():
    obj = SceneObject(kind="person", start=(0.3, 0.5), end=(0.7, 0.5), color=(20, 20, 20))
    frames, gt = render_frames(width=320, height=180, seconds=1, objects=[obj], seed=1, background="plaza")
    empty, _ = render_frames(width=320, height=180, seconds=1, objects=[], seed=1, background="plaza")
    for frame, background, row in zip(frames, empty, gt.rows, strict=True):
        ys, xs = np.nonzero((frame != background).any(axis=2))  # same seed: only the drawn object differs
        drawn = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
        assert iou_matrix(np.array([drawn]), np.array([(row.x, row.y, row.w, row.h)]))[0, 0] > 0.9


def test_mot_text_round_trip(road, tmp_path):
    _, gt = road
    path = gt.write_mot(tmp_path / "gt" / "gt.txt")
    lines = path.read_text().splitlines()
    assert lines[0].count(",") == 9 and lines[0].endswith(",1,-1,-1,-1")
    loaded = read_mot(path)
    original = gt.by_frame()
    assert sum(len(v) for v in loaded.values()) == len(gt.rows)
    first = min(loaded)
    assert loaded[first][0][0] == original[first][0][0]
    assert loaded[first][0][1] == pytest.approx(original[first][0][1], abs=0.01)


def test_presets_and_errors():
    assert {o.kind for o in default_scene_objects("road")} == {"car", "person"}
    assert {o.kind for o in default_scene_objects("indoor")} == {"person"}
    with pytest.raises(InputError, match="Unknown scene preset"):
        default_scene_objects("beach")  # type: ignore[arg-type]
    with pytest.raises(InputError, match="not usable"):
        render_frames(width=321, height=180)
    with pytest.raises(InputError, match="fps"):
        render_frames(fps=0)

"""The SORT-style tracker: unit behaviour on hand-made boxes, then MOTA/IDF1 on synthetic scenes.

Floors for the synthetic scenes (3 s, 10 fps, the presets with seeds 0 and 1) were set from
measured values minus a margin: measured MOTA 0.94-1.00 and IDF1 0.97-1.00 at 320x180 and 640x360;
the floors are MOTA >= 0.85 and IDF1 >= 0.85.
"""

from __future__ import annotations

import numpy as np
import pytest

from skill.engines._label_classic import ClassicSettings, analyze_video
from skill.engines._tracker import SortTracker, iou_xyxy
from skill.engines.mot_metrics import evaluate
from skill.engines.synthetic import make_scene, walking_pairs

MOTA_FLOOR = 0.85
IDF1_FLOOR = 0.85


def box(x: float, y: float, w: float = 20.0, h: float = 40.0) -> list[float]:
    return [x, y, x + w, y + h]


def run(tracker: SortTracker, frames: list[list[list[float]]], **finish):
    for index, dets in enumerate(frames):
        tracker.step(index, np.array(dets, dtype=float).reshape(-1, 4), ["person"] * len(dets))
    return tracker.finish(**finish)


def test_iou_xyxy():
    iou = iou_xyxy(np.array([box(0, 0)]), np.array([box(0, 0), box(10, 0), box(100, 100)]))
    assert iou[0, 0] == pytest.approx(1.0)
    assert iou[0, 1] == pytest.approx(400 / 1200)
    assert iou[0, 2] == 0.0


def test_two_walkers_keep_their_ids():
    frames = [[box(10 + 5 * t, 20), box(200 - 5 * t, 100)] for t in range(12)]
    tracks = run(SortTracker(min_hits=3), frames)
    assert [t.track_id for t in tracks] == [1, 2]
    first, second = tracks
    assert first.frames == list(range(12)) and second.frames == list(range(12))
    assert first.boxes[0][0] == 10 and first.boxes[-1][0] == 65  # track 1 is the one that started at x=10
    assert first.label == "person" and first.observed == 12


def test_confirmation_and_short_tracks():
    frames = [[box(10 + 5 * t, 20)] + ([box(300, 300)] if t == 4 else []) for t in range(10)]
    tracks = run(SortTracker(min_hits=3), frames)
    assert len(tracks) == 1, "a one-frame blip is never confirmed"
    assert run(SortTracker(min_hits=3), frames, min_track_frames=11) == []


def test_gaps_are_interpolated():
    frames = [[box(10 + 6 * t, 20)] if t not in (5, 6) else [] for t in range(12)]
    (track,) = run(SortTracker(min_hits=2, max_gap=3), frames)
    assert track.frames == list(range(12)) and track.observed == 10
    assert track.box_at(5)[0] == pytest.approx(40.0) and track.box_at(6)[0] == pytest.approx(46.0)
    (gappy,) = run(SortTracker(min_hits=2, max_gap=1), frames)
    assert 5 not in gappy.frames


def test_still_ghosts_are_dropped():
    frames = [[box(50, 50), box(10 + 6 * t, 120)] for t in range(10)]
    tracks = run(SortTracker(min_hits=2), frames)
    assert len(tracks) == 1 and tracks[0].boxes[0][1] == 120


def test_a_track_that_leaves_is_not_reused_by_a_newcomer():
    # Object 1 drives out on the right; object 2 enters at the right edge two frames later.
    frames = [[box(260 + 12 * t, 50, 40, 20)] for t in range(6)] + [[]] + [[box(290 - 12 * t, 50, 40, 20)] for t in range(6)]
    tracks = run(SortTracker(min_hits=2, max_age=30, frame_size=(320, 180)), frames)
    assert len(tracks) == 2
    assert max(tracks[0].frames) < min(tracks[1].frames)


def test_crossing_pair_coasts_through_a_merged_blob():
    frames = []
    for t in range(16):
        a, b = box(40 + 10 * t, 50), box(190 - 10 * t, 55)
        if 6 <= t <= 8:  # the two overlap and the detector sees one wide blob
            frames.append([[min(a[0], b[0]), 50, max(a[2], b[2]), 95]])
        else:
            frames.append([a, b])
    tracks = run(SortTracker(min_hits=2, max_gap=5), frames)
    assert len(tracks) == 2
    left_to_right = next(t for t in tracks if t.boxes[0][0] == 40)
    assert left_to_right.frames == list(range(16))
    assert left_to_right.boxes[-1][0] == pytest.approx(190)  # it kept following the same object


def _feed(tracker: SortTracker, frames: list[list[tuple[list[float], str]]]):
    for index, dets in enumerate(frames):
        tracker.step(index, np.array([d for d, _ in dets], dtype=float).reshape(-1, 4), [label for _, label in dets])
    return tracker.finish()


def test_a_car_seen_in_two_parts_stays_one_track():
    """A car clipped by the frame edge falls into two upright blobs (the splitter takes them for
    people side by side): a car track whose prediction holds both gets them back as one box."""
    frames = []
    for t in range(16):
        car = [200 - 8 * t, 60, 320 - 8 * t, 120]
        if t < 8:
            frames.append([(car, "car")])
        else:
            mid = (car[0] + car[2]) / 2
            frames.append([([car[0], 62, mid - 2, 120], "person"), ([mid + 2, 60, car[2], 118], "person")])
    tracks = _feed(SortTracker(min_hits=2, max_gap=5), frames)
    assert len(tracks) == 1 and tracks[0].frames == list(range(16)) and tracks[0].label == "car"
    assert tracks[0].boxes[-1] == pytest.approx([200 - 8 * 15, 60, 320 - 8 * 15, 120])


def test_people_inside_a_walking_group_track_are_not_rejoined():
    """Only car, truck and bus tracks are rejoined: a blob of two people splitting into two keeps both."""
    frames = [[([100 + 4 * t, 50, 160 + 4 * t, 130], "person")] for t in range(6)]
    frames += [[([100 + 4 * t, 50, 128 + 4 * t, 130], "person"), ([132 + 4 * t, 52, 160 + 4 * t, 130], "person")]
               for t in range(6, 16)]
    assert len(_feed(SortTracker(min_hits=2, max_gap=5), frames)) >= 2


def test_frames_must_increase():
    tracker = SortTracker()
    tracker.step(3, np.zeros((0, 4)))
    with pytest.raises(ValueError):
        tracker.step(3, np.zeros((0, 4)))
    with pytest.raises(ValueError):
        SortTracker(min_hits=0)


def _score(path, gt):
    analysis = analyze_video(path, ClassicSettings())
    hyp: dict[int, list] = {}
    for track in analysis.tracks:
        for frame, b in zip(track.frames, track.boxes, strict=True):
            hyp.setdefault(frame + 1, []).append((track.track_id, (b[0], b[1], b[2] - b[0], b[3] - b[1])))
    return evaluate(gt.by_frame(), hyp), analysis


@pytest.mark.parametrize(("background", "seed", "size"), [
    ("road", 0, (320, 180)), ("road", 1, (640, 360)),
    ("plaza", 0, (320, 180)), ("plaza", 1, (320, 180)),
    ("indoor", 0, (320, 180)), ("indoor", 1, (640, 360)),
])
def test_tracking_quality_on_synthetic_scenes(tmp_path, background, seed, size):
    path = tmp_path / f"{background}.mp4"
    gt = make_scene(path, width=size[0], height=size[1], seconds=3, background=background, seed=seed)
    summary, analysis = _score(path, gt)
    assert summary.mota >= MOTA_FLOOR, summary
    assert summary.idf1 >= IDF1_FLOOR, summary
    labels = [t.label for t in analysis.tracks]
    assert labels.count("person") == gt.count("person")
    assert labels.count("car") == gt.count("car")


def test_floor_can_fail_for_a_blind_tracker(tmp_path):
    """The same scoring flags a tracker that sees nothing: the floors above have teeth."""
    path = tmp_path / "road.mp4"
    gt = make_scene(path, width=320, height=180, seconds=2, background="road")
    assert evaluate(gt.by_frame(), {}).mota < MOTA_FLOOR


# Augmented clips keep the scene's geometry, so the ground truth still holds after the classic
# augmenter. Measured at 640x360 (seed 11, look seed 5): rain+evening MOTA 0.98 on road; the heaviest
# look (rain, night, dim, wet) 0.76 road / 0.94 plaza. Before the augmenter mirrored the graded picture
# and kept a floor of light, both scored below 0.5 (the heaviest look below 0): those labels were noise.
@pytest.mark.parametrize(("background", "variables", "floor"), [
    ("road", {"weather": "rain", "time_of_day": "evening"}, 0.85),
    ("plaza", {"weather": "rain", "time_of_day": "night", "lighting": "dim", "surface_condition": "wet"}, 0.75),
])
def test_tracking_quality_survives_augmentation(tmp_path, background, variables, floor):
    from skill.engines.augment import ClipConfig, augment_classic

    path = tmp_path / f"{background}.mp4"
    gt = make_scene(path, width=640, height=360, seconds=3, background=background, seed=11)
    out = tmp_path / "augmented"
    out.mkdir()
    augment_classic(ClipConfig(video_name=background, aug_idx=0, seed=5, variables=variables), path, out)
    summary, _ = _score(out / "augmented_video.mp4", gt)
    assert summary.mota >= floor, summary


# People walking side by side merge into one motion blob. Before blobs were split at the dip between
# two heads, this scene (two pairs and a loner, 4 s at 640x360, seed 11) scored MOTA -0.21, IDF1 0.15
# with 3 tracks for 5 people; measured after: MOTA 0.91, IDF1 0.95, 5 tracks (0.92 / 0.89 before boxes were tightened).
@pytest.mark.parametrize("size", [(640, 360), (320, 180)])
def test_people_walking_side_by_side_get_a_track_each(tmp_path, size):
    path = tmp_path / "pairs.mp4"
    gt = make_scene(path, width=size[0], height=size[1], seconds=4, objects=walking_pairs(*size), background="plaza", seed=11)
    summary, analysis = _score(path, gt)
    assert summary.mota >= 0.8 and summary.idf1 >= 0.75, summary
    assert [t.label for t in analysis.tracks].count("person") == gt.count("person") == 5


def test_split_upright_finds_heads_and_leaves_vehicles_whole():
    import cv2

    from skill.engines._label_classic import split_upright

    def components(mask):
        _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
        return labels, stats

    pair = np.zeros((120, 120), np.uint8)
    for cx in (40, 72):  # two people shoulder to shoulder: heads 32 px apart, bodies touching
        cv2.circle(pair, (cx, 18), 8, 1, -1)
        cv2.rectangle(pair, (cx - 17, 27), (cx + 17, 110), 1, -1)
    labels, stats = components(pair)
    parts = split_upright(labels, stats, 1)
    assert len(parts) == 2 and parts[0][2] <= parts[1][0] + 2

    car = np.zeros((80, 200), np.uint8)
    cv2.rectangle(car, (10, 40), (190, 70), 1, -1)  # body
    cv2.rectangle(car, (55, 15), (145, 40), 1, -1)  # cabin: one hump
    labels, stats = components(car)
    assert split_upright(labels, stats, 1) == [(10, 15, 191, 71)]

    one = np.zeros((120, 60), np.uint8)
    cv2.circle(one, (30, 18), 8, 1, -1)
    cv2.rectangle(one, (12, 27), (48, 110), 1, -1)
    labels, stats = components(one)
    assert len(split_upright(labels, stats, 1)) == 1


def test_a_fragment_that_continues_a_track_is_joined():
    """A walker hidden for 15 frames outlives the online tracker's patience (max_age 10) and comes
    back as a new track; it starts where the first one was heading, so finish() joins the two."""
    frames = [[box(10 + 3 * i, 50)] for i in range(20)] + [[] for _ in range(15)]
    frames += [[box(10 + 3 * (35 + i) + 6, 50)] for i in range(20)]
    joined = run(SortTracker(max_age=10, max_gap=10, link_gap=30), frames)
    assert len(joined) == 1 and joined[0].observed == 40
    assert len(run(SortTracker(max_age=10, max_gap=10, link_gap=0), frames)) == 2
    # another walker, far from where the first was heading, stays its own track
    frames[35:] = [[box(250 - 3 * i, 130)] for i in range(20)]
    assert len(run(SortTracker(max_age=10, max_gap=10, link_gap=30), frames)) == 2


def test_the_written_out_kalman_steps_are_the_matrix_formulas_bit_for_bit():
    """predict/update skip the 8x8 products with F = [[I, I], [0, I]] and H = [I, 0]; the values must
    be exactly those of F x, F P F' + Q, H P H' + R, P H' S^-1 and (I - K H) P."""
    from skill.engines._tracker import _Kalman

    F = np.eye(8)
    F[:4, 4:] = np.eye(4)
    H = np.eye(4, 8)
    rng = np.random.default_rng(15)
    for _ in range(200):
        box = np.sort(rng.uniform(0, 500, 2)).tolist() + np.sort(rng.uniform(0, 400, 2)).tolist()
        kf = _Kalman(np.array([box[0], box[2], box[1], box[3]]))
        kf.x[4:] = rng.normal(0, 3, 4)
        a = rng.normal(0, 2, (8, 8))
        kf.P = kf.P + a @ a.T  # a full covariance: every entry takes part
        x, P = kf.x.copy(), kf.P.copy()
        x[6:] = np.where(x[2:4] + x[6:] <= 1, 0.0, x[6:])  # a size shrinking below a pixel stops shrinking
        w, h = max(x[2], 1.0), max(x[3], 1.0)
        q = np.diag(np.array([0.05 * w, 0.05 * h, 0.03 * w, 0.03 * h, 0.06 * w, 0.06 * h, 0.01 * w, 0.01 * h]) ** 2)
        kf.predict()
        assert np.array_equal(kf.x, F @ x) and np.array_equal(kf.P, F @ P @ F.T + q)
        x, P = kf.x.copy(), kf.P.copy()
        w, h = max(x[2], 1.0), max(x[3], 1.0)
        r = np.diag(np.array([0.08 * w, 0.08 * h, 0.12 * w, 0.12 * h]) ** 2)
        seen = np.array([box[0] + 2, box[2] - 1, box[1] + 3, box[3] + 1])
        kf.update(seen)
        s = H @ P @ H.T + r
        k = P @ H.T @ np.linalg.inv(s)
        z = np.array([(seen[0] + seen[2]) / 2, (seen[1] + seen[3]) / 2, max(seen[2] - seen[0], 1.0), max(seen[3] - seen[1], 1.0)])
        assert np.array_equal(kf.x, x + k @ (z - H @ x))
        assert np.array_equal(kf.P, (np.eye(8) - k @ H) @ P)

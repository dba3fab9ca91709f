"""Tracking quality of the classic labeler on synthetic scenes with known ground truth.

Rows report MOTA and IDF1 (CLEAR / identity metrics, IoU >= 0.5) for the road, plaza and indoor
presets: 640x360 at 10 fps, 3 s clips (quick) or 10 s clips (full; the same paths, slower motion).
Targets are the floors the tests hold (0.85) — the tests use 3 s clips; these numbers show the margin.

The same scenes are then re-rendered by the classic augmenter (rain at night, dim, wet ground: the
heaviest look; and fog) and labeled again. The augmenter changes no geometry, so the ground truth
still holds: these rows show how much auto-label quality an augmented clip costs (no target; report).
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from skill.engines._label_classic import ClassicSettings, analyze_video
from skill.engines.augment import ClipConfig, augment_classic
from skill.engines.mot_metrics import evaluate
from skill.engines.synthetic import make_scene

TARGET = 0.85
SCENES = ("road", "plaza", "indoor")
LOOKS = {
    "rain+night+wet": {"weather": "rain", "time_of_day": "night", "lighting": "dim", "surface_condition": "wet"},
    "fog": {"weather": "fog", "time_of_day": "midday"},
}


def _hypothesis(tracks) -> dict[int, list]:
    hyp: dict[int, list] = {}
    for track in tracks:
        for frame, b in zip(track.frames, track.boxes, strict=True):
            hyp.setdefault(frame + 1, []).append((track.track_id, (b[0], b[1], b[2] - b[0], b[3] - b[1])))
    return hyp


def run(quick: bool = True) -> list[dict]:
    seconds = 3 if quick else 10
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="vda-bench-tracking-") as tmp:
        for scene in SCENES:
            path = Path(tmp) / f"{scene}.mp4"
            gt = make_scene(path, width=640, height=360, fps=10, seconds=seconds, background=scene, seed=11)
            summary = evaluate(gt.by_frame(), _hypothesis(analyze_video(path, ClassicSettings()).tracks))
            c = summary.clear
            notes = (f"{seconds}s 640x360 10fps, {len(gt.kinds)} objects; FN {c.fn} FP {c.fp} IDSW {c.idsw} "
                     f"of {c.num_gt} boxes; MOTP {c.motp:.2f}")
            rows.append({"name": f"MOTA {scene}", "value": round(summary.mota, 4), "target": TARGET, "notes": notes})
            rows.append({"name": f"IDF1 {scene}", "value": round(summary.idf1, 4), "target": TARGET,
                         "notes": f"IDTP {summary.identity.idtp} IDFP {summary.identity.idfp} IDFN {summary.identity.idfn}"})
            for look, variables in LOOKS.items():
                out = Path(tmp) / f"{scene}-{look}"
                out.mkdir()
                augment_classic(ClipConfig(video_name=scene, aug_idx=0, seed=5, variables=variables), path, out)
                aug = evaluate(gt.by_frame(), _hypothesis(analyze_video(out / "augmented_video.mp4", ClassicSettings()).tracks))
                a = aug.clear
                rows.append({"name": f"MOTA {scene}, augmented {look}", "value": round(aug.mota, 4),
                             "notes": f"clean {summary.mota:.3f}; FN {a.fn} FP {a.fp} IDSW {a.idsw} of {a.num_gt} boxes"})
                rows.append({"name": f"IDF1 {scene}, augmented {look}", "value": round(aug.idf1, 4),
                             "notes": f"clean {summary.idf1:.3f}"})
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)

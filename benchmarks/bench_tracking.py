"""Tracking quality of the classic labeler on synthetic scenes with known ground truth, and on real footage.

Rows report MOTA and IDF1 (CLEAR / identity metrics, IoU >= 0.5) for the road, plaza and indoor
presets: 640x360 at 10 fps, 3 s clips (quick) or 10 s clips (full; the same paths, slower motion).
Targets are the floors the tests hold (0.85) — the tests use 3 s clips; these numbers show the margin.
The real-footage rows come last: the clip committed in tests/data/real/parking-lot (always) and a
MOTChallenge sequence named by VDA_BENCH_MOT_VIDEO / VDA_BENCH_MOT_GT (when set); their targets are
the floors tests/unit/test_real_footage.py holds.

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
from skill.engines.synthetic import make_scene, walking_pairs

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
        rows += _walking_pairs(Path(tmp), seconds + 1)
    rows += _real_sequence()
    return rows


def _walking_pairs(tmp: Path, seconds: int) -> list[dict]:
    """Two pairs walking side by side (one motion blob each) and a loner: the blob-splitting case."""
    path = tmp / "pairs.mp4"
    gt = make_scene(path, width=640, height=360, fps=10, seconds=seconds, objects=walking_pairs(640, 360),
                    background="plaza", seed=11)
    analysis = analyze_video(path, ClassicSettings())
    summary = evaluate(gt.by_frame(), _hypothesis(analysis.tracks))
    c = summary.clear
    return [
        {"name": "MOTA walking pairs", "value": round(summary.mota, 4), "target": 0.8,
         "notes": f"{seconds}s 640x360; FN {c.fn} FP {c.fp} IDSW {c.idsw} of {c.num_gt} boxes"},
        {"name": "IDF1 walking pairs", "value": round(summary.idf1, 4), "target": 0.75, "notes": ""},
        {"name": "track count error, walking pairs", "value": len(analysis.tracks) - len(gt.kinds), "target": 0,
         "notes": f"{len(analysis.tracks)} tracks for {len(gt.kinds)} people"},
    ]


REAL_CLIP = Path(__file__).resolve().parent.parent / "tests" / "data" / "real" / "parking-lot"
# Floors the real-footage tests hold, per sequence (name from seqinfo.ini); any other sequence named
# by the variables is held to PETS09-S2L1's. Measured in issue 11:
#   parking-lot (the committed clip, 768x432): MOTA 0.450, IDF1 0.724, 8 tracks for 5 objects, since
#     the mask grows into the thin and pale parts next to its blobs (reach 11 px at 480), ghosts are
#     dropped and a car's parts are rejoined (before: MOTA 0.009, IDF1 0.468, 11 tracks: the
#     pale-topped walker and the thin white bicycles were caught in parts, so most of their boxes
#     missed the 0.5 overlap; a 17 px reach gave 0.710 / 0.769 here but lowered PETS09 to 0.439);
#   PETS09-S2L1 (MOT15, a 480x360 re-encode, not committed): MOTA 0.522, IDF1 0.462, 50 tracks for
#     19 people (before those changes 0.494, 0.423, 51 tracks).
REAL_FLOORS = {
    "parking-lot": {"mota": 0.4, "idf1": 0.66, "extra_tracks": 4},
    "PETS09-S2L1": {"mota": 0.45, "idf1": 0.38, "extra_tracks": 35},
}


def real_floors(name: str) -> dict[str, float]:
    return REAL_FLOORS.get(name, REAL_FLOORS["PETS09-S2L1"])


def real_sequences() -> list[tuple[Path, Path]]:
    """(video, gt/gt.txt) of the real sequences to measure: the clip committed in tests/data/real,
    then the one VDA_BENCH_MOT_VIDEO (a video of the sequence, any size) and VDA_BENCH_MOT_GT (its
    gt/gt.txt, with seqinfo.ini two folders up) name, when both are files."""
    import os

    found = [(REAL_CLIP / "parking-lot.mp4", REAL_CLIP / "gt" / "gt.txt")]
    video, gt_txt = os.environ.get("VDA_BENCH_MOT_VIDEO", ""), os.environ.get("VDA_BENCH_MOT_GT", "")
    if video and gt_txt and Path(video).is_file() and Path(gt_txt).is_file():
        found.append((Path(video), Path(gt_txt)))
    return found


def _real_sequence() -> list[dict]:
    """MOTA, IDF1 and the track count on each real sequence of :func:`real_sequences`."""
    from skill.engines.mot_metrics import load_mot_sequence, tracks_as_hypothesis
    from skill.engines.video_io import probe

    rows: list[dict] = []
    sequences = real_sequences()
    for video, gt_txt in sequences:
        info = probe(video)
        seq = load_mot_sequence(gt_txt, video_size=(info.width, info.height))
        analysis = analyze_video(video, ClassicSettings())
        summary = evaluate(seq.frames, tracks_as_hypothesis(analysis.tracks))
        c = summary.clear
        floors = real_floors(seq.name)
        where = f"{seq.name} at {info.width}x{info.height}, {analysis.frames} frames"
        rows += [
            {"name": f"MOTA {seq.name}", "value": round(summary.mota, 4), "target": floors["mota"],
             "notes": f"{where}; FN {c.fn} FP {c.fp} IDSW {c.idsw} of {c.num_gt} boxes; MOTP {c.motp:.2f}"},
            {"name": f"IDF1 {seq.name}", "value": round(summary.idf1, 4), "target": floors["idf1"], "notes": where},
            {"name": f"track count error {seq.name}", "value": len(analysis.tracks) - seq.ids,
             "target": floors["extra_tracks"], "notes": f"{len(analysis.tracks)} tracks for {seq.ids} annotated objects"},
        ]
    if len(sequences) == 1:
        rows.append({"name": "real sequence (MOTChallenge)", "notes": "skipped: set VDA_BENCH_MOT_VIDEO and "
                     "VDA_BENCH_MOT_GT (e.g. PETS09-S2L1 of MOT15) to measure a bigger one too"})
    return rows


if __name__ == "__main__":
    for row in run(quick=True):
        print(row)

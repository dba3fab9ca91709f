"""The classic labeler on real footage, when a MOTChallenge sequence is on this machine.

Nothing is downloaded here: set VDA_BENCH_MOT_VIDEO (a video of the sequence, any size) and
VDA_BENCH_MOT_GT (its gt/gt.txt, seqinfo.ini two folders up), as for ``./run bench --only tracking``.
Measured on PETS09-S2L1 (MOT15 ground truth, 19 people, overcast daylight, no vehicle moving; a
480x360 re-encode of 795 frames): MOTA 0.494, IDF1 0.423, 51 tracks (before blob splitting,
fragment joining and box tightening: 0.303, 0.367, 55 tracks). The floors sit below with a margin.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from skill.engines.mot_metrics import evaluate, load_mot_sequence, tracks_as_hypothesis
from skill.engines.video_io import probe

VIDEO, GT = os.environ.get("VDA_BENCH_MOT_VIDEO", ""), os.environ.get("VDA_BENCH_MOT_GT", "")
pytestmark = pytest.mark.skipif(not (VIDEO and GT and Path(VIDEO).is_file() and Path(GT).is_file()),
                                reason="no real MOT sequence here (set VDA_BENCH_MOT_VIDEO and VDA_BENCH_MOT_GT)")
MOTA_FLOOR, IDF1_FLOOR, EXTRA_TRACKS = 0.45, 0.38, 35


def test_tracking_on_real_footage_holds_its_floor():
    from benchmarks.bench_tracking import REAL_FLOORS
    from skill.engines._label_classic import ClassicSettings, analyze_video

    info = probe(VIDEO)
    seq = load_mot_sequence(GT, video_size=(info.width, info.height))
    analysis = analyze_video(VIDEO, ClassicSettings())
    summary = evaluate(seq.frames, tracks_as_hypothesis(analysis.tracks))
    assert REAL_FLOORS == {"mota": MOTA_FLOOR, "idf1": IDF1_FLOOR}
    assert summary.mota >= MOTA_FLOOR and summary.idf1 >= IDF1_FLOOR, summary
    assert len(analysis.tracks) - seq.ids <= EXTRA_TRACKS


def test_real_daylight_pedestrian_footage_claims_no_crash_and_no_evening(tmp_path):
    from skill.engines.label import LabelRequest, label
    from skill.paths import cookbooks_dir

    scene = cookbooks_dir() / "city_traffic" / "auto_labeling"
    out = tmp_path / "scene"
    label(LabelRequest(engine="classic", video=Path(VIDEO), output_dir=out, config=scene / "auto_labeling_config.yaml",
                       question_bank=scene / "question_bank.json"))
    meta = json.loads((out / "sidecars" / "metadata.json").read_text())
    answers = {k: v["answer"] for k, v in meta["answers"].items()}
    assert answers.get("1_1", "No") == "No" and answers.get("1_2", "No") == "No"  # collision, near miss
    assert not any(("Evening" in str(a) or "Night" in str(a)) for a in answers.values()), answers
    bcq = json.loads((out / "task" / "bcq.json").read_text())["items"] if (out / "task" / "bcq.json").exists() else []
    assert all(i["answer"] == "No" for i in bcq if "hit" in i["question"] or "close to hitting" in i["question"])

"""The classic labeler end to end: DAFT layout, answers from sampled variables and from measurements,
include_if, the super-resolution gate, and bad input that must fail cleanly."""

from __future__ import annotations

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from skill.engines._daft import validate_scene
from skill.engines._mcq import ClassicFacts, QuestionBank, answer_classic
from skill.engines.label import LabelRequest, label, main
from skill.engines.synthetic import make_scene, render_frames
from skill.engines.video_io import VideoWriter, probe
from skill.paths import cookbooks_dir

CONFIG = {
    "pipeline": {"empty_output_policy": "warn"},
    "data": [{"inputs": {"video_path": "../input"}, "output": {"out_dir": "../output"}}],
    "endpoints": {"vlm": {"url": "", "model": ""}, "llm": {"url": "", "model": ""}},
    "super_resolution": {"enabled": False, "res_h": 720},
    "detection_and_tracking": {"enabled": True, "classes": ["car", "truck", "bus", "motorcycle", "bicycle", "person"],
                               "iou_threshold": 0.3, "max_age": 30, "min_hits": 3, "min_track_frames": 5,
                               "save_video": False},
    "vlm_json": {"enabled": False},
    "mcq_generation": {"enabled": True, "window_metadata_extraction": {"question_bank_file": None}},
}
BANK = {
    "name": "window_default_test",
    "questions": [
        {"id": "1_1", "question": "Does any vehicle hit another road user?", "options": ["Yes", "No"],
         "aggregation": "any", "measure": "collision"},
        {"id": "1_10", "question": "What kind of contact happens?", "options": ["A. Vehicle with vehicle", "B. Other"],
         "include_if": {"1_1": "Yes"}, "measure": "count:car"},
        {"id": "2_1", "question": "What is the weather in this clip?", "options": ["A. Clear", "B. Overcast", "C. Rain"],
         "aggregation": "majority", "measure": "weather"},
        {"id": "2_2", "question": "What time of day does the light suggest?",
         "options": ["A. Morning", "B. Midday", "C. Evening"], "measure": "time_of_day"},
        {"id": "3_1", "question": "How strong is the lighting in this scene?", "options": ["A. Bright", "B. Moderate", "C. Dim"],
         "measure": "lighting"},
        {"id": "4_1", "question": "Is a lane blocked?", "options": ["Yes", "No"], "measure": "none"},
        {"id": "5_1", "question": "How many cars pass?", "options": ["A. None", "B. 1-2", "C. 3 or more"], "measure": "count:car"},
        {"id": "5_2", "question": "Are pedestrians walking in the scene?", "options": ["Yes", "No"], "measure": "count:person"},
        {"id": "5_3", "question": "Is any vehicle moving?", "options": ["Yes", "No"], "measure": "motion"},
    ],
}


def write_inputs(folder: Path, *, config: dict | None = None, bank: dict | None = None) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path, bank_path = folder / "auto_labeling_config.yaml", folder / "question_bank.json"
    cfg_path.write_text(yaml.safe_dump(config or CONFIG, sort_keys=False))
    bank_path.write_text(json.dumps(bank or BANK))
    return cfg_path, bank_path


def read(path: Path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> tuple[Path, object]:
    folder = tmp_path_factory.mktemp("clip")
    path = folder / "augmented_video.mp4"
    return path, make_scene(path, width=320, height=180, fps=10, seconds=3, background="road", seed=2)


@pytest.fixture(scope="module")
def augmented(tmp_path_factory, clip) -> Path:
    """One CLI run on an 'augmented' clip whose sampled variables are known."""
    video, _ = clip
    folder = tmp_path_factory.mktemp("run")
    cfg, bank = write_inputs(folder / "in")
    vars_file = folder / "in" / "vars.json"
    vars_file.write_text(json.dumps({"weather": "rain", "time_of_day": "evening", "lighting": "dim"}))
    out = folder / "out" / "clip_aug0"
    code = main(["--engine", "classic", "--video", str(video), "--output-dir", str(out), "--config", str(cfg),
                 "--question-bank", str(bank), "--sampled-vars", str(vars_file)])
    assert code == 0
    return out


def test_daft_layout_is_valid(augmented):
    assert validate_scene(augmented) == []
    for rel in ("contextual/instances.json", "contextual/objects.json", "config.yaml", "sidecars/pipeline_status.json",
                "sidecars/metadata.json", "logs/pipeline.log", "task/mcq.json", "task/bcq.json"):
        assert (augmented / rel).is_file(), rel
    assert not list(augmented.glob(".staging-*"))
    text = (augmented / "contextual" / "instances.json").read_text()
    assert text.startswith('{\n  "version": "metropolis-v3.0",') and text.endswith("}\n")


def test_instances_and_objects(augmented, clip):
    _, gt = clip
    instances = read(augmented / "contextual" / "instances.json")["instances"]
    by_class: dict[str, list] = {}
    for oid, entry in instances.items():
        cls, track = oid.rsplit("_", 1)
        assert entry["object_type"] == cls and entry["caption"] == f"{cls} (track {track})"
        assert entry["semantic_id"] == {"person": 1, "car": 3}[cls]
        by_class.setdefault(cls, []).append(entry["instance_id"])
    assert {k: sorted(v) for k, v in by_class.items()} == {"car": [1, 2, 3], "person": [1, 2, 3]}
    assert len(by_class["car"]) == gt.count("car")
    objects = read(augmented / "contextual" / "objects.json")
    assert objects["video_id"] == "augmented_video"
    keys = list(objects["frames"])
    assert keys[0] == "augmented_video_frame_000000" and len(keys) == gt.frames
    boxes = [d for f in objects["frames"].values() for d in f["instances"]]
    assert boxes and all(set(d) == {"object_id", "bounding_box_2d_tight", "bounding_box_2d_loose"} for d in boxes)
    tight, loose = boxes[0]["bounding_box_2d_tight"], boxes[0]["bounding_box_2d_loose"]
    assert loose[0] <= tight[0] and loose[2] >= tight[2]
    assert all(v == round(v, 2) for v in tight + loose)


def test_answers_follow_the_sampled_variables(augmented):
    mcq = {item["question"]: item for item in read(augmented / "task" / "mcq.json")["items"]}
    weather = mcq["What is the weather in this clip?"]
    assert weather["answer"] == "C"
    assert weather["options"] == {"A": "Clear", "B": "Overcast", "C": "Rain"}
    assert "weather=rain" in weather["reasoning"] and "sampled" in weather["reasoning"]
    assert mcq["What time of day does the light suggest?"]["answer"] == "C"
    assert mcq["How strong is the lighting in this scene?"]["answer"] == "C"
    assert mcq["How many cars pass?"]["answer"] == "C"  # three cars drive through the road preset


def test_bcq_and_gates(augmented):
    bcq = {item["question"]: item["answer"] for item in read(augmented / "task" / "bcq.json")["items"]}
    assert bcq["Does any vehicle hit another road user?"] == "No"
    assert bcq["Are pedestrians walking in the scene?"] == "Yes"
    assert bcq["Is any vehicle moving?"] == "Yes"
    assert "Is a lane blocked?" not in bcq  # measure none: no CPU answer
    questions = [i["question"] for i in read(augmented / "task" / "mcq.json")["items"]]
    assert "What kind of contact happens?" not in questions  # include_if 1_1 == Yes does not hold
    skipped = {s["id"]: s["reason"] for s in read(augmented / "sidecars" / "metadata.json")["skipped_questions"]}
    assert skipped["1_10"] == "include_if condition not met" and "4_1" in skipped


def test_pipeline_status_is_honest(augmented):
    status = read(augmented / "sidecars" / "pipeline_status.json")
    assert status["status"] == "completed" and status["degraded"] is False and status["fallbacks"] == []
    stages = status["stages"]
    assert stages["super_resolution"]["status"] == "skipped" and stages["super_resolution"]["enabled"] is False
    assert stages["tracking"]["status"] == "completed"
    assert stages["vlm_json"] == {"enabled": False, "status": "skipped", "degraded": False, "reason": "CPU engine"}
    assert stages["mcq_generation"]["status"] == "completed" and stages["mcq_generation"]["engine"] == "classic"


def test_raw_config_and_metadata(augmented, clip):
    video, _ = clip
    raw = augmented / "raw" / "augmented_video.mp4"
    assert raw.is_symlink() and raw.resolve() == video.resolve()
    effective = yaml.safe_load((augmented / "config.yaml").read_text())
    assert effective["vda_label"]["engine"] == "classic"
    assert effective["vda_label"]["sampled_vars"]["weather"] == "rain"
    assert effective["data"][0]["inputs"]["video_path"] == str(video)
    assert effective["super_resolution"]["enabled"] is False
    meta = read(augmented / "sidecars" / "metadata.json")
    assert (meta["width"], meta["height"], meta["num_frames"], meta["framerate"]) == (320, 180, 30, 10.0)
    assert meta["windows"][0]["measurements"]["counts"] == {"car": 3, "person": 3}
    assert not (augmented / "sidecars" / "augmented_video_tracking.mp4").exists()  # save_video is off


def _lit_clip(path: Path, gain: float) -> Path:
    frames, gt = render_frames(width=320, height=180, fps=10, seconds=2, background="indoor", seed=5)
    with VideoWriter(path, gt.width, gt.height, gt.fps) as writer:
        for frame in frames:
            writer.write(np.clip(frame.astype(np.float32) * gain, 0, 255).astype(np.uint8))
    return path


def test_brightness_answers_dark_versus_bright(tmp_path):
    cfg, bank = write_inputs(tmp_path / "in")
    answers = {}
    for name, gain in (("dark", 0.3), ("bright", 1.35)):
        video = _lit_clip(tmp_path / f"{name}.mp4", gain)
        label(LabelRequest(engine="classic", video=video, output_dir=tmp_path / name, config=cfg, question_bank=bank))
        mcq = {i["question"]: i for i in read(tmp_path / name / "task" / "mcq.json")["items"]}
        answers[name] = mcq["How strong is the lighting in this scene?"]
    assert answers["dark"]["answer"] == "C" and answers["bright"]["answer"] == "A"
    assert "brightness" in answers["dark"]["reasoning"]


def test_include_if_gates_on_the_final_answers():
    bank = QuestionBank.model_validate(BANK)
    facts = ClassicFacts(categories={}, counts={"car": 2}, concurrent={"car": 1.0}, motion_level=1, motion_note="",
                         collision=True, near_miss=False, proximity_note="car_1 and car_2 overlapped")
    answers, skipped = answer_classic(bank, facts)
    assert answers["1_1"].answer == "Yes"
    assert "1_10" in answers  # gate open: 1_1 answered Yes
    facts_no = ClassicFacts(**{**facts.__dict__, "collision": False})
    answers, skipped = answer_classic(bank, facts_no)
    assert "1_10" not in answers and any(s.id == "1_10" for s in skipped)


def test_super_resolution_gate_upscales_a_180p_clip(tmp_path):
    video = tmp_path / "low.mp4"
    make_scene(video, width=320, height=180, fps=10, seconds=1.5, background="indoor", seed=1)
    cfg, bank = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(out), "--config", str(cfg),
                 "--question-bank", str(bank), "--super-resolution", "true"]) == 0
    sr = out / "sidecars" / "sr_output.mp4"
    info = probe(sr)
    assert (info.width, info.height, info.frames) == (1280, 720, 15)
    stage = read(out / "sidecars" / "pipeline_status.json")["stages"]["super_resolution"]
    assert stage["enabled"] is True and stage["status"] == "completed" and stage["output"] == "sidecars/sr_output.mp4"
    assert next(iter(read(out / "contextual" / "objects.json")["frames"])) == "sr_output_frame_000000"
    raw = out / "raw" / "low.mp4"
    assert raw.is_symlink() and os.readlink(raw) == "../sidecars/sr_output.mp4" and raw.resolve() == sr.resolve()
    assert validate_scene(out) == []


def test_super_resolution_skips_tall_inputs(tmp_path, clip):
    video, _ = clip
    cfg, bank = write_inputs(tmp_path / "in", config={**CONFIG, "super_resolution": {"enabled": True, "res_h": 180}})
    result = label(LabelRequest(engine="classic", video=video, output_dir=tmp_path / "out", config=cfg,
                                question_bank=bank, media_id="clip"))
    stage = read(tmp_path / "out" / "sidecars" / "pipeline_status.json")["stages"]["super_resolution"]
    assert stage["status"] == "skipped" and "already 180" in stage["reason"]
    assert result.stem == "augmented_video" and result.media_id == "clip"
    assert (tmp_path / "out" / "raw" / "clip.mp4").exists()
    assert not (tmp_path / "out" / "sidecars" / "sr_output.mp4").exists()


def test_tracking_video_only_when_asked(tmp_path, clip):
    video, _ = clip
    det = {**CONFIG["detection_and_tracking"], "save_video": True}
    cfg, bank = write_inputs(tmp_path / "in", config={**CONFIG, "detection_and_tracking": det})
    label(LabelRequest(engine="classic", video=video, output_dir=tmp_path / "out", config=cfg, question_bank=bank))
    overlay = tmp_path / "out" / "sidecars" / "augmented_video_tracking.mp4"
    assert probe(overlay).frames == 30


def test_the_cookbook_config_and_bank_work(tmp_path, clip):
    video, _ = clip
    book = cookbooks_dir() / "city_traffic" / "auto_labeling"
    vars_file = tmp_path / "vars.json"
    vars_file.write_text(json.dumps({"weather": "rain", "time_of_day": "midday"}))
    out = tmp_path / "out"
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(out), "--config",
                 str(book / "auto_labeling_config.yaml"), "--question-bank", str(book / "question_bank.json"),
                 "--sampled-vars", str(vars_file)]) == 0
    assert validate_scene(out) == []
    weather = [i for i in read(out / "task" / "mcq.json")["items"] if "weather" in i["question"]]
    assert weather and weather[0]["answer"] == "C"


def test_disabled_stages_are_reported_and_old_outputs_replaced(tmp_path, clip):
    video, _ = clip
    cfg, bank = write_inputs(tmp_path / "in")
    out = tmp_path / "out"
    label(LabelRequest(engine="classic", video=video, output_dir=out, config=cfg, question_bank=bank))
    assert (out / "task" / "mcq.json").exists() and (out / "contextual").exists()
    (out / "unrelated.txt").write_text("kept")
    off = {**CONFIG, "detection_and_tracking": {**CONFIG["detection_and_tracking"], "enabled": False},
           "mcq_generation": {"enabled": False}}
    cfg_off, _ = write_inputs(tmp_path / "off", config=off)
    result = label(LabelRequest(engine="classic", video=video, output_dir=out, config=cfg_off, question_bank=bank))
    stages = read(out / "sidecars" / "pipeline_status.json")["stages"]
    assert stages["tracking"] == {"enabled": False, "status": "skipped", "degraded": False, "reason": "disabled"}
    assert stages["mcq_generation"]["status"] == "skipped" and stages["mcq_generation"]["enabled"] is False
    assert not (out / "task").exists() and not (out / "contextual").exists()  # the earlier run's files are gone
    assert (out / "unrelated.txt").read_text() == "kept"
    assert result.status == "completed" and (result.mcq_items, result.bcq_items) == (0, 0)
    assert validate_scene(out) == []


def test_output_dir_that_is_a_file(tmp_path, clip, capsys):
    cfg, bank = write_inputs(tmp_path / "in")
    blocker = tmp_path / "out"
    blocker.write_text("a file")
    assert main(["--engine", "classic", "--video", str(clip[0]), "--output-dir", str(blocker), "--config", str(cfg)]) == 1
    assert "Cannot create the output folder" in capsys.readouterr().err


# --- bad input -----------------------------------------------------------------------------------------


def _truncated_faststart(path: Path) -> Path:
    """An mp4 with its index up front, cut in half: it opens, then the stream breaks off."""
    frames, gt = render_frames(width=160, height=90, seconds=2, seed=1)
    whole = path.with_name("whole.mp4")
    container = av.open(str(whole), "w", options={"movflags": "faststart"})
    stream = container.add_stream("libx264", rate=10)
    stream.width, stream.height, stream.pix_fmt = gt.width, gt.height, "yuv420p"
    for frame in frames:
        for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    data = whole.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


@pytest.mark.parametrize("kind", ["missing", "empty", "not_video", "cut_index", "cut_stream"])
def test_bad_input_fails_cleanly(tmp_path, capsys, clip, kind):
    cfg, bank = write_inputs(tmp_path / "in")
    video = tmp_path / "bad.mp4"
    if kind == "empty":
        video.write_bytes(b"")
    elif kind == "not_video":
        video.write_text("this is a text file, not a video\n" * 20)
    elif kind == "cut_index":
        data = clip[0].read_bytes()
        video.write_bytes(data[: len(data) // 2])
    elif kind == "cut_stream":
        _truncated_faststart(video)
    out = tmp_path / "out"
    code = main(["--engine", "classic", "--video", str(video), "--output-dir", str(out), "--config", str(cfg),
                 "--question-bank", str(bank)])
    err = capsys.readouterr().err
    assert code == 1
    assert err.startswith("Error: ") and err.count("\n") == 1 and "Traceback" not in err
    expected = {"missing": "does not exist", "empty": "empty", "not_video": "not a readable video",
                "cut_index": "not a readable video", "cut_stream": "truncated"}[kind]
    assert expected in err
    assert not (out / "sidecars" / "pipeline_status.json").exists()
    assert not (out / "contextual").exists() and not (out / "task").exists()
    assert not list(out.glob(".staging-*")) if out.exists() else True


def test_a_failure_after_start_is_logged_not_claimed(tmp_path, capsys):
    cfg, bank = write_inputs(tmp_path / "in")
    video = _truncated_faststart(tmp_path / "cut.mp4")
    out = tmp_path / "out"
    with pytest.raises(Exception, match="truncated"):
        label(LabelRequest(engine="classic", video=video, output_dir=out, config=cfg, question_bank=bank))
    assert "FAILED" in (out / "logs" / "pipeline.log").read_text()
    assert sorted(p.name for p in out.iterdir()) == ["logs"]


@pytest.mark.parametrize("argv", [
    ["--video", "x.mp4", "--output-dir", "o", "--config", "c.yaml"],
    ["--engine", "gpu", "--video", "x.mp4", "--output-dir", "o", "--config", "c.yaml"],
    ["--engine", "classic", "--video", "x.mp4", "--output-dir", "o", "--config", "c.yaml", "--super-resolution", "maybe"],
])
def test_usage_errors_exit_2(argv):
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2


def test_bad_config_and_bank_exit_1(tmp_path, capsys, clip):
    video, _ = clip
    cfg, bank = write_inputs(tmp_path / "in")
    broken = tmp_path / "in" / "broken.yaml"
    broken.write_text("detection_and_tracking: [unclosed\n")
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(tmp_path / "o"),
                 "--config", str(broken)]) == 1
    assert "not valid YAML" in capsys.readouterr().err
    bad_bank = tmp_path / "in" / "bank.json"
    bad_bank.write_text(json.dumps({"questions": [{"id": "1", "question": "q?", "options": ["Yes", "No"], "measure": "vibes"}]}))
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(tmp_path / "o"),
                 "--config", str(cfg), "--question-bank", str(bad_bank)]) == 1
    assert "measure" in capsys.readouterr().err
    vars_file = tmp_path / "in" / "vars.json"
    vars_file.write_text("[1, 2]")
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(tmp_path / "o"),
                 "--config", str(cfg), "--sampled-vars", str(vars_file)]) == 1
    assert "flat JSON object" in capsys.readouterr().err


# --- honest labels: collisions need moving vehicles; overcast daylight is not evening -----------------


def _walk(track_id: int, label: str, start: float, speed: float, stop_at: int | None = None, length: int = 60):
    import numpy as np

    from skill.engines._tracker import Track

    frames, boxes, x = list(range(length)), [], start
    for f in frames:
        if stop_at is None or f < stop_at:
            x += speed
        boxes.append(np.array([x, 100.0, x + 30.0, 180.0]))
    return Track(track_id=track_id, label=label, frames=frames, boxes=boxes, observed=length)


def test_pedestrian_overlap_is_never_a_collision():
    from skill.engines._label_classic import proximity_events

    # Two people meet and one stops: before the fix this read as a collision.
    a = _walk(1, "person", 0.0, 3.0, stop_at=30)
    b = _walk(2, "person", 90.0, 0.0, length=32)
    collision, near_miss, note = proximity_events([a, b], fps=10.0)
    assert (collision, near_miss) == (False, False)
    assert "no moving vehicle" in note


def test_a_moving_car_hitting_a_person_is_still_a_collision():
    from skill.engines._label_classic import proximity_events

    car = _walk(1, "car", 0.0, 3.0, stop_at=30)
    person = _walk(2, "person", 90.0, 0.0, length=32)
    collision, _, note = proximity_events([car, person], fps=10.0)
    assert collision, note


def test_overcast_daylight_is_not_evening():
    from skill.engines._label_classic import SceneMeasures, _categories

    overcast = SceneMeasures(brightness=105.0, contrast=35.0, saturation=0.12, haze=0.35, warmth=24.0)
    tod = _categories(overcast)["time_of_day"][0]
    assert tod not in ("evening", "night"), tod
    dusk = SceneMeasures(brightness=90.0, contrast=40.0, saturation=0.35, haze=0.2, warmth=30.0)
    assert _categories(dusk)["time_of_day"][0] == "evening"
    night = SceneMeasures(brightness=30.0, contrast=20.0, saturation=0.1, haze=0.1, warmth=5.0)
    assert _categories(night)["time_of_day"][0] == "night"


def test_low_confidence_answers_are_abstained_and_counted():
    from skill.engines._label_classic import SceneMeasures, category_confidence

    # Mid-band luma gives only the "morning" fallback: the labeler must not state it.
    mid = SceneMeasures(brightness=110.0, contrast=35.0, saturation=0.3, haze=0.2, warmth=5.0,
                        proximity_note="no moving vehicle track, so no collision or near miss can be claimed")
    conf = category_confidence(mid)
    assert conf["time_of_day"] < 0.5 <= conf["lighting"]
    assert conf["collision"] >= 0.9


def test_scene_records_confidence_abstentions_and_heuristics(augmented):
    import json as _json

    status = _json.loads(next(augmented.rglob("pipeline_status.json")).read_text())
    mcq = status["stages"]["mcq_generation"]
    assert isinstance(mcq["abstained"], int) and mcq["min_confidence"] == 0.5
    meta = _json.loads(next(augmented.rglob("metadata.json")).read_text())
    assert meta["produced_by"]["engine"] == "classic"
    assert meta["produced_by"]["heuristics"]
    for a in meta["answers"].values():
        assert a["measure"] and 0.5 <= a["confidence"] <= 1.0


def test_an_overcast_graded_daylight_clip_is_not_evening(tmp_path):
    """A daylight scene graded grey and slightly warm (low saturation, mid luma) reads as day."""
    import numpy as np

    from skill.engines._label_classic import ClassicSettings, _categories, analyze_video
    from skill.engines.synthetic import make_scene
    from skill.engines.video_io import VideoWriter, iter_frames

    src, out = tmp_path / "day.mp4", tmp_path / "overcast.mp4"
    make_scene(src, width=320, height=180, seconds=2, background="plaza", seed=0)
    with VideoWriter(out, 320, 180, 10) as writer:
        for frame in iter_frames(src):
            grey = frame.astype(np.float32).mean(axis=2, keepdims=True)
            graded = 0.95 * grey + 0.05 * frame.astype(np.float32)  # washed-out colour
            graded = 0.45 * graded + 25.0 + np.array([13.0, 5.0, -9.0])  # mid luma, warm cast
            writer.write(np.clip(graded, 0, 255).astype(np.uint8))
    m = analyze_video(out, ClassicSettings()).measures
    assert m.saturation < 0.25 and 80 <= m.brightness <= 140 and m.warmth > 20, m
    assert m.brightness < 120  # where warmth alone used to decide "evening"
    assert _categories(m)["time_of_day"][0] != "evening", m


@pytest.mark.parametrize("background", ["road", "plaza"])
def test_augmented_night_clips_still_read_night(tmp_path, background):
    from skill.engines._label_classic import ClassicSettings, _categories, analyze_video
    from skill.engines.augment import ClipConfig, augment_classic
    from skill.engines.synthetic import make_scene

    src = tmp_path / "src.mp4"
    make_scene(src, width=320, height=180, seconds=2, background=background, seed=11)
    out = tmp_path / "aug"
    out.mkdir()
    variables = {"weather": "rain", "time_of_day": "night", "lighting": "dim", "surface_condition": "wet"}
    augment_classic(ClipConfig(video_name=background, aug_idx=0, seed=5, variables=variables), src, out)
    m = analyze_video(out / "augmented_video.mp4", ClassicSettings()).measures
    assert _categories(m)["time_of_day"][0] == "night", m


def test_the_sampled_variables_can_come_from_the_augment_metadata(tmp_path, clip):
    """What pl_augmented_worker passes: the augment engine's metadata.json, read by the labeler itself."""
    video, _ = clip
    cfg, bank = write_inputs(tmp_path / "in")
    metadata = tmp_path / "in" / "metadata.json"
    metadata.write_text(json.dumps({"video_name": "clip", "aug_idx": 0, "engine": "classic",
                                    "variables": {"weather": "rain", "time_of_day": "evening"}, "parameters": {"rain": 0.4}}))
    out = tmp_path / "out" / "clip_aug0"
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(out), "--config", str(cfg),
                 "--question-bank", str(bank), "--augment-metadata", str(metadata)]) == 0
    effective = yaml.safe_load((out / "config.yaml").read_text())
    assert effective["vda_label"]["sampled_vars"] == {"weather": "rain", "time_of_day": "evening"}


def test_augment_metadata_without_variables_exits_1(tmp_path, capsys, clip):
    video, _ = clip
    cfg, _bank = write_inputs(tmp_path / "in")
    metadata = tmp_path / "in" / "metadata.json"
    metadata.write_text(json.dumps({"variables": ["rain"]}))
    assert main(["--engine", "classic", "--video", str(video), "--output-dir", str(tmp_path / "o"),
                 "--config", str(cfg), "--augment-metadata", str(metadata)]) == 1
    assert "[invalid-input]" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:  # one source of the variables, not two
        main(["--engine", "classic", "--video", str(video), "--output-dir", str(tmp_path / "o"), "--config", str(cfg),
              "--augment-metadata", str(metadata), "--sampled-vars", str(metadata)])
    assert info.value.code == 2

"""The tracking overlay is drawn over the pictures of the analysis pass: one decode per clip, the same
overlay as drawing over a second decode, no spool left behind, and the second decode only as the
fallback for clips too long to spool."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest
import yaml

from skill.engines import _label_classic, _overlay, label as label_module
from skill.engines._label_classic import ClassicSettings, analyze_video
from skill.engines._overlay import OverlaySpool, overlay_size, write_by_decoding
from skill.engines.label import LabelRequest, label
from skill.engines.synthetic import make_scene
from skill.engines.video_io import VideoInfo, VideoWriter, iter_frames, probe
from skill.errors import InputError, SkillError

pytestmark = pytest.mark.slow  # encodes video

CONFIG = {
    "detection_and_tracking": {"enabled": True, "classes": ["car", "truck", "bus", "motorcycle", "bicycle", "person"],
                               "min_track_frames": 5, "save_video": True},
    "mcq_generation": {"enabled": True},
}
BANK = {"name": "overlay_test", "questions": [
    {"id": "5_1", "question": "How many cars pass?", "options": ["A. None", "B. 1-2", "C. 3 or more"], "measure": "count:car"},
]}


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "road.mp4"
    make_scene(path, width=800, height=450, fps=10, seconds=3, background="road", seed=3)  # wider than the overlay
    return path


def _inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "cfg.yaml").write_text(yaml.safe_dump(CONFIG))
    (folder / "bank.json").write_text(json.dumps(BANK))
    return folder / "cfg.yaml", folder / "bank.json"


def _run(tmp_path: Path, video: Path) -> Path:
    cfg, bank = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    label(LabelRequest(engine="classic", video=video, output_dir=out, config=cfg, question_bank=bank))
    return out


def test_label_with_overlay_decodes_the_clip_once(tmp_path, clip, monkeypatch):
    decodes: list[str] = []
    real = _label_classic.iter_video

    def counted(path, **kwargs):
        decodes.append(Path(path).name)
        return real(path, **kwargs)

    def second_decode(*_args, **_kwargs):
        raise AssertionError("the clip was decoded a second time")

    monkeypatch.setattr(_label_classic, "iter_video", counted)
    monkeypatch.setattr(_overlay, "iter_frames", second_decode)
    monkeypatch.setattr(label_module, "iter_frames", second_decode)
    out = _run(tmp_path, clip)
    assert decodes == ["road.mp4"]
    overlay = out / "sidecars" / "road_tracking.mp4"
    info = probe(overlay)
    assert (info.width, info.height, info.frames) == (640, 360, probe(clip).frames)
    status = json.loads((out / "sidecars" / "pipeline_status.json").read_text())
    assert status["stages"]["tracking"]["output_video"] == "sidecars/road_tracking.mp4"
    assert not [p.name for p in out.rglob("*spool*")], "the spool must not end up in the scene"


def test_spooled_overlay_matches_drawing_over_a_second_decode(tmp_path, clip):
    info = probe(clip)
    spool = OverlaySpool(tmp_path / ".spool", info)
    analysis = analyze_video(clip, ClassicSettings(), facts=info, tap=spool.add)
    assert analysis.tracks, "the scene has moving objects"
    assert spool.finish(tmp_path / "spooled.mp4", analysis.tracks, info.rate) == info.frames
    assert not (tmp_path / ".spool").exists()
    write_by_decoding(clip, tmp_path / "decoded.mp4", info, analysis.tracks)
    for a, b in zip(iter_frames(tmp_path / "spooled.mp4"), iter_frames(tmp_path / "decoded.mp4"), strict=True):
        assert np.abs(a.astype(np.int16) - b.astype(np.int16)).mean() < 4.0


def test_the_boxes_are_drawn_where_the_tracks_are(tmp_path, clip):
    info = probe(clip)
    w, h, scale = overlay_size(info.width, info.height)
    plain, boxed = OverlaySpool(tmp_path / ".a", info), OverlaySpool(tmp_path / ".b", info)

    def both(frame, gray):
        plain.add(frame, gray)
        boxed.add(frame, gray)

    analysis = analyze_video(clip, ClassicSettings(), facts=info, tap=both)
    plain.finish(tmp_path / "plain.mp4", [], info.rate)
    boxed.finish(tmp_path / "boxed.mp4", analysis.tracks, info.rate)
    track = analysis.tracks[0]
    f = track.frames[len(track.frames) // 2]
    x1, y1, x2, y2 = (int(v * scale) for v in track.boxes[track.frames.index(f)])
    a = next(x for i, x in enumerate(iter_frames(tmp_path / "plain.mp4")) if i == f).astype(np.int16)
    b = next(x for i, x in enumerate(iter_frames(tmp_path / "boxed.mp4")) if i == f).astype(np.int16)
    edge = np.abs(a - b)[max(y1, 0) : min(y2, h), max(x1, 0) : max(x1, 0) + 2].mean()
    inside = np.abs(a - b)[y1 + 6 : y2 - 6, x1 + 6 : x2 - 6].mean()
    assert edge > 20 > inside


def test_a_clip_too_long_to_spool_is_drawn_by_decoding_again(tmp_path, clip, monkeypatch):
    monkeypatch.setattr(_overlay, "SPOOL_MAX_BYTES", 0)
    calls: list[str] = []
    real = label_module.write_by_decoding
    monkeypatch.setattr(label_module, "write_by_decoding", lambda src, *a: calls.append(src.name) or real(src, *a))
    out = _run(tmp_path, clip)
    assert calls == ["road.mp4"]
    assert probe(out / "sidecars" / "road_tracking.mp4").frames == probe(clip).frames


@pytest.mark.parametrize("where", ["analysis", "tracking files"])
def test_a_failure_leaves_no_spool(tmp_path, clip, monkeypatch, where):
    opened: list[OverlaySpool] = []
    real_init = OverlaySpool.__init__

    def remember(self, *args):
        real_init(self, *args)
        opened.append(self)

    def broken_analysis(*_args, **_kwargs):
        raise _label_classic.VideoReadError("broken on purpose.", remedy="none")

    def broken_write(*_args, **_kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(OverlaySpool, "__init__", remember)
    if where == "analysis":
        monkeypatch.setattr(label_module, "analyze_video", broken_analysis)
    else:
        monkeypatch.setattr(label_module._daft, "write_json", broken_write)
    cfg, bank = _inputs(tmp_path / "in")
    with pytest.raises(SkillError):
        label(LabelRequest(engine="classic", video=clip, output_dir=tmp_path / "out", config=cfg, question_bank=bank))
    assert len(opened) == 1 and opened[0]._file.closed and not opened[0].path.exists()
    assert not [p.name for p in (tmp_path / "out").rglob("*spool*")]


def test_frames_in_other_pixel_formats_are_converted(tmp_path):
    """An RGB frame goes through swscale, a yuv420p one is scaled plane by plane: the same picture."""
    info = VideoInfo(width=64, height=48, fps=10.0, frames=2, duration=0.2, codec="h264")
    spool = OverlaySpool(tmp_path / ".s", info)
    rgb = np.zeros((48, 64, 3), np.uint8)
    rgb[:, 32:] = (200, 40, 40)
    as_rgb = av.VideoFrame.from_ndarray(rgb, format="rgb24")
    as_yuv = as_rgb.reformat(format="yuv420p")
    spool.add(as_rgb, np.zeros((48, 64), np.uint8))  # the luma argument is only used for yuv420p
    spool.add(as_yuv, np.frombuffer(as_yuv.planes[0], np.uint8).reshape(48, -1)[:, :64].copy())
    spool.finish(tmp_path / "o.mp4", [], 10)
    first, second = list(iter_frames(tmp_path / "o.mp4"))
    assert np.abs(first.astype(np.int16) - second.astype(np.int16)).mean() < 6.0
    assert first[:, 40:, 0].mean() > 150 and first[:, :24].mean() < 30


def test_write_i420_refuses_a_wrong_shape(tmp_path):
    with VideoWriter(tmp_path / "v.mp4", 64, 48, 10) as writer:
        writer.write_i420(np.zeros((72, 64), np.uint8))
        with pytest.raises(InputError):
            writer.write_i420(np.zeros((48, 64), np.uint8))
    assert probe(tmp_path / "v.mp4").frames == 1

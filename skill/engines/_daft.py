"""Writers for upstream's DAFT scene layout ("metropolis-v3.0"), and a checker for it.

    <out>/raw/<media_id>.mp4                 the analysed media (symlink, or a copy)
    <out>/contextual/instances.json          track catalogue
    <out>/contextual/objects.json            per-frame boxes
    <out>/task/mcq.json, task/bcq.json       only when they have items
    <out>/config.yaml                        the effective config
    <out>/sidecars/pipeline_status.json      stage by stage, honest about what ran
    <out>/sidecars/metadata.json             clip facts, windows, answers
    <out>/logs/pipeline.log

Every DAFT JSON file carries ``"version": "metropolis-v3.0"`` and ``"metadata": {"type", "date"}``
and is written UTF-8 with 2-space indent and a trailing newline. Object ids are
``<class>_<track_id>``; ``instance_id`` counts per class from 1; ``semantic_id`` is the COCO
category id (person 1, bicycle 2, car 3, motorcycle 4, bus 6, truck 8). Frames are keyed
``<stem>_frame_<6-digit n>`` (0-based), boxes are ``[x1, y1, x2, y2]`` rounded to 2 decimals, the
loose box being the tight one grown by 10% of its size on every side and clipped to the frame.
"""

from __future__ import annotations

import colorsys
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from skill.engines._mcq import is_yes_no, strip_letter
from skill.engines._tracker import Track

__all__ = [
    "COCO_IDS",
    "DAFT_VERSION",
    "LOOSE_EXPANSION",
    "distinct_color",
    "instances_payload",
    "metadata_block",
    "objects_payload",
    "pipeline_status_payload",
    "task_payloads",
    "validate_scene",
    "write_json",
]

DAFT_VERSION = "metropolis-v3.0"
COCO_IDS: dict[str, int] = {"person": 1, "bicycle": 2, "car": 3, "motorcycle": 4, "bus": 6, "truck": 8}
LOOSE_EXPANSION = 0.1
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_STAGES = ("super_resolution", "tracking", "vlm_json", "mcq_generation")


def metadata_block(kind: str, *, on: date | None = None) -> dict[str, str]:
    return {"type": kind, "date": (on or date.today()).isoformat()}


def write_json(path: Path, payload: Mapping[str, Any]) -> Path:
    """UTF-8, 2-space indent, trailing newline; parents created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def distinct_color(index: int) -> list[int]:
    """A stable, well-spread RGB colour per track id (golden-ratio steps around the hue circle)."""
    hue = (index * 0.6180339887) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.75 + 0.1 * (index % 2), 0.95 - 0.1 * (index % 3 == 0))
    return [int(r * 255), int(g * 255), int(b * 255)]


def _object_id(track: Track) -> str:
    return f"{track.label}_{track.track_id}"


def instances_payload(tracks: Sequence[Track], *, on: date | None = None) -> dict[str, Any]:
    counters: dict[str, int] = {}
    instances: dict[str, Any] = {}
    for track in sorted(tracks, key=lambda t: (t.frames[0], t.track_id)):
        counters[track.label] = counters.get(track.label, 0) + 1
        instances[_object_id(track)] = {
            "object_type": track.label,
            "instance_id": counters[track.label],
            "semantic_id": COCO_IDS.get(track.label, 0),
            "color": distinct_color(track.track_id),
            "caption": f"{track.label} (track {track.track_id})",
        }
    return {"version": DAFT_VERSION, "instances": instances, "metadata": metadata_block("instances", on=on)}


def _r2(values: Iterable[float]) -> list[float]:
    return [round(float(v), 2) for v in values]


def _loose(box: np.ndarray, width: int, height: int) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * LOOSE_EXPANSION, (y2 - y1) * LOOSE_EXPANSION
    return _r2((max(0.0, x1 - dx), max(0.0, y1 - dy), min(float(width), x2 + dx), min(float(height), y2 + dy)))


def _tight(box: np.ndarray, width: int, height: int) -> list[float]:
    x1, y1, x2, y2 = (float(v) for v in box)
    return _r2((min(max(x1, 0.0), width), min(max(y1, 0.0), height), min(max(x2, 0.0), width), min(max(y2, 0.0), height)))


def objects_payload(tracks: Sequence[Track], *, video_id: str, stem: str, num_frames: int, width: int, height: int,
                    on: date | None = None) -> dict[str, Any]:
    """Every frame of the clip, empty ones included, each with the boxes of the tracks it shows."""
    per_frame: dict[int, list[dict[str, Any]]] = {n: [] for n in range(num_frames)}
    for track in tracks:
        oid = _object_id(track)
        for frame, box in zip(track.frames, track.boxes, strict=True):
            if 0 <= frame < num_frames:
                per_frame[frame].append({"object_id": oid, "bounding_box_2d_tight": _tight(box, width, height),
                                         "bounding_box_2d_loose": _loose(box, width, height)})
    frames = {
        f"{stem}_frame_{n:06d}": {"format": "png", "frame_number": n, "instances": per_frame[n]}
        for n in range(num_frames)
    }
    return {"version": DAFT_VERSION, "video_id": video_id, "frames": frames, "metadata": metadata_block("objects", on=on)}


def task_payloads(items: Sequence[Mapping[str, Any]], *, video_id: str,
                  on: date | None = None) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """Split answered questions into DAFT ``mcq`` (lettered) and ``bcq`` (Yes/No) payloads.

    ``items`` are ``{question, options, answer, reasoning?}`` with ``answer`` one of ``options``.
    An item whose options cannot form a DAFT question (fewer than 2 or more than 52 distinct) is left out.
    """
    mcq: list[dict[str, Any]] = []
    bcq: list[dict[str, Any]] = []
    for item in items:
        options = [str(o) for o in item.get("options") or []]
        answer = str(item.get("answer", ""))
        reasoning = str(item.get("reasoning") or "").strip()
        if is_yes_no(options) and answer in ("Yes", "No"):
            entry = {"video_id": video_id, "question": item["question"], "answer": answer}
            if reasoning:
                entry["reasoning"] = reasoning
            bcq.append(entry)
            continue
        letters: dict[str, str] = {}
        answer_letter = None
        seen: dict[str, str] = {}
        for option in options:
            text = strip_letter(option)
            if not text:
                continue
            if text not in seen:
                if len(letters) >= len(_LETTERS):
                    break
                seen[text] = _LETTERS[len(letters)]
                letters[seen[text]] = text
            if option == answer or text == strip_letter(answer):
                answer_letter = seen[text]
        if len(letters) < 2 or answer_letter is None or len(set(map(strip_letter, options))) > len(_LETTERS):
            continue
        entry = {"video_id": video_id, "question": item["question"], "answer": answer_letter, "options": letters}
        if reasoning:
            entry["reasoning"] = reasoning
        mcq.append(entry)
    mcq_payload = {"version": DAFT_VERSION, "metadata": metadata_block("mcq", on=on), "items": mcq} if mcq else None
    bcq_payload = {"version": DAFT_VERSION, "metadata": metadata_block("bcq", on=on), "items": bcq} if bcq else None
    return mcq_payload, bcq_payload


def pipeline_status_payload(stages: Mapping[str, Mapping[str, Any]],
                            fallbacks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """``completed`` unless a stage fell back (then ``completed_degraded`` naming the stages)."""
    degraded = sorted({str(f["stage"]) for f in fallbacks if f.get("stage")})
    return {
        "version": "1.0",
        "degraded": bool(fallbacks),
        "status": "completed_degraded" if fallbacks else "completed",
        "degraded_stages": degraded,
        "fallbacks": [dict(f) for f in fallbacks],
        "stages": {name: dict(stages[name]) for name in _STAGES if name in stages},
    }


# --- checking a scene ---------------------------------------------------------------------------------

_FRAME_KEY = re.compile(r"^(?P<stem>.+)_frame_(?P<n>\d{6})$")


def _load(path: Path, problems: list[str]) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        problems.append(f"{path.name}: missing")
        return None
    if not text.endswith("\n") or text.endswith("\n\n"):
        problems.append(f"{path.name}: must end with exactly one newline")
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        problems.append(f"{path.name}: not JSON ({exc.msg})")
        return None
    if json.dumps(data, indent=2, ensure_ascii=False) + "\n" != text:
        problems.append(f"{path.name}: not written with 2-space indent")
    return data


def _check_header(name: str, data: Any, kind: str, problems: list[str]) -> bool:
    if not isinstance(data, dict):
        problems.append(f"{name}: not an object")
        return False
    if data.get("version") != DAFT_VERSION:
        problems.append(f"{name}: version must be {DAFT_VERSION}")
    meta = data.get("metadata")
    if not isinstance(meta, dict) or meta.get("type") != kind or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(meta.get("date"))):
        problems.append(f"{name}: metadata must be {{type: {kind}, date: YYYY-MM-DD}}")
    return True


def _check_box(where: str, box: Any, problems: list[str]) -> None:
    if not (isinstance(box, list) and len(box) == 4 and all(isinstance(v, (int, float)) for v in box)):
        problems.append(f"{where}: box must be 4 numbers")
        return
    if box[0] > box[2] or box[1] > box[3]:
        problems.append(f"{where}: box corners out of order")
    if any(round(v, 2) != v for v in box):
        problems.append(f"{where}: box values must be rounded to 2 decimals")


def validate_scene(out_dir: str | Path) -> list[str]:
    """Problems found in a scene folder written by the label engines (empty list = valid)."""
    root = Path(out_dir)
    problems: list[str] = []
    status = _load(root / "sidecars" / "pipeline_status.json", problems)
    if isinstance(status, dict):
        if status.get("status") not in ("completed", "completed_degraded"):
            problems.append("pipeline_status.json: status must be completed or completed_degraded")
        stages = status.get("stages")
        if not isinstance(stages, dict) or set(stages) != set(_STAGES):
            problems.append(f"pipeline_status.json: stages must be {', '.join(_STAGES)}")
        else:
            for name, stage in stages.items():
                if stage.get("status") not in ("skipped", "planned", "completed", "failed") or "enabled" not in stage:
                    problems.append(f"pipeline_status.json: stage {name} lacks enabled/status")
    for required in ("config.yaml", "logs/pipeline.log", "sidecars/metadata.json"):
        if not (root / required).is_file():
            problems.append(f"{required}: missing")
    raws = list((root / "raw").glob("*")) if (root / "raw").is_dir() else []
    if len(raws) != 1 or not raws[0].exists():
        problems.append("raw/: must hold exactly one readable media file")
    tracked = isinstance(status, dict) and isinstance(status.get("stages"), dict) and \
        status["stages"].get("tracking", {}).get("status") == "completed"
    instance_ids: set[str] = set()
    if tracked:
        inst = _load(root / "contextual" / "instances.json", problems)
        if _check_header("instances.json", inst, "instances", problems):
            per_class: dict[str, list[int]] = {}
            for oid, entry in (inst.get("instances") or {}).items():
                instance_ids.add(oid)
                cls = entry.get("object_type")
                if not re.fullmatch(rf"{re.escape(str(cls))}_\d+", oid):
                    problems.append(f"instances.json: id {oid} is not <class>_<track>")
                if entry.get("semantic_id") != COCO_IDS.get(cls):
                    problems.append(f"instances.json: {oid} semantic_id is not the COCO id of {cls}")
                if entry.get("caption") != f"{cls} (track {oid.rsplit('_', 1)[-1]})":
                    problems.append(f"instances.json: {oid} caption is not '<class> (track <id>)'")
                per_class.setdefault(str(cls), []).append(entry.get("instance_id"))
            for cls, ids in per_class.items():
                if sorted(ids) != list(range(1, len(ids) + 1)):
                    problems.append(f"instances.json: instance_id of {cls} must count 1..n")
        objs = _load(root / "contextual" / "objects.json", problems)
        if _check_header("objects.json", objs, "objects", problems):
            frames = objs.get("frames") or {}
            for key, frame in frames.items():
                match = _FRAME_KEY.match(key)
                if not match or frame.get("frame_number") != int(match["n"]) or frame.get("format") != "png":
                    problems.append(f"objects.json: frame {key} key/number/format mismatch")
                    continue
                for det in frame.get("instances", []):
                    if det.get("object_id") not in instance_ids:
                        problems.append(f"objects.json: {key} refers to unknown {det.get('object_id')}")
                    _check_box(f"objects.json {key} tight", det.get("bounding_box_2d_tight"), problems)
                    _check_box(f"objects.json {key} loose", det.get("bounding_box_2d_loose"), problems)
    for name, kind in (("mcq.json", "mcq"), ("bcq.json", "bcq")):
        path = root / "task" / name
        if not path.exists():
            continue
        payload = _load(path, problems)
        if not _check_header(name, payload, kind, problems):
            continue
        items = payload.get("items")
        if not isinstance(items, list) or not items:
            problems.append(f"{name}: items must be a non-empty list")
            continue
        for i, item in enumerate(items):
            if kind == "bcq" and item.get("answer") not in ("Yes", "No"):
                problems.append(f"{name}: item {i} answer must be Yes or No")
            if kind == "mcq":
                options = item.get("options")
                if not isinstance(options, dict) or len(options) < 2 or item.get("answer") not in options:
                    problems.append(f"{name}: item {i} needs >= 2 options and a letter answer among them")
                elif any(strip_letter(v) != v for v in options.values()):
                    problems.append(f"{name}: item {i} option text keeps a letter prefix")
    return problems

"""Labels made ahead: the local augmentation task labels each clip as soon as it is augmented, into
the run's cache; the label task of the next group adopts the result instead of labeling again.

    python -m skill.engines.label_ahead --cache DIR --engine classic --video V --config C \\
        [--question-bank B] [--sampled-vars F | --augment-metadata M]   # prepare (the augmentation task, local only)
    python -m skill.engines.label ... --ahead-cache DIR   # adopt if prepared, else label as always

OSMO starts a group only when every group before it completed, so the augmented clips' labels wait
for the whole augmentation group. On the local backend the augmentation worker (which has the clip
the moment it is written) runs the same labeler on it in the background while it augments the next
clip. Nothing of that is reported: the entry goes to ``<run cache>/labels/<key>/`` (no output, no log
line), and the label task, run by the workflow exactly as before, finds it and publishes it.

The key is a digest of everything the labeler's result depends on except the output folder: the
engine, the video's path and bytes, the config's and question bank's paths and bytes, the sampled
variables, super resolution and the media id. So an entry is adopted only for exactly the job the
label task would run. Adopting moves the scene into the output folder and rewrites the two things
that name that folder (``config.yaml``'s ``out_dir`` and the relative ``raw/`` link), so the files
and the printed summary are those a fresh run writes there. A prepare that fails, or that logs
anything (a warning would have been a line of the label task's log), leaves no entry: the label
task then labels as before. Prepare failures are coded lines in ``<cache>/labels/prepare.log``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import shutil
import sys
from pathlib import Path

import yaml
from pydantic import ValidationError

from skill.engines.label import LabelRequest, LabelResult, _publish, _read_sampled, label
from skill.engines._cache_log import note_in_cache
from skill.errors import SkillError
from skill.side_by_side import file_digest
from skill import yaml_text

__all__ = ["adopt", "ahead_key", "main", "note", "prepare"]

_SPEC = "label-ahead/v1"
_RESULT = "result.json"
_SCENE = "scene"


def ahead_key(req: LabelRequest) -> str:
    """The digest of ``req`` without its output folder (see the module docstring)."""
    def file_part(path: Path | None) -> str:
        return "-" if path is None else f"{path}:{file_digest(path) if path.is_file() else 'missing'}"

    parts = {
        "spec": _SPEC, "engine": req.engine, "video": file_part(req.video), "config": file_part(req.config),
        "bank": file_part(req.question_bank), "sampled": req.sampled_vars, "sr": req.super_resolution,
        "media_id": req.media_id, "vlm": [req.vlm_url, req.vlm_model], "llm": [req.llm_url, req.llm_model],
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _entry(cache: Path, key: str) -> Path:
    return Path(cache) / "labels" / key


def note(cache: Path, video: Path, code: str, message: str) -> bool:
    """One coded line in ``<cache>/labels/prepare.log``; False when the cache is unusable (the label
    task then simply labels the clip itself, which needs nothing from the cache)."""
    return note_in_cache(cache, "labels", str(video), code, message, instead="the label task labels this clip itself.")


class _Collect(logging.Handler):
    """Keeps what the labeler logs at the level its command line would print (``VDA_LOG_LEVEL``,
    default WARNING): any such line would have been in the label task's log."""

    def __init__(self) -> None:
        super().__init__(level=logging.getLevelName(os.environ.get("VDA_LOG_LEVEL", "WARNING").upper()))
        self.records: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record.getMessage())


def prepare(cache: Path, req: LabelRequest) -> Path | None:
    """Label ``req`` (its output folder ignored) into the cache entry of its key; the entry, or None
    (with a coded line in the cache's log) when there is nothing to adopt."""
    key = ahead_key(req)
    final = _entry(cache, key)
    work = final.with_name(f".{key}.{os.getpid()}")
    shutil.rmtree(work, ignore_errors=True)
    collect = _Collect()
    root = logging.getLogger()
    root.addHandler(collect)
    root.setLevel(collect.level)
    try:
        result = label(req.model_copy(update={"output_dir": work / _SCENE}))
    except SkillError as exc:
        shutil.rmtree(work, ignore_errors=True)
        note(cache, req.video, "label-ahead-failed", f"{exc.code}: {exc.message}")
        return None
    finally:
        root.removeHandler(collect)
    if collect.records:
        shutil.rmtree(work, ignore_errors=True)
        note(cache, req.video, "label-ahead-not-silent", f"The labeler logged {len(collect.records)} warning(s); the label task's own run shows them.")
        return None
    (work / _RESULT).write_text(result.model_dump_json(), encoding="utf-8")
    shutil.rmtree(final, ignore_errors=True)
    os.replace(work, final)
    return final


def _relink_raw(scene: Path, before: Path, after: Path) -> None:
    """``raw/*`` links point relative to where the scene lives; re-aim them from ``before`` to ``after``
    exactly as the labeler aims them (a file inside the scene is addressed at its new place)."""
    raw = scene / "raw"
    if not raw.is_dir():
        return
    old_root, new_root = before.resolve(), after.resolve()
    for link in raw.iterdir():
        if not link.is_symlink():
            continue
        target = Path(os.path.normpath((old_root / "raw") / os.readlink(link)))
        if target.is_relative_to(old_root):
            target = new_root / target.relative_to(old_root)
        link.unlink()
        link.symlink_to(os.path.relpath(target, new_root / "raw"))


def _retarget_config(scene: Path, out_dir: Path) -> None:
    path = scene / "config.yaml"
    if not path.is_file():
        return
    config = yaml_text.load(path.read_text(encoding="utf-8"))
    data = config.get("data") if isinstance(config, dict) else None
    if isinstance(data, list) and data and isinstance(data[0], dict):
        data[0].setdefault("output", {})["out_dir"] = str(out_dir)
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")


def adopt(cache: Path, req: LabelRequest) -> LabelResult | None:
    """Publish the prepared scene of ``req`` into ``req.output_dir``; None when none was prepared."""
    entry = _entry(cache, ahead_key(req))
    scene, result_file = entry / _SCENE, entry / _RESULT
    if not (scene.is_dir() and result_file.is_file()):
        return None
    result = LabelResult.model_validate_json(result_file.read_text(encoding="utf-8"))
    out = req.output_dir
    out.mkdir(parents=True, exist_ok=True)
    _retarget_config(scene, out)
    _relink_raw(scene, scene, out)
    _publish(scene, out)
    shutil.rmtree(entry)
    return result.model_copy(update={"output_dir": str(out)})


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m skill.engines.label_ahead", description="Label one clip ahead into a run cache.")
    parser.add_argument("--cache", type=Path, required=True, help="the run's cache folder (VDA_RUN_CACHE)")
    parser.add_argument("--engine", choices=("classic",), required=True, help="only the CPU engine is run ahead")
    parser.add_argument("--video", type=Path, required=True)
    parser.add_argument("--config", type=Path, required=True)
    parser.add_argument("--question-bank", type=Path)
    parser.add_argument("--sampled-vars", type=Path)
    parser.add_argument("--augment-metadata", type=Path, help="the augment engine's metadata.json, instead of --sampled-vars")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Prepare quietly: the outcome is the entry or a coded line in the cache's log, never output."""
    args = _parser().parse_args(argv)
    try:
        req = LabelRequest(engine=args.engine, video=args.video, output_dir=args.cache, config=args.config,
                           question_bank=args.question_bank, sampled_vars=_read_sampled(args.sampled_vars, metadata=args.augment_metadata))
    except SkillError as exc:
        note(args.cache, args.video, exc.code, exc.message)
        return 1
    except ValidationError as exc:
        note(args.cache, args.video, "invalid-input", f"The arguments do not make a label job ({exc.errors()[0]['msg']}).")
        return 1
    try:
        return 0 if prepare(args.cache, req) is not None else 1
    except OSError as exc:
        note(args.cache, args.video, "label-ahead-io-failed", f"The cache entry could not be written ({type(exc).__name__}).")
        return 1


if __name__ == "__main__":
    sys.exit(main())

"""Bring a run home: mirror its output tree and the input video into the local run folder, then
summarize what came back (sampled variables, tracks, questions, events, pipeline status).

Layout (upstream's, rooted in the workspace, so no git checkout is needed)::

    <workspace>/media/vda/runs/<run_id>/        (or run_local_dir)
        setup_b0/configs/manifest.yaml          sampled_vars per <video>_aug<i>
        outputs/augmented/<video>_aug<i>/*.mp4
        outputs/pseudo_labeled_augmented/<video>_aug<i>/   DAFT labels of the augmented clip
        outputs/pseudo_labeled/<video>/                    DAFT labels of the original (e2e flows)
        input/<video>.mp4

Resumable: each file is downloaded on its own and its size is recorded in ``.vda-stage.json``
once complete; a file already present with its recorded size is not downloaded again, so a
second call after an interruption fetches only what is missing or partial.

Concurrent calls: one staging of a run folder at a time (an ``flock`` on the run folder itself,
waited for at most :data:`LOCK_WAIT_S`); every file arrives in a unique hidden temp name in its
destination folder (downloads in a ``.vda-dl-*`` scratch folder) and is renamed into place, so a
reader never sees a partial file and two runs never share a temp name.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from skill import fanout
from skill.backends.base import Backend
from skill.confine import contained_file, run_folder, runs_root, user_video_file
from skill.errors import NotFound, SkillError
from skill.ledger import Ledger
from skill.locks import held
from skill.models import DatasetName, RunId, VideoStem
from skill.secrets import redact
from skill.steps import batches
from skill.storage import join, output_url
from skill import yaml_text

__all__ = [
    "LabelSummary",
    "QAPair",
    "StageEvent",
    "StageRequest",
    "StageResult",
    "default_run_dir",
    "report_lines",
    "stage_artifacts",
    "summarize_labels",
]

STATE_FILE = ".vda-stage.json"
LOCK_WAIT_S = 600.0
_SAVE_EVERY_S = 0.5  # the staging record is saved at most this often while files come in, and at the end
_SAMPLE_QA = 3


class StageRequest(BaseModel):
    """Which run to bring home, and where from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    storage_url: str = Field(min_length=1, max_length=2048, description="Prefix before /datasets/<dataset>.")
    dataset: DatasetName
    run_id: RunId
    video: VideoStem
    run_local_dir: str | None = Field(
        default=None, description="Run folder under <workspace>/media/vda/runs; default <run_id> there."
    )
    input_local_video: str | None = Field(
        default=None, description="The user's copy of the input video (skips its download)."
    )


class QAPair(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["mcq", "bcq", "open_qa"]
    question: str
    answer: str
    answer_text: str | None = Field(default=None, description="For MCQ: the text of the chosen option.")


class LabelSummary(BaseModel):
    """What one DAFT label folder holds."""

    model_config = ConfigDict(extra="forbid")
    path: str
    tracks_by_class: dict[str, int] = Field(default_factory=dict, description="Track count per object class, from contextual/instances.json.")
    tracks_total: int = 0
    mcq_items: int = 0
    bcq_items: int = 0
    open_qa_items: int = 0
    sample_qa: list[QAPair] = Field(default_factory=list, description="A few question/answer pairs.")
    events: int | None = Field(default=None, description="Events in contextual/events.json; None when that stage did not run.")
    pipeline_status: str | None = Field(default=None, description="completed | completed_degraded, from sidecars/pipeline_status.json.")
    degraded_stages: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list, description="Files that were missing or unreadable.")


class StageEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["downloaded", "skipped", "copied"]
    path: str
    done: int
    total: int


class StageResult(BaseModel):
    """Local paths of the run and summaries of its outputs."""

    model_config = ConfigDict(extra="forbid")
    local_run_dir: str
    input_video: str
    augmented_videos: dict[str, str] = Field(default_factory=dict, description="<video>_aug<i> -> local mp4.")
    manifest: str | None = Field(default=None, description="setup_b0/configs/manifest.yaml when the flow wrote one.")
    aug_label_dirs: dict[str, str] = Field(default_factory=dict, description="<video>_aug<i> -> label folder of the augmented clip.")
    orig_label_dirs: dict[str, str] = Field(default_factory=dict, description="<video> -> label folder of the original clip.")
    sampled_vars: dict[str, dict[str, Any]] = Field(default_factory=dict, description="<video>_aug<i> -> the variables sampled for it, e.g. {weather: rain}.")
    labels: dict[str, LabelSummary] = Field(default_factory=dict, description="<video>_aug<i> or <video> -> label summary.")
    files_total: int
    downloaded: int
    skipped: int
    warnings: list[str] = Field(default_factory=list)
    message: str


def default_run_dir(run_id: str) -> Path:
    return runs_root() / run_id


def stage_artifacts(req: StageRequest, *, backend: Backend, on_progress: Callable[[StageEvent], None] | None = None,
                    ledger: Ledger | None = None) -> StageResult:
    """Mirror the run's outputs and its input video locally (resumable), then summarize them.

    Paths are checked before anything is listed or written (:mod:`skill.confine`): the run folder
    lies under an output root, and ``input_local_video`` is a regular file with a video header.
    A fanned-out run's id (with the ledger that holds it) stages the clip's batch, once it is done,
    into ``<run folder>/batch-<NNNN>/``."""
    req = _batch_of_run(req, ledger)
    run_dir = run_folder(req.run_local_dir, run_id=req.run_id)
    source = user_video_file(req.input_local_video) if req.input_local_video else None
    input_rel = f"input/{req.video}.mp4"
    run_dir.mkdir(parents=True, exist_ok=True)
    input_video = contained_file(run_dir, input_rel, "The input video")
    with _run_lock(run_dir):
        return _stage(req, backend, run_dir, source, input_rel, input_video, on_progress)


def _batch_of_run(req: StageRequest, ledger: Ledger | None) -> StageRequest:
    """The request for the batch that processed ``req.video`` when ``req.run_id`` is a fanned-out run."""
    stored = batches.load_run(ledger, req.run_id)
    if stored is None or ledger is None:
        return req
    batch = batches.batch_for_clip(stored, req.video)
    state = fanout.batch_state(stored.plan, batch.index, ledger)
    if state.phase != "done" or state.run_id is None:
        raise NotFound(
            f"Batch {batch.index} of {req.run_id}, which holds {req.video}, is {state.phase} ({state.status or 'not submitted'}).",
            remedy=f"poll {req.run_id} until that batch is done (a queued one needs submit again), then stage again.",
        )
    folder = Path(req.run_local_dir) if req.run_local_dir else run_folder(None, run_id=req.run_id)
    return req.model_copy(update={"run_id": state.run_id, "run_local_dir": str(folder / batches.batch_dir_name(batch.index))})


def _stage(req: StageRequest, backend: Backend, run_dir: Path, source: Path | None, input_rel: str, input_video: Path,
           on_progress: Callable[[StageEvent], None] | None) -> StageResult:
    remote = output_url(req.storage_url, req.dataset, req.run_id)
    state = _State(run_dir / STATE_FILE)
    warnings: list[str] = []

    keys = backend.data_list(remote)  # every backend lists recursively (osmo: data list --recursive)
    if not keys:
        raise NotFound(
            f"No outputs under {remote} yet.",
            remedy=f"poll the workflow until it is COMPLETED, then stage again (outputs land under {remote}/).",
        )
    plan: list[tuple[str, str]] = []  # (relative path, url)
    for key in keys:
        if key.endswith("/"):
            continue  # a folder line or marker: the listing is recursive, so its files are listed too
        rel = _relative(key, remote, req.dataset, req.run_id)
        if rel is None or not _inside(run_dir, rel):
            warnings.append(redact(f"Skipped an object outside the run prefix: {key}"))
            continue
        plan.append((rel, remote.rstrip("/") + "/" + rel))
    total = len(plan) + 1
    done = downloaded = skipped = 0

    def report(kind: str, rel: str) -> None:
        if on_progress is not None:
            on_progress(StageEvent(kind=kind, path=rel, done=done, total=total))

    try:
        for rel, url in plan:
            target = run_dir / rel
            if state.complete(rel, target):
                skipped += 1
                done += 1
                report("skipped", rel)
                continue
            _fetch(backend, url, target)
            state.record(rel, target)
            downloaded += 1
            done += 1
            report("downloaded", rel)
    finally:
        state.save()

    if source is not None:
        if state.complete(input_rel, input_video) and input_video.stat().st_size == source.stat().st_size:
            skipped += 1
            kind = "skipped"
        else:
            _copy(source, input_video)
            state.record(input_rel, input_video)
            state.save()
            kind = "copied"
    elif state.complete(input_rel, input_video):
        skipped += 1
        kind = "skipped"
    else:
        _fetch(backend, join(req.storage_url, "datasets", req.dataset, f"{req.video}.mp4"), input_video)
        state.record(input_rel, input_video)
        state.save()
        downloaded += 1
        kind = "downloaded"
    done += 1
    report(kind, input_rel)

    return _summarize(req, run_dir, total, downloaded, skipped, warnings)


# --- downloading ------------------------------------------------------------------------------


class _State:
    """Sizes of files known to be complete. Saved at most every :data:`_SAVE_EVERY_S` while staging and
    once at the end (also when staging stops on an error): an interruption loses at most that much of
    the record, and a file missing from it is only downloaded again. (Saving after every file cost
    a temporary file and a rename per output: about a third of staging a small run.)"""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._unsaved = False
        self._saved_at = time.monotonic()
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
            self.sizes: dict[str, int] = {str(k): int(v) for k, v in loaded.get("sizes", {}).items()}
        except FileNotFoundError:
            self.sizes = {}
        except (ValueError, AttributeError, TypeError):
            self.sizes = {}  # a corrupt state file only costs a re-download

    def complete(self, rel: str, target: Path) -> bool:
        return rel in self.sizes and target.is_file() and target.stat().st_size == self.sizes[rel]

    def record(self, rel: str, target: Path) -> None:
        self.sizes[rel] = target.stat().st_size
        self._unsaved = True
        if time.monotonic() - self._saved_at >= _SAVE_EVERY_S:
            self.save()

    def save(self) -> None:
        if not self._unsaved:
            return
        tmp = _temp_beside(self.path, ".tmp")
        try:
            tmp.write_text(json.dumps({"sizes": self.sizes}, indent=0, sort_keys=True), encoding="utf-8")
            os.replace(tmp, self.path)
        finally:
            tmp.unlink(missing_ok=True)
        self._unsaved, self._saved_at = False, time.monotonic()


@contextmanager
def _run_lock(run_dir: Path, wait_s: float | None = None) -> Iterator[None]:
    """Hold an flock on the run folder while staging; wait for another staging of it to end."""
    limit = LOCK_WAIT_S if wait_s is None else wait_s
    with held(run_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, limit,
              unopenable=lambda exc: SkillError(
                  f"The run folder cannot be opened ({type(exc).__name__}).",
                  remedy="Check that the run folder is a readable folder, then stage again.",
                  code="run-folder-unwritable"),
              busy=lambda: SkillError(
                  f"Another staging of this run folder has been running for over {limit:.0f} s.",
                  remedy="Wait for it to finish, then stage again (files it completed are kept).",
                  code="run-folder-busy")):
        yield


def _temp_beside(target: Path, suffix: str) -> Path:
    """A new, unique, hidden file next to ``target`` (same folder, so a rename is atomic)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix)
    os.close(fd)
    return Path(name)


def _fetch(backend: Backend, url: str, target: Path) -> None:
    """Download into a private scratch folder beside ``target``, then rename the file into place;
    straight into ``target``'s folder when the backend renames each file into place itself."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if backend.traits.atomic_downloads and url.rstrip("/").rsplit("/", 1)[-1] == target.name:
        backend.data_download(url, target.parent)
        _require_file(target, url)
        return
    scratch = Path(tempfile.mkdtemp(dir=target.parent, prefix=".vda-dl-"))
    try:
        backend.data_download(url, scratch)
        got = scratch / target.name
        _require_file(got, url)
        os.replace(got, target)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # scratch only; the file that matters was moved out


def _require_file(path: Path, url: str) -> None:
    if not path.is_file():
        raise NotFound(
            f"Downloading {url} did not produce {path.name}.",
            remedy="Check the object with data list and that the storage credential can read it, then stage again.",
        )


def _copy(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(target, ".part")
    try:
        shutil.copyfile(source, tmp)
        os.chmod(tmp, 0o644)  # mkstemp made it 0600; a copy of the user's video is not secret
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _relative(key: str, remote: str, dataset: str, run_id: str) -> str | None:
    """A listed key relative to the run prefix; keys may be full URLs or bucket-relative."""
    base = remote.rstrip("/") + "/"
    if key.startswith(base):
        return key[len(base):] or None
    marker = f"{dataset}-outputs/{run_id}/"
    at = key.find(marker)
    if at == 0 or (at > 0 and key[at - 1] == "/"):
        return key[at + len(marker):] or None
    return None


def _inside(run_dir: Path, rel: str) -> bool:
    if rel.startswith("/") or "\\" in rel or any(p in ("", ".", "..") for p in rel.split("/")) or rel == STATE_FILE:
        return False
    return (run_dir / rel).resolve().is_relative_to(run_dir)


# --- summaries --------------------------------------------------------------------------------


def _summarize(req: StageRequest, run_dir: Path, total: int, downloaded: int, skipped: int, warnings: list[str]) -> StageResult:
    video = req.video
    aug_pattern = re.compile(rf"^{re.escape(video)}_aug(\d+)$")

    def numbered(parent: Path) -> list[Path]:
        found = [d for d in parent.glob(f"{video}_aug*") if d.is_dir() and aug_pattern.match(d.name)] if parent.is_dir() else []
        return sorted(found, key=lambda d: int(aug_pattern.match(d.name).group(1)))

    augmented: dict[str, str] = {}
    for folder in numbered(run_dir / "outputs" / "augmented"):
        videos = sorted(p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".mp4" and not _hidden(p, folder))
        if videos:
            augmented[folder.name] = str(videos[0])
        else:
            warnings.append(f"{folder.name} has no mp4 in outputs/augmented.")
    aug_labels = {d.name: str(d) for d in numbered(run_dir / "outputs" / "pseudo_labeled_augmented")}
    orig_dir = run_dir / "outputs" / "pseudo_labeled" / video
    orig_labels = {video: str(orig_dir)} if orig_dir.is_dir() else {}

    manifest = run_dir / "setup_b0" / "configs" / "manifest.yaml"
    sampled = _sampled_vars(manifest, video, warnings) if manifest.is_file() else {}
    labels = {name: summarize_labels(Path(path)) for name, path in {**aug_labels, **orig_labels}.items()}

    parts = [f"{downloaded} downloaded, {skipped} already present"]
    if augmented:
        parts.append(f"augmented: {', '.join(augmented)}")
    if labels:
        parts.append(f"labels: {', '.join(labels)}")
    return StageResult(
        local_run_dir=str(run_dir),
        input_video=str(run_dir / "input" / f"{video}.mp4"),
        augmented_videos=augmented,
        manifest=str(manifest) if manifest.is_file() else None,
        aug_label_dirs=aug_labels,
        orig_label_dirs=orig_labels,
        sampled_vars=sampled,
        labels=labels,
        files_total=total,
        downloaded=downloaded,
        skipped=skipped,
        warnings=warnings,
        message=f"Staged {req.run_id} into {run_dir} ({'; '.join(parts)}).",
    )


def _hidden(path: Path, folder: Path) -> bool:
    """True for temp and scratch files (a component starting with '.') below ``folder``."""
    return any(part.startswith(".") for part in path.relative_to(folder).parts)


def _sampled_vars(manifest: Path, video: str, warnings: list[str]) -> dict[str, dict[str, Any]]:
    try:
        data = yaml_text.load(manifest.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError, OSError) as exc:
        warnings.append(f"manifest.yaml is unreadable ({type(exc).__name__}).")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for entry in data.get("configs", []) if isinstance(data, dict) else []:
        if not isinstance(entry, dict):
            continue
        name = entry.get("video_name") or Path(str(entry.get("video", ""))).stem
        if name != video:
            continue
        out[f"{video}_aug{entry.get('aug_idx', 0)}"] = dict(entry.get("sampled_vars") or {})
    return out


def summarize_labels(folder: Path) -> LabelSummary:
    """Read a DAFT label folder (contextual/, task/, sidecars/) into a short summary."""
    summary = LabelSummary(path=str(folder))
    instances = _load_json(folder, "contextual/instances.json", summary)
    if isinstance(instances, dict):
        counts: dict[str, int] = {}
        for item in (instances.get("instances") or {}).values():
            if isinstance(item, dict):
                kind = str(item.get("object_type") or "unknown")
                counts[kind] = counts.get(kind, 0) + 1
        summary.tracks_by_class = dict(sorted(counts.items()))
        summary.tracks_total = sum(counts.values())
    for kind in ("mcq", "bcq", "open_qa"):
        data = _load_json(folder, f"task/{kind}.json", summary, required=False)
        items = data.get("items", []) if isinstance(data, dict) else []
        setattr(summary, f"{kind}_items", len(items))
        for item in items:
            if len(summary.sample_qa) >= _SAMPLE_QA or not isinstance(item, dict):
                break
            answer = str(item.get("answer", ""))
            options = item.get("options") if isinstance(item.get("options"), dict) else {}
            summary.sample_qa.append(QAPair(kind=kind, question=str(item.get("question", "")), answer=answer, answer_text=options.get(answer)))
    events = _load_json(folder, "contextual/events.json", summary, required=False)
    if isinstance(events, dict):
        summary.events = len(events.get("events") or [])
    status = _load_json(folder, "sidecars/pipeline_status.json", summary)
    if isinstance(status, dict):
        summary.pipeline_status = status.get("status")
        summary.degraded_stages = [str(s) for s in status.get("degraded_stages") or []]
    return summary


def _load_json(folder: Path, rel: str, summary: LabelSummary, *, required: bool = True) -> Any:
    path = folder / rel
    if not path.is_file():
        path = next(iter(sorted(folder.rglob(rel))), None) if folder.is_dir() else None
    if path is None or not path.is_file():
        if required:
            summary.problems.append(f"{rel} not found")
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError, OSError) as exc:
        summary.problems.append(f"{rel} unreadable ({type(exc).__name__})")
        return None


# --- upstream-compatible report (scripts/stage_run_artifacts.sh) --------------------------------


def report_lines(result: StageResult, video: str) -> list[str]:
    run_dir = Path(result.local_run_dir)
    first_aug = next(iter(result.augmented_videos.values()), "")
    return [
        f"LOCAL_RUN_DIR={run_dir}",
        f"LOCAL_INPUT_VIDEO={result.input_video}",
        f"LOCAL_AUGMENTED_VIDEO={first_aug}",
        f"LOCAL_MANIFEST={run_dir / 'setup_b0' / 'configs' / 'manifest.yaml'}",
        f"LOCAL_AUG_LABEL_DIR={run_dir / 'outputs' / 'pseudo_labeled_augmented' / f'{video}_aug0'}",
        f"LOCAL_ORIG_LABEL_DIR={run_dir / 'outputs' / 'pseudo_labeled' / video}",
    ]

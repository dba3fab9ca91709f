"""Demo input and dataset upload.

``prepare_demo_assets`` pulls the VDA demo videos from Hugging Face: only
``nvidia/video-data-augmentation-demo`` unless the user explicitly asked for another dataset
(``allow_non_vda``; rule ``vda-demo-only``). It lists the repo through the HF tree API breadth
first (following directories and ``Link: rel="next"`` pages), keeps ``.mp4`` files, downloads each
from ``resolve/<revision>/<path>`` with retries into ``<demo_dir>_raw/<path>``, then copies them
flat into ``<demo_dir>/<basename>`` (two files with one basename are refused). A Hugging Face
token, when one is found, goes out only as a Bearer header and is never logged.

``upload_dataset`` uploads a local folder's videos flat to ``<storage_url>/datasets/<name>/``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path, PurePosixPath
from typing import Annotated
from urllib.parse import quote

import httpx2
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skill.backends.base import Backend
from skill.confine import demo_folder, inputs_root, user_folder
from skill.demo_source import DEMO_REPO
from skill.errors import BackendError, BackendUnavailable, InputError, NotFound, PolicyDenied, UserInputRequired
from skill.models import DatasetName
from skill.secrets import discover_hf_token, redact
from skill.steps.guard import video_problem
from skill.storage import join
from skill.video_types import AUGMENT_DISCOVERY_SUFFIXES

__all__ = [
    "DEMO_REPO",
    "DemoFile",
    "DemoRequest",
    "DemoResult",
    "UploadRequest",
    "UploadResult",
    "VIDEO_SUFFIXES",
    "default_demo_dir",
    "prepare_demo_assets",
    "upload_dataset",
]

HF_ENDPOINT = "https://huggingface.co"
VIDEO_SUFFIXES = AUGMENT_DISCOVERY_SUFFIXES
_RETRYABLE = {429, 500, 502, 503, 504}


def default_demo_dir() -> Path:
    return inputs_root() / "vda-demo"


class DemoRequest(BaseModel):
    """Where to put the demo videos and which Hugging Face dataset they come from."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    demo_dir: str | None = Field(
        default=None, description="Folder under <workspace>/media/vda/inputs; its *.mp4 files are replaced."
    )
    repo: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$", max_length=200)] = Field(
        default=DEMO_REPO, description="Hugging Face dataset repo; only the VDA demo unless allow_non_vda."
    )
    revision: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$", max_length=200)] = Field(
        default="main", description="Branch, tag or commit, e.g. main."
    )
    subdir: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/ -]*$", max_length=500)] = Field(
        default="", description="Folder inside the repo to list, e.g. clips; empty for the whole repo."
    )
    allow_non_vda: bool = Field(default=False, description="True only when the user asked for a dataset other than the VDA demo.")
    retries: int = Field(default=3, ge=0, le=10, description="Extra attempts per download (0-10).")
    timeout_s: float = Field(default=60.0, ge=1, le=3600, description="Per-request timeout in seconds.")


class DemoFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="Basename in demo_dir, e.g. goal_0086_0hz_6sec.mp4.")
    path: str
    source_path: str = Field(description="Path inside the Hugging Face repo.")
    size: int


class DemoResult(BaseModel):
    """The demo videos, flat and ready for upload_dataset."""

    model_config = ConfigDict(extra="forbid")
    demo_dir: str
    raw_dir: str
    repo: str
    revision: str
    files: list[DemoFile]
    downloaded: int = Field(description="Files fetched now (others were already complete in raw_dir).")
    dataset: str = Field(default="vda-demo", description="The dataset name to upload them as.")
    source_statement: str = Field(description="Say this in the final summary (rule evidence-complete).")
    next: str


class UploadRequest(BaseModel):
    """A local folder of videos to upload as a dataset."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    folder: str = Field(min_length=1, description="Local folder of videos.")
    storage_url: str = Field(min_length=1, max_length=2048, description="Prefix in front of /datasets/<name>, e.g. s3://bucket/prefix.")
    name: DatasetName = Field(description="Dataset name, e.g. vda-demo.")
    recursive: bool = Field(default=False, description="Also videos in subfolders.")


class UploadResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    dataset_url: str = Field(description="<storage_url>/datasets/<name>; pass storage_url and dataset=<name> to the guard.")
    storage_url: str
    dataset: str
    files: list[str] = Field(description="Uploaded basenames.")
    videos: list[str] = Field(description="Video stems usable as `video`.")
    ignored: list[str] = Field(default_factory=list, description="Non-video files left out.")
    warnings: list[str] = Field(default_factory=list)


# --- demo ---------------------------------------------------------------------------------------


def prepare_demo_assets(
    req: DemoRequest, *, http: httpx2.Client | None = None, sleep: Callable[[float], None] = time.sleep
) -> DemoResult:
    """Download the VDA demo videos from Hugging Face and lay them out flat in demo_dir."""
    if req.repo != DEMO_REPO and not req.allow_non_vda:
        raise PolicyDenied(
            "vda-demo-only",
            f"The demo path pulls only {DEMO_REPO}; another dataset needs the user's explicit request.",
            remedy=f"Call prepare_demo_assets with repo={DEMO_REPO}, or use the dataset the user named.",
        )
    subdir = req.subdir.strip("/")
    if any(part in ("", ".", "..") for part in subdir.split("/")) and subdir:
        raise InputError("subdir must be a plain relative folder inside the repo.", remedy="Pass e.g. clips or leave it empty.", code="invalid-subdir")
    demo_dir = demo_folder(req.demo_dir) if req.demo_dir else default_demo_dir()  # the step prunes stale .mp4 files there
    raw_dir = demo_dir.with_name(demo_dir.name + "_raw")
    token, _source = discover_hf_token()
    headers = {"Authorization": f"Bearer {token}"} if token else {}

    own = http is None
    client = http or httpx2.Client(timeout=req.timeout_s, follow_redirects=True)
    try:
        entries = _list_mp4(client, req, subdir, headers)
        by_name: dict[str, list[str]] = {}
        for path in entries:
            by_name.setdefault(PurePosixPath(path).name, []).append(path)
        clashes = {name: paths for name, paths in by_name.items() if len(paths) > 1}
        if clashes:
            name, paths = next(iter(sorted(clashes.items())))
            raise InputError(
                f"{len(clashes)} basename(s) appear in several folders of {req.repo} (e.g. {name}: {', '.join(paths)}), so they cannot be laid out flat.",
                remedy="Pass subdir (HF_DEMO_DATASET_SUBDIR) to pick one folder.",
                code="duplicate-basenames",
            )
        demo_dir.mkdir(parents=True, exist_ok=True)
        raw_dir.mkdir(parents=True, exist_ok=True)
        downloaded = 0
        raw_files: list[tuple[str, Path, int]] = []
        for path, size in entries.items():
            target = raw_dir / path
            if not target.resolve().is_relative_to(raw_dir.resolve()):
                raise InputError(f"The repo path {path} would land outside {raw_dir}.", remedy="Use the VDA demo dataset.", code="unsafe-path")
            if not (target.is_file() and size is not None and target.stat().st_size == size):
                _download(client, req, path, target, headers, sleep)
                downloaded += 1
            raw_files.append((path, target, target.stat().st_size))
    finally:
        if own:
            client.close()

    keep = {PurePosixPath(p).name for p, _, _ in raw_files}
    for stale in demo_dir.glob("*"):
        if stale.is_file() and stale.suffix.lower() == ".mp4" and stale.name not in keep:
            stale.unlink()
    files = []
    for path, raw, size in raw_files:
        flat = demo_dir / PurePosixPath(path).name
        if not (flat.is_file() and flat.stat().st_size == size):
            tmp = _part_beside(flat)
            try:
                shutil.copyfile(raw, tmp)
                os.replace(tmp, flat)
            finally:
                tmp.unlink(missing_ok=True)
        files.append(DemoFile(name=flat.name, path=str(flat), source_path=path, size=size))
    statement = f"The input videos came from the VDA demo dataset {req.repo} on Hugging Face (revision {req.revision})."
    if req.repo != DEMO_REPO:
        statement = f"The input videos came from the Hugging Face dataset {req.repo} (revision {req.revision}), as the user asked."
    return DemoResult(
        demo_dir=str(demo_dir), raw_dir=str(raw_dir), repo=req.repo, revision=req.revision, files=files, downloaded=downloaded,
        source_statement=statement,
        next=f"upload_dataset(folder={demo_dir}, storage_url=<storage_url>, name=vda-demo), then pre_submit_guard with dataset=vda-demo.",
    )


def _list_mp4(client: httpx2.Client, req: DemoRequest, subdir: str, headers: dict[str, str]) -> dict[str, int | None]:
    """Breadth-first listing of every .mp4 under subdir: repo path -> size (None if unknown)."""
    found: dict[str, int | None] = {}
    queue: deque[str] = deque([subdir])
    seen: set[str] = set()
    while queue:
        folder = queue.popleft()
        if folder in seen:
            continue
        seen.add(folder)
        url: str | None = f"{HF_ENDPOINT}/api/datasets/{req.repo}/tree/{quote(req.revision, safe='')}" + (f"/{quote(folder)}" if folder else "")
        while url:
            response = _get(client, url, headers, req.repo)
            try:
                items = response.json()
            except ValueError as exc:
                raise BackendError(f"Hugging Face answered the listing of {req.repo} with something that is not JSON.", remedy="Retry later.", code="hf-bad-response") from exc
            if not isinstance(items, list):
                raise BackendError(f"Hugging Face answered the listing of {req.repo} with an unexpected shape.", remedy="Retry later.", code="hf-bad-response")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("path"), str):
                    continue
                if item.get("type") == "directory":
                    queue.append(item["path"])
                elif item.get("type") == "file" and item["path"].lower().endswith(".mp4"):
                    size = item.get("size")
                    found[item["path"]] = int(size) if isinstance(size, int) else None
            url = response.links.get("next", {}).get("url")
    if not found:
        raise NotFound(
            f"No .mp4 files were found in {req.repo} at {req.revision}" + (f" under {subdir}" if subdir else "") + ".",
            remedy="Check the repo, revision and subdir.",
        )
    return dict(sorted(found.items()))


def _get(client: httpx2.Client, url: str, headers: dict[str, str], repo: str) -> httpx2.Response:
    try:
        response = client.get(url, headers=headers)
    except httpx2.TimeoutException as exc:
        raise BackendUnavailable("Hugging Face did not answer in time.", remedy="Check the network and retry.", code="hf-unreachable") from exc
    except httpx2.TransportError as exc:
        raise BackendUnavailable("Hugging Face could not be reached.", remedy="Check the network (or HF_ENDPOINT proxies) and retry.", code="hf-unreachable") from exc
    _raise_for_status(response, repo)
    return response


def _raise_for_status(response: httpx2.Response, repo: str) -> None:
    if response.status_code < 400:
        return
    if response.status_code in (401, 403):
        raise UserInputRequired(
            f"Hugging Face denied access to {repo} (HTTP {response.status_code}).",
            question=f"Please provide a Hugging Face token (HF_TOKEN) that can read {repo}.",
            missing="HF_TOKEN",
        )
    if response.status_code == 404:
        raise NotFound(f"Hugging Face has no {repo} at that revision or path (HTTP 404).", remedy="Check the repo, revision and subdir.")
    body = redact(response.text[:200]) if response.text else ""
    raise BackendError(f"Hugging Face answered HTTP {response.status_code}: {body}".strip(), remedy="Retry later.", code="hf-http-error")


def _download(
    client: httpx2.Client, req: DemoRequest, path: str, target: Path, headers: dict[str, str], sleep: Callable[[float], None]
) -> None:
    url = f"{HF_ENDPOINT}/datasets/{req.repo}/resolve/{quote(req.revision, safe='')}/{quote(path)}"
    target.parent.mkdir(parents=True, exist_ok=True)
    part = _part_beside(target)  # unique: two runs downloading one file never share it
    last: Exception | None = None
    try:
        for attempt in range(req.retries + 1):
            if attempt:
                sleep(2.0)
            try:
                with client.stream("GET", url, headers=headers) as response:
                    if response.status_code in _RETRYABLE:
                        last = BackendError(f"Hugging Face answered HTTP {response.status_code} for {path}.", remedy="Retry later.", code="hf-http-error")
                        continue
                    _raise_for_status(response, req.repo)
                    with part.open("wb") as sink:
                        for chunk in response.iter_bytes():
                            sink.write(chunk)
                os.replace(part, target)
                return
            except httpx2.TransportError as exc:
                last = exc
    finally:
        part.unlink(missing_ok=True)
    raise BackendUnavailable(
        f"Downloading {path} from {req.repo} failed after {req.retries + 1} attempt(s) ({type(last).__name__}).",
        remedy="Check the network and rerun prepare_demo_assets; finished files are kept.",
        code="hf-download-failed",
    )


def _part_beside(target: Path) -> Path:
    """A unique hidden ``.part`` file in ``target``'s folder (so the final rename is atomic)."""
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    os.close(fd)
    os.chmod(name, 0o644)
    return Path(name)


# --- upload -------------------------------------------------------------------------------------


def upload_dataset(req: UploadRequest, *, backend: Backend) -> UploadResult:
    """Upload a folder's videos flat to <storage_url>/datasets/<name>/ and return the dataset URL."""
    folder = user_folder(req.folder)
    candidates = sorted(p for p in (folder.rglob("*") if req.recursive else folder.iterdir()) if p.is_file() and not p.name.startswith("."))
    videos = [p for p in candidates if p.suffix.lower() in VIDEO_SUFFIXES]
    ignored = [str(p.relative_to(folder)) for p in candidates if p.suffix.lower() not in VIDEO_SUFFIXES]
    if not videos:
        raise InputError(
            f"{folder} holds no video files ({', '.join(VIDEO_SUFFIXES)}).",
            remedy="Pass the folder that holds the user's videos; never substitute other videos.",
            code="no-videos",
        )
    names: dict[str, list[Path]] = {}
    for path in videos:
        names.setdefault(path.name, []).append(path)
    dupes = sorted(name for name, paths in names.items() if len(paths) > 1)
    if dupes:
        raise InputError(
            f"{len(dupes)} basename(s) occur in several subfolders (e.g. {dupes[0]}); a dataset is flat.",
            remedy="Rename the clashing files, or upload one subfolder at a time.",
            code="duplicate-basenames",
        )
    url = join(req.storage_url, "datasets", req.name)
    backend.data_upload(url, videos)
    warnings = [f"{p.name}: {problem}; it cannot be passed as video" for p in videos if (problem := video_problem(p.stem))]
    warnings += [f"{p.name}: the workflows read <video>.mp4, so only .mp4 files can be passed as video" for p in videos if p.suffix != ".mp4"]
    return UploadResult(
        dataset_url=url, storage_url=req.storage_url.rstrip("/"), dataset=req.name, files=[p.name for p in videos],
        videos=[p.stem for p in videos], ignored=ignored, warnings=warnings,
    )

"""Domain constants and the rules about submit values, shared by the call judge and the command judge.

Flow names, the NIM allow-list, video suffixes; reading submit values out of a call (:func:`values_of`)
and fingerprinting them (:func:`values_hash`); and :func:`judge_values`, the value rules (run id,
video, cache URLs, storage root, endpoints, demo input). Storage URLs are read by
:mod:`skill.storage` (:func:`~skill.storage.storage_root`, :func:`~skill.storage.split_dataset_url`).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel

from skill.demo_source import DEMO_DATASET_NAME
from skill.flows import DEFAULT_FLOW, catalogue
from skill.models import ALIASES, FLOWS, RUN_ID_PATTERN, SubmitValues, Violation
from skill.policy.rules import RULES, _violation
from skill.secrets import looks_like_secret
from skill.storage import CACHE_SUBPATHS, split_dataset_url, storage_root
from skill.video_types import VIDEO_LIKE_SUFFIXES

if TYPE_CHECKING:
    from skill.policy.state import RunState

__all__ = [
    "AUGMENTING_FLOWS",
    "CACHE_WORKFLOW",
    "DEFAULT_FLOW",
    "NIM_NAMESPACES",
    "NIM_SERVICES",
    "VIDEO_EXTENSIONS",
    "cache_urls_for",
    "canonical_flow",
    "hf_dataset_repo",
    "is_external_endpoint",
    "is_video_url",
    "judge_values",
    "required_cache_keys",
    "values_hash",
    "values_of",
    "video_stem",
]

# --- domain constants ------------------------------------------------------------------------------

CACHE_WORKFLOW = "setup_model_cache"
AUGMENTING_FLOWS: frozenset[str] = frozenset(f.name for f in catalogue() if f.kind == "flow" and f.augments)
NIM_SERVICES: tuple[str, ...] = ("qwen3-vl", "qwen25-14b")
NIM_NAMESPACES: tuple[str, ...] = ("osmo-nims", "nim-operator")
VIDEO_EXTENSIONS: frozenset[str] = VIDEO_LIKE_SUFFIXES
_DEFAULT_VALUES = {
    "cookbook": "city_traffic",
    "vlm_url": "http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1",
    "llm_url": "http://qwen25-14b.osmo-nims.svc.cluster.local:8000/v1",
}
_VALUE_KEYS: tuple[str, ...] = (*SubmitValues.model_fields, "workers", "n_augmentations")
_FILLED_BY_STEP = ("run_id", "skills_dir")
_RUN_ID = re.compile(RUN_ID_PATTERN)
_VIDEO_HOSTS = (
    "youtube.com", "youtu.be", "vimeo.com", "pexels.com", "pixabay.com", "mixkit.co", "coverr.co",
    "videvo.net", "dailymotion.com", "tiktok.com", "sample-videos.com", "samplelib.com",
    "gtv-videos-bucket", "test-videos.co.uk", "file-examples.com", "archive.org",
)


def _show(value: Any, limit: int = 80) -> str:
    """A value fit for a message: masked if it looks secret, query strings dropped, shortened."""
    text = str(value)
    if looks_like_secret(text):
        return "<redacted>"
    text = text.split("?", 1)[0]
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- small pure helpers ---------------------------------------------------------------------------------


def canonical_flow(flow: Any) -> str:
    """Flow name with the legacy alias resolved; ``None`` (or a non-string) means the default flow."""
    name = (flow if isinstance(flow, str) and flow.strip() else DEFAULT_FLOW).strip()
    name = PurePosixPath(name).stem if name.endswith((".yaml", ".yml")) else name
    return ALIASES.get(name, name)


def is_external_endpoint(url: str) -> bool:
    """True unless the URL names an in-cluster service (``*.svc.cluster.local``, ``*.svc``, a single-label
    service name) or this machine (loopback)."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    try:
        host = (urlsplit(text).hostname or "").lower().rstrip(".")
    except ValueError:
        return True
    if not host:
        return True
    if host.endswith((".svc.cluster.local", ".svc", ".cluster.local")) or host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return "." in host


def is_video_url(url: str) -> bool:
    """A URL that points at a video file or a video site."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return False
    host = (parts.hostname or "").lower()
    where = host + parts.path.lower()
    return PurePosixPath(parts.path).suffix.lower() in VIDEO_EXTENSIONS or any(h in where for h in _VIDEO_HOSTS)


def hf_dataset_repo(url: str) -> str | None:
    """``https://huggingface.co/datasets/<owner>/<name>/...`` -> ``owner/name``."""
    match = re.search(r"huggingface\.co/datasets/([\w.-]+/[\w.-]+)", url)
    return match.group(1).lower() if match else None


def _norm_url(url: str) -> str:
    return url.strip().rstrip("/")


def _as_dict(obj: Any) -> dict[str, Any]:
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="json")
    if isinstance(obj, Mapping):
        return dict(obj)
    return {}


def values_of(arguments: Mapping[str, Any]) -> dict[str, str]:
    """The submit values a call carries: flat keys, a nested ``values`` mapping, a raw ``set_string`` list."""
    found: dict[str, str] = {}
    sources: list[Mapping[str, Any]] = [arguments]
    nested = arguments.get("values")
    if isinstance(nested, Mapping):
        sources.append(nested)
    raw = arguments.get("set_string")
    if isinstance(raw, str):
        raw = raw.split()
    if isinstance(raw, (list, tuple)):
        pairs = [item for item in raw if isinstance(item, str) and "=" in item]
        sources.append(dict(item.split("=", 1) for item in pairs))
    for source in sources:
        for key in _VALUE_KEYS:
            value = source.get(key)
            if value is not None and not isinstance(value, (Mapping, list, tuple)):
                found[key] = str(value)
    return found


def values_hash(values: Mapping[str, Any], *, flow: str | None = None, omit: Iterable[str] = ()) -> str:
    """sha256 of the canonical (flow, values) pairs: defaults and empty values dropped, keys sorted."""
    skip = set(omit)
    normal: dict[str, str] = {}
    for key in _VALUE_KEYS:
        value = values.get(key)
        if key in skip or value is None or str(value) == "" or _DEFAULT_VALUES.get(key) == str(value):
            continue
        normal[key] = str(value)
    payload = json.dumps({"flow": canonical_flow(flow), "values": normal}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


# --- value rules (shared by calls and commands) ----------------------------------------------------------


def judge_values(
    values: Mapping[str, str],
    *,
    flow: str | None,
    state: RunState | None,
    external_allowed: bool = False,
    require_run_id: bool = False,
    fresh: bool = False,
    remedy: str | None = None,
) -> list[Violation]:
    """The rules about submit values: run id, video, cache URLs, storage root, endpoints, demo input."""
    name = canonical_flow(flow)
    out: list[Violation] = []
    out += _judge_run_id(values, state, require=require_run_id, fresh=fresh, remedy=remedy)
    out += _judge_video(values, remedy)
    if name in FLOWS:
        out += _judge_cache_urls(values, name, remedy)
    out += _judge_storage(values, state, remedy, required=name in FLOWS or name == CACHE_WORKFLOW)
    out += _judge_endpoints(values, state, external_allowed, remedy)
    if state is not None:
        out += _judge_demo_values(values, state, remedy)
    return out


def _judge_run_id(
    values: Mapping[str, str], state: RunState | None, *, require: bool, fresh: bool, remedy: str | None
) -> list[Violation]:
    run_id = values.get("run_id")
    if run_id is None:
        return [_violation("run-id-format", "run_id is missing from the submit values.", remedy)] if require else []
    if not _RUN_ID.match(run_id):
        return [_violation("run-id-format", f"run_id {_show(run_id)} is not 'run-' followed by 8 lowercase hex characters.", remedy)]
    if fresh and state is not None and run_id in state.submitted_run_ids:
        return [_violation("run-id-format", f"run_id {run_id} was already submitted in this run; each submit needs a fresh id.", remedy)]
    return []


def video_stem(video: str) -> str:
    """The basename of ``video`` without a video extension (what ``video=`` should have been)."""
    name = PurePosixPath(video.replace("\\", "/")).name
    suffix = PurePosixPath(name).suffix
    return name[: -len(suffix)] if suffix.lower() in VIDEO_EXTENSIONS else name


def _judge_video(values: Mapping[str, str], remedy: str | None) -> list[Violation]:
    video = values.get("video")
    if video is None:
        return []
    bad = (
        not video.strip()
        or "/" in video
        or "\\" in video
        or ".." in video
        or PurePosixPath(video).suffix.lower() in VIDEO_EXTENSIONS
    )
    if not bad:
        return []
    stem = video_stem(video)
    hint = remedy or (f"Pass video={stem}." if stem and ".." not in stem else RULES["video-basename"].remedy)
    return [_violation("video-basename", f"video {_show(video)} is not a bare file stem (no folder, no extension, no '..').", hint)]


def cache_urls_for(storage_url: str | None) -> dict[str, str]:
    prefix = _norm_url(storage_url) if storage_url and "{{" not in storage_url else "<storage_url>"
    return {key: f"{prefix}/{sub}" for key, sub in CACHE_SUBPATHS.items()}


def required_cache_keys(flow: str) -> tuple[str, ...]:
    name = canonical_flow(flow)
    if name in AUGMENTING_FLOWS:
        return ("cosmos_model_cache_url", "auto_labeling_model_cache_url")
    return ("auto_labeling_model_cache_url",) if name in FLOWS else ()


def _judge_cache_urls(values: Mapping[str, str], flow: str, remedy: str | None) -> list[Violation]:
    wanted = cache_urls_for(values.get("storage_url"))
    out = []
    for key in required_cache_keys(flow):
        value = (values.get(key) or "").strip()
        if not value or "{{" in value:
            why = "still holds a template" if value else "is not passed"
            out.append(
                _violation(
                    "explicit-cache-urls",
                    f"{key} {why}; flow {flow} needs it explicitly.",
                    remedy or f"Pass {key}={wanted[key]}.",
                )
            )
    return out


def _judge_storage(
    values: Mapping[str, str], state: RunState | None, remedy: str | None, *, required: bool
) -> list[Violation]:
    storage = (values.get("storage_url") or "").strip()
    derived = state.storage_url if state is not None else None
    hint = remedy or (
        f"Pass storage_url={derived} (derived from the dataset URL {state.dataset_url})."
        if derived and state is not None
        else RULES["storage-url-derived"].remedy
    )
    if not storage:
        return [_violation("storage-url-derived", "storage_url is missing; it must be derived from the dataset root.", hint)] if required else []
    if "{{" in storage:
        return [_violation("storage-url-derived", "storage_url still holds a template instead of the dataset root.", hint)]
    root = storage_root(storage)
    if root is None:
        return [_violation("storage-url-derived", f"storage_url {_show(storage)} is not a storage URL (scheme://root/...) or an absolute path.", hint)]
    if re.search(r"/datasets(?:/|$)", storage.rstrip("/")):
        prefix = storage.rstrip("/").rsplit("/datasets", 1)[0]
        return [
            _violation(
                "storage-url-derived",
                f"storage_url {_show(storage)} includes /datasets; it must be the prefix in front of /datasets/<dataset>.",
                remedy or f"Pass storage_url={prefix}.",
            )
        ]
    out: list[Violation] = []
    if state is not None and state.dataset_url:
        split = split_dataset_url(state.dataset_url)
        dataset_root = storage_root(state.dataset_url)
        if dataset_root and dataset_root != root:
            out.append(
                _violation(
                    "storage-url-derived",
                    f"storage_url {_show(storage)} is not on the scheme and root of the dataset in use ({_show(state.dataset_url)}).",
                    hint,
                )
            )
        elif split and values.get("dataset") == split[1] and _norm_url(storage) != split[0]:
            out.append(
                _violation(
                    "storage-url-derived",
                    f"storage_url {_show(storage)} is not the prefix in front of /datasets/{split[1]} of the dataset in use.",
                    hint,
                )
            )
    for key in ("cosmos_model_cache_url", "auto_labeling_model_cache_url"):
        other = values.get(key)
        other_root = storage_root(other) if other and "{{" not in other else None
        if other_root and other_root != root:
            out.append(
                _violation(
                    "storage-url-derived",
                    f"storage_url {_show(storage)} and {key} {_show(other)} are on different schemes or roots.",
                    remedy or f"Derive storage_url from the dataset root and pass {key}={cache_urls_for(storage)[key]}.",
                )
            )
    return out


def _judge_endpoints(
    values: Mapping[str, str], state: RunState | None, external_allowed: bool, remedy: str | None
) -> list[Violation]:
    out = []
    for key in ("vlm_url", "llm_url"):
        url = values.get(key)
        if not url or not is_external_endpoint(url) or external_allowed:
            continue
        if state is not None and state.endpoint_allowed(url):
            continue
        out.append(
            _violation(
                "external-endpoints-opt-in",
                f"{key} points outside the cluster ({_show(url)}) but the user did not ask for external endpoints.",
                remedy or f"Omit {key}; the default is {_DEFAULT_VALUES[key]}.",
            )
        )
    return out


def _judge_demo_values(values: Mapping[str, str], state: RunState, remedy: str | None) -> list[Violation]:
    if state.demo_allowed():
        return []
    dataset, storage = values.get("dataset"), values.get("storage_url")
    composed = f"{_norm_url(storage)}/datasets/{dataset}" if storage and dataset else None
    named = state.user_dataset_urls()
    hint = remedy or _input_hint(state)
    if dataset == DEMO_DATASET_NAME or (composed and composed in state.demo_dataset_urls):
        return [_violation("no-demo-substitution", "The user named their own input, but the values point at the demo dataset.", hint)]
    in_use = state.dataset_url if state.dataset_url not in state.demo_dataset_urls else None
    named_names = {split[1] for split in map(split_dataset_url, named) if split}
    # the user's dataset under a wrong prefix is a storage_url error (storage-url-derived), not another input
    if composed and named and composed not in named and composed != in_use and dataset not in named_names:
        return [_violation("no-demo-substitution", f"The dataset {_show(composed)} is not the input the user named.", hint)]
    stems = {video_stem(item) for item in state.user_inputs if PurePosixPath(item).suffix.lower() in VIDEO_EXTENSIONS}
    only_files = all(PurePosixPath(i).suffix.lower() in VIDEO_EXTENSIONS for i in state.user_inputs)
    video = values.get("video")
    if video and stems and only_files and video_stem(video) not in stems:
        return [_violation("no-demo-substitution", f"video {_show(video)} is not one of the videos the user named.", hint)]
    return []


def _input_hint(state: RunState) -> str:
    named = ", ".join(_show(item) for item in state.user_inputs[:3])
    return f"Use the user's input ({named}): upload it with upload_dataset or use its dataset URL."

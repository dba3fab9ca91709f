"""The non-negotiable rules of POLICY.md, as data, and the two judges that apply them.

* :data:`RULES` maps each rule id to a :class:`Rule` (id, text, what it is judged on, the generic
  remedy). The MCP server, the chat agent and the eval harness read the same catalogue.
* :func:`check` judges a call of one of our tools against the :class:`RunState` (what the
  conversation established: the user's inputs, which checks passed, what was submitted).
* :func:`check_command` judges a raw shell command (``osmo``, ``kubectl``, ``helm``, ``hf``,
  ``curl``...); the parsing lives in :mod:`skill._policy_commands`.

Both return :class:`skill.models.Decision`: allowed, or violations each carrying the rule id, one
sentence of why and the call or command to make instead. The module is pure: no I/O and no
environment reads (secret detection uses token shapes and values registered with
:func:`skill.secrets.register_secret`), so it is tested with plain tables.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
from collections.abc import Callable, Iterable, Mapping
from pathlib import PurePosixPath
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from skill.demo_source import DEMO_DATASET_NAME, DEMO_REPO
from skill.models import ALIASES, FLOWS, RUN_ID_PATTERN, Decision, SubmitValues, Violation
from skill.secrets import is_secret_name, looks_like_secret
from skill.video_types import VIDEO_LIKE_SUFFIXES

__all__ = [
    "AUGMENTING_FLOWS",
    "CACHE_WORKFLOW",
    "DEFAULT_FLOW",
    "DEMO_DATASET_NAME",
    "DEMO_REPO",
    "NIM_NAMESPACES",
    "NIM_SERVICES",
    "RULES",
    "CALL_JUDGES",
    "RECORDERS",
    "VIDEO_EXTENSIONS",
    "JudgedOn",
    "Rule",
    "RunState",
    "ToolCall",
    "cache_urls_for",
    "canonical_flow",
    "dataset_root",
    "check",
    "check_command",
    "hf_dataset_repo",
    "interpolation_failed",
    "is_external_endpoint",
    "is_video_url",
    "judge_values",
    "required_cache_keys",
    "split_dataset_url",
    "storage_root",
    "values_hash",
    "values_of",
    "video_stem",
]

# --- the catalogue ------------------------------------------------------------------------------

JudgedOn = Literal["call", "command", "transcript", "run state"]


class Rule(BaseModel):
    """One rule of POLICY.md: its public id, what it says, where it is judged, the generic remedy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(description="Public rule id, kebab-case, e.g. single-set-string.")
    text: str = Field(description="The rule in one or two sentences, for agents and reports.")
    judged_on: tuple[JudgedOn, ...] = Field(description="call, command, transcript and/or run state.")
    remedy: str = Field(description="What to do instead, in general; denials give the specific call.")


_CATALOGUE: tuple[Rule, ...] = (
    Rule(
        id="single-set-string",
        text="A workflow submit carries exactly one `--set-string`, every key=value after it; never `--set`, "
        "never a repeated flag, never both.",
        judged_on=("call", "command"),
        remedy="Submit with one `--set-string` followed by every key=value pair.",
    ),
    Rule(
        id="no-nim-scale-down",
        text="Never scale down, delete, uninstall or patch replicas lower for a NIM service/deployment "
        "(kubectl scale/delete/patch, helm uninstall, NIMService edits), to free GPUs or for any reason.",
        judged_on=("command",),
        remedy="Leave the NIMs running; pick another ONLINE pool or wait for GPUs, and repair unhealthy NIMs "
        'with NIM_SERVICES="qwen3-vl qwen25-14b" install.sh.',
    ),
    Rule(
        id="nim-allow-list",
        text='A NIM deploy or repair names exactly the VDA allow-list (`NIM_SERVICES="qwen3-vl qwen25-14b"`); '
        "never unset (which deploys every NIM the installer knows), never extra services.",
        judged_on=("call", "command"),
        remedy='Deploy or repair with NIM_SERVICES="qwen3-vl qwen25-14b" and nothing else.',
    ),
    Rule(
        id="no-demo-substitution",
        text="A video, dataset URL or folder the user named is the input; never replaced by demo assets or any "
        "other source.",
        judged_on=("call", "command", "transcript"),
        remedy="Use the input the user named (upload their folder or use their dataset URL).",
    ),
    Rule(
        id="vda-demo-only",
        text="The demo path pulls only `nvidia/video-data-augmentation-demo`, unless the user explicitly asked "
        "for another dataset.",
        judged_on=("call", "command"),
        remedy="Pull the demo from nvidia/video-data-augmentation-demo (prepare_demo_assets with its default repo).",
    ),
    Rule(
        id="no-invented-video",
        text="Never generate, scrape or download arbitrary or placeholder videos to stand in for missing input.",
        judged_on=("call", "command", "transcript"),
        remedy="Use the user's videos, or the VDA demo dataset when the user gave none.",
    ),
    Rule(
        id="storage-url-derived",
        text="`storage_url` is the backend-native prefix in front of `/datasets/<dataset>` of the real "
        "dataset/upload root; same scheme and root; never a stale or guessed `s3://`.",
        judged_on=("call", "command"),
        remedy="Derive storage_url from the dataset URL: the part before /datasets/<dataset>.",
    ),
    Rule(
        id="explicit-cache-urls",
        text="The submit passes `cosmos_model_cache_url` (flows with augmentation) and "
        "`auto_labeling_model_cache_url` explicitly.",
        judged_on=("call", "command"),
        remedy="Pass cosmos_model_cache_url=<storage_url>/data/models/cosmos_transfer and "
        "auto_labeling_model_cache_url=<storage_url>/data/models/auto_labeling.",
    ),
    Rule(
        id="gpu-platform-from-pool",
        text="`gpu_platform` is a platform label that the live pool list shows ONLINE; never guessed "
        "(e.g. `microk8s`).",
        judged_on=("call",),
        remedy="Run preflight and use a platform label its pool list shows for an ONLINE pool.",
    ),
    Rule(
        id="preflight-before-submit",
        text="A passing preflight in this run precedes any workflow submit.",
        judged_on=("call", "transcript"),
        remedy="Call preflight and continue once it reports status ok.",
    ),
    Rule(
        id="guard-before-submit",
        text="A passing pre-submit guard for the same values precedes the submit.",
        judged_on=("call", "transcript"),
        remedy="Call pre_submit_guard with exactly the values you will submit, then submit.",
    ),
    Rule(
        id="eta-before-mutation",
        text="An execution-time overview is given before the first mutating action (credential set, NIM "
        "install/repair, cache submit, workflow submit).",
        judged_on=("transcript", "run state"),
        remedy="Give the execution-time overview first (select_flow returns it).",
    ),
    Rule(
        id="cache-remediation",
        text="When the guard reports a missing cache: run `setup_model_cache`, rerun the guard, then submit; do "
        "not submit with a missing cache, do not ask the user.",
        judged_on=("call", "transcript"),
        remedy="Call setup_model_cache with storage_url=<prefix> path=data, rerun pre_submit_guard, then submit.",
    ),
    Rule(
        id="no-key-prefix-rejection",
        text="Never reject or skip a key because of its prefix (`nvapi-*` is first-class); registry probe "
        "results decide.",
        judged_on=("transcript",),
        remedy="Keep the key and let the registry probe of preflight decide.",
    ),
    Rule(
        id="external-endpoints-opt-in",
        text="`vlm_url`/`llm_url` point outside the cluster only when the user explicitly asked or gave URLs; "
        "never inferred from credentials.",
        judged_on=("call", "command"),
        remedy="Leave vlm_url/llm_url out so the in-cluster NIMs (*.osmo-nims.svc.cluster.local) are used.",
    ),
    Rule(
        id="no-secret-echo",
        text="No token or key value in any tool output, message, log line or command line.",
        judged_on=("call", "command", "transcript"),
        remedy='Refer to secrets by variable name (e.g. auth="$NGC_API_KEY") and never print them.',
    ),
    Rule(
        id="single-interpolation-retry",
        text="After an interpolation failure, at most one resubmit with the canonical shape; no flag "
        "permutations.",
        judged_on=("transcript",),
        remedy="Resubmit once with one --set-string carrying every pair; if it fails again, report it.",
    ),
    Rule(
        id="run-id-format",
        text="`run_id` is `run-` + 8 lowercase hex, fresh for each new submit.",
        judged_on=("call", "command"),
        remedy="Use a fresh run_id: 'run-' + the first 8 hex characters of a new UUID, never one submitted before.",
    ),
    Rule(
        id="video-basename",
        text="`video` is a file stem: no path separator, no extension, no traversal.",
        judged_on=("call", "command"),
        remedy="Pass the file stem only, e.g. video=03_IllegalOccupation_020_10FPS.",
    ),
    Rule(
        id="ask-only-when-blocked",
        text="Ask the user only for: a `USER_INPUT_REQUIRED` secret, an underivable storage prefix, no "
        "selectable ONLINE pool; never about cookbook, cache strategy, external endpoints or scaling NIMs.",
        judged_on=("transcript",),
        remedy="Decide autonomously with the documented defaults; ask only when blocked.",
    ),
    Rule(
        id="no-approval-pause",
        text='After a green stage, go on; no "ready when you are" pause unless blocked or told to stop.',
        judged_on=("transcript",),
        remedy="Continue with the next stage and send a status heartbeat instead of a question.",
    ),
    Rule(
        id="media-line-format",
        text="A MEDIA line is `MEDIA:/absolute/path` alone in its message, one per message, pointing inside "
        "the local run folder.",
        judged_on=("transcript",),
        remedy="Send MEDIA:/abs/path/inside/media/vda/runs/<run_id>/... alone in its own message.",
    ),
    Rule(
        id="evidence-complete",
        text="An augmented flow ends with: the side-by-side MEDIA, the `sampled_vars` summary, the auto-label "
        "summary (and the original-label summary for e2e flows), and for demo input the statement that it "
        "came from the VDA demo dataset.",
        judged_on=("transcript",),
        remedy="Stage the artifacts, render the side-by-side and summarise sampled_vars and labels.",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _CATALOGUE}

# --- domain constants ------------------------------------------------------------------------------

CACHE_WORKFLOW = "setup_model_cache"
AUGMENTING_FLOWS: frozenset[str] = frozenset({"augmentation_and_al", "e2e", "e2e_super_resolution"})
NIM_SERVICES: tuple[str, ...] = ("qwen3-vl", "qwen25-14b")
NIM_NAMESPACES: tuple[str, ...] = ("osmo-nims", "nim-operator")
VIDEO_EXTENSIONS: frozenset[str] = VIDEO_LIKE_SUFFIXES
DEFAULT_FLOW = "augmentation_and_al"
_DEFAULT_VALUES = {
    "cookbook": "city_traffic",
    "vlm_url": "http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1",
    "llm_url": "http://qwen25-14b.osmo-nims.svc.cluster.local:8000/v1",
}
_VALUE_KEYS: tuple[str, ...] = (*SubmitValues.model_fields, "workers", "n_augmentations")
_FILLED_BY_STEP = ("run_id", "skills_dir")
_RUN_ID = re.compile(RUN_ID_PATTERN)
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://(.*)$", re.DOTALL)
_ROOT_DEPTH = {"azure": 2, "swift": 3, "tos": 2}
_VIDEO_HOSTS = (
    "youtube.com", "youtu.be", "vimeo.com", "pexels.com", "pixabay.com", "mixkit.co", "coverr.co",
    "videvo.net", "dailymotion.com", "tiktok.com", "sample-videos.com", "samplelib.com",
    "gtv-videos-bucket", "test-videos.co.uk", "file-examples.com", "archive.org",
)


def _violation(rule: str, message: str, remedy: str | None = None) -> Violation:
    return Violation(rule=rule, message=message, remedy=remedy or RULES[rule].remedy)


def _show(value: Any, limit: int = 80) -> str:
    """A value fit for a message: masked if it looks secret, query strings dropped, shortened."""
    text = str(value)
    if looks_like_secret(text):
        return "<redacted>"
    text = text.split("?", 1)[0]
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


# --- small pure helpers shared with the command judge ----------------------------------------------


def canonical_flow(flow: Any) -> str:
    """Flow name with the legacy alias resolved; ``None`` (or a non-string) means the default flow."""
    name = (flow if isinstance(flow, str) and flow.strip() else DEFAULT_FLOW).strip()
    name = PurePosixPath(name).stem if name.endswith((".yaml", ".yml")) else name
    return ALIASES.get(name, name)


def storage_root(url: str | None) -> tuple[str, str] | None:
    """``(scheme, root)`` of a storage URL: the bucket (s3, gs), account/container (azure),
    endpoint/account/container (swift), endpoint/bucket (tos); local paths are ``("file", "/")``."""
    if not url:
        return None
    text = url.strip()
    match = _SCHEME.match(text)
    if not match:
        return ("file", "/") if text.startswith(("/", "~")) else None
    scheme = match.group(1).lower()
    if scheme == "file":
        return ("file", "/")
    parts = [part for part in match.group(2).split("/") if part]
    return scheme, "/".join(parts[: _ROOT_DEPTH.get(scheme, 1)])


def split_dataset_url(url: str) -> tuple[str, str] | None:
    """``<prefix>/datasets/<name>[/...]`` -> ``(prefix, name)``; anything else -> None."""
    text = url.strip().rstrip("/")
    head, sep, tail = text.rpartition("/datasets/")
    if not sep or not head or not tail:
        return None
    return head, tail.split("/", 1)[0]


def dataset_root(url: str) -> str:
    """``<prefix>/datasets/<name>`` of a URL inside a dataset (a clip's URL gives its dataset); other
    URLs come back normalised as they are."""
    split = split_dataset_url(url)
    return f"{split[0]}/datasets/{split[1]}" if split else _norm_url(url)


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


# --- what the conversation established ----------------------------------------------------------------


class ToolCall(BaseModel):
    """A call of one of our tools, as the agent made it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(description="Tool name, a row of tools/tool_table.py (e.g. submit).")
    arguments: dict[str, Any] = Field(default_factory=dict)


_URL = re.compile(r"\b(?:s3|gs|gcs|azure|swift|tos|file|https?)://[^\s'\"<>`]+", re.IGNORECASE)
_PATH = re.compile(r"(?<![\w:/.~-])(?:~|\.{1,2})?/[^\s'\"<>`,;]+")
_VIDEO_FILE = re.compile(r"\b[\w.-]+\.(?:mp4|mov|avi|mkv|m4v|webm)\b", re.IGNORECASE)
_DEMO_WORD = re.compile(r"\b(?:vda[ -]?)?demo\b", re.IGNORECASE)
_NEGATION = re.compile(r"\b(?:no|not|don'?t|do not|without|never|instead of|rather than)\b[^.!?\n]{0,25}$", re.IGNORECASE)
_EXTERNAL_ASK = re.compile(
    r"\b(?:external|hosted|remote|cloud|third[- ]party|my own|our own)\s+(?:vlm\s+|llm\s+|inference\s+)?"
    r"(?:endpoints?|apis?|urls?|models?)\b|build\.nvidia\.com|integrate\.api\.nvidia\.com|\bnvcf\b",
    re.IGNORECASE,
)
_HF_REPO_ASK = re.compile(r"\b(?:hf|hugging ?face)\s+dataset\s+([\w.-]+/[\w.-]+)", re.IGNORECASE)
_MINUTES = re.compile(r"\d+\s*(?:-|–|to)\s*\d+\s*(?:min|minutes|h|hours)\b|\b\d+\s*(?:min|minutes)\b", re.IGNORECASE)
_ETA_WORD = re.compile(r"\b(?:eta|estimat\w*|overview|expect\w*|take[s]?\s+(?:about|around|roughly))\b", re.IGNORECASE)
_INTERPOLATION = re.compile(r"is undefined|jinja|interpolation|undefined[- ]variable", re.IGNORECASE)
_CACHE_FAILURE = re.compile(r"model cache[^\n]{0,40}(?:validation failed|missing|empty)|cache[_ -]missing|run setup_model_cache", re.IGNORECASE)


def interpolation_failed(text: str) -> bool:
    """A submit result that counts for ``single-interpolation-retry``: any Jinja substitution
    failure or undefined variable (judged live here and on transcripts by the eval harness)."""
    return bool(_INTERPOLATION.search(text))


class RunState(BaseModel):
    """What the conversation established so far. Mutable; :meth:`record` updates it after a tool call
    succeeded, :meth:`note_user` / :meth:`note_assistant` after a message."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    user_inputs: list[str] = Field(default_factory=list, description="Videos, dataset URLs, folders the user named.")
    user_asked_demo: bool = Field(default=False, description="The user explicitly asked for the demo.")
    user_demo_repo: str | None = Field(default=None, description="Another demo dataset repo the user asked for.")
    user_external_endpoints: bool = Field(default=False, description="The user explicitly asked for external endpoints.")
    user_endpoint_urls: list[str] = Field(default_factory=list, description="Endpoint URLs the user gave.")
    dataset_url: str | None = Field(default=None, description="Dataset in use: <storage_url>/datasets/<name>.")
    storage_url: str | None = Field(default=None, description="Storage root in use, derived from dataset_url.")
    demo_dirs: list[str] = Field(default_factory=list, description="Local folders prepare_demo_assets filled.")
    demo_dataset_urls: list[str] = Field(default_factory=list, description="Dataset URLs holding demo assets.")
    online_pools: dict[str, list[str]] = Field(default_factory=dict, description="ONLINE pool -> platform labels.")
    online_platforms: list[str] = Field(default_factory=list, description="Platforms preflight reported ONLINE.")
    preflight_passed: bool = False
    guarded_hashes: set[str] = Field(default_factory=set, description="values_hash of every passing guard.")
    submitted_run_ids: list[str] = Field(default_factory=list)
    eta_given: bool = False
    cache_missing: bool = Field(default=False, description="The last guard reported a missing cache.")
    cache_setup_since: bool = Field(default=False, description="setup_model_cache ran after that report.")
    workflow_guarded: str | None = Field(
        default=None,
        description="Flow whose value-less guard (upstream's `pre_submit_guard.py --workflow <yaml>`) passed; it covers "
        "the next submit of that flow until another guard fails, another dataset is used or that submit is made.",
    )
    interpolation_failures: int = 0
    flow: str | None = None

    # -- conversation ---------------------------------------------------------------------------
    def note_user(self, text: str) -> None:
        """Take what the user named from a message: inputs, dataset URLs, demo and endpoint requests."""
        text = text or ""
        for url in (u.rstrip(".,;:)") for u in _URL.findall(text)):
            lower = url.lower()
            if lower.startswith(("http://", "https://")):
                repo = hf_dataset_repo(url)
                if repo:
                    self._add_demo_repo(repo)
                elif is_video_url(url):
                    self._add_input(url)
                else:
                    self._add_unique("user_endpoint_urls", _norm_url(url))
                continue
            self._add_input(url)
            if self.dataset_url is None and split_dataset_url(url):
                self.use_dataset(url)
        rest = _URL.sub(" ", text)
        for path in _PATH.findall(rest):
            self._add_input(path.rstrip(".,;:)"))
        for name in _VIDEO_FILE.findall(rest):
            if not any(entry.endswith(name) for entry in self.user_inputs):
                self._add_input(name)
        for match in _DEMO_WORD.finditer(text):
            if not _NEGATION.search(text[max(0, match.start() - 40) : match.start()]):
                self.user_asked_demo = True
        for repo in _HF_REPO_ASK.findall(text):
            self._add_demo_repo(repo.lower())
        if _EXTERNAL_ASK.search(text):
            self.user_external_endpoints = True

    def note_assistant(self, text: str) -> None:
        """An assistant message with a time estimate counts as the execution-time overview."""
        text = text or ""
        if _MINUTES.search(text) and (_ETA_WORD.search(text) or re.search(r"\d+\s*(?:-|–|to)\s*\d+", text)):
            self.eta_given = True

    def use_dataset(self, dataset_url: str, *, from_demo: bool = False) -> None:
        """The dataset in use from now on (and the storage root derived from it)."""
        root = dataset_root(dataset_url)
        if root != self.dataset_url:
            self.workflow_guarded = None
        self.dataset_url = root
        split = split_dataset_url(dataset_url)
        self.storage_url = split[0] if split else None
        if from_demo:
            self._add_unique("demo_dataset_urls", self.dataset_url)

    # -- tool results -----------------------------------------------------------------------------
    def record(self, call: ToolCall, result: Any = None) -> None:
        """Update the state after ``call`` succeeded with ``result`` (a model, a mapping or None)."""
        handler = RECORDERS.get(call.name)
        if handler is not None:
            handler(self, call.arguments, _as_dict(result), result is None)

    def record_failure(self, call: ToolCall, error: Any) -> None:
        """Note a failed call: an interpolation failure of a submit is counted; a failed guard covers
        nothing, and one that names the model cache marks the cache missing."""
        code = str(getattr(error, "code", "") or "")
        text = f"{code} {getattr(error, 'message', None) or error}"
        if call.name == "submit" and interpolation_failed(text):
            self.interpolation_failures += 1
        if call.name == "pre_submit_guard":
            self.workflow_guarded = None
            if _CACHE_FAILURE.search(text):
                self.cache_missing = True
                self.cache_setup_since = False

    # -- queries ------------------------------------------------------------------------------------
    def user_named_inputs(self) -> bool:
        return bool(self.user_inputs)

    def user_dataset_urls(self) -> list[str]:
        return [dataset_root(u) for u in self.user_inputs if _SCHEME.match(u) and split_dataset_url(u)]

    def demo_allowed(self, repo: str | None = None) -> bool:
        """May the demo (or ``repo``) be used: the user asked for it, or named no input at all."""
        if repo and repo.lower() != DEMO_REPO:
            return bool(self.user_demo_repo and self.user_demo_repo.lower() == repo.lower())
        return self.user_asked_demo or self.user_demo_repo is not None or not self.user_inputs

    def endpoint_allowed(self, url: str) -> bool:
        return self.user_external_endpoints or _norm_url(url) in self.user_endpoint_urls

    def guard_covers(self, values: Mapping[str, Any], flow: str | None) -> bool:
        """A passing guard for exactly these values, or a value-less guard of this flow since the last change."""
        if self.workflow_guarded is not None and self.workflow_guarded == canonical_flow(flow):
            return True
        omit = [key for key in _FILLED_BY_STEP if not values.get(key)]
        return values_hash(values, flow=flow, omit=omit) in self.guarded_hashes

    def _add_input(self, item: str) -> None:
        self._add_unique("user_inputs", item)

    def _add_demo_repo(self, repo: str) -> None:
        if repo.lower() == DEMO_REPO:
            self.user_asked_demo = True
        else:
            self.user_demo_repo = repo.lower()

    def _add_unique(self, field: str, item: str) -> None:
        items = getattr(self, field)
        if item and item not in items:
            setattr(self, field, [*items, item])


def _record_select_flow(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    if unknown or "eta" not in data or data.get("eta"):
        state.eta_given = True
    flow = data.get("flow") or args.get("flow")
    if isinstance(flow, str) and flow:
        state.flow = canonical_flow(flow)


def _record_preflight(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    state.preflight_passed = unknown or data.get("status") == "ok" or data.get("ok") is True
    pools: dict[str, list[str]] = {}
    for item in data.get("pools") or []:
        pool = _as_dict(item)
        if str(pool.get("status", "")).upper() == "ONLINE" and pool.get("name"):
            platforms = [str(p) for p in pool.get("platforms") or []]
            default = pool.get("default_platform")
            if default and str(default) not in platforms:
                platforms.append(str(default))
            pools[str(pool["name"])] = platforms
    if pools or "pools" in data:
        state.online_pools = pools
    if "platforms" in data:
        state.online_platforms = [str(p) for p in data.get("platforms") or []]


def _record_guard(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    status = data.get("status")
    if unknown or status == "ok" or data.get("passed") is True:
        flow = args.get("flow") or data.get("flow")
        asked = values_of(args)
        if data.get("run_id") and "run_id" not in asked:  # the guard handed out a fresh run id
            asked["run_id"] = str(data["run_id"])
        candidates = [asked]
        checked = data.get("values")
        if isinstance(checked, Mapping) and checked:  # the canonical pairs the guard rendered and checked
            candidates.append({**asked, **{str(k): str(v) for k, v in checked.items() if v is not None}})
        hashes = {
            values_hash(values, flow=flow, omit=omit)
            for values in candidates
            for omit in ((), ("run_id",), ("skills_dir",), ("run_id", "skills_dir"))
        }
        state.guarded_hashes = state.guarded_hashes | hashes
        state.cache_missing = False
        guarded_flow = canonical_flow(flow) if flow else None
        if not values_of(args):  # upstream's canonical guard reads the workflow and takes no values
            state.workflow_guarded = guarded_flow
        elif state.workflow_guarded != guarded_flow:
            state.workflow_guarded = None
    elif status == "cache_missing":
        state.cache_missing = True
        state.cache_setup_since = False
        state.workflow_guarded = None


def _record_cache(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    state.cache_setup_since = True


def _record_submit(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    run_id = data.get("run_id") or values_of(args).get("run_id")
    if state.workflow_guarded == canonical_flow(args.get("flow") or data.get("flow") or state.flow):
        state.workflow_guarded = None  # the value-less guard covered this submit and no other
    if run_id and run_id not in state.submitted_run_ids:
        state.submitted_run_ids = [*state.submitted_run_ids, str(run_id)]


def _record_demo(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    folder = data.get("demo_dir") or args.get("demo_dir")
    if folder:
        state._add_unique("demo_dirs", _norm_url(str(folder)))


def _record_upload(state: RunState, args: Mapping[str, Any], data: dict[str, Any], unknown: bool) -> None:
    url = data.get("dataset_url")
    if not url and args.get("storage_url") and (args.get("name") or args.get("dataset")):
        url = f"{_norm_url(str(args['storage_url']))}/datasets/{args.get('name') or args.get('dataset')}"
    if url:
        source = _source_folder(args)
        state.use_dataset(str(url), from_demo=bool(source and source in state.demo_dirs))


def _source_folder(args: Mapping[str, Any]) -> str | None:
    for key in ("folder", "local_dir", "path", "source", "directory"):
        if isinstance(args.get(key), str):
            return _norm_url(args[key])
    return None


RECORDERS: dict[str, Callable[[RunState, Mapping[str, Any], dict[str, Any], bool], None]] = {
    "select_flow": _record_select_flow,
    "preflight": _record_preflight,
    "pre_submit_guard": _record_guard,
    "setup_model_cache": _record_cache,
    "submit": _record_submit,
    "prepare_demo_assets": _record_demo,
    "upload_dataset": _record_upload,
}

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
    return {
        "cosmos_model_cache_url": f"{prefix}/data/models/cosmos_transfer",
        "auto_labeling_model_cache_url": f"{prefix}/data/models/auto_labeling",
    }


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


# --- the call judge ------------------------------------------------------------------------------------

_SECRET_REFERENCE = re.compile(r"^\$\{?[A-Za-z_][A-Za-z0-9_]*\}?$|^[A-Z][A-Z0-9_]*$")


def _strings(obj: Any, path: str = "") -> Iterable[tuple[str, str, str]]:
    """(path, key, value) for every string inside a JSON-like structure."""
    if isinstance(obj, str):
        yield path, path.rsplit(".", 1)[-1], obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from _strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, (list, tuple)):
        for index, value in enumerate(obj):
            yield from _strings(value, f"{path}[{index}]")


def _judge_secret_arguments(arguments: Mapping[str, Any]) -> list[Violation]:
    out = []
    for path, key, value in _strings(arguments):
        literal_secret = is_secret_name(key.split("[", 1)[0]) and value.strip() and not _SECRET_REFERENCE.match(value.strip())
        if looks_like_secret(value) or literal_secret:
            out.append(
                _violation(
                    "no-secret-echo",
                    f"Argument {path or '(value)'} carries a secret value; tool calls are logged and must not hold tokens.",
                    f"Pass the secret by variable name (e.g. {key or 'auth'}=$NGC_API_KEY) or let preflight set the credential.",
                )
            )
    return out


def _judge_set_string_shape(arguments: Mapping[str, Any]) -> list[Violation]:
    canonical = "Pass the values as one set_string list (or as typed fields), never a set list or extra flags."
    if arguments.get("set") is not None or arguments.get("set_values") is not None:
        return [_violation("single-set-string", "The submit carries a `set` list; values go in the single --set-string.", canonical)]
    raw = arguments.get("set_string")
    if isinstance(raw, (list, tuple)) and any(isinstance(item, (list, tuple)) for item in raw) and len(raw) > 1:
        return [_violation("single-set-string", "The submit carries several set_string lists; exactly one is allowed.", canonical)]
    for key in ("extra_args", "extra_flags", "flags", "args", "argv"):
        extra = arguments.get(key)
        items = extra.split() if isinstance(extra, str) else extra if isinstance(extra, (list, tuple)) else []
        if any(isinstance(item, str) and item.split("=", 1)[0] in ("--set", "--set-string") for item in items):
            return [_violation("single-set-string", f"The submit passes --set/--set-string flags in {key}; only the single set_string list may carry values.", canonical)]
    return []


def _judge_invented_urls(arguments: Mapping[str, Any], state: RunState) -> list[Violation]:
    out = []
    for path, _key, value in _strings(arguments):
        for url in _URL.findall(value):
            if not url.lower().startswith(("http://", "https://")) or url in state.user_inputs:
                continue
            repo = hf_dataset_repo(url)
            if repo:
                if repo != DEMO_REPO and not state.demo_allowed(repo):
                    out.append(_violation("vda-demo-only", f"Argument {path} pulls the dataset {repo}, not {DEMO_REPO}."))
            elif is_video_url(url):
                out.append(_violation("no-invented-video", f"Argument {path} downloads a video ({_show(url)}) the user did not give."))
    return out


def _mutation_rules(state: RunState, action: str) -> list[Violation]:
    if state.eta_given:
        return []
    return [_violation("eta-before-mutation", f"No execution-time overview was given before {action}.")]


def _judge_submit_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    values = values_of(args)
    flow = canonical_flow(args.get("flow") or state.flow)
    out = _judge_set_string_shape(args)
    out += judge_values(values, flow=flow, state=state, fresh=True)
    if not state.preflight_passed:
        out.append(_violation("preflight-before-submit", "No passing preflight precedes this submit in this run.", f"Call preflight(workflow='{flow}') and submit once it reports status ok."))
    if state.cache_missing and not state.cache_setup_since:
        storage = values.get("storage_url") or state.storage_url or "<prefix>"
        out.append(
            _violation(
                "cache-remediation",
                "The last guard reported a missing model cache and setup_model_cache has not run since.",
                f"Call setup_model_cache(storage_url='{storage}', path='data'), rerun pre_submit_guard, then submit.",
            )
        )
    if not state.guard_covers(values, flow):
        out.append(_violation("guard-before-submit", "No passing pre-submit guard was run for exactly these values.", f"Call pre_submit_guard(flow='{flow}', ...) with the same values, then submit."))
    out += _judge_gpu_platform(values.get("gpu_platform"), args.get("pool"), state)
    out += _mutation_rules(state, "this workflow submit")
    return out


def _judge_gpu_platform(platform: str | None, pool: Any, state: RunState) -> list[Violation]:
    known = sorted({p for platforms in state.online_pools.values() for p in platforms} | set(state.online_platforms))
    choices = f"one of: {', '.join(known)}" if known else "a platform from preflight's ONLINE pool list"
    remedy = f"Pass gpu_platform as {choices}."
    if not platform:
        return [_violation("gpu-platform-from-pool", "gpu_platform is missing; it must come from the live pool list.", remedy)]
    if not state.online_pools and not state.online_platforms:
        return [_violation("gpu-platform-from-pool", "No live pool list is known in this run, so gpu_platform cannot be verified.", "Run preflight and pass a platform its ONLINE pool list shows.")]
    if isinstance(pool, str) and pool:
        if pool not in state.online_pools:
            return [_violation("gpu-platform-from-pool", f"Pool {_show(pool)} is not ONLINE in the live pool list.", f"Use an ONLINE pool ({', '.join(state.online_pools) or 'run preflight'}).")]
        allowed = state.online_pools[pool]
        if platform not in allowed:
            return [_violation("gpu-platform-from-pool", f"gpu_platform {_show(platform)} is not a platform of ONLINE pool {pool}.", f"Pass gpu_platform as one of: {', '.join(allowed) or '(pool lists none)'}.")]
        return []
    if platform not in known:
        return [_violation("gpu-platform-from-pool", f"gpu_platform {_show(platform)} is not a platform the live pool list shows ONLINE.", remedy)]
    return []


def _judge_guard_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    out = _judge_set_string_shape(args)
    out += judge_values(values_of(args), flow=args.get("flow") or state.flow, state=state)
    return out


def _judge_cache_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    out = _judge_storage(values_of(args), state, None, required=True)
    if not state.preflight_passed:
        out.append(_violation("preflight-before-submit", "No passing preflight precedes this cache workflow submit.", "Call preflight first and continue once it reports status ok."))
    return out + _mutation_rules(state, "the cache workflow submit")


def _judge_demo_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    repo = str(args.get("repo") or args.get("repo_id") or DEMO_REPO).lower().removeprefix("datasets/")
    out = []
    if repo != DEMO_REPO and not state.demo_allowed(repo):
        out.append(_violation("vda-demo-only", f"prepare_demo_assets would pull {_show(repo)}, but the user did not ask for that dataset.", f"Call prepare_demo_assets with repo='{DEMO_REPO}' (the default)."))
    if not state.demo_allowed():
        out.append(_violation("no-demo-substitution", "The user named their own input; demo assets must not replace it.", _input_hint(state)))
    return out


def _judge_upload_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    out = []
    source = _source_folder(args)
    dataset = args.get("name") or args.get("dataset")
    if not state.demo_allowed() and ((source and source in state.demo_dirs) or dataset == DEMO_DATASET_NAME):
        out.append(_violation("no-demo-substitution", "The upload sends demo assets although the user named their own input.", _input_hint(state)))
    storage = args.get("storage_url")
    if isinstance(storage, str):
        out += _judge_storage({"storage_url": storage, "dataset": str(dataset or "")}, state, None, required=False)
    return out


def _judge_stage_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    values = values_of(args)
    return _judge_video(values, None) + _judge_storage(values, state, None, required=False)


def _judge_render_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    return _judge_video(values_of(args), None)


def _judge_preflight_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    return _mutation_rules(state, "preflight (it sets missing OSMO credentials)")


def _judge_nim_call(args: Mapping[str, Any], state: RunState) -> list[Violation]:
    out: list[Violation] = []
    services = args.get("services", args.get("nim_services"))
    if services is not None:
        named = services.split() if isinstance(services, str) else [str(s) for s in services] if isinstance(services, list) else [str(services)]
        if sorted(named) != sorted(NIM_SERVICES):
            out.append(
                _violation(
                    "nim-allow-list",
                    f"The NIM deploy names {len(named)} service(s) other than the VDA allow-list.",
                )
            )
    if any(args.get(key) for key in ("repair", "install", "deploy", "fix", "apply")):
        out += _mutation_rules(state, "a NIM install or repair")
    return out


CALL_JUDGES: dict[str, Callable[[Mapping[str, Any], RunState], list[Violation]]] = {
    "submit": _judge_submit_call,
    "pre_submit_guard": _judge_guard_call,
    "setup_model_cache": _judge_cache_call,
    "prepare_demo_assets": _judge_demo_call,
    "upload_dataset": _judge_upload_call,
    "stage_artifacts": _judge_stage_call,
    "render_side_by_side": _judge_render_call,
    "preflight": _judge_preflight_call,
    "nim_health": _judge_nim_call,
    "nim_ensure": _judge_nim_call,
}


def _dedupe(violations: Iterable[Violation]) -> list[Violation]:
    seen: set[tuple[str, str]] = set()
    out = []
    for violation in violations:
        key = (violation.rule, violation.message)
        if key not in seen:
            seen.add(key)
            out.append(violation)
    return out


def check(call: ToolCall, state: RunState | None = None) -> Decision:
    """Judge a call of one of our tools against what the conversation established.

    Every call is checked for secrets in its arguments and for downloads of videos or datasets the
    user did not give; each tool then has its own rules (submit carries the most: values, prerequisites,
    freshness). Unknown tool names get only the general checks.
    """
    state = state if state is not None else RunState()
    arguments = call.arguments if isinstance(call.arguments, Mapping) else {}
    violations = _judge_secret_arguments(arguments) + _judge_invented_urls(arguments, state)
    judge = CALL_JUDGES.get(call.name)
    if judge is not None:
        violations += judge(arguments, state)
    return Decision.of(_dedupe(violations))


def check_command(
    command: str | list[str],
    *,
    state: RunState | None = None,
    external_endpoints_allowed: bool = False,
    demo_override: bool = False,
) -> Decision:
    """Judge a raw shell command (a string as typed, or an argv list). Never raises.

    ``external_endpoints_allowed`` / ``demo_override`` record that the user explicitly asked for
    external endpoints / another demo dataset; ``state`` (optional) adds the conversation's facts
    (inputs the user named, the dataset in use, submitted run ids, whether an ETA was given).
    """
    from skill._policy_commands import judge_command  # the command judge builds on the value rules above

    violations = judge_command(
        command, state=state, external_endpoints_allowed=external_endpoints_allowed, demo_override=demo_override
    )
    return Decision.of(_dedupe(violations))

"""What the conversation established: :class:`RunState`, updated from the user's and the agent's words
(:meth:`RunState.note_user`, :meth:`RunState.note_assistant`) and from tool results through the
:data:`RECORDERS`; and :class:`ToolCall`, a call as the agent made it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from skill.demo_source import DEMO_REPO
from skill.policy.values import (
    _FILLED_BY_STEP,
    _as_dict,
    _norm_url,
    canonical_flow,
    hf_dataset_repo,
    is_video_url,
    values_hash,
    values_of,
)
from skill.storage import dataset_root, scheme_of, split_dataset_url

__all__ = ["RECORDERS", "RunState", "ToolCall", "interpolation_failed"]

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
        return [dataset_root(u) for u in self.user_inputs if scheme_of(u) and split_dataset_url(u)]

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

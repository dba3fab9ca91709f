"""The call judge: :func:`check` judges a call of one of our tools against the :class:`RunState`.

Every call is checked for secrets in its arguments and for downloads the user did not give; each
tool then has its judge in :data:`CALL_JUDGES` (submit carries the most: values, prerequisites,
freshness).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from skill.demo_source import DEMO_DATASET_NAME, DEMO_REPO
from skill.models import Decision, Violation
from skill.policy.rules import _dedupe, _violation
from skill.policy.state import _URL, RunState, ToolCall, _source_folder
from skill.policy.values import (
    NIM_SERVICES,
    _input_hint,
    _judge_storage,
    _judge_video,
    _show,
    canonical_flow,
    hf_dataset_repo,
    is_video_url,
    judge_values,
    values_of,
)
from skill.secrets import is_secret_name, looks_like_secret

__all__ = ["CALL_JUDGES", "check"]

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
    # a fanned-out run (max_in_flight) is advanced by submitting its run id again with the same
    # values; the submit step refuses other values under that id (run-id-format)
    out += judge_values(values, flow=flow, state=state, fresh=args.get("max_in_flight") in (None, ""))
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

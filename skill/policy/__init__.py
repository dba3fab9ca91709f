"""The non-negotiable rules of POLICY.md, as data, and the two judges that apply them.

* :data:`RULES` maps each rule id to a :class:`Rule` (id, text, what it is judged on, the generic
  remedy). The MCP server, the chat agent and the eval harness read the same catalogue.
* :func:`check` judges a call of one of our tools against the :class:`RunState` (what the
  conversation established: the user's inputs, which checks passed, what was submitted).
* :func:`check_command` judges a raw shell command (``osmo``, ``kubectl``, ``helm``, ``hf``,
  ``curl``...).

Both return :class:`skill.models.Decision`: allowed, or violations each carrying the rule id, one
sentence of why and the call or command to make instead. The package is pure: no I/O and no
environment reads (secret detection uses token shapes and values registered with
:func:`skill.secrets.register_secret`), so it is tested with plain tables.

Its modules, each importing only the ones listed before it (no circle):

* :mod:`skill.policy.shell`: splitting a command line into simple commands;
* :mod:`skill.policy.rules`: the catalogue as data;
* :mod:`skill.policy.values`: domain constants, submit values and the value rules both judges share
  (storage URLs are read by :mod:`skill.storage`);
* :mod:`skill.policy.state`: the run state and its recorders;
* :mod:`skill.policy.calls`: the call judge; :mod:`skill.policy.commands`: the command judge.

Callers import everything public from ``skill.policy``.
"""

from __future__ import annotations

from skill.demo_source import DEMO_DATASET_NAME, DEMO_REPO
from skill.policy.calls import CALL_JUDGES, check
from skill.policy.commands import check_command
from skill.policy.rules import RULES, JudgedOn, Rule
from skill.policy.state import RECORDERS, RunState, ToolCall, interpolation_failed
from skill.policy.values import (
    AUGMENTING_FLOWS,
    CACHE_WORKFLOW,
    DEFAULT_FLOW,
    NIM_NAMESPACES,
    NIM_SERVICES,
    VIDEO_EXTENSIONS,
    cache_urls_for,
    canonical_flow,
    hf_dataset_repo,
    is_external_endpoint,
    is_video_url,
    judge_values,
    required_cache_keys,
    values_hash,
    values_of,
    video_stem,
)
from skill.storage import dataset_root, split_dataset_url, storage_root

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

for _name in __all__:  # show the public names where callers import them from (as httpx does)
    _obj = globals()[_name]
    if getattr(_obj, "__module__", "").startswith("skill.policy."):
        _obj.__module__ = "skill.policy"
del _name, _obj

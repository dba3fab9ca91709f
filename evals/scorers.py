"""Judgements that only a transcript can support: what the agent said, and when.

Call and command rules belong to :mod:`skill.policy`; this module holds the text classifiers the
replay uses for the transcript-only rules of POLICY.md (``ask-only-when-blocked``,
``no-approval-pause``, ``media-line-format``, ``evidence-complete``, ``no-secret-echo`` on text,
``no-key-prefix-rejection``) and the evidence detector. They are heuristics over English text,
written to be conservative: each pattern names the phrasing it catches, and the tests show each
one firing and not firing.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Iterable, Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict

from skill.policy import DEMO_REPO, interpolation_failed
from skill.secrets import known_secret_values, token_shaped

__all__ = [
    "Evidence",
    "approval_pause",
    "asks_user",
    "blocker_in",
    "claims_prefix_rejection",
    "evidence_of",
    "forbidden_topic",
    "interpolation_failure",
    "media_problem",
    "mentions_media",
    "sampled_vars_in",
    "secret_shown",
    "told_to_stop",
]

# --- questions and pauses ------------------------------------------------------------------------

_ASKS = re.compile(
    r"\bplease confirm\b|\b(?:can|could) you (?:confirm|tell me|provide|share|choose|pick)\b"
    r"|\bneed your (?:approval|confirmation|go-ahead|ok|input)\b|\b(?:awaiting|waiting for) your\b"
    r"|\bshall I\b|\bshould I\b|\bdo you want\b|\bwould you (?:like|prefer)\b|\bwant me to\b"
    r"|\blet me know\b|\bready when you are\b|\bgive me the go-ahead\b"
    r"|\bready to \w+(?: \w+)? when(?:ever)? you(?:'re| are)(?: ready)?\b|\bwhen(?:ever)? you(?:'re| are) ready\b",
    re.IGNORECASE,
)
_PAUSE = re.compile(
    r"\bshall I\b|\bshould I (?:proceed|continue|go ahead|start|submit|run|launch|kick)"
    r"|\bready when you are\b|\blet me know\b"
    r"|\b(?:awaiting|waiting for) your (?:go-ahead|approval|confirmation|ok|answer|reply|signal)"
    r"|\b(?:want|like) me to (?:proceed|continue|go ahead|start|submit|run|launch)"
    r"|\bneed your (?:approval|confirmation|go-ahead|ok)\b|\bplease confirm\b|\bgive me the go-ahead\b"
    r"|\bsay (?:go|the word)\b|\bonce you (?:confirm|approve|say)\b"
    r"|\bready to \w+(?: \w+)? when(?:ever)? you(?:'re| are)(?: ready)?\b|\bwhen(?:ever)? you(?:'re| are) ready\b",
    re.IGNORECASE,
)
_TOPICS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("the cookbook", re.compile(r"\bcookbooks?\b|\bwhich scene\b|\bscene profile\b", re.IGNORECASE)),
    ("the cache strategy", re.compile(r"\bcach(?:e|es|ing)\b", re.IGNORECASE)),
    (
        "external endpoints",
        re.compile(
            r"\bexternal\b[^.?!\n]{0,40}\b(?:endpoints?|apis?|vlm|llm|urls?)\b|\bhosted (?:vlm|llm|apis?|endpoints?)\b"
            r"|build\.nvidia\.com|integrate\.api\.nvidia\.com",
            re.IGNORECASE,
        ),
    ),
    (
        "scaling NIMs",
        re.compile(
            r"\b(?:scale|scaling|delete|deleting|uninstall\w*|stop|stopping)\b[^.?!\n]{0,40}\bnims?\b"
            r"|\bnims?\b[^.?!\n]{0,40}\b(?:scale|scaling|delete|deleting|uninstall\w*|down|free (?:up )?(?:a |the )?gpus?)\b",
            re.IGNORECASE,
        ),
    ),
)
_STOP = re.compile(
    r"\b(?:stop|pause|hold on|hold off|wait for me|check with me|ask me (?:first|before)|before you (?:submit|run|start))\b"
    r"|\b(?:don'?t|do not) (?:submit|start|run|launch|continue|proceed)\b",
    re.IGNORECASE,
)


def _ends_with_question(text: str) -> bool:
    return any(line.rstrip(" \t\"')*_`").endswith("?") for line in text.splitlines())


def asks_user(text: str) -> bool:
    """The message asks the user something: a line ends with '?', or it asks for approval or confirmation."""
    return _ends_with_question(text) or bool(_ASKS.search(text))


def approval_pause(text: str) -> bool:
    """The message waits for the user's go-ahead ("shall I proceed", "ready when you are", "let me know")."""
    return bool(_PAUSE.search(text))


def forbidden_topic(text: str) -> str | None:
    """What a question is about, when it is a topic the agent must never ask about; else None."""
    for name, pattern in _TOPICS:
        if pattern.search(text):
            return name
    return None


def told_to_stop(text: str) -> bool:
    """The user asked the agent to stop, pause or check back before going on."""
    return bool(_STOP.search(text))


# --- what tool output says --------------------------------------------------------------------------

_PREFIX_UNDERIVABLE = re.compile(
    r"storage (?:prefix|url|root)[^.\n]{0,60}(?:cannot|can ?not|could not|couldn'?t) be (?:derived|determined)"
    r"|underivable|no storage prefix",
    re.IGNORECASE,
)
_NO_POOL = re.compile(r"\bno (?:selectable |usable |schedulable )?online (?:gpu )?(?:pools?|platforms?)\b|\bno pool is online\b", re.IGNORECASE)


def blocker_in(text: str, data: Mapping[str, Any] | None = None) -> str | None:
    """Why a tool or shell result blocks the run on the user, or None: a USER_INPUT_REQUIRED secret,
    a storage prefix that cannot be derived, or no ONLINE pool."""
    data = data or {}
    error = data.get("error") if isinstance(data.get("error"), Mapping) else {}
    codes = {str(data.get("code") or ""), str(error.get("code") or "")}
    if "USER_INPUT_REQUIRED" in text or data.get("status") == "user_input_required" or "user-input-required" in codes:
        return "user input required"
    if _PREFIX_UNDERIVABLE.search(text):
        return "storage prefix cannot be derived"
    if _NO_POOL.search(text) or (data.get("status") == "failed" and data.get("pools") == [] and "pools" in data):
        return "no ONLINE pool"
    return None


def interpolation_failure(text: str) -> bool:
    """A submit failed on OSMO's Jinja substitution (the policy's own test of it)."""
    return interpolation_failed(text)


# --- key prefixes --------------------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+|\n+")
_NVAPI = re.compile(r"nvapi", re.IGNORECASE)
_PREFIX_CAUSE = re.compile(
    r"\bprefix\w*\b|\bstarts? with\b|\bbegins? with\b|\bstarting with\b"
    r"|nvapi-?\*?\s*(?:keys?|tokens?)\s+(?:are|is|aren'?t|isn'?t|can'?t|cannot|won'?t|don'?t|do not)\b",
    re.IGNORECASE,
)
_REJECTION = re.compile(
    r"\bunsupported\b|\bnot (?:supported|valid|accepted|usable|an? (?:real |valid )?ngc)\b|\bisn'?t (?:supported|valid|accepted)\b"
    r"|\baren'?t (?:supported|valid|accepted)\b|\binvalid\b|\b(?:won'?t|will not|doesn'?t|does not|can'?t|cannot) (?:work|be used)\b"
    r"|\b(?:doesn'?t|does not|don'?t|do not) (?:support|accept)\b|\breject\w*\b|\bskip\w*\b|\bignor\w*\b|\bwrong (?:kind|type|format)\b",
    re.IGNORECASE,
)
_NEGATED_REJECTION = re.compile(
    r"\b(?:never|not|don'?t|do not|won'?t|will not|no need to)\s+(?:be\s+)?(?:reject\w*|skip\w*|ignor\w*)\b"
    r"|\bis (?:fine|supported|first-class|valid)\b|\bprobes? decides?\b",
    re.IGNORECASE,
)


def claims_prefix_rejection(text: str) -> bool:
    """A sentence rejects or skips an ``nvapi-`` key because of its prefix (not because a probe failed)."""
    for sentence in _SENTENCE.split(text):
        if _NVAPI.search(sentence) and _PREFIX_CAUSE.search(sentence) and _REJECTION.search(sentence):
            if not _NEGATED_REJECTION.search(sentence):
                return True
    return False


# --- MEDIA lines -----------------------------------------------------------------------------------------

_MEDIA = re.compile(r"MEDIA:")


def mentions_media(text: str) -> bool:
    return bool(_MEDIA.search(text))


def media_problem(text: str, workspace: str | None) -> str | None:
    """What is wrong with a message carrying ``MEDIA:``, or None when it is exactly ``MEDIA:/abs/path``
    (inside ``<workspace>/media/vda/runs/`` when the workspace is known)."""
    count = len(_MEDIA.findall(text))
    if count == 0:
        return None
    if count > 1:
        return f"the message carries {count} MEDIA lines; send one per message"
    stripped = text.strip()
    if "\n" in stripped or not stripped.startswith("MEDIA:"):
        return "the MEDIA line is not alone in its message (extra text, fences or quotes around it)"
    path = stripped[len("MEDIA:") :]
    if not path or path[0].isspace():
        return "the MEDIA line must be MEDIA:/absolute/path with no space after the colon"
    if any(ch in path for ch in "`'\"<>"):
        return "the MEDIA path is wrapped in quotes or fences"
    if not path.startswith("/"):
        return "the MEDIA path is not absolute"
    if re.search(r"\s", path):
        return "the MEDIA line carries more than the path"
    if workspace:
        runs = posixpath.join(posixpath.normpath(workspace), "media", "vda", "runs") + "/"
        if not posixpath.normpath(path).startswith(runs):
            return "the MEDIA path is outside the local run folder <workspace>/media/vda/runs/"
    return None


# --- secrets ---------------------------------------------------------------------------------------------


def secret_shown(text: str, known_values: Iterable[str] = (), *, environment: Iterable[str] | None = None) -> bool:
    """True when ``text`` holds a token-shaped value or one of ``known_values``, or a value
    :func:`skill.secrets.redact` would replace (``environment``: that list taken once by the caller,
    :func:`skill.secrets.known_secret_values`; read afresh when not given)."""
    if not text:
        return False
    if token_shaped(text) or any(value and value in text for value in known_values):
        return True
    values = known_secret_values() if environment is None else environment
    return any(value in text for value in values)


# --- evidence ----------------------------------------------------------------------------------------------

_LABEL_WORD = re.compile(
    r"\b(?:labels?|labell?ed|labell?ing|auto-?label\w*|pseudo-?label\w*|tracks?|tracked|mcq|bcq|open[_ ]qa|detections?|objects?)\b",
    re.IGNORECASE,
)
_AUG_WORD = re.compile(r"\baugment\w*|_aug\d+\b|\baug\d+\b", re.IGNORECASE)
_ORIGINAL_WORD = re.compile(r"\boriginals?\b|\bsource (?:clip|video)s?\b|\binput (?:clip|video)s?\b|\bunaugmented\b", re.IGNORECASE)
_SAMPLED_WORD = re.compile(r"\bsampled[ _-]?vars?\b|\bsampled (?:variables|values|parameters|settings|conditions)\b", re.IGNORECASE)
_PART_SPLIT = re.compile(r"(?<=[.!?;])\s+|\n+")


class Evidence(BaseModel):
    """Which parts of the ``evidence-complete`` contract the final messages carried.
    None means the part is not required for this run (original labels: e2e flows only; demo
    statement: demo input only)."""

    model_config = ConfigDict(extra="forbid")
    side_by_side_media: bool = False
    sampled_vars_summary: bool = False
    augmented_label_summary: bool = False
    original_label_summary: bool | None = None
    demo_source_statement: bool | None = None

    def missing(self) -> list[str]:
        return [name for name, present in self.model_dump().items() if present is False]


def _words(text: str) -> str:
    """Lower-case text with ``_``/``-`` read as spaces and runs of space squeezed, padded with spaces."""
    return " " + re.sub(r"[\s_\-]+", " ", re.sub(r"[^\w\s\-.]", " ", text.lower())) + " "


def _said(value: str, words: str) -> bool:
    needle = _words(value).strip()
    return bool(needle) and f" {needle} " in words or f" {needle}. " in words


def _mentions_sampled_values(text: str, sampled: Mapping[str, Any]) -> bool:
    """At least half of the values the run sampled appear in the text as words (``weather=rain``,
    "came out rainy at dusk" does not count, "rain at dusk" does). A value that is a number or a
    yes/no also needs its variable's name, since such a word says nothing alone."""
    pairs = [(str(k), str(v)) for k, v in sampled.items() if not isinstance(v, (Mapping, list)) and str(v).strip()]
    if not pairs:
        return False
    words = _words(text)
    hits = 0
    for key, value in pairs:
        plain = re.fullmatch(r"-?[\d.]+|true|false|yes|no|none|null", value.strip().lower())
        if _said(value, words) and (not plain or _said(key, words)):
            hits += 1
    return hits >= max(1, math.ceil(len(pairs) / 2))


_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when built with it: a manifest in ~0.5 ms, not ~9
_LINE_NUMBER = re.compile(r"^[ \t]*\d+(?:→|\t)", re.MULTILINE)


def sampled_vars_in(text: str, data: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """``<video>_aug<i>`` -> sampled variables, from a result: a staging result (``sampled_vars``
    per clip, or flat), or a ``manifest.yaml`` the agent printed or read (``configs`` entries with
    ``video_name``, ``aug_idx``, ``sampled_vars``; a Read tool's line numbers are dropped)."""
    found: dict[str, dict[str, Any]] = {}
    if isinstance(data, Mapping):
        found.update(_from_mapping(data))
    if not found and "sampled_vars" in text:
        try:
            parsed = yaml.load(_LINE_NUMBER.sub("", text), Loader=_YAML_LOADER)  # noqa: S506 - a safe loader
        except yaml.YAMLError:
            parsed = None
        if isinstance(parsed, Mapping):
            found.update(_from_mapping(parsed))
    return found


def _from_mapping(data: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    sampled = data.get("sampled_vars")
    if isinstance(sampled, Mapping) and sampled:
        if all(isinstance(v, Mapping) for v in sampled.values()):
            out.update({str(k): dict(v) for k, v in sampled.items()})
        else:
            out[""] = dict(sampled)
    configs = data.get("configs")
    if isinstance(configs, list):
        for entry in configs:
            if isinstance(entry, Mapping) and isinstance(entry.get("sampled_vars"), Mapping):
                name = entry.get("video_name") or posixpath.splitext(posixpath.basename(str(entry.get("video") or "")))[0]
                out[f"{name}_aug{entry.get('aug_idx', 0)}"] = dict(entry["sampled_vars"])
    return out


def evidence_of(
    messages: Iterable[str],
    *,
    sampled_vars: Mapping[str, Any] | None = None,
    e2e: bool = False,
    demo: bool = False,
) -> Evidence:
    """Find the evidence parts in assistant messages. ``sampled_vars`` are the variables staging
    reported or the manifest held for the augmented clip: when they are known, the summary is
    recognised by those values said in any words (and a summary naming other values is not one);
    when the run never showed them, by a sentence about the sampled variables."""
    found = Evidence(original_label_summary=False if e2e else None, demo_source_statement=False if demo else None)
    for text in messages:
        if mentions_media(text):
            found.side_by_side_media = True
            continue
        if _mentions_sampled_values(text, sampled_vars) if sampled_vars else _SAMPLED_WORD.search(text):
            found.sampled_vars_summary = True
        for part in _PART_SPLIT.split(text):
            if not _LABEL_WORD.search(part):
                continue
            if _AUG_WORD.search(part):
                found.augmented_label_summary = True
            if e2e and _ORIGINAL_WORD.search(part):
                found.original_label_summary = True
        if demo and DEMO_REPO in text.lower():
            found.demo_source_statement = True
    return found

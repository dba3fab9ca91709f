"""The flow catalogue, the time estimates, and routing a request in plain words to a flow.

Four flows and one helper workflow, as upstream's skill defines them (its flow selection table):

    auto_labeling          setup -> pl_original                           label the source videos only
    augmentation_and_al    setup -> cosmos -> pl_augmented                augment, label the augmented (default)
    e2e                    setup -> {pl_original || cosmos -> pl_augmented}   both label sets, in parallel
    e2e_super_resolution   setup -> pl_original (SR on) -> cosmos -> pl_augmented   gated on SR, serial
    setup_model_cache      download_cosmos_cache || download_auto_labeling_cache

``augmentation_and_pl`` is the legacy name of ``augmentation_and_al``.

:func:`route` is a small scorer. Each signal is a regex with weights on *features* (augment, labels
of originals, labels of augmented clips, super-resolution, parallel speed), on flows directly (a flow
named in the text), on ``run`` (this asks for work) and on ``ask`` (a question, or another task).
A signal preceded in its clause by "no", "without", "don't"... counts negated: its feature and flow
weights flip and its ``run`` weight is dropped. A flow's score is the dot product of the evidence with
the flow's own feature profile (read from the catalogue) plus a prior; explicit arguments win over text.

Size: the catalogue, its estimates and the routing read the same flow facts; splitting them would
spread one table over three modules.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, computed_field, model_validator

from skill.errors import InputError, NotFound
from skill.models import ALIASES, FLOWS
from skill.paths import expand_user, skill_root, within_trusted_roots, workflow_path

__all__ = [
    "CACHE_WORKFLOW",
    "DEFAULT_FLOW",
    "Eta",
    "FlowChoice",
    "FlowGraph",
    "FlowInfo",
    "MinuteRange",
    "Phase",
    "canonical_name",
    "catalogue",
    "eta",
    "get_flow",
    "resolve_workflow",
    "route",
]

DEFAULT_FLOW = "augmentation_and_al"
CACHE_WORKFLOW = "setup_model_cache"
BackendName = Literal["osmo", "local"]

# --- models -----------------------------------------------------------------------------------


class MinuteRange(BaseModel):
    model_config = ConfigDict(frozen=True)
    min_minutes: float = Field(ge=0)
    max_minutes: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> MinuteRange:
        if self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes must not be below min_minutes")
        return self

    def words(self) -> str:
        """``20-35 min``."""
        return f"{_num(self.min_minutes)}-{_num(self.max_minutes)} min"


class Phase(MinuteRange):
    """One step around the workflow itself; ``applies`` says on which kind of start it is paid."""

    name: str
    applies: Literal["cold", "warm", "always"]


class Eta(BaseModel):
    """Execution-time overview for one flow on one backend (give it before the first mutation)."""

    model_config = ConfigDict(frozen=True)
    flow: str
    backend: BackendName
    phases: list[Phase]
    flow_minutes: MinuteRange = Field(description="The workflow's own runtime.")
    minutes_per_clip_second: MinuteRange | None = Field(default=None, description="Local backend only: CPU minutes per second of clip.")
    clip_seconds: float | None = Field(default=None, description="Local backend only: the clip length the estimate assumes.")
    basis: str | None = Field(default=None, description="What the flow minutes rest on when they come from the real inputs.")

    def _total(self, kinds: tuple[str, ...]) -> MinuteRange:
        chosen = [p for p in self.phases if p.applies in kinds]
        return MinuteRange(
            min_minutes=self.flow_minutes.min_minutes + sum(p.min_minutes for p in chosen),
            max_minutes=self.flow_minutes.max_minutes + sum(p.max_minutes for p in chosen),
        )

    @computed_field  # type: ignore[prop-decorator]
    @property
    def cold_total(self) -> MinuteRange:
        """First run: every phase (NIMs, cache, data) plus the flow."""
        return self._total(("cold", "always"))

    @computed_field  # type: ignore[prop-decorator]
    @property
    def warm_total(self) -> MinuteRange:
        """Everything already in place: checks, submit and the flow."""
        return self._total(("warm", "always"))

    def text(self) -> str:
        """A one-paragraph overview for the user."""
        where = "OSMO" if self.backend == "osmo" else "the local CPU backend"
        flow_part = f"the workflow itself takes ~{self.flow_minutes.words()}"
        if self.minutes_per_clip_second is not None and self.clip_seconds is not None:
            rate = self.minutes_per_clip_second
            flow_part += (
                f" (about {_num(rate.min_minutes)}-{_num(rate.max_minutes)} min of CPU time per second of clip,"
                f" here for a {_num(self.clip_seconds)} s clip)"
            )
        always = ", ".join(f"{p.name} ~{p.words()}" for p in self.phases if p.applies in ("always", "warm"))
        cold = ", ".join(f"{p.name} ~{p.words()}" for p in self.phases if p.applies == "cold")
        parts = [f"Estimated time for {self.flow} on {where}: {flow_part}."]
        parts.append(f"Cold start ({cold}; plus {always}): about {self.cold_total.words()} in total." if cold
                     else f"Cold start: about {self.cold_total.words()} in total ({always}).")
        parts.append(f"Warm start (everything already in place; {always}): about {self.warm_total.words()}.")
        if self.backend == "osmo":
            parts.append("Upstream's measured baseline on MicroK8s + OSMO is ~45-80 min cold and ~20-45 min warm end to end.")
        if self.basis:
            parts.append(f"The workflow time is {self.basis}.")
        parts.append("These are estimates, not measurements of this run.")
        return " ".join(parts)


class FlowGraph(BaseModel):
    """Groups in submit order, what each waits for, and which groups can run at the same time."""

    model_config = ConfigDict(frozen=True)
    groups: list[str]
    depends_on: dict[str, list[str]] = Field(default_factory=dict, description="Group -> groups whose tasks it takes as inputs.")
    dag: str = Field(description="Task graph in short, e.g. setup -> cosmos_worker -> pl_augmented_worker.")

    def _ancestors(self, group: str) -> set[str]:
        seen: set[str] = set()
        todo = list(self.depends_on.get(group, []))
        while todo:
            g = todo.pop()
            if g not in seen:
                seen.add(g)
                todo.extend(self.depends_on.get(g, []))
        return seen

    @computed_field  # type: ignore[prop-decorator]
    @property
    def parallel(self) -> list[list[str]]:
        """Pairs of groups neither of which waits (even indirectly) for the other."""
        pairs = []
        for i, a in enumerate(self.groups):
            for b in self.groups[i + 1:]:
                if a not in self._ancestors(b) and b not in self._ancestors(a):
                    pairs.append([a, b])
        return pairs


class FlowInfo(BaseModel):
    """One entry of the catalogue."""

    model_config = ConfigDict(frozen=True)
    name: str
    kind: Literal["flow", "cache"]
    summary: str
    aliases: list[str] = Field(default_factory=list)
    graph: FlowGraph
    augments: bool
    labels_original: bool
    labels_augmented: bool
    super_resolution: bool
    cache_vars: list[str] = Field(description="Cache URL variables the submit must pass explicitly (rule explicit-cache-urls).")
    eta: Eta = Field(description="The OSMO estimate; see eta(name, backend='local') for this machine.")

    @computed_field  # type: ignore[prop-decorator]
    @property
    def workflow(self) -> str:
        """Absolute path of the workflow YAML."""
        return str(workflow_path(self.name))


class FlowChoice(BaseModel):
    """What :func:`route` decided. ``flow`` and ``workflow`` are None when this is not a run request."""

    model_config = ConfigDict(frozen=True)
    flow: str | None
    workflow: str | None = Field(description="Absolute path of the workflow YAML, or None.")
    reason: str
    eta: Eta | None
    is_run_request: bool
    conditions: str | None = Field(
        default=None,
        description="The looks the request names, as the conditions value for pre_submit_guard and submit (city_traffic's variables), e.g. weather:rain.",
    )


def _num(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


# --- estimates (upstream's ETA overview table) ------------------------------------------------------

_OSMO_FLOW_MINUTES: dict[str, tuple[float, float]] = {
    "auto_labeling": (6, 15),
    "augmentation_and_al": (20, 35),
    "e2e": (22, 40),
    "e2e_super_resolution": (25, 45),
    CACHE_WORKFLOW: (15, 25),
}
_OSMO_PREFLIGHT = ("credentials + preflight", 1, 2, "always")
_OSMO_SUBMIT = ("submit + queue", 1, 3, "always")
_OSMO_COLD = (
    ("NIM deploy/download/warm-up", 10, 15, "cold"),
    ("demo download/upload", 1, 3, "cold"),
    ("model cache population", 15, 25, "cold"),
)
# The local backend: CPU engines, local disk, no NIMs, no model cache. The rates are estimates for a
# small CPU (2-4 cores), not measurements; benchmarks/ holds the measured figures.
_LOCAL_RATE: dict[str, tuple[float, float]] = {
    "auto_labeling": (0.1, 0.3),
    "augmentation_and_al": (0.2, 0.6),
    "e2e": (0.3, 0.9),
    "e2e_super_resolution": (0.5, 1.5),
}
_LOCAL_DEFAULT_CLIP_SECONDS = 10.0
_LOCAL_PHASES = (("checks (preflight + guard)", 0, 1, "always"), ("demo download", 0, 2, "cold"))


def _phase(spec: tuple) -> Phase:
    name, low, high, applies = spec
    return Phase(name=name, min_minutes=low, max_minutes=high, applies=applies)


def eta(flow: str, *, backend: BackendName = "osmo", clip_seconds: float | None = None) -> Eta:
    """The estimate for ``flow`` (a name or alias) on ``backend``; ``clip_seconds`` scales the local one."""
    name = canonical_name(flow)
    if backend == "osmo":
        cold = _OSMO_COLD if name != CACHE_WORKFLOW else ()  # the cache workflow *is* the cache phase, no NIMs
        phases = [_phase(_OSMO_PREFLIGHT), *map(_phase, cold), _phase(_OSMO_SUBMIT)]
        low, high = _OSMO_FLOW_MINUTES[name]
        return Eta(flow=name, backend=backend, phases=phases, flow_minutes=MinuteRange(min_minutes=low, max_minutes=high))
    if backend != "local":
        raise InputError("The backend must be osmo or local.", remedy="Pass backend='osmo' or backend='local'.", code="unknown-backend")
    phases = [_phase(p) for p in _LOCAL_PHASES]
    if name == CACHE_WORKFLOW:  # CPU engines need no model cache: the local run only writes a marker
        return Eta(flow=name, backend=backend, phases=phases[:1], flow_minutes=MinuteRange(min_minutes=0, max_minutes=1))
    seconds = _LOCAL_DEFAULT_CLIP_SECONDS if clip_seconds is None else clip_seconds
    if not seconds > 0:
        raise InputError("The clip length must be a positive number of seconds.", remedy="Pass clip_seconds > 0, e.g. 6.", code="invalid-input")
    low, high = _LOCAL_RATE[name]
    return Eta(
        flow=name,
        backend=backend,
        phases=phases,
        flow_minutes=MinuteRange(min_minutes=round(low * seconds, 1), max_minutes=round(high * seconds, 1)),
        minutes_per_clip_second=MinuteRange(min_minutes=low, max_minutes=high),
        clip_seconds=seconds,
    )


# --- the catalogue ------------------------------------------------------------------------------

_SETUP = "setup_group"
_CACHE_TASKS = ("download_cosmos_cache", "download_auto_labeling_cache")
_BOTH_CACHES = ["cosmos_model_cache_url", "auto_labeling_model_cache_url"]


def _build_catalogue() -> dict[str, FlowInfo]:
    flows = [
        FlowInfo(
            name="auto_labeling", kind="flow",
            summary="Auto-label the source videos as they are: no augmentation.",
            graph=FlowGraph(groups=[_SETUP, "auto_labeling_group"], depends_on={"auto_labeling_group": [_SETUP]},
                            dag="setup -> pl_original_worker"),
            augments=False, labels_original=True, labels_augmented=False, super_resolution=False,
            cache_vars=["auto_labeling_model_cache_url"], eta=eta("auto_labeling"),
        ),
        FlowInfo(
            name="augmentation_and_al", kind="flow", aliases=[k for k, v in ALIASES.items() if v == "augmentation_and_al"],
            summary="Re-render each video under sampled weather and lighting, then auto-label the augmented clips (the default flow).",
            graph=FlowGraph(
                groups=[_SETUP, "augmentation_group", "auto_labeling_augmented_group"],
                depends_on={"augmentation_group": [_SETUP], "auto_labeling_augmented_group": [_SETUP, "augmentation_group"]},
                dag="setup -> cosmos_worker -> pl_augmented_worker",
            ),
            augments=True, labels_original=False, labels_augmented=True, super_resolution=False,
            cache_vars=list(_BOTH_CACHES), eta=eta("augmentation_and_al"),
        ),
        FlowInfo(
            name="e2e", kind="flow",
            summary="Full pipeline: label the originals while augmenting, then label the augmented clips; the two branches run in parallel.",
            graph=FlowGraph(
                groups=[_SETUP, "auto_labeling_original_group", "augmentation_group", "auto_labeling_augmented_group"],
                depends_on={
                    "auto_labeling_original_group": [_SETUP],
                    "augmentation_group": [_SETUP],
                    "auto_labeling_augmented_group": [_SETUP, "augmentation_group"],
                },
                dag="setup -> {pl_original_worker || cosmos_worker -> pl_augmented_worker}",
            ),
            augments=True, labels_original=True, labels_augmented=True, super_resolution=False,
            cache_vars=list(_BOTH_CACHES), eta=eta("e2e"),
        ),
        FlowInfo(
            name="e2e_super_resolution", kind="flow",
            summary="Full pipeline gated on super-resolution: label the SR-enhanced originals first, then augment, then label the augmented clips; serial.",
            graph=FlowGraph(
                groups=[_SETUP, "auto_labeling_original_group", "augmentation_group", "auto_labeling_augmented_group"],
                depends_on={
                    "auto_labeling_original_group": [_SETUP],
                    "augmentation_group": [_SETUP, "auto_labeling_original_group"],
                    "auto_labeling_augmented_group": [_SETUP, "augmentation_group"],
                },
                dag="setup -> pl_original_worker (SR on) -> cosmos_worker -> pl_augmented_worker",
            ),
            augments=True, labels_original=True, labels_augmented=True, super_resolution=True,
            cache_vars=list(_BOTH_CACHES), eta=eta("e2e_super_resolution"),
        ),
        FlowInfo(
            name=CACHE_WORKFLOW, kind="cache",
            summary="Fill the model caches under <storage_url>/data/models/ (Cosmos weights, auto-labeling models); run it when the guard reports a missing cache.",
            graph=FlowGraph(groups=[f"{t}-group" for t in _CACHE_TASKS], dag=" || ".join(_CACHE_TASKS)),
            augments=False, labels_original=False, labels_augmented=False, super_resolution=False,
            cache_vars=[], eta=eta(CACHE_WORKFLOW),
        ),
    ]
    return {info.name: info for info in flows}


_EXTRA_NAMES = {"e2e_sr": "e2e_super_resolution"}
_KNOWN = (*FLOWS, CACHE_WORKFLOW)


def canonical_name(name: str) -> str:
    """``augmentation_and_pl`` -> ``augmentation_and_al``; case, ``-`` and a ``.yaml`` suffix are forgiven."""
    key = re.sub(r"\.ya?ml$", "", str(name).strip().lower()).replace("-", "_").replace(" ", "_")
    key = ALIASES.get(key, _EXTRA_NAMES.get(key, key))
    if key in _KNOWN:
        return key
    choices = [*_KNOWN, *ALIASES, *_EXTRA_NAMES]
    close = difflib.get_close_matches(key, choices, n=2, cutoff=0.5)
    hint = f"Did you mean {' or '.join(close)}? " if close else ""
    raise InputError(
        f"'{str(name)[:60]}' is not a flow or workflow of this skill.",
        remedy=f"{hint}Known: {', '.join(_KNOWN)} (legacy alias augmentation_and_pl); or pass a path to a workflow .yaml.",
        code="unknown-flow",
    )


_CATALOGUE = _build_catalogue()


def catalogue() -> list[FlowInfo]:
    """Every flow, then the cache workflow."""
    return list(_CATALOGUE.values())


def get_flow(name: str) -> FlowInfo:
    return _CATALOGUE[canonical_name(name)]


def resolve_workflow(name_or_path: str) -> Path:
    """The workflow YAML for a flow name, alias, ``setup_model_cache``, or an existing ``.yaml`` path."""
    text = str(name_or_path).strip()
    looks_like_path = "/" in text or text.lower().endswith((".yaml", ".yml"))
    if looks_like_path:
        given = expand_user(text)
        # upstream's canonical form is relative to the skill (assets/configs/osmo/<flow>.yaml)
        path = given if given.is_absolute() or given.is_file() else skill_root() / given
        if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
            if not within_trusted_roots(path):  # a workflow stages and runs what it names: only trusted checkouts
                raise InputError(
                    "The workflow YAML lies outside this skill installation.",
                    remedy="Pass a flow name such as augmentation_and_al, or a workflow under assets/configs/osmo/ of this skill "
                           "(an operator can allow another checkout in VDA_TRUSTED_SKILLS_DIRS).",
                    code="workflow-untrusted",
                )
            return path.resolve()
        if "/" in text:
            raise NotFound(
                "No workflow .yaml file exists at the given path.",
                remedy="Pass an existing workflow YAML, or a flow name such as augmentation_and_al.",
                code="workflow-not-found",
            )
    path = workflow_path(canonical_name(text))
    if not path.is_file():
        raise NotFound(
            f"The workflow file {path.name} is missing from this install.",
            remedy="Reinstall the skill, or point VDA_SKILL_DIR at a checkout that has assets/configs/osmo/.",
            code="workflow-not-found",
        )
    return path


# --- routing -------------------------------------------------------------------------------------

_FEATURES = ("augment", "labels_original", "labels_augmented", "super_resolution", "parallel")
# Priors: augmentation_and_al is the default; super-resolution is opt-in.
_PRIOR: dict[str, float] = {"augmentation_and_al": 0.5, "e2e_super_resolution": -1.0}
_TIE_ORDER = ("augmentation_and_al", "e2e", "auto_labeling", "e2e_super_resolution")


def _profile(info: FlowInfo) -> dict[str, float]:
    """+1 where the flow has the feature, -1 where it lacks it. A single worker stage has nothing to
    run in parallel, so words about speed neither help nor hurt it (0)."""
    sign = {True: 1.0, False: -1.0}
    single_stage = len(info.graph.groups) <= 2
    return {
        "augment": sign[info.augments],
        "labels_original": sign[info.labels_original],
        "labels_augmented": sign[info.labels_augmented],
        "super_resolution": sign[info.super_resolution],
        "parallel": 0.0 if single_stage else sign[bool(info.graph.parallel)],
    }


_PROFILES = {name: _profile(_CATALOGUE[name]) for name in FLOWS}


@dataclass(frozen=True)
class _Signal:
    pattern: re.Pattern[str]
    weights: Mapping[str, float]
    negatable: bool = True
    alias: bool = False


def _sig(pattern: str, negatable: bool = True, alias: bool = False, **weights: float) -> _Signal:
    return _Signal(re.compile(pattern, re.IGNORECASE), weights, negatable, alias)


_LABEL = r"(?:label\w*|annotat\w*|pseudo[\s-]?label\w*|auto[\s-]?label\w*|pl)"
_SIGNALS: tuple[_Signal, ...] = (
    # flows named outright
    _sig(r"\be2e[\s_-]*(?:super[\s_-]*resolution|sr)\b", e2e_super_resolution=8, run=1),
    _sig(r"\be2e\b(?![\s_-]*(?:super|sr\b))", e2e=8, run=1),
    _sig(r"\baugmentation[\s_]and[\s_]al\b", augmentation_and_al=8, run=1),
    _sig(r"\baugmentation[\s_]and[\s_]pl\b", alias=True, augmentation_and_al=8, run=1),
    _sig(r"\bauto_labell?ing\b", auto_labeling=8, run=1),
    # what the user wants done
    _sig(rf"\b{_LABEL}[\s-]+only\b|\bonly\s+{_LABEL}|\bjust\s+(?:the\s+)?{_LABEL}|\blabels?\s+only\b",
         negatable=False, augment=-4, labels_augmented=-2, labels_original=1, run=2),
    _sig(r"\b(?:augment\w*|enrich\w*|re-?render\w*)", augment=3, run=2),
    _sig(r"\b(?:weather|rain\w*|snow\w*|fog\w*|night\w*|dusk|dawn|sunset|sunrise|twilight|overcast|storm\w*|lighting|wet\s+roads?)\b",
         augment=2, run=1),
    _sig(r"\bvariations?\b|\bvariants?\b", augment=2, run=1),
    _sig(r"\bcosmos\b", augment=1),
    _sig(rf"\b{_LABEL}\b|\bcaption\w*", augment=-1, run=2),
    _sig(rf"\b{_LABEL}\s+(?:the\s+|my\s+|our\s+)?(?:originals?|source)\b", labels_original=2),
    _sig(r"\boriginals?\s+(?:videos?\s+|clips?\s+)?(?:and|\+|&)\s+(?:the\s+)?augmented\b|\bboth\s+(?:the\s+)?originals?\b"
         r"|\boriginal\s+labels?\b|\blabels?\s+for\s+both\b", labels_original=3, labels_augmented=3),
    _sig(r"\bsuper[\s-]?res\w*|\bsr\b|\blow[\s-]?res\w*|\bupscal\w*|\bupsampl\w*|\benhanc\w*\s+(?:the\s+)?resolution\b"
         r"|\bresolution\s+enhancement|\bseedvr\w*", super_resolution=4, run=1),
    _sig(r"\b(?:fast|faster|fastest|quick(?!\s+(?:[\w-]+\s+)?demo\b)|quickly|asap|parallel|throughput|speed\s*up|hurry)\b",
         parallel=1.5),  # "a quick (VDA) demo" is about the demo, not speed
    _sig(r"\b(?:full|whole|complete|entire)\s+(?:vda\s+)?(?:pipeline|workflow|flow)\b|\bend[\s-]?to[\s-]?end\b",
         labels_original=2, labels_augmented=1, augment=1, run=2),
    # it is a request for work on the user's material
    _sig(r"\b(?:my|our|these|those|the|this|all)\s+(?:[\w-]+\s+){0,2}?(?:videos?|clips?|footage|recordings?|dataset|mp4s?|data)\b", run=1),
    _sig(r"\b(?:s3|gs|azure|swift|tos|file)://|\.mp4\b|\bvda\b", run=1),
    _sig(r"\bdemo\b", run=1),  # its own signal: "a quick VDA demo" asks for a run
    _sig(r"\b(?:run|launch|start|kick\s+off|submit|execute|process|go\s+ahead|make|generate|create|produce|apply|add)\b", run=1),
    # it is a question, or a different task
    _sig(r"^\s*(?:how|what|what's|whats|why|which|when|where|explain|describe|tell\s+me)\b|\bhow\s+(?:do|does|can|should)\s+i\b"
         r"|\bhow\s+to\b|\bwhat\s+(?:is|are|does|do)\b|\bdifference\s+between\b|\bexplain\b|\bmeaning\s+of\b", negatable=False, ask=3),
    _sig(r"\b(?:tune|tuning|sigma|guidance|control\s+weights?|parameters?|hyper[\s-]?param\w*|knobs?)\b", negatable=False, ask=2),
    _sig(r"\?\s*$", negatable=False, ask=1),
    _sig(r"\b(?:deploy\w*|install\w*|set\s*up|repair\w*|helm|kubectl|operator)\b[^.?!]{0,40}\bnims?\b"
         r"|\bnims?\b[^.?!]{0,40}\b(?:deploy\w*|install\w*|operator|helm|health\w*|scal\w*|replicas?)\b", negatable=False, ask=4),
    _sig(r"\b(?:pcba?s?|circuit\s+boards?|solder\w*|defects?|urdf|usd[az]?|isaac\s+sim|omniverse|meshes|cad)\b", negatable=False, ask=6),
)
_NEGATOR = re.compile(
    r"\b(?:no|not|without|don'?t|do\s+not|never|skip(?:ping)?|avoid|except|minus|nor|instead\s+of|rather\s+than)\b|\bw/o\b",
    re.IGNORECASE,
)
_AFTER_NEGATOR = re.compile(r"^[\w\s-]{0,12}?\b(?:not\s+(?:needed|required|wanted|necessary)|isn'?t\s+needed|unnecessary)\b", re.IGNORECASE)
_CLAUSE_END = re.compile(r"[.;:!?,()]|\bbut\b|\band\s+then\b", re.IGNORECASE)


@dataclass(frozen=True)
class _Hit:
    signal: _Signal
    text: str
    negated: bool


def _negated(text: str, start: int, end: int) -> bool:
    """Is the match at [start, end) negated inside its clause (up to four words before, or 'not needed' after)?"""
    before = text[:start]
    cut = max((m.end() for m in _CLAUSE_END.finditer(before)), default=0)
    window = " ".join(before[cut:].split()[-4:])
    after = _CLAUSE_END.split(text[end:], maxsplit=1)[0]
    return bool(_NEGATOR.search(window) or _AFTER_NEGATOR.match(after))


def _hits(text: str) -> list[_Hit]:
    hits = []
    for signal in _SIGNALS:
        matches = list(signal.pattern.finditer(text))
        if not matches:
            continue
        plain = [m for m in matches if not (signal.negatable and _negated(text, m.start(), m.end()))]
        shown = (plain or matches)[0]  # one plain mention is enough to count the signal positive
        hits.append(_Hit(signal, shown.group(0).strip(), negated=not plain))
    return hits


def _evidence(hits: list[_Hit]) -> dict[str, float]:
    total: dict[str, float] = {}
    for hit in hits:
        for key, weight in hit.signal.weights.items():
            if hit.negated and key == "run":
                continue
            total[key] = total.get(key, 0.0) + (-weight if hit.negated else weight)
    return total


def _score(flow: str, evidence: Mapping[str, float]) -> float:
    profile = _PROFILES[flow]
    return _PRIOR.get(flow, 0.0) + evidence.get(flow, 0.0) + sum(evidence.get(f, 0.0) * profile[f] for f in _FEATURES)


def _quote(hits: list[_Hit], keys: tuple[str, ...]) -> str:
    shown = [f'"{h.text}"' + (" (negated)" if h.negated else "") for h in hits if any(k in h.signal.weights for k in keys)]
    return ", ".join(dict.fromkeys(shown))


def _choice(flow: str, reason: str, backend: BackendName) -> FlowChoice:
    return FlowChoice(flow=flow, workflow=str(workflow_path(flow)), reason=reason, eta=eta(flow, backend=backend), is_run_request=True)


def route(
    text: str,
    *,
    flow: str | None = None,
    super_resolution: bool | None = None,
    label_only: bool | None = None,
    backend: BackendName = "osmo",
) -> FlowChoice:
    """Pick the flow for a request. Explicit ``flow``/``super_resolution``/``label_only`` win; otherwise the
    text decides, and a run request that names no flow gets ``augmentation_and_al``. Questions (tuning,
    NIM deployment, what a flow is) and other tasks come back with ``is_run_request=False`` and no flow."""
    text = (text or "").replace("\u2019", "'").replace("\u2018", "'")
    if flow is not None:
        name = canonical_name(flow)
        if _CATALOGUE[name].kind == "flow" and not _fits(_CATALOGUE[name], super_resolution, label_only):
            raise InputError(
                f"The flow {name} contradicts the super_resolution/label_only setting given with it.",
                remedy="Drop the conflicting setting, or pick the flow that matches it (see `vda flow --list`).",
                code="conflicting-flow-flags",
            )
        given = flow.strip().lower()
        alias = f" ({given} is the legacy alias of {name})" if given in ALIASES else ""
        return _choice(name, f"The flow was given explicitly: {name}{alias}.", backend)

    hits = _hits(text)
    evidence = _evidence(hits)
    flags_given = super_resolution is not None or label_only is not None
    candidates = [f for f in FLOWS if _fits(_CATALOGUE[f], super_resolution, label_only)]
    if not candidates:
        raise InputError(
            "label_only and super_resolution cannot both hold: no flow labels without augmenting and also runs super-resolution.",
            remedy="Drop one of the two settings.",
            code="conflicting-flow-flags",
        )
    run, ask = evidence.get("run", 0.0), evidence.get("ask", 0.0)
    if not flags_given and not (run >= 2 and run > ask):
        why = _quote(hits, ("ask",))
        reason = (f"Not a run request: it reads as a question or another task ({why})." if why
                  else "Not a run request: nothing in it asks to augment or label videos.")
        return FlowChoice(flow=None, workflow=None, reason=reason, eta=None, is_run_request=False)

    best = max(candidates, key=lambda f: (_score(f, evidence), -_TIE_ORDER.index(f)))
    return _choice(best, _reason(best, hits, evidence, flags_given, super_resolution, label_only), backend)


def _fits(info: FlowInfo, super_resolution: bool | None, label_only: bool | None) -> bool:
    return (label_only is None or label_only != info.augments) and (
        super_resolution is None or super_resolution == info.super_resolution
    )


def _reason(best: str, hits: list[_Hit], evidence: Mapping[str, float], flags_given: bool,
            super_resolution: bool | None, label_only: bool | None) -> str:
    info = _CATALOGUE[best]
    parts = []
    if flags_given:
        given = [f"{k}={v}" for k, v in (("super_resolution", super_resolution), ("label_only", label_only)) if v is not None]
        parts.append(f"Chosen by the explicit setting {', '.join(given)}")
    matched = _quote(hits, (*_FEATURES, *FLOWS))
    if matched:
        parts.append(f"the request mentions {matched}")
    if any(h.signal.alias and not h.negated for h in hits):
        parts.append("augmentation_and_pl is the legacy alias of augmentation_and_al, so it runs augmentation_and_al")
    if not matched and not flags_given:
        parts.append(f"No flow was asked for, so the default {DEFAULT_FLOW} runs")
    head = "; ".join(parts)
    return f"{head[0].upper()}{head[1:]}. {best}: {info.summary}"

"""Question banks: loading, matching answers to options, per-video aggregation, ``include_if``
gates, and the classic engine's answers from measurements and sampled variables.

A bank is ``{name, questions: [{id, question, options[], aggregation?, include_if?, measure?}]}``.
An answer is always stored as the option string exactly as the bank spells it ("C. Rain", "Yes");
the DAFT writer turns it into a letter (mcq) or Yes/No (bcq).

Aggregation over windows follows upstream's rules: ``first``; ``any`` (Yes if any window says
Yes); ``majority`` / ``majority_tie_first`` (most common, a tie goes to the answer seen first);
``supermajority`` (Yes only if yes >= max(min_yes, ceil(threshold * n)), threshold 0.6, min_yes 1).
Without a rule: Yes/No questions use supermajority, others majority_tie_first. A single window
passes through unchanged. Answers not among the options are dropped, then ``include_if`` gates
apply.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skill.errors import InputError

__all__ = [
    "AggregationSpec",
    "Answer",
    "ClassicFacts",
    "MEASURES",
    "Question",
    "QuestionBank",
    "Skipped",
    "aggregate",
    "aggregate_answers",
    "answer_classic",
    "apply_include_if",
    "canonical_value",
    "is_yes_no",
    "load_bank",
    "match_option",
    "strip_letter",
    "task_items",
]

AggregationType = Literal["first", "any", "majority", "majority_tie_first", "supermajority"]
MEASURES: tuple[str, ...] = ("weather", "time_of_day", "lighting", "surface_condition", "motion", "collision",
                             "near_miss", "none")
_CATEGORICAL = ("weather", "time_of_day", "lighting", "surface_condition")


class AggregationSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    type: AggregationType
    threshold: float = Field(default=0.6, ge=0.0, le=1.0)
    min_yes: int = Field(default=1, ge=0)


class Question(BaseModel):
    """One bank question. Unknown keys are ignored (upstream workers strip them too)."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    options: list[str] = Field(default_factory=list)
    aggregation: AggregationSpec | None = None
    include_if: dict[str, str] | None = None
    measure: str = "none"

    @field_validator("aggregation", mode="before")
    @classmethod
    def _spec(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"type": value.strip().lower()} if value.strip() else None
        return value

    @field_validator("measure", mode="before")
    @classmethod
    def _measure(cls, value: Any) -> str:
        text = "none" if value is None else str(value).strip()
        if text in MEASURES or re.fullmatch(r"count:[a-z_ ]+", text):
            return text
        raise ValueError(f"measure must be one of {', '.join(MEASURES)} or count:<class>")

    @property
    def yes_no(self) -> bool:
        return is_yes_no(self.options)

    def rule(self) -> AggregationSpec:
        if self.aggregation is not None:
            return self.aggregation
        return AggregationSpec(type="supermajority") if self.yes_no else AggregationSpec(type="majority_tie_first")


class QuestionBank(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)
    name: str = "question_bank"
    questions: list[Question]

    def by_id(self) -> dict[str, Question]:
        return {q.id: q for q in self.questions}


@dataclass(frozen=True)
class Answer:
    """A final answer to one question: the option string as in the bank, and why."""

    id: str
    answer: str
    reasoning: str
    measure: str = ""  # which measurement the answer rests on
    confidence: float = 1.0  # 0..1; the classic engine abstains below MIN_CONFIDENCE


@dataclass(frozen=True)
class Skipped:
    id: str
    reason: str


def load_bank(path: str | Path) -> QuestionBank:
    """Read and validate a question bank JSON file."""
    source = Path(path)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"Cannot read the question bank {source.name}.", remedy="Check the --question-bank path.") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"The question bank {source.name} is not valid JSON (line {exc.lineno}).",
                         remedy="Fix the JSON syntax of the question bank.") from exc
    if not isinstance(raw, dict):
        raise InputError(f"The question bank {source.name} must be a JSON object.",
                         remedy="Use {\"name\": ..., \"questions\": [...]}.")
    try:
        bank = QuestionBank.model_validate({k: raw[k] for k in ("name", "questions") if k in raw})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"The question bank {source.name} is invalid at {where}: {first['msg']}.",
                         remedy="Each question needs id, question and options; see the cookbook banks.") from exc
    ids = [q.id for q in bank.questions]
    if len(ids) != len(set(ids)):
        raise InputError(f"The question bank {source.name} repeats a question id.", remedy="Give every question a unique id.")
    return bank


# --- options ----------------------------------------------------------------------------------------

_LETTER_PREFIX = re.compile(r"^\s*(?:\(([A-Za-z])\)\s*|\[([A-Za-z])\]\s*|([A-Za-z])\s*[.):\-](?:\s+|$))")
_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def strip_letter(text: str) -> str:
    """``"C. Rain"`` -> ``"Rain"``; text without a letter prefix is returned trimmed."""
    stripped = _LETTER_PREFIX.sub("", str(text), count=1).strip()
    return stripped or str(text).strip()


def _prefix_letter(text: str) -> str | None:
    match = _LETTER_PREFIX.match(str(text))
    return next((g for g in match.groups() if g), None) if match else None


def is_yes_no(options: Sequence[str]) -> bool:
    """True for plain ``["Yes", "No"]`` (either order): those become bcq items."""
    cleaned = {str(o).strip() for o in options if str(o).strip()}
    return cleaned == {"Yes", "No"}


def match_option(options: Sequence[str], raw: Any) -> str | None:
    """Map a model's answer ("C", "C. Rain", "rain", "Yes.") onto one of ``options``, or ``None``."""
    text = str(raw or "").strip().strip("\"'").rstrip(".!,;")
    if not text or not options:
        return None
    for option in options:
        if text == option:
            return option
    if len(text) == 1 and text.isalpha():
        for index, option in enumerate(options):
            if (_prefix_letter(option) or _LETTERS[index]).upper() == text.upper():
                return option
        return None
    letter = _prefix_letter(text)
    body = strip_letter(text).lower()
    for index, option in enumerate(options):
        if strip_letter(option).lower() == body and (letter is None or (_prefix_letter(option) or _LETTERS[index]).upper() == letter.upper()):
            return option
    if letter:
        for index, option in enumerate(options):
            if (_prefix_letter(option) or _LETTERS[index]).upper() == letter.upper():
                return option
    return None


# --- aggregation ------------------------------------------------------------------------------------


def _majority_tie_first(answers: Sequence[str]) -> str:
    counts = Counter(answers)
    top = max(counts.values())
    return next(a for a in answers if counts[a] == top)


def aggregate_answers(question: Question, answers: Sequence[str | None]) -> str | None:
    """One question's per-window answers -> one answer (``None`` when no window answered)."""
    given = [str(a).strip() for a in answers if a is not None and str(a).strip()]
    if not given:
        return None
    spec = question.rule()
    yes_no = question.yes_no
    if spec.type == "first":
        return given[0]
    if spec.type == "any" and yes_no:
        if "Yes" in given:
            return "Yes"
        return "No" if "No" in given else given[0]
    if spec.type == "supermajority" and yes_no:
        yes = sum(1 for a in given if a == "Yes")
        n = yes + sum(1 for a in given if a == "No")
        if n == 0:
            return _majority_tie_first(given)
        required = max(spec.min_yes, math.ceil(spec.threshold * n))
        return "Yes" if yes >= required else "No"
    return _majority_tie_first(given)


def apply_include_if(bank: QuestionBank, answers: Mapping[str, str]) -> dict[str, str]:
    """Keep an answer only when every ``include_if`` condition of its question holds."""
    questions = bank.by_id()
    kept: dict[str, str] = {}
    for qid, answer in answers.items():
        gate = questions[qid].include_if if qid in questions else None
        if gate and any(answers.get(dep) != want for dep, want in gate.items()):
            continue
        kept[qid] = answer
    return kept


def aggregate(bank: QuestionBank, windows: Sequence[Mapping[str, str | None]]) -> dict[str, str]:
    """Per-window answers (each ``{question id: option string}``) -> per-video answers."""
    questions = bank.by_id()
    if not windows:
        return {}
    if len(windows) == 1:
        merged = {qid: str(a) for qid, a in windows[0].items() if a is not None and qid in questions}
    else:
        merged = {}
        for qid, question in questions.items():
            value = aggregate_answers(question, [w.get(qid) for w in windows])
            if value is not None:
                merged[qid] = value
    valid = {qid: a for qid, a in merged.items() if a in questions[qid].options}
    return apply_include_if(bank, valid)


def task_items(bank: QuestionBank, answers: Mapping[str, Answer]) -> list[dict[str, Any]]:
    """Answered questions in bank order as ``{id, question, options, answer, reasoning}``."""
    items = []
    for question in bank.questions:
        if question.id in answers:
            a = answers[question.id]
            items.append({"id": question.id, "question": question.question, "options": list(question.options),
                          "answer": a.answer, "reasoning": a.reasoning})
    return items


# --- the classic engine's answers -------------------------------------------------------------------

_VOCAB: dict[str, dict[str, tuple[str, ...]]] = {
    "weather": {
        "clear": ("clear", "sunny", "clear sky", "fair"),
        "overcast": ("overcast", "cloudy", "grey", "gray"),
        "rain": ("rain", "rainy", "raining", "showers", "drizzle"),
        "fog": ("fog", "foggy", "mist", "misty", "haze", "hazy"),
        "snow": ("snow", "snowy", "snowing", "snow falling"),
    },
    "time_of_day": {
        "morning": ("morning", "dawn", "sunrise", "mid morning"),
        "midday": ("midday", "noon", "afternoon", "daytime", "zenith"),
        "evening": ("evening", "dusk", "sunset", "twilight", "golden hour", "blue hour"),
        "night": ("night", "nighttime", "night time"),
    },
    "lighting": {
        "bright": ("bright", "well lit", "strong", "bright overhead"),
        "moderate": ("moderate", "medium", "normal", "ambient", "moderate ambient"),
        "dim": ("dim", "dark", "low", "weak", "dim with task lighting"),
    },
    "surface_condition": {
        "dry": ("dry", "dusty", "sand"),
        "wet": ("wet", "damp", "puddles", "flooding", "flooded"),
        "snowy": ("snowy", "icy", "snow covered"),
    },
}
_VAR_ALIASES: dict[str, tuple[str, ...]] = {
    "weather": ("weather", "weather_condition"),
    "time_of_day": ("time_of_day", "lighting_condition"),
    "lighting": ("lighting", "lighting_condition"),
    "surface_condition": ("surface_condition", "road_condition", "surface"),
}
_LEVEL_WORDS: tuple[tuple[str, ...], ...] = (
    ("none", "no ", "idle", "stopped", "empty", "few", "light", "low", "quiet", "slow"),
    ("moderate", "medium", "some", "moving between", "manoeuvring", "maneuvering", "moderately"),
    ("heavy", "high", "crowded", "busy", "many", "dense", "fast", "road speed", "actively"),
)
_VEHICLES = ("car", "truck", "bus", "motorcycle", "bicycle")
_CLASS_WORDS: dict[str, tuple[str, ...]] = {
    "person": ("person", "people", "pedestrian", "worker", "human", "someone"),
    "vehicle": ("vehicle", "car", "truck", "bus", "equipment", "forklift", "traffic"),
    "motorcycle": ("motorcycle", "motorbike", "scooter"),
    "bicycle": ("bicycle", "cyclist", "bike"),
}


def _norm(text: str) -> str:
    return " " + re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip() + " "


def _mentions(text: str, phrases: Sequence[str]) -> bool:
    padded = _norm(text)
    return any(_norm(p) in padded for p in phrases)


def canonical_value(measure: str, value: str) -> str | None:
    """Bring a sampled value ("raining", "golden_hour", "Rain") to the vocabulary's canonical name."""
    table = _VOCAB.get(measure, {})
    text = _norm(value)
    for canonical, words in table.items():
        if text == _norm(canonical) or any(text == _norm(w) for w in words):
            return canonical
    for canonical, words in table.items():
        if _mentions(value, (canonical, *words)):
            return canonical
    return None


def _option_for_value(question: Question, measure: str, value: str) -> str | None:
    """The option naming ``value`` (for Yes/No questions: Yes when the question names it)."""
    words = _VOCAB[measure].get(value, (value,))
    if question.yes_no:
        named = [c for c, w in _VOCAB[measure].items() if _mentions(question.question, (c, *w))]
        if len(named) != 1:
            return None
        return "Yes" if named[0] == value else "No"
    hits = [o for o in question.options if _mentions(strip_letter(o), (value, *words))]
    return hits[0] if len(hits) == 1 else None


def _level_option(question: Question, level: int) -> str | None:
    """Pick the option for an ordinal level 0 (low) .. 2 (high) by wording, else by position."""
    options = question.options
    if not options:
        return None
    for option in options:
        if _mentions(strip_letter(option), _LEVEL_WORDS[level]) and not any(
            _mentions(strip_letter(option), _LEVEL_WORDS[other]) for other in range(3) if other != level
        ):
            return option
    if len(options) == 1:
        return options[0]
    return options[round(level * (len(options) - 1) / 2)]


_RANGE = re.compile(r"(\d+)\s*(?:-|–|to)\s*(\d+)")
_AT_LEAST = re.compile(r"(\d+)\s*(?:\+|or more|and more|and above)|(?:more than|over|above)\s*(\d+)|at least\s*(\d+)")


def _count_option(question: Question, count: int) -> str | None:
    """Options with numbers ("None", "1-2", "3 or more") -> the one containing ``count``."""
    for option in question.options:
        body = strip_letter(option).lower()
        if (m := _RANGE.search(body)) and int(m.group(1)) <= count <= int(m.group(2)):
            return option
        if m := _AT_LEAST.search(body):
            if m.group(1) is not None and count >= int(m.group(1)):
                return option
            if m.group(2) is not None and count > int(m.group(2)):
                return option
            if m.group(3) is not None and count >= int(m.group(3)):
                return option
        if count == 0 and _mentions(body, ("none", "no", "zero")):
            return option
        if re.fullmatch(r"\s*(\d+)\s*", body) and int(body) == count:
            return option
    return None


def _has_numbers(question: Question) -> bool:
    return any(re.search(r"\d", strip_letter(o)) or _mentions(strip_letter(o), ("none", "zero")) for o in question.options)


@dataclass(frozen=True)
class ClassicFacts:
    """What the classic engine measured, in the form the answer rules need."""

    categories: Mapping[str, tuple[str, str]]  # measure -> (canonical value, how it was measured)
    counts: Mapping[str, int]  # class -> distinct tracks
    concurrent: Mapping[str, float]  # class -> mean tracks per frame
    motion_level: int  # 0 still, 1 some, 2 busy
    motion_note: str
    collision: bool
    near_miss: bool
    proximity_note: str
    confidence: Mapping[str, float] = field(default_factory=dict)  # measure -> 0..1 (default 0.7)


# Below this the classic engine leaves the item out (the DAFT layout has no "cannot tell" answer).
MIN_CONFIDENCE = 0.5
ABSTAIN_PREFIX = "abstained:"


def _classes_named(text: str) -> tuple[list[str] | None, str]:
    """The tracked classes a question talks about (``None`` = any) and a word for them."""
    named = [c for c, words in _CLASS_WORDS.items() if _mentions(text, words)]
    if not named:
        return None, "object"
    out: list[str] = []
    for c in named:
        out.extend(_VEHICLES if c == "vehicle" else (c,))
    return out, "/".join(named)


def answer_classic(bank: QuestionBank, facts: ClassicFacts,
                   sampled_vars: Mapping[str, str] | None = None) -> tuple[dict[str, Answer], list[Skipped]]:
    """Answer every question the measurements (or the known sampled variables) can answer."""
    sampled = {str(k): str(v) for k, v in (sampled_vars or {}).items()}
    answers: dict[str, Answer] = {}
    skipped: list[Skipped] = []
    for q in bank.questions:
        result = _answer_one(q, facts, sampled)
        if isinstance(result, Answer):
            result = Answer(result.id, result.answer, result.reasoning, q.measure,
                            1.0 if "(a sampled variable)" in result.reasoning else facts.confidence.get(q.measure, 0.7))
            if result.confidence < MIN_CONFIDENCE:
                result = Skipped(q.id, f"{ABSTAIN_PREFIX} {q.measure} confidence {result.confidence:.2f} "
                                       f"below {MIN_CONFIDENCE:.2f} ({result.reasoning})")
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            answers[q.id] = result
    gated = apply_include_if(bank, {k: v.answer for k, v in answers.items()})
    for qid in list(answers):
        if qid not in gated:
            skipped.append(Skipped(qid, "include_if condition not met"))
            del answers[qid]
    return answers, skipped


def _answer_one(q: Question, facts: ClassicFacts, sampled: Mapping[str, str]) -> Answer | Skipped:
    measure = q.measure
    if measure == "none":
        return Skipped(q.id, "no CPU measurement answers this question")
    if not q.options:
        return Skipped(q.id, "free-form question; the classic engine answers only closed questions")
    if measure in _CATEGORICAL:
        name = next((n for n in _VAR_ALIASES[measure] if n in sampled), None)
        value = canonical_value(measure, sampled[name]) if name is not None else None
        if name is not None and value is not None:
            why = f"The clip was augmented with {name}={sampled[name]} (a sampled variable)"
        elif measure in facts.categories:
            value, how = facts.categories[measure]
            why = f"{how}, so the {measure.replace('_', ' ')} reads as {value}"
        else:
            return Skipped(q.id, f"{measure} was not measured")
        option = _option_for_value(q, measure, value)
        if option is None:
            return Skipped(q.id, f"no option matches {measure}={value}")
        return Answer(q.id, option, f"{why}; that is option '{strip_letter(option)}'.")
    if measure in ("collision", "near_miss"):
        flag = facts.collision if measure == "collision" else facts.near_miss
        if not q.yes_no:
            return Skipped(q.id, f"{measure} answers only Yes/No questions")
        return Answer(q.id, "Yes" if flag else "No", f"From how the tracks moved near each other: {facts.proximity_note}.")
    if measure == "motion":
        if q.yes_no:
            classes, what = _classes_named(q.question)
            moving = sum(n for c, n in facts.counts.items() if classes is None or c in classes)
            return Answer(q.id, "Yes" if moving else "No", f"Motion tracking found {moving} moving {what} track(s).")
        option = _level_option(q, facts.motion_level)
        if option is None:
            return Skipped(q.id, "no option matches the motion level")
        return Answer(q.id, option, f"Motion measured: {facts.motion_note}.")
    if measure.startswith("count:"):
        cls = measure.split(":", 1)[1].strip()
        classes = list(_VEHICLES) if cls == "vehicle" else [cls]
        count = sum(facts.counts.get(c, 0) for c in classes)
        mean = sum(facts.concurrent.get(c, 0.0) for c in classes)
        if q.yes_no:
            need = 1
            if m := re.search(r"(?:more than|over)\s+(\d+)", q.question.lower()):
                need = int(m.group(1)) + 1
            elif m := re.search(r"at least\s+(\d+)", q.question.lower()):
                need = int(m.group(1))
            return Answer(q.id, "Yes" if count >= need else "No", f"Tracking found {count} distinct {cls} track(s) in the clip.")
        if _has_numbers(q):
            option = _count_option(q, count)
            if option is None:
                return Skipped(q.id, f"no option covers a count of {count}")
            return Answer(q.id, option, f"Tracking found {count} distinct {cls} track(s) in the clip.")
        level = 0 if mean < 2.0 else 1 if mean < 6.0 else 2
        option = _level_option(q, level)
        if option is None:
            return Skipped(q.id, "no option matches the density level")
        return Answer(q.id, option, f"Tracking shows on average {mean:.1f} {cls} track(s) per frame.")
    return Skipped(q.id, f"measure {measure} is not supported")

"""How good the judge is: the replay's verdicts compared with labels a person wrote.

A labels file is tab-separated text, one transcript a row::

    # file                          rules (comma-separated rule ids; "-" for a clean run)
    good_local_augmentation.jsonl   -
    bad_repeated_set_string.jsonl   single-set-string

The file column is the transcript's file name (a path works too: only its last part is compared).
Blank lines and lines starting with ``#`` are skipped. :func:`score` counts, for every rule of
POLICY.md, each (transcript, rule) pair once: true positive (labelled and reported), false positive
(reported, not labelled), false negative (labelled, not reported), true negative (neither). An
invalid transcript reports nothing, so its labelled rules count as missed. Precision is
tp / (tp + fp), recall tp / (tp + fn); each is null when its denominator is 0.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from evals.replay import ReplayReport
from skill.errors import InputError, NotFound
from skill.policy import RULES

__all__ = ["RuleScore", "ScoreReport", "VerdictConfusion", "load_labels", "score"]

_CLEAN = "-"


class RuleScore(BaseModel):
    """One rule's counts over the scored transcripts."""

    model_config = ConfigDict(extra="forbid")
    rule: str
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    precision: float | None = Field(default=None, description="tp / (tp + fp); null when the rule was never reported.")
    recall: float | None = Field(default=None, description="tp / (tp + fn); null when no transcript is labelled with the rule.")
    false_positives: list[str] = Field(default_factory=list, description="Files where the rule was reported but not labelled.")
    false_negatives: list[str] = Field(default_factory=list, description="Files labelled with the rule where it was not reported.")


class VerdictConfusion(BaseModel):
    """Transcripts by label (clean or violating) and by judgement (pass, fail, invalid)."""

    model_config = ConfigDict(extra="forbid")
    clean_pass: int = 0
    clean_fail: int = 0
    clean_invalid: int = 0
    violating_pass: int = 0
    violating_fail: int = 0
    violating_invalid: int = 0


class ScoreReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    files: int
    rules: list[RuleScore]
    verdicts: VerdictConfusion
    exact: int = Field(description="Transcripts whose reported rule set equals the labelled one.")
    perfect: bool = Field(description="Every rule with a defined precision or recall has it at 1.0 and every file is exact.")


def load_labels(path: str | Path) -> dict[str, frozenset[str]]:
    """File name -> the labelled rule ids. Unknown rule ids and repeated files are coded errors."""
    source = Path(path)
    try:
        text = source.read_text(encoding="utf-8")
    except OSError as exc:
        raise NotFound(f"Cannot read the labels file {source} ({type(exc).__name__}).", remedy="Pass --labels with an existing TSV file.", code="labels-not-found") from exc
    labels: dict[str, frozenset[str]] = {}
    for no, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        cells = [cell.strip() for cell in raw.split("\t") if cell.strip()]
        if len(cells) != 2:
            raise InputError(
                f"Line {no} of {source.name} has {len(cells)} column(s); it needs the file and its rules, separated by a tab.",
                remedy='Write "<file>\\t<rule>[,<rule>...]", or "<file>\\t-" for a clean run.',
                code="labels-invalid",
            )
        name, rules_cell = Path(cells[0]).name, cells[1]
        rules = frozenset() if rules_cell == _CLEAN else frozenset(r.strip() for r in rules_cell.split(",") if r.strip())
        unknown = sorted(rules - set(RULES))
        if unknown:
            raise InputError(f"Line {no} of {source.name} names unknown rule id(s): {', '.join(unknown)}.", remedy="Use the rule ids of POLICY.md.", code="labels-invalid")
        if name in labels:
            raise InputError(f"Line {no} of {source.name} labels {name} a second time.", remedy="Keep one row per transcript.", code="labels-invalid")
        labels[name] = rules
    return labels


def _ratio(hit: int, other: int) -> float | None:
    return None if hit + other == 0 else hit / (hit + other)


def score(report: ReplayReport, labels: dict[str, frozenset[str]]) -> ScoreReport:
    """Compare each replayed transcript with its label. A transcript without a label is a coded error."""
    unlabelled = [Path(t.file).name for t in report.transcripts if Path(t.file).name not in labels]
    if unlabelled:
        shown = ", ".join(unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else "")
        raise InputError(
            f"{len(unlabelled)} transcript(s) have no row in the labels file: {shown}.",
            remedy="Add a row '<file>\\t<rules or ->' for each, or leave those files out of PATH.",
            code="labels-missing",
        )
    scores = {rule: RuleScore(rule=rule) for rule in RULES}
    verdicts = VerdictConfusion()
    exact = 0
    for item in report.transcripts:
        name = Path(item.file).name
        wanted = labels[name]
        got = item.rules if item.verdict != "invalid" else set()
        exact += int(got == wanted and item.verdict != "invalid")
        kind = "violating" if wanted else "clean"
        setattr(verdicts, f"{kind}_{item.verdict}", getattr(verdicts, f"{kind}_{item.verdict}") + 1)
        for rule, entry in scores.items():
            if rule in wanted and rule in got:
                entry.tp += 1
            elif rule in got:
                entry.fp += 1
                entry.false_positives.append(name)
            elif rule in wanted:
                entry.fn += 1
                entry.false_negatives.append(name)
            else:
                entry.tn += 1
    for entry in scores.values():
        entry.precision = _ratio(entry.tp, entry.fp)
        entry.recall = _ratio(entry.tp, entry.fn)
    rows = list(scores.values())
    perfect = exact == len(report.transcripts) and all(v in (None, 1.0) for r in rows for v in (r.precision, r.recall))
    return ScoreReport(files=len(report.transcripts), rules=rows, verdicts=verdicts, exact=exact, perfect=perfect)

"""Scenario expectations: ``evals/scenarios/<name>.yaml`` says what replaying a transcript must give.

A transcript names its scenario in its meta line. The expectation holds the verdict and the exact
set of rule ids that must fire (no more, no fewer); ``flow``, ``submitted`` and ``evidence`` are
compared only when the file states them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from skill.errors import InputError
from skill.policy import RULES

__all__ = ["DEFAULT_SCENARIOS_DIR", "ExpectationResult", "Scenario", "compare", "load_scenario"]

DEFAULT_SCENARIOS_DIR = Path(__file__).resolve().parent / "scenarios"

Verdict = Literal["pass", "fail", "invalid"]


class Scenario(BaseModel):
    """What one scenario expects from the replay of its transcript."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    description: str = Field(default="", description="What the run does and why it should pass or fail.")
    transcript: str | None = Field(default=None, description="Fixture file name, e.g. good_local_augmentation.jsonl.")
    verdict: Verdict
    rules: list[str] = Field(default_factory=list, description="Exactly the rule ids that must be violated.")
    flow: str | None = Field(default=None, description="The flow that must have been submitted (null: none).")
    submitted: bool | None = None
    evidence: dict[str, bool | None] | None = Field(default=None, description="Evidence parts and their expected presence.")

    @field_validator("rules")
    @classmethod
    def _known_rules(cls, rules: list[str]) -> list[str]:
        unknown = [rule for rule in rules if rule not in RULES]
        if unknown:
            raise ValueError(f"unknown rule id(s): {', '.join(unknown)}")
        return sorted(set(rules))


class ExpectationResult(BaseModel):
    """How a replay compared with its scenario."""

    model_config = ConfigDict(extra="forbid")
    scenario: str
    verdict: Verdict
    rules: list[str]
    matched: bool
    differences: list[str] = Field(default_factory=list, description="One sentence per mismatch.")


def load_scenario(path: Path) -> Scenario:
    """Read one scenario file; a malformed file is an InputError naming the file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(f"Cannot read the scenario file {path} ({type(exc).__name__}).", remedy="Fix the YAML file.", code="invalid-scenario") from exc
    try:
        return Scenario.model_validate(data if data is not None else {})
    except ValidationError as exc:
        first = exc.errors(include_input=False, include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "file"
        raise InputError(f"The scenario file {path} is invalid at {where}: {first['msg']}.", remedy="Fix the YAML file.", code="invalid-scenario") from exc


def compare(
    name: str,
    scenario: Scenario,
    *,
    verdict: str,
    rules: set[str],
    flow: str | None,
    submitted: bool,
    evidence: dict[str, bool | None],
) -> ExpectationResult:
    """Compare one replay outcome with its scenario."""
    differences = []
    if verdict != scenario.verdict:
        differences.append(f"verdict is {verdict}, expected {scenario.verdict}")
    extra, missing = sorted(rules - set(scenario.rules)), sorted(set(scenario.rules) - rules)
    if extra:
        differences.append(f"unexpected rule(s): {', '.join(extra)}")
    if missing:
        differences.append(f"expected rule(s) did not fire: {', '.join(missing)}")
    if "flow" in scenario.model_fields_set and flow != scenario.flow:
        differences.append(f"flow is {flow}, expected {scenario.flow}")
    if scenario.submitted is not None and submitted != scenario.submitted:
        differences.append(f"submitted is {submitted}, expected {scenario.submitted}")
    for part, expected in (scenario.evidence or {}).items():
        if part not in evidence:
            differences.append(f"unknown evidence part {part}")
        elif evidence[part] != expected:
            differences.append(f"evidence {part} is {evidence[part]}, expected {expected}")
    return ExpectationResult(scenario=name, verdict=scenario.verdict, rules=list(scenario.rules), matched=not differences, differences=differences)

"""The looks a user asks for, as fixed cookbook variables.

Words in the request ("rainy", "at night", "foggy dusk", "wet floor", "snow") and explicit
``variable=option`` pairs (``vda run --condition``, or ``conditions`` on ``pre_submit_guard`` /
``submit``) become one ``conditions`` value, ``variable:option[|option],...``, that the setup task's
config generator applies: each named variable is drawn only from the options asked for, the others
as the cookbook weighs them. A word or pair the cookbook has no option for is an error that lists
what the cookbook offers, before anything starts (``vda run`` before the upload, the guard before
the submit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from pathlib import Path

import yaml

from skill import flows
from skill.engines.configs import ConfigGenError, parse_variables
from skill.errors import InputError
from skill.models import DEFAULT_COOKBOOK
from skill.paths import cookbooks_dir
from skill import yaml_text

__all__ = [
    "conditions_from_text",
    "cookbook_variables",
    "format_conditions",
    "parse_conditions",
    "requested_looks",
    "resolve_conditions",
    "route_with_looks",
    "variables_of",
]

# concept -> the words that name it; a concept matches the cookbook option of the same name
_WORDS: dict[str, tuple[str, ...]] = {
    "rain": ("rain", "rainy", "raining", "rainfall", "downpour", "drizzle"),
    "snow": ("snow", "snowy", "snowing", "snowfall", "blizzard"),
    "fog": ("fog", "foggy", "mist", "misty", "hazy"),
    "overcast": ("overcast", "cloudy"),
    "clear": ("sunny", "clear sky", "clear skies", "clear weather"),
    "night": ("night", "nighttime", "night-time", "at night", "nocturnal"),
    "evening": ("evening", "dusk", "sunset", "twilight"),
    "morning": ("morning", "dawn", "sunrise"),
    "midday": ("midday", "noon", "afternoon"),
    "dim": ("dim", "dimly lit", "low light", "low-light"),
    "bright": ("brightly lit", "bright light", "bright lighting"),
    "wet": ("wet", "wet road", "wet floor", "puddles", "slippery"),
}
_PATTERNS = {concept: re.compile(r"\b(" + "|".join(re.escape(w) for w in words) + r")\b", re.IGNORECASE) for concept, words in _WORDS.items()}

Variables = Mapping[str, list[str]]


def variables_of(workflow_config: Path, *, label: str) -> dict[str, list[str]]:
    """``{variable: [option, ...]}`` of a cookbook's ``workflow_config.yaml``; ``label`` names it in errors."""
    try:
        raw = yaml_text.load(workflow_config.read_text(encoding="utf-8")) or {}
        variables = parse_variables((raw.get("augmentation") or {}).get("variables"))
    except (OSError, yaml.YAMLError, ConfigGenError, AttributeError) as exc:
        raise InputError(f"The cookbook {label} could not be read ({type(exc).__name__}).",
                         remedy="Pick a shipped cookbook, e.g. city_traffic.", code="unknown-cookbook") from None
    return {name: list(options) for name, options in variables.items()}


def cookbook_variables(cookbook: str) -> dict[str, list[str]]:
    """``{variable: [option, ...]}`` of a shipped cookbook."""
    return variables_of(cookbooks_dir() / cookbook / "workflow_config.yaml", label=cookbook)


def cookbook_augmentations(cookbook: str) -> int:
    """How many augmentations per clip a shipped cookbook asks for (``augmentation.n_augmentations``)."""
    try:
        raw = yaml_text.load((cookbooks_dir() / cookbook / "workflow_config.yaml").read_text(encoding="utf-8")) or {}
        return int((raw.get("augmentation") or {}).get("n_augmentations", 1))
    except (OSError, yaml.YAMLError, TypeError, ValueError, AttributeError):
        raise InputError(f"The cookbook {cookbook} could not be read.", remedy="Pick a shipped cookbook, e.g. city_traffic.",
                         code="unknown-cookbook") from None


def _offer(variables: Variables) -> str:
    return "; ".join(f"{name}: {', '.join(options)}" for name, options in variables.items()) or "no variables"


def _check_pair(name: str, options: list[str], variables: Variables, cookbook: str) -> None:
    if name not in variables:
        raise InputError(f"The {cookbook} cookbook has no variable '{name[:40]}'; it offers {_offer(variables)}.",
                         remedy="Ask for one of those variables (--condition variable=option).", code="unknown-condition")
    missing = [o for o in options if o not in variables[name]] or ([] if options else ["(none)"])
    if missing:
        raise InputError(f"The {cookbook} cookbook's {name} has no option {missing[0][:40]!r}; it offers {', '.join(variables[name])}.",
                         remedy=f"Ask for {name}=<one of {', '.join(variables[name])}>.", code="unknown-condition")


def conditions_from_text(text: str | None, cookbook: str, variables: Variables | None = None) -> dict[str, list[str]]:
    """The looks the request names, mapped onto the cookbook's variables. A look it names that the
    cookbook cannot give raises ``unknown-condition`` with what it offers."""
    if not text:
        return {}
    variables = cookbook_variables(cookbook) if variables is None else variables
    found: dict[str, list[str]] = {}
    for concept, pattern in _PATTERNS.items():
        match = pattern.search(text)
        if not match:
            continue
        owner = next((name for name, options in variables.items() if concept in options), None)
        if owner is None:
            raise InputError(
                f'The request asks for "{match.group(0)}", which the {cookbook} cookbook cannot render; it offers {_offer(variables)}.',
                remedy="Rephrase with one of those looks, pass --condition variable=option, or pick a cookbook that has it.",
                code="unknown-condition",
            )
        found.setdefault(owner, [])
        if concept not in found[owner]:
            found[owner].append(concept)
    return found


def resolve_conditions(text: str | None, explicit: Mapping[str, str], cookbook: str) -> dict[str, list[str]]:
    """Words of the request, then explicit ``variable=option[|option]`` pairs (which win per
    variable), each checked against the cookbook."""
    variables = cookbook_variables(cookbook)
    chosen = conditions_from_text(text, cookbook, variables)
    for name, value in explicit.items():
        options = [o.strip() for o in str(value).split("|") if o.strip()]
        _check_pair(name, options, variables, cookbook)
        chosen[name] = options
    return chosen


def parse_conditions(value: str, variables: Variables, *, cookbook: str) -> dict[str, list[str]]:
    """The submit value ``weather:rain,time_of_day:night|evening`` checked against a cookbook's
    variables (what the setup task will apply), as ``{variable: [option, ...]}``."""
    chosen: dict[str, list[str]] = {}
    for item in (part for part in value.split(",") if part.strip()):
        name, sep, options = item.partition(":")
        if not sep:
            raise InputError(f"The condition '{item[:60]}' is not variable:option.", remedy="Write e.g. weather:rain.", code="invalid-condition")
        chosen[name.strip()] = [o.strip() for o in options.split("|") if o.strip()]
        _check_pair(name.strip(), chosen[name.strip()], variables, cookbook)
    return chosen


def format_conditions(conditions: Mapping[str, list[str]]) -> str | None:
    """The submit value: ``weather:rain,time_of_day:night|evening`` (None when nothing was asked)."""
    return ",".join(f"{name}:{'|'.join(options)}" for name, options in conditions.items()) or None


def requested_looks(text: str, *, augments: bool, cookbook: str = DEFAULT_COOKBOOK) -> tuple[str | None, str | None]:
    """For routing: the conditions value the request's words name (None when none, or the flow does
    not augment) and, when a word names a look the cookbook lacks, the sentence saying so."""
    if not augments:
        return None, None
    try:
        return format_conditions(conditions_from_text(text, cookbook)), None
    except InputError as exc:
        return None, exc.message


def route_with_looks(text: str, **route_args: Any) -> flows.FlowChoice:
    """:func:`skill.flows.route`, plus the conditions value the words name when the flow augments
    (a look the default cookbook lacks is said in the reason instead)."""
    choice = flows.route(text, **route_args)
    if not choice.is_run_request or choice.flow is None:
        return choice
    value, problem = requested_looks(text, augments=flows.get_flow(choice.flow).augments)
    if problem:
        return choice.model_copy(update={"reason": f"{choice.reason} {problem}"})
    return choice.model_copy(update={"conditions": value}) if value else choice

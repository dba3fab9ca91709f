"""Map sampled augmentation variables onto the four conditions the engines can render.

Cookbooks name their variables and options in two vocabularies: the short one of
``workflow_config.yaml`` (``weather: rain``, ``time_of_day: evening``, ``lighting: dim``,
``surface_condition: wet``) and the longer captioning one (``weather_condition: raining``,
``lighting_condition: golden_hour``, ``road_condition: puddles``). Both resolve here to one
canonical value per axis:

    weather      clear | overcast | rain | fog | snow
    time_of_day  morning | midday | evening | night
    lighting     bright | moderate | dim
    surface      dry | wet | snowy

The variable's name picks the axis first (``road_condition`` is a surface even for ``snow``);
a value that axis does not know is looked up in the others (``lighting_condition: sunset`` is a
time of day). Anything unknown is returned as ignored, never guessed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

__all__ = ["AXES", "Conditions", "describe", "normalise", "resolve"]

AXES = ("weather", "time_of_day", "lighting", "surface")

_VOCABULARY: dict[str, dict[str, tuple[str, ...]]] = {
    "weather": {
        "clear": ("clear", "clear_sky", "sunny", "fair", "clear_weather"),
        "overcast": ("overcast", "cloudy", "partly_cloudy", "grey", "gray"),
        "rain": ("rain", "raining", "rainy", "drizzle", "heavy_rain", "light_rain", "showers"),
        "fog": ("fog", "foggy", "mist", "misty", "haze", "hazy"),
        "snow": ("snow", "snowing", "snowy", "snow_falling", "snowfall", "blizzard"),
    },
    "time_of_day": {
        "morning": ("morning", "sunrise", "dawn", "mid_morning", "early_morning"),
        "midday": ("midday", "noon", "zenith", "afternoon", "day", "daytime"),
        "evening": ("evening", "sunset", "dusk", "golden_hour", "twilight", "blue_hour"),
        "night": ("night", "nighttime", "night_time", "midnight"),
    },
    "lighting": {
        "bright": ("bright", "bright_overhead", "well_lit", "high"),
        "moderate": ("moderate", "moderate_ambient", "ambient", "normal", "medium"),
        "dim": ("dim", "dim_with_task_lighting", "low_light", "dark", "low"),
    },
    "surface": {
        "dry": ("dry", "dusty", "sand", "sandy", "clean"),
        "wet": ("wet", "puddles", "flooding", "flooded", "damp", "wet_road"),
        "snowy": ("snow", "snowy", "snow_covered", "icy", "ice"),
    },
}
_LOOKUP: dict[str, dict[str, str]] = {
    axis: {alias: canonical for canonical, aliases in table.items() for alias in aliases} for axis, table in _VOCABULARY.items()
}
# name fragment -> axis; checked in this order ("road" before "light": road_lighting is rare, road_condition common)
_NAME_HINTS: tuple[tuple[str, str], ...] = (
    ("weather", "weather"),
    ("surface", "surface"),
    ("road", "surface"),
    ("floor", "surface"),
    ("ground", "surface"),
    ("time", "time_of_day"),
    ("light", "lighting"),
)
# the order to try when the named axis does not know a value
_FALLBACK_ORDER = ("weather", "time_of_day", "lighting", "surface")

_PHRASES = {
    ("weather", "clear"): "clear weather with crisp, saturated colours",
    ("weather", "overcast"): "an overcast sky with soft, flat, shadowless light",
    ("weather", "rain"): "steady rain falling, streaks of rain in the air and damp muted colours",
    ("weather", "fog"): "dense fog that fades distant objects into a pale haze",
    ("weather", "snow"): "snow falling, flakes drifting through the air and a cold bluish tint",
    ("time_of_day", "morning"): "soft early-morning light with a gentle warm tone",
    ("time_of_day", "midday"): "bright midday daylight with short shadows",
    ("time_of_day", "evening"): "low warm evening sun with long shadows and a golden sky",
    ("time_of_day", "night"): "night time, dark surroundings lit by artificial lights",
    ("lighting", "bright"): "bright even overhead lighting",
    ("lighting", "moderate"): "moderate ambient lighting",
    ("lighting", "dim"): "dim lighting with deep shadows and small pools of task light",
    ("surface", "dry"): "dry ground surfaces",
    ("surface", "wet"): "wet, glossy ground that mirrors lights and shapes",
    ("surface", "snowy"): "ground partly covered in snow",
}


@dataclass(frozen=True)
class Conditions:
    """The resolved conditions: ``axes`` maps axis -> canonical value; ``ignored`` var -> reason."""

    axes: dict[str, str] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)  # axis -> the variable that set it
    ignored: dict[str, str] = field(default_factory=dict)

    def get(self, axis: str) -> str | None:
        return self.axes.get(axis)


def normalise(text: object) -> str:
    """``"Golden Hour"`` -> ``golden_hour``."""
    return re.sub(r"[\s\-]+", "_", str(text).strip().lower())


def _axis_from_name(name: str) -> str | None:
    key = normalise(name)
    for fragment, axis in _NAME_HINTS:
        if fragment in key:
            return axis
    return None


def resolve(sampled: dict[str, object]) -> Conditions:
    """Resolve sampled variables (in order) to one canonical value per axis."""
    axes: dict[str, str] = {}
    sources: dict[str, str] = {}
    ignored: dict[str, str] = {}
    for name, raw in sampled.items():
        value = normalise(raw)
        hinted = _axis_from_name(name)
        order = ([hinted] if hinted else []) + [a for a in _FALLBACK_ORDER if a != hinted]
        match = next(((axis, _LOOKUP[axis][value]) for axis in order if value in _LOOKUP[axis]), None)
        if match is None:
            ignored[str(name)] = f"value '{raw}' is not a condition the engine can render"
            continue
        axis, canonical = match
        if axis in axes:
            ignored[str(name)] = f"{axis} already set to '{axes[axis]}' by '{sources[axis]}'"
            continue
        axes[axis], sources[axis] = canonical, str(name)
    return Conditions(axes=axes, sources=sources, ignored=ignored)


def describe(conditions: Conditions) -> str:
    """A short natural-language description of the target conditions, for prompts."""
    parts = [_PHRASES[(axis, conditions.axes[axis])] for axis in AXES if axis in conditions.axes]
    return "; ".join(parts)

"""Request words and explicit pairs become the conditions value, checked against the cookbook."""

from __future__ import annotations

import pytest

from skill.conditions import format_conditions, resolve_conditions
from skill.errors import InputError
from skill.models import SubmitValues


@pytest.mark.parametrize(("text", "cookbook", "expected"), [
    ("Make rainy and night versions", "city_traffic", "weather:rain,time_of_day:night"),
    ("a foggy dusk please", "piazza", "weather:fog,time_of_day:evening"),
    ("snow on the dashcam footage", "trailer_dashcam", "weather:snow"),
    ("wet floor, dimly lit", "warehouse", "lighting:dim,surface_condition:wet"),
    ("augment and label my videos", "city_traffic", None),
])
def test_words_map_onto_the_cookbooks_variables(text, cookbook, expected):
    value = format_conditions(resolve_conditions(text, {}, cookbook))
    assert value == expected
    if value:
        SubmitValues.model_validate({"dataset": "d", "run_id": "run-00000000", "storage_url": "s3://b", "gpu_platform": "gpu",
                                     "video": "v", "auto_labeling_model_cache_url": "s3://b/x", "skills_dir": "/s", "conditions": value})


def test_explicit_pairs_win_and_may_name_alternatives():
    assert format_conditions(resolve_conditions("rainy", {"weather": "fog|snow"}, "city_traffic")) == "weather:fog|snow"


@pytest.mark.parametrize(("text", "explicit", "named"), [
    ("rainy", {}, "lighting: bright, moderate, dim"),
    (None, {"season": "winter"}, "no variable 'season'"),
    (None, {"lighting": "neon"}, "no option 'neon'"),
])
def test_what_the_cookbook_lacks_is_refused_naming_what_it_has(text, explicit, named):
    with pytest.raises(InputError) as caught:
        resolve_conditions(text, explicit, "robot_assembly")
    assert caught.value.code == "unknown-condition" and named in str(caught.value)


def test_routing_names_the_looks_of_an_augmenting_request_only():
    from skill.conditions import route_with_looks

    assert route_with_looks("make rainy and night versions of my clips").conditions == "weather:rain,time_of_day:night"
    assert route_with_looks("label my clips recorded at night", label_only=True).conditions is None
    snowless = route_with_looks("augment my clips in a dimly lit hall")  # city_traffic has no lighting variable
    assert snowless.conditions is None and "cannot render" in snowless.reason

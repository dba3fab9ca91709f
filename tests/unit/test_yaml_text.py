"""``skill.yaml_text``: ``dump_exact`` writes exactly what ``yaml.dump`` writes (OSMO's CLI dumps with
it); ``load`` reads what ``yaml.safe_load`` reads."""

from __future__ import annotations

import random

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skill import yaml_text
from skill.paths import cookbooks_dir, scripts_dir, workflow_path
from skill.render import render_submit

# the characters the emitter treats specially, mixed with plain ones
_TRICKY = list("  -:#?,[]{}&*!|>'\"%@`\n\t\r\\\0\x07\x1b\x85\xa0\u2028\u2029\ufeff\u00e9\U0001f600.~")
_PLAIN = list("abcdefgh")


def _shapes(text: str) -> list[object]:
    """``text`` where the emitter meets it: alone, as a value at several depths, as a key."""
    return [text, {"k": text}, [{"contents": text, "path": "x"}], {"a": {"b": [{"c": text}]}}, {text: [text]}]


def _same(data: object) -> None:
    assert yaml_text.dump_exact(data) == yaml.dump(data)


def test_every_shipped_script_inlined_as_a_file_dumps_the_same() -> None:
    scripts = sorted(p for p in scripts_dir().rglob("*") if p.is_file() and p.suffix in (".sh", ".py"))
    assert len(scripts) >= 5
    for script in scripts:
        for data in _shapes(script.read_text(encoding="utf-8")):
            _same(data)


def test_the_e2e_spec_with_its_files_inlined_dumps_the_same() -> None:
    values = {"dataset": "clips-1", "run_id": "run-1a2b3c4d", "storage_url": "s3://bucket/prefix",
              "gpu_platform": "gpu", "video": "clip", "skills_dir": str(scripts_dir().parent),
              "cosmos_model_cache_url": "s3://bucket/prefix/data/models/cosmos_transfer",
              "auto_labeling_model_cache_url": "s3://bucket/prefix/data/models/auto_labeling"}
    rendered = render_submit(workflow_path("e2e").read_text(encoding="utf-8"), set_string=values,
                             source=str(workflow_path("e2e")))
    assert rendered.inlined and len(rendered.submitted) > 20_000  # the worker scripts are in it
    submitted = yaml.safe_load(rendered.submitted)
    assert rendered.submitted == yaml.dump(submitted)


@pytest.mark.parametrize("seed", range(2))
def test_generated_strings_dump_the_same(seed: int) -> None:
    rnd = random.Random(seed)
    for _ in range(1000):
        length = rnd.choice([1, 2, 3, 5, 12, 60, 81, 160, 400])
        text = "".join(rnd.choice(_TRICKY if rnd.random() < 0.4 else _PLAIN) for _ in range(length))
        for data in _shapes(text):
            _same(data)


def test_long_lines_of_words_fold_the_same() -> None:
    rnd = random.Random(7)
    words = ["x", "word", "a-much-longer-word", "{{value}}", "${#arr[@]}", "\\path", '"quoted"']
    for _ in range(300):
        text = " ".join(rnd.choice(words) for _ in range(rnd.randint(20, 120)))
        text = text.replace(" ", rnd.choice([" ", "  ", "\n", " \n", "\n "]), rnd.randint(0, 6))
        for data in _shapes(text):
            _same(data)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_dumps_the_same(text: str) -> None:
    for data in _shapes(text):
        _same(data)


def test_other_options_keep_pyyaml_s_own_methods() -> None:
    text = "caf\u00e9 \u2028 line\n  indented " * 8
    for data in _shapes(text):
        assert yaml.dump(data, Dumper=yaml_text.ExactDumper, allow_unicode=True) == yaml.dump(data, allow_unicode=True)
        assert yaml.dump(data, Dumper=yaml_text.ExactDumper, encoding="utf-8") == yaml.dump(data, encoding="utf-8")


def test_load_reads_what_safe_load_reads() -> None:
    texts = [p.read_text(encoding="utf-8") for p in sorted(cookbooks_dir().rglob("*.yaml"))]
    assert len(texts) >= 10
    texts.append(yaml.dump({"a": [1, 1.5, "1", True, None, "2026-12-07", {"b": "x\ny"}]}))
    for text in texts:
        assert yaml_text.load(text) == yaml.safe_load(text)
    with pytest.raises(yaml.YAMLError):
        yaml_text.load("a: [unclosed")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_dump_gives_back_the_data_with_sorted_keys(text: str) -> None:
    for data in [*_shapes(text), {"z": 1, "a": [True, None, 1.5, "1", text]}]:
        written = yaml_text.dump(data)
        assert yaml_text.load(written) == yaml.safe_load(written) == data


def test_a_rendered_spec_s_text_reads_back_as_its_workflow() -> None:
    from skill.render import render_workflow

    values = {"dataset": "clips-1", "run_id": "run-1a2b3c4d", "storage_url": "s3://bucket/prefix", "gpu_platform": "gpu",
              "video": "clip", "skills_dir": str(scripts_dir().parent),
              "cosmos_model_cache_url": "s3://bucket/prefix/data/models/cosmos_transfer",
              "auto_labeling_model_cache_url": "s3://bucket/prefix/data/models/auto_labeling"}
    spec = render_workflow(workflow_path("e2e"), set_string=values)
    again = yaml.safe_load(spec.text)["workflow"]
    assert again["name"] == spec.name and len(again["groups"]) == len(spec.groups) == 4
    assert [[task["name"] for task in group["tasks"]] for group in again["groups"]] == [[task.name for task in group.tasks] for group in spec.groups]
    assert list(again) == sorted(again)  # keys sorted, as before

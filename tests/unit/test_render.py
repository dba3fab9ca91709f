"""The renderer follows OSMO's rules and never lets a value change the workflow's structure."""

from __future__ import annotations

import re
import shutil
import string
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from skill.errors import InputError, UndefinedVariable
from skill.paths import workflow_path
from skill.render import parse_set_pairs, render_text, render_workflow, split_sections

FULL = {
    "dataset": "vda-demo",
    "run_id": "run-1a2b3c4d",
    "storage_url": "s3://bucket/prefix",
    "gpu_platform": "gpu",
    "video": "clip",
    "skills_dir": "/abs/skill",
    "cosmos_model_cache_url": "s3://bucket/prefix/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "s3://bucket/prefix/data/models/auto_labeling",
}

SIMPLE = """\
workflow:
  name: "{{name}}"
  groups:
  - name: first
    tasks:
    - name: make
      image: ubuntu
      command: [bash]
      args: ["-c", "echo {{greeting}} > {{output}}/x"]
      environment:
        WHO: "{{ who }}"
  - name: second
    tasks:
    - name: use
      image: ubuntu
      command: [bash]
      args: ["-c", "cat {{input:0}}/x"]
      inputs:
      - task: make
default-values:
  name: demo
  greeting: hello
  who: world
"""


def test_defaults_then_set_then_set_string_precedence():
    spec = render_text(SIMPLE, set_values=["who=42"], set_string=["greeting=hi"])
    make = spec.task("make")
    assert make.args[1] == "echo hi > {{output}}/x"
    assert make.environment["WHO"] == "42"
    assert spec.name == "demo"


def test_runtime_tokens_are_left_for_the_executor():
    spec = render_text(SIMPLE)
    assert "{{output}}" in spec.task("make").args[1]
    assert spec.task("use").args[1] == "cat {{input:0}}/x"


def test_undefined_variable_is_named():
    text = SIMPLE.replace("  who: world\n", "")
    with pytest.raises(UndefinedVariable) as err:
        render_text(text)
    assert err.value.variable == "who"
    assert "'who'" in err.value.message and err.value.code == "undefined-variable"


def test_runtime_token_with_spaces_is_an_undefined_variable_as_on_osmo():
    with pytest.raises(UndefinedVariable) as err:
        render_text(SIMPLE.replace("{{output}}", "{{ output }}"))
    assert err.value.variable == "output"


def test_set_pairs_split_on_first_equals_and_reject_missing_equals():
    assert parse_set_pairs(["url=s3://b/p?x=1"], flag="--set-string") == {"url": "s3://b/p?x=1"}
    with pytest.raises(InputError):
        parse_set_pairs(["novalue"], flag="--set-string")


@pytest.mark.parametrize(
    "mutation, message",
    [
        (lambda t: t.replace("  groups:", "  tasks: [{name: a, image: u, command: [x]}]\n  groups:"), "both groups and tasks"),
        (lambda t: t.replace("    - name: use\n", "    - name: other\n      image: u\n      command: [x]\n    - name: use\n"), "0 leader(s)"),
        (lambda t: t.replace("name: use", "name: MAKE"), "used twice"),
        (lambda t: t.replace("- task: make", "- task: later"), "does not exist before"),
        (lambda t: t.replace("name: demo", "name: 9bad"), "not a valid name"),
        (lambda t: "extra: 1\n" + t, "unknown top-level key"),
    ],
)
def test_validation_errors(mutation, message):
    with pytest.raises(InputError) as err:
        render_text(mutation(SIMPLE))
    assert message in str(err.value)


def test_input_from_own_group_is_rejected():
    text = SIMPLE.replace("  - name: second\n    tasks:\n", "").replace("    - name: make\n", "    - name: make\n      lead: true\n")
    with pytest.raises(InputError, match="own group"):
        render_text(text)


def test_flat_tasks_become_task_groups_with_leads():
    text = "workflow:\n  name: w\n  tasks:\n  - name: a\n    image: u\n    command: [x]\n  - name: b\n    image: u\n    command: [x]\n    inputs:\n    - task: a\n"
    spec = render_text(text)
    assert [g.name for g in spec.groups] == ["a-group", "b-group"]
    assert all(g.tasks[0].lead for g in spec.groups) and spec.flat_tasks


def test_sections_reject_duplicates_and_require_workflow():
    with pytest.raises(InputError, match="repeats"):
        split_sections("workflow:\n  a: 1\nworkflow:\n  b: 2\n")
    with pytest.raises(InputError, match="no workflow"):
        split_sections("default-values:\n  a: 1\n")


def test_templated_default_is_resolved_at_the_second_render():
    # OSMO's dry run pastes the default's text; the second render of the whole text resolves it
    values = {k: v for k, v in FULL.items() if k != "cosmos_model_cache_url"}
    spec = render_workflow(workflow_path("augmentation_and_al"), set_string=values)
    urls = [i.url for i in spec.task("cosmos_worker_0").inputs if i.url]
    assert "s3://bucket/prefix/data/models/cosmos_transfer" in urls
    assert not any("{{" in u for u in urls)


def test_a_default_naming_another_default_is_undefined_at_the_second_render():
    # the dumped dry-run spec has no default-values: only --set/--set-string reach the second render
    text = SIMPLE.replace("  who: world\n", "  who: world\n  base: s3://b\n  where: \"{{base}}/x\"\n").replace('WHO: "{{ who }}"', 'WHO: "{{ where }}"')
    with pytest.raises(UndefinedVariable) as err:
        render_text(text)
    assert err.value.variable == "base"
    assert render_text(text, set_string=["base=s3://c"]).task("make").environment["WHO"] == "s3://c/x"


def test_fan_out_builds_one_worker_per_slot_with_a_single_lead():
    spec = render_workflow(workflow_path("augmentation_and_al"), set_string={**FULL, "workers": "3"})
    group = next(g for g in spec.groups if g.name == "augmentation_group")
    assert [t.name for t in group.tasks] == ["cosmos_worker_0", "cosmos_worker_1", "cosmos_worker_2"]
    assert [t.lead for t in group.tasks] == [True, False, False]
    assert spec.task("pl_augmented_worker_2").inputs[1].task == "cosmos_worker_2"


def test_text_is_sorted_yaml_of_the_rendered_spec():
    spec = render_workflow(workflow_path("augmentation_and_al"), set_string=FULL)
    loaded = yaml.safe_load(spec.text)
    assert loaded["workflow"]["name"] == "vda-demo"
    assert list(loaded["workflow"]) == sorted(loaded["workflow"])


_ODD = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"),
    min_size=0,
    max_size=40,
) | st.sampled_from(['a"b', "a'b", "x; rm -rf /", "$(id)", "`id`", "a: b", "- x", "{{7*7}}", "{% raw %}", "#c", "ü✓🎥", "a\nb: c", "&anchor", "*ref", "!!python/object"])


def _refusable(value: str) -> bool:
    control = any(ch in value for ch in [chr(c) for c in [*range(32), *range(0x7F, 0xA0)] if c != 9] + ["\ufffe", "\uffff"])
    jinja = any(m in value for m in ("{{", "{%", "{#"))
    yaml_syntax = any(ch in value for ch in "\"'\\#:{}[],&*!|>%@`") or value != value.strip() or value.startswith("-")
    return control or jinja or yaml_syntax


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=_ODD)
def test_odd_values_arrive_literally_or_are_rejected(value):
    try:
        spec = render_workflow(workflow_path("augmentation_and_al"), set_string={**FULL, "video": value, "dataset": "ds"})
    except InputError as err:
        # refusals: a line break / control character, Jinja syntax (OSMO would evaluate it at the
        # second render) or YAML syntax that would change the spec once OSMO pastes the value in
        assert err.code == "invalid-value"
        assert _refusable(value)
        return
    env = spec.task("cosmos_worker_0").environment
    assert env["VIDEO_NAME"] == value
    # the structure is untouched: same tasks, same keys
    assert [t.name for t in spec.tasks] == ["setup", "cosmos_worker_0", "pl_augmented_worker_0"]
    assert set(env) == {
        "VIDEO_NAME", "WORKER_ID", "NUM_WORKERS", "VLM_URL", "LLM_URL", "SETUP_DIR", "VIDEO_INPUT",
        "HF_HUB_CACHE", "OUTPUT_DIR", "COSMOS_BARRIER_RANK", "COSMOS_BARRIER_NUM_NODES", "COSMOS_BARRIER_HOST",
        "VDA_AUGMENT_ENGINE", "VDA_LABEL_ENGINE", "VDA_VLM_MODEL", "VDA_LLM_MODEL",
    }


@settings(max_examples=60, deadline=None)
@given(value=st.text(alphabet=string.printable.replace("\n", "").replace("\r", "").replace("\x0b", "").replace("\x0c", ""), max_size=30))
def test_storage_url_values_are_never_executed_or_split(value):
    try:
        spec = render_workflow(workflow_path("augmentation_and_al"), set_string={**FULL, "storage_url": value})
    except InputError as err:
        assert err.code == "invalid-value" and _refusable(value)
        return
    assert spec.task("setup").inputs[0].url == f"{value}/datasets/vda-demo"


# --- OSMO 6.3.1's whole submit path ------------------------------------------------------------

from skill.paths import skill_root  # noqa: E402
from skill.render import render_submit  # noqa: E402
from tests.fakes.osmo_cli import SubmitRefused, submit_pipeline  # noqa: E402

WORKFLOWS = ("auto_labeling", "augmentation_and_al", "augmentation_and_pl", "e2e", "e2e_super_resolution", "setup_model_cache")


def canonical(name: str, **extra: str) -> dict[str, str]:
    if name == "setup_model_cache":
        return {"storage_url": FULL["storage_url"], **extra}
    values = {**FULL, "skills_dir": str(skill_root()), **extra}
    if name == "auto_labeling":
        values.pop("cosmos_model_cache_url")
    return values


@pytest.mark.parametrize("workers", [None, "3"])
@pytest.mark.parametrize("name", WORKFLOWS)
def test_every_workflow_passes_both_renders_with_its_staged_files_inlined(name, workers):
    values = canonical(name, **({"workers": workers} if workers else {}))
    path = workflow_path(name)
    passes = render_submit(path.read_text(encoding="utf-8"), set_string=values, template=name, source=str(path))
    assert not passes.missing
    if name != "setup_model_cache":
        assert {Path(f.localpath).name for f in passes.inlined} >= {"setup_task.sh", "endpoint_common.sh", "barrier.py"}
    spec = render_workflow(path, set_string=values)
    if workers:
        assert sum(t.name.startswith(("pl_", "cosmos_")) for t in spec.tasks) % 3 == 0
    # the double's independent reimplementation of OSMO's path agrees
    final = yaml.safe_load(submit_pipeline(path, [], [f"{k}={v}" for k, v in values.items()]))
    assert final["workflow"]["name"] == spec.name


def test_every_staged_file_is_free_of_jinja_syntax():
    root = skill_root()
    staged = set()
    for name in WORKFLOWS:
        for rel in re.findall(r'localpath: "\{\{skills_dir\}\}/([^"]+)"', workflow_path(name).read_text(encoding="utf-8")):
            for scene in ("city_traffic", "piazza", "warehouse", "robot_assembly", "trailer_dashcam"):
                staged.add(rel.replace("{{cookbook}}", scene))
    assert len(staged) > 40
    for rel in sorted(staged):
        text = (root / rel).read_text(encoding="utf-8")
        assert not re.search(r"\{[{%#]", text), rel


def _skill_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "skill"
    for sub in ("scripts", "skill/engines", "assets/cookbooks"):
        shutil.copytree(skill_root() / sub, copy / sub)
    return copy


def test_a_staged_file_with_bash_length_expansion_is_named_with_its_line(tmp_path):
    copy = _skill_copy(tmp_path)
    target = copy / "scripts" / "endpoint_common.sh"
    lines = target.read_text(encoding="utf-8").splitlines()
    lines.insert(4, 'n=${#items[@]}')
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    values = canonical("e2e", skills_dir=str(copy))
    with pytest.raises(InputError) as err:
        render_workflow(workflow_path("e2e"), set_string=values)
    assert err.value.code == "invalid-workflow"
    assert "endpoint_common.sh" in err.value.message and "line 5" in err.value.message
    assert "TemplateSyntaxError" in err.value.message
    # OSMO refuses it the same way, on the final submit
    with pytest.raises(SubmitRefused) as refused:
        submit_pipeline(workflow_path("e2e"), [], [f"{k}={v}" for k, v in values.items()])
    assert refused.value.wrapped and refused.value.message.startswith("Jinja substitution failure: <class 'jinja2.exceptions.TemplateSyntaxError'>")


def test_a_staged_file_that_the_second_render_would_change_is_named(tmp_path):
    copy = _skill_copy(tmp_path)
    target = copy / "skill" / "engines" / "configs.py"
    target.write_text(target.read_text(encoding="utf-8") + '# {{ dataset }}\n', encoding="utf-8")
    with pytest.raises(InputError) as err:
        render_workflow(workflow_path("e2e"), set_string=canonical("e2e", skills_dir=str(copy)))
    assert "configs.py" in err.value.message and "would change" in err.value.message


def test_a_staged_file_outside_skills_dir_is_refused(tmp_path):
    copy = _skill_copy(tmp_path)
    text = workflow_path("auto_labeling").read_text(encoding="utf-8").replace(
        '"{{skills_dir}}/scripts/setup_task.sh"', f'"{skill_root()}/scripts/setup_task.sh"')
    with pytest.raises(InputError, match="outside skills_dir"):
        render_text(text, set_string=canonical("auto_labeling", skills_dir=str(copy)))


def test_a_value_holding_jinja_is_refused_because_osmo_would_evaluate_it():
    values = canonical("augmentation_and_al", video="{{dataset}}")
    with pytest.raises(InputError) as err:
        render_workflow(workflow_path("augmentation_and_al"), set_string=values)
    assert err.value.code == "invalid-value" and "video" in err.value.message
    # what OSMO does with it: the second render evaluates the value
    final = yaml.safe_load(submit_pipeline(workflow_path("augmentation_and_al"), [], [f"{k}={v}" for k, v in values.items()]))
    envs = [t["environment"] for g in final["workflow"]["groups"] for t in g["tasks"] if "VIDEO_NAME" in t.get("environment", {})]
    assert envs and all(e["VIDEO_NAME"] == FULL["dataset"] for e in envs)


def test_a_value_with_a_quote_breaks_the_yaml_as_on_osmo():
    values = canonical("augmentation_and_al", video='a"b')
    with pytest.raises(InputError) as err:
        render_workflow(workflow_path("augmentation_and_al"), set_string=values)
    assert err.value.code == "invalid-value" and "video" in err.value.message and 'a"b' not in err.value.message
    with pytest.raises(SubmitRefused, match="not properly formatted"):
        submit_pipeline(workflow_path("augmentation_and_al"), [], [f"{k}={v}" for k, v in values.items()])


def test_a_boolean_default_renders_like_python():
    text = SIMPLE.replace("  who: world\n", "  who: true\n")
    assert render_text(text).task("make").environment["WHO"] == "True"


LONG = "n" * 65


@pytest.mark.parametrize("where", ["workflow", "group", "task"])
def test_names_longer_than_64_characters_are_refused(where):
    text = {
        "workflow": SIMPLE.replace('name: "{{name}}"', f"name: {LONG}"),
        "group": SIMPLE.replace("- name: first", f"- name: {LONG}"),
        "task": SIMPLE.replace("- name: make", f"- name: {LONG}").replace("task: make", f"task: {LONG}"),
    }[where]
    with pytest.raises(InputError, match="at most 64"):
        render_text(text)
    assert render_text(text.replace(LONG, "n" * 64))


def test_workflow_labels_is_refused():
    text = SIMPLE.replace('  name: "{{name}}"\n', '  name: "{{name}}"\n  labels:\n    team: vda\n')
    with pytest.raises(InputError, match="workflow.labels"):
        render_text(text)


def test_through_the_double_a_syntax_error_is_not_an_interpolation_failure(tmp_path):
    """A file broken after the guard ran: the double (OSMO's path) refuses the submit with the real
    TemplateSyntaxError text, and the submit step does not take it for an undefined variable."""
    from skill.backends.osmo import OsmoBackend
    from skill.errors import CommandFailed
    from skill.steps.submit import is_interpolation_failure
    from tests.fakes.osmo_cli import install

    copy = _skill_copy(tmp_path)
    values = canonical("e2e", skills_dir=str(copy))
    spec = render_workflow(workflow_path("e2e"), set_string=values)
    target = copy / "scripts" / "cosmos_worker.sh"
    target.write_text(target.read_text(encoding="utf-8") + 'echo "${#done[@]}"\n', encoding="utf-8")
    double = install(tmp_path / "osmo", {})
    backend = OsmoBackend(double.executable, timeout=20, sleep=lambda _s: None)
    with pytest.raises(CommandFailed) as err:
        backend.submit(spec, pool="gpu")
    said = f"{err.value.message}\n{err.value.output_tail}"
    assert "TemplateSyntaxError" in said and "Missing end of comment tag" in said
    assert not is_interpolation_failure(err.value)
    assert double.calls()[-1][:2] == ["workflow", "submit"] and len(double.calls()) == 1


def test_the_same_render_again_is_remembered_but_sees_a_staged_file_change(tmp_path):
    copy = _skill_copy(tmp_path)
    values = canonical("e2e", skills_dir=str(copy))
    first = render_workflow(workflow_path("e2e"), set_string=values)
    first.groups[0].tasks.clear()  # the caller's copy is its own
    again = render_workflow(workflow_path("e2e"), set_string=values)
    assert again.groups[0].tasks and again == render_workflow(workflow_path("e2e"), set_string=dict(values))
    # a staged file edited between the guard and submit is read again, and its new line is judged
    target = copy / "scripts" / "endpoint_common.sh"
    target.write_text(target.read_text(encoding="utf-8") + "n=${#items[@]}\n", encoding="utf-8")
    with pytest.raises(InputError, match="endpoint_common.sh"):
        render_workflow(workflow_path("e2e"), set_string=values)

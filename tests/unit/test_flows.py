"""Flow catalogue, ETA, resolve_workflow, intent routing and the `vda flow` command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from skill.errors import InputError, NotFound
from skill.flows import (
    CACHE_WORKFLOW,
    DEFAULT_FLOW,
    Eta,
    FlowChoice,
    canonical_name,
    catalogue,
    eta,
    get_flow,
    resolve_workflow,
    route,
)
from skill.models import FLOWS
from skill.paths import workflow_path
from skill.render import render_workflow
from tools.cli import main

AL, A, E, SR, N = "auto_labeling", "augmentation_and_al", "e2e", "e2e_super_resolution", None

# (request, expected flow; None = not a run request)
PHRASES: list[tuple[str, str | None]] = [
    # auto_labeling: label only
    ("Label my source videos", AL),
    ("label only please, no augmentation", AL),
    ("PL-only run on s3://metro-vda/datasets/city-traffic-raw", AL),
    ("auto-labeling only on s3://metro-vda/datasets/city-traffic-raw", AL),
    ("Pseudo-label these clips", AL),
    ("Run pseudo-labeling on my dataset without augmentation", AL),
    ("just annotate my dashcam footage", AL),
    ("auto-label my clips", AL),
    ("Annotate the videos in azure://acct/cont/datasets/warehouse, don't augment them", AL),
    ("I only need labels for my warehouse recordings", AL),
    ("label my videos, augmentation is not needed", AL),
    ("Run auto_labeling on the demo", AL),
    ("auto-label my clips quickly", AL),
    ("Generate captions and MCQ labels for my videos, skip augmentation", AL),
    ("label my clips with no augmentation", AL),
    # augmentation_and_al: augment (+ label), and the default
    ("Augment and label my videos", A),
    ("augment my dataset", A),
    ("Create weather variations of my traffic clips", A),
    ("make it rainy", A),
    ("Make my clips look like night time and label them", A),
    ("run the VDA demo", A),
    ("Run VDA on s3://metro-vda/datasets/city-traffic-raw", A),
    ("please process my videos", A),
    ("Add snow and fog to these videos", A),
    ("run augmentation_and_al on the demo dataset", A),
    ("enrich my dataset with lighting variations", A),
    ("Augment my videos with rain but no super-resolution", A),
    ("augment my clips, no SR", A),
    ("Can you augment my dashcam clips with rain and label them?", A),
    ("augment my videos, I don't need super resolution", A),
    # the legacy alias
    ("Submit augmentation_and_pl for my dataset", A),
    ("use the augmentation_and_pl flow on the demo", A),
    # e2e: full pipeline, fast, both label sets
    ("Run the full pipeline quickly", E),
    ("run the full pipeline on my clips", E),
    ("end-to-end run on the demo", E),
    ("augment and label as fast as possible", E),
    ("augment my videos in parallel", E),
    ("I need maximum throughput: augment and label my footage", E),
    ("label originals and augmented clips", E),
    ("I want labels for both the originals and the augmented videos", E),
    ("run e2e on my dataset", E),
    ("full pipeline without super-resolution", E),
    ("Run the whole workflow end to end, no SR", E),
    # e2e_super_resolution
    ("full pipeline gated on SR-enhanced originals", SR),
    ("my clips are low-res, run the full pipeline", SR),
    ("upscale my videos before augmenting and labeling", SR),
    ("run super-resolution then augment and label", SR),
    ("enhance resolution first, then augment", SR),
    ("run e2e_super_resolution on the demo", SR),
    ("SR-gated end-to-end run please", SR),
    ("Run e2e-sr on s3://bucket/datasets/foo", SR),
    # not run requests: tuning, NIM deployment, other tasks, questions about flows
    ("how do I tune cosmos sigma", N),
    ("What does guidance do?", N),
    ("what does guidance do", N),
    ("How do I deploy the qwen3-vl NIM?", N),
    ("deploy the NIMs on my cluster", N),
    ("Install the NIM operator with helm", N),
    ("Detect defects on my PCBA images", N),
    ("Convert this URDF to USD", N),
    ("What is the e2e flow?", N),
    ("explain augmentation_and_al", N),
    ("What's the difference between e2e and e2e_super_resolution?", N),
    ("Which flow should I use to label my videos?", N),
    ("what are the tuning parameters for the edge control weight", N),
    ("don't run anything yet", N),
    ("hello", N),
    ("run the unit tests", N),
    ("", N),
]


def test_phrase_table_is_broad() -> None:
    assert len(PHRASES) >= 50
    assert {want for _, want in PHRASES} == {*FLOWS, None}


@pytest.mark.parametrize(("text", "want"), PHRASES, ids=[t[:48] or "<empty>" for t, _ in PHRASES])
def test_route_phrase(text: str, want: str | None) -> None:
    choice = route(text)
    assert (choice.flow, choice.is_run_request) == (want, want is not None), choice.reason
    if want is None:
        assert choice.workflow is None and choice.eta is None
        assert choice.reason.startswith("Not a run request")
    else:
        assert choice.workflow == str(workflow_path(want))
        assert choice.eta is not None and choice.eta.flow == want


@pytest.mark.parametrize(
    ("plain", "negated"),
    [
        ("augment my videos", "label my videos, don't augment"),
        ("augment my videos", "label my videos without augmentation"),
        ("run the full pipeline with super-resolution", "run the full pipeline, no SR"),
        ("upscale my clips and augment them", "augment my clips, no upscaling"),
    ],
)
def test_negation_changes_the_choice(plain: str, negated: str) -> None:
    assert route(plain).flow != route(negated).flow


def test_negated_mentions_are_marked_in_the_reason() -> None:
    reason = route("augment my clips, no SR").reason
    assert '"SR" (negated)' in reason


def test_alias_reason_says_it_is_an_alias() -> None:
    choice = route("submit augmentation_and_pl on my clips")
    assert choice.flow == "augmentation_and_al"
    assert "legacy alias" in choice.reason


def test_default_flow_reason() -> None:
    choice = route("run the vda demo")
    assert choice.flow == DEFAULT_FLOW
    assert "default" in choice.reason


def test_explicit_flow_wins_over_text() -> None:
    choice = route("label only, no augmentation", flow="e2e")
    assert choice.flow == "e2e" and choice.is_run_request
    assert "explicitly" in choice.reason


def test_explicit_alias_flow() -> None:
    choice = route("", flow="augmentation_and_pl")
    assert choice.flow == "augmentation_and_al"
    assert "legacy alias" in choice.reason


def test_explicit_cache_workflow() -> None:
    choice = route("", flow="setup_model_cache")
    assert choice.flow == CACHE_WORKFLOW
    assert choice.eta is not None and choice.eta.flow_minutes.max_minutes == 25


@pytest.mark.parametrize(
    ("kwargs", "want"),
    [
        ({"super_resolution": True}, SR),
        ({"label_only": True}, AL),
        ({"label_only": True, "text": "augment everything in parallel"}, AL),
        ({"label_only": False, "text": "label my clips"}, A),
        ({"label_only": False, "super_resolution": False, "text": "as fast as possible"}, E),
        ({"super_resolution": False, "text": "full pipeline on low-res clips"}, E),
    ],
)
def test_flags_constrain_the_choice(kwargs: dict, want: str) -> None:
    text = kwargs.pop("text", "")
    choice = route(text, **kwargs)
    assert choice.flow == want and choice.is_run_request


@pytest.mark.parametrize(
    "kwargs",
    [
        {"label_only": True, "super_resolution": True},
        {"flow": "auto_labeling", "super_resolution": True},
        {"flow": "e2e", "label_only": True},
        {"flow": "e2e_super_resolution", "super_resolution": False},
    ],
)
def test_conflicting_flags(kwargs: dict) -> None:
    with pytest.raises(InputError) as info:
        route("", **kwargs)
    assert info.value.code == "conflicting-flow-flags"


def test_route_unknown_explicit_flow() -> None:
    with pytest.raises(InputError) as info:
        route("", flow="e2e_superres")
    assert info.value.code == "unknown-flow"


def test_route_local_backend_eta() -> None:
    choice = route("augment my clips", backend="local")
    assert choice.eta is not None and choice.eta.backend == "local"


_WORDS = st.sampled_from(
    ["augment", "label", "only", "no", "don't", "SR", "full", "pipeline", "quickly", "my", "clips", "how", "tune",
     "sigma", "?", ",", "NIM", "deploy", "originals", "and", "augmented", "e2e", "augmentation_and_pl", "without"]
)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=80), st.lists(_WORDS, max_size=12).map(" ".join)))
def test_route_never_raises_on_text(text: str) -> None:
    choice = route(text)
    assert (choice.flow is None) == (not choice.is_run_request) == (choice.eta is None)
    assert choice.flow is None or choice.flow in FLOWS


def test_flow_choice_round_trips_through_json() -> None:
    choice = route("run the full pipeline quickly")
    again = FlowChoice.model_validate_json(choice.model_dump_json())
    assert again.flow == choice.flow and again.eta == choice.eta


# --- catalogue -------------------------------------------------------------------------------


def test_catalogue_entries() -> None:
    names = [info.name for info in catalogue()]
    assert names == [*FLOWS, CACHE_WORKFLOW]
    assert get_flow("augmentation_and_pl").name == "augmentation_and_al"
    assert get_flow("augmentation_and_al").aliases == ["augmentation_and_pl"]


@pytest.mark.parametrize(
    ("name", "augments", "labels_original", "labels_augmented", "sr", "caches"),
    [
        (AL, False, True, False, False, ["auto_labeling_model_cache_url"]),
        (A, True, False, True, False, ["cosmos_model_cache_url", "auto_labeling_model_cache_url"]),
        (E, True, True, True, False, ["cosmos_model_cache_url", "auto_labeling_model_cache_url"]),
        (SR, True, True, True, True, ["cosmos_model_cache_url", "auto_labeling_model_cache_url"]),
        (CACHE_WORKFLOW, False, False, False, False, []),
    ],
)
def test_catalogue_features(name, augments, labels_original, labels_augmented, sr, caches) -> None:
    info = get_flow(name)
    assert (info.augments, info.labels_original, info.labels_augmented, info.super_resolution) == (
        augments, labels_original, labels_augmented, sr)
    assert info.cache_vars == caches
    assert info.workflow == str(workflow_path(name))


def test_parallel_groups() -> None:
    assert ["auto_labeling_original_group", "augmentation_group"] in get_flow(E).graph.parallel
    assert get_flow(A).graph.parallel == []
    assert get_flow(SR).graph.parallel == []
    assert len(get_flow(CACHE_WORKFLOW).graph.parallel) == 1


_VALUES = {
    "dataset": "vda-demo", "run_id": "run-1a2b3c4d", "storage_url": "s3://bucket", "gpu_platform": "gpu",
    "video": "clip", "skills_dir": "/opt/skill",
    "cosmos_model_cache_url": "s3://bucket/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": "s3://bucket/data/models/auto_labeling",
}


@pytest.mark.parametrize("name", [*FLOWS, CACHE_WORKFLOW])
def test_catalogue_graph_matches_the_workflow_yaml(name: str) -> None:
    info = get_flow(name)
    if not Path(info.workflow).is_file():
        pytest.skip(f"{name}.yaml is not in this checkout yet")
    spec = render_workflow(info.workflow, set_string=_VALUES)
    assert [g.name for g in spec.groups] == info.graph.groups
    rendered = {}
    for group in spec.groups:
        ups = {spec.group_of(i.task).name for t in group.tasks for i in t.inputs if i.task}
        if ups:
            rendered[group.name] = ups
    assert rendered == {g: set(deps) for g, deps in info.graph.depends_on.items()}


# --- ETA -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "low", "high"),
    [(AL, 6, 15), (A, 20, 35), (E, 22, 40), (SR, 25, 45), (CACHE_WORKFLOW, 15, 25)],
)
def test_osmo_flow_runtimes_follow_upstream(name: str, low: int, high: int) -> None:
    estimate = eta(name)
    assert (estimate.flow_minutes.min_minutes, estimate.flow_minutes.max_minutes) == (low, high)


def test_osmo_phases_and_totals() -> None:
    estimate = eta(A)
    phases = {p.name: (p.min_minutes, p.max_minutes, p.applies) for p in estimate.phases}
    assert phases == {
        "credentials + preflight": (1, 2, "always"),
        "NIM deploy/download/warm-up": (10, 15, "cold"),
        "demo download/upload": (1, 3, "cold"),
        "model cache population": (15, 25, "cold"),
        "submit + queue": (1, 3, "always"),
    }
    assert (estimate.cold_total.min_minutes, estimate.cold_total.max_minutes) == (48, 83)
    assert (estimate.warm_total.min_minutes, estimate.warm_total.max_minutes) == (22, 40)
    # within rounding of upstream's measured end-to-end baseline (cold 45-80, warm 20-45)
    assert abs(estimate.cold_total.min_minutes - 45) <= 3 and abs(estimate.cold_total.max_minutes - 80) <= 3
    assert abs(estimate.warm_total.min_minutes - 20) <= 2 and abs(estimate.warm_total.max_minutes - 45) <= 5


@pytest.mark.parametrize("name", [*FLOWS, CACHE_WORKFLOW])
@pytest.mark.parametrize("backend", ["osmo", "local"])
def test_eta_text_mentions_cold_and_warm(name: str, backend: str) -> None:
    text = eta(name, backend=backend).text()  # type: ignore[arg-type]
    assert "Cold start" in text and "Warm start" in text
    assert "estimate" in text
    assert "\n" not in text


def test_osmo_eta_text_quotes_totals_and_baseline() -> None:
    text = eta(E).text()
    assert "50-88 min" in text and "24-45 min" in text
    assert "45-80" in text and "20-45" in text


def test_local_eta_scales_with_clip_length() -> None:
    short, long = eta(A, backend="local", clip_seconds=5), eta(A, backend="local", clip_seconds=20)
    assert long.flow_minutes.max_minutes == pytest.approx(4 * short.flow_minutes.max_minutes)
    assert short.minutes_per_clip_second is not None and short.clip_seconds == 5
    assert "per second of clip" in short.text()


def test_local_eta_rejects_bad_clip_length() -> None:
    with pytest.raises(InputError):
        eta(A, backend="local", clip_seconds=0)


def test_cache_workflow_has_no_cold_phases() -> None:
    assert not [p for p in eta(CACHE_WORKFLOW).phases if p.applies == "cold"]


def test_eta_round_trips_through_json() -> None:
    estimate = eta(E)
    assert Eta.model_validate_json(estimate.model_dump_json()) == estimate


# --- names and resolve_workflow ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "want"),
    [("e2e", "e2e"), ("E2E-Super-Resolution", SR), ("augmentation_and_pl", A), ("e2e_sr", SR),
     ("auto_labeling.yaml", AL), (" setup_model_cache ", CACHE_WORKFLOW)],
)
def test_canonical_name(given: str, want: str) -> None:
    assert canonical_name(given) == want


@pytest.fixture
def skill_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    osmo = tmp_path / "assets" / "configs" / "osmo"
    osmo.mkdir(parents=True)
    for name in [*FLOWS, CACHE_WORKFLOW]:
        (osmo / f"{name}.yaml").write_text("workflow:\n  name: x\n", encoding="utf-8")
    monkeypatch.setenv("VDA_SKILL_DIR", str(tmp_path))
    return tmp_path


@pytest.mark.parametrize(
    ("given", "file"),
    [("auto_labeling", "auto_labeling"), ("augmentation_and_pl", "augmentation_and_al"), ("e2e", "e2e"),
     ("e2e_super_resolution", "e2e_super_resolution"), ("setup_model_cache", "setup_model_cache")],
)
def test_resolve_workflow_names(skill_dir: Path, given: str, file: str) -> None:
    assert resolve_workflow(given) == skill_dir / "assets" / "configs" / "osmo" / f"{file}.yaml"


def test_resolve_workflow_existing_path_in_a_trusted_checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    custom = tmp_path / "mine.yaml"
    custom.write_text("workflow:\n  name: mine\n", encoding="utf-8")
    with pytest.raises(InputError) as info:  # a workflow stages and runs what it names: not from anywhere
        resolve_workflow(str(custom))
    assert info.value.code == "workflow-untrusted" and str(custom) not in str(info.value)
    monkeypatch.setenv("VDA_TRUSTED_SKILLS_DIRS", str(tmp_path))
    assert resolve_workflow(str(custom)) == custom.resolve()


def test_resolve_workflow_takes_upstreams_relative_form_from_anywhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert resolve_workflow("assets/configs/osmo/e2e.yaml") == workflow_path("e2e").resolve()


def test_resolve_workflow_missing_path(tmp_path: Path) -> None:
    with pytest.raises(NotFound) as info:
        resolve_workflow(str(tmp_path / "absent.yaml"))
    assert info.value.code == "workflow-not-found"


def test_resolve_workflow_known_name_but_file_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VDA_SKILL_DIR", str(tmp_path))
    with pytest.raises(NotFound):
        resolve_workflow("e2e")


@pytest.mark.parametrize(("given", "suggestion"), [("e2f", "e2e"), ("auto_labelling_x", "auto_labeling"), ("augmentation_and_ai", "augmentation_and_al")])
def test_resolve_workflow_unknown_name_suggests(skill_dir: Path, given: str, suggestion: str) -> None:
    with pytest.raises(InputError) as info:
        resolve_workflow(given)
    assert info.value.code == "unknown-flow"
    assert f"Did you mean {suggestion}" in (info.value.remedy or "")


def test_resolve_workflow_in_this_checkout() -> None:
    assert resolve_workflow("augmentation_and_al").is_file()


# --- CLI -------------------------------------------------------------------------------------


def test_cli_route_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "label only, no augmentation", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"flow", "workflow", "reason", "eta", "is_run_request", "conditions"}
    assert out["flow"] == AL and out["is_run_request"] is True
    assert out["eta"]["cold_total"]["max_minutes"] > out["eta"]["warm_total"]["max_minutes"]


def test_cli_question_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "how do I tune cosmos sigma", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["flow"] is None and out["eta"] is None and out["is_run_request"] is False


def test_cli_explicit_flow_and_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "whatever", "--flow", "augmentation_and_pl"]) == 0
    out = capsys.readouterr().out
    assert "flow: augmentation_and_al" in out and "Cold start" in out


def test_cli_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "--list", "--json"]) == 0
    names = [entry["name"] for entry in json.loads(capsys.readouterr().out)]
    assert names == [*FLOWS, CACHE_WORKFLOW]
    assert main(["flow", "--list"]) == 0
    assert "augmentation_and_al (alias augmentation_and_pl)" in capsys.readouterr().out


def test_cli_unknown_flow_is_an_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow", "x", "--flow", "e3e", "--json"]) == 1
    captured = capsys.readouterr()
    assert json.loads(captured.out)["error"]["code"] == "unknown-flow"
    assert "Traceback" not in captured.err


def test_cli_nothing_to_route(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["flow"]) == 1
    assert "missing-intent" in capsys.readouterr().err

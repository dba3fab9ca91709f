"""The nim labeler: endpoint rules, readiness, windows, answer mapping, aggregation, and a full run
against mocked OpenAI-compatible servers (respx; no network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import cv2
import httpx
import httpx2
import numpy as np
import pytest
import respx
import yaml

from skill.endpoints import candidate_bases, default_base
from skill.engines._daft import validate_scene
from skill.engines._label_nim import (
    Endpoint,
    NimSettings,
    api_key,
    auth_headers,
    iter_windows,
    map_answers,
    wait_for_models,
)
from skill.engines._mcq import Question, QuestionBank, aggregate, aggregate_answers
from skill.engines.label import LabelRequest, label, main
from skill.engines.synthetic import make_scene
from skill.errors import BackendUnavailable, InputError

SECRET = "nvapi-TESTSECRET0123456789abcdef"
VLM = "http://vlm.test:8000/v1"
LLM = "http://llm.test:8000"
YES_NO = ["Yes", "No"]
WEATHER = ["A. Clear", "B. Overcast", "C. Rain"]

BANK = {
    "name": "window_default_test",
    "questions": [
        {"id": "1_1", "question": "Does anything collide?", "options": YES_NO, "aggregation": "any", "measure": "collision"},
        {"id": "1_10", "question": "What kind of contact?", "options": ["A. Car with car", "B. Car with person"],
         "include_if": {"1_1": "Yes"}},
        {"id": "2_1", "question": "What is the weather?", "options": WEATHER, "aggregation": "majority", "measure": "weather"},
        {"id": "5_2", "question": "Are people walking?", "options": YES_NO},
    ],
}
CONFIG = {
    "super_resolution": {"enabled": False},
    "detection_and_tracking": {"enabled": True, "classes": ["car", "person"], "save_video": False},
    "vlm_json": {"enabled": False},
    "mcq_generation": {"enabled": True, "window_metadata_extraction": {
        "window_frames": 10, "sampling_fps": 5, "resolution": 90, "max_frames": 4, "timeout": 5}},
}


def bank() -> QuestionBank:
    return QuestionBank.model_validate(BANK)


FAST = NimSettings(wait_timeout=1.0, wait_interval=0.25, retries=1, retry_backoff=0.0)


# --- endpoints ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("url", "candidates", "base"), [
    ("qwen3-vl.osmo-nims.svc.cluster.local:8000/v1",
     ["http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1", "http://qwen3-vl.osmo-nims.svc.cluster.local:8000"],
     "http://qwen3-vl.osmo-nims.svc.cluster.local:8000/v1"),
    ("https://integrate.api.nvidia.com/v1/chat/completions?x=1#top",
     ["https://integrate.api.nvidia.com", "https://integrate.api.nvidia.com/v1"], "https://integrate.api.nvidia.com/v1"),
    ("http://h:8000/", ["http://h:8000", "http://h:8000/v1"], "http://h:8000/v1"),
    ("http://h/proxy/v1/models/", ["http://h/proxy", "http://h/proxy/v1", "http://h", "http://h/v1"], "http://h/proxy/v1"),
    ("https://api.nvcf.nvidia.com/v2/nvcf/pexec/functions/abc/chat/completions",
     ["https://api.nvcf.nvidia.com/v2/nvcf/pexec/functions/abc", "https://api.nvcf.nvidia.com/v2/nvcf/pexec/functions/abc/v1",
      "https://api.nvcf.nvidia.com", "https://api.nvcf.nvidia.com/v1"],
     "https://api.nvcf.nvidia.com/v2/nvcf/pexec/functions/abc/v1"),
])
def test_endpoint_candidates(url, candidates, base):
    assert candidate_bases(url) == candidates
    assert default_base(url) == base


@pytest.mark.parametrize("url", ["", "   ", "ftp://host/v1", "http://"])
def test_bad_endpoint_urls(url):
    with pytest.raises(InputError):
        candidate_bases(url)


def test_auth_headers_and_key_order():
    assert auth_headers(None) == {} and auth_headers("  ") == {}
    assert auth_headers("abc123") == {"Authorization": "Bearer abc123"}
    assert auth_headers("Bearer abc123") == {"Authorization": "Bearer abc123"}
    assert auth_headers("Authorization: Token xyz987") == {"Authorization": "Token xyz987"}
    env = {"VLM_API_KEY": "", "NVIDIA_API_KEY": "nv-key-1", "OPENAI_API_KEY": "oa-key-1", "LLM_API_KEY": "llm-key-1"}
    assert api_key("vlm", env) == "nv-key-1"
    assert api_key("llm", env) == "llm-key-1"
    assert api_key("vlm", {"OPENAI_API_KEY": "Bearer oa-key-2"}) == "oa-key-2"
    assert api_key("vlm", {}) is None


def test_settings_from_env():
    settings = NimSettings.from_env({"ENDPOINT_WAIT_TIMEOUT_SECONDS": "30", "ENDPOINT_WAIT_INTERVAL_SECONDS": "x",
                                     "ENDPOINT_CURL_MAX_TIME_SECONDS": "-1"}, window_frames=12)
    assert (settings.wait_timeout, settings.wait_interval, settings.probe_timeout, settings.window_frames) == (30, 10, 15, 12)


@respx.mock
def test_readiness_retries_until_models_are_listed():
    route = respx.get("http://vlm.test:8000/v1/models")
    route.side_effect = [httpx.Response(503), httpx.Response(200, json={"data": [{"id": "Qwen/Qwen3-VL"}, {"id": "other"}]})]
    respx.get("http://vlm.test:8000/models").mock(return_value=httpx.Response(404))
    naps: list[float] = []
    with httpx2.Client() as client:
        endpoint = wait_for_models(client, "VLM", VLM, {"Authorization": "Bearer k"}, FAST, sleep=naps.append)
    assert (endpoint.base_url, endpoint.model) == (VLM, "Qwen/Qwen3-VL")
    assert naps == [0.25] and route.call_count == 2
    assert route.calls[0].request.headers["Authorization"] == "Bearer k"


@respx.mock
def test_readiness_tries_the_v1_toggle_and_survives_connection_errors():
    respx.get("http://llm.test:8000/models").mock(side_effect=httpx.ConnectError("refused"))
    respx.get("http://llm.test:8000/v1/models").mock(return_value=httpx.Response(200, json={"data": [{"id": "qwen25"}]}))
    with httpx2.Client() as client:
        endpoint = wait_for_models(client, "LLM", LLM, {}, FAST, sleep=lambda s: None)
    assert endpoint.base_url == "http://llm.test:8000/v1" and endpoint.model == "qwen25"


@respx.mock
def test_readiness_gives_up_with_a_clear_error():
    respx.get(url__regex=r"http://vlm\.test:8000.*").mock(return_value=httpx.Response(200, json={"detail": "warming"}))
    naps: list[float] = []
    with httpx2.Client() as client, pytest.raises(BackendUnavailable, match="not ready after 1s") as info:
        wait_for_models(client, "VLM", VLM, {}, FAST, sleep=naps.append)
    assert len(naps) == 3  # 4 attempts, 0.25 s apart
    assert "OpenAI-compatible" in (info.value.remedy or "")


# --- windows and answers -------------------------------------------------------------------------------


def test_windows_sample_cap_and_scale():
    frames = (np.full((180, 320, 3), i, np.uint8) for i in range(25))
    settings = NimSettings(window_frames=10, sampling_fps=5, max_frames=3, resolution=90)
    windows = list(iter_windows(frames, fps=10, settings=settings))
    assert [(w.start_frame, w.end_frame) for w in windows] == [(0, 9), (10, 19), (20, 24)]
    assert [len(w.images) for w in windows] == [3, 3, 3]  # every 2nd frame, capped at 3
    assert windows[1].start_s == 1.0 and windows[2].end_s == 2.5
    first = cv2.imdecode(np.frombuffer(base64.b64decode(windows[0].images[0]), np.uint8), cv2.IMREAD_COLOR)
    assert first.shape == (90, 160, 3)
    single = list(iter_windows((np.zeros((20, 20, 3), np.uint8) for _ in range(25)), fps=10,
                               settings=NimSettings(single_window=True, max_frames=100), total_frames=25))
    assert len(single) == 1 and (single[0].start_frame, single[0].end_frame) == (0, 24)


def _chat_reply(content: str) -> httpx.Response:
    return httpx.Response(200, json={"choices": [{"message": {"role": "assistant", "content": content}}]})


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"1_1": "No", "1_10": null, "2_1": "C", "5_2": "Yes"}', {"1_1": "No", "1_10": None, "2_1": "C. Rain", "5_2": "Yes"}),
    ('```json\n{"answers": {"2_1": "Overcast", "5_2": "yes"}}\n```', {"2_1": "B. Overcast", "5_2": "Yes"}),
    ('Sure! Here you go: {"2_1": "B. Overcast", "1_1": "Maybe"} Hope it helps.', {"2_1": "B. Overcast", "1_1": None}),
    ("I cannot tell.", {}),
])
@respx.mock
def test_map_answers_parses_and_maps_onto_options(reply, expected):
    route = respx.post("http://llm.test:8000/v1/chat/completions").mock(return_value=_chat_reply(reply))
    llm = Endpoint("LLM", "http://llm.test:8000/v1", "qwen25", {})
    with httpx2.Client() as client:
        got = map_answers(client, llm, "A rainy street.", bank(), FAST, sleep=lambda s: None)
    assert {k: v for k, v in got.items() if v is not None} == {k: v for k, v in expected.items() if v is not None}
    sent = json.loads(route.calls[0].request.content)
    assert sent["model"] == "qwen25" and "A rainy street." in sent["messages"][1]["content"]


# --- aggregation ---------------------------------------------------------------------------------------


def q(options, aggregation=None, **extra) -> Question:
    return Question(id="q", question="?", options=options, aggregation=aggregation, **extra)


@pytest.mark.parametrize(("question", "answers", "expected"), [
    (q(YES_NO, "first"), [None, "No", "Yes"], "No"),
    (q(YES_NO, "any"), ["No", "No", "Yes"], "Yes"),
    (q(YES_NO, "any"), ["No", None], "No"),
    (q(YES_NO, "majority"), ["Yes", "No", "No"], "No"),
    (q(WEATHER, "majority_tie_first"), ["B. Overcast", "C. Rain", "C. Rain", "B. Overcast"], "B. Overcast"),
    (q(WEATHER, "majority"), ["A. Clear", "C. Rain", "C. Rain"], "C. Rain"),
    (q(YES_NO, "supermajority"), ["Yes", "Yes", "No"], "Yes"),          # 2 >= ceil(0.6 * 3) = 2
    (q(YES_NO, "supermajority"), ["Yes", "Yes", "No", "No"], "No"),     # 2 < ceil(0.6 * 4) = 3
    (q(YES_NO, {"type": "supermajority", "threshold": 0.5}), ["Yes", "Yes", "No", "No"], "Yes"),
    (q(YES_NO, {"type": "supermajority", "threshold": 0.1, "min_yes": 2}), ["Yes", "No", "No"], "No"),
    (q(YES_NO), ["Yes", "No", "No"], "No"),                            # Yes/No default: supermajority
    (q(YES_NO), ["Yes", "Yes", "No"], "Yes"),
    (q(WEATHER), ["C. Rain", "A. Clear"], "C. Rain"),                   # others: majority, tie to the first
    (q(WEATHER), [None, None], None),
])
def test_aggregation_rules(question, answers, expected):
    assert aggregate_answers(question, answers) == expected


def test_aggregate_drops_off_list_answers_and_applies_include_if():
    b = bank()
    windows = [
        {"1_1": "Yes", "1_10": "B. Car with person", "2_1": "C. Rain", "5_2": "Yes"},
        {"1_1": "No", "1_10": "B. Car with person", "2_1": "Sunny", "5_2": "No"},
        {"1_1": "No", "1_10": None, "2_1": "Sunny", "5_2": "No"},
    ]
    final = aggregate(b, windows)
    assert final["1_1"] == "Yes"  # any
    assert final["1_10"] == "B. Car with person"  # gate 1_1 == Yes holds
    assert "2_1" not in final  # the majority answer is not an option: dropped
    assert final["5_2"] == "No"
    closed = aggregate(b, [{**w, "1_1": "No"} for w in windows])
    assert "1_10" not in closed
    single = aggregate(b, [{"1_1": "No", "2_1": "A. Clear", "5_2": "Maybe"}])
    assert single == {"1_1": "No", "2_1": "A. Clear"}


def test_question_validation():
    assert Question(id="a", question="?", options=YES_NO, aggregation="ANY ").aggregation.type == "any"
    with pytest.raises(ValueError):
        Question(id="a", question="?", options=YES_NO, aggregation="mode")
    assert Question(id="a", question="?", measure="count:person").measure == "count:person"
    assert Question(id="a", question="?", measure=None).measure == "none"


# --- a full nim run against mocked servers ------------------------------------------------------------


@pytest.fixture(scope="module")
def clip(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("nim") / "augmented_video.mp4"
    make_scene(path, width=320, height=180, fps=10, seconds=2.5, background="plaza", seed=3)
    return path


def _inputs(folder: Path) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    cfg, bank_path = folder / "cfg.yaml", folder / "bank.json"
    cfg.write_text(yaml.safe_dump(CONFIG))
    bank_path.write_text(json.dumps(BANK))
    return cfg, bank_path


def _servers(mock: respx.MockRouter, *, llm_replies: list[httpx.Response]) -> dict[str, respx.Route]:
    vlm_models = mock.get("http://vlm.test:8000/v1/models")
    vlm_models.side_effect = [httpx.Response(503), httpx.Response(200, json={"data": [{"id": "Qwen/Qwen3-VL-30B-A3B-Instruct"}]})]
    mock.get("http://vlm.test:8000/models").mock(return_value=httpx.Response(404))
    mock.get("http://llm.test:8000/models").mock(return_value=httpx.Response(404))
    mock.get("http://llm.test:8000/v1/models").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "Qwen/Qwen2.5-14B-Instruct"}]}))
    vlm_chat = mock.post("http://vlm.test:8000/v1/chat/completions")
    vlm_chat.side_effect = [httpx.Response(503)] + [_chat_reply("Rain falls on a busy square; people walk.")] * 10
    llm_chat = mock.post("http://llm.test:8000/v1/chat/completions")
    llm_chat.side_effect = llm_replies
    return {"vlm_models": vlm_models, "vlm_chat": vlm_chat, "llm_chat": llm_chat}


def test_nim_run_end_to_end(tmp_path, clip, monkeypatch):
    monkeypatch.setenv("NVIDIA_API_KEY", SECRET)
    monkeypatch.delenv("VLM_API_KEY", raising=False)
    monkeypatch.delenv("LLM_API_KEY", raising=False)
    cfg, bank_path = _inputs(tmp_path / "in")
    replies = [_chat_reply('{"1_1": "No", "1_10": "A", "2_1": "C", "5_2": "Yes"}'),
               _chat_reply('{"1_1": "No", "2_1": "C. Rain", "5_2": "Yes"}'),
               _chat_reply('{"1_1": "Yes", "2_1": "B", "5_2": "No"}')]
    out = tmp_path / "out"
    with respx.mock(assert_all_called=False) as mock:
        routes = _servers(mock, llm_replies=replies)
        result = label(LabelRequest(engine="nim", video=clip, output_dir=out, config=cfg, question_bank=bank_path,
                                    vlm_url=VLM, llm_url=LLM), sleep=lambda s: None)
    assert result.status == "completed" and result.engine == "nim"
    assert routes["vlm_models"].call_count == 2  # 503, then ready
    assert routes["vlm_chat"].call_count == 4  # one 503 retried, then 3 windows
    assert routes["llm_chat"].call_count == 3
    first_vlm = json.loads(routes["vlm_chat"].calls[1].request.content)
    images = [part for part in first_vlm["messages"][1]["content"] if part["type"] == "image_url"]
    assert len(images) == 4 and images[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")  # 5 sampled, capped at 4
    assert routes["vlm_chat"].calls[1].request.headers["Authorization"] == f"Bearer {SECRET}"

    assert validate_scene(out) == []
    mcq = read(out / "task" / "mcq.json")["items"]
    # 1_1 is "any": one window saw contact, so the gated 1_10 (answered by one window) is kept.
    assert [(i["question"], i["answer"]) for i in mcq] == [("What kind of contact?", "A"), ("What is the weather?", "C")]
    assert "2 of 3" in mcq[1]["reasoning"] and "1 of 1" in mcq[0]["reasoning"]
    bcq = {i["question"]: i["answer"] for i in read(out / "task" / "bcq.json")["items"]}
    assert bcq == {"Does anything collide?": "Yes", "Are people walking?": "Yes"}  # any; supermajority 2/3
    status = read(out / "sidecars" / "pipeline_status.json")
    assert status["status"] == "completed"
    assert status["stages"]["mcq_generation"]["engine"] == "nim" and status["stages"]["mcq_generation"]["windows"] == 3
    assert status["stages"]["tracking"]["status"] == "completed"
    assert status["stages"]["vlm_json"]["reason"] == "disabled"
    effective = yaml.safe_load((out / "config.yaml").read_text())
    assert effective["endpoints"]["vlm"] == {"url": VLM, "model": "Qwen/Qwen3-VL-30B-A3B-Instruct"}
    assert effective["endpoints"]["llm"]["url"] == "http://llm.test:8000/v1"
    meta = read(out / "sidecars" / "metadata.json")
    assert len(meta["windows"]) == 3 and meta["has_caption"] is True
    assert meta["windows"][0]["llm_enhanced_caption"]["2_1"] == "C. Rain"
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".yaml", ".log"):
            assert SECRET not in path.read_text(), path


def read(path: Path):
    return json.loads(path.read_text())


def test_nim_degrades_when_every_window_fails(tmp_path, clip):
    cfg, bank_path = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    with respx.mock(assert_all_called=False) as mock:
        _servers(mock, llm_replies=[httpx.Response(500)] * 20)
        result = label(LabelRequest(engine="nim", video=clip, output_dir=out, config=cfg, question_bank=bank_path,
                                    vlm_url=VLM, llm_url=LLM), sleep=lambda s: None)
    assert result.status == "completed_degraded" and result.degraded_stages == ["mcq_generation"]
    status = read(out / "sidecars" / "pipeline_status.json")
    stage = status["stages"]["mcq_generation"]
    assert stage["status"] == "failed" and stage["degraded"] is True
    assert status["fallbacks"][0]["stage"] == "mcq_generation"
    assert not (out / "task").exists()
    assert read(out / "sidecars" / "mcq.empty.json")["_error"] == "zero_task_items"
    assert all("_errors" in w for w in read(out / "sidecars" / "metadata.json")["windows"])
    assert validate_scene(out) == []


def test_nim_cli_fails_when_endpoints_never_come_up(tmp_path, clip, capsys, monkeypatch):
    monkeypatch.setenv("ENDPOINT_WAIT_TIMEOUT_SECONDS", "0.02")
    monkeypatch.setenv("ENDPOINT_WAIT_INTERVAL_SECONDS", "0.01")
    monkeypatch.setenv("VLM_API_KEY", SECRET)
    cfg, bank_path = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    with respx.mock(assert_all_called=False) as mock:
        mock.route(host="vlm.test").mock(side_effect=httpx.ConnectError("refused"))
        code = main(["--engine", "nim", "--video", str(clip), "--output-dir", str(out), "--config", str(cfg),
                     "--question-bank", str(bank_path), "--vlm-url", VLM, "--llm-url", LLM])
    err = capsys.readouterr().err
    assert code == 1 and "VLM endpoint" in err and "not ready" in err and SECRET not in err
    assert not (out / "sidecars" / "pipeline_status.json").exists()
    assert SECRET not in (out / "logs" / "pipeline.log").read_text()


def test_nim_needs_both_urls(tmp_path, clip):
    cfg, bank_path = _inputs(tmp_path / "in")
    with pytest.raises(InputError, match="VLM URL and an LLM URL"):
        label(LabelRequest(engine="nim", video=clip, output_dir=tmp_path / "out", config=cfg, question_bank=bank_path,
                           vlm_url=VLM))


@respx.mock
def test_a_chosen_model_must_be_listed():
    respx.get("http://vlm.test:8000/v1/models").mock(
        return_value=httpx.Response(200, json={"data": [{"id": "a/first"}, {"id": "b/second"}]}))
    with httpx2.Client() as client:
        assert wait_for_models(client, "VLM", VLM, {}, FAST, sleep=lambda s: None, model="b/second").model == "b/second"
        assert wait_for_models(client, "VLM", VLM, {}, FAST, sleep=lambda s: None).model == "a/first"
        with pytest.raises(InputError) as info:
            wait_for_models(client, "VLM", VLM, {}, FAST, sleep=lambda s: None, model="c/missing")
    assert info.value.code == "model-not-served" and "a/first, b/second" in info.value.message
    assert "--vlm-model" in (info.value.remedy or "")


def test_a_server_that_goes_away_leaves_no_scene(tmp_path, clip):
    """Models listed, then every chat request fails to connect: the label fails with
    endpoint-unreachable and only logs/pipeline.log is left (an empty degraded scene would look labeled)."""
    cfg, bank_path = _inputs(tmp_path / "in")
    out = tmp_path / "out"
    with respx.mock(assert_all_called=False) as mock:
        _servers(mock, llm_replies=[])
        mock.post("http://vlm.test:8000/v1/chat/completions").mock(side_effect=httpx.ConnectError("refused"))
        with pytest.raises(BackendUnavailable) as info:
            label(LabelRequest(engine="nim", video=clip, output_dir=out, config=cfg, question_bank=bank_path,
                               vlm_url=VLM, llm_url=LLM), sleep=lambda s: None)
    assert info.value.code == "endpoint-unreachable" and "vlm.test" in info.value.message
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == ["logs/pipeline.log"]

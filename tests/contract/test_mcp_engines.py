"""The engine choice through the MCP tools: pre_submit_guard and submit take label_engine,
vlm_url and the model ids; the local executor then labels with the chosen server (a real HTTP
server on 127.0.0.1), and a bad model id or an engine the backend lacks is a coded refusal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from mcp import Client

from skill.engines.synthetic import make_scene
from tests.contract.test_mcp_server import call, text_of
from tests.fakes.openai_server import FakeOpenAI

FLOW = "auto_labeling"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VDA_ENDPOINT_CHECK_SECONDS", "3")
    return tmp_path


@pytest.mark.anyio
async def test_label_with_a_chosen_server_through_mcp(local_server, home: Path):
    clips = home / "clips"
    make_scene(clips / "street.mp4", width=320, height=180, seconds=2)
    storage = str(home / "be" / "storage" / "local")
    with FakeOpenAI() as vlm:
        async with Client(local_server, raise_exceptions=True) as client:
            await call(client, "select_flow", {"text": f"label the videos in {clips} with my VLM at {vlm.url}"})
            checked = await call(client, "preflight", {"workflow": FLOW, "no_probe": True})
            await call(client, "upload_dataset", {"folder": str(clips), "storage_url": storage, "name": "my-clips"})
            values = {"flow": FLOW, "dataset": "my-clips", "storage_url": storage, "gpu_platform": checked["platforms"][0],
                      "video": "street", "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling",
                      "label_engine": "nim", "vlm_url": vlm.url, "llm_model": "test/llm-small"}
            guard = await call(client, "pre_submit_guard", values)
            if guard["status"] == "cache_missing":
                cache = await call(client, "setup_model_cache", guard["remediation"]["set_string"])
                await call(client, "poll", {"workflow_id": cache["workflow_id"], "wait": True, "interval_s": 1, "max_interval_s": 2})
                guard = await call(client, "pre_submit_guard", values)
            assert guard["status"] == "ok", guard["checks"]
            engines = next(c for c in guard["checks"] if c["name"] == "engines")
            assert engines["data"]["models"] == {"vlm": "test/vlm-small", "llm": "test/llm-small"}
            assert guard["values"]["label_engine"] == "nim" and guard["values"]["llm_url"] == vlm.url
            submitted = await call(client, "submit", {**values, "run_id": guard["run_id"]})
            assert submitted["values_hash"] == guard["values_hash"]
            polled = await call(client, "poll", {"workflow_id": submitted["workflow_id"], "wait": True, "interval_s": 1, "max_interval_s": 2})
            assert polled["status"] == "COMPLETED", polled
            staged = await call(client, "stage_artifacts", {"storage_url": storage, "dataset": "my-clips", "run_id": guard["run_id"],
                                                            "video": "street"})
        asked = [r for r in vlm.requests if r.path.startswith("/v1/chat")]
    assert any(r.images for r in asked) and any(r.model == "test/llm-small" for r in asked)
    scene = Path(staged["local_run_dir"]) / "outputs" / "pseudo_labeled" / "street"
    meta = json.loads((scene / "sidecars" / "metadata.json").read_text())
    assert meta["engine"] == "nim" and meta["has_caption"]


@pytest.mark.anyio
async def test_a_bad_model_id_is_refused_without_echoing_it(local_server, home: Path):
    async with Client(local_server) as client:
        bad = await client.call_tool("pre_submit_guard", {"flow": FLOW, "label_engine": "nim", "vlm_url": "http://127.0.0.1:9/v1",
                                                         "vlm_model": "x\"; rm -rf ~"})
    assert bad.is_error and "vlm_model" in text_of(bad) and "rm -rf" not in text_of(bad)


@pytest.mark.anyio
async def test_an_unknown_engine_is_refused(local_server, home: Path):
    async with Client(local_server) as client:
        bad = await client.call_tool("pre_submit_guard", {"flow": FLOW, "label_engine": "gpt-vision"})
    assert bad.is_error and "label_engine" in text_of(bad)

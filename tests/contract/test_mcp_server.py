"""The MCP server through real MCP clients: tool listing, a whole local run, legacy mode, stdio,
argument errors without values, SkillError text, elicitation of a missing secret, resources, prompt."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters
from mcp.types import ElicitResult

from skill.backends.local import LocalBackend
from skill.engines.synthetic import make_scene
from skill.ledger import Ledger
from tests.fakes.backend import FakeBackend
from tools._mcp_tools import TOOL_NAMES
from tools.mcp_server import build_server

ROOT = Path(__file__).resolve().parents[2]
FLOW = "augmentation_and_al"

# name -> (read_only, destructive, idempotent, open_world); None where the hint is not set
EXPECTED_HINTS = {
    "select_flow": (True, None, None, False),
    "preflight": (False, False, True, True),
    "prepare_demo_assets": (False, True, True, True),
    "upload_dataset": (False, False, True, True),
    "pre_submit_guard": (True, None, None, True),
    "setup_model_cache": (False, False, True, True),
    "submit": (False, False, True, True),
    "poll": (True, None, None, True),
    "get_logs": (True, None, None, True),
    "stage_artifacts": (False, False, True, True),  # writes the local run folder
    "render_side_by_side": (False, False, True, False),
    "nim_health": (True, None, None, True),
    "nim_ensure": (False, False, True, True),
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    return tmp_path


def text_of(result: Any) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


def undeclared(data: Any, schema: dict[str, Any], defs: dict[str, Any], path: str = "$") -> list[str]:
    """Paths of returned fields that the output schema does not declare (anyOf arms searched)."""
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    arms = schema.get("anyOf") or schema.get("oneOf")
    if arms:
        options = [undeclared(data, arm, defs, path) for arm in arms if _fits(data, arm, defs)]
        return min(options, key=len) if options else []
    if isinstance(data, dict) and "properties" in schema:
        out = []
        for key, value in data.items():
            if key not in schema["properties"]:
                out.append(f"{path}.{key}")
            else:
                out += undeclared(value, schema["properties"][key], defs, f"{path}.{key}")
        return out
    if isinstance(data, list) and isinstance(schema.get("items"), dict):
        return [p for i, item in enumerate(data) for p in undeclared(item, schema["items"], defs, f"{path}[{i}]")]
    return []


def _fits(data: Any, schema: dict[str, Any], defs: dict[str, Any]) -> bool:
    if "$ref" in schema:
        schema = defs[schema["$ref"].rsplit("/", 1)[-1]]
    kind = schema.get("type")
    if isinstance(kind, list):
        return any(_fits(data, {"type": one}, defs) for one in kind)
    return kind is None or {"object": dict, "array": list, "null": type(None)}.get(kind, object) is type(data) or (
        kind not in ("object", "array", "null") and not isinstance(data, (dict, list, type(None))))


async def call(client: Client, name: str, req: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = await client.call_tool(name, req, **kwargs)
    assert not result.is_error, f"{name} failed: {text_of(result)}"
    schema = {t.name: t for t in (await client.list_tools()).tools}[name].output_schema
    missing = undeclared(result.structured_content, schema, schema.get("$defs", {}))
    assert not missing, f"{name} returned fields its outputSchema does not declare: {missing}"
    return result.structured_content


# --- listing ---------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_tools_are_listed_with_schemas_and_annotations(local_server):
    async with Client(local_server, raise_exceptions=True) as client:
        listed = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert sorted(listed) == sorted(TOOL_NAMES) == sorted(EXPECTED_HINTS)
    for name, tool in listed.items():
        assert len(name) <= 64 and "." not in name and name == name.lower()
        assert "req" not in tool.input_schema["properties"], name  # flat: the fields are the arguments
        assert tool.input_schema["type"] == "object" and tool.input_schema["additionalProperties"] is False, name
        assert "$ref" not in json.dumps(tool.input_schema) or "$defs" in tool.input_schema, name
        assert tool.output_schema and tool.output_schema.get("properties"), name
        assert tool.description and len(tool.description) > 80, name
        assert "None" not in tool.description and ":class:" not in tool.description and "``" not in tool.description, name
        hints = tool.annotations
        got = (hints.read_only_hint, hints.destructive_hint, hints.idempotent_hint, hints.open_world_hint)
        assert got == EXPECTED_HINTS[name], name
    assert "status" in listed["submit"].output_schema["properties"]
    assert "media_line" in listed["render_side_by_side"].output_schema["properties"]


# --- the whole run -------------------------------------------------------------------------------


@pytest.mark.anyio
async def test_augment_my_videos_on_the_local_backend_through_mcp_only(local_server, home: Path):
    clips = home / "clips"
    make_scene(clips / "street.mp4", width=320, height=180, seconds=2)
    storage = str(home / "be" / "storage" / "local")
    progress: list[tuple[float, float | None, str | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total, message))

    async with Client(local_server, raise_exceptions=True) as client:
        choice = await call(client, "select_flow", {"text": f"augment my videos in {clips}"})
        assert choice["flow"] == FLOW and choice["eta"]
        checked = await call(client, "preflight", {"workflow": FLOW, "no_probe": True})
        assert checked["status"] == "ok" and checked["platforms"]
        uploaded = await call(client, "upload_dataset", {"folder": str(clips), "storage_url": storage, "name": "my-clips"})
        assert uploaded["videos"] == ["street"]
        values = {
            "flow": FLOW, "dataset": "my-clips", "storage_url": storage, "gpu_platform": checked["platforms"][0], "video": "street",
            "cosmos_model_cache_url": f"{storage}/data/models/cosmos_transfer",
            "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling",
        }
        guard = await call(client, "pre_submit_guard", values)
        assert guard["status"] == "cache_missing"
        fix = guard["remediation"]
        cache = await call(client, "setup_model_cache", fix["set_string"])
        cache_poll = await call(client, "poll", {"workflow_id": cache["workflow_id"], "wait": True, "interval_s": 1, "max_interval_s": 2})
        assert cache_poll["status"] == "COMPLETED"
        guard = await call(client, "pre_submit_guard", values)
        assert guard["status"] == "ok"
        submitted = await call(client, "submit", {**values, "run_id": guard["run_id"]})
        polled = await call(client, "poll", {"workflow_id": submitted["workflow_id"], "wait": True, "interval_s": 1, "max_interval_s": 2},
                            progress_callback=on_progress)
        assert polled["status"] == "COMPLETED"
        poll_events = len(progress)
        assert poll_events >= 1 and all("my-clips" in (m or "") for _, _, m in progress)
        staged = await call(client, "stage_artifacts", {"storage_url": storage, "dataset": "my-clips", "run_id": guard["run_id"], "video": "street"},
                            progress_callback=on_progress)
        assert len(progress) > poll_events and progress[-1][1] is not None  # stage reports done/total
        compared = await call(client, "render_side_by_side", {"run_local_dir": staged["local_run_dir"], "dataset": "my-clips", "video": "street"})
        run = await client.read_resource(f"vda://runs/{guard['run_id']}")

    media = compared["media_line"]
    assert media.startswith("MEDIA:/") and Path(media.removeprefix("MEDIA:")).is_file()
    assert Path(media.removeprefix("MEDIA:")).is_relative_to(home / "home")
    summary = json.loads(run.contents[0].text)
    assert summary["record"]["workflow_id"] == submitted["workflow_id"]
    assert summary["media"] == [media.removeprefix("MEDIA:")]
    assert any(name.endswith(".mp4") for name in summary["augmented_videos"])


# --- legacy mode and stdio ------------------------------------------------------------------------


@pytest.mark.anyio
async def test_legacy_mode_lists_calls_and_reads_resources(local_server):
    async with Client(local_server, mode="legacy") as client:
        assert sorted(t.name for t in (await client.list_tools()).tools) == sorted(TOOL_NAMES)
        choice = await call(client, "select_flow", {"text": "label my videos only"})
        assert choice["flow"] == "auto_labeling"
        flat = await client.call_tool("select_flow", {"text": "augment my videos"})
        assert not flat.is_error and flat.structured_content["flow"] == FLOW
        bad = await client.call_tool("poll", {"req": {"workflow_id": "-rf", "wait": "often"}})
        assert bad.is_error and "workflow_id" in text_of(bad) and "wait" in text_of(bad) and "often" not in text_of(bad)
        skill = await client.read_resource("vda://skill")
        assert skill.contents[0].text == (ROOT / "SKILL.md").read_text(encoding="utf-8")


def test_stdio_subprocess_lists_tools_and_selects_a_flow(home: Path):
    import anyio

    async def main() -> tuple[list[str], dict[str, Any]]:
        params = StdioServerParameters(
            command=sys.executable, args=["-m", "tools.cli", "mcp", "--backend", "local"], cwd=str(ROOT),
            env={**os.environ, "VDA_HOME": str(home / "home")},
        )
        async with Client(params) as client:
            names = [t.name for t in (await client.list_tools()).tools]
            result = await client.call_tool("select_flow", {"req": {"text": "augment my videos"}})
            assert not result.is_error, text_of(result)
            return names, result.structured_content

    names, choice = anyio.run(main)
    assert sorted(names) == sorted(TOOL_NAMES)
    assert choice["flow"] == FLOW


# --- errors -----------------------------------------------------------------------------------------


TOKEN = "hf_Zx9QwErTyUiOpAsDfGhJkL12"
PLAIN_SECRET = "correct-horse-battery-staple-42"


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_argument_errors_name_fields_never_values(local_server, mode: str):
    async with Client(local_server, mode=mode) as client:
        result = await client.call_tool("submit", {"req": {"flow": FLOW, "dataset": "ds", "storage_url": "s3://b/p", "gpu_platform": "gpu",
                                                           "video": "clip", "workers": TOKEN, "run_id": PLAIN_SECRET, "bogus": PLAIN_SECRET}})
    text = text_of(result)
    assert result.is_error
    assert "workers" in text and "run_id" in text and "bogus" in text
    assert TOKEN not in text and PLAIN_SECRET not in text and "input_value" not in text
    assert "[no-secret-echo]" in text  # the policy explains the token before the field list


@pytest.mark.anyio
async def test_unknown_top_level_argument_is_refused(local_server):
    async with Client(local_server) as client:
        result = await client.call_tool("select_flow", {"req": {"text": "augment"}, "token": TOKEN})
    assert result.is_error and "token" in text_of(result) and TOKEN not in text_of(result)


@pytest.mark.anyio
async def test_skill_error_becomes_tool_error_with_code_and_remedy(local_server):
    async with Client(local_server) as client:
        await call(client, "select_flow", {"text": "augment my videos"})
        result = await client.call_tool("poll", {"req": {"workflow_id": "no-such-workflow-7"}})
    text = text_of(result)
    assert result.is_error
    assert "poll: [not-found] No local workflow no-such-workflow-7." in text and "Next: " in text
    assert "Traceback" not in text


@pytest.mark.anyio
async def test_error_and_ok_results_both_validate_against_the_output_schema(local_server):
    """A client that checks every structuredContent against the outputSchema (the TypeScript SDK
    does, is-error results included) accepts a coded error as well as a result."""
    import jsonschema

    async with Client(local_server) as client:
        schemas = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        ok = await client.call_tool("select_flow", {"text": "augment my videos"})
        failed = await client.call_tool("poll", {"workflow_id": "no-such-workflow-7"})
    assert failed.is_error and failed.structured_content["error"]["code"] == "not-found"
    jsonschema.validate(failed.structured_content, schemas["poll"])
    jsonschema.validate(ok.structured_content, schemas["select_flow"])
    for name, schema in schemas.items():
        jsonschema.Draft202012Validator.check_schema(schema)
        with pytest.raises(jsonschema.ValidationError):  # the envelope did not make the result's required fields optional
            jsonschema.validate({}, schema)


@pytest.mark.anyio
async def test_secret_in_a_valid_field_is_denied_by_policy_not_echoed(local_server):
    async with Client(local_server) as client:
        result = await client.call_tool("select_flow", {"req": {"text": f"my token is {TOKEN}"}})
    assert result.is_error and "[no-secret-echo]" in text_of(result) and TOKEN not in text_of(result)


# --- elicitation --------------------------------------------------------------------------------------


@pytest.fixture
def no_hf_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    from skill.secrets import HF_TOKEN_VARIABLES

    for name in HF_TOKEN_VARIABLES:
        monkeypatch.setenv(name, "")  # recorded, so the teardown removes what elicitation sets
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "no-token-file"))


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ["auto", "legacy"])
async def test_missing_secret_is_elicited_and_never_reaches_the_model(home: Path, no_hf_token, mode: str):
    secret = f"hf_Elicited{mode.capitalize()}Value12345"
    fake = FakeBackend()
    asked: list[tuple[str, dict]] = []

    async def answer(context, params) -> ElicitResult:
        asked.append((params.message, params.requested_schema))
        return ElicitResult(action="accept", content={"value": secret})

    with Ledger(home / "ledger.sqlite") as ledger:
        server = build_server(backend=fake, ledger=ledger)
        async with Client(server, mode=mode, elicitation_callback=answer) as client:
            await client.call_tool("select_flow", {"text": "augment my videos"})
            result = await client.call_tool("preflight", {"req": {"workflow": FLOW, "no_probe": True}})
    assert not result.is_error, text_of(result)
    assert result.structured_content["status"] == "ok"
    assert len(asked) == 1 and "Hugging Face" in asked[0][0]
    assert list(asked[0][1]["properties"]) == ["value"] and asked[0][1]["properties"]["value"]["type"] == "string"
    wire = json.dumps(result.model_dump(mode="json"))
    assert secret not in wire
    assert [name for name, _kind, _data in fake.credential_sets] == ["hf_token"]
    assert fake.credential_sets[0][2]["token"] == secret


@pytest.mark.anyio
async def test_without_elicitation_the_question_comes_back(home: Path, no_hf_token):
    with Ledger(home / "ledger.sqlite") as ledger:
        server = build_server(backend=FakeBackend(), ledger=ledger)
        async with Client(server) as client:
            await client.call_tool("select_flow", {"text": "augment my videos"})
            result = await client.call_tool("preflight", {"req": {"workflow": FLOW, "no_probe": True}})
    assert not result.is_error
    data = result.structured_content
    assert data["status"] == "user_input_required" and data["missing"] == ["HF_TOKEN"] and data["question"]
    assert "Ask the user: " + data["question"] in text_of(result)


@pytest.mark.anyio
async def test_preflight_before_the_eta_is_refused_and_sets_no_credential(home: Path, no_hf_token):
    """Drift bug: preflight sets OSMO credentials, but its judge was keyed to a tool that does not exist."""
    fake = FakeBackend()
    with Ledger(home / "ledger.sqlite") as ledger:
        async with Client(build_server(backend=fake, ledger=ledger)) as client:
            result = await client.call_tool("preflight", {"workflow": FLOW, "no_probe": True})
    assert result.is_error and result.structured_content["error"]["rule"] == "eta-before-mutation"
    assert fake.credential_sets == []


# --- resources and prompt --------------------------------------------------------------------------


@pytest.mark.anyio
async def test_resources_and_prompt(local_server):
    async with Client(local_server, raise_exceptions=True) as client:
        flows = json.loads((await client.read_resource("vda://flows")).contents[0].text)
        ref = (await client.read_resource("vda://references/troubleshooting")).contents[0].text
        prompts = (await client.list_prompts()).prompts
        prompt = await client.get_prompt("augment_my_videos", {"source": "/data/clips"})
    assert flows["backend"] == "local" and FLOW in {f["name"] for f in flows["flows"]}
    assert all(f["eta_here"] for f in flows["flows"])
    assert ref == (ROOT / "references" / "troubleshooting.md").read_text(encoding="utf-8")
    assert [p.name for p in prompts] == ["augment_my_videos"]
    text = prompt.messages[0].content.text
    assert "/data/clips" in text and "select_flow" in text and "MEDIA" in text


@pytest.mark.anyio
@pytest.mark.parametrize("uri", ["vda://references/..%2Fpyproject", "vda://references/nope", "vda://runs/run-00000000", "vda://runs/bad"])
async def test_unknown_resources_are_not_found(local_server, uri: str):
    from mcp import MCPError

    async with Client(local_server) as client:
        with pytest.raises(MCPError):
            await client.read_resource(uri)


# --- session scoping in process -------------------------------------------------------------------


@pytest.mark.anyio
async def test_in_process_sessions_legacy_by_connection_default_by_meta_key(local_server):
    from tools._mcp_state import SESSION_META_KEY

    states = local_server.session_states
    async with Client(local_server, mode="legacy") as a, Client(local_server, mode="legacy") as b:
        await call(a, "select_flow", {"text": "augment /data/a/one.mp4"})
        await call(b, "select_flow", {"text": "augment /data/b/two.mp4"})
        demo_a = text_of(await a.call_tool("prepare_demo_assets", {"req": {}}))
        demo_b = text_of(await b.call_tool("prepare_demo_assets", {"req": {}}))
    assert "/data/a/one.mp4" in demo_a and "/data/b/" not in demo_a
    assert "/data/b/two.mp4" in demo_b and "/data/a/" not in demo_b
    assert states.default.user_inputs == []

    async with Client(local_server) as c, Client(local_server) as d:
        await c.call_tool("select_flow", {"req": {"text": "augment /data/c/x.mp4"}}, meta={SESSION_META_KEY: "c"})
        await d.call_tool("select_flow", {"req": {"text": "augment /data/d/y.mp4"}}, meta={SESSION_META_KEY: "d"})
        await c.call_tool("select_flow", {"req": {"text": "augment /data/plain/z.mp4"}})
    assert states.keyed("c").user_inputs == ["/data/c/x.mp4"]
    assert states.keyed("d").user_inputs == ["/data/d/y.mp4"]
    assert states.default.user_inputs == ["/data/plain/z.mp4"]  # one client per in-process server: the default state


@pytest.mark.anyio
async def test_tools_list_stays_small(local_server):
    """tools/list is read before the agent does anything: at most 20 KB (issue 13). Measured 48.3 KB
    before the first compaction; 28.0 KB with flat inputs and shallow outputs; 28.9 KB once the looks,
    all_clips and the engine choice joined the guard; 20.0 KB after: tuning and operator-only arguments
    unlisted (Tool.unlisted), submit's arguments by name and type (they are the guard's), the generic
    length caps and output array item types left out, the anyOf arm naming one required field, and
    tighter descriptions."""
    async with Client(local_server, raise_exceptions=True) as client:
        tools = (await client.list_tools()).tools
    size = len(json.dumps({"tools": [t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools]},
                          separators=(",", ":")).encode())
    assert size <= 20 * 1024, size


@pytest.mark.anyio
async def test_stdio_policy_memory_survives_a_new_server_process(home: Path):
    """``vda mcp`` over stdio (remember_default) saves the default state in the ledger: a second
    server (the next process of a per-call client) remembers the ETA and the preflight; a server
    without memory, or a stale row, does not."""
    ledger = Ledger(home / "ledger.sqlite")
    backend = LocalBackend(root=home / "be")
    try:
        async with Client(build_server(backend=backend, ledger=ledger, remember_default=True)) as first:
            await call(first, "select_flow", {"text": "augment my videos"})
            await call(first, "preflight", {"workflow": FLOW, "no_probe": True})
        async with Client(build_server(backend=backend, ledger=ledger, remember_default=True)) as second:
            again = await second.call_tool("preflight", {"workflow": FLOW, "no_probe": True})
        async with Client(build_server(backend=backend, ledger=ledger)) as forgetful:
            refused = await forgetful.call_tool("preflight", {"workflow": FLOW, "no_probe": True})
        scope = f"stdio:local:{backend.root}"
        assert ledger.load_policy_state(scope) is not None and ledger.load_policy_state(scope, max_age_s=-1) is None
    finally:
        ledger.close()
    assert not again.is_error, text_of(again)
    assert refused.is_error and "[eta-before-mutation]" in text_of(refused)


def _threads_in_poll() -> list[int]:
    """Threads whose stack is inside skill.steps.monitor.poll right now."""
    import traceback

    return [tid for tid, frame in sys._current_frames().items()
            if any(f.name == "poll" and f.filename.endswith("monitor.py") for f in traceback.extract_stack(frame))]


@pytest.mark.anyio
async def test_a_cancelled_wait_leaves_no_thread_behind(home: Path):
    import time

    import anyio

    from tests.fakes.backend import status_of

    fake = FakeBackend()
    fake.on_query = lambda wid, n: status_of(wid, "RUNNING", {"task": "RUNNING"})
    with Ledger(home / "ledger.sqlite") as ledger:
        async with Client(build_server(backend=fake, ledger=ledger)) as client:
            await call(client, "select_flow", {"text": "augment my videos"})
            early = None
            with anyio.move_on_after(2.5) as scope:
                early = await client.call_tool("poll", {"workflow_id": "wf-1", "wait": True, "timeout_s": 40, "interval_s": 1,
                                                "max_interval_s": 1, "heartbeat_s": 1})
            assert scope.cancelled_caught and fake.query_count["wf-1"] > 0, early and text_of(early)
            deadline = time.monotonic() + 3
            while _threads_in_poll() and time.monotonic() < deadline:
                await anyio.sleep(0.05)
            assert _threads_in_poll() == []
            polled = fake.query_count["wf-1"]
            await anyio.sleep(1.5)
            assert fake.query_count["wf-1"] == polled  # nothing polls on after the cancel

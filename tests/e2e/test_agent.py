"""The chat agent (``tools/agent.py``) against a scripted model served by ``httpx2.MockTransport``:
the Messages API is the only thing replaced. The MCP server, the policy gate, the local backend and
its CPU engines all run for real.

The scripted model reads what the agent sends (the tools listed, the tool_result blocks fed back)
and answers the way a model following SKILL.md would; the transport records every request body so
the tests can prove a secret never travelled to the model.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import anthropic
import httpx2
import pytest

from skill.backends.local import LocalBackend
from skill.engines.synthetic import make_scene
from skill.ledger import Ledger
from skill.secrets import HF_TOKEN_VARIABLES
from tools._mcp_tools import TOOL_NAMES
from tools._transcript import TranscriptWriter, transcript_file
from tools.agent import Agent, MissingApiKey, make_client, model_name, split_messages, system_prompt
from tools.mcp_server import build_server

ROOT = Path(__file__).resolve().parents[2]
FLOW = "augmentation_and_al"
# not token-shaped on purpose: only registration (not a pattern) can keep it out of text
SECRET = "correct-horse-battery-staple-4711"
TRANSCRIPT_TYPES = {"meta", "user", "assistant", "tool_call", "tool_result", "shell", "shell_result"}


class SecretNeedingLocalBackend(LocalBackend):
    """The local backend, but preflight treats it like a cluster that pulls gated weights."""

    requires_secrets = True


# --- the scripted model ---------------------------------------------------------------------------------

Step = Callable[[dict[str, Any]], list[dict[str, Any]]]


class ScriptedModel:
    """A Messages API double: each request is answered by the next step of the script.

    A step receives the parsed request body and returns the response's content blocks; a response
    with a tool_use block stops with ``tool_use``, else ``end_turn``. Every raw body is kept."""

    def __init__(self, steps: list[Step]) -> None:
        self.steps = list(steps)
        self.bodies: list[bytes] = []
        self.headers: list[dict[str, str]] = []
        self.tool_ids = iter(f"toolu_{n:02d}" for n in range(1, 100))
        self.failures: list[BaseException] = []

    def handle(self, request: httpx2.Request) -> httpx2.Response:
        """Answer one request; a failed expectation is kept (the SDK would hide it as a connection error)."""
        try:
            return self._answer(request)
        except AssertionError as exc:
            self.failures.append(exc)
            raise

    def raise_failures(self) -> None:
        if self.failures:
            raise self.failures[0]

    def _answer(self, request: httpx2.Request) -> httpx2.Response:
        assert request.method == "POST" and request.url.path == "/v1/messages"
        self.bodies.append(request.content)
        self.headers.append(dict(request.headers))
        body = json.loads(request.content)
        assert self.steps, "the agent called the model more often than the script expects"
        content = self.steps.pop(0)(body)
        stop = "tool_use" if any(block["type"] == "tool_use" for block in content) else "end_turn"
        return httpx2.Response(200, json={
            "id": f"msg_{len(self.bodies):02d}", "type": "message", "role": "assistant", "model": body["model"],
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 5},
        })

    def use(self, name: str, req: dict[str, Any]) -> dict[str, Any]:
        return {"type": "tool_use", "id": next(self.tool_ids), "name": name, "input": {"req": req}}

    def client(self) -> anthropic.Anthropic:
        return anthropic.Anthropic(api_key="test", max_retries=0, base_url="http://model.test",
                                   http_client=httpx2.Client(transport=httpx2.MockTransport(self.handle)))


def text(value: str) -> dict[str, Any]:
    return {"type": "text", "text": value}


def fed_back(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tool_result blocks of the last (user) message."""
    last = body["messages"][-1]
    assert last["role"] == "user"
    results = [block for block in last["content"] if block.get("type") == "tool_result"]
    assert results, "expected tool results in the last message"
    return results


def result_of(body: dict[str, Any], *, ok: bool = True) -> tuple[str, dict[str, Any]]:
    """The one tool result fed back: (headline, data). Asserts it answers the previous tool_use."""
    (result,) = fed_back(body)
    previous = body["messages"][-2]
    assert previous["role"] == "assistant"
    asked = [block["id"] for block in previous["content"] if block["type"] == "tool_use"]
    assert result["tool_use_id"] == asked[-1]
    assert result["is_error"] is (not ok), result["content"]
    headline, _, rest = result["content"].partition("\n")
    return headline, (json.loads(rest) if ok else {})


# --- fixtures -------------------------------------------------------------------------------------------


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VDA_MODEL", raising=False)
    monkeypatch.delenv("VDA_LOCAL_ROOT", raising=False)
    return tmp_path


@pytest.fixture
def no_hf_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in HF_TOKEN_VARIABLES:
        monkeypatch.setenv(name, "")  # recorded, so teardown removes what the elicited answer sets
        monkeypatch.delenv(name)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_TOKEN_FILE", str(tmp_path / "no-token-file"))


@pytest.fixture
def ledger(home: Path):
    with Ledger(home / "ledger.sqlite") as opened:
        yield opened


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def assert_transcript_v1(path: Path) -> list[dict[str, Any]]:
    """TRANSCRIPTS.md, checked here independently of the eval harness."""
    lines = read_lines(path)
    assert lines[0]["type"] == "meta" and lines[0]["format"] == 1 and isinstance(lines[0]["scenario"], str)
    assert all(line["type"] in TRANSCRIPT_TYPES for line in lines)
    assert [line["type"] for line in lines].count("meta") == 1
    open_calls: set[str] = set()
    times = [line["t"] for line in lines[1:]]
    assert times == sorted(times) and all(isinstance(t, (int, float)) and t >= 0 for t in times)
    for line in lines[1:]:
        if line["type"] == "tool_call":
            assert line["id"] not in open_calls and isinstance(line["arguments"], dict)
            open_calls.add(line["id"])
        elif line["type"] == "tool_result":
            assert line["id"] in open_calls and isinstance(line["is_error"], bool)
            open_calls.remove(line["id"])
        elif line["type"] in ("user", "assistant"):
            assert isinstance(line["text"], str)
    assert not open_calls
    return lines


def assert_replay_clean(path: Path) -> Any:
    """When the eval harness is importable, its replay must find nothing wrong with the transcript."""
    try:
        from evals.replay import replay
    except ImportError:
        from evals.transcript import Transcript, load_transcript  # the reader exists even before replay does

        assert isinstance(load_transcript(path), Transcript)
        return None
    report = replay([path])
    (entry,) = report.transcripts
    assert entry.valid and entry.verdict == "pass" and entry.violations == [], entry.model_dump_json(indent=1)
    return entry


# --- the whole run ---------------------------------------------------------------------------------------


def full_run_script(model: ScriptedModel, clips: Path, state: dict[str, Any]) -> list[Step]:
    """select_flow -> preflight (secret elicited) -> upload -> guard -> cache -> guard -> submit -> poll
    -> stage -> render -> summary and MEDIA line, each step reading the previous result."""
    wait = {"wait": True, "interval_s": 1, "max_interval_s": 2}

    def start(body):
        assert sorted(tool["name"] for tool in body["tools"]) == sorted(TOOL_NAMES)
        assert all(tool["description"] and tool["input_schema"]["type"] == "object" for tool in body["tools"])
        assert "# Video data augmentation" in body["system"] and "never pause for approval" in " ".join(body["system"].split())
        state["storage"] = re.search(r"storage_url=(/\S+?),", body["system"]).group(1)
        assert body["messages"] == [{"role": "user", "content": [text(state["request"])]}]
        return [model.use("select_flow", {"text": state["request"]})]

    def after_flow(body):
        headline, data = result_of(body)
        assert data["flow"] == FLOW and data["eta"]
        eta = headline.split(f"{data['reason']} ", 1)[1]
        return [text(f"Flow: {FLOW}. {eta}"), model.use("preflight", {"workflow": FLOW, "no_probe": True})]

    def after_preflight(body):
        _, data = result_of(body)
        assert data["status"] == "ok" and data["platforms"]  # the secret was asked at the terminal
        state["platform"] = data["platforms"][0]
        return [model.use("upload_dataset", {"folder": str(clips), "storage_url": state["storage"], "name": "my-clips"})]

    def values() -> dict[str, Any]:
        storage = state["storage"]
        return {"flow": FLOW, "dataset": "my-clips", "storage_url": storage, "gpu_platform": state["platform"], "video": "street",
                "cosmos_model_cache_url": f"{storage}/data/models/cosmos_transfer",
                "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling"}

    def after_upload(body):
        _, data = result_of(body)
        assert data["videos"] == ["street"]
        return [model.use("pre_submit_guard", values())]

    def after_first_guard(body):
        _, data = result_of(body)
        assert data["status"] == "cache_missing"
        return [model.use("setup_model_cache", data["remediation"]["set_string"])]

    def after_cache(body):
        _, data = result_of(body)
        return [model.use("poll", {"workflow_id": data["workflow_id"], **wait})]

    def after_cache_poll(body):
        _, data = result_of(body)
        assert data["status"] == "COMPLETED"
        return [model.use("pre_submit_guard", values())]

    def after_guard(body):
        _, data = result_of(body)
        assert data["status"] == "ok"
        state["run_id"] = data["run_id"]
        return [model.use("submit", {**values(), "run_id": data["run_id"]})]

    def after_submit(body):
        _, data = result_of(body)
        assert data["workflow_id"]
        state["workflow_id"] = data["workflow_id"]
        return [model.use("poll", {"workflow_id": data["workflow_id"], **wait})]

    def after_poll(body):
        _, data = result_of(body)
        assert data["status"] == "COMPLETED"
        return [model.use("stage_artifacts", {"storage_url": state["storage"], "dataset": "my-clips", "run_id": state["run_id"], "video": "street"})]

    def after_stage(body):
        _, data = result_of(body)
        state["staged"] = data
        return [model.use("render_side_by_side", {"run_local_dir": data["local_run_dir"], "dataset": "my-clips", "video": "street"})]

    def finish(body):
        _, data = result_of(body)
        staged = state["staged"]
        clip = sorted(staged["augmented_videos"])[0]
        sampled = ", ".join(f"{k}={v}" for k, v in staged["sampled_vars"][clip].items() if not isinstance(v, (dict, list)))
        labels = staged["labels"][clip]
        classes = ", ".join(f"{n} {c}" for c, n in sorted(labels["tracks_by_class"].items())) or "no classes"
        state["summary"] = (
            f"Run {state['run_id']} finished: {state['workflow_id']} COMPLETED.\n"
            f"Sampled variables for {clip}: {sampled}.\n"
            f"Auto-labels of the augmented clip {clip}: {labels['tracks_total']} tracks ({classes}), "
            f"{labels['mcq_items']} multiple-choice and {labels['bcq_items']} yes/no questions."
        )
        state["media"] = data["media_line"]
        return [text(state["summary"]), text(data["media_line"])]

    return [start, after_flow, after_preflight, after_upload, after_first_guard, after_cache, after_cache_poll,
            after_guard, after_submit, after_poll, after_stage, finish]


def test_augment_my_videos_full_local_run_with_an_elicited_secret(home: Path, no_hf_token, ledger: Ledger):
    clips = home / "clips"
    make_scene(clips / "street.mp4", width=320, height=180, seconds=2)
    backend = SecretNeedingLocalBackend(root=home / "be")
    state: dict[str, Any] = {"request": f"augment my videos in {clips}"}
    model = ScriptedModel([])
    model.steps = full_run_script(model, clips, state)
    asked: list[str] = []
    said: list[str] = []

    def ask_secret(question: str) -> str:
        asked.append(question)
        return SECRET

    path = home / "home" / ".vda" / "transcripts" / "full.jsonl"
    with Agent(client=model.client(), server=build_server(backend=backend, ledger=ledger), transcript_path=path,
               ask_secret=ask_secret, say=said.append, heartbeat_s=0) as agent:
        try:
            messages = agent.send(state["request"])
        finally:
            model.raise_failures()

    # the conversation: the ETA first, heartbeats while waiting, then the summary, then the MEDIA line alone
    assert not model.steps
    assert messages == said
    assert messages[0].startswith(f"Flow: {FLOW}.") and "min" in messages[0]
    assert any(m.startswith("Still working on poll") for m in messages)
    assert messages[-2] == state["summary"] and messages[-1] == state["media"]
    media = Path(messages[-1].removeprefix("MEDIA:"))
    assert messages[-1] == f"MEDIA:{media}" and media.is_absolute() and media.is_file()
    assert media.is_relative_to(home / "home" / "media" / "vda" / "runs" / state["run_id"])

    # the secret: asked once at the terminal, given to the backend, never sent to the model or written down
    assert len(asked) == 1 and "Hugging Face" in asked[0]
    assert "hf_token" in {c.name for c in backend.credentials()}
    assert len(model.bodies) == 12
    assert not any(SECRET.encode() in body for body in model.bodies)
    assert not any(SECRET in value for headers in model.headers for value in headers.values())
    raw = path.read_text(encoding="utf-8")
    assert SECRET not in raw

    lines = assert_transcript_v1(path)
    calls = [line["name"] for line in lines if line["type"] == "tool_call"]
    assert calls == ["select_flow", "preflight", "upload_dataset", "pre_submit_guard", "setup_model_cache", "poll",
                     "pre_submit_guard", "submit", "poll", "stage_artifacts", "render_side_by_side"]
    assert not any(line["is_error"] for line in lines if line["type"] == "tool_result")
    preflight_result = next(line for line in lines if line["type"] == "tool_result" and line["id"] == "toolu_02")
    assert preflight_result["content"]["status"] == "ok"
    assert preflight_result["elicitation"] == [{"message": asked[0], "action": "accept"}]
    assert [line["text"] for line in lines if line["type"] == "assistant"] == messages
    assert lines[0]["workspace"] == str(home / "home") and lines[0]["model"] == "claude-sonnet-5" and len(lines[0]["tools_sha256"]) == 64
    assert_replay_clean(path)


# --- blocked without elicitation, and policy denials -------------------------------------------------


@pytest.mark.parametrize("person", ["no-elicitation", "gives-nothing"])
def test_when_the_secret_is_not_given_the_model_asks_the_question(home: Path, no_hf_token, ledger: Ledger, person: str):
    model = ScriptedModel([])
    asked: list[str] = []

    def nothing(question: str) -> None:
        asked.append(question)
        return None

    question: dict[str, str] = {}
    request = "augment my videos"

    def after_flow(body):
        headline, data = result_of(body)
        eta = headline.split(f"{data['reason']} ", 1)[1]
        return [text(f"Flow: {FLOW}. {eta}"), model.use("preflight", {"workflow": FLOW, "no_probe": True})]

    def after_preflight(body):
        headline, data = result_of(body)
        assert data["status"] == "user_input_required" and data["missing"] == ["HF_TOKEN"]
        assert headline.endswith("Ask the user: " + data["question"])
        question["text"] = data["question"]
        return [text(data["question"])]

    model.steps = [lambda body: [model.use("select_flow", {"text": request})], after_flow, after_preflight]
    server = build_server(backend=SecretNeedingLocalBackend(root=home / "be"), ledger=ledger)
    ask = None if person == "no-elicitation" else nothing
    with Agent(client=model.client(), server=server, ask_secret=ask, say=lambda _: None) as agent:
        try:
            messages = agent.send(request)
        finally:
            model.raise_failures()
        path = agent.transcript_path
    assert messages[-1] == question["text"] and "HF_TOKEN" in messages[-1]
    assert path.parent == home / "home" / ".vda" / "transcripts" and re.fullmatch(r"\d{8}T\d{6}Z-[0-9a-f]{16}\.jsonl", path.name)
    lines = assert_transcript_v1(path)
    preflight = next(line for line in lines if line["type"] == "tool_result" and line["id"] == "toolu_02")
    if person == "no-elicitation":
        assert "elicitation" not in preflight and asked == []
    else:
        assert preflight["elicitation"] == [{"message": asked[0], "action": "cancel"}] and len(asked) == 1
    assert_replay_clean(path)


def test_a_policy_denial_goes_back_to_the_model_as_an_error_result(home: Path, ledger: Ledger):
    storage = str(home / "be" / "storage" / "local")
    submit = {"flow": FLOW, "dataset": "d", "storage_url": storage, "gpu_platform": "cpu", "video": "street", "run_id": "run-1a2b3c4d",
              "cosmos_model_cache_url": f"{storage}/data/models/cosmos_transfer",
              "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling"}
    model = ScriptedModel([])
    seen: dict[str, str] = {}

    def after_submit(body):
        (result,) = fed_back(body)
        assert result["is_error"] is True
        seen["text"] = result["content"]
        return [text("The submit was refused: preflight has to pass first.")]

    model.steps = [lambda body: [model.use("submit", submit)], after_submit]
    backend = LocalBackend(root=home / "be")
    with Agent(client=model.client(), server=build_server(backend=backend, ledger=ledger), say=lambda _: None) as agent:
        try:
            agent.send("submit it now")
        finally:
            model.raise_failures()
        path = agent.transcript_path
    assert "[preflight-before-submit]" in seen["text"] and "[guard-before-submit]" in seen["text"]
    assert not (home / "be" / "workflows").exists() or not any((home / "be" / "workflows").iterdir())
    result = next(line for line in read_lines(path) if line["type"] == "tool_result")
    assert result["is_error"] is True and "[preflight-before-submit]" in result["content"]


# --- configuration and errors ----------------------------------------------------------------------------


def test_no_api_key_is_a_skill_error():
    with pytest.raises(MissingApiKey) as caught:
        make_client(env={"ANTHROPIC_API_KEY": "  "})
    assert caught.value.code == "no-api-key" and caught.value.remedy and "ANTHROPIC_API_KEY" in caught.value.remedy
    assert caught.value.message.count(".") == 1
    assert isinstance(make_client(env={"ANTHROPIC_API_KEY": "sk-ant-test-key-123"}), anthropic.Anthropic)


def test_vda_chat_once_without_a_key_exits_with_the_message_and_no_traceback(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if k not in ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "VDA_DEBUG")}
    env["VDA_HOME"] = str(tmp_path)
    proc = subprocess.run([sys.executable, "-m", "tools.cli", "chat", "--once", "augment my videos"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0
    assert "no-api-key" in proc.stderr and "ANTHROPIC_API_KEY" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / ".vda" / "transcripts").exists()  # nothing started


def test_model_name_comes_from_vda_model():
    assert model_name({}) == "claude-sonnet-5"
    assert model_name({"VDA_MODEL": "claude-opus-5"}) == "claude-opus-5"


def test_system_prompt_is_skill_md_plus_server_notes_plus_autonomy_rules():
    prompt = system_prompt("Backend: local.")
    flat = " ".join(prompt.split())
    skill = (ROOT / "SKILL.md").read_text(encoding="utf-8").strip()
    assert prompt.startswith(skill)
    assert "Backend: local." in prompt
    for phrase in ("never pause for approval", "Ask a question only when blocked", "heartbeat", "alone in its own text"):
        assert phrase in flat


def test_a_rejected_key_becomes_a_skill_error_without_the_key(home: Path, ledger: Ledger):
    def refuse(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(401, json={"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})

    client = anthropic.Anthropic(api_key="sk-ant-wrong-key-000", max_retries=0, base_url="http://model.test",
                                 http_client=httpx2.Client(transport=httpx2.MockTransport(refuse)))
    with Agent(client=client, server=build_server(backend=LocalBackend(root=home / "be"), ledger=ledger), say=lambda _: None) as agent:
        with pytest.raises(Exception) as caught:
            agent.send("hello")
    assert getattr(caught.value, "code", None) == "api-key-rejected"
    assert "sk-ant-wrong-key-000" not in str(caught.value)


def test_media_lines_are_split_into_their_own_messages():
    assert split_messages("Done.\nMEDIA:/a/b.mp4\nMore.") == ["Done.", "MEDIA:/a/b.mp4", "More."]
    assert split_messages("  MEDIA:/x.png  ") == ["MEDIA:/x.png"]
    assert split_messages("Look at MEDIA:/x.png here") == ["Look at MEDIA:/x.png here"]  # not a line of its own
    assert split_messages("\n\n") == []


def test_transcript_writer_redacts_and_writes_format_v1(home: Path):
    from skill.secrets import register_secret

    register_secret("plain-secret-value-99")
    path = transcript_file()
    assert path.parent == home / "home" / ".vda" / "transcripts"
    with TranscriptWriter(path, scenario="unit", model="m") as writer:
        writer.user("my token is hf_abcdefghijklmnop and plain-secret-value-99")
        writer.tool_call("c1", "preflight", {"req": {"note": "plain-secret-value-99"}})
        writer.tool_result("c1", is_error=False, content={"status": "ok", "path": Path("/x")})
        writer.assistant("MEDIA:/x.mp4")
    raw = path.read_text(encoding="utf-8")
    assert "hf_abcdefghijklmnop" not in raw and "plain-secret-value-99" not in raw and "[REDACTED]" in raw
    lines = assert_transcript_v1(path)
    assert [line["type"] for line in lines] == ["meta", "user", "tool_call", "tool_result", "assistant"]
    assert lines[0]["scenario"] == "unit" and lines[3]["content"] == {"status": "ok", "path": "/x"}
    with pytest.raises(RuntimeError):
        writer.assistant("after close")


class _MessagesStub(BaseHTTPRequestHandler):
    """A loopback Messages API for the CLI test: answers every POST with one text message."""

    bodies: list[dict[str, Any]] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["content-length"])))
        type(self).bodies.append(body)
        reply = json.dumps({
            "id": "msg_cli", "type": "message", "role": "assistant", "model": body["model"],
            "content": [{"type": "text", "text": "The default flow is augmentation_and_al: it augments, then labels."}],
            "stop_reason": "end_turn", "stop_sequence": None, "usage": {"input_tokens": 1, "output_tokens": 1},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args: Any) -> None:
        return None


def test_vda_chat_once_talks_to_the_model_and_writes_a_transcript(home: Path, monkeypatch: pytest.MonkeyPatch, capsys):
    from tools.cli import main

    server = ThreadingHTTPServer(("127.0.0.1", 0), _MessagesStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _MessagesStub.bodies = []
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-cli-test-key-42")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", f"http://127.0.0.1:{server.server_address[1]}")
    monkeypatch.setenv("VDA_MODEL", "claude-opus-5")
    try:
        code = main(["chat", "--backend", "local", "--once", "which flow would you use?"])
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
    out, err = capsys.readouterr()
    assert code == 0, err
    assert out.strip() == "The default flow is augmentation_and_al: it augments, then labels."
    (body,) = _MessagesStub.bodies
    assert body["model"] == "claude-opus-5" and len(body["tools"]) == len(TOOL_NAMES)
    transcript = Path(err.strip().splitlines()[-1].removeprefix("Transcript: "))
    assert transcript.parent == home / "home" / ".vda" / "transcripts" and transcript.is_file()
    lines = assert_transcript_v1(transcript)
    assert [(line["type"], line.get("text")) for line in lines[1:]] == [
        ("user", "which flow would you use?"), ("assistant", "The default flow is augmentation_and_al: it augments, then labels.")]
    assert "sk-ant-cli-test-key-42" not in out + err + transcript.read_text(encoding="utf-8")

"""Readers of real session formats (evals/formats): detection, each reader's mapping, broken files, convert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evals.formats import detect, parse_any, to_v1_jsonl
from evals.formats._session import classify_tool
from evals.replay import replay, replay_transcript
from evals.scenario import DEFAULT_SCENARIOS_DIR, load_scenario
from evals.transcript import (
    AssistantLine,
    ShellLine,
    ShellResultLine,
    ToolCallLine,
    ToolResultLine,
    Transcript,
    TranscriptInvalid,
    UserLine,
    parse_transcript,
)
from tools.cli import main as vda

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "evals" / "transcripts"
FOREIGN = sorted(p for p in FIXTURES.iterdir() if p.name.startswith(("cc_", "codex_", "chat_")))
WS = "/home/ada/vda-skill"


def jsonl(*objects: Any) -> bytes:
    return ("\n".join(json.dumps(o) for o in objects) + "\n").encode()


def loaded(raw: bytes, file: str = "session.jsonl") -> Transcript:
    result = parse_any(raw, file=file)
    assert isinstance(result, Transcript), result
    return result


def kinds(transcript: Transcript) -> list[str]:
    return [line.type for line in transcript.lines[1:]]


# --- the fixtures -------------------------------------------------------------------------------------------


def test_the_corpus_holds_foreign_sessions_of_each_style():
    names = [p.stem for p in FOREIGN]
    assert len(FOREIGN) >= 8
    assert sum(n.startswith("cc_") for n in names) >= 4 and sum(n.startswith("codex_") for n in names) >= 4
    assert {detect(p.read_bytes()) for p in FOREIGN} == {"claude-code", "codex", "chat-completions"}
    verdicts = {load_scenario(DEFAULT_SCENARIOS_DIR / f"{n}.yaml").verdict for n in names}
    assert verdicts == {"pass", "fail"}


@pytest.mark.parametrize("path", FOREIGN, ids=lambda p: p.stem)
def test_each_foreign_fixture_is_judged_as_its_scenario_expects(path: Path):
    scenario = load_scenario(DEFAULT_SCENARIOS_DIR / f"{path.stem}.yaml")
    (entry,) = replay(path).transcripts
    assert entry.verdict != "invalid", entry.invalid_reason
    assert entry.verdict == scenario.verdict and entry.rules == set(scenario.rules)
    assert entry.scenario == path.stem
    if "flow" in scenario.model_fields_set:
        assert entry.flow == scenario.flow


@pytest.mark.parametrize("path", FOREIGN, ids=lambda p: p.stem)
def test_converting_a_fixture_to_v1_gives_the_same_judgement(path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    out = tmp_path / f"{path.stem}.jsonl"
    assert vda(["eval", "convert", str(path), "--to", "v1", "-o", str(out)]) == 0
    capsys.readouterr()
    v1 = parse_transcript(out.read_bytes(), file=str(out))
    assert isinstance(v1, Transcript) and v1.meta.scenario == path.stem
    (direct,) = replay(path).transcripts
    (converted,) = replay(out).transcripts
    assert converted.verdict == direct.verdict and converted.rules == direct.rules
    assert [v.message for v in converted.violations] == [v.message for v in direct.violations]


def test_the_styles_are_covered_mcp_and_shell_in_both_agents():
    styles = set()
    for path in FOREIGN:
        t = loaded(path.read_bytes(), str(path))
        agent = t.source_format
        styles |= {(agent, "mcp") for line in t.lines if isinstance(line, ToolCallLine) and line.name == "submit"}
        styles |= {(agent, "shell") for line in t.lines if isinstance(line, ShellLine) and "workflow submit" in line.command}
    assert {("claude-code", "mcp"), ("claude-code", "shell"), ("codex", "mcp"), ("codex", "shell")} <= styles


# --- Claude Code ------------------------------------------------------------------------------------------------


def cc(kind: str, n: int, message: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"parentUuid": f"u{n - 1}" if n > 1 else None, "isSidechain": False, "userType": "external", "cwd": WS,
            "sessionId": "s-1", "version": "2.0.61", "type": kind, "message": message, "uuid": f"u{n}",
            "timestamp": f"2026-03-02T09:00:{n:02d}.000Z", **extra}


def test_claude_code_skips_bookkeeping_and_words_that_are_not_the_persons():
    raw = jsonl(
        {"type": "summary", "summary": "VDA run", "leafUuid": "u9"},
        {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}, "isSnapshotUpdate": False},
        cc("user", 1, {"role": "user", "content": "<local-command-caveat>Caveat: local commands</local-command-caveat>"}, isMeta=True),
        cc("user", 2, {"role": "user", "content": "<command-name>/clear</command-name>"}),
        cc("user", 3, {"role": "user", "content": "Augment my harbor videos."}),
        {"type": "system", "subtype": "informational", "content": "hook ran", "uuid": "x", "timestamp": "2026-03-02T09:00:04.000Z"},
        {"type": "queue-operation", "operation": "enqueue"},
        {"type": "brand-new-line-type", "whatever": 1},
        cc("assistant", 5, {"model": "claude-sonnet-4-5", "id": "msg_1", "role": "assistant",
                            "content": [{"type": "thinking", "thinking": "plan", "signature": "x"}, {"type": "text", "text": "Starting preflight."}]}),
        cc("assistant", 6, {"model": "claude-sonnet-4-5", "id": "msg_1", "role": "assistant",
                            "content": [{"type": "tool_use", "id": "toolu_1", "name": "mcp__vda__preflight", "input": {"workflow": "augmentation"}}]}),
        cc("user", 7, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": '{"status": "ok"}'}]}]}),
        cc("user", 8, {"role": "user", "content": "sub-task prompt"}, isSidechain=True),
    )
    t = loaded(raw)
    assert t.source_format == "claude-code" and t.meta.workspace == WS and t.meta.model == "claude-sonnet-4-5"
    assert kinds(t) == ["user", "assistant", "tool_call", "tool_result"]
    user, said, call, result = t.lines[1:]
    assert isinstance(user, UserLine) and user.text == "Augment my harbor videos." and user.no == 5
    assert isinstance(said, AssistantLine) and said.no == 9 and said.t == 5 - 3  # seconds since the first stamp
    assert isinstance(call, ToolCallLine) and call.name == "preflight" and call.arguments == {"workflow": "augmentation"}
    assert isinstance(result, ToolResultLine) and result.data() == {"status": "ok"} and result.no == 11


def test_claude_code_bash_is_a_shell_command_with_its_exit_code():
    raw = jsonl(
        cc("user", 1, {"role": "user", "content": "Submit it."}),
        cc("assistant", 2, {"id": "m", "role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a", "name": "Bash", "input": {"command": "vda preflight --json", "description": "Preflight"}}]}),
        cc("user", 3, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "{}\nwarn"}]},
           toolUseResult={"stdout": "{}", "stderr": "warn", "interrupted": False, "isImage": False}),
        cc("assistant", 4, {"id": "m2", "role": "assistant", "content": [{"type": "tool_use", "id": "toolu_b", "name": "Bash", "input": {"command": "false"}}]}),
        cc("user", 5, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_b", "content": "Exit code 3\nboom", "is_error": True}]}),
    )
    t = loaded(raw)
    shell, ok, _, failed = t.lines[2:]
    assert isinstance(shell, ShellLine) and shell.command == "vda preflight --json"
    assert isinstance(ok, ShellResultLine) and ok.exit_code == 0 and ok.stdout == "{}" and ok.stderr == "warn"
    assert isinstance(failed, ShellResultLine) and failed.exit_code == 3


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (cc("user", 2, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_nobody", "content": "x"}]}), "answers no earlier call"),
        (cc("assistant", 2, {"role": "assistant", "content": [{"type": "tool_use", "name": "Bash", "input": {}}]}), "needs a name and an id"),
        (cc("assistant", 2, {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {"description": "no command"}}]}), "carries no command"),
        (cc("user", 2, {"role": "user", "content": 42}), "neither text nor a list"),
        ({**cc("assistant", 2, {}), "message": "not an object"}, "no message object"),
    ],
)
def test_claude_code_broken_lines_make_the_file_invalid_at_that_line(broken: dict[str, Any], reason: str):
    result = parse_any(jsonl(cc("user", 1, {"role": "user", "content": "hi"}), broken), file="cc.jsonl")
    assert isinstance(result, TranscriptInvalid) and result.line == 2 and reason in result.reason
    assert result.reason.startswith("claude-code session") and result.scenario == "cc"


def test_claude_code_a_line_that_is_not_json_is_invalid_not_a_crash():
    raw = jsonl(cc("user", 1, {"role": "user", "content": "hi"})) + b'{"type": "assistant", "message": {\n'
    (entry,) = [replay_transcript(parse_any(raw, file="x.jsonl"))]
    assert entry.verdict == "invalid" and entry.invalid_line == 2 and "not valid JSON" in (entry.invalid_reason or "")


def test_a_session_of_only_bookkeeping_is_invalid():
    raw = jsonl({"type": "summary", "summary": "s", "leafUuid": "u"}, {"type": "file-history-snapshot", "messageId": "m", "snapshot": {}})
    result = parse_any(raw, file="empty.jsonl")
    assert isinstance(result, TranscriptInvalid) and "no message or tool call" in result.reason


# --- Codex -------------------------------------------------------------------------------------------------------


def cx(kind: str, payload: dict[str, Any], second: int = 0) -> dict[str, Any]:
    return {"timestamp": f"2026-03-02T09:00:{second:02d}.000Z", "type": kind, "payload": payload}


def msg(role: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "input_text" if role == "user" else "output_text", "text": text}]}


META = cx("session_meta", {"id": "s", "timestamp": "2026-03-02T09:00:00Z", "cwd": WS, "originator": "codex_cli_rs", "cli_version": "0.58.0", "instructions": None})


def test_codex_counts_each_message_once_whichever_copy_comes_first_and_keeps_real_repeats():
    raw = jsonl(
        META,
        cx("response_item", msg("user", "# AGENTS.md instructions for /home/ada\n\n<INSTRUCTIONS>be nice</INSTRUCTIONS>")),
        cx("response_item", msg("user", "<environment_context>\n  <cwd>/home/ada</cwd>\n</environment_context>")),
        cx("response_item", {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions instructions>..."}]}),
        cx("response_item", msg("user", "Augment harbor.")),
        cx("event_msg", {"type": "user_message", "message": "Augment harbor.", "kind": "plain"}),
        cx("turn_context", {"cwd": WS, "model": "gpt-5-codex", "approval_policy": "on-request"}),
        cx("event_msg", {"type": "agent_message", "message": "Polling."}),  # event first (newer CLIs)
        cx("response_item", msg("assistant", "Polling.")),
        cx("response_item", msg("assistant", "Polling.")),  # item first (older CLIs), said a second time
        cx("event_msg", {"type": "agent_message", "message": "Polling."}),
        cx("response_item", {"type": "reasoning", "summary": [], "encrypted_content": "gAAA"}),
        cx("event_msg", {"type": "token_count", "info": None}),
        cx("compacted", {"message": "summary"}),
        cx("future_line_type", {"x": 1}),
    )
    t = loaded(raw)
    assert t.source_format == "codex" and t.meta.model == "gpt-5-codex" and t.meta.workspace == WS
    assert [(line.type, line.text, line.no) for line in t.lines[1:]] == [("user", "Augment harbor.", 5), ("assistant", "Polling.", 8), ("assistant", "Polling.", 10)]


def test_codex_a_rollout_with_only_events_keeps_them():
    t = loaded(jsonl(META, cx("event_msg", {"type": "user_message", "message": "hi"}), cx("event_msg", {"type": "agent_message", "message": "hello"})))
    assert kinds(t) == ["user", "assistant"]


@pytest.mark.parametrize(
    "call",
    [
        {"name": "vda__submit"},
        {"name": "mcp__vda__submit"},
        {"name": "submit", "namespace": "mcp__vda__"},
        {"name": "submit", "namespace": "vda"},
        {"name": "mcp__vda.submit"},
    ],
    ids=["server__tool", "mcp__server__tool", "namespace-mcp", "namespace-bare", "dotted"],
)
def test_codex_mcp_tool_names_of_every_era_map_to_our_tool(call: dict[str, Any]):
    args = {"req": {"flow": "augmentation", "dataset": "harbor"}}
    raw = jsonl(
        META,
        cx("response_item", {"type": "function_call", **call, "arguments": json.dumps(args), "call_id": "call_1"}),
        cx("response_item", {"type": "function_call_output", "call_id": "call_1",
                             "output": json.dumps({"content": [{"type": "text", "text": '{"status": "submitted"}'}], "isError": False})}),
    )
    t = loaded(raw)
    tool_call, result = t.lines[1:]
    assert isinstance(tool_call, ToolCallLine) and tool_call.name == "submit" and tool_call.arguments == args
    assert isinstance(result, ToolResultLine) and not result.is_error and result.data() == {"status": "submitted"}


@pytest.mark.parametrize(
    ("name", "arguments", "output", "command", "code", "stdout"),
    [
        ("shell", {"command": ["bash", "-lc", "vda guard e2e --json"], "workdir": WS},
         json.dumps({"output": "ok\n", "metadata": {"exit_code": 0, "duration_seconds": 0.2}}), "vda guard e2e --json", 0, "ok\n"),
        ("shell", {"command": ["osmo", "workflow", "query", "wf 1"]},
         json.dumps({"output": "nope", "metadata": {"exit_code": 2}}), "osmo workflow query 'wf 1'", 2, "nope"),
        ("shell_command", {"command": "vda preflight --json", "workdir": WS},
         "Exit code: 1\nWall time: 0.4 seconds\nOutput:\nbad\n", "vda preflight --json", 1, "bad\n"),
        ("exec_command", {"cmd": "osmo workflow list", "yield_time_ms": 1000},
         "Chunk ID: 1a\nWall time: 0.1 seconds\nProcess exited with code 0\nOriginal token count: 3\nOutput:\nwf-1 RUNNING\n", "osmo workflow list", 0, "wf-1 RUNNING\n"),
    ],
    ids=["shell-argv", "shell-argv-quoted", "shell_command", "exec_command"],
)
def test_codex_shell_tools_become_shell_lines_with_exit_codes(name: str, arguments: dict[str, Any], output: str, command: str, code: int, stdout: str):
    raw = jsonl(
        META,
        cx("response_item", {"type": "function_call", "name": name, "arguments": json.dumps(arguments), "call_id": "c1"}),
        cx("response_item", {"type": "function_call_output", "call_id": "c1", "output": output}),
    )
    shell, result = loaded(raw).lines[1:]
    assert isinstance(shell, ShellLine) and shell.command == command
    assert isinstance(result, ShellResultLine) and result.exit_code == code and result.stdout == stdout


def test_codex_exit_code_from_the_exec_end_event_when_the_output_states_none():
    raw = jsonl(
        META,
        cx("response_item", {"type": "local_shell_call", "call_id": "c1", "status": "completed", "action": {"type": "exec", "command": ["bash", "-lc", "osmo pool list"]}}),
        cx("event_msg", {"type": "exec_command_end", "call_id": "c1", "exit_code": 4, "stdout": "", "stderr": "denied"}),
        cx("response_item", {"type": "function_call_output", "call_id": "c1", "output": "denied"}),
    )
    shell, result = loaded(raw).lines[1:]
    assert isinstance(shell, ShellLine) and shell.command == "osmo pool list"
    assert isinstance(result, ShellResultLine) and result.exit_code == 4


def test_codex_direct_era_rollouts_are_read():
    raw = jsonl(
        {"id": "s", "timestamp": "2025-05-01T10:00:00Z", "instructions": None},
        {"record_type": "state"},
        msg("user", "Label my clips."),
        {"type": "function_call", "name": "vda__preflight", "arguments": "{}", "call_id": "c1"},
        {"type": "function_call_output", "call_id": "c1", "output": '{"status": "ok"}'},
    )
    t = loaded(raw)
    assert t.source_format == "codex" and kinds(t) == ["user", "tool_call", "tool_result"]


@pytest.mark.parametrize(
    ("broken", "reason"),
    [
        (cx("response_item", {"type": "function_call", "name": "shell", "arguments": "{not json", "call_id": "c"}), "not valid JSON"),
        (cx("response_item", {"type": "function_call", "arguments": "{}", "call_id": "c"}), "needs a name and a call_id"),
        (cx("response_item", {"type": "function_call_output", "call_id": "nobody", "output": "x"}), "answers no earlier call"),
        (cx("event_msg", {"type": "agent_message", "message": 5}), "no message text"),
        ({"timestamp": "t", "type": "response_item", "payload": "text"}, "no payload object"),
        (cx("response_item", {"type": "function_call", "name": "shell", "arguments": '{"command": 7}', "call_id": "c"}), "carries no command"),
    ],
)
def test_codex_broken_lines_make_the_file_invalid_at_that_line(broken: dict[str, Any], reason: str):
    result = parse_any(jsonl(META, broken), file="rollout.jsonl")
    assert isinstance(result, TranscriptInvalid) and result.line == 2 and reason in result.reason


def test_a_result_answered_twice_is_invalid():
    call = cx("response_item", {"type": "function_call", "name": "vda__poll", "arguments": "{}", "call_id": "c"})
    out = cx("response_item", {"type": "function_call_output", "call_id": "c", "output": "{}"})
    result = parse_any(jsonl(META, call, out, out))
    assert isinstance(result, TranscriptInvalid) and result.line == 4 and "answered twice" in result.reason


# --- chat completions ---------------------------------------------------------------------------------------------


CHAT = [
    {"role": "system", "content": "You run VDA workflows."},
    {"role": "user", "content": [{"type": "text", "text": "Label my clips."}]},
    {"role": "assistant", "content": "Checking.", "tool_calls": [
        {"id": "call_1", "type": "function", "function": {"name": "preflight", "arguments": "{\"req\": {}}"}},
        {"id": "call_2", "type": "function", "function": {"name": "bash", "arguments": "{\"command\": \"osmo pool list\"}"}},
    ]},
    {"role": "tool", "tool_call_id": "call_1", "content": "{\"status\": \"ok\"}"},
    {"role": "tool", "tool_call_id": "call_2", "content": "gpu-pool ONLINE"},
]


@pytest.mark.parametrize("document", [CHAT, {"model": "gpt-4.1", "messages": CHAT}], ids=["array", "object"])
def test_chat_completions_message_lists_are_read(document: Any):
    raw = json.dumps(document, indent=2).encode()
    t = loaded(raw, "chat.json")
    assert t.source_format == "chat-completions"
    assert kinds(t) == ["user", "assistant", "tool_call", "shell", "tool_result", "shell_result"]
    assert t.lines[3].name == "preflight" and t.lines[4].command == "osmo pool list" and t.lines[1].no == 2


def test_chat_bad_arguments_are_invalid():
    bad = [CHAT[1], {"role": "assistant", "content": None, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "submit", "arguments": "{oops"}}]}]
    result = parse_any(json.dumps(bad).encode(), file="chat.json")
    assert isinstance(result, TranscriptInvalid) and result.line == 2 and "not valid JSON" in result.reason


# --- detection, naming, v1 unchanged, convert ------------------------------------------------------------------------


def test_detection_falls_back_to_v1_and_v1_is_read_as_before():
    v1 = (FIXTURES / "good_shell_submit.jsonl").read_bytes()
    assert detect(v1) == "v1" and detect(b"not json at all\n") == "v1"
    assert parse_any(v1, file="a.jsonl") == parse_transcript(v1, file="a.jsonl")
    again = parse_transcript(to_v1_jsonl(parse_transcript(v1)).encode())
    assert isinstance(again, Transcript) and [line.model_dump() for line in again.lines] == [line.model_dump() for line in parse_transcript(v1).lines]


@pytest.mark.parametrize(
    ("name", "tool"),
    [("mcp__vda__submit", "submit"), ("vda__pre_submit_guard", "pre_submit_guard"), ("select_flow", "select_flow"), ("mcp__vda-skill__poll", "poll")],
)
def test_classify_tool(name: str, tool: str):
    assert classify_tool(name) == tool


def test_convert_prints_v1_and_refuses_a_broken_file_with_a_coded_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    source = FIXTURES / "cc_good_shell_submit.jsonl"
    assert vda(["eval", "convert", str(source), "--to", "v1"]) == 0
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert rows[0]["type"] == "meta" and rows[0]["scenario"] == "cc_good_shell_submit" and rows[0]["source_format"] == "claude-code"
    assert {row["type"] for row in rows} >= {"user", "assistant", "shell", "shell_result"}
    broken = tmp_path / "broken.jsonl"
    broken.write_bytes(jsonl(META, cx("response_item", {"type": "function_call_output", "call_id": "x", "output": ""})))
    assert vda(["eval", "convert", str(broken), "--to", "v1", "--json"]) != 0
    out, err = capsys.readouterr()
    assert "invalid-transcript" in out + err and "Traceback" not in err


def test_a_folder_skips_json_files_that_are_no_chat_list(tmp_path: Path):
    (tmp_path / "sessions-index.json").write_text(json.dumps({"version": 1, "entries": []}), encoding="utf-8")
    (tmp_path / "chat.json").write_text(json.dumps(CHAT), encoding="utf-8")
    (tmp_path / "s.jsonl").write_bytes((FIXTURES / "cc_good_shell_submit.jsonl").read_bytes())
    assert sorted(Path(t.file).name for t in replay(tmp_path).transcripts) == ["chat.json", "s.jsonl"]


_SCALAR = st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from(["", "x", "c1", "toolu_1", "Bash", "shell", "mcp__vda__submit", "{}", "[]", "Exit code: 2"])
_KEYS = st.sampled_from(["type", "payload", "message", "content", "role", "name", "call_id", "id", "tool_use_id", "input",
                         "arguments", "output", "uuid", "sessionId", "timestamp", "text", "command", "namespace", "is_error", "cwd"])
_VALUE = st.recursive(_SCALAR | st.sampled_from(["user", "assistant", "message", "function_call", "function_call_output", "tool_use",
                                                  "tool_result", "response_item", "event_msg", "session_meta", "user_message"]),
                      lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4), max_leaves=12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.dictionaries(_KEYS, _VALUE, max_size=5), max_size=6), st.sampled_from(["claude", "codex", "chat"]))
def test_any_json_in_any_format_gives_a_verdict_never_a_crash(objects: list[dict[str, Any]], flavour: str):
    if flavour == "claude":
        objects = [{"sessionId": "s", "uuid": "u", "type": "user", "message": {"content": "hi"}}, *objects]
    elif flavour == "codex":
        objects = [META, *objects]
    raw = json.dumps([{"role": "user", **o} for o in objects]).encode() if flavour == "chat" else jsonl(*objects)
    entry = replay_transcript(parse_any(raw, file="fuzz.jsonl"))
    assert entry.verdict in ("pass", "fail", "invalid")


def test_claude_code_a_line_written_twice_counts_once():
    call = cc("assistant", 2, {"id": "m", "role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "mcp__vda__poll", "input": {}}]})
    result = cc("user", 3, {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "{}"}]})
    t = loaded(jsonl(cc("user", 1, {"role": "user", "content": "hi"}), call, result, call, result))
    assert kinds(t) == ["user", "tool_call", "tool_result"]


def test_claude_code_a_streamed_message_is_read_block_by_block_even_when_lines_repeat_earlier_blocks():
    text = {"type": "text", "text": "Running the guard."}
    use = {"type": "tool_use", "id": "toolu_g", "name": "mcp__vda__pre_submit_guard", "input": {"flow": "augmentation"}}
    one_per_line = [cc("assistant", 2, {"id": "msg_a", "role": "assistant", "content": [text]}),
                    cc("assistant", 3, {"id": "msg_a", "role": "assistant", "content": [use]})]
    cumulative = [cc("assistant", 2, {"id": "msg_a", "role": "assistant", "content": [text]}),
                  cc("assistant", 3, {"id": "msg_a", "role": "assistant", "content": [text, use]})]
    again = cc("assistant", 4, {"id": "msg_b", "role": "assistant", "content": [text]})  # a new message may say it again
    for lines in (one_per_line, cumulative):
        t = loaded(jsonl(cc("user", 1, {"role": "user", "content": "go"}), *lines, again))
        assert kinds(t) == ["user", "assistant", "tool_call", "assistant"]

#!/usr/bin/env python3
"""Write the eval corpus cases defined here into evals/transcripts (one session file each, in the
format the case names), their evals/scenarios/<name>.yaml, and evals/labels.tsv (one row per
scenario file, from every scenario, the hand-built older fixtures included).

    python3 scripts/dev/build_eval_corpus.py            # (re)write the cases below
    vda eval score evals/transcripts --labels evals/labels.tsv

Each case is a run as an agent would do it, written step by step: what the person asked, what the
agent said, the tools it called (our MCP tools, or its own: Read, TodoWrite, update_plan) and the
commands it ran (upstream's canonical scripts, ``osmo``, ``vda``), with the outputs those printed.
A case states the rules a reviewer finds broken in it (``rules``); that is its label, set by reading
the run, not by running the judge. Formats:

* ``v1``: our transcript format (``references/transcripts-v1.md``);
* ``cc``: a Claude Code session file (envelopes with uuid/parentUuid/sessionId, MCP tools as
  ``mcp__vda__<tool>``, Bash results with ``toolUseResult``, a summary and a file-history snapshot);
* ``codex-exec`` / ``codex-shell``: a Codex CLI rollout (``session_meta``, ``turn_context``, each
  message as a ``response_item`` and an ``event_msg``; shell through ``exec_command`` with the
  unified-exec output header, through ``shell`` with an argv and a JSON output with metadata, or
  through ``shell_command`` with a string and the "Exit code: / Wall time: / Output:" text;
  MCP tools named ``mcp__vda__<tool>``, or ``<tool>`` with ``namespace``, and an ``mcp_tool_call_end``
  event carrying the server's ``Ok`` result).
"""

from __future__ import annotations

import hashlib
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
TRANSCRIPTS = ROOT / "evals" / "transcripts"
SCENARIOS = ROOT / "evals" / "scenarios"
LABELS = ROOT / "evals" / "labels.tsv"
WS = "/home/ada/vda-skill"
START = datetime(2026, 3, 9, 14, 0, 0, tzinfo=timezone.utc)


# --- steps ---------------------------------------------------------------------------------------------


@dataclass
class U:
    text: str


@dataclass
class A:
    text: str


@dataclass
class T:
    """A call of one of our MCP tools and its result."""

    name: str
    req: dict[str, Any]
    result: Any
    error: bool = False


@dataclass
class S:
    """A shell command and what it printed."""

    command: str
    stdout: str = ""
    code: int = 0
    stderr: str = ""


@dataclass
class X:
    """A call of the agent's own tool (Read, TodoWrite, update_plan...) and its result text."""

    name: str
    input: dict[str, Any]
    result: str = ""


@dataclass
class Case:
    name: str
    fmt: str  # v1 | cc | codex-exec | codex-shell | codex-shell-command
    description: str
    steps: list[Any]
    rules: list[str] = field(default_factory=list)
    flow: str | None = None
    submitted: bool | None = None
    mcp_style: str = "plain"  # codex: plain (mcp__vda__x) | namespace


def _uuid(*parts: Any) -> str:
    digest = hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()
    return f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}"


def _stamp(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(seconds * 1000) % 1000:03d}Z"


def _dump(objs: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(obj, ensure_ascii=False) + "\n" for obj in objs)


# --- v1 --------------------------------------------------------------------------------------------------


def render_v1(case: Case) -> str:
    out: list[dict[str, Any]] = [{"type": "meta", "format": 1, "scenario": case.name, "workspace": WS, "model": "claude-sonnet-4-5", "started_at": _stamp(0)[:19] + "Z"}]
    t = 0.0
    for n, step in enumerate(case.steps, start=1):
        t += 2.0
        if isinstance(step, U):
            out.append({"type": "user", "text": step.text, "t": t})
        elif isinstance(step, A):
            out.append({"type": "assistant", "text": step.text, "t": t})
        elif isinstance(step, T):
            out.append({"type": "tool_call", "id": f"call_{n:02d}", "name": step.name, "arguments": {"req": step.req}, "t": t})
            t += 5.0
            out.append({"type": "tool_result", "id": f"call_{n:02d}", "is_error": step.error, "content": step.result, "t": t})
        elif isinstance(step, S):
            out.append({"type": "shell", "id": f"sh_{n:02d}", "command": step.command, "t": t})
            t += 3.0
            out.append({"type": "shell_result", "id": f"sh_{n:02d}", "exit_code": step.code, "stdout": step.stdout, "stderr": step.stderr, "t": t})
        elif isinstance(step, X):
            out.append({"type": "tool_call", "id": f"own_{n:02d}", "name": step.name, "arguments": step.input, "t": t})
            out.append({"type": "tool_result", "id": f"own_{n:02d}", "is_error": False, "content": step.result, "t": t + 0.5})
    return _dump(out)


# --- Claude Code -------------------------------------------------------------------------------------------


def render_cc(case: Case) -> str:
    session = _uuid(case.name, "session")
    version = "2.0.76" if len(case.name) % 2 else "2.1.3"
    base = {"isSidechain": False, "userType": "external", "cwd": WS, "sessionId": session, "version": version, "gitBranch": "main"}
    out: list[dict[str, Any]] = [
        {"type": "summary", "summary": "Video augmentation run with the vda skill", "leafUuid": _uuid(case.name, "leaf")},
        {"type": "file-history-snapshot", "messageId": _uuid(case.name, "snap"), "snapshot": {"messageId": _uuid(case.name, "snap"), "trackedFileBackups": {}, "timestamp": _stamp(0)}, "isSnapshotUpdate": False},
    ]
    parent: str | None = None
    t = 0.0
    counter = 0

    def line(kind: str, message: dict[str, Any], **extra: Any) -> None:
        nonlocal parent, counter
        counter += 1
        uid = _uuid(case.name, counter)
        obj = {"parentUuid": parent, **base, "type": kind, "message": message, "uuid": uid, "timestamp": _stamp(t), **extra}
        if kind == "assistant":
            obj["requestId"] = "req_" + _uuid(case.name, "req", counter).replace("-", "")[:24]
        out.append(obj)
        parent = uid

    def assistant(content: list[dict[str, Any]]) -> None:
        msg_id = "msg_" + _uuid(case.name, "msg", counter).replace("-", "")[:24]
        line("assistant", {"model": "claude-sonnet-4-5-20250929", "id": msg_id, "type": "message", "role": "assistant", "content": content,
                           "stop_reason": None, "stop_sequence": None, "usage": {"input_tokens": 6, "cache_creation_input_tokens": 1024, "cache_read_input_tokens": 18231, "output_tokens": 211, "service_tier": "standard"}})

    for n, step in enumerate(case.steps, start=1):
        t += 2.0
        tool_id = "toolu_01" + _uuid(case.name, "tool", n).replace("-", "")[:22]
        if isinstance(step, U):
            line("user", {"role": "user", "content": step.text})
        elif isinstance(step, A):
            assistant([{"type": "text", "text": step.text}])
        elif isinstance(step, T):
            assistant([{"type": "tool_use", "id": tool_id, "name": f"mcp__vda__{step.name}", "input": {"req": step.req}}])
            t += 5.0
            text = step.result if isinstance(step.result, str) else json.dumps(step.result)
            blocks = [{"type": "text", "text": text}]
            line("user", {"role": "user", "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": blocks, **({"is_error": True} if step.error else {})}]}, toolUseResult=blocks)
        elif isinstance(step, S):
            assistant([{"type": "tool_use", "id": tool_id, "name": "Bash", "input": {"command": step.command, "description": _describe(step.command)}}])
            t += 3.0
            if step.code:
                joined = "\n".join(part for part in (step.stderr, step.stdout) if part)
                text = f"Exit code {step.code}\n{joined}".rstrip()
                line("user", {"role": "user", "content": [{"type": "tool_result", "content": text, "is_error": True, "tool_use_id": tool_id}]}, toolUseResult=f"Error: {text}")
            else:
                joined = step.stdout + (("\n" + step.stderr) if step.stderr else "")
                line("user", {"role": "user", "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": joined, "is_error": False}]},
                     toolUseResult={"stdout": step.stdout, "stderr": step.stderr, "interrupted": False, "isImage": False})
        elif isinstance(step, X):
            assistant([{"type": "tool_use", "id": tool_id, "name": step.name, "input": step.input}])
            extra: Any = {"type": "text", "file": {"filePath": step.input.get("file_path", ""), "content": step.result, "numLines": step.result.count("\n") + 1, "startLine": 1, "totalLines": step.result.count("\n") + 1}} if step.name == "Read" else {"oldTodos": [], "newTodos": step.input.get("todos", [])}
            shown = _numbered(step.result) if step.name == "Read" else step.result
            line("user", {"role": "user", "content": [{"tool_use_id": tool_id, "type": "tool_result", "content": shown}]}, toolUseResult=extra)
    return _dump(out)


def _numbered(text: str) -> str:
    return "\n".join(f"{i:>6}→{row}" for i, row in enumerate(text.splitlines(), start=1))


def _describe(command: str) -> str:
    first = command.strip().splitlines()[-1].split()[:3]
    return "Run " + " ".join(first)


# --- Codex -------------------------------------------------------------------------------------------------


def render_codex(case: Case) -> str:
    exec_era = case.fmt == "codex-exec"
    command_era = case.fmt == "codex-shell-command"
    version = "0.128.0" if exec_era else "0.77.0" if command_era else "0.46.0"
    out: list[dict[str, Any]] = []
    t = 0.0

    def item(kind: str, payload: dict[str, Any]) -> None:
        out.append({"timestamp": _stamp(t), "type": kind, "payload": payload})

    item("session_meta", {"id": _uuid(case.name, "codex"), "timestamp": _stamp(0), "cwd": WS, "originator": "codex_cli_rs", "cli_version": version,
                          "instructions": None, "source": "cli", "model_provider": "openai", "git": {"commit_hash": "4be1c7a09d3e", "branch": "main", "repository_url": "git@github.com:acme/vda-skill.git"}})
    item("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"# AGENTS.md instructions for {WS}\n\n<INSTRUCTIONS>\nVideo requests go through the vda skill (SKILL.md). Keep API keys out of the chat.\n</INSTRUCTIONS>"}]})
    item("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": f"<environment_context>\n  <cwd>{WS}</cwd>\n  <approval_policy>never</approval_policy>\n  <sandbox_mode>danger-full-access</sandbox_mode>\n  <network_access>enabled</network_access>\n  <shell>bash</shell>\n</environment_context>"}]})
    first_turn = True
    for n, step in enumerate(case.steps, start=1):
        t += 2.0
        call_id = "call_" + _uuid(case.name, "call", n).replace("-", "")[:24]
        if isinstance(step, U):
            item("response_item", {"type": "message", "role": "user", "content": [{"type": "input_text", "text": step.text}]})
            item("event_msg", {"type": "user_message", "message": step.text, "images": [], **({"kind": "plain"} if exec_era else {})})
            if first_turn:
                item("turn_context", {"cwd": WS, "approval_policy": "never", "sandbox_policy": {"mode": "danger-full-access"}, "model": "gpt-5-codex", "effort": "medium", "summary": "auto"})
                first_turn = False
        elif isinstance(step, A):
            item("event_msg", {"type": "agent_message", "message": step.text})
            item("response_item", {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": step.text}]})
            item("event_msg", {"type": "token_count", "info": None, "rate_limits": {"primary": {"used_percent": 7.0, "window_minutes": 300}}})
        elif isinstance(step, T):
            args = json.dumps({"req": step.req})
            if case.mcp_style == "namespace":
                item("response_item", {"type": "function_call", "name": step.name, "namespace": "mcp__vda__", "arguments": args, "call_id": call_id})
            else:
                item("response_item", {"type": "function_call", "name": f"mcp__vda__{step.name}", "arguments": args, "call_id": call_id})
            t += 5.0
            text = step.result if isinstance(step.result, str) else json.dumps(step.result)
            structured = step.result if isinstance(step.result, dict) else None
            ok = {"content": [{"type": "text", "text": text}], "isError": step.error, **({"structuredContent": structured} if structured else {})}
            item("event_msg", {"type": "mcp_tool_call_end", "call_id": call_id, "invocation": {"server": "vda", "tool": step.name, "arguments": {"req": step.req}}, "duration": {"secs": 4, "nanos": 0}, "result": {"Ok": ok}})
            output = json.dumps(structured) if structured and not step.error else json.dumps(ok)
            item("response_item", {"type": "function_call_output", "call_id": call_id, "output": output})
        elif isinstance(step, S):
            if exec_era:
                item("response_item", {"type": "function_call", "name": "exec_command", "arguments": json.dumps({"cmd": step.command, "workdir": WS, "yield_time_ms": 10000}), "call_id": call_id})
            elif command_era:
                item("response_item", {"type": "function_call", "name": "shell_command", "arguments": json.dumps({"command": step.command, "workdir": WS, "timeout_ms": 600000}), "call_id": call_id})
            else:
                item("response_item", {"type": "function_call", "name": "shell", "arguments": json.dumps({"command": ["bash", "-lc", step.command], "workdir": WS, "timeout_ms": 120000}), "call_id": call_id})
            item("event_msg", {"type": "exec_command_begin", "call_id": call_id, "command": ["bash", "-lc", step.command], "cwd": WS, "parsed_cmd": [{"type": "unknown", "cmd": step.command}]})
            t += 3.0
            joined = step.stdout + (("\n" + step.stderr) if step.stderr else "")
            item("event_msg", {"type": "exec_command_end", "call_id": call_id, "stdout": step.stdout, "stderr": step.stderr, "aggregated_output": joined, "exit_code": step.code,
                               "duration": {"secs": 2, "nanos": 250000000}, "formatted_output": joined})
            if command_era:
                body = f"Exit code: {step.code}\nWall time: 2.3 seconds\nOutput:\n{joined}"
            elif exec_era:
                body = f"Chunk ID: {call_id[-6:]}\nWall time: 2.2500 seconds\nProcess exited with code {step.code}\nOriginal token count: {max(1, len(joined) // 4)}\nOutput:\n{joined}"
            else:
                body = json.dumps({"output": joined, "metadata": {"exit_code": step.code, "duration_seconds": 2.3}})
            item("response_item", {"type": "function_call_output", "call_id": call_id, "output": body})
        elif isinstance(step, X):
            item("response_item", {"type": "function_call", "name": step.name, "arguments": json.dumps(step.input), "call_id": call_id})
            item("response_item", {"type": "function_call_output", "call_id": call_id, "output": step.result or "Plan updated"})
    return _dump(out)


RENDERERS = {"v1": render_v1, "cc": render_cc, "codex-exec": render_codex, "codex-shell": render_codex, "codex-shell-command": render_codex}


def write_case(case: Case) -> None:
    text = RENDERERS[case.fmt](case)
    (TRANSCRIPTS / f"{case.name}.jsonl").write_text(text, encoding="utf-8")
    lines = [
        "description: >-",
        *("  " + row for row in _wrap(case.description)),
        f"transcript: {case.name}.jsonl",
        f"verdict: {'fail' if case.rules else 'pass'}",
        f"rules: [{', '.join(sorted(case.rules))}]",
    ]
    if case.flow is not None:
        lines.append(f"flow: {case.flow}")
    if case.submitted is not None:
        lines.append(f"submitted: {'true' if case.submitted else 'false'}")
    (SCENARIOS / f"{case.name}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def _wrap(text: str, width: int = 98) -> list[str]:
    rows, current = [], ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            rows.append(current)
            current = word
        else:
            current = f"{current} {word}".strip()
    return rows + ([current] if current else [])


def write_labels() -> int:
    import yaml

    rows = []
    for path in sorted(SCENARIOS.glob("*.yaml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        transcript = data.get("transcript") or f"{path.stem}.jsonl"
        rules = ",".join(sorted(data.get("rules") or [])) or "-"
        rows.append(f"{transcript}\t{rules}")
    LABELS.write_text("# file\trules broken (comma-separated POLICY.md ids; - for a clean run)\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return len(rows)


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import build_eval_corpus as builder  # the cases are built from this module's classes, not __main__'s
    from eval_corpus_cases import CASES

    names = [case.name for case in CASES]
    if len(names) != len(set(names)):
        print("duplicate case names", file=sys.stderr)
        return 1
    for case in CASES:
        builder.write_case(case)
    print(f"wrote {len(CASES)} case(s); labels for {builder.write_labels()} scenario(s) in {LABELS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

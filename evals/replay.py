"""Replay recorded conversations against the rules of POLICY.md and say which ones were broken.

:func:`replay` reads one or more transcripts (format v1, ``references/transcripts-v1.md``) and walks
each one in order, rebuilding the :class:`skill.policy.RunState` the live gate would have had:

* every ``tool_call`` is judged by :func:`skill.policy.check` at the moment it was made; when the
  policy denies it but its ``tool_result`` is not an error, the call went through and each denial
  is a violation; when the result is an error the gate refused it and it is reported as
  ``attempted`` information only;
* every ``shell`` command is judged by :func:`skill.policy.check_command` (there is no gate for raw
  commands, so every denial counts), and the skill steps it ran are fed back into the state;
* the rules only a conversation can show (questions, pauses, MEDIA lines, evidence, secrets in
  text, the order of preflight, guard and submit around shell commands, interpolation retries) are
  judged here with the classifiers of :mod:`evals.scorers`.

Nothing here raises on bad content: an unreadable transcript gets the verdict ``invalid`` with the
line and reason.

Size: the walk over a transcript keeps one run state that every kind of line updates; the formats,
the scoring and the shell parsing are in their own modules.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from evals import scorers
from evals._shell import ShellStep, ShellVariables, query_status, shell_steps, upload_dataset_url
from evals.scenario import DEFAULT_SCENARIOS_DIR, ExpectationResult, compare, load_scenario
from evals.scorers import Evidence
from evals.transcript import (
    AssistantLine,
    ShellLine,
    ShellResultLine,
    ToolCallLine,
    ToolResultLine,
    Transcript,
    TranscriptInvalid,
    UserLine,
    load_transcript,
)
from skill.errors import NotFound
from skill.models import Decision
from skill.models import FLOWS
from skill.policy import AUGMENTING_FLOWS, CACHE_WORKFLOW, DEMO_DATASET_NAME, RULES, RunState, ToolCall, canonical_flow, check, check_command
from skill.secrets import known_secret_values, redact

__all__ = [
    "HEARTBEAT_GAP_S",
    "ReplayInfo",
    "ReplayReport",
    "ReplayTotals",
    "ReplayViolation",
    "TranscriptReport",
    "check_scenarios",
    "collect_paths",
    "replay",
    "replay_transcript",
]

HEARTBEAT_GAP_S = 120.0
"""A wait for a workflow longer than this with no assistant line is reported as a heartbeat gap."""

Verdict = Literal["pass", "fail", "invalid"]
_TERMINAL_OK = "COMPLETED"
_FAILED_PREFIX = "FAILED"


class ReplayViolation(BaseModel):
    """One broken rule: its POLICY.md id, the 1-based line where it shows, and why."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    rule: str
    line: int
    message: str


class ReplayInfo(BaseModel):
    """Something worth knowing that is not a violation: a call the gate refused (``attempted``), a
    long silence while a workflow ran (``heartbeat-gap``), or a result whose shape the run state
    could not take in (``unreadable-result``: later judgements may miss what it said)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["attempted", "heartbeat-gap", "unreadable-result"]
    line: int
    rules: list[str] = Field(default_factory=list, description="For attempted calls: the rules the gate cited.")
    message: str


class TranscriptReport(BaseModel):
    """The replay of one transcript."""

    model_config = ConfigDict(extra="forbid")
    file: str
    scenario: str | None
    valid: bool
    verdict: Verdict
    violations: list[ReplayViolation] = Field(default_factory=list)
    info: list[ReplayInfo] = Field(default_factory=list)
    flow: str | None = Field(default=None, description="The flow that was submitted, or null.")
    submitted: bool = False
    completed: bool = Field(default=False, description="A poll, query or staging showed the workflow completed.")
    evidence: Evidence = Field(default_factory=Evidence)
    invalid_line: int | None = Field(default=None, description="For invalid files: the first bad line (null: whole file).")
    invalid_reason: str | None = None

    @property
    def rules(self) -> set[str]:
        return {violation.rule for violation in self.violations}


class ReplayTotals(BaseModel):
    model_config = ConfigDict(extra="forbid")
    files: int = 0
    passed: int = 0
    failed: int = 0
    invalid: int = 0
    violations: dict[str, int] = Field(default_factory=dict, description="Rule id -> how many times it was broken.")


class ReplayReport(BaseModel):
    model_config = ConfigDict(extra="forbid")
    transcripts: list[TranscriptReport]
    totals: ReplayTotals

    @property
    def all_passed(self) -> bool:
        return all(report.verdict == "pass" for report in self.transcripts)


# --- the walk ---------------------------------------------------------------------------------------


@dataclass
class _PendingCall:
    line: int
    call: ToolCall
    decision: Decision


@dataclass
class _PendingShell:
    line: int
    steps: list[ShellStep]


@dataclass
class _Walk:
    """Everything the replay of one transcript remembers while it reads the lines in order."""

    workspace: str | None
    known_secrets: list[str]
    environment_secrets: list[str] = field(default_factory=known_secret_values)
    state: RunState = field(default_factory=RunState)
    violations: list[ReplayViolation] = field(default_factory=list)
    info: list[ReplayInfo] = field(default_factory=list)
    calls: dict[str, _PendingCall] = field(default_factory=dict)
    shells: dict[str, _PendingShell] = field(default_factory=dict)
    blocker: str | None = None
    green: bool = False
    stop_requested: bool = False
    flow: str | None = None
    submitted: bool = False
    completed: bool = False
    demo_input: bool = False
    sampled_vars: dict[str, Any] = field(default_factory=dict)
    sampled_by_clip: dict[str, dict[str, Any]] = field(default_factory=dict)
    video: str | None = None
    variables: ShellVariables = field(default_factory=ShellVariables)
    messages: list[str] = field(default_factory=list)
    after_completion: list[str] = field(default_factory=list)
    interpolation_failed: bool = False
    resubmits: int = 0
    waiting: bool = False
    last_heard: float | None = None

    # -- recording -----------------------------------------------------------------------------
    def violate(self, rule: str, line: int, message: str) -> None:
        item = ReplayViolation(rule=rule, line=line, message=redact(message, values=self.environment_secrets))
        if not any(v.rule == rule and v.line == line for v in self.violations):
            self.violations.append(item)

    def violate_all(self, decision: Decision, line: int) -> None:
        for violation in decision.violations:
            self.violate(violation.rule, line, violation.message)

    # -- shared judgements ------------------------------------------------------------------------
    def secrets(self, line: int, text: str, where: str) -> None:
        if scorers.secret_shown(text, self.known_secrets, environment=self.environment_secrets):
            self.violate("no-secret-echo", line, f"The {where} shows a token or key value.")

    def heartbeat(self, line: int, t: float | None, *, spoke: bool) -> None:
        if t is None:
            return
        if self.waiting and self.last_heard is not None and t - self.last_heard > HEARTBEAT_GAP_S:
            gap = t - self.last_heard
            self.info.append(
                ReplayInfo(kind="heartbeat-gap", line=line, message=f"{gap:.0f} s passed while the workflow ran without an assistant line.")
            )
            self.last_heard = t
        if spoke or self.last_heard is None:
            self.last_heard = t

    def before_submit(self, line: int, flow: str | None, values: Mapping[str, str]) -> None:
        """The ordering rules for a submit made by a shell command (tool submits are judged by check())."""
        if not self.state.preflight_passed:
            self.violate("preflight-before-submit", line, "No passing preflight precedes this workflow submit.")
        if self.state.cache_missing and not self.state.cache_setup_since:
            self.violate("cache-remediation", line, "The guard reported a missing model cache and setup_model_cache has not run since.")
        if not self.state.guard_covers(values, flow):
            self.violate("guard-before-submit", line, "No passing pre-submit guard was run for exactly these values.")

    def count_resubmit(self, line: int) -> None:
        if not self.interpolation_failed:
            return
        self.resubmits += 1
        if self.resubmits > 1:
            self.violate(
                "single-interpolation-retry",
                line,
                f"This is resubmit number {self.resubmits} after an interpolation failure; only one canonical retry is allowed.",
            )

    def record(self, line: int, call: ToolCall, data: Mapping[str, Any] | None) -> None:
        """``state.record`` for a result read from a file: a shape the policy's recorders cannot take
        (they expect the steps' typed results) is reported as info instead of stopping the replay."""
        try:
            self.state.record(call, data)
        except (TypeError, ValueError) as exc:  # ValueError covers pydantic's ValidationError
            self.info.append(
                ReplayInfo(kind="unreadable-result", line=line, message=f"The result of {call.name} has an unexpected shape ({type(exc).__name__}); the run state ignores it.")
            )

    def note_submitted(self, flow: str | None, values: Mapping[str, Any]) -> None:
        self.flow = canonical_flow(flow) if flow else self.flow
        self.submitted = True
        self.waiting = True
        self.completed = False  # a completion seen before (e.g. of the cache workflow) was not this run's
        self.after_completion = []
        if values.get("dataset") == DEMO_DATASET_NAME:
            self.demo_input = True
        if isinstance(values.get("video"), str) and values.get("video"):
            self.video = str(values["video"])

    def note_sampled(self, text: str, data: Mapping[str, Any] | None) -> None:
        """Sampled variables per clip from any result: a staging result or a manifest the agent read."""
        found = scorers.sampled_vars_in(text, data)
        if found:
            self.sampled_by_clip.update(found)

    def sampled_for_run(self) -> dict[str, Any]:
        """The variables sampled for the submitted video's first augmentation (else the first clip seen)."""
        if self.video and f"{self.video}_aug0" in self.sampled_by_clip:
            return self.sampled_by_clip[f"{self.video}_aug0"]
        if self.sampled_by_clip:
            return next(iter(self.sampled_by_clip.values()))
        return self.sampled_vars

    def note_completed(self) -> None:
        """The submitted run completed; before any target submit a completion is another workflow's."""
        if not self.submitted:
            return
        self.completed = True
        self.waiting = False

    def note_result(self, *, ok: bool, text: str, data: Mapping[str, Any] | None) -> None:
        self.blocker = scorers.blocker_in(text, data)
        status = str((data or {}).get("status") or "").lower()
        if ok and self.blocker is None and status not in ("failed", "error", "cache_missing"):
            self.green = True


def _data(content: Any) -> dict[str, Any] | None:
    if isinstance(content, dict):
        return content
    if isinstance(content, str):
        try:
            parsed = json.loads(content)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _first_sampled(data: Mapping[str, Any]) -> dict[str, Any]:
    """The sampled variables of the first augmented clip in a staging result (flat or per clip)."""
    sampled = data.get("sampled_vars")
    if not isinstance(sampled, Mapping) or not sampled:
        return {}
    first = next(iter(sampled.values()))
    return dict(first) if isinstance(first, Mapping) else dict(sampled)


# --- line handlers ------------------------------------------------------------------------------------


def _on_user(walk: _Walk, line: UserLine) -> None:
    walk.state.note_user(line.text)
    walk.stop_requested = scorers.told_to_stop(line.text)
    walk.blocker = None


def _on_assistant(walk: _Walk, line: AssistantLine) -> None:
    text, no = line.text, line.no
    walk.secrets(no, text, "assistant message")
    problem = scorers.media_problem(text, walk.workspace)
    if problem:
        walk.violate("media-line-format", no, problem[0].upper() + problem[1:] + ".")
    if scorers.claims_prefix_rejection(text):
        walk.violate("no-key-prefix-rejection", no, "The message rejects or skips an nvapi- key because of its prefix.")
    if scorers.asks_user(text) and not scorers.mentions_media(text):
        _judge_question(walk, no, text)
    walk.state.note_assistant(text)
    walk.messages.append(text)
    if walk.completed:
        walk.after_completion.append(text)


def _judge_question(walk: _Walk, no: int, text: str) -> None:
    topic = scorers.forbidden_topic(text)
    if topic == "the cache strategy" and walk.state.cache_missing:
        walk.violate("cache-remediation", no, "The message asks the user about the missing model cache instead of running setup_model_cache.")
    elif topic:
        walk.violate("ask-only-when-blocked", no, f"The message asks the user about {topic}, which the agent decides itself.")
    elif walk.blocker is not None:
        return
    elif scorers.approval_pause(text) and walk.green:
        if not walk.stop_requested:
            walk.violate("no-approval-pause", no, "The message waits for the user's go-ahead after a green stage with nothing blocking.")
    elif not walk.stop_requested:
        walk.violate("ask-only-when-blocked", no, "The message asks the user something while nothing blocks the run.")


def _arguments(arguments: dict[str, Any]) -> dict[str, Any]:
    """The request itself: MCP tools take one ``req`` object, so ``{"req": {...}}`` is unwrapped."""
    inner = arguments.get("req")
    return dict(inner) if len(arguments) == 1 and isinstance(inner, dict) else dict(arguments)


def _on_tool_call(walk: _Walk, line: ToolCallLine) -> None:
    call = ToolCall(name=line.name, arguments=_arguments(line.arguments))
    if line.name == "select_flow" and isinstance(call.arguments.get("text"), str):
        walk.state.note_user(call.arguments["text"])  # the live server notes the user's words before its gate
    walk.secrets(line.no, json.dumps(line.arguments, ensure_ascii=False), f"arguments of {line.name}")
    decision = check(call, walk.state)
    walk.calls[line.id] = _PendingCall(line=line.no, call=call, decision=decision)
    if line.name == "submit":
        walk.count_resubmit(line.no)


def _on_tool_result(walk: _Walk, line: ToolResultLine) -> None:
    pending = walk.calls.pop(line.id)
    call, text, data = pending.call, line.text(), _data(line.content)
    walk.secrets(line.no, text, f"result of {call.name}")
    if not pending.decision.allowed:
        if line.is_error:
            rules = sorted({v.rule for v in pending.decision.violations})
            walk.info.append(ReplayInfo(kind="attempted", line=pending.line, rules=rules, message=f"The gate refused {call.name}."))
        else:
            walk.violate_all(pending.decision, pending.line)
    walk.note_result(ok=not line.is_error, text=text, data=data)
    if line.is_error:
        walk.state.record_failure(call, text)
        if call.name == "submit" and scorers.interpolation_failure(text):
            walk.interpolation_failed = True
        return
    walk.record(line.no, call, data)
    walk.note_sampled(text, data)
    _observe_tool(walk, call, data or {})


def _observe_tool(walk: _Walk, call: ToolCall, data: Mapping[str, Any]) -> None:
    """What a successful tool result tells about the run: submitted, completed, demo input, sampled vars."""
    args = call.arguments
    if call.name == "submit":
        checked = data.get("values")
        values = {**args, **(checked if isinstance(checked, Mapping) else {})}
        walk.note_submitted(str(data.get("flow") or args.get("flow") or walk.state.flow or ""), values)
    elif call.name == "poll":
        status = str(data.get("status") or "").upper()
        if status == _TERMINAL_OK:
            walk.note_completed()
        elif status.startswith(_FAILED_PREFIX) or data.get("terminal") is True:
            walk.waiting = False
    elif call.name == "stage_artifacts":
        walk.note_completed()
        walk.sampled_vars = _first_sampled(data) or walk.sampled_vars
    elif call.name == "prepare_demo_assets":
        walk.demo_input = True


def _on_shell(walk: _Walk, line: ShellLine) -> None:
    state = walk.state
    walk.secrets(line.no, line.command, "shell command")
    command = walk.variables.resolve(line.command, line.no)
    decision = check_command(
        command,
        state=state,
        external_endpoints_allowed=state.user_external_endpoints,
        demo_override=state.user_demo_repo is not None,
    )
    walk.violate_all(decision, line.no)
    steps = shell_steps(command)
    for step in steps:
        if step.kind == "submit" and step.flow in FLOWS:
            walk.before_submit(line.no, step.flow, step.values)
            walk.count_resubmit(line.no)
    walk.shells[line.id] = _PendingShell(line=line.no, steps=steps)


def _on_shell_result(walk: _Walk, line: ShellResultLine) -> None:
    pending = walk.shells.pop(line.id)
    text, data = line.text(), _data(line.stdout)
    walk.secrets(line.no, text, "shell output")
    walk.note_result(ok=line.ok, text=text, data=data)
    if line.ok:
        walk.note_sampled(text, data)
    for step in pending.steps:
        if line.ok:
            _apply_step(walk, step, line, data)
        elif step.kind == "submit" and scorers.interpolation_failure(text):
            walk.interpolation_failed = True
        elif step.kind == "guard":
            walk.state.record_failure(ToolCall(name="pre_submit_guard", arguments={"flow": step.flow or "", **step.values}), text)


def _apply_step(walk: _Walk, step: ShellStep, line: ShellResultLine, data: Mapping[str, Any] | None) -> None:
    """Feed a step a successful command ran into the state, through the policy's own recorders."""
    state = walk.state
    if step.kind == "preflight":
        walk.record(line.no, ToolCall(name="preflight", arguments={"workflow": step.flow} if step.flow else {}), data)
    elif step.kind == "guard":
        walk.record(line.no, ToolCall(name="pre_submit_guard", arguments={"flow": step.flow or "", **step.values}), data)
    elif step.kind == "submit" and step.flow == CACHE_WORKFLOW:
        walk.record(line.no, ToolCall(name=CACHE_WORKFLOW, arguments=step.values), data)
    elif step.kind == "submit" and step.flow:
        walk.record(line.no, ToolCall(name="submit", arguments={"flow": step.flow, **step.values}), data)
        walk.note_submitted(step.flow, step.values)
    elif step.kind == "query":
        status = query_status(line.stdout) or ""
        if status == _TERMINAL_OK:
            walk.note_completed()
        elif status.startswith(_FAILED_PREFIX):
            walk.waiting = False
    elif step.kind == "demo":
        walk.demo_input = True
        walk.record(line.no, ToolCall(name="prepare_demo_assets", arguments={"demo_dir": step.target} if step.target else {}), data)
    elif step.kind == "upload":
        url = upload_dataset_url(step)
        if url:
            state.use_dataset(url, from_demo=any(s.rstrip("/") in state.demo_dirs for s in step.sources))
    elif step.kind == "stage":
        walk.note_completed()
        walk.sampled_vars = _first_sampled(data or {}) or walk.sampled_vars


_HANDLERS = {
    UserLine: _on_user,
    AssistantLine: _on_assistant,
    ToolCallLine: _on_tool_call,
    ToolResultLine: _on_tool_result,
    ShellLine: _on_shell,
    ShellResultLine: _on_shell_result,
}


def _finish(walk: _Walk, last_line: int) -> Evidence:
    flow = walk.flow
    e2e = bool(flow and flow.startswith("e2e"))
    messages = walk.after_completion if walk.completed else walk.messages
    evidence = scorers.evidence_of(messages, sampled_vars=walk.sampled_for_run(), e2e=e2e, demo=walk.demo_input)
    if walk.completed and flow in AUGMENTING_FLOWS:
        missing = evidence.missing()
        if missing:
            walk.violate(
                "evidence-complete",
                last_line,
                f"The completed {flow} run ended without: {', '.join(part.replace('_', ' ') for part in missing)}.",
            )
    return evidence


def replay_transcript(transcript: Transcript | TranscriptInvalid, *, environment_secrets: list[str] | None = None) -> TranscriptReport:
    """Judge one loaded transcript. ``environment_secrets``: the secret values of this environment
    (:func:`skill.secrets.known_secret_values`), when the caller took them once for many files."""
    if isinstance(transcript, TranscriptInvalid):
        return TranscriptReport(
            file=transcript.file,
            scenario=transcript.scenario,
            valid=False,
            verdict="invalid",
            evidence=Evidence(),
            invalid_line=transcript.line,
            invalid_reason=transcript.reason,
        )
    meta = transcript.meta
    walk = _Walk(workspace=meta.workspace, known_secrets=[v for v in meta.secret_env.values() if v])
    if environment_secrets is not None:
        walk.environment_secrets = environment_secrets
    for line in transcript.lines:
        handler = _HANDLERS.get(type(line))
        if handler is None:  # the meta line
            continue
        walk.heartbeat(line.no, line.t, spoke=isinstance(line, AssistantLine))
        handler(walk, line)
    evidence = _finish(walk, transcript.last_line)
    violations = sorted(walk.violations, key=lambda v: (v.line, v.rule))
    return TranscriptReport(
        file=transcript.file,
        scenario=meta.scenario,
        valid=True,
        verdict="fail" if violations else "pass",
        violations=violations,
        info=walk.info,
        flow=walk.flow if walk.submitted else None,
        submitted=walk.submitted,
        completed=walk.completed,
        evidence=evidence,
    )


# --- files and totals ------------------------------------------------------------------------------------


def _is_chat_list(path: Path) -> bool:
    """A ``.json`` file in a folder is a session only when it holds a chat message list (a Claude
    Code project folder also keeps ``sessions-index.json``, which is no transcript)."""
    from evals.formats import detect

    try:
        return detect(path.read_bytes()) == "chat-completions"
    except OSError:
        return False


def collect_paths(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories into their ``*.jsonl`` files and ``*.json`` chat lists (sorted); a missing path is NotFound."""
    out: list[Path] = []
    for item in paths:
        path = Path(item)
        if path.is_dir():
            out.extend(sorted(p for p in path.iterdir() if p.is_file() and (p.suffix == ".jsonl" or (p.suffix == ".json" and _is_chat_list(p)))))
        elif path.exists():
            out.append(path)
        else:
            raise NotFound(
                f"The transcript path {path} does not exist.",
                remedy="Pass a session file (.jsonl, or .json for a chat message list) or a directory holding them.",
                code="transcript-not-found",
            )
    return out


def _totals(reports: list[TranscriptReport]) -> ReplayTotals:
    counts: Counter[str] = Counter(v.rule for report in reports for v in report.violations)
    return ReplayTotals(
        files=len(reports),
        passed=sum(r.verdict == "pass" for r in reports),
        failed=sum(r.verdict == "fail" for r in reports),
        invalid=sum(r.verdict == "invalid" for r in reports),
        violations={rule: counts[rule] for rule in RULES if counts[rule]} | {r: n for r, n in counts.items() if r not in RULES},
    )


def replay(path_or_paths: str | Path | Iterable[str | Path]) -> ReplayReport:
    """Replay one transcript, several, or every ``.jsonl`` in a directory; totals over all of them."""
    items = [path_or_paths] if isinstance(path_or_paths, (str, Path)) else list(path_or_paths)
    paths = collect_paths(items)
    environment = known_secret_values()  # one snapshot for the whole replay
    reports = [replay_transcript(load_transcript(path), environment_secrets=environment) for path in paths]
    return ReplayReport(transcripts=reports, totals=_totals(reports))


# --- expectations -----------------------------------------------------------------------------------------


def check_scenarios(report: ReplayReport, scenarios_dir: Path | None = None) -> list[ExpectationResult]:
    """Compare each replayed transcript with ``<scenarios_dir>/<scenario>.yaml`` (the scenario the meta
    line names; for a file whose meta could not be read, its file stem). A missing scenario file is a
    mismatch, not an error."""
    folder = scenarios_dir or DEFAULT_SCENARIOS_DIR
    results = []
    for item in report.transcripts:
        name = item.scenario or Path(item.file).stem
        path = folder / f"{name}.yaml"
        if not path.is_file():
            results.append(
                ExpectationResult(scenario=name, verdict=item.verdict, rules=sorted(item.rules), matched=False,
                                  differences=[f"no scenario file {path.name} in {folder}"])
            )
            continue
        results.append(
            compare(name, load_scenario(path), verdict=item.verdict, rules=item.rules, flow=item.flow,
                    submitted=item.submitted, evidence=item.evidence.model_dump())
        )
    return results

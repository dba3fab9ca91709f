"""``vda eval``: replay recorded conversations against the rules of POLICY.md.

    vda eval replay PATH... [--json] [--expect [DIR]]
    vda eval convert FILE --to v1 [-o OUT] [--scenario NAME]
    vda eval score PATH... --labels labels.tsv [--json]

PATH is a session file or a directory of them, in any format :mod:`evals.formats` reads (our v1,
Claude Code sessions, Codex CLI rollouts, chat-completions message lists; detected from content). Exit 0 when every transcript
passes, 1 otherwise. With ``--expect`` each transcript is compared with its scenario file
(``evals/scenarios/<scenario>.yaml`` or DIR) instead, and the exit code says whether every
replay matched what its scenario expects (the way the bad fixtures are checked in CI).
``score`` compares the replays with a labels file (:mod:`evals.score`): per-rule precision and
recall and a confusion table; exit 0 only when every figure is 1.0 and every file matches its label.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evals.formats import parse_any, to_v1_jsonl
from evals.replay import ReplayReport, TranscriptReport, check_scenarios, replay
from evals.scenario import DEFAULT_SCENARIOS_DIR, ExpectationResult
from evals.score import ScoreReport, load_labels, score
from evals.transcript import TranscriptInvalid
from skill.errors import InputError, NotFound
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="replay recorded conversations against the policy rules")
    actions = p.add_subparsers(dest="eval_command", metavar="ACTION", required=True)
    rp = actions.add_parser("replay", help="judge transcripts (exit 0 when every one passes)")
    rp.add_argument("paths", nargs="+", metavar="PATH", help="a session file (v1, Claude Code, Codex, chat JSON) or a directory of them")
    rp.add_argument("--json", action="store_true", help="print the report as JSON")
    rp.add_argument(
        "--expect",
        nargs="?",
        const=str(DEFAULT_SCENARIOS_DIR),
        default=None,
        metavar="DIR",
        help="compare each replay with its scenario file (default: evals/scenarios); exit 0 when all match",
    )
    rp.set_defaults(handler=run)
    cp = actions.add_parser("convert", help="write a Claude Code / Codex / chat session as transcript format v1")
    cp.add_argument("file", metavar="FILE", help="the session file")
    cp.add_argument("--to", choices=["v1"], default="v1", help="the target format (only v1)")
    cp.add_argument("-o", "--output", metavar="OUT", default=None, help="write here instead of standard output")
    cp.add_argument("--json", action="store_true", help="errors as JSON")
    cp.add_argument("--scenario", default=None, help="scenario name for the meta line (default: the file's stem)")
    cp.set_defaults(handler=run_convert)
    sp = actions.add_parser("score", help="per-rule precision and recall of the replay against a labels file")
    sp.add_argument("paths", nargs="+", metavar="PATH", help="session files or directories, as for replay")
    sp.add_argument("--labels", required=True, metavar="TSV", help="file<TAB>rule,rule (or -) per transcript")
    sp.add_argument("--json", action="store_true", help="print the scores as JSON")
    sp.set_defaults(handler=run_score)


def _line(item: TranscriptReport) -> str:
    name = Path(item.file).name
    if item.verdict == "invalid":
        where = f"line {item.invalid_line}" if item.invalid_line else "file"
        return f"INVALID {name}: {where}: {item.invalid_reason}"
    head = f"{item.verdict.upper():4} {name} (scenario {item.scenario}; flow {item.flow or '-'}; submitted {'yes' if item.submitted else 'no'})"
    rows = [head]
    rows += [f"  [{v.rule}] line {v.line}: {v.message}" for v in item.violations]
    rows += [f"  info {i.kind} line {i.line}: {i.message}" + (f" ({', '.join(i.rules)})" if i.rules else "") for i in item.info]
    return "\n".join(rows)


def _text(report: ReplayReport, expectations: list[ExpectationResult] | None) -> str:
    rows = [_line(item) for item in report.transcripts]
    totals = report.totals
    rows.append(f"{totals.files} file(s): {totals.passed} passed, {totals.failed} failed, {totals.invalid} invalid.")
    if totals.violations:
        rows.append("Violations by rule: " + ", ".join(f"{rule} {count}" for rule, count in totals.violations.items()))
    if expectations is not None:
        matched = sum(e.matched for e in expectations)
        rows.append(f"Scenarios: {matched}/{len(expectations)} matched.")
        rows += [f"  MISMATCH {e.scenario}: {'; '.join(e.differences)}" for e in expectations if not e.matched]
    return "\n".join(rows)


def run(args: argparse.Namespace) -> int:
    report = replay(args.paths)
    expectations = check_scenarios(report, Path(args.expect)) if args.expect is not None else None
    payload = report.model_dump(mode="json")
    if expectations is not None:
        payload["expectations"] = [e.model_dump(mode="json") for e in expectations]
    emit(payload, as_json=args.json, text=_text(report, expectations))
    if expectations is not None:
        return 0 if all(e.matched for e in expectations) else 1
    return 0 if report.all_passed and report.transcripts else 1


def run_convert(args: argparse.Namespace) -> int:
    source = Path(args.file)
    try:
        raw = source.read_bytes()
    except OSError as exc:
        raise NotFound(f"Cannot read the session file {source} ({type(exc).__name__}).", remedy="Pass an existing session file.", code="transcript-not-found") from exc
    transcript = parse_any(raw, file=str(source), scenario=args.scenario)
    if isinstance(transcript, TranscriptInvalid):
        where = f"line {transcript.line}" if transcript.line else "the file"
        raise InputError(f"The session {source} cannot be read: {where}: {transcript.reason}.", remedy="Fix or re-export the session file.", code="invalid-transcript")
    text = to_v1_jsonl(transcript)
    if args.output is None:
        print(text, end="")
        return 0
    out = Path(args.output)
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"Cannot write {out} ({type(exc).__name__}).", remedy="Pick a writable output path.", code="output-not-writable") from exc
    print(f"Wrote {out} ({len(transcript.lines)} lines, from {transcript.source_format}).")
    return 0


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def _score_text(result: ScoreReport) -> str:
    width = max(len(row.rule) for row in result.rules)
    rows = [f"{'rule':{width}}  precision  recall   tp   fp   fn    tn"]
    for row in result.rules:
        rows.append(f"{row.rule:{width}}  {_fmt(row.precision):>9}  {_fmt(row.recall):>6}  {row.tp:3}  {row.fp:3}  {row.fn:3}  {row.tn:4}")
        rows += [f"  false positive: {name}" for name in row.false_positives]
        rows += [f"  false negative: {name}" for name in row.false_negatives]
    v = result.verdicts
    rows += [
        "",
        "labelled \\ judged   pass  fail  invalid",
        f"clean              {v.clean_pass:4}  {v.clean_fail:4}  {v.clean_invalid:7}",
        f"violating          {v.violating_pass:4}  {v.violating_fail:4}  {v.violating_invalid:7}",
        f"{result.files} file(s); {result.exact} with exactly the labelled rules.",
    ]
    return "\n".join(rows)


def run_score(args: argparse.Namespace) -> int:
    labels = load_labels(args.labels)
    result = score(replay(args.paths), labels)
    emit(result, as_json=args.json, text=_score_text(result))
    return 0 if result.perfect else 1

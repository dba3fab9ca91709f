"""The labelled corpus (issue 12's acceptance): its size and mix, every rule broken at least twice,
clean runs of every flow in both styles, the labels agreeing with the scenarios, and the judge's
precision and recall on it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import yaml

from evals.replay import collect_paths, replay
from evals.scenario import DEFAULT_SCENARIOS_DIR
from evals.score import load_labels, score
from evals.transcript import ShellLine, ToolCallLine, Transcript, load_transcript
from skill.models import FLOWS
from skill.policy import RULES

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "evals" / "transcripts"
LABELS = ROOT / "evals" / "labels.tsv"


def _style(transcript: Transcript) -> str | None:
    """mcp when the flow was submitted through our submit tool, shell when by a command."""
    for line in transcript.lines:
        if isinstance(line, ToolCallLine) and line.name == "submit":
            return "mcp"
        if isinstance(line, ShellLine) and "workflow submit" in line.command and "setup_model_cache" not in line.command:
            return "shell"
    return None


def test_the_corpus_is_large_mixed_and_every_file_reads():
    paths = collect_paths([CORPUS])
    transcripts = [load_transcript(p) for p in paths]
    assert len(paths) >= 60
    assert all(isinstance(t, Transcript) for t in transcripts), [t for t in transcripts if not isinstance(t, Transcript)]
    formats = Counter(t.source_format for t in transcripts)
    assert formats["claude-code"] + formats["codex"] >= len(paths) / 3, formats


def test_labels_and_scenarios_say_the_same_for_every_file():
    labels = load_labels(LABELS)
    scenarios = {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) for p in DEFAULT_SCENARIOS_DIR.glob("*.yaml")}
    assert set(labels) == {p.name for p in collect_paths([CORPUS])}
    for name, data in scenarios.items():
        file = data.get("transcript") or f"{name}.jsonl"
        assert labels[file] == frozenset(data.get("rules") or []), name


def test_every_rule_is_broken_in_two_files_and_every_flow_runs_clean_in_both_styles():
    labels = load_labels(LABELS)
    per_rule = Counter(rule for rules in labels.values() for rule in rules)
    assert {rule: per_rule[rule] for rule in RULES if per_rule[rule] < 2} == {}
    report = replay(CORPUS)
    clean = set()
    for item in report.transcripts:
        name = Path(item.file).name
        if labels[name] or not item.submitted:
            continue
        transcript = load_transcript(item.file)
        assert isinstance(transcript, Transcript)
        clean.add((item.flow, _style(transcript)))
    assert {(flow, style) for flow in FLOWS for style in ("mcp", "shell")} <= clean, sorted(clean, key=str)


def test_the_judge_has_precision_and_recall_one_on_the_corpus():
    result = score(replay(CORPUS), load_labels(LABELS))
    misses = {r.rule: (r.false_positives, r.false_negatives) for r in result.rules if r.false_positives or r.false_negatives}
    assert misses == {}
    assert all(r.precision == 1.0 and r.recall == 1.0 for r in result.rules)
    assert result.perfect and result.verdicts.clean_fail == 0 and result.verdicts.violating_pass == 0
    assert result.verdicts.clean_invalid == result.verdicts.violating_invalid == 0

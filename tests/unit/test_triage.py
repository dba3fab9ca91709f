"""skill.triage reads references/troubleshooting.md as data and maps a failure line to its hint."""

from __future__ import annotations

from pathlib import Path

from skill.paths import references_dir
from skill.triage import load_hints, parse_hints, triage, triage_line

DOC = """\
# Troubleshooting

Intro text with an example that is not a hint:

```
### <symptom>
match: .*
cause: example
action: example
```

## Section

### Jinja substitution failure
match: '[A-Za-z_]+' is undefined
cause: a key is missing.
action: resubmit once with one --set-string.

### Dataset listing is empty
match: `No entries found|Total 0 objects`
Cause: wrong root.
Action: upload the videos flat.
Extra notes for people.

### Broken pattern
match: ([unclosed
cause: never used
action: never used

### No match line here
cause: nothing
action: nothing

### Catch-all failure
match: error
action: read the log.
"""


def test_parse_skips_fences_bad_regex_and_sections_without_match():
    hints = parse_hints(DOC)
    assert [h.symptom for h in hints] == ["Jinja substitution failure", "Dataset listing is empty", "Catch-all failure"]
    empty = hints[1]
    assert empty.cause == "wrong root." and empty.action == "upload the videos flat."
    assert "Extra notes" in empty.body
    assert hints[2].cause == "" and hints[2].action == "read the log."


def test_triage_line_is_case_insensitive_and_first_section_wins():
    hints = parse_hints(DOC)
    hit = triage_line("2026/01/01 00:00:00 [setup] jinja template Error: 'gpu_platform' IS UNDEFINED", hints)
    assert hit is not None and hit.symptom == "Jinja substitution failure"
    assert triage_line("all good", hints) is None


def test_triage_uses_the_latest_matching_line():
    hints = parse_hints(DOC)
    log = "\n".join([
        "[setup] an error early on",
        "[setup] Total 0 objects found",
        "[setup] done",
        "",
    ])
    hit = triage(log, hints)
    assert hit is not None
    assert hit.symptom == "Dataset listing is empty"
    assert hit.line == "[setup] Total 0 objects found"
    assert triage("", hints) is None


def test_matched_line_is_redacted(monkeypatch):
    monkeypatch.setenv("NGC_API_KEY", "nvapi-canary-0123456789")
    hit = triage_line("error: key nvapi-canary-0123456789 refused", parse_hints(DOC))
    assert hit is not None and "nvapi-canary" not in hit.line


def test_missing_reference_gives_no_hints(tmp_path: Path):
    assert load_hints(tmp_path / "absent.md") == ()
    assert triage("error", ()) is None


def test_load_hints_rereads_a_changed_file(tmp_path: Path):
    doc = tmp_path / "t.md"
    doc.write_text("### First\nmatch: alpha\naction: a\n", encoding="utf-8")
    assert [h.symptom for h in load_hints(doc)] == ["First"]
    doc.write_text("### Second\nmatch: beta\naction: b\n\n### Third\nmatch: gamma\naction: c\n", encoding="utf-8")
    import os

    os.utime(doc, ns=(doc.stat().st_atime_ns, doc.stat().st_mtime_ns + 1_000_000))
    assert [h.symptom for h in load_hints(doc)] == ["Second", "Third"]


def test_shipped_reference_parses_and_covers_core_failures():
    shipped = references_dir() / "troubleshooting.md"
    hints = load_hints(shipped)
    assert len(hints) >= 10, "references/troubleshooting.md should hold machine-readable hints"
    assert all(h.action for h in hints)
    cases = {
        "Jinja Template Error: 'video' is undefined": "undefined",
        "Total 0 objects found": "empty",
    }
    for line, word in cases.items():
        hit = triage_line(line, hints)
        assert hit is not None and word in hit.symptom.lower(), (line, hit)


def test_a_hint_has_a_one_line_title_for_the_cli_and_mcp():
    hint = triage("ERROR: PL failed for street_sample (exit code 137)")
    assert hint is not None
    assert hint.title == f"{hint.symptom}: {hint.action}" and "\n" not in hint.title
    assert "title" not in hint.model_dump()  # derived, not a field of the reply schema


def test_log_text_reaches_callers_without_escapes_or_control_bytes():
    """A CLI's colours, cursor moves, window titles and stray NUL/BEL bytes are removed; tabs,
    newlines and the words stay; carriage returns end lines."""
    from skill.steps.logs import LogsRequest, get_logs
    from tests.fakes.backend import FakeBackend

    raw = "\x1b[31mERROR\x1b[0m: boom\x00\r\n\x1b]0;title\x07step\t2\x1b[2K\x08\rdone\x1b(B \x9b\x7f"
    backend = FakeBackend()
    backend.logs = lambda wid, *, task=None, last_n=200: raw  # what a terminal-minded CLI prints
    result = get_logs(LogsRequest(workflow_id="wf-1"), backend=backend)
    assert result.text == "ERROR: boom\nstep\t2\ndone "
    assert result.lines == 3

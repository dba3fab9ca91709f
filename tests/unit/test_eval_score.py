"""``vda eval score``: per-rule precision and recall against a labels file, the verdict confusion,
and coded errors for a bad or incomplete labels file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.replay import replay
from evals.score import load_labels, score
from skill.errors import InputError, NotFound
from tools.cli import main as vda

FIXTURES = Path(__file__).resolve().parents[2] / "evals" / "transcripts"
GOOD, SET, GUARD = "good_local_augmentation.jsonl", "bad_repeated_set_string.jsonl", "bad_submit_before_guard.jsonl"


def labels_file(tmp_path: Path, rows: dict[str, str]) -> Path:
    path = tmp_path / "labels.tsv"
    path.write_text("# file\trules\n\n" + "".join(f"{k}\t{v}\n" for k, v in rows.items()), encoding="utf-8")
    return path


def test_right_labels_give_precision_and_recall_one(tmp_path: Path):
    labels = load_labels(labels_file(tmp_path, {GOOD: "-", SET: "single-set-string", GUARD: "guard-before-submit"}))
    result = score(replay([FIXTURES / GOOD, FIXTURES / SET, FIXTURES / GUARD]), labels)
    rows = {r.rule: r for r in result.rules}
    assert (rows["single-set-string"].tp, rows["single-set-string"].tn, rows["single-set-string"].precision, rows["single-set-string"].recall) == (1, 2, 1.0, 1.0)
    assert rows["no-nim-scale-down"].precision is None and rows["no-nim-scale-down"].recall is None
    assert result.perfect and result.exact == 3
    assert (result.verdicts.clean_pass, result.verdicts.violating_fail) == (1, 2)


def test_a_wrong_label_shows_as_a_false_positive_and_a_false_negative(tmp_path: Path):
    labels = load_labels(labels_file(tmp_path, {GOOD: "no-secret-echo", SET: "-"}))
    result = score(replay([FIXTURES / GOOD, FIXTURES / SET]), labels)
    rows = {r.rule: r for r in result.rules}
    assert rows["no-secret-echo"].fn == 1 and rows["no-secret-echo"].recall == 0.0 and rows["no-secret-echo"].false_negatives == [GOOD]
    assert rows["single-set-string"].fp == 1 and rows["single-set-string"].precision == 0.0 and rows["single-set-string"].false_positives == [SET]
    assert not result.perfect and result.exact == 0
    assert (result.verdicts.violating_pass, result.verdicts.clean_fail) == (1, 1)


def test_an_invalid_transcript_misses_its_labelled_rules(tmp_path: Path):
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"type": "meta", "format": 1, "scenario": "x"}\nnot json\n', encoding="utf-8")
    result = score(replay([broken]), load_labels(labels_file(tmp_path, {"broken.jsonl": "no-secret-echo"})))
    assert result.verdicts.violating_invalid == 1 and {r.rule: r for r in result.rules}["no-secret-echo"].fn == 1


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("a.jsonl\n", "labels-invalid"),
        ("a.jsonl\tno-such-rule\n", "labels-invalid"),
        ("a.jsonl\t-\na.jsonl\t-\n", "labels-invalid"),
    ],
)
def test_a_bad_labels_file_is_a_coded_error_with_a_remedy(tmp_path: Path, text: str, code: str):
    path = tmp_path / "l.tsv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_labels(path)
    assert caught.value.code == code and caught.value.remedy


def test_missing_labels_file_and_unlabelled_transcript_are_coded_errors(tmp_path: Path):
    with pytest.raises(NotFound) as missing:
        load_labels(tmp_path / "nope.tsv")
    assert missing.value.code == "labels-not-found"
    with pytest.raises(InputError) as unlabelled:
        score(replay([FIXTURES / GOOD]), {})
    assert unlabelled.value.code == "labels-missing" and GOOD in unlabelled.value.message


def test_cli_prints_the_table_and_exits_by_perfection(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    good = labels_file(tmp_path, {GOOD: "-", SET: "single-set-string"})
    assert vda(["eval", "score", str(FIXTURES / GOOD), str(FIXTURES / SET), "--labels", str(good)]) == 0
    out = capsys.readouterr().out
    assert "single-set-string" in out and "1.00" in out and "clean" in out and "violating" in out
    wrong = labels_file(tmp_path, {GOOD: "-", SET: "-"})
    assert vda(["eval", "score", str(FIXTURES / GOOD), str(FIXTURES / SET), "--labels", str(wrong), "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["perfect"] is False and payload["verdicts"]["clean_fail"] == 1
    assert vda(["eval", "score", str(FIXTURES / GOOD), "--labels", str(tmp_path / "missing.tsv")]) == 1
    assert "[labels-not-found]" in capsys.readouterr().err

"""Secret-shaped CLI arguments (issue 14): a token given as an option value (``--video``,
``--dataset``, ``--gpu-platform``, a flow request) is refused like MCP refuses it (rule
no-secret-echo) before anything runs, and no error path (argparse's usage errors included) prints
it; nothing named after it is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from skill.secrets import forget_secrets
from tools.cli import main

TOKENS = {"nvapi": "nvapi-CANARYq1w2e3r4t5", "hf": "hf_CANARYabcdefgh1234", "anthropic": "sk-ant-CANARY-0123456789"}


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    forget_secrets()
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("VDA_BACKEND", "local")
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    forget_secrets()


def run_cli(capfd, argv: list[str]) -> tuple[int, str]:
    try:
        code = main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capfd.readouterr()
    return code, out + err


def assert_no_token(text: str, home: Path) -> None:
    for token in TOKENS.values():
        assert token not in text
        assert not any(token in str(p) for p in home.rglob("*")), "a file was named after the token"


@pytest.mark.parametrize("kind", sorted(TOKENS))
@pytest.mark.parametrize("argv", [
    ["submit", "augmentation_and_al", "--dataset", "d", "--storage-url", "s3://b/p", "--gpu-platform", "{t}", "--video", "clip"],
    ["submit", "augmentation_and_al", "--dataset", "{t}", "--storage-url", "s3://b/p", "--gpu-platform", "cpu", "--video", "clip"],
    ["stage", "--storage-url", "s3://b/p", "--dataset", "d", "--run-id", "run-1a2b3c4d", "--video", "{t}"],
    ["compare", "--run-local-dir", "/tmp/{t}", "--dataset", "d", "--video", "clip", "--json"],
    ["flow", "augment my clips, my key is {t}", "--json"],
])
def test_a_secret_shaped_argument_is_refused_without_echo(argv: list[str], kind: str, home: Path, capfd):
    code, text = run_cli(capfd, [a.replace("{t}", TOKENS[kind]) for a in argv])
    assert code == 1, text
    assert "no-secret-echo" in text and "Traceback" not in text
    assert_no_token(text, home)


@pytest.mark.parametrize("argv", [
    ["submit", "--token", "{t}"],
    ["stage", "--storage-url", "s3://b/p", "--dataset", "d", "--run-id", "run-1a2b3c4d", "--video", "v", "--backend", "{t}"],
    ["{t}"],
    ["--log-level", "INFO", "poll", "--api-key={t}"],
])
def test_usage_errors_never_print_the_token(argv: list[str], home: Path, capfd):
    code, text = run_cli(capfd, [a.replace("{t}", TOKENS["nvapi"]) for a in argv])
    assert code == 2 and "usage:" in text
    assert_no_token(text, home)


def test_policy_check_command_still_judges_commands_that_hold_a_token(home: Path, capfd):
    code, text = run_cli(capfd, ["policy", "check-command", "--json", "--", f"echo {TOKENS['hf']}"])
    assert code == 1 and "no-secret-echo" in text
    assert_no_token(text, home)


def test_the_debug_traceback_is_redacted_too(home: Path, capfd, monkeypatch):
    from pydantic import BaseModel, ValidationError

    from skill.errors import InputError
    from tools.output import emit_error

    class Model(BaseModel):
        n: int

    monkeypatch.setenv("VDA_DEBUG", "1")
    try:
        Model(n=TOKENS["nvapi"])
    except ValidationError as cause:
        error = InputError("bad n.", remedy="pass a number.")
        error.__cause__ = cause
    emit_error(error, as_json=False)
    _, err = capfd.readouterr()
    assert "Traceback" in err and TOKENS["nvapi"] not in err

"""Secret discovery follows upstream's order; redaction catches known values and token shapes."""

from __future__ import annotations

import pytest

from skill import secrets
from skill.errors import CommandFailed, SkillError
from skill.secrets import REDACTED, discover, discover_hf_token, discover_ngc_key, redact, redact_obj, strip_bearer


@pytest.fixture(autouse=True)
def _clean(monkeypatch, tmp_path):
    for name in (*secrets.NGC_KEY_VARIABLES, *secrets.HF_TOKEN_VARIABLES, "HF_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    secrets.forget_secrets()
    yield
    secrets.forget_secrets()


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"NGC_API_KEY": "plain-key-123"}, ("plain-key-123", "NGC_API_KEY")),
        ({"OPENAI_API_KEY": "sk-other", "VLM_API_KEY": "Bearer nvapi-abc123"}, ("nvapi-abc123", "VLM_API_KEY")),
        ({"LLM_API_KEY": "Authorization: Bearer NVAPI-XYZ789"}, ("NVAPI-XYZ789", "LLM_API_KEY")),
        ({"NVIDIA_API_KEY": "nvapi-first", "LLM_API_KEY": "nvapi-second"}, ("nvapi-first", "NVIDIA_API_KEY")),
        ({"NGC_CLI_API_KEY": "legacy-key"}, ("legacy-key", "NGC_CLI_API_KEY")),
        ({"OPENAI_API_KEY": "sk-not-ngc"}, (None, None)),
        ({}, (None, None)),
    ],
)
def test_ngc_key_discovery_order(env, expected):
    assert discover_ngc_key(env) == expected


def test_hf_token_from_env_then_file(tmp_path):
    assert discover_hf_token({"HUGGING_FACE_HUB_TOKEN": "hf_fromenv123"}, use_hub=False) == ("hf_fromenv123", "HUGGING_FACE_HUB_TOKEN")
    token_file = tmp_path / "token"
    token_file.write_text("hf_fromfile456\nignored\n")
    assert discover_hf_token({"HF_TOKEN_FILE": str(token_file)}, use_hub=False) == ("hf_fromfile456", str(token_file))
    assert discover_hf_token({"HF_TOKEN_FILE": str(tmp_path / "absent")}, use_hub=False) == (None, None)


def test_user_supplied_flags_are_computed_before_discovery(tmp_path):
    found = discover({"VLM_API_KEY": "nvapi-k1234567", "HF_TOKEN_FILE": str(tmp_path / "none")}, use_hub=False)
    assert found.ngc_user_supplied and not found.hf_user_supplied
    assert "nvapi" not in repr(found) and "nvapi" not in str(found)


def test_strip_bearer():
    assert strip_bearer("Authorization: Bearer abc") == "abc"
    assert strip_bearer("bearer abc") == "abc"
    assert strip_bearer("abc") == "abc"


@pytest.mark.parametrize(
    "text",
    [
        "key nvapi-AbCdEf0123456789 leaked",
        "token hf_abcdefghijklmnopqrstuvwx here",
        "anthropic sk-ant-api03-abcdefgh",
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.payload",
        "basic $oauthtoken:supersecretvalue",
    ],
)
def test_token_shapes_are_redacted(text):
    out = redact(text)
    assert REDACTED in out
    for secret in ("AbCdEf0123456789", "abcdefghijklmnopqrstuvwx", "api03-abcdefgh", "eyJhbGciOiJIUzI1NiJ9", "supersecretvalue"):
        assert secret not in out


def test_known_values_from_environment_are_redacted(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_PASSWORD", "correct-horse-battery")
    monkeypatch.setenv("NGC_API_KEY", "plainvalue99")
    assert redact("pw=correct-horse-battery key=plainvalue99") == f"pw={REDACTED} key={REDACTED}"


def test_registered_values_and_nested_structures():
    secrets.register_secret("typed-by-user-42")
    out = redact_obj({"a": ["x typed-by-user-42"], "typed-by-user-42": 1, "n": 3})
    assert out == {"a": [f"x {REDACTED}"], REDACTED: 1, "n": 3}


def test_short_and_ordinary_strings_are_untouched():
    assert redact("run-1a2b3c4d s3://bucket/prefix hf_x") == "run-1a2b3c4d s3://bucket/prefix hf_x"


def test_errors_are_redacted_when_built(monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_CANARYabcdef123456")
    err = CommandFailed("failed with hf_CANARYabcdef123456", argv=["osmo", "token=hf_CANARYabcdef123456"], output_tail="hf_CANARYabcdef123456")
    for text in (str(err), " ".join(err.argv), err.output_tail, err.to_model().model_dump_json()):
        assert "CANARY" not in text
    assert isinstance(err, SkillError) and err.code == "command-failed"

"""Every command's --backend is the one shared option: same choices, same default rule
($VDA_BACKEND, else local; `vda flow` defaults to osmo because its ETA is the cluster's)."""

from __future__ import annotations

import argparse

import pytest

from tools.backends import BACKEND_NAMES
from tools.cli import build_parser


def _backend_options(env_default: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, argparse.Action]:
    monkeypatch.setenv("VDA_BACKEND", env_default)
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    found = {}
    for name, command in sub.choices.items():
        for action in command._actions:
            if "--backend" in action.option_strings:
                found[name] = action
    return found


@pytest.mark.parametrize("env_default", ["local", "osmo"])
def test_every_backend_option_has_the_same_choices_and_default_rule(env_default, monkeypatch):
    options = _backend_options(env_default, monkeypatch)
    assert {"run", "submit", "poll", "stage", "logs", "guard", "preflight", "upload", "mcp", "chat", "flow"} <= set(options)
    for name, action in options.items():
        assert tuple(action.choices) == BACKEND_NAMES, name
        assert action.default == ("osmo" if name == "flow" else env_default), name


def test_unset_env_means_local(monkeypatch):
    monkeypatch.delenv("VDA_BACKEND", raising=False)
    parser = build_parser()
    assert parser.parse_args(["poll", "wf-1"]).backend == "local"

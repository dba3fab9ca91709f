"""Splitting a shell command line into simple commands, for the command judge and the eval harness.

Parsing is deliberately forgiving. ``shlex`` (POSIX mode, with ``; & | < > ( )`` and newlines as
punctuation) splits the line; unbalanced quotes fall back to a whitespace split. Each simple
command loses its ``FOO=1`` prefixes (kept as its environment) and its wrappers (``sudo``, ``env``,
``time``, ``nohup``, ``timeout``, ``watch``, ``uv run``...); ``bash -c '...'`` is split again,
a few levels deep.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import PurePosixPath

__all__ = ["SimpleCommand", "program_name", "split_commands"]

_PUNCTUATION = ";&|<>()\n"
_MAX_DEPTH = 6
_MAX_TOKENS = 20000
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
_SHELLS = frozenset({"bash", "sh", "zsh", "dash", "ksh", "ash"})
_PLAIN_WRAPPERS = frozenset({"time", "nohup", "exec", "command", "builtin", "caffeinate", "doas", "stdbuf", "nice", "ionice"})
_WRAPPER_ARG_FLAGS = {
    "sudo": {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U", "-T", "--user", "--group", "--chdir", "--host", "--prompt"},
    "env": {"-u", "-C", "-S", "--unset", "--chdir", "--split-string"},
    "nice": {"-n", "--adjustment"},
    "ionice": {"-c", "-n", "-p"},
    "stdbuf": {"-i", "-o", "-e"},
    "timeout": {"-s", "-k", "--signal", "--kill-after"},
    "watch": {"-n", "--interval", "-d", "--differences", "-q", "--equexit"},
    "doas": {"-u", "-C"},
}
_RUNNERS = frozenset({"uv", "poetry", "pipx", "pdm", "hatch", "conda", "micromamba"})


@functools.lru_cache(maxsize=1024)
def program_name(word: str) -> str:
    """The program a command word runs: its last path component, lower-case (``/usr/bin/OSMO`` -> ``osmo``)."""
    return PurePosixPath(word).name.lower()


@dataclass(frozen=True)
class SimpleCommand:
    """One program invocation: argv after unwrapping, its environment prefixes, its here-strings."""

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    here_strings: tuple[str, ...] = ()
    piped_to: tuple[str, ...] | None = None

    @property
    def program(self) -> str:
        return program_name(self.argv[0]) if self.argv else ""

    def env_value(self, name: str) -> str | None:
        values = [value for key, value in self.env if key == name]
        return values[-1] if values else None


# --- splitting -------------------------------------------------------------------------------------------


def _tokenize(text: str) -> list[str]:
    return list(_tokens(text))


@functools.lru_cache(maxsize=512)
def _tokens(text: str) -> tuple[str, ...]:
    """The tokens of a command line; cached, since a replay splits each command twice (judge, steps)."""
    return tuple(_split_tokens(text))


def _split_tokens(text: str) -> list[str]:
    text = text.replace("\\\r\n", " ").replace("\\\n", " ")
    lexer = shlex.shlex(text, posix=True, punctuation_chars=_PUNCTUATION)
    lexer.whitespace = " \t\r\f\v"
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        tokens = []
        for token in lexer:
            tokens.append(token)
            if len(tokens) > _MAX_TOKENS:
                break
        return tokens
    except ValueError:  # unbalanced quotes or a dangling escape: judge the words anyway
        return _fallback_tokens(text)


def _fallback_tokens(text: str) -> list[str]:
    tokens = re.findall(r"&&|\|\||[;&|()\n]|[<>]+&?|[^\s;&|()<>]+", text)
    return [token if _is_operator(token) else token.replace('"', "").replace("'", "") for token in tokens][:_MAX_TOKENS]


def _is_operator(token: str) -> bool:
    return bool(token) and all(char in _PUNCTUATION for char in token)


def split_commands(text: str, *, depth: int = 0, env: Sequence[tuple[str, str]] = ()) -> list[SimpleCommand]:
    """Split a command line into simple commands (pipelines, lists, subshells, ``bash -c`` bodies)."""
    if depth == 0 and not env:
        return list(_split_line(text))
    return _split(text, depth, env)


@functools.lru_cache(maxsize=256)
def _split_line(text: str) -> tuple[SimpleCommand, ...]:
    """A whole command line split once: the judge and the eval harness's step recogniser both ask
    (the commands are frozen, so sharing them is safe)."""
    return tuple(_split(text, 0, ()))


def _split(text: str, depth: int, env: Sequence[tuple[str, str]]) -> list[SimpleCommand]:
    segments: list[tuple[list[str], list[str], bool]] = []
    current: list[str] = []
    heres: list[str] = []
    tokens = _tokenize(text)
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if _is_operator(token) and ("<" in token or ">" in token):
            if current and current[-1].isdigit():
                current.pop()
            has_target = index + 1 < len(tokens) and not _is_operator(tokens[index + 1])
            if has_target and token.rstrip("\n").endswith("<<<"):
                heres.append(tokens[index + 1])
            index += 2 if has_target else 1
            continue
        if _is_operator(token):
            segments.append((current, heres, "|" in token and "||" not in token))
            current, heres = [], []
            index += 1
            continue
        if token.startswith("#"):
            while index < len(tokens) and "\n" not in tokens[index]:
                index += 1
            continue
        current.append(token)
        index += 1
    segments.append((current, heres, False))

    groups = [_unwrap(tokens_, heres_, depth, env) if tokens_ else [] for tokens_, heres_, _ in segments]
    for position, (_, _, piped) in enumerate(segments):
        following = next((g for g in groups[position + 1 :] if g), None)
        if piped and groups[position] and following:
            groups[position][-1] = replace(groups[position][-1], piped_to=following[0].argv)
    return [command for group in groups for command in group]


def _skip_options(tokens: list[str], with_value: set[str]) -> list[str]:
    index = 0
    while index < len(tokens) and tokens[index].startswith("-") and tokens[index] != "-":
        if tokens[index] == "--":
            return tokens[index + 1 :]
        index += 2 if tokens[index] in with_value else 1
    return tokens[index:]


def _unwrap(tokens: list[str], heres: list[str], depth: int, inherited: Sequence[tuple[str, str]]) -> list[SimpleCommand]:
    env = list(inherited)
    rest = list(tokens)
    while rest:
        assignment = _ASSIGNMENT.match(rest[0])
        if assignment:
            env.append((assignment.group(1), assignment.group(2)))
            rest.pop(0)
            continue
        program = program_name(rest[0])
        if program in ("sudo", "env", "timeout", "watch") or program in _PLAIN_WRAPPERS:
            wrapper, rest = rest[0], _skip_options(rest[1:], _WRAPPER_ARG_FLAGS.get(program, set()))
            if program == "env" and all(_ASSIGNMENT.match(token) for token in rest):  # bare `env`: prints everything
                env += [(m.group(1), m.group(2)) for m in map(_ASSIGNMENT.match, rest) if m]
                return [SimpleCommand((wrapper,), tuple(env), tuple(heres))]
            if program == "timeout" and rest:
                rest = rest[1:]
            if program == "watch" and len(rest) == 1 and depth < _MAX_DEPTH:
                return [SimpleCommand(("watch",), tuple(env))] + split_commands(rest[0], depth=depth + 1, env=env)
            continue
        if program in _RUNNERS and len(rest) > 1 and rest[1] in ("run", "exec"):
            rest = _skip_options(rest[2:], {"--with", "--python", "-p", "-n", "--name"})
            continue
        if program in ("uvx", "pipx"):
            rest = _skip_options(rest[1:], {"--with", "--python", "--from"})
            continue
        if program in _SHELLS:
            return _unwrap_shell(rest, heres, depth, env)
        break
    if not rest:
        return [SimpleCommand((), tuple(env), tuple(heres))] if env or heres else []
    return [SimpleCommand(tuple(rest), tuple(env), tuple(heres))]


def _unwrap_shell(rest: list[str], heres: list[str], depth: int, env: list[tuple[str, str]]) -> list[SimpleCommand]:
    index = 1
    while index < len(rest) and rest[index].startswith("-"):
        option = rest[index]
        if not option.startswith("--") and "c" in option[1:]:
            script = rest[index + 1] if index + 1 < len(rest) else ""
            shell = SimpleCommand((rest[0], option), tuple(env), tuple(heres))
            if depth >= _MAX_DEPTH:
                return [shell]
            return [shell] + split_commands(script, depth=depth + 1, env=env)
        index += 2 if option in ("-o", "+o", "--rcfile", "--init-file") else 1
    if index < len(rest):  # `bash path/to/script.sh args`: the script is the program
        return [SimpleCommand(tuple(rest[index:]), tuple(env), tuple(heres))]
    return [SimpleCommand(tuple(rest), tuple(env), tuple(heres))]

"""What a raw shell command did, in the skill's terms: which step it ran and with which values.

The policy's command judge (:func:`skill.policy.check_command`) says whether a command is allowed;
this module only recognises the steps the replay must remember (a preflight passed, a guard
checked these values, a workflow was submitted...). Commands are split by the policy's own
splitter, so wrappers (``sudo``, ``bash -c``, ``env X=1``) are seen through the same way.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Literal

from skill.policy.commands import parse_submit, positional_words
from skill.policy.shell import program_name, split_commands
from skill.policy import DEMO_REPO, canonical_flow, hf_dataset_repo, split_dataset_url
from skill.secrets import is_secret_name

__all__ = ["ShellStep", "ShellVariables", "query_status", "shell_steps", "upload_dataset_url"]

StepKind = Literal["preflight", "guard", "submit", "query", "demo", "upload", "stage", "render"]

_SCRIPTS: dict[str, StepKind] = {
    "preflight_credentials.sh": "preflight",
    "pre_submit_guard.py": "guard",
    "prepare_demo_assets.sh": "demo",
    "stage_run_artifacts.sh": "stage",
    "render_side_by_side.sh": "render",
}
_VDA_COMMANDS: dict[str, StepKind] = {
    "preflight": "preflight",
    "guard": "guard",
    "submit": "submit",
    "poll": "query",
    "demo": "demo",
    "upload": "upload",
    "stage": "stage",
    "compare": "render",
}
_STATUS_WORD = re.compile(r"\b(COMPLETED|FAILED(?:_[A-Z_]+)?|RUNNING|PENDING|WAITING)\b")
_STATUS_LINE = re.compile(r"^\s*Status\s*:\s*(COMPLETED|FAILED(?:_[A-Z_]+)?|RUNNING|PENDING|WAITING|SCHEDULING|PROCESSING)\b", re.MULTILINE | re.IGNORECASE)


@dataclass
class ShellStep:
    """One skill step a command ran: its kind, the workflow (flow name) and the key=value pairs."""

    kind: StepKind
    flow: str | None = None
    pairs: list[str] = field(default_factory=list)
    target: str | None = None
    sources: list[str] = field(default_factory=list)

    @property
    def values(self) -> dict[str, str]:
        return dict(item.split("=", 1) for item in self.pairs if "=" in item)


def _option(argv: list[str], *names: str) -> str | None:
    for index, token in enumerate(argv):
        for name in names:
            if token == name and index + 1 < len(argv):
                return argv[index + 1]
            if token.startswith(name + "="):
                return token.split("=", 1)[1]
    return None


def _set_string_pairs(argv: list[str]) -> list[str]:
    pairs: list[str] = []
    for index, token in enumerate(argv):
        if token.split("=", 1)[0] != "--set-string":
            continue
        if "=" in token and token.startswith("--set-string="):
            pairs.append(token.split("=", 1)[1])
        for item in argv[index + 1 :]:
            if item.startswith("-"):
                break
            pairs.append(item)
    return pairs


def _flow_name(workflow: str | None) -> str | None:
    if not workflow:
        return None
    return canonical_flow(PurePosixPath(workflow.replace("\\", "/")).name)


def _osmo_step(argv: list[str]) -> ShellStep | None:
    words, end = positional_words(argv, {"-t", "--format-type"}, 2)
    rest = argv[end:]
    if words == ["workflow", "submit"]:
        parsed = parse_submit(rest)
        return ShellStep(kind="submit", flow=parsed.workflow, pairs=[f"{k}={v}" for k, v in parsed.pairs], target=parsed.file)
    if words == ["workflow", "query"]:
        return ShellStep(kind="query", target=next((t for t in rest if not t.startswith("-")), None))
    if words == ["data", "upload"]:
        positional = [t for t in rest if not t.startswith("-")]
        if positional:
            return ShellStep(kind="upload", target=positional[0], sources=positional[1:])
    return None


def _hf_step(argv: list[str]) -> ShellStep | None:
    words, _ = positional_words(argv, {"--repo-type", "--revision", "--local-dir", "--include", "--exclude", "--token"}, 2)
    if len(words) == 2 and words[0] == "download":
        repo = words[1].lower()
        if repo == DEMO_REPO or (hf_dataset_repo(repo) or "") == DEMO_REPO:
            return ShellStep(kind="demo", target=_option(argv, "--local-dir"))
    return None


def _one_step(argv: list[str]) -> ShellStep | None:
    program = program_name(argv[0])
    if program == "osmo":
        return _osmo_step(argv)
    if program in ("hf", "huggingface-cli"):
        return _hf_step(argv)
    if program == "vda" or (len(argv) > 2 and argv[1] == "-m" and argv[2] == "tools.cli"):
        start = 1 if program == "vda" else 3
        words = [t for t in argv[start:] if not t.startswith("-")]
        kind = _VDA_COMMANDS.get(words[0]) if words else None
        if kind is None:
            return None
        tail = argv[start:]
        return ShellStep(kind=kind, flow=_flow_name(_option(tail, "--workflow", "--flow") or (words[1] if kind in ("guard", "submit") and len(words) > 1 else None)), pairs=_set_string_pairs(tail))
    for index, token in enumerate(argv):
        kind = _SCRIPTS.get(PurePosixPath(token).name)
        if kind is None:
            continue
        tail = argv[index + 1 :]
        if kind == "guard":
            return ShellStep(kind="guard", flow=_flow_name(_option(tail, "--workflow")), pairs=_set_string_pairs(tail))
        if kind == "preflight":
            return ShellStep(kind="preflight", flow=_flow_name(_option(tail, "--workflow")))
        if kind == "demo":
            positional = [t for t in tail if not t.startswith("-")]
            return ShellStep(kind="demo", target=positional[0] if positional else None)
        return ShellStep(kind=kind)
    return None


def shell_steps(command: str) -> list[ShellStep]:
    """The skill steps in a command line, in order (``a && b`` gives two)."""
    steps = []
    for simple in split_commands(command):
        if simple.argv:
            step = _one_step(list(simple.argv))
            if step is not None:
                steps.append(step)
    return steps


def query_status(stdout: str) -> str | None:
    """The workflow status printed by ``osmo workflow query``: the JSON ``status``, else the last
    ``Status : X`` line (the text form; its task table comes after it), else the last status word
    (a polling loop prints one status a line, the latest last)."""
    try:
        data = json.loads(stdout)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("status"), str):
        return data["status"].upper()
    lines = _STATUS_LINE.findall(stdout)
    if lines:
        return lines[-1].upper()
    words = _STATUS_WORD.findall(stdout)
    return words[-1] if words else None


def upload_dataset_url(step: ShellStep) -> str | None:
    """``<prefix>/datasets/<name>`` of an ``osmo data upload`` target, if it has that shape."""
    if step.target and split_dataset_url(step.target):
        prefix, name = split_dataset_url(step.target)  # type: ignore[misc]
        return f"{prefix}/datasets/{name}"
    return None


# --- shell variables ---------------------------------------------------------------------------------

_ASSIGN = re.compile(
    r"(?:^|(?<=[;&|\n(]))[ \t]*(?:export[ \t]+|local[ \t]+|readonly[ \t]+)?([A-Za-z_][A-Za-z0-9_]*)="
    r"(\"(?:[^\"\\]|\\.)*\"|'[^']*'|\$\((?:[^()]|\((?:[^()]|\([^()]*\))*\))*\)|[^\s;&|]*)"
)
_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_RANDOM_SOURCE = re.compile(r"random/uuid|uuidgen|uuid\.uuid4|uuid4\(\)|openssl rand -hex|token_hex|/dev/urandom", re.IGNORECASE)
_HEX_CUT = re.compile(r"cut\s+-c\s*1-(\d+)|head\s+-c\s*(\d+)|\[:(\d+)\]|rand -hex (\d+)")


class ShellVariables:
    """The variables a session's commands assigned (``STAMP=$(... uuid | cut -c1-8)``,
    ``SKILLS_DIR=...``, ``RUN_ID="run-$STAMP"``), so a later ``run_id=run-$STAMP`` is judged as the
    value the shell would have passed.

    A value drawn from a random source (a UUID, ``openssl rand -hex``) stands for a fresh lowercase hex
    string of the length the command cut it to; it is derived from where it was assigned, so each
    assignment gives a new one. A value computed by any other command is unknown and its references
    are left as typed. Secret variables are never resolved: a ``$HF_TOKEN`` stays a reference.
    """

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def resolve(self, command: str, where: int) -> str:
        """``command`` with the references to known variables replaced; assignments in it are learnt
        in order, so ``STAMP=...; osmo ... run_id=run-$STAMP`` resolves within one line."""
        command = command.replace("\\\r\n", " ").replace("\\\n", " ")  # a continued line is one line
        out: list[str] = []
        last = 0
        for index, match in enumerate(_ASSIGN.finditer(command)):
            out.append(self._substitute(command[last : match.start()]))
            name, raw = match.group(1), match.group(2)
            value = self._value(raw, f"{where}:{index}:{name}")
            typed = command[match.start() : match.end()]
            out.append(typed if raw.startswith("$(") else self._substitute(typed))
            if value is None or is_secret_name(name):
                self.values.pop(name, None)
            else:
                self.values[name] = value
            last = match.end()
        out.append(self._substitute(command[last:]))
        return "".join(out)

    def _value(self, raw: str, seed: str) -> str | None:
        if raw.startswith("$("):
            if not _RANDOM_SOURCE.search(raw):
                return None
            lengths = [int(n) for group in _HEX_CUT.findall(raw) for n in group if n]
            length = lengths[0] * (2 if "rand -hex" in raw and "cut" not in raw else 1) if lengths else 8
            return hashlib.sha256(seed.encode()).hexdigest()[: max(1, min(length, 64))]
        if raw[:1] == "'" and raw[-1:] == "'":
            return raw[1:-1]
        text = raw[1:-1] if raw[:1] == '"' and raw[-1:] == '"' and len(raw) > 1 else raw
        if "$(" in text or "`" in text:
            return None
        resolved = self._substitute(text)
        return None if _REFERENCE.search(resolved) else resolved

    def _substitute(self, text: str) -> str:
        if not self.values:
            return text

        def one(match: re.Match[str]) -> str:
            name = match.group(1) or match.group(2)
            return self.values.get(name, match.group(0))

        return _REFERENCE.sub(one, text)

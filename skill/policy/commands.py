"""The command judge: :func:`check_command` splits a shell command line into simple commands
(:mod:`skill.policy.shell`) and judges each. The program decides the judge: ``osmo``, ``kubectl``, ``helm``, ``hf``,
``git``, ``python -c``, downloaders, ``ffmpeg``, the demo and NIM install scripts, and the
echo family. Every simple command is also searched for literal tokens.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import PurePosixPath

from skill.demo_source import DEMO_DATASET_NAME, DEMO_REPO
from skill.models import FLOWS, Decision, SubmitValues, Violation
from skill.policy.rules import RULES, _dedupe
from skill.policy.shell import _ASSIGNMENT, SimpleCommand, _unwrap, split_commands
from skill.policy.state import RunState
from skill.policy.values import (
    CACHE_WORKFLOW,
    NIM_NAMESPACES,
    NIM_SERVICES,
    VIDEO_EXTENSIONS,
    cache_urls_for,
    canonical_flow,
    hf_dataset_repo,
    is_external_endpoint,
    is_video_url,
    judge_values,
    required_cache_keys,
    video_stem,
)
from skill.secrets import is_secret_name, looks_like_secret
from skill.storage import storage_root

__all__ = ["SubmitCommand", "check_command", "judge_command", "parse_submit", "positional_words"]

_SECRET_REF = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)")
_DOWNLOADERS = frozenset({"curl", "wget", "aria2c", "http", "https", "httpie", "axel", "lftp", "xh"})
_VIDEO_GRABBERS = frozenset({"yt-dlp", "youtube-dl", "you-get", "gallery-dl", "streamlink", "yt-dlp_linux", "lux", "annie"})
_ECHOERS = frozenset({"echo", "printf", "print"})
_READERS = frozenset({"cat", "head", "tail", "less", "more", "bat", "strings", "xxd", "base64"})
_SECRET_FILES = ("huggingface/token", ".ngc/config", ".netrc", ".docker/config.json", ".aws/credentials", ".git-credentials")
_OUTPUT_FILTERS = frozenset({"cut", "awk", "wc", "sed", "tr"})
_SECRET_PATTERN = re.compile(r"key|token|secret|pass|auth|nvapi|hf_|ngc|credential", re.IGNORECASE)
_SECRET_FLAGS = frozenset({"--token", "--password", "--api-key", "--apikey", "--hf-token", "--access-token", "--secret", "--auth-token"})
_NIM_KINDS = ("nimservice", "nimservices", "nimcache", "nimcaches", "nimpipeline", "nimpipelines")
_WORKLOAD_KINDS = frozenset(
    {"deploy", "deployment", "deployments", "pod", "pods", "po", "rs", "replicaset", "replicasets", "sts",
     "statefulset", "statefulsets", "svc", "service", "services", "pvc", "persistentvolumeclaim",
     "persistentvolumeclaims", "all", "daemonset", "daemonsets", "ds"}
)
_NAMESPACE_KINDS = frozenset({"ns", "namespace", "namespaces"})
_NIM_RELEASES = frozenset({"nim-operator", "k8s-nim-operator", *NIM_SERVICES})
_LAVFI_SOURCES = re.compile(r"testsrc|smptebars|smptehdbars|rgbtestsrc|yuvtestsrc|mandelbrot|life|cellauto|color=|nullsrc|gradients|allrgb|allyuv|pal75bars|pal100bars|zoneplate", re.IGNORECASE)
_PY_HF_CALL = re.compile(r"(snapshot_download|hf_hub_download|load_dataset)\s*\(\s*(?:repo_id\s*=\s*|path\s*=\s*)?['\"]([^'\"]+)['\"]")
_PY_DATASET = re.compile(r"repo_type\s*=\s*['\"]dataset['\"]")
_REPLICAS = re.compile(r"replicas[^0-9\-]{0,40}?(-?\d+)", re.IGNORECASE)
_WORKFLOW_ID = re.compile(r"^[\w.-]+-\d+$")
_HF_VALUE_FLAGS = {"--repo-type", "--revision", "--local-dir", "--include", "--exclude", "--token", "--cache-dir", "--max-workers", "--format"}


@dataclass
class _Context:
    state: RunState | None
    external_allowed: bool
    demo_override: bool

    def demo_ok(self, repo: str) -> bool:
        if repo.lower() == DEMO_REPO:
            return True
        return self.demo_override or (self.state is not None and self.state.demo_allowed(repo))


# --- osmo workflow submit ------------------------------------------------------------------------------


@dataclass
class SubmitCommand:
    """What ``osmo workflow submit`` was given."""

    file: str | None = None
    pool: str | None = None
    set_flags: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    stray: list[str] = field(default_factory=list)

    @property
    def values(self) -> dict[str, str]:
        return dict(self.pairs)

    @property
    def workflow(self) -> str | None:
        if not self.file:
            return None
        name = PurePosixPath(self.file.replace("\\", "/")).name
        return canonical_flow(name) if name.endswith((".yaml", ".yml")) else None


def parse_submit(args: Sequence[str]) -> SubmitCommand:
    """Parse the words after ``osmo workflow submit`` the way the 6.3.1 CLI's argparse would."""
    parsed = SubmitCommand()
    index = 0
    while index < len(args):
        token = args[index]
        flag, eq, inline = token.partition("=") if token.startswith("--") else (token, "", "")
        if flag in ("--set", "--set-string", "--set-env"):
            items = [inline] if eq else []
            index += 1
            while index < len(args) and not args[index].startswith("-"):
                items.append(args[index])
                index += 1
            if flag != "--set-env":
                parsed.set_flags.append(flag)
                for item in items:
                    key, sep, value = item.partition("=")
                    if sep and key:
                        parsed.pairs.append((key, value))
                    else:
                        parsed.stray.append(item)
            continue
        if flag in ("-p", "--pool"):
            parsed.pool = inline if eq else (args[index + 1] if index + 1 < len(args) else None)
            index += 1 if eq else 2
            continue
        if flag in ("-t", "--format-type", "--priority", "--rsync", "--label"):
            index += 1 if eq else 2
            continue
        if token.startswith("-"):
            index += 1
            continue
        if parsed.file is None:
            parsed.file = token
        else:
            parsed.stray.append(token)
        index += 1
    return parsed


_CANONICAL_ORDER = tuple(SubmitValues.model_fields)


def _canonical_submit(parsed: SubmitCommand, flow: str | None, state: RunState | None) -> str:
    """The command that should have been typed: one --set-string, fixed values, placeholders where unknown."""
    values = parsed.values
    storage = values.get("storage_url", "")
    if state is not None and state.storage_url:
        storage = state.storage_url
    elif re.search(r"/datasets(?:/|$)", storage.rstrip("/")):
        storage = storage.rstrip("/").rsplit("/datasets", 1)[0]
    if flow in FLOWS or flow == CACHE_WORKFLOW:
        values["storage_url"] = storage or "<storage_url>"
    if flow in FLOWS:
        for key in ("dataset", "gpu_platform", "video", "skills_dir"):
            values.setdefault(key, f"<{key}>")
        for key, url in cache_urls_for(storage or None).items():
            current = values.get(key, "")
            stale = not current or "{{" in current or storage_root(current) != storage_root(storage)
            if key in required_cache_keys(flow) and stale:
                values[key] = url
        if not re.match(r"^run-[0-9a-f]{8}$", values.get("run_id", "")) or (
            state is not None and values.get("run_id") in state.submitted_run_ids
        ):
            values["run_id"] = "run-<8 hex>"
        values["video"] = video_stem(values["video"]) or "<stem>"
        for key in ("vlm_url", "llm_url"):
            if key in values and is_external_endpoint(values[key]):
                del values[key]
    position = {key: index for index, key in enumerate(_CANONICAL_ORDER)}
    ordered = sorted(values.items(), key=lambda kv: position.get(kv[0], len(position)))
    pairs = " ".join(f"{key}=<redacted>" if looks_like_secret(value) else shlex.quote(f"{key}={value}") for key, value in ordered)
    pool = f" --pool {shlex.quote(parsed.pool)}" if parsed.pool else " --pool <pool>"
    return f"osmo workflow submit {parsed.file or '<flow>.yaml'}{pool} --set-string {pairs}".rstrip()


def _judge_submit(args: list[str], ctx: _Context) -> list[Violation]:
    parsed = parse_submit(args)
    is_resubmit = bool(parsed.file and _WORKFLOW_ID.match(parsed.file) and not parsed.file.endswith((".yaml", ".yml")))
    flow = parsed.workflow
    remedy = _canonical_submit(parsed, flow, ctx.state)
    out: list[Violation] = []
    n_set, n_string = parsed.set_flags.count("--set"), parsed.set_flags.count("--set-string")
    stray_pairs = [item for item in parsed.stray if "=" in item]
    known = flow in FLOWS or flow == CACHE_WORKFLOW
    if n_set or n_string > 1 or stray_pairs or (n_string == 0 and known and not is_resubmit):
        if n_set and n_string:
            why = "mixes --set and --set-string; some OSMO builds honour only the last flag"
        elif n_set:
            why = "uses --set; every value goes after one --set-string instead"
        elif n_string > 1:
            why = f"repeats --set-string ({n_string}x); OSMO 6.3.1 keeps only the last list"
        elif stray_pairs:
            why = "has key=value pairs outside the --set-string list"
        else:
            why = "carries no --set-string, so the workflow's required values are missing"
        out.append(Violation(rule="single-set-string", message=f"The workflow submit {why}.", remedy=remedy))
    if is_resubmit:
        return out
    values = parsed.values
    if flow == CACHE_WORKFLOW or flow in FLOWS or values:
        out += judge_values(
            values,
            flow=flow or "custom",
            state=ctx.state,
            external_allowed=ctx.external_allowed,
            require_run_id=flow in FLOWS,
            fresh=ctx.state is not None,
            remedy=remedy,
        )
    if ctx.state is not None and not ctx.state.eta_given:
        out.append(Violation(rule="eta-before-mutation", message="No execution-time overview was given before this workflow submit.", remedy=RULES["eta-before-mutation"].remedy))
    return out


# --- per-program judges ---------------------------------------------------------------------------------


def positional_words(argv: Sequence[str], with_value: set[str], limit: int = 3) -> tuple[list[str], int]:
    """The first ``limit`` positional words after the program, skipping options; and where they ended."""
    words: list[str] = []
    index = 1
    while index < len(argv) and len(words) < limit:
        token = argv[index]
        if token.startswith("-"):
            index += 2 if token in with_value else 1
            continue
        words.append(token)
        index += 1
    return words, index


def _judge_osmo(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    words, end = positional_words(cmd.argv, {"-t", "--format-type"}, limit=2)
    if words == ["workflow", "submit"]:
        return _judge_submit(list(cmd.argv[end:]), ctx)
    if words == ["credential", "set"]:
        return _judge_credential(cmd, ctx)
    if words == ["data", "upload"]:
        return _judge_data_upload(list(cmd.argv[end:]), ctx)
    return []


def _judge_credential(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    out: list[Violation] = []
    argv = list(cmd.argv)
    for index, token in enumerate(argv):
        if token.split("=", 1)[0] != "--payload":
            continue
        items = [token.split("=", 1)[1]] if "=" in token else []
        items += [t for t in _until_option(argv[index + 1 :])]
        for item in items:
            key, _, value = item.partition("=")
            if is_secret_name(key) and value and not value.startswith(("$", "`")):
                out.append(
                    Violation(
                        rule="no-secret-echo",
                        message=f"The credential payload writes the value of {key} on the command line.",
                        remedy=f"Pass the value in a file readable only by you: --payload-file {key}=<file> (the shell expands a $VARIABLE into the process list).",
                    )
                )
    if ctx.state is not None and not ctx.state.eta_given:
        out.append(Violation(rule="eta-before-mutation", message="No execution-time overview was given before setting a credential.", remedy=RULES["eta-before-mutation"].remedy))
    return out


def _until_option(tokens: Sequence[str]) -> Iterable[str]:
    for token in tokens:
        if token.startswith("-"):
            return
        yield token


def _judge_data_upload(args: list[str], ctx: _Context) -> list[Violation]:
    state = ctx.state
    positional = [a for a in args if not a.startswith("-")]
    if state is None or not positional:
        return []
    url, sources = positional[0], positional[1:]
    out: list[Violation] = []
    if state.dataset_url and storage_root(url) and storage_root(url) != storage_root(state.dataset_url):
        out.append(Violation(rule="storage-url-derived", message=f"The upload target is not on the scheme and root of the dataset in use ({state.dataset_url}).", remedy=f"Upload under {state.storage_url or state.dataset_url}/datasets/<dataset>/."))
    from_demo = any(s.rstrip("/*").rstrip("/") in state.demo_dirs for s in sources) or f"/datasets/{DEMO_DATASET_NAME}" in url
    if from_demo and not state.demo_allowed():
        out.append(Violation(rule="no-demo-substitution", message="The upload sends demo assets although the user named their own input.", remedy=RULES["no-demo-substitution"].remedy))
    return out


def _kubectl_parse(argv: Sequence[str]) -> tuple[list[str], dict[str, list[str]]]:
    with_value = {"-n", "--namespace", "--context", "--kubeconfig", "--cluster", "--user", "-s", "--server",
                  "-o", "--output", "-l", "--selector", "-f", "--filename", "--replicas", "-p", "--patch",
                  "--type", "--for", "--timeout", "-c", "--container", "--current-replicas", "--field-selector"}
    words: list[str] = []
    flags: dict[str, list[str]] = {}
    index = 1
    while index < len(argv):
        token = argv[index]
        if token == "--":
            break
        if token.startswith("--") and "=" in token:
            name, _, value = token.partition("=")
            flags.setdefault(name, []).append(value)
        elif token in with_value:
            flags.setdefault(token, []).append(argv[index + 1] if index + 1 < len(argv) else "")
            index += 1
        elif token.startswith("-n") and len(token) > 2 and not token.startswith("--"):
            flags.setdefault("-n", []).append(token[2:])
        elif not token.startswith("-"):
            words.append(token)
        index += 1
    return words, flags


def _mentions_nim(text: str) -> bool:
    lower = text.lower()
    return any(name in lower for name in (*NIM_SERVICES, "nimservice", "nim-operator"))


def _judge_kubectl(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    words, flags = _kubectl_parse(cmd.argv)
    if not words:
        return []
    verb, targets = words[0].lower(), [w.lower() for w in words[1:]]
    namespaces = flags.get("-n", []) + flags.get("--namespace", [])
    kinds = [k for target in targets[:1] for k in target.split("/", 1)[0].split(",")]
    kinds += [t.split("/", 1)[0] for t in targets[1:] if "/" in t]
    names = [t.split("/", 1)[1] for t in targets if "/" in t] + targets[1:]
    scoped = " ".join(namespaces + names + flags.get("-l", []) + flags.get("--selector", []) + flags.get("-f", []) + flags.get("--filename", []))
    nim_kind = any(kind.startswith(_NIM_KINDS) for kind in kinds)
    nim_scope = any(ns in NIM_NAMESPACES for ns in namespaces) or _mentions_nim(scoped)
    remedy = RULES["no-nim-scale-down"].remedy
    if verb == "scale" and (nim_kind or nim_scope):
        counts = [_int(v) for v in flags.get("--replicas", [])]
        if counts and any(count is None or count < 1 for count in counts):
            return [Violation(rule="no-nim-scale-down", message="The command scales a NIM deployment down to zero replicas.", remedy=remedy)]
    if verb == "delete":
        workload = any(kind in _WORKLOAD_KINDS for kind in kinds) or not kinds
        namespace_kill = any(k in _NAMESPACE_KINDS for k in kinds) and any(n in NIM_NAMESPACES for n in names)
        if nim_kind or namespace_kill or (workload and nim_scope):
            return [Violation(rule="no-nim-scale-down", message="The command deletes a NIM service, its workload or its namespace.", remedy=remedy)]
    if verb == "patch" and (nim_kind or nim_scope):
        body = " ".join(flags.get("-p", []) + flags.get("--patch", []))
        if any((_int(v) or 0) < 1 for v in _REPLICAS.findall(body)):
            return [Violation(rule="no-nim-scale-down", message="The patch lowers the replicas of a NIM service.", remedy=remedy)]
    if verb == "edit" and (nim_kind or (nim_scope and any(kind in _WORKLOAD_KINDS for kind in kinds))):
        return [Violation(rule="no-nim-scale-down", message="Editing a NIMService by hand can scale it down or break it.", remedy=remedy)]
    if verb == "get" and any(kind.startswith("secret") for kind in kinds):
        output = " ".join(flags.get("-o", []) + flags.get("--output", [])).lower()
        if output.startswith(("yaml", "json", "jsonpath", "go-template", "custom-columns", "template")):
            return [Violation(rule="no-secret-echo", message="The command prints the contents of a Kubernetes secret.", remedy="List secrets by name only: kubectl get secrets -n <ns>.")]
    return []


def _int(text: str) -> int | None:
    try:
        return int(text)
    except ValueError:
        return None


def _judge_helm(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    words, flags = _kubectl_parse(cmd.argv)
    if not words or words[0].lower() not in ("uninstall", "delete", "del", "un"):
        return []
    namespaces = flags.get("-n", []) + flags.get("--namespace", [])
    releases = [w.lower() for w in words[1:]]
    if any(r in _NIM_RELEASES or "nim" in r for r in releases) or any(ns in NIM_NAMESPACES for ns in namespaces):
        return [Violation(rule="no-nim-scale-down", message="The command uninstalls the NIM operator or a NIM release.", remedy=RULES["no-nim-scale-down"].remedy)]
    return []


def _judge_repo(repo: str, ctx: _Context, how: str) -> list[Violation]:
    repo = repo.lower().removeprefix("datasets/").strip("/")
    if not ctx.demo_ok(repo):
        return [Violation(rule="vda-demo-only", message=f"{how} pulls the dataset {repo}, not {DEMO_REPO}.", remedy=f"hf download {DEMO_REPO} --repo-type dataset (or prepare_demo_assets with its default repo).")]
    if repo == DEMO_REPO and ctx.state is not None and not ctx.state.demo_allowed():
        return [Violation(rule="no-demo-substitution", message="The command pulls the demo dataset although the user named their own input.", remedy=RULES["no-demo-substitution"].remedy)]
    return []


def _judge_hf(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    argv = list(cmd.argv)
    if "download" not in argv:
        return []
    after = argv[argv.index("download") + 1 :]
    repo_type = None
    for index, token in enumerate(after):
        if token == "--repo-type" and index + 1 < len(after):
            repo_type = after[index + 1]
        elif token.startswith("--repo-type="):
            repo_type = token.split("=", 1)[1]
    positional, _ = positional_words(["download", *after], _HF_VALUE_FLAGS, limit=1)
    if repo_type != "dataset" or not positional:
        return []
    return _judge_repo(positional[0], ctx, "hf download")


def _judge_git(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    if "clone" not in cmd.argv:
        return []
    for token in cmd.argv:
        repo = hf_dataset_repo(token)
        if repo:
            return _judge_repo(repo, ctx, "git clone")
    return []


def _judge_python(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    argv = list(cmd.argv)
    if "-c" not in argv or argv.index("-c") + 1 >= len(argv):
        return []
    code = argv[argv.index("-c") + 1]
    out: list[Violation] = []
    for function, repo in _PY_HF_CALL.findall(code):
        if function == "load_dataset" or _PY_DATASET.search(code):
            out += _judge_repo(repo, ctx, function)
    return out


def _judge_download(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    program = cmd.program
    urls = [t for t in cmd.argv[1:] if re.match(r"^(?:https?|ftp)://", t, re.IGNORECASE)]
    named = set(ctx.state.user_inputs) if ctx.state is not None else set()
    out: list[Violation] = []
    for url in urls:
        if url in named:
            continue
        repo = hf_dataset_repo(url)
        if repo:
            out += _judge_repo(repo, ctx, program)
        elif program in _VIDEO_GRABBERS or is_video_url(url):
            out.append(Violation(rule="no-invented-video", message=f"The command downloads a video the user did not give ({program}).", remedy=RULES["no-invented-video"].remedy))
    if program in _VIDEO_GRABBERS and not urls:
        out.append(Violation(rule="no-invented-video", message=f"{program} fetches videos from the web; they cannot stand in for the user's input.", remedy=RULES["no-invented-video"].remedy))
    if not out and urls and not any(u in named or hf_dataset_repo(u) for u in urls):
        outputs = [cmd.argv[i + 1] for i, t in enumerate(cmd.argv[:-1]) if t in ("-o", "-O", "--output", "--output-document")]
        outputs += [t.split("=", 1)[1] for t in cmd.argv if t.startswith(("--output=", "--output-document="))]
        if any(PurePosixPath(o).suffix.lower() in VIDEO_EXTENSIONS for o in outputs):
            out.append(Violation(rule="no-invented-video", message="The command saves a downloaded file as a video the user did not give.", remedy=RULES["no-invented-video"].remedy))
    return out


def _judge_ffmpeg(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    argv = list(cmd.argv)
    lavfi = any(argv[i] == "-f" and argv[i + 1] == "lavfi" for i in range(len(argv) - 1))
    sources = [argv[i + 1] for i in range(len(argv) - 1) if argv[i] == "-i"]
    if lavfi and any(_LAVFI_SOURCES.search(s) for s in sources) and PurePosixPath(argv[-1]).suffix.lower() in VIDEO_EXTENSIONS:
        return [Violation(rule="no-invented-video", message="ffmpeg synthesises a placeholder video from a test source.", remedy=RULES["no-invented-video"].remedy)]
    return []


def _judge_demo_script(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    repo = cmd.env_value("HF_DEMO_DATASET_REPO") or DEMO_REPO
    return _judge_repo(repo, ctx, "prepare_demo_assets.sh")


def _judge_nim_install(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    out = []
    services = cmd.env_value("NIM_SERVICES")
    if services is None:
        out.append(Violation(rule="nim-allow-list", message="The NIM install runs without NIM_SERVICES, so it deploys every NIM the installer knows.", remedy=RULES["nim-allow-list"].remedy))
    elif sorted(services.split()) != sorted(NIM_SERVICES):
        out.append(Violation(rule="nim-allow-list", message="The NIM install names services other than exactly the VDA allow-list.", remedy=RULES["nim-allow-list"].remedy))
    if ctx.state is not None and not ctx.state.eta_given:
        out.append(Violation(rule="eta-before-mutation", message="No execution-time overview was given before the NIM install.", remedy=RULES["eta-before-mutation"].remedy))
    return out


# --- secrets on any command line ------------------------------------------------------------------------------


def _secret_ref(text: str) -> bool:
    return any(is_secret_name(name) for name in _SECRET_REF.findall(text))


def _judge_secrets(cmd: SimpleCommand) -> list[Violation]:
    remedy = RULES["no-secret-echo"].remedy
    argv = list(cmd.argv)
    program = cmd.program
    assignments = list(cmd.env)
    if program in ("export", "declare", "typeset", "readonly", "set"):
        assignments += [(m.group(1), m.group(2)) for m in map(_ASSIGNMENT.match, argv[1:]) if m]
    for name, value in assignments:
        if looks_like_secret(value) or (is_secret_name(name) and value and not value.startswith(("$", "`"))):
            return [Violation(rule="no-secret-echo", message=f"The command line writes the value of {name} in clear text.", remedy=f'Export it from a file or the environment (e.g. {name}="$(cat <file>)"), never as a literal.')]
    for index, token in enumerate(argv[1:], start=1):
        flag_literal = argv[index - 1] in _SECRET_FLAGS and not token.startswith(("$", "`"))
        inline = token.split("=", 1)
        inline_literal = len(inline) == 2 and inline[0] in _SECRET_FLAGS and inline[1] and not inline[1].startswith(("$", "`"))
        if looks_like_secret(token) or flag_literal or inline_literal:
            return [Violation(rule="no-secret-echo", message=f"Argument {index} of {program or 'the command'} is a literal token.", remedy=remedy)]
    for here in cmd.here_strings:
        if looks_like_secret(here) or _secret_ref(here):
            return [Violation(rule="no-secret-echo", message="A here-string feeds a secret to a command that prints it.", remedy=remedy)]
    if program in _ECHOERS and any(_secret_ref(token) for token in argv[1:]):
        return [Violation(rule="no-secret-echo", message=f"{program} prints the value of a secret variable.", remedy=remedy)]
    if program == "printenv" and any(is_secret_name(token) for token in argv[1:]):
        return [Violation(rule="no-secret-echo", message="printenv prints the value of a secret variable.", remedy=remedy)]
    if program in ("env", "printenv") and len(argv) == 1 and _dumps_environment(cmd.piped_to):
        return [Violation(rule="no-secret-echo", message=f"{program} prints every variable, tokens included.", remedy="Print names only: env | cut -d= -f1.")]
    if program in _READERS and any(token.rstrip("/").endswith(_SECRET_FILES) for token in argv[1:]):
        return [Violation(rule="no-secret-echo", message=f"{program} prints a file that holds a token.", remedy=remedy)]
    return []


def _dumps_environment(piped_to: tuple[str, ...] | None) -> bool:
    if not piped_to:
        return True
    program = PurePosixPath(piped_to[0]).name.lower()
    if program in _OUTPUT_FILTERS:
        return False
    if program in ("grep", "egrep", "fgrep", "rg"):
        patterns = [t for t in piped_to[1:] if not t.startswith("-")]
        only_match = any(t == "--only-matching" or (t.startswith("-") and not t.startswith("--") and "o" in t) for t in piped_to[1:])
        if only_match and patterns and all("=" not in p and "." not in p and "\\S" not in p and "\\w" not in p for p in patterns):
            return False  # -o with a pattern that cannot reach past NAME= prints names only
        return any(_SECRET_PATTERN.search(p) for p in patterns) or not patterns
    return True


# --- dispatch --------------------------------------------------------------------------------------------

_JUDGES: dict[str, Callable[[SimpleCommand, _Context], list[Violation]]] = {
    "osmo": _judge_osmo,
    "kubectl": _judge_kubectl,
    "oc": _judge_kubectl,
    "microk8s.kubectl": _judge_kubectl,
    "helm": _judge_helm,
    "hf": _judge_hf,
    "huggingface-cli": _judge_hf,
    "git": _judge_git,
    "ffmpeg": _judge_ffmpeg,
    "prepare_demo_assets.sh": _judge_demo_script,
    "install.sh": _judge_nim_install,
}


def _judge_one(cmd: SimpleCommand, ctx: _Context) -> list[Violation]:
    program = cmd.program
    argv = cmd.argv
    if program == "microk8s" and len(argv) > 1 and argv[1] in ("kubectl", "helm", "helm3"):
        cmd = replace(cmd, argv=argv[1:])
        program = cmd.program.rstrip("3")
    out = _judge_secrets(cmd)
    judge = _JUDGES.get(program)
    if judge is None and re.match(r"^python(?:\d+(?:\.\d+)?)?$", program):
        judge = _judge_python
    if judge is None and (program in _DOWNLOADERS or program in _VIDEO_GRABBERS):
        judge = _judge_download
    if judge is not None:
        out += judge(cmd, ctx)
    return out


def judge_command(
    command: str | Sequence[str],
    *,
    state: RunState | None = None,
    external_endpoints_allowed: bool = False,
    demo_override: bool = False,
) -> list[Violation]:
    """Every violation in a command line (a string as typed, or an argv list). Never raises on input."""
    ctx = _Context(
        state=state,
        external_allowed=external_endpoints_allowed or bool(state and state.user_external_endpoints),
        demo_override=demo_override,
    )
    if isinstance(command, str):
        commands = split_commands(command)
    else:
        argv = [str(part) for part in command]
        commands = _unwrap(argv, [], 0, ()) if argv else []
    violations: list[Violation] = []
    for cmd in commands:
        if cmd.argv or cmd.env:
            violations += _judge_one(cmd, ctx)
    return violations


def check_command(
    command: str | list[str],
    *,
    state: RunState | None = None,
    external_endpoints_allowed: bool = False,
    demo_override: bool = False,
) -> Decision:
    """Judge a raw shell command (a string as typed, or an argv list). Never raises.

    ``external_endpoints_allowed`` / ``demo_override`` record that the user explicitly asked for
    external endpoints / another demo dataset; ``state`` (optional) adds the conversation's facts
    (inputs the user named, the dataset in use, submitted run ids, whether an ETA was given).
    """
    violations = judge_command(
        command, state=state, external_endpoints_allowed=external_endpoints_allowed, demo_override=demo_override
    )
    return Decision.of(_dedupe(violations))

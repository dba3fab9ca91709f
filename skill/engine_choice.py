"""Which engines a run uses, and whether they can run where the run goes.

Two engine slots, each chosen per run through workflow values (one ``--set-string``, like every
other value):

* ``label_engine``: ``classic`` (CPU tracker and measured answers, this machine only) or ``nim``
  (a VLM and an LLM behind any OpenAI-compatible server: NIM, vLLM, Ollama, llama.cpp, LM Studio);
* ``augment_engine``: ``classic`` (CPU re-rendering, this machine only) or ``cosmos`` (Cosmos
  Transfer 2.5 through the augmentation container's CLI, which needs a GPU).

Left out, a slot is ``auto``: the backend's own engine (``classic`` on the local backend, the
containers on OSMO). :func:`engine_problems` says, before any work starts, why a choice cannot run
on a backend: ``classic`` on OSMO (the containers carry no CPU engines), ``nim`` on this machine
without a URL (the in-cluster default does not resolve here), ``cosmos`` on this machine without a
GPU or without the Cosmos runtime. :func:`probe_endpoints` checks that a chosen server answers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AfterValidator, StringConstraints

from skill.errors import BackendUnavailable, InputError

__all__ = [
    "AUGMENT_ENGINES",
    "LABEL_ENGINES",
    "AugmentEngine",
    "EngineProblem",
    "LabelEngine",
    "ModelName",
    "cosmos_runtime_missing",
    "endpoint_wait_s",
    "engine_problems",
    "fill_engine_values",
    "gpu_count",
    "local_engines_report",
    "probe_endpoints",
    "raise_first",
]

LabelEngine = Literal["classic", "nim"]
AugmentEngine = Literal["classic", "cosmos"]
LABEL_ENGINES: tuple[str, ...] = ("classic", "nim")
AUGMENT_ENGINES: tuple[str, ...] = ("classic", "cosmos")


@dataclass(frozen=True)
class EngineProblem:
    code: str
    message: str
    remedy: str


def gpu_count() -> int:
    """NVIDIA GPUs this machine shows: ``nvidia-smi -L`` lines, else the driver's /proc entries."""
    smi = shutil.which("nvidia-smi")
    if smi:
        try:
            done = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=10, check=False)
        except (OSError, subprocess.SubprocessError):
            done = None
        if done is not None and done.returncode == 0:
            return sum(1 for line in done.stdout.splitlines() if line.startswith("GPU "))
    gpus = Path("/proc/driver/nvidia/gpus")
    try:
        return sum(1 for _ in gpus.iterdir()) if gpus.is_dir() else 0
    except OSError:
        return 0


def cosmos_runtime_missing(env: Mapping[str, str] | None = None) -> list[str]:
    """What of the Cosmos Transfer 2.5 runtime is absent here (empty when it looks runnable): the
    augmentation container's CLI (``modules/cli.py`` under ``VDA_COSMOS_WORKDIR``, default /app)
    and the program that starts it (``VDA_COSMOS_COMMAND``, default ``uv run python modules/cli.py``)."""
    from skill.engines._cosmos import CosmosOptions

    options = CosmosOptions.from_env(dict(os.environ if env is None else env))
    missing = []
    if not (options.workdir / "modules" / "cli.py").is_file():
        missing.append(f"the augmentation CLI {options.workdir / 'modules' / 'cli.py'} (set VDA_COSMOS_WORKDIR)")
    if not options.command or shutil.which(options.command[0]) is None:
        missing.append(f"the program '{options.command[0] if options.command else ''}' on PATH (set VDA_COSMOS_COMMAND)")
    return missing


def _carries_secret(url: str) -> bool:
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url if "://" in url else "http://" + url)
    except ValueError:
        return False
    return bool(parts.username or parts.password or parts.query or parts.fragment)


def local_engines_report(*, gpus=gpu_count, runtime_missing=cosmos_runtime_missing) -> tuple[str, dict[str, object]]:
    """What this machine can run, for preflight: one sentence and its data."""
    count, missing = gpus(), runtime_missing()
    cosmos = ("cosmos runs here" if count and not missing else
              "cosmos does not run here (missing " + "; ".join(([] if count else ["an NVIDIA GPU"]) + missing) + ")")
    detail = (f"Engines here: classic labeling and augmentation (CPU, the default); nim labeling with a VLM/LLM "
              f"server URL (label_engine=nim, vlm_url); {cosmos}.")
    return detail, {"gpus": count, "cosmos_available": bool(count and not missing), "cosmos_missing": missing}


def fill_engine_values(values: dict[str, str]) -> dict[str, str]:
    """One server often serves both models: with ``nim`` and only ``vlm_url`` given, the LLM is
    asked at the same URL (and with ``vlm_model`` but no ``llm_model``, nothing is guessed)."""
    if values.get("label_engine") == "nim" and values.get("vlm_url") and not values.get("llm_url"):
        values["llm_url"] = values["vlm_url"]
    return values


def engine_problems(values: Mapping[str, str], *, on_this_machine: bool, augments: bool,
                    gpus=gpu_count, runtime_missing=cosmos_runtime_missing) -> list[EngineProblem]:
    """Why the chosen engines cannot run on this backend; empty when they can (or nothing was chosen)."""
    label = values.get("label_engine") or "auto"
    augment = values.get("augment_engine") or "auto"
    problems: list[EngineProblem] = []
    for key in ("vlm_url", "llm_url"):
        if values.get(key) and _carries_secret(values[key]):
            problems.append(EngineProblem(
                "endpoint-url-credentials",
                f"The {key} carries a user name, password or query string, which would end up in the workflow and its logs.",
                f"Pass the bare base URL as {key} and the key in {key[:3].upper()}_API_KEY (it is sent as a header only)."))
    if not on_this_machine:
        for slot, engine, own in (("label", label, "nim"), ("augment", augment, "cosmos")):
            if engine == "classic":
                problems.append(EngineProblem(
                    "engine-not-on-backend",
                    f"The classic {slot} engine runs only on the local backend; the cluster runs the {own} containers.",
                    f"Leave --{slot}-engine out (or pass {own}) on OSMO, or run with --backend local."))
        return problems
    if label == "nim" and not values.get("vlm_url"):
        problems.append(EngineProblem(
            "engine-needs-endpoint",
            "The nim label engine on this machine needs the URL of an OpenAI-compatible server.",
            "Pass --vlm-url http://HOST:PORT/v1 (and --llm-url when the LLM is served elsewhere)."))
    if augments and augment == "cosmos":
        missing = []
        if gpus() < 1:
            missing.append("an NVIDIA GPU (nvidia-smi lists none)")
        missing += runtime_missing()
        if missing:
            problems.append(EngineProblem(
                "cosmos-unavailable",
                "The cosmos augment engine cannot run on this machine: missing " + "; ".join(missing) + ".",
                "Run on a machine with a GPU and the Cosmos Transfer 2.5 runtime, use --backend osmo, "
                "or leave --augment-engine out for the classic CPU engine."))
        if not values.get("vlm_url"):
            problems.append(EngineProblem(
                "engine-needs-endpoint",
                "The cosmos augment engine on this machine needs a VLM/LLM server for its captions and prompts.",
                "Pass --vlm-url http://HOST:PORT/v1 (and --llm-url when the LLM is served elsewhere)."))
    return problems


def raise_first(problems: list[EngineProblem]) -> None:
    if problems:
        first = problems[0]
        raise InputError(first.message, remedy=first.remedy, code=first.code)


def endpoint_wait_s() -> float:
    """How long the checks before a run wait for a chosen server (``VDA_ENDPOINT_CHECK_SECONDS``, 30)."""
    try:
        return max(1.0, float(os.environ.get("VDA_ENDPOINT_CHECK_SECONDS") or 30.0))
    except ValueError:
        return 30.0


def probe_endpoints(values: Mapping[str, str], *, wait_s: float = 30.0, client=None) -> dict[str, str]:
    """Wait (up to ``wait_s``) until the VLM and LLM servers list their models; return the model
    each will use. Raises ``endpoint-unreachable`` naming the endpoint, or ``model-not-served``."""
    import httpx2

    from skill.engines._label_nim import NimSettings, api_key, auth_headers, wait_for_models

    wait_s = max(1.0, wait_s)
    settings = NimSettings(wait_timeout=wait_s, wait_interval=min(2.0, max(0.5, wait_s / 10)),
                           probe_timeout=5.0, connect_timeout=3.0)
    own = client is None
    http = client or httpx2.Client(follow_redirects=False)
    try:
        found = {}
        for kind in ("vlm", "llm"):
            try:
                endpoint = wait_for_models(http, kind.upper(), values.get(f"{kind}_url") or "", auth_headers(api_key(kind)),
                                           settings, model=values.get(f"{kind}_model") or None)
            except BackendUnavailable as exc:
                if exc.code != "endpoint-unreachable":
                    raise
                raise BackendUnavailable(exc.message, code=exc.code, remedy=(
                    f"Start the {kind.upper()} server or fix --{kind}-url (an OpenAI-compatible base such as "
                    "http://host:8000/v1); VDA_ENDPOINT_CHECK_SECONDS waits longer for one still loading.")) from exc
            found[kind] = endpoint.model
        return found
    finally:
        if own:
            http.close()


_MODEL_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$")


def _model_id(value: str) -> str:
    if not _MODEL_ID.match(value):
        raise ValueError("a model id is letters, digits and . _ : / @ + - (e.g. Qwen/Qwen3-VL-8B-Instruct)")
    return value


ModelName = Annotated[str, StringConstraints(max_length=200), AfterValidator(_model_id)]
"""A served model id as /v1/models lists it, e.g. Qwen/Qwen3-VL-30B-A3B-Instruct or qwen2.5vl:7b
(checked by a validator, so the pattern does not weigh on every tools/list)."""

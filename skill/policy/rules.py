"""The rules of POLICY.md as data: one :class:`Rule` per public id, and the catalogue :data:`RULES`.

The MCP server, the chat agent, the eval harness and every judge read this one catalogue. A
violation built here carries the rule's generic remedy unless the judge gives a specific one.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.models import Violation

__all__ = ["RULES", "JudgedOn", "Rule"]

# --- the catalogue ------------------------------------------------------------------------------

JudgedOn = Literal["call", "command", "transcript", "run state"]


class Rule(BaseModel):
    """One rule of POLICY.md: its public id, what it says, where it is judged, the generic remedy."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(description="Public rule id, kebab-case, e.g. single-set-string.")
    text: str = Field(description="The rule in one or two sentences, for agents and reports.")
    judged_on: tuple[JudgedOn, ...] = Field(description="call, command, transcript and/or run state.")
    remedy: str = Field(description="What to do instead, in general; denials give the specific call.")


_CATALOGUE: tuple[Rule, ...] = (
    Rule(
        id="single-set-string",
        text="A workflow submit carries exactly one `--set-string`, every key=value after it; never `--set`, "
        "never a repeated flag, never both.",
        judged_on=("call", "command"),
        remedy="Submit with one `--set-string` followed by every key=value pair.",
    ),
    Rule(
        id="no-nim-scale-down",
        text="Never scale down, delete, uninstall or patch replicas lower for a NIM service/deployment "
        "(kubectl scale/delete/patch, helm uninstall, NIMService edits), to free GPUs or for any reason.",
        judged_on=("command",),
        remedy="Leave the NIMs running; pick another ONLINE pool or wait for GPUs, and repair unhealthy NIMs "
        'with NIM_SERVICES="qwen3-vl qwen25-14b" install.sh.',
    ),
    Rule(
        id="nim-allow-list",
        text='A NIM deploy or repair names exactly the VDA allow-list (`NIM_SERVICES="qwen3-vl qwen25-14b"`); '
        "never unset (which deploys every NIM the installer knows), never extra services.",
        judged_on=("call", "command"),
        remedy='Deploy or repair with NIM_SERVICES="qwen3-vl qwen25-14b" and nothing else.',
    ),
    Rule(
        id="no-demo-substitution",
        text="A video, dataset URL or folder the user named is the input; never replaced by demo assets or any "
        "other source.",
        judged_on=("call", "command", "transcript"),
        remedy="Use the input the user named (upload their folder or use their dataset URL).",
    ),
    Rule(
        id="vda-demo-only",
        text="The demo path pulls only `nvidia/video-data-augmentation-demo`, unless the user explicitly asked "
        "for another dataset.",
        judged_on=("call", "command"),
        remedy="Pull the demo from nvidia/video-data-augmentation-demo (prepare_demo_assets with its default repo).",
    ),
    Rule(
        id="no-invented-video",
        text="Never generate, scrape or download arbitrary or placeholder videos to stand in for missing input.",
        judged_on=("call", "command", "transcript"),
        remedy="Use the user's videos, or the VDA demo dataset when the user gave none.",
    ),
    Rule(
        id="storage-url-derived",
        text="`storage_url` is the backend-native prefix in front of `/datasets/<dataset>` of the real "
        "dataset/upload root; same scheme and root; never a stale or guessed `s3://`.",
        judged_on=("call", "command"),
        remedy="Derive storage_url from the dataset URL: the part before /datasets/<dataset>.",
    ),
    Rule(
        id="explicit-cache-urls",
        text="The submit passes `cosmos_model_cache_url` (flows with augmentation) and "
        "`auto_labeling_model_cache_url` explicitly.",
        judged_on=("call", "command"),
        remedy="Pass cosmos_model_cache_url=<storage_url>/data/models/cosmos_transfer and "
        "auto_labeling_model_cache_url=<storage_url>/data/models/auto_labeling.",
    ),
    Rule(
        id="gpu-platform-from-pool",
        text="`gpu_platform` is a platform label that the live pool list shows ONLINE; never guessed "
        "(e.g. `microk8s`).",
        judged_on=("call",),
        remedy="Run preflight and use a platform label its pool list shows for an ONLINE pool.",
    ),
    Rule(
        id="preflight-before-submit",
        text="A passing preflight in this run precedes any workflow submit.",
        judged_on=("call", "transcript"),
        remedy="Call preflight and continue once it reports status ok.",
    ),
    Rule(
        id="guard-before-submit",
        text="A passing pre-submit guard for the same values precedes the submit.",
        judged_on=("call", "transcript"),
        remedy="Call pre_submit_guard with exactly the values you will submit, then submit.",
    ),
    Rule(
        id="eta-before-mutation",
        text="An execution-time overview is given before the first mutating action (credential set, NIM "
        "install/repair, cache submit, workflow submit).",
        judged_on=("transcript", "run state"),
        remedy="Give the execution-time overview first (select_flow returns it).",
    ),
    Rule(
        id="cache-remediation",
        text="When the guard reports a missing cache: run `setup_model_cache`, rerun the guard, then submit; do "
        "not submit with a missing cache, do not ask the user.",
        judged_on=("call", "transcript"),
        remedy="Call setup_model_cache with storage_url=<prefix> path=data, rerun pre_submit_guard, then submit.",
    ),
    Rule(
        id="no-key-prefix-rejection",
        text="Never reject or skip a key because of its prefix (`nvapi-*` is first-class); registry probe "
        "results decide.",
        judged_on=("transcript",),
        remedy="Keep the key and let the registry probe of preflight decide.",
    ),
    Rule(
        id="external-endpoints-opt-in",
        text="`vlm_url`/`llm_url` point outside the cluster only when the user explicitly asked or gave URLs; "
        "never inferred from credentials.",
        judged_on=("call", "command"),
        remedy="Leave vlm_url/llm_url out so the in-cluster NIMs (*.osmo-nims.svc.cluster.local) are used.",
    ),
    Rule(
        id="no-secret-echo",
        text="No token or key value in any tool output, message, log line or command line.",
        judged_on=("call", "command", "transcript"),
        remedy='Refer to secrets by variable name (e.g. auth="$NGC_API_KEY") and never print them.',
    ),
    Rule(
        id="single-interpolation-retry",
        text="After an interpolation failure, at most one resubmit with the canonical shape; no flag "
        "permutations.",
        judged_on=("transcript",),
        remedy="Resubmit once with one --set-string carrying every pair; if it fails again, report it.",
    ),
    Rule(
        id="run-id-format",
        text="`run_id` is `run-` + 8 lowercase hex, fresh for each new submit.",
        judged_on=("call", "command"),
        remedy="Use a fresh run_id: 'run-' + the first 8 hex characters of a new UUID, never one submitted before.",
    ),
    Rule(
        id="video-basename",
        text="`video` is a file stem: no path separator, no extension, no traversal.",
        judged_on=("call", "command"),
        remedy="Pass the file stem only, e.g. video=03_IllegalOccupation_020_10FPS.",
    ),
    Rule(
        id="ask-only-when-blocked",
        text="Ask the user only for: a `USER_INPUT_REQUIRED` secret, an underivable storage prefix, no "
        "selectable ONLINE pool; never about cookbook, cache strategy, external endpoints or scaling NIMs.",
        judged_on=("transcript",),
        remedy="Decide autonomously with the documented defaults; ask only when blocked.",
    ),
    Rule(
        id="no-approval-pause",
        text='After a green stage, go on; no "ready when you are" pause unless blocked or told to stop.',
        judged_on=("transcript",),
        remedy="Continue with the next stage and send a status heartbeat instead of a question.",
    ),
    Rule(
        id="media-line-format",
        text="A MEDIA line is `MEDIA:/absolute/path` alone in its message, one per message, pointing inside "
        "the local run folder.",
        judged_on=("transcript",),
        remedy="Send MEDIA:/abs/path/inside/media/vda/runs/<run_id>/... alone in its own message.",
    ),
    Rule(
        id="evidence-complete",
        text="An augmented flow ends with: the side-by-side MEDIA, the `sampled_vars` summary, the auto-label "
        "summary (and the original-label summary for e2e flows), and for demo input the statement that it "
        "came from the VDA demo dataset.",
        judged_on=("transcript",),
        remedy="Stage the artifacts, render the side-by-side and summarise sampled_vars and labels.",
    ),
)

RULES: dict[str, Rule] = {rule.id: rule for rule in _CATALOGUE}


def _violation(rule: str, message: str, remedy: str | None = None) -> Violation:
    return Violation(rule=rule, message=message, remedy=remedy or RULES[rule].remedy)


def _dedupe(violations: Iterable[Violation]) -> list[Violation]:
    seen: set[tuple[str, str]] = set()
    out = []
    for violation in violations:
        key = (violation.rule, violation.message)
        if key not in seen:
            seen.add(key)
            out.append(violation)
    return out

"""Deploy or repair exactly the VDA NIMs (``qwen3-vl``, ``qwen25-14b``), idempotently, never lower.

The one thing this step can run is the sibling infrastructure skill's NIM operator installer::

    NIM_SERVICES="qwen3-vl qwen25-14b" bash <infra-skill>/components/inference-nim-operator/scripts/install.sh

It first looks through kubectl (:mod:`skill.steps.nim_kube`) and plans per service: ``skip`` (Ready
and, when the infra skill's manifests are at hand, its ``orion.nvidia.com/spec-hash`` matches what
the installer would stamp), ``deploy`` (missing), ``repair`` (failed download Job, failed or
unhealthy NIMService: the installer recreates failed Jobs), ``update`` (Ready but the manifests
changed), ``wait`` (still downloading or loading). Nothing runs when every service is ``skip`` or
``wait``: a second ensure after a good one changes nothing.

Dry run by default (the plan, the ETA and the exact command); ``apply=True`` runs it once after a
preflight (kubectl >= 1.31, helm >= 3, ``NGC_API_KEY`` and ``HF_TOKEN`` set, the installer present),
with the policy (``nim-allow-list``, ``no-nim-scale-down``) judging the command line as a second
wall. By construction no argv here scales, patches, deletes or uninstalls anything: the only
programs started are ``kubectl get|version``, ``helm version|list`` and ``bash <install.sh>``.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.errors import PolicyDenied
from skill.paths import trusted_infra_skill_dir
from skill.secrets import redact, redact_obj
from skill.steps.nim import INFRA_SKILL_NAME, INSTALL_COMMAND, INSTALL_SCRIPT, NIM_SERVICES, InfraSkillDir
from skill.steps.nim_kube import NimFinding, ServiceView, kube_view

__all__ = ["ETA", "NimEnsureRequest", "NimEnsureResult", "ServicePlan", "nim_ensure", "spec_hash"]

ETA = "NIM deploy: about 10-15 min (weight download and warm-up, NIMs in parallel); none when both are Ready."
_NIMS_DIR = Path("components", "inference-nim-operator", "nims")
_MANIFESTS = ("pvc.yaml", "hf-download-job.yaml", "nimservice.yaml")
_VERSION = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+))?")
_TAIL = 40

Step = Literal["skip", "deploy", "repair", "update", "wait"]


class NimEnsureRequest(BaseModel):
    """Dry run unless apply; the services are always the allow-list."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    apply: bool = Field(default=False, description="Run the installer (false: plan only).")
    infra_skill_dir: InfraSkillDir = Field(default=None, description="Infrastructure skill folder; found nearby when omitted.")
    timeout_s: Annotated[float, Field(gt=0, le=7200, description="Seconds the installer may run.")] = 4200.0


class ServicePlan(BaseModel):
    model_config = ConfigDict(extra="forbid")
    service: str
    seen: str
    step: Step
    why: str
    after: str | None = None


class NimEnsureResult(BaseModel):
    """blocked: see findings; would-run: dry run."""

    model_config = ConfigDict(extra="forbid")
    outcome: Literal["nothing", "wait", "would-run", "ran", "failed", "blocked"]
    eta: str = ETA
    services: list[str] = Field(default_factory=lambda: list(NIM_SERVICES))
    plan: list[ServicePlan] = Field(default_factory=list)
    command: str | None = None
    exit_code: int | None = None
    output_tail: list[str] = Field(default_factory=list)
    findings: list[NimFinding] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


# --- facts --------------------------------------------------------------------------------------------------


def spec_hash(nim_dir: Path) -> str | None:
    """The installer's spec hash: sha256 of pvc.yaml, hf-download-job.yaml (when present) and
    nimservice.yaml, concatenated in that order, first 16 hex digits. None without nimservice.yaml."""
    if not (nim_dir / "nimservice.yaml").is_file():
        return None
    digest = hashlib.sha256()
    for name in _MANIFESTS:
        path = nim_dir / name
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _plan(view: ServiceView, current_hash: str | None) -> ServicePlan:
    seen = view.verdict
    if seen == "healthy":
        if current_hash and view.spec_hash and current_hash != view.spec_hash:
            return ServicePlan(service=view.service, seen=seen, step="update",
                               why=f"Ready, but its manifests changed (spec-hash {view.spec_hash} deployed, {current_hash} now).")
        return ServicePlan(service=view.service, seen=seen, step="skip", why="Ready" + (" and its spec-hash matches." if current_hash and view.spec_hash else "."))
    if seen == "missing" and view.download_job != "failed":
        return ServicePlan(service=view.service, seen=seen, step="deploy", why="Not deployed: PVC, weight download, NIMService.")
    if seen in ("downloading", "starting"):
        return ServicePlan(service=view.service, seen=seen, step="wait", why=view.findings[0].message if view.findings else "Still coming up.")
    why = view.findings[0].message if view.findings else f"{view.service} is {seen}."
    return ServicePlan(service=view.service, seen=seen, step="repair", why=why + " The installer recreates a failed download Job and re-applies the NIMService.")


def _version(argv: list[str]) -> tuple[int, int] | None:
    exe = shutil.which(argv[0])
    if exe is None:
        return None
    try:
        done = subprocess.run([exe, *argv[1:]], capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return None
    match = _VERSION.search(done.stdout.split('"gitVersion"')[-1] if argv[0] == "kubectl" else done.stdout)
    return (int(match.group(1)), int(match.group(2))) if done.returncode == 0 and match else None


def _preflight(script: Path | None) -> list[NimFinding]:
    out: list[NimFinding] = []
    kubectl = _version(["kubectl", "version", "--client", "-o", "json"])
    if kubectl is None or kubectl < (1, 31):
        out.append(NimFinding(code="nim-preflight-kubectl", message=f"The NIM installer needs kubectl >= 1.31; found {'none' if kubectl is None else '%d.%d' % kubectl}.",
                              remedy="Install kubectl 1.31 or newer on PATH, then run ensure again."))
    helm = _version(["helm", "version", "--short"])
    if helm is None or helm < (3, 0):
        out.append(NimFinding(code="nim-preflight-helm", message=f"The NIM installer needs helm >= 3; found {'none' if helm is None else '%d.%d' % helm}.",
                              remedy="Install helm 3 on PATH, then run ensure again."))
    for name, why in (("NGC_API_KEY", "pulls the NIM image and the operator chart"), ("HF_TOKEN", "downloads both models from Hugging Face; without it the installer skips them")):
        if not os.environ.get(name):
            out.append(NimFinding(code="nim-preflight-secret", message=f"{name} is not set in this environment; the installer {why}.",
                                  remedy=f"Ask the user to export {name} in the shell that runs vda (never paste it into the chat), then run ensure again."))
    if script is None:
        out.append(NimFinding(code="nim-infra-skill-missing", message=f"The {INFRA_SKILL_NAME} skill (its NIM installer) was not found.",
                              remedy="Install that skill beside this one or pass --infra-skill /path/to/it (INFRA_SKILL_DIR also works)."))
    return out


def _operator_release() -> list[NimFinding]:
    """A NIM operator release that helm reports failed or pending is noted (the installer's
    ``helm upgrade --install`` repairs it)."""
    exe = shutil.which("helm")
    if exe is None:
        return []
    try:
        done = subprocess.run([exe, "list", "-n", "nim-operator", "-a", "-o", "json"], capture_output=True, text=True, timeout=30, check=False)
    except subprocess.TimeoutExpired:
        return []
    try:
        releases = json.loads(done.stdout) if done.returncode == 0 else []
    except ValueError:
        return []
    bad = [r for r in releases if isinstance(r, dict) and r.get("name") == "nim-operator" and r.get("status") != "deployed"]
    return [NimFinding(code="nim-operator-release", message=f"The helm release nim-operator is {r.get('status')} ({r.get('chart')}).",
                       remedy="The installer's helm upgrade --install repairs it; run ensure with --apply once.") for r in bad]


# --- running the installer ----------------------------------------------------------------------------------


def _run_installer(script: Path, timeout_s: float, progress: Callable[[str], None]) -> tuple[int, list[str]]:
    bash = shutil.which("bash") or "/bin/bash"
    env = {**os.environ, "NIM_SERVICES": " ".join(NIM_SERVICES)}
    proc = subprocess.Popen([bash, str(script)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            stdin=subprocess.DEVNULL, start_new_session=True)
    timer = threading.Timer(timeout_s, proc.kill)
    timer.start()
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = redact(raw.rstrip("\n"))
            tail = (tail + [line])[-_TAIL:]
            progress(line)
        code = proc.wait()
    finally:
        timer.cancel()
    return code, tail


def nim_ensure(req: NimEnsureRequest, *, on_progress: Callable[[str], None] | None = None) -> NimEnsureResult:
    """Plan (and with ``apply`` run) the one installer pass that deploys or repairs the allow-listed
    NIMs. Raises :class:`PolicyDenied` if the command line would break a NIM rule (it cannot, by
    construction; the policy is the second wall)."""
    infra = trusted_infra_skill_dir(req.infra_skill_dir, INFRA_SKILL_NAME, INSTALL_SCRIPT)  # before anything is said or run
    progress = on_progress or (lambda _line: None)
    progress(ETA)
    script = infra / INSTALL_SCRIPT if infra is not None and (infra / INSTALL_SCRIPT).is_file() else None
    shown_dir = shlex.quote(str(infra)) if infra is not None else '"${INFRA_SKILL_DIR:?set INFRA_SKILL_DIR}"'
    command = INSTALL_COMMAND.format(infra_skill=shown_dir)

    view = kube_view(NIM_SERVICES)
    if not view.reached:
        return _done(NimEnsureResult(outcome="blocked", command=command, findings=view.findings,
                                     notes=["ensure looks through kubectl before it changes anything; fix the kube context first."]))
    plan = [_plan(s, spec_hash(infra / _NIMS_DIR / s.service) if infra is not None else None) for s in view.services]
    findings = list(view.findings) + [f for s in view.services for f in s.findings]
    todo = [p for p in plan if p.step in ("deploy", "repair", "update")]
    if not todo:
        outcome: Literal["nothing", "wait"] = "wait" if any(p.step == "wait" for p in plan) else "nothing"
        note = "Both NIMs are Ready: nothing to do." if outcome == "nothing" else "A NIM is still downloading or loading: check health again later."
        return _done(NimEnsureResult(outcome=outcome, plan=plan, findings=findings, notes=[note]))

    from skill.policy import check_command  # the policy builds on the steps' constants

    decision = check_command(command)
    if not decision.allowed:
        first = decision.violations[0]
        raise PolicyDenied(first.rule, first.message, remedy=first.remedy)
    findings += _operator_release()
    blockers = _preflight(script)
    notes = [f"{p.service}: {p.step}: {p.why}" for p in plan]
    if not req.apply:
        notes.append("Dry run: nothing ran. Give the user the ETA, then run again with apply to execute the command once.")
        return _done(NimEnsureResult(outcome="would-run" if not blockers else "blocked", plan=plan, command=command,
                                     findings=findings + blockers, notes=notes))
    if blockers:
        return _done(NimEnsureResult(outcome="blocked", plan=plan, command=command, findings=findings + blockers, notes=notes))
    assert script is not None
    progress(f"Running: {command}")
    try:
        code, tail = _run_installer(script, req.timeout_s, progress)
    except OSError as exc:
        findings.append(NimFinding(code="nim-install-failed", message=f"The installer could not start ({type(exc).__name__}).",
                                   remedy="Check that bash and the installer are readable, then run ensure again."))
        return _done(NimEnsureResult(outcome="failed", plan=plan, command=command, findings=findings, notes=notes))
    after = {s.service: s for s in kube_view(NIM_SERVICES).services}
    for p in plan:
        p.after = after[p.service].verdict if p.service in after else None
    if code != 0:
        findings.append(NimFinding(code="nim-install-failed", message=f"The NIM installer exited with {code}.",
                                   remedy="Read the output tail; fix what it names (key, quota, PVC) and run ensure once more. Never scale down or delete a NIM to make room."))
    return _done(NimEnsureResult(outcome="ran" if code == 0 else "failed", plan=plan, command=command, exit_code=code,
                                 output_tail=tail, findings=findings, notes=notes))


def _done(result: NimEnsureResult) -> NimEnsureResult:
    return NimEnsureResult.model_validate(redact_obj(result.model_dump(mode="json")))

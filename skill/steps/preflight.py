"""Preflight: are the secrets, the registry, the OSMO credentials and the cluster ready for a run?

The sequence is upstream's preflight script's, on any backend:

0. NGC org/team for the optional REST scope probe (env, then ``[CURRENT]`` of the NGC config file).
1. ``credentials()``: which OSMO credentials exist (names only).
2. Secret discovery (:func:`skill.secrets.discover`): NGC key (optional), HF token.
3. ``hf_token`` absent in OSMO and no HF token here -> ``user_input_required`` for ``HF_TOKEN``.
4. Registry probes of every nvcr.io image of the workflow (:mod:`skill.steps.registry`).
5. NGC REST scope probe: informational only, never fails the run.
6. HF gated-repo probe: 401/403 -> ``user_input_required`` (license acceptance); 000 -> failed.
7. ``nvcr_io`` (REGISTRY) and ``hf_token`` (GENERIC) credentials created or refreshed.
8. An ONLINE pool with its platforms; ``POD_TEMPLATE`` mentions GPUs.
9. ``ok`` with notes.

The step never asks which backend it holds: a backend answers credentials, pools and config itself,
and HTTP probes only run when the workflow names nvcr.io images and ``no_probe`` is off. No field
of the result carries a secret value.
"""

from __future__ import annotations

import configparser
import json
import logging
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from skill.backends.base import Backend
from skill.errors import InputError, SkillError
from skill.models import ALIASES, Check, PoolInfo
from skill.paths import expand_user, workflow_path
from skill.secrets import DiscoveredSecrets, discover, redact_obj
from skill.steps.registry import RegistryProbe, http_status, nvcr_images, probe_image, registry_verdict

if TYPE_CHECKING:  # httpx2 is imported when a check goes over the network (start-up cost of every run)
    import httpx2

__all__ = [
    "HF_GATED_REPOS",
    "HF_PROBE_URL",
    "PreflightRequest",
    "PreflightResult",
    "format_report",
    "preflight",
    "resolve_workflow_file",
]

log = logging.getLogger(__name__)

HF_GATED_REPOS: tuple[str, ...] = ("nvidia/Cosmos-Predict2-2B-Text2Image", "nvidia/Cosmos-Predict2-14B-Text2Image")
HF_PROBE_URL = f"https://huggingface.co/api/models/{HF_GATED_REPOS[0]}"
NGC_SCOPE_URL = "https://api.ngc.nvidia.com/v2/org/{org}/team/{team}/models/cosmos-anomalygen-pcb/versions/1.0"
HF_QUESTION = (
    "Please share a Hugging Face access token (HF_TOKEN) with read access; the Cosmos models the "
    "workflow downloads are gated and need it."
)
LICENSE_QUESTION = (
    "Please accept the model licenses at "
    + " and ".join(f"https://huggingface.co/{repo}" for repo in HF_GATED_REPOS)
    + " with your Hugging Face account, then share a valid HF_TOKEN for that account."
)
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


class PreflightRequest(BaseModel):
    """What to check. Run it before any submit (rule preflight-before-submit)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workflow: str | None = Field(
        default=None,
        description="Flow (e.g. augmentation_and_al) or workflow YAML whose nvcr.io images to probe; omitted: no registry probe.",
    )
    refresh: bool = Field(default=False, description="Set the credentials again (after a key rotation).")
    no_probe: bool = Field(default=False, description="Skip the HTTP probes.")


class PreflightResult(BaseModel):
    """``ok``: go on. ``user_input_required``: ask the user exactly ``question``, then rerun.
    ``failed``: read the failing check and ``remedy``."""

    model_config = ConfigDict(extra="forbid")
    status: Literal["ok", "failed", "user_input_required"]
    checks: list[Check] = Field(default_factory=list)
    missing: list[str] = Field(default_factory=list, description="Names of missing secrets, e.g. HF_TOKEN.")
    question: str | None = Field(default=None, description="The one question to ask the user when blocked.")
    remedy: str | None = None
    pools: list[PoolInfo] = Field(default_factory=list, description="ONLINE pools.")
    platforms: list[str] = Field(default_factory=list, description="Platform labels the ONLINE pools offer (for gpu_platform).")
    notes: list[str] = Field(default_factory=list)


class _Blocked(Exception):
    """Ends the sequence early with a final status (internal control flow, never escapes)."""

    def __init__(self, status: str, *, remedy: str | None = None, missing: list[str] | None = None, question: str | None = None) -> None:
        self.status, self.remedy, self.missing, self.question = status, remedy, missing or [], question
        super().__init__(status)


class _Run:
    def __init__(self, req: PreflightRequest, backend: Backend, http: httpx2.Client | None, env: Mapping[str, str]) -> None:
        self.req, self.backend, self.env = req, backend, env
        self._http, self._own_http = http, False
        self.checks: list[Check] = []
        self.notes: list[str] = []
        self.pools: list[PoolInfo] = []
        self.platforms: list[str] = []
        self.nvcr_present = False

    @property
    def http(self) -> httpx2.Client:
        if self._http is None:
            import httpx2

            self._http = httpx2.Client(timeout=httpx2.Timeout(15.0, connect=5.0), follow_redirects=True)
            self._own_http = True
        return self._http

    def close(self) -> None:
        if self._own_http and self._http is not None:
            self._http.close()

    def check(self, name: str, status: str, detail: str, **data: object) -> Check:
        item = Check(name=name, status=status, detail=detail, data=dict(data))
        self.checks.append(item)
        return item

    def backend_call(self, name: str, call, remedy_hint: str):
        try:
            return call()
        except SkillError as exc:
            self.check(name, "fail", exc.message, code=exc.code)
            raise _Blocked("failed", remedy=exc.remedy or remedy_hint) from exc


def preflight(
    req: PreflightRequest,
    *,
    backend: Backend,
    http: httpx2.Client | None = None,
    env: Mapping[str, str] | None = None,
) -> PreflightResult:
    """Check secrets, registry access, OSMO credentials, pools and the pod template; set the
    ``nvcr_io``/``hf_token`` credentials when needed. Returns a result, never raises for a failed
    check; raises :class:`InputError` only for a workflow that does not exist."""
    explicit_env = env is not None
    env = os.environ if env is None else env
    workflow_file = resolve_workflow_file(req.workflow) if req.workflow else None
    run = _Run(req, backend, http, env)
    try:
        _sequence(run, workflow_file, use_hub=not explicit_env)
        status, remedy, missing, question = "ok", None, [], None
    except _Blocked as blocked:
        status, remedy, missing, question = blocked.status, blocked.remedy, blocked.missing, blocked.question
    finally:
        run.close()
    result = PreflightResult(
        status=status, checks=run.checks, missing=missing, question=question, remedy=remedy,
        pools=run.pools, platforms=run.platforms, notes=run.notes,
    )
    # defence in depth: discovery registered the secrets, so redaction masks them wherever they hid
    return PreflightResult.model_validate(redact_obj(result.model_dump(mode="json")))


def resolve_workflow_file(workflow: str) -> Path:
    """A YAML path, or a flow/workflow name under ``assets/configs/osmo/``."""
    path = expand_user(workflow)
    if path.is_file():
        return path.resolve()
    if _NAME.match(workflow):
        named = workflow_path(ALIASES.get(workflow, workflow))
        if named.is_file():
            return named
        named = workflow_path(workflow)
        if named.is_file():
            return named
    raise InputError(
        f"The workflow {workflow!r} is neither a YAML file nor a known flow.",
        remedy="Pass a flow name such as augmentation_and_al, or the path of an existing workflow YAML.",
        code="not-found",
    )


# --- the sequence ------------------------------------------------------------------------------------


def _sequence(run: _Run, workflow_file: Path | None, *, use_hub: bool) -> None:
    org, team = _ngc_scope(run.env)
    if not (org and team):
        run.notes.append("NGC org/team not set (NGC_ORG/NGC_TEAM): the org/team-scoped NGC REST probe is skipped.")

    creds = run.backend_call("osmo-credentials", run.backend.credentials, "Log in to the backend, then rerun preflight.")
    names = {c.name for c in creds}
    run.check("osmo-credentials", "ok", f"{len(names)} credential(s) listed: {', '.join(sorted(names)) or 'none'}.")

    # a backend that needs no token only names what is found (and registers it for redaction): the token
    # file is read, huggingface_hub (0.1-0.2 s to import and ask) is asked only where a token is needed
    secrets = discover(run.env, use_hub=use_hub and run.backend.requires_secrets)
    if not run.backend.requires_secrets:
        run.check("secrets", "skipped", f"{_secrets_detail(secrets)} The {run.backend.name} backend pulls no images and no gated weights, so no token is required.")
        run.check("registry", "skipped", f"The {run.backend.name} backend pulls no images.")
        _control_plane_stage(run)
        if run.backend.traits.local_engines:
            from skill.engine_choice import local_engines_report

            detail, data = local_engines_report()
            run.check("engines", "ok", detail, **data)
        run.notes.append(f"{run.backend.name} backend: CPU engines, no credentials needed.")
        return
    if "hf_token" not in names and not secrets.hf_token:
        run.check("secrets", "user_input_required",
                  f"{_secrets_detail(secrets)} The backend has no hf_token credential either.", missing=["HF_TOKEN"])
        raise _Blocked("user_input_required", missing=["HF_TOKEN"], question=HF_QUESTION,
                       remedy="Set HF_TOKEN in the environment, then rerun preflight.")
    run.check("secrets", "ok", _secrets_detail(secrets))

    probe_ran = _registry_stage(run, workflow_file, secrets)
    _rest_scope_stage(run, secrets, org, team, registry_ok=probe_ran)
    _hf_stage(run, secrets)
    _credential_stage(run, names, secrets)
    _control_plane_stage(run)
    run.notes.append("nvcr_io credential present in the backend." if run.nvcr_present else
                     "No nvcr_io credential: images are expected to be publicly pullable.")
    run.notes.append("VLM/LLM endpoint keys are not validated here; check the endpoints with nim health.")
    run.notes.append("Ask the user only as a last resort: for a USER_INPUT_REQUIRED secret, an underivable storage prefix, or no ONLINE pool.")


def _secrets_detail(secrets: DiscoveredSecrets) -> str:
    ngc = f"NGC key from {secrets.ngc_source}" if secrets.ngc_key else "no NGC key (optional)"
    hf = f"HF token from {_source_label(secrets.hf_source)}" if secrets.hf_token else "no HF token here"
    return f"{ngc}; {hf}."


def _source_label(source: str | None) -> str:
    if source and "/" in source:
        return "the token file"
    return source or "unknown"


def _registry_stage(run: _Run, workflow_file: Path | None, secrets: DiscoveredSecrets) -> bool:
    """Returns True when at least one image probe passed."""
    if run.req.no_probe:
        run.check("registry", "skipped", "HTTP probes are off (no_probe).")
        run.notes.append("Registry probe skipped (no_probe).")
        return False
    if workflow_file is None:
        run.check("registry", "skipped", "No workflow given: the registry probe is skipped.")
        run.notes.append("Registry probe skipped: pass a workflow to probe its images.")
        return False
    images = nvcr_images(workflow_file.read_text(encoding="utf-8"))
    if not images:
        run.check("registry", "skipped", f"{workflow_file.name} names no nvcr.io image.")
        run.notes.append("Registry probe skipped: no nvcr.io image in the workflow.")
        return False
    probes: list[RegistryProbe] = [probe_image(image, http=run.http, key=secrets.ngc_key) for image in images]
    for probe in probes:
        run.check(f"registry:{probe.image}", probe.outcome, probe.line, http_status=probe.http_status, auth=probe.auth)
    verdict = registry_verdict(probes)
    run.check("registry", verdict.outcome, verdict.message)
    run.notes.append(f"Registry probe ran for {len(probes)} image(s) of {workflow_file.name}.")
    if verdict.outcome == "fail":
        raise _Blocked("failed", remedy=verdict.remedy)
    return any(p.outcome == "ok" for p in probes)


def _rest_scope_stage(run: _Run, secrets: DiscoveredSecrets, org: str | None, team: str | None, *, registry_ok: bool) -> None:
    if run.req.no_probe or not (org and team and secrets.ngc_key):
        return
    url = NGC_SCOPE_URL.format(org=quote(org, safe=""), team=quote(team, safe=""))
    code = http_status(run.http, "GET", url, headers={"Authorization": f"Bearer {secrets.ngc_key}"})
    if code == 200:
        run.check("ngc-rest-scope", "ok", f"The NGC key has REST scope for org {org}, team {team}.", http_status=code)
    elif code in (401, 403):
        tail = " Registry checks passed, so the run continues." if registry_ok else ""
        run.check("ngc-rest-scope", "warn", f"The NGC key lacks REST API scope for org {org}/team {team} (HTTP {code}); "
                  f"this is informational and says nothing about image pulls.{tail}", http_status=code)
    elif code == 0:
        run.check("ngc-rest-scope", "warn", "api.ngc.nvidia.com could not be reached (HTTP 000); informational only.", http_status=code)
    else:
        run.check("ngc-rest-scope", "warn", f"The NGC REST scope probe returned HTTP {code}; informational only.", http_status=code)


def _hf_stage(run: _Run, secrets: DiscoveredSecrets) -> None:
    if run.req.no_probe or not secrets.hf_token:
        return
    code = http_status(run.http, "HEAD", HF_PROBE_URL, headers={"Authorization": f"Bearer {secrets.hf_token}"})
    if code == 200:
        run.check("hf-gated-repos", "ok", "The HF token can read the gated Cosmos repos.", http_status=code)
        return
    if code in (401, 403):
        run.check("hf-gated-repos", "user_input_required",
                  f"Hugging Face refused the gated Cosmos repo (HTTP {code}): the license is not accepted or the token is invalid.",
                  http_status=code, license_pages=[f"https://huggingface.co/{r}" for r in HF_GATED_REPOS])
        raise _Blocked("user_input_required", missing=["HF_TOKEN"], question=LICENSE_QUESTION,
                       remedy="After the user accepts the licenses and shares a valid token, rerun preflight with refresh.")
    if code == 0:
        run.check("hf-gated-repos", "fail", "huggingface.co could not be reached (HTTP 000).", http_status=code)
        raise _Blocked("failed", remedy="Check the network, or rerun preflight with no_probe to skip HTTP probes.")
    run.check("hf-gated-repos", "fail", f"The Hugging Face probe returned HTTP {code}.", http_status=code)
    raise _Blocked("failed", remedy="Retry preflight; if it persists, rerun with no_probe and check the token by hand.")


def _credential_stage(run: _Run, names: set[str], secrets: DiscoveredSecrets) -> None:
    refresh = run.req.refresh
    key = secrets.ngc_key
    run.nvcr_present = "nvcr_io" in names
    if "nvcr_io" not in names and key:
        _set(run, "nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": key}, "created")
        run.nvcr_present = True
    elif "nvcr_io" not in names:
        run.check("credential:nvcr_io", "skipped", "No NGC key and no nvcr_io credential: public image pulls expected.")
    elif refresh or secrets.ngc_user_supplied:
        if key:
            _set(run, "nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": key}, "refreshed")
        else:
            run.check("credential:nvcr_io", "ok", "Kept the existing nvcr_io credential (no NGC key here to refresh it with).")
    else:
        run.check("credential:nvcr_io", "ok", "Kept the existing nvcr_io credential.")

    token = secrets.hf_token
    if "hf_token" not in names:
        # step 3 guarantees a token here
        _set(run, "hf_token", "GENERIC", {"token": token, "HF_TOKEN": token}, "created")
    elif (refresh or secrets.hf_user_supplied) and token:
        _set(run, "hf_token", "GENERIC", {"token": token, "HF_TOKEN": token}, "refreshed")
    else:
        run.check("credential:hf_token", "ok", "Kept the existing hf_token credential.")

    after = run.backend_call("osmo-credentials", run.backend.credentials, "Rerun preflight.")
    if "hf_token" not in {c.name for c in after}:
        run.check("credential:hf_token", "fail", "The hf_token credential is still missing after setting it.")
        raise _Blocked("failed", remedy="Set it by hand (osmo credential set hf_token --type GENERIC --payload-file token=<file> HF_TOKEN=<file>, each file holding only the token) and rerun preflight.")


def _set(run: _Run, name: str, type_: str, payload: dict[str, str], verb: str) -> None:
    run.backend_call(f"credential:{name}", lambda: run.backend.set_credential(name, type_, payload),
                     "Check the backend login and rerun preflight.")
    run.check(f"credential:{name}", "ok", f"The {name} {type_} credential was {verb}.", action=verb)


def _control_plane_stage(run: _Run) -> None:
    pools = run.backend_call("pools", run.backend.pools, "Check the backend login, then rerun preflight.")
    online = [p for p in pools if p.status == "ONLINE"]
    platforms = sorted({label for p in online for label in (p.platforms or ([p.default_platform] if p.default_platform else []))})
    run.pools, run.platforms = online, platforms
    failed_remedy = None
    if not online:
        others = ", ".join(f"{p.name} ({p.status})" for p in pools) or "none"
        run.check("pools", "fail", f"No ONLINE pool (pools seen: {others}).", pools=[p.name for p in pools])
        failed_remedy = "Ask the user which pool to use or to bring one ONLINE (an admin task); nothing can be submitted until then."
    else:
        run.check("pools", "ok", f"ONLINE pool(s): {', '.join(p.name for p in online)}; platforms: {', '.join(platforms) or 'none listed'}.",
                  pools=[p.name for p in online], platforms=platforms)

    try:
        template = run.backend.config_show("POD_TEMPLATE")
    except SkillError as exc:
        run.check("pod-template", "fail", f"POD_TEMPLATE could not be read: {exc.message}", code=exc.code)
        raise _Blocked("failed", remedy=failed_remedy or exc.remedy or "Ask an admin to check `config show POD_TEMPLATE`.") from exc
    text = json.dumps(template)
    if "nvidia.com/gpu" in text or "gpu_toleration" in text:
        run.check("pod-template", "ok", "POD_TEMPLATE carries GPU tolerations/selectors.")
    else:
        run.check("pod-template", "fail", "POD_TEMPLATE mentions neither nvidia.com/gpu nor gpu_toleration: GPU tasks would not schedule.")
        failed_remedy = failed_remedy or "Ask the cluster admin to add GPU tolerations and node selectors to POD_TEMPLATE."
    if failed_remedy:
        raise _Blocked("failed", remedy=failed_remedy)


def _ngc_scope(env: Mapping[str, str]) -> tuple[str | None, str | None]:
    org = env.get("NGC_ORG") or env.get("NGC_CLI_ORG") or None
    team = env.get("NGC_TEAM") or env.get("NGC_CLI_TEAM") or None
    if org and team:
        return org, team
    path = Path(env.get("NGC_CONFIG_FILE") or Path.home() / ".ngc" / "config").expanduser()
    parser = configparser.ConfigParser(interpolation=None)
    try:
        if path.is_file():
            parser.read_string(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, configparser.Error) as exc:
        log.debug("NGC config %s unreadable: %s", path, type(exc).__name__)
        return org, team
    if parser.has_section("CURRENT"):
        section = parser["CURRENT"]
        org = org or (section.get("org") or "").strip().strip("'\"") or None
        team = team or (section.get("team") or "").strip().strip("'\"") or None
    return org, team


# --- presentation for the script and the CLI ----------------------------------------------------------


def format_report(result: PreflightResult) -> tuple[list[str], list[str]]:
    """``(stdout lines, stderr lines)`` in upstream's style: diagnostics on stderr, the ``OK:`` line
    and ``NOTE:`` lines on stdout, ``USER_INPUT_REQUIRED:`` on stderr."""
    err = [f"{c.status.upper()}: {c.name}: {c.detail}" for c in result.checks if c.detail]
    out: list[str] = []
    if result.status == "ok":
        out.append("OK: required secrets valid; OSMO hf_token credential present.")
        out += [f"NOTE: {n}" for n in result.notes]
    elif result.status == "user_input_required":
        if any(c.name == "hf-gated-repos" for c in result.checks):
            err += [f"LICENSE: https://huggingface.co/{repo}" for repo in HF_GATED_REPOS]
            err.append("USER_INPUT_REQUIRED: Confirm HF license acceptance for Cosmos gated repos and provide a valid HF_TOKEN")
        else:
            err.append(f"USER_INPUT_REQUIRED: Provide missing secrets for absent credentials: {' '.join(result.missing)}")
        if result.question:
            err.append(f"ASK: {result.question}")
    else:
        failing = next((c for c in result.checks if c.status == "fail"), None)
        err.append(f"ERROR: preflight failed{': ' + failing.detail if failing else '.'}")
        if result.remedy:
            err.append(f"NEXT: {result.remedy}")
    return out, err

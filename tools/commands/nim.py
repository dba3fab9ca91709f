"""``vda nim health [--vlm-url U] [--llm-url U] [--infra-skill DIR] [--json]``: are the VLM/LLM
endpoints serving? Exit 0 when both are healthy (reuse), 1 when the install command is needed."""

from __future__ import annotations

import argparse

from pydantic import ValidationError

from skill.errors import InputError
from skill.steps.nim import DEFAULT_LLM_URL, DEFAULT_VLM_URL, NimHealthRequest, NimHealthResult, nim_health
from skill.steps.nim_ensure import NimEnsureRequest, NimEnsureResult, nim_ensure
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("nim", help="NIM endpoints: health (read-only), ensure (deploy/repair the allow-list)")
    actions = p.add_subparsers(dest="nim_action", metavar="ACTION", required=True)
    health = actions.add_parser("health", help="check /v1/models and /v1/health/ready of the VLM and LLM endpoints")
    health.add_argument("--vlm-url", default=DEFAULT_VLM_URL, help=f"VLM base URL (default {DEFAULT_VLM_URL})")
    health.add_argument("--llm-url", default=DEFAULT_LLM_URL, help=f"LLM base URL (default {DEFAULT_LLM_URL})")
    health.add_argument("--infra-skill", default=None, help="path of the infrastructure skill, filled into the install command")
    health.add_argument("--timeout", type=float, default=5.0, help="seconds per HTTP request or kubectl call (default 5)")
    health.add_argument("--via", choices=("auto", "kubectl", "http"), default="auto", help="how to look: kubectl (from wherever a kube context reaches the cluster), http, or auto (kubectl first)")
    health.add_argument("--json", action="store_true", help="print the result as JSON")
    health.set_defaults(handler=run)
    ensure = actions.add_parser("ensure", help="deploy or repair exactly qwen3-vl and qwen25-14b with the infrastructure skill's installer (dry run unless --apply)")
    ensure.add_argument("--apply", action="store_true", help="run the installer once (default: show the plan and the command)")
    ensure.add_argument("--infra-skill", default=None, help="path of the infrastructure skill (found beside this skill when omitted)")
    ensure.add_argument("--timeout", type=float, default=4200.0, help="seconds the installer may run (default 4200)")
    ensure.add_argument("--json", action="store_true", help="print the result as JSON")
    ensure.set_defaults(handler=run_ensure)


def run(args: argparse.Namespace) -> int:
    try:
        req = NimHealthRequest(vlm_url=args.vlm_url, llm_url=args.llm_url, infra_skill_dir=args.infra_skill, timeout=args.timeout,
                               via=getattr(args, "via", "auto"))
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        raise InputError(f"Invalid value for {fields or 'an argument'}.", remedy="Pass one URL per flag (no spaces), an absolute --infra-skill folder, and a timeout between 0 and 60 s.") from exc
    result = nim_health(req)
    emit(result, as_json=args.json, text=_text(result))
    return 0 if result.action == "reuse" else 1


def _text(result: NimHealthResult) -> str:
    lines = [f"LOOKED VIA: {', '.join(result.looked_via)}"]
    lines += [f"{'OK' if e.healthy else 'UNHEALTHY'} {e.role}: {e.detail}" for e in result.endpoints]
    lines += [f"[{f.code}] {f.message} Next: {f.remedy}" for f in result.findings]
    lines.append(f"ACTION: {result.action}")
    if result.command:
        lines.append(f"COMMAND: {result.command}")
    lines += [f"NOTE: {n}" for n in result.notes]
    return "\n".join(lines)


def run_ensure(args: argparse.Namespace) -> int:
    """Exit 0 for nothing/wait/would-run/ran, 1 for blocked or failed."""
    try:
        req = NimEnsureRequest(apply=args.apply, infra_skill_dir=args.infra_skill, timeout_s=args.timeout)
    except ValidationError as exc:
        fields = ", ".join(str(e["loc"][0]) for e in exc.errors() if e["loc"])
        raise InputError(f"Invalid value for {fields or 'an argument'}.", remedy="Pass an absolute --infra-skill folder and a timeout between 0 and 7200 s.") from exc
    progress = None if args.json else (lambda line: print(f"... {line}", flush=True))
    result = nim_ensure(req, on_progress=progress)
    emit(result, as_json=args.json, text=_ensure_text(result))
    return 1 if result.outcome in ("blocked", "failed") else 0


def _ensure_text(result: NimEnsureResult) -> str:
    lines = [f"ETA: {result.eta}"]
    lines += [f"{p.service}: {p.step}" + (f" -> {p.after}" if p.after else "") + f" ({p.why})" for p in result.plan]
    lines += [f"[{f.code}] {f.message} Next: {f.remedy}" for f in result.findings]
    if result.command:
        lines.append(f"COMMAND: {result.command}")
    lines.append(f"OUTCOME: {result.outcome}" + (f" (exit {result.exit_code})" if result.exit_code is not None else ""))
    lines += [f"NOTE: {n}" for n in result.notes if not n.startswith(tuple(f"{p.service}:" for p in result.plan))]
    return "\n".join(lines)

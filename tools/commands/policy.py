"""``vda policy``: judge a raw shell command against the rules, or list the rules.

    vda policy check-command --json -- 'osmo workflow submit ... --set a=1 --set b=2'
    vda policy rules [--json]

``check-command`` exits 0 when the command is allowed and 1 when a rule denies it.
"""

from __future__ import annotations

import argparse

from skill.policy import RULES, check_command
from tools.output import emit


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("policy", help="judge a shell command against the rules, or list the rules")
    actions = p.add_subparsers(dest="policy_command", metavar="ACTION", required=True)

    check = actions.add_parser("check-command", help="judge one shell command (exit 0 allowed, 1 denied)")
    check.add_argument("command", nargs="+", help="the command: one quoted string after --, or its words")
    check.add_argument("--external-endpoints-allowed", action="store_true", help="the user explicitly asked for external VLM/LLM endpoints")
    check.add_argument("--demo-override", action="store_true", help="the user explicitly asked for a demo dataset other than the VDA one")
    check.add_argument("--json", action="store_true", help='print {"allowed", "violations"} as JSON')
    check.set_defaults(handler=run)

    rules = actions.add_parser("rules", help="list the rule catalogue")
    rules.add_argument("--json", action="store_true", help="print the catalogue as JSON")
    rules.set_defaults(handler=run)


def run_check_command(args: argparse.Namespace) -> int:
    command: str | list[str] = args.command[0] if len(args.command) == 1 else list(args.command)
    decision = check_command(
        command,
        external_endpoints_allowed=args.external_endpoints_allowed,
        demo_override=args.demo_override,
    )
    lines = ["allowed"] if decision.allowed else [
        f"denied [{v.rule}] {v.message}\n  instead: {v.remedy}" for v in decision.violations
    ]
    emit(decision, as_json=args.json, text="\n".join(lines))
    return 0 if decision.allowed else 1


def run_rules(args: argparse.Namespace) -> int:
    catalogue = [rule.model_dump(mode="json") for rule in RULES.values()]
    text = "\n".join(f"{rule.id:28} [{', '.join(rule.judged_on)}] {rule.text}" for rule in RULES.values())
    emit(catalogue, as_json=args.json, text=text)
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch to the chosen action."""
    return run_check_command(args) if args.policy_command == "check-command" else run_rules(args)

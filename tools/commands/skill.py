"""``vda skill install [--target claude|codex|DIR] [--force] [--link] [--json]``: lay the skill folder
(SKILL.md, references, assets, scripts, evals/evals.json) out as ``<skills dir>/<skill name>/``;
``vda skill validate [DIR] [--json]``: check SKILL.md's frontmatter against the Agent Skills spec
(DIR defaults to this checkout, whose folder name is not checked)."""

from __future__ import annotations

import argparse
from pathlib import Path

from skill.paths import skill_root
from skill.skill_package import install_skill, validate_skill_dir
from tools.output import emit

__all__ = ["add_parser", "run"]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("skill", help="install the skill into an agent's skills folder, or validate SKILL.md")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser("install", help="copy (or --link) the skill folder into an agent's skills directory")
    install.add_argument("--target", default="claude", help="claude (~/.claude/skills, the default), codex (~/.codex/skills), or a skills folder")
    install.add_argument("--force", action="store_true", help="replace an existing folder of that name that this command did not install")
    install.add_argument("--link", action="store_true", help="symlink the entries to this checkout instead of copying them")
    install.add_argument("--json", action="store_true", help="print JSON")
    validate = actions.add_parser("validate", help="check SKILL.md's frontmatter against the Agent Skills spec")
    validate.add_argument("folder", nargs="?", default=None, help="a skill folder (default: this checkout; its folder name is not checked)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.action == "install":
        result = install_skill(skill_root(), args.target, force=args.force, link=args.link)
        emit(result, as_json=args.json, text=f"{result.status}: {result.name} at {result.path} ({result.mode}: {', '.join(result.entries)})")
        return 0
    folder = Path(args.folder).expanduser().resolve() if args.folder else skill_root()
    meta = validate_skill_dir(folder, check_folder_name=args.folder is not None)
    emit(meta, as_json=args.json, text=f"valid: {meta.name} ({folder / 'SKILL.md'})")
    return 0

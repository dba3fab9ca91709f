"""The skill as an Agent Skills package: check SKILL.md's frontmatter against the Agent Skills
specification (the rules ``skills-ref validate`` applies) and lay the skill folder out in an agent's
skills directory.

Spec facts used (agentskills.io, skills-ref's validator): the frontmatter is YAML between ``---``
lines; ``name`` and ``description`` are required; allowed keys are ``name``, ``description``,
``license``, ``allowed-tools``, ``metadata``, ``compatibility``; ``name`` is at most 64 characters
of lowercase letters, digits and hyphens, neither starting nor ending with a hyphen, without
``--``, and equal to the folder's name; ``description`` is non-empty and at most 1024 characters;
``compatibility`` at most 500.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import unicodedata
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel

from skill.errors import InputError, SkillError
from skill.paths import expand_user

__all__ = [
    "ALLOWED_FIELDS", "INSTALL_MARKER", "SKILL_ENTRIES", "InstallResult", "SkillFrontmatter",
    "install_skill", "read_frontmatter", "target_root", "validate_frontmatter", "validate_skill_dir",
]

MAX_NAME = 64
MAX_DESCRIPTION = 1024
MAX_COMPATIBILITY = 500
ALLOWED_FIELDS = frozenset({"name", "description", "license", "allowed-tools", "metadata", "compatibility"})
# what an installed skill folder holds, relative to the checkout (upstream's layout)
SKILL_ENTRIES: tuple[str, ...] = ("SKILL.md", "references", "assets", "scripts", "evals/evals.json")
INSTALL_MARKER = ".vda-skill-install.json"
_AGENT_DIRS = {"claude": Path("~/.claude/skills"), "codex": Path("~/.codex/skills")}


class SkillFrontmatter(BaseModel):
    name: str
    description: str
    fields: list[str]


class InstallResult(BaseModel):
    status: Literal["installed", "updated", "unchanged", "replaced"]
    name: str
    path: str
    mode: Literal["copy", "link"]
    entries: list[str]
    source: str


class SkillInvalid(SkillError):
    default_code = "skill-invalid"


class SkillExists(SkillError):
    default_code = "skill-exists"


def read_frontmatter(skill_md: Path) -> dict[str, Any]:
    """The YAML mapping between the opening and closing ``---`` of ``skill_md``."""
    try:
        text = skill_md.read_text(encoding="utf-8")
    except OSError as exc:
        raise SkillInvalid(f"{skill_md} cannot be read ({exc.strerror}).", remedy="Point at a folder that holds SKILL.md.") from exc
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        raise SkillInvalid(f"{skill_md} does not start with a --- frontmatter line.", remedy="Begin SKILL.md with ---, the YAML frontmatter, and ---.")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise SkillInvalid(f"{skill_md} has no closing --- after its frontmatter.", remedy="Close the frontmatter with a --- line.") from None
    try:
        data = yaml.safe_load("\n".join(lines[1:end]))
    except yaml.YAMLError as exc:
        raise SkillInvalid(f"The frontmatter of {skill_md} is not valid YAML.", remedy=f"Fix the YAML ({type(exc).__name__}).") from exc
    if not isinstance(data, dict):
        raise SkillInvalid(f"The frontmatter of {skill_md} is not a mapping.", remedy="Write name: and description: keys.")
    return data


def validate_frontmatter(data: dict[str, Any], folder_name: str | None = None) -> list[str]:
    """Every way ``data`` breaks the spec (empty: valid). ``folder_name`` also checks name == folder."""
    problems = []
    extra = sorted(str(key) for key in data if key not in ALLOWED_FIELDS)
    if extra:
        problems.append(f"unexpected frontmatter fields {', '.join(extra)} (allowed: {', '.join(sorted(ALLOWED_FIELDS))})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        problems.append("name is missing or empty")
    else:
        name = unicodedata.normalize("NFKC", name.strip())
        if len(name) > MAX_NAME:
            problems.append(f"name has {len(name)} characters (at most {MAX_NAME})")
        if name != name.lower():
            problems.append("name must be lowercase")
        if not all(c.isalnum() or c == "-" for c in name):
            problems.append("name may hold only letters, digits and hyphens")
        if name.startswith("-") or name.endswith("-") or "--" in name:
            problems.append("name must not start or end with a hyphen or hold two in a row")
        if folder_name is not None and unicodedata.normalize("NFKC", folder_name) != name:
            problems.append(f"the folder is named {folder_name!r} but the skill {name!r}")
    description = data.get("description")
    if not isinstance(description, str) or not description.strip():
        problems.append("description is missing or empty")
    elif len(description) > MAX_DESCRIPTION:
        problems.append(f"description has {len(description)} characters (at most {MAX_DESCRIPTION})")
    if "compatibility" in data and (not isinstance(data["compatibility"], str) or len(data["compatibility"]) > MAX_COMPATIBILITY):
        problems.append(f"compatibility must be a string of at most {MAX_COMPATIBILITY} characters")
    tools = data.get("allowed-tools")
    if tools is not None and not (isinstance(tools, str) or (isinstance(tools, list) and all(isinstance(t, str) for t in tools))):
        problems.append("allowed-tools must be a string or a list of strings")
    if "metadata" in data and not isinstance(data["metadata"], dict):
        problems.append("metadata must be a mapping")
    return problems


def validate_skill_dir(folder: Path, *, check_folder_name: bool = True) -> SkillFrontmatter:
    """The frontmatter of ``folder/SKILL.md`` if it meets the spec; else a ``skill-invalid`` error."""
    data = read_frontmatter(folder / "SKILL.md")
    problems = validate_frontmatter(data, folder.name if check_folder_name else None)
    if problems:
        raise SkillInvalid(f"{folder / 'SKILL.md'} breaks the Agent Skills spec: {'; '.join(problems)}.",
                           remedy="Fix the frontmatter (name, description) or install the skill under its own name with vda skill install.")
    return SkillFrontmatter(name=data["name"].strip(), description=data["description"], fields=sorted(map(str, data)))


def target_root(target: str) -> Path:
    """``claude`` -> ~/.claude/skills, ``codex`` -> ~/.codex/skills, anything else is a folder."""
    root = _AGENT_DIRS.get(target, Path(target))
    return expand_user(root).absolute()


def _digest(folder: Path, entries: list[str]) -> str:
    """A hash of the entries' relative paths and bytes (links followed)."""
    h = hashlib.sha256()
    for entry in entries:
        base = folder / entry
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file() and "__pycache__" not in p.parts)
        for path in files:
            h.update(str(path.relative_to(folder)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def _owned_by_us(dest: Path, name: str) -> bool:
    marker = dest / INSTALL_MARKER
    try:
        return json.loads(marker.read_text(encoding="utf-8")).get("name") == name
    except (OSError, ValueError, AttributeError):
        return False


def install_skill(source: Path, target: str, *, force: bool = False, link: bool = False) -> InstallResult:
    """Lay the skill in ``source`` out as ``<target root>/<skill name>/`` (copies, or symlinks with
    ``link``). An existing folder that a previous install of this skill wrote is updated; anything
    else there (another skill, a user's folder, a file) is left alone unless ``force``."""
    source = source.resolve()
    meta = validate_skill_dir(source, check_folder_name=False)
    entries = [e for e in SKILL_ENTRIES if (source / e).exists()]
    dest = target_root(target) / meta.name
    mode: Literal["copy", "link"] = "link" if link else "copy"
    status: Literal["installed", "updated", "unchanged", "replaced"] = "installed"
    if dest.is_symlink() or dest.exists():
        if _owned_by_us(dest, meta.name) and not dest.is_symlink():
            previous = json.loads((dest / INSTALL_MARKER).read_text(encoding="utf-8"))
            if previous.get("digest") == _digest(source, entries) and previous.get("mode") == mode and previous.get("source") == str(source):
                return InstallResult(status="unchanged", name=meta.name, path=str(dest), mode=mode, entries=entries, source=str(source))
            status = "updated"
        elif not force:
            raise SkillExists(f"{dest} already exists and was not installed by vda skill install.",
                              remedy="Pass --force to replace it, or --target another skills folder.")
        else:
            status = "replaced"
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        else:
            shutil.rmtree(dest)
    try:
        dest.mkdir(parents=True)
        for entry in entries:
            src, out = source / entry, dest / entry
            out.parent.mkdir(parents=True, exist_ok=True)
            if link:
                out.symlink_to(src, target_is_directory=src.is_dir())
            elif src.is_dir():
                shutil.copytree(src, out, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(src, out)
        marker = {"name": meta.name, "source": str(source), "mode": mode, "entries": entries, "digest": _digest(source, entries)}
        (dest / INSTALL_MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"The skill could not be written to {dest} ({exc.strerror}).", remedy="Pick a writable --target folder.",
                         code="skill-install-failed") from exc
    validate_skill_dir(dest)  # the installed folder is named like the skill
    return InstallResult(status=status, name=meta.name, path=str(dest), mode=mode, entries=entries, source=str(source))

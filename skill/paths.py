"""Where the skill's own files are: the checkout root (``skills_dir``), assets, references, scripts.

``VDA_SKILL_DIR`` overrides the root (for an installed copy that keeps its assets elsewhere).
``VDA_TRUSTED_SKILLS_DIRS`` (``os.pathsep``-separated) lists further checkouts the operator allows as
``skills_dir``; an agent's argument can name only those or this installation (:func:`trusted_skills_dir`).
"""

from __future__ import annotations

import os
from pathlib import Path

from skill.errors import InputError

TRUSTED_SKILLS_DIRS_ENV = "VDA_TRUSTED_SKILLS_DIRS"

__all__ = ["TRUSTED_SKILLS_DIRS_ENV", "assets_dir", "expand_user", "find_infra_skill", "cookbooks_dir", "references_dir", "scripts_dir", "skill_root", "trusted_skills_dir", "workflow_path", "workspace_dir"]


def expand_user(value: str | os.PathLike[str]) -> Path:
    """``value`` with a leading ``~`` or ``~user`` expanded; a ``~user`` that names no user stays as
    written (so it is reported as a path that does not exist), where ``Path.expanduser`` would raise."""
    return Path(os.path.expanduser(os.fspath(value)))


def skill_root() -> Path:
    """The directory holding SKILL.md, assets/, scripts/: what ``skills_dir`` points at."""
    override = os.environ.get("VDA_SKILL_DIR")
    if override:
        return expand_user(override).resolve()
    return Path(__file__).resolve().parent.parent


def assets_dir() -> Path:
    return skill_root() / "assets"


def cookbooks_dir() -> Path:
    return assets_dir() / "cookbooks"


def references_dir() -> Path:
    return skill_root() / "references"


def scripts_dir() -> Path:
    return skill_root() / "scripts"


def workflow_path(name: str) -> Path:
    """``assets/configs/osmo/<name>.yaml``."""
    return assets_dir() / "configs" / "osmo" / f"{name}.yaml"


def workspace_dir() -> Path:
    """Root for runs, media and the ledger: ``VDA_HOME`` if set, else the checkout itself, so MEDIA
    lines point inside the workspace (``media/vda/runs/<run_id>/``) and state sits in ``.vda/``."""
    override = os.environ.get("VDA_HOME")
    return expand_user(override).resolve() if override else skill_root()


def trusted_skills_dir(value: str | os.PathLike[str] | None) -> Path:
    """The skill checkout a workflow may stage files from: this installation unless the operator
    listed others in ``VDA_TRUSTED_SKILLS_DIRS``.

    Workflows inline or run ``<skills_dir>/scripts/*.sh`` and the engines, so a ``skills_dir`` from
    an agent's argument that pointed at another copy would run that copy's code. ``None`` gives this
    installation; anything else must resolve (symlinks followed) to an allowed folder, or
    :class:`InputError` ``skills-dir-untrusted`` is raised (the value is not echoed)."""
    root = skill_root()
    if value is None or str(value) == "":
        return root
    text = str(value)
    if "\x00" in text or len(text) > 4096 or not os.path.isabs(text):
        raise InputError(
            "skills_dir must be the absolute path of this skill installation.",
            remedy="Leave skills_dir out; it defaults to this installation.",
            code="skills-dir-untrusted",
        )
    given = Path(text).resolve()
    allowed = [root] + [expand_user(p).resolve() for p in os.environ.get(TRUSTED_SKILLS_DIRS_ENV, "").split(os.pathsep) if p.strip()]
    if given not in allowed:
        raise InputError(
            "skills_dir names a folder that is not this skill installation, and its scripts would run in the workflow.",
            remedy=f"Leave skills_dir out (it defaults to this installation); an operator can allow another checkout in {TRUSTED_SKILLS_DIRS_ENV}.",
            code="skills-dir-untrusted",
        )
    return given


def trusted_roots() -> list[Path]:
    """This installation and the skill checkouts the operator listed in ``VDA_TRUSTED_SKILLS_DIRS``."""
    extra = [expand_user(p).resolve() for p in os.environ.get(TRUSTED_SKILLS_DIRS_ENV, "").split(os.pathsep) if p.strip()]
    return [skill_root().resolve(), *extra]


def within_trusted_roots(path: Path) -> bool:
    """Whether ``path`` (symlinks resolved) lies inside a trusted skill checkout."""
    real = path.resolve()
    return any(real == root or root in real.parents for root in trusted_roots())


def _infra_candidates(name: str) -> list[str]:
    return [c for c in (os.environ.get("INFRA_SKILL_DIR"), str(skill_root().parent / name), str(Path.home() / "skills" / name)) if c]


def trusted_infra_skill_dir(value: str | None, name: str, marker: Path) -> Path | None:
    """The infrastructure skill whose installer may run: the one :func:`find_infra_skill` finds
    when ``value`` is None, else ``value`` only if it is one of those places (``$INFRA_SKILL_DIR``,
    beside this skill, ``~/skills/<name>``) or listed in ``VDA_TRUSTED_SKILLS_DIRS``: an argument
    alone cannot make nim_ensure run another folder's ``install.sh``. Raises ``infra-skill-untrusted``
    without echoing the value."""
    if value is None:
        return find_infra_skill(name, marker)
    extra = [p for p in os.environ.get(TRUSTED_SKILLS_DIRS_ENV, "").split(os.pathsep) if p.strip()]
    allowed = {expand_user(c).resolve() for c in (*_infra_candidates(name), *extra)}
    given = Path(value).resolve()
    if given not in allowed:
        raise InputError(
            "infra_skill_dir names a folder that is not the infrastructure skill this installation uses, and its installer would run.",
            remedy=f"Leave infra_skill_dir out (it is found beside this skill or in $INFRA_SKILL_DIR); an operator can allow another in {TRUSTED_SKILLS_DIRS_ENV}.",
            code="infra-skill-untrusted",
        )
    return given


def find_infra_skill(name: str, marker: Path) -> Path | None:
    """The sibling infrastructure skill: ``$INFRA_SKILL_DIR``, else ``<name>`` beside this skill, else
    under ``~/skills``; the first that holds ``marker`` (a relative file path), or ``None``."""
    for candidate in _infra_candidates(name):
        if (Path(candidate) / marker).is_file():
            return Path(candidate)
    return None

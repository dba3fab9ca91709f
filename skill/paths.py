"""Where the skill's own files are: the checkout root (``skills_dir``), assets, references, scripts.

``VDA_SKILL_DIR`` overrides the root (for an installed copy that keeps its assets elsewhere).
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["assets_dir", "cookbooks_dir", "references_dir", "scripts_dir", "skill_root", "workflow_path", "workspace_dir"]


def skill_root() -> Path:
    """The directory holding SKILL.md, assets/, scripts/: what ``skills_dir`` points at."""
    override = os.environ.get("VDA_SKILL_DIR")
    if override:
        return Path(override).expanduser().resolve()
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
    return Path(override).expanduser().resolve() if override else skill_root()

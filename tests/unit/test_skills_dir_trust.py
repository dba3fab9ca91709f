"""``skills_dir`` is trusted input only when it is this installation (or a checkout the operator
listed in VDA_TRUSTED_SKILLS_DIRS): workflows run ``<skills_dir>/scripts/*.sh``, so an agent that
pointed it at an edited copy would run that copy's code. Checked at the step, so MCP, the CLI and the
agent are all covered; the value is never echoed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from mcp import Client

from skill.errors import InputError
from skill.ledger import Ledger
from skill.paths import TRUSTED_SKILLS_DIRS_ENV, skill_root, trusted_skills_dir
from skill.steps.guard import canonical_pairs
from tests.fakes.backend import FakeBackend
from tools.mcp_server import build_server

STORAGE = "s3://bkt/p"
VALUES = {
    "flow": "augmentation_and_al", "dataset": "ds", "storage_url": STORAGE, "gpu_platform": "gpu", "video": "clip",
    "cosmos_model_cache_url": f"{STORAGE}/data/models/cosmos_transfer",
    "auto_labeling_model_cache_url": f"{STORAGE}/data/models/auto_labeling",
}


@pytest.fixture
def copy_of_skill(tmp_path: Path) -> Path:
    """A copy of the skill with one edited script, as an attacker would prepare it."""
    root = tmp_path / "evil-skill"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(skill_root() / "SKILL.md", root / "SKILL.md")
    (root / "scripts" / "setup_task.sh").write_text("touch /tmp/pwned\n", encoding="utf-8")
    return root


def test_default_and_the_installation_itself_are_trusted():
    assert trusted_skills_dir(None) == skill_root()
    assert trusted_skills_dir(str(skill_root())) == skill_root()
    assert canonical_pairs({"dataset": "ds"})["skills_dir"] == str(skill_root())


@pytest.mark.parametrize(
    "value",
    ["COPY", "relative/skill", "COPY/../evil-skill", "/etc", "/", "x\x00y", "/" + "a" * 5000, "LINK"],
)
def test_anything_else_is_refused_without_echoing_it(value: str, copy_of_skill: Path, tmp_path: Path):
    link = tmp_path / "link-to-copy"
    link.symlink_to(copy_of_skill)
    value = value.replace("COPY", str(copy_of_skill)).replace("LINK", str(link))
    with pytest.raises(InputError) as err:
        trusted_skills_dir(value)
    assert err.value.code == "skills-dir-untrusted" and err.value.remedy
    assert str(copy_of_skill) not in str(err.value) and "evil" not in str(err.value)


def test_a_symlink_to_the_installation_is_the_installation(tmp_path: Path):
    link = tmp_path / "skill-link"
    link.symlink_to(skill_root())
    assert trusted_skills_dir(str(link)) == skill_root()


def test_the_operator_can_allow_another_checkout(copy_of_skill: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(TRUSTED_SKILLS_DIRS_ENV, str(copy_of_skill))
    assert trusted_skills_dir(str(copy_of_skill)) == copy_of_skill.resolve()


def test_submit_step_refuses_a_foreign_skills_dir(copy_of_skill: Path, tmp_path: Path):
    from skill.steps.submit import SubmitRequest, submit

    fake = FakeBackend()
    req = SubmitRequest(**VALUES, run_id="run-1a2b3c4d", skills_dir=str(copy_of_skill))
    with Ledger(tmp_path / "ledger.sqlite") as ledger, pytest.raises(InputError) as err:
        submit(req, backend=fake, ledger=ledger)
    assert err.value.code == "skills-dir-untrusted"
    assert fake.calls == []


@pytest.mark.anyio
async def test_mcp_guard_refuses_a_foreign_skills_dir(copy_of_skill: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    fake = FakeBackend(objects={f"{STORAGE}/datasets/ds/clip.mp4": b"v"})
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        async with Client(build_server(backend=fake, ledger=ledger)) as client:
            result = await client.call_tool("pre_submit_guard", {"req": {**VALUES, "skills_dir": str(copy_of_skill)}})
    text = " ".join(getattr(block, "text", "") for block in result.content)
    assert result.is_error and "[skills-dir-untrusted]" in text, text
    assert str(copy_of_skill) not in text

"""SKILL.md against the Agent Skills spec, and ``vda skill install`` laying the folder out under the
skill's name without clobbering another skill."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from skill.errors import SkillError
from skill.skill_package import INSTALL_MARKER, install_skill, read_frontmatter, target_root, validate_frontmatter, validate_skill_dir
from tools.cli import main

ROOT = Path(__file__).resolve().parents[2]
NAME = "physical-ai-video-data-augmentation"  # what upstream's eval and the validators expect


def write_skill(folder: Path, frontmatter: str, body: str = "# A skill\n\nDo the thing.\n") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "SKILL.md").write_text(f"---\n{frontmatter}\n---\n\n{body}", encoding="utf-8")
    return folder


def test_our_skill_md_meets_the_spec_under_the_expected_name():
    meta = validate_skill_dir(ROOT, check_folder_name=False)
    assert meta.name == NAME
    assert validate_frontmatter(read_frontmatter(ROOT / "SKILL.md"), NAME) == []
    assert 50 < len(meta.description) <= 1024 and "Use when" in meta.description


@pytest.mark.parametrize(("frontmatter", "problem"), [
    ("name: Video-Aug\ndescription: d", "lowercase"),
    ("name: -video\ndescription: d", "hyphen"),
    ("name: video--aug\ndescription: d", "two in a row"),
    ("name: video_aug\ndescription: d", "letters, digits and hyphens"),
    (f"name: {'a' * 65}\ndescription: d", "at most 64"),
    ("name: video\ndescription: ''", "description is missing"),
    (f"name: video\ndescription: {'x' * 1025}", "at most 1024"),
    ("description: d", "name is missing"),
    ("name: video\ndescription: d\nversion: 1.0.0", "unexpected frontmatter fields version"),
    ("name: video\ndescription: d\nallowed-tools: 3", "allowed-tools"),
])
def test_frontmatter_rules(tmp_path: Path, frontmatter: str, problem: str):
    folder = write_skill(tmp_path / "video", frontmatter)
    problems = validate_frontmatter(read_frontmatter(folder / "SKILL.md"), folder.name)
    assert any(problem in p for p in problems), problems
    with pytest.raises(SkillError) as caught:
        validate_skill_dir(folder)
    assert caught.value.code == "skill-invalid"


def test_folder_name_must_match_and_unicode_letters_are_allowed(tmp_path: Path):
    assert validate_frontmatter({"name": "vidéo", "description": "d"}, "vidéo") == []
    assert any("folder is named" in p for p in validate_frontmatter({"name": "video", "description": "d"}, "main"))


@pytest.mark.parametrize("text", ["name: x\n", "---\nname: [\n---\n", "---\n- a\n---\n", "---\nname: x\n"])
def test_broken_frontmatter_is_a_coded_error(tmp_path: Path, text: str):
    (tmp_path / "SKILL.md").write_text(text, encoding="utf-8")
    with pytest.raises(SkillError) as caught:
        read_frontmatter(tmp_path / "SKILL.md")
    assert caught.value.code == "skill-invalid" and caught.value.remedy


def test_install_copies_the_skill_under_its_name_and_is_idempotent(tmp_path: Path):
    result = install_skill(ROOT, str(tmp_path / "skills"))
    dest = tmp_path / "skills" / NAME
    assert result.status == "installed" and Path(result.path) == dest
    assert (dest / "SKILL.md").read_bytes() == (ROOT / "SKILL.md").read_bytes()
    assert (dest / "references" / "setup.md").is_file() and (dest / "assets" / "configs" / "osmo").is_dir()
    assert json.loads((dest / "evals" / "evals.json").read_text()) == EVALS and not (dest / "evals" / "replay.py").exists()
    assert not any(p.name == "__pycache__" for p in dest.rglob("*"))
    validate_skill_dir(dest)  # folder name == skill name
    assert install_skill(ROOT, str(tmp_path / "skills")).status == "unchanged"
    (dest / "SKILL.md").write_text("edited by hand", encoding="utf-8")
    marker = json.loads((dest / INSTALL_MARKER).read_text())
    marker["digest"] = "stale"
    (dest / INSTALL_MARKER).write_text(json.dumps(marker))
    assert install_skill(ROOT, str(tmp_path / "skills")).status == "updated"
    assert (dest / "SKILL.md").read_bytes() == (ROOT / "SKILL.md").read_bytes()


def test_install_never_overwrites_another_skill_without_force(tmp_path: Path):
    theirs = write_skill(tmp_path / "skills" / NAME, f"name: {NAME}\ndescription: someone else's skill")
    (theirs / "notes.md").write_text("mine", encoding="utf-8")
    with pytest.raises(SkillError) as caught:
        install_skill(ROOT, str(tmp_path / "skills"))
    assert caught.value.code == "skill-exists" and "--force" in caught.value.remedy
    assert (theirs / "notes.md").read_text() == "mine" and "someone else's" in (theirs / "SKILL.md").read_text()
    result = install_skill(ROOT, str(tmp_path / "skills"), force=True)
    assert result.status == "replaced" and not (theirs / "notes.md").exists()


def test_install_by_link_points_into_the_checkout(tmp_path: Path):
    result = install_skill(ROOT, str(tmp_path), link=True)
    dest = Path(result.path)
    assert result.mode == "link" and (dest / "SKILL.md").is_symlink() and (dest / "SKILL.md").resolve() == ROOT / "SKILL.md"
    assert install_skill(ROOT, str(tmp_path), link=True).status == "unchanged"
    assert install_skill(ROOT, str(tmp_path)).status == "updated"  # link -> copy
    assert not (dest / "SKILL.md").is_symlink()


def test_named_targets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setenv("HOME", str(tmp_path))
    assert target_root("claude") == tmp_path / ".claude" / "skills"
    assert target_root("codex") == tmp_path / ".codex" / "skills"
    assert target_root(str(tmp_path / "x")) == tmp_path / "x"


def test_cli_install_and_validate(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert main(["skill", "install", "--target", str(tmp_path), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["status"] == "installed" and out["name"] == NAME
    assert main(["skill", "validate", out["path"], "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["name"] == NAME
    assert main(["skill", "validate", str(ROOT)]) == 1  # the checkout's folder is not named like the skill
    assert "[skill-invalid]" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("agentskills") is None, reason="skills-ref's agentskills CLI is not installed (pip install skills-ref)")
def test_skills_ref_accepts_the_installed_folder(tmp_path: Path):
    dest = install_skill(ROOT, str(tmp_path)).path
    proc = subprocess.run(["agentskills", "validate", dest], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# --- evals/evals.json: upstream's (NVSkills-Eval) case format, our routing and behaviour cases -------

EVALS = json.loads((ROOT / "evals" / "evals.json").read_text(encoding="utf-8"))
ROUTED = {  # case id -> the flow select_flow must pick for its question (None: not a run request)
    "vda-auto-labeling-only-positive": "auto_labeling",
    "vda-augmentation-and-al-positive": "augmentation_and_al",
    "vda-e2e-parallel-positive": "e2e",
    "vda-e2e-super-resolution-positive": "e2e_super_resolution",
    "vda-local-file-upload-positive": "augmentation_and_al",
    "vda-cosmos-tuning-only-negative": None,
    "vda-unrelated-vision-negative": None,
    "vda-demo-no-dataset-positive": "augmentation_and_al",
}
KNOWN_MISSES: dict[str, str] = {}


def test_evals_json_has_upstreams_case_format():
    keys = {"id", "question", "expected_skill", "expected_script", "ground_truth", "expected_behavior"}
    assert isinstance(EVALS, list) and len(EVALS) >= 10
    assert len({case["id"] for case in EVALS}) == len(EVALS)
    for case in EVALS:
        assert set(case) == keys, case["id"]
        assert case["expected_skill"] in (NAME, None) and case["question"].strip() and case["ground_truth"].strip()
        assert case["expected_behavior"] and all(isinstance(b, str) and b for b in case["expected_behavior"])
    assert {case["expected_skill"] for case in EVALS} == {NAME, None}  # positives and negatives
    assert set(ROUTED) <= {case["id"] for case in EVALS}


@pytest.mark.parametrize("case_id", sorted(ROUTED))
def test_evals_routing_cases_match_select_flow(case_id: str, request: pytest.FixtureRequest):
    from skill.flows import route

    if case_id in KNOWN_MISSES:
        request.applymarker(pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[case_id]))
    case = next(c for c in EVALS if c["id"] == case_id)
    assert route(case["question"], backend="osmo").flow == ROUTED[case_id]
    assert (case["expected_skill"] is None) == (ROUTED[case_id] is None)

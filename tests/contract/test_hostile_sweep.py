"""Every MCP tool, every text argument, under hostile values (issue 14), through a real MCP client.

Each value carries a marker. Whatever a tool answers, no traceback comes back; a refusal is an
is-error result whose every error has a code and which never quotes a value that is not plain
(skill.echo: control characters, line breaks, shell or template syntax, traversal, over 200
characters) nor the secret; a success never shows the secret; and no injected command ran, nothing
was written outside the test's own folder. The steps behind the tools are real, over both the in-memory double and the real local
backend (whose storage is the disk); the two network edges (Hugging Face, the NIM endpoints) point at
a closed loopback port.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from skill.backends.local import LocalBackend
from skill.ledger import Ledger
from skill.steps import demo
from tests.fakes.backend import FakeBackend
from tools.mcp_server import build_server
from tools.tool_table import TOOLS

MARK = "canary-5d1c"
SECRET = "nvapi-" + "Q7x2" * 12
STORAGE = "s3://bkt/p"
RUN_ID = "run-1a2b3c4d"
CLOSED = "http://127.0.0.1:9/v1"  # discard port: nothing listens, refused at once
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00" * 64


def hostile(touch: Path) -> dict[str, str]:
    return {
        "traversal": f"../../{MARK}",
        "absolute": f"/etc/{MARK}",
        "nul": f"{MARK}\x00x",
        "control": f"{MARK}\x1b[2J\r",
        "huge": MARK + "x" * 1_000_000,
        "substitution": f"$(touch {touch})",
        "semicolon": f"x; touch {touch}",
        "backtick": f"`touch {touch}`",
        "newline": f"x\ntouch {touch}",
        "jinja": "{{ " + MARK + " }}{% raw %}",
        "secret": SECRET,
    }


def quoted(value: str, text: str) -> bool:
    """Whether ``text`` repeats ``value``: its first 12 characters, as given or escaped, in any case
    (a remedy may still name a clean value derived from it, such as the basename of a path)."""
    text = text.lower()
    return any(form[:12].lower() in text for form in (value, repr(value)[1:-1]))


def base_arguments(videos: Path, run_dir: Path) -> dict[str, dict[str, Any]]:
    """A well-formed call of each tool; one argument at a time is then replaced."""
    values = {"flow": "augmentation_and_al", "dataset": "vda-demo", "run_id": RUN_ID, "storage_url": STORAGE, "gpu_platform": "gpu",
              "video": "clip", "cosmos_model_cache_url": f"{STORAGE}/data/models/cosmos_transfer",
              "auto_labeling_model_cache_url": f"{STORAGE}/data/models/auto_labeling"}
    return {
        "select_flow": {"text": "augment my clips"},
        "preflight": {"workflow": "augmentation_and_al", "no_probe": True},
        "prepare_demo_assets": {"retries": 0, "timeout_s": 2},
        "upload_dataset": {"folder": str(videos), "storage_url": STORAGE, "name": "clips"},
        "pre_submit_guard": dict(values),
        "setup_model_cache": {"storage_url": STORAGE, "path": "data"},
        "submit": dict(values),
        "poll": {"workflow_id": "vda-demo-1"},
        "get_logs": {"workflow_id": "vda-demo-1"},
        "stage_artifacts": {"storage_url": STORAGE, "dataset": "vda-demo", "run_id": RUN_ID, "video": "clip"},
        "render_side_by_side": {"run_local_dir": str(run_dir), "dataset": "vda-demo", "video": "clip"},
        "nim_health": {"vlm_url": CLOSED, "llm_url": CLOSED, "timeout": 1, "via": "http"},
        "nim_ensure": {},
    }


def text_arguments(tool_name: str) -> list[str]:
    """The arguments of a tool whose values are text (what an agent can put anything into)."""
    spec = next(t for t in TOOLS if t.name == tool_name)
    fields = spec.request.model_json_schema().get("properties", {})

    def takes_text(prop: dict[str, Any]) -> bool:
        arms = prop.get("anyOf", [prop])
        return any(arm.get("type") == "string" for arm in arms)

    return sorted(name for name, prop in fields.items() if takes_text(prop))


CASES = [(tool.name, field) for tool in TOOLS for field in text_arguments(tool.name)]


@pytest.fixture(scope="module", params=["double", "local"])
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp(f"sweep-{request.param}")
    patch = pytest.MonkeyPatch()
    patch.setenv("VDA_HOME", str(root / "home"))
    patch.delenv("VDA_OUTPUT_ROOTS", raising=False)
    patch.delenv("VDA_TRUSTED_SKILLS_DIRS", raising=False)
    patch.setenv("NGC_API_KEY", SECRET)  # a real secret in the environment: it must never come back either
    patch.setattr(demo, "HF_ENDPOINT", "http://127.0.0.1:9")
    patch.chdir(root)
    videos = root / "videos"
    videos.mkdir()
    (videos / "clip.mp4").write_bytes(MP4)
    run_dir = root / "home" / "media" / "vda" / "runs" / RUN_ID
    (run_dir / "input").mkdir(parents=True)
    out = f"{STORAGE}/datasets/vda-demo-outputs/{RUN_ID}"
    objects = {f"{STORAGE}/datasets/vda-demo/clip.mp4": MP4, f"{out}/outputs/augmented/clip_aug0/augmented_video.mp4": MP4}
    if request.param == "double":
        backend = FakeBackend(objects=objects, logs={"vda-demo-1": "step 1\nstep 2\n"})
    else:
        backend = LocalBackend(root / "backend")
        for url, data in objects.items():
            target = backend.storage.path(url)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    ledger = Ledger(root / "ledger.sqlite")
    yield root, backend, ledger, base_arguments(videos, run_dir), root / f"touched-{MARK}"
    ledger.close()
    patch.undo()


def _outside_entries() -> set[str]:
    """Entries named with the marker in the places a traversal or absolute path would reach."""
    places = [Path("/etc"), Path("/tmp"), Path.cwd().parent, Path.cwd().parent.parent]
    found = set()
    for place in places:
        try:
            found |= {str(p) for p in place.iterdir() if MARK in p.name}
        except OSError:
            continue
    return found


@pytest.mark.anyio
@pytest.mark.parametrize(("tool", "field"), CASES, ids=[f"{t}.{f}" for t, f in CASES])
async def test_a_hostile_text_argument_gets_a_coded_answer_and_changes_nothing_outside(tool: str, field: str, world):
    root, backend, ledger, bases, touch = world
    before = _outside_entries()
    async with Client(build_server(backend=backend, ledger=ledger), raise_exceptions=False) as client:
        for kind, value in hostile(touch).items():
            result = await client.call_tool(tool, {**bases[tool], field: value})
            text = "\n".join(getattr(block, "text", "") for block in result.content)
            where = f"{tool}.{field}={kind}"
            assert "Traceback" not in text, where
            assert SECRET not in text and SECRET not in str(result.structured_content), where
            if result.is_error:
                errors = (result.structured_content or {}).get("errors", [])
                assert errors and all(e.get("code") for e in errors), (where, text[:300])
                if kind != "absolute":  # a plain value may be quoted back; every other kind may not
                    assert not quoted(value, text + str(result.structured_content)), (where, text[:300])
                assert len(text) < 4000, where
    assert not touch.exists(), "an injected command ran"
    assert _outside_entries() == before, "something was written outside the test's folder"
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"*{MARK}*"))

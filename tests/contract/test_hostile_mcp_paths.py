"""Hostile paths over MCP: stage_artifacts and render_side_by_side refuse every write outside an
output root and every input that is not a video, as a coded is-error result that does not echo the
value (issue 14), through a real MCP client."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from skill.ledger import Ledger
from tests.fakes.backend import FakeBackend
from tools.mcp_server import build_server

MARK = "canary-7f3e"
STORAGE = "s3://bkt/p"
RUN_ID = "run-1a2b3c4d"
OUT = f"{STORAGE}/datasets/vda-demo-outputs/{RUN_ID}"
MP4 = b"\x00\x00\x00\x18ftypisom" + b"\x00" * 32


@pytest.fixture
def server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("VDA_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VDA_OUTPUT_ROOTS", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "outside").mkdir()
    backend = FakeBackend(objects={f"{OUT}/outputs/augmented/clip_aug0/a.mp4": MP4, f"{STORAGE}/datasets/vda-demo/clip.mp4": MP4})
    ledger = Ledger(tmp_path / "ledger.sqlite")
    yield build_server(backend=backend, ledger=ledger), backend
    ledger.close()


CASES = [
    ("stage_artifacts", {"run_local_dir": f"../../{MARK}"}),
    ("stage_artifacts", {"run_local_dir": f"/tmp/{MARK}/run"}),
    ("stage_artifacts", {"run_local_dir": f"/tmp/{MARK}\x00"}),
    ("stage_artifacts", {"run_local_dir": "/" + MARK + "x" * 1_000_000}),
    ("stage_artifacts", {"input_local_video": "/etc/passwd"}),
    ("render_side_by_side", {"run_local_dir": f"/etc/{MARK}"}),
    ("render_side_by_side", {"run_local_dir": f"../{MARK}"}),
]


@pytest.mark.anyio
@pytest.mark.parametrize("tool,extra", CASES)
async def test_mcp_refuses_hostile_paths(tool: str, extra: dict, server, tmp_path: Path):
    built, backend = server
    base = {"dataset": "vda-demo", "video": "clip"}
    if tool == "stage_artifacts":
        base |= {"storage_url": STORAGE, "run_id": RUN_ID}
    async with Client(built) as client:
        result = await client.call_tool(tool, base | extra)
    text = "\n".join(getattr(block, "text", "") for block in result.content)
    assert result.is_error, text
    assert MARK not in text and "Traceback" not in text and len(text) < 2000
    codes = [e.get("code") for e in (result.structured_content or {}).get("errors", [])]
    assert codes and all(codes), result.structured_content
    assert set(codes) <= {"path-outside-run-root", "unsafe-path", "not-a-video", "path-symlink"}, codes  # refused by skill.confine
    assert "data_download" not in backend.calls
    assert not any((tmp_path / "outside").iterdir()) and not Path(f"/tmp/{MARK}").exists()

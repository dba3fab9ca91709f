"""Third-party MCP clients drive ``vda mcp``: the official TypeScript SDK (stdio and streamable HTTP,
its default 60 s request timeout) and the MCP Inspector CLI 0.15 (one process per call; 0.16+ and
2.x need node 22).

The npm packages are pinned in ``tests/clients/ts/package.json`` + ``package-lock.json`` and are
installed OUTSIDE the tests (these tests never download):

    mkdir -p ~/.cache/vda-skill/clients-ts && cp tests/clients/ts/package*.json ~/.cache/vda-skill/clients-ts/
    (cd ~/.cache/vda-skill/clients-ts && npm ci --no-audit --no-fund)

``.ci/run`` does that when npm is present. ``VDA_TS_CLIENT_DIR`` points elsewhere. Without node or
the installed packages the tests skip and say why.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from skill.engines.synthetic import make_scene

ROOT = Path(__file__).resolve().parents[2]
CLIENT_SRC = ROOT / "tests" / "clients" / "ts"
CACHE = Path(os.environ.get("VDA_TS_CLIENT_DIR", Path.home() / ".cache" / "vda-skill" / "clients-ts")).expanduser()
MODULES = CACHE / "node_modules"
NODE = shutil.which("node")
PINNED: dict[str, str] = json.loads((CLIENT_SRC / "package.json").read_text())["dependencies"]


def _installed_version(package: str) -> str | None:
    manifest = MODULES / package / "package.json"
    return json.loads(manifest.read_text()).get("version") if manifest.is_file() else None


def _skip_reason() -> str | None:
    if NODE is None:
        return "node is not on PATH (the TypeScript client needs node 20+)"
    stale = [f"{name} {_installed_version(name)} (pinned {want})" for name, want in PINNED.items() if _installed_version(name) != want]
    if stale:
        return f"npm packages not installed in {CACHE} as pinned: {', '.join(stale)}; install them with the commands in this module's docstring (or .ci/run)"
    return None


pytestmark = pytest.mark.skipif(_skip_reason() is not None, reason=_skip_reason() or "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_env(root: Path) -> dict[str, str]:
    """The server's environment: its own home and local backend root, no secrets of ours."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_TOKEN", "_KEY", "_API_KEY"))}
    env.update(VDA_HOME=str(root / "home"), VDA_LOCAL_ROOT=str(root / "be"), HF_TOKEN_FILE=str(root / "no-token-file"), PYTHONUNBUFFERED="1")
    return env


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """client.mjs next to a node_modules link (ESM resolves packages from the script's folder) and one clip."""
    root = tmp_path_factory.mktemp("ts-client")
    shutil.copy(CLIENT_SRC / "client.mjs", root / "client.mjs")
    (root / "node_modules").symlink_to(MODULES, target_is_directory=True)
    make_scene(root / "clips" / "street.mp4", width=320, height=180, seconds=2)
    return root


def run_client(workdir: Path, root: Path, mode: str, extra: list[str], env: dict[str, str]) -> dict[str, Any]:
    argv = [NODE or "node", str(workdir / "client.mjs"), mode, "--clips", str(workdir / "clips"), "--storage", str(root / "be" / "storage" / "local"), *extra]
    proc = subprocess.run(argv, cwd=workdir, env=env, capture_output=True, text=True, timeout=300)
    lines = proc.stdout.strip().splitlines()
    report = json.loads(lines[-1]) if lines else {"error": "no output"}
    assert proc.returncode == 0 and "error" not in report, f"{report.get('error')}\nstderr:\n{proc.stderr[-3000:]}"
    return report


@pytest.fixture(scope="module")
def http_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """``vda mcp --http`` as a real subprocess on a free port."""
    root = tmp_path_factory.mktemp("ts-http")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tools.cli", "mcp", "--backend", "local", "--http", f"127.0.0.1:{port}"],
        cwd=ROOT, env=server_env(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert proc.poll() is None, f"vda mcp --http exited: {proc.stderr.read() if proc.stderr else ''}"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                assert time.monotonic() < deadline, "vda mcp --http did not listen within 30 s"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/mcp", root
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


_reports: dict[str, dict[str, Any]] = {}


@pytest.fixture(params=["stdio", "http"])
def report(request: pytest.FixtureRequest, workdir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One whole client session per transport (run once, shared by the tests below)."""
    mode = request.param
    if mode not in _reports:
        if mode == "stdio":
            root = tmp_path_factory.mktemp("ts-stdio")
            command = [sys.executable, "-m", "tools.cli", "mcp", "--backend", "local"]
            env = {**server_env(root), "PYTHONPATH": str(ROOT)}
            _reports[mode] = run_client(workdir, root, "stdio", ["--", *command], env)
        else:
            url, root = request.getfixturevalue("http_url")
            _reports[mode] = run_client(workdir, root, "http", ["--url", url], server_env(root))
    return _reports[mode]


def test_ts_sdk_lists_tools_whose_schemas_validate(report: dict[str, Any]):
    tools = report["tools"]
    assert "select_flow" in tools and "render_side_by_side" in tools and len(tools) >= 12
    assert report["schemas_compiled"] == 2 * len(tools)  # every inputSchema and outputSchema, draft 2020-12 meta-schema + ajv compile
    assert report["instructions"] and report["server"]["name"] == "vda-skill"


def test_ts_sdk_runs_a_whole_local_job_with_default_timeouts(report: dict[str, Any]):
    names = [call["name"] for call in report["calls"]]
    assert names[0] == "select_flow" and names[-1] == "render_side_by_side"
    assert {"preflight", "upload_dataset", "pre_submit_guard", "submit", "poll", "stage_artifacts"} <= set(names)
    assert not any(call["isError"] for call in report["calls"])
    assert all(call["ms"] < 60_000 for call in report["calls"])  # each call fits the SDK's default request timeout
    assert report["progress"] > 0  # progress notifications reached the client
    assert Path(report["media"]).is_file() and report["media"].endswith(".mp4")


def test_ts_sdk_sees_the_rule_id_of_a_denial_in_structured_content(report: dict[str, Any]):
    assert "vda-demo-only" in report["denial"]["rules"] and report["denial"]["in_text"]


def test_ts_sdk_call_tool_accepts_a_structured_denial(report: dict[str, Any]):
    assert report["denial"]["call_tool"] == "ok", report["denial"]["call_tool"]



# --- MCP Inspector CLI: one process per call ----------------------------------------------------


INSPECTOR = MODULES / ".bin" / "mcp-inspector"
ACTIVE = {"PENDING", "RUNNING", "WAITING"}


def inspector(target: list[str], env: dict[str, str], method: str, tool: str | None = None, **args: Any) -> dict[str, Any]:
    """``mcp-inspector --cli TARGET --method METHOD [--tool-name T --tool-arg k=v ...]``, its JSON answer."""
    argv = [str(INSPECTOR), "--cli", *target, "--method", method]
    if tool is not None:
        argv += ["--tool-name", tool]
    for key, value in args.items():
        argv += ["--tool-arg", f"{key}={value if isinstance(value, str) else json.dumps(value)}"]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"inspector {method} {tool or ''} failed: {(proc.stdout + proc.stderr)[-1500:]}"
    return json.loads(proc.stdout)


def test_inspector_cli_lists_tools_and_selects_a_flow_over_stdio(tmp_path: Path):
    target = [sys.executable, "-m", "tools.cli", "mcp", "--backend", "local"]
    env = {**server_env(tmp_path), "PYTHONPATH": str(ROOT)}
    listed = inspector(target, env, "tools/list")
    assert {"select_flow", "preflight", "render_side_by_side"} <= {tool["name"] for tool in listed["tools"]}
    chosen = inspector(target, env, "tools/call", "select_flow", text="augment my videos in /data/clips")
    assert not chosen.get("isError") and chosen["structuredContent"]["flow"] == "augmentation_and_al"


def test_inspector_cli_lists_tools_over_streamable_http(http_url: tuple[str, Path]):
    url, root = http_url
    listed = inspector([url], server_env(root), "tools/list")
    assert "submit" in {tool["name"] for tool in listed["tools"]}
    chosen = inspector([url], server_env(root), "tools/call", "select_flow", text="label these clips")
    assert not chosen.get("isError") and chosen["structuredContent"]["flow"]


def test_inspector_cli_one_process_per_call_runs_a_whole_local_job(workdir: Path, tmp_path: Path):
    target = [sys.executable, "-m", "tools.cli", "mcp", "--backend", "local"]
    env = {**server_env(tmp_path), "PYTHONPATH": str(ROOT)}
    storage, clips, flow = str(tmp_path / "be" / "storage" / "local"), str(workdir / "clips"), "augmentation_and_al"

    def ok(tool: str, **args: Any) -> dict[str, Any]:
        result = inspector(target, env, "tools/call", tool, **args)
        assert not result.get("isError"), f"{tool}: {result['content'][0]['text'][:500]}"
        return result["structuredContent"]

    def wait(workflow_id: str) -> str:
        for _ in range(40):
            status = ok("poll", workflow_id=workflow_id, wait=True, interval_s=1, max_interval_s=2)["status"]
            if status not in ACTIVE:
                return status
        raise AssertionError(f"{workflow_id} still running after 40 polls")

    assert ok("select_flow", text=f"augment my videos in {clips}")["flow"] == flow
    checked = ok("preflight", workflow=flow, no_probe=True)
    ok("upload_dataset", folder=clips, storage_url=storage, name="insp")
    values = {"flow": flow, "dataset": "insp", "storage_url": storage, "gpu_platform": checked["platforms"][0], "video": "street",
              "cosmos_model_cache_url": f"{storage}/data/models/cosmos_transfer", "auto_labeling_model_cache_url": f"{storage}/data/models/auto_labeling"}
    guard = ok("pre_submit_guard", **values)
    if guard["status"] == "cache_missing":
        assert wait(ok("setup_model_cache", **guard["remediation"]["set_string"])["workflow_id"]) == "COMPLETED"
        guard = ok("pre_submit_guard", **values)
    assert guard["status"] == "ok"
    assert wait(ok("submit", **values, run_id=guard["run_id"])["workflow_id"]) == "COMPLETED"
    staged = ok("stage_artifacts", storage_url=storage, dataset="insp", run_id=guard["run_id"], video="street")
    media = ok("render_side_by_side", run_local_dir=staged["local_run_dir"], dataset="insp", video="street")["media_line"]
    assert Path(media.removeprefix("MEDIA:")).is_file()

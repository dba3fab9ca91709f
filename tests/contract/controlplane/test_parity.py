"""The ``osmo`` double (tests/fakes/osmo_cli.py) against the real OSMO 6.3.1 CLI and control plane:
the same calls, in the same states, answer with the same exit codes, the same output shapes (JSON
keys and value kinds, text lines with times and URLs normalised) and the same parsed results.

The double stays for fault injection; this keeps it honest about the answers it gives when nothing
is faulty. Where the two differ, the double was fixed to match the real server.
"""

from __future__ import annotations

import json
import re
import subprocess
import textwrap
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from skill.backends import _osmo_parse as parse
from skill.backends.osmo import OsmoBackend
from skill.errors import BackendUnavailable
from tests.contract.controlplane.stack import BUCKET, POOL, USER
from tests.fakes.osmo_cli import OsmoDouble, install

TWO_TASKS = """\
    workflow:
      name: {name}
      tasks:
      - name: first
        image: ubuntu:22.04
        command: ["true"]
      - name: second
        image: ubuntu:22.04
        command: ["true"]
        inputs:
        - task: first
    """


@dataclass
class Answer:
    exit: int
    stdout: str
    stderr: str


def _run(executable: str, args: list[str], cwd: Path, timeout: float = 60) -> Answer:
    done = subprocess.run([executable, *args], capture_output=True, text=True, timeout=timeout, cwd=str(cwd),
                          stdin=subprocess.DEVNULL)
    return Answer(done.returncode, done.stdout, done.stderr)


@dataclass
class Pair:
    real: Any  # the ControlPlane
    double: OsmoDouble
    work: Path

    def both(self, *args: str) -> tuple[Answer, Answer]:
        return _run(str(self.real.osmo), list(args), self.work), _run(self.double.executable, list(args), self.work)

    def submit_both(self, name: str) -> str:
        path = self.work / f"{name}.yaml"
        path.write_text(textwrap.dedent(TWO_TASKS.format(name=name)))
        real, fake = self.both("workflow", "submit", str(path), "--pool", POOL, "--format-type", "json")
        assert real.exit == fake.exit == 0, (real, fake)
        assert parse.parse_submit(real.stdout) == parse.parse_submit(fake.stdout) == f"{name}-1"
        return f"{name}-1"


# --- normalising ------------------------------------------------------------------------------------

_TIME = re.compile(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d")
_OVERVIEW = re.compile(r"(?:https?://[^\s\"/]+)?/(?:api/workflow|workflows)/([A-Za-z0-9_-]+)(?=$|[\s\"])", re.MULTILINE)
_API = re.compile(r"(?:https?://[^\s\"/]+)?/api/")
# stderr lines that carry meaning (progress bars, tracebacks and warnings do not)
_STDERR_MEANING = re.compile(r"^(Server responded with status code \d+|No entries found for prefix: .*|Data has been \w+|"
                             r"Upload Failed on files:|.*: cannot be accessed by OSMO, skipping: .*|osmo[ \w]*: error: .*|"
                             r".*OSMOUserError: .* is not a valid path)$")


def text_shape(text: str) -> list[str]:
    text = _OVERVIEW.sub(r"<overview \1>", _TIME.sub("<time>", text))
    text = _API.sub("<service>/api/", text).replace(f"user: {USER}", "user: <user>").replace("user: tester", "user: <user>")
    return [line.rstrip() for line in text.splitlines()]


def stderr_shape(text: str) -> list[str]:
    return [line.strip() for line in text_shape(text) if _STDERR_MEANING.match(line.strip())]


# Kubernetes phases only a real cluster's listener reports (our stand-in goes straight to RUNNING)
_CLUSTER_ONLY = frozenset({"scheduling_start_time", "initializing_start_time"})


def json_shape(value: Any, path: str = "$") -> set[str]:
    """Every key path with the kind of value found there (lists merge their items' shapes)."""
    if isinstance(value, dict):
        out = {f"{path}:object"}
        for key, item in value.items():
            if key not in _CLUSTER_ONLY:
                out |= json_shape(item, f"{path}.{key}")
        return out
    if isinstance(value, list):
        out = {f"{path}:list"}
        for item in value:
            out |= json_shape(item, f"{path}[]")
        return out
    kind = "null" if value is None else "number" if isinstance(value, (int, float)) and not isinstance(value, bool) else type(value).__name__
    return {f"{path}:{kind}"}


def same_answer(real: Answer, fake: Answer, *, json_out: bool = False) -> None:
    assert real.exit == fake.exit, (real, fake)
    if json_out:
        ours, theirs = json_shape(parse.find_json(fake.stdout, "double")), json_shape(parse.find_json(real.stdout, "real"))
        assert ours == theirs, f"only the double: {sorted(ours - theirs)}; only the real CLI: {sorted(theirs - ours)}"
    else:
        assert text_shape(fake.stdout) == text_shape(real.stdout), (real.stdout, fake.stdout)
    assert stderr_shape(fake.stderr) == stderr_shape(real.stderr), (real.stderr[-800:], fake.stderr[-800:])


def graph(query: dict[str, Any]) -> list[tuple]:
    return sorted((g["name"], g["status"], tuple(g["remaining_upstream_groups"]), tuple(g["downstream_groups"]),
             tuple((t["name"], t["status"], t["exit_code"], t["lead"]) for t in g["tasks"])) for g in query["groups"])  # the service's group order varies


def parsed(stdout: str, wid: str) -> dict[str, Any]:
    """What our parser makes of a query, without the times and URLs that differ by nature."""
    status = parse.parse_query(stdout, wid)
    data = status.model_dump(exclude={"submit_time", "start_time", "end_time", "duration", "overview"})
    data["groups"].sort(key=lambda g: g["name"])
    for group in data["groups"]:
        group.pop("start_time"), group.pop("end_time")
        if group["failure_message"]:
            group["failure_message"] = group["failure_message"].replace(USER, "<user>").replace("tester", "<user>")
        for task in group["tasks"]:
            task.pop("start_time"), task.pop("end_time")
            if task["failure_message"]:
                task["failure_message"] = task["failure_message"].replace(USER, "<user>").replace("tester", "<user>")
    return data


# --- fixtures -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pair(controlplane, tmp_path_factory) -> Pair:
    real_pools = json.loads(controlplane.cli("pool", "list", "--format-type", "json"))
    pool = real_pools["node_sets"][0]["pools"][0]
    double = install(tmp_path_factory.mktemp("double"), {
        "service_url": "",  # the dev-mode service prints paths without a host
        "pools": [{"name": pool["name"], "status": pool["status"], "platforms": sorted(pool["platforms"]),
                   "default_platform": pool["default_platform"], "description": pool["description"],
                   "quota_free": pool["resource_usage"]["quota_free"], "total_free": pool["resource_usage"]["total_free"]}],
        "credentials": json.loads(controlplane.cli("credential", "--format-type", "json", "list"))["credentials"],
        "configs": {"POD_TEMPLATE": json.loads(controlplane.cli("config", "show", "POD_TEMPLATE"))},
    })
    work = tmp_path_factory.mktemp("parity")
    return Pair(controlplane, double, work)


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


# --- workflows ----------------------------------------------------------------------------------------


def test_submit_answers_alike_in_json_and_text(pair):
    name = unique("par-sub")
    pair.submit_both(name)
    path = pair.work / f"{name}.yaml"
    real, fake = pair.both("workflow", "submit", str(path), "--pool", POOL)
    same_answer(real, fake)
    assert parse.parse_submit(real.stdout) == parse.parse_submit(fake.stdout) == f"{name}-2"


def test_a_fresh_submission_queries_alike(pair):
    wid = pair.submit_both(unique("par-new"))
    pair.real.task_pods(wid, task="first")  # the worker has picked the workflow up
    real, fake = pair.both("workflow", "query", wid, "--format-type", "json")
    same_answer(real, fake, json_out=True)
    assert graph(json.loads(fake.stdout)) == graph(json.loads(real.stdout))
    assert parsed(fake.stdout, wid) == parsed(real.stdout, wid)


def test_running_and_failed_workflows_query_alike_and_their_logs_read_alike(pair):
    wid = pair.submit_both(unique("par-fail"))
    lines = ["loading model", "step 1/2", "CUDA error: out of memory"]
    pair.double.update(statuses={wid: ["RUNNING", "FAILED"]}, logs={wid: [["first", line] for line in lines]})
    pair.real.set_task_status(wid, "first", "RUNNING")
    pair.real.wait_status(wid, {"RUNNING"})
    pair.real._wait_task(wid, "first", {"RUNNING"})
    real, fake = pair.both("workflow", "query", wid, "--format-type", "json")
    same_answer(real, fake, json_out=True)
    assert graph(json.loads(fake.stdout)) == graph(json.loads(real.stdout))

    pair.real.write_task_logs(wid, "first", lines)
    pair.real.set_task_status(wid, "first", "FAILED", exit_code=1)
    pair.real.wait_status(wid, {"FAILED"})
    real, fake = pair.both("workflow", "query", wid, "--format-type", "json")
    same_answer(real, fake, json_out=True)
    assert graph(json.loads(fake.stdout)) == graph(json.loads(real.stdout))
    assert parsed(fake.stdout, wid) == parsed(real.stdout, wid)

    pair.real.wait_logs_stored(wid)  # the settled state the double models (-n tails file lines)
    for args in (["-n", "50"], ["--task", "first", "-n", "50"], ["-n", "2"], ["--task", "first", "-n", "1"]):
        real, fake = pair.both("workflow", "logs", wid, *args)
        same_answer(real, fake)
    real_backend = OsmoBackend(str(pair.real.osmo), logs_timeout=20)
    fake_backend = OsmoBackend(pair.double.executable, logs_timeout=20)
    for last_n in (1, 2, 50):
        ours = [text_shape(b.logs(wid, last_n=last_n)) for b in (real_backend, fake_backend)]
        assert ours[0] == ours[1]
        assert ours[0][-1].endswith("CUDA error: out of memory")  # the failure trailer is not a log line


def test_cancel_answers_alike_and_cancels_every_unfinished_task(pair):
    wid = pair.submit_both(unique("par-cancel"))
    pair.real.set_task_status(wid, "first", "RUNNING")
    pair.real.wait_status(wid, {"RUNNING"})
    pair.double.update(statuses={wid: ["RUNNING"]})
    real, fake = pair.both("workflow", "cancel", wid, "--format-type", "json")
    same_answer(real, fake, json_out=True)
    pair.real.wait_status(wid, {"FAILED_CANCELED"})
    real, fake = pair.both("workflow", "query", wid, "--format-type", "json")
    same_answer(real, fake, json_out=True)
    assert graph(json.loads(fake.stdout)) == graph(json.loads(real.stdout))
    assert parsed(fake.stdout, wid) == parsed(real.stdout, wid)
    real, fake = pair.both("workflow", "cancel", wid, "--format-type", "json")
    same_answer(real, fake)
    assert "already finished" in real.stdout


@pytest.mark.parametrize("args", [
    ["workflow", "query", "par-nosuch-1", "--format-type", "json"],
    ["workflow", "query", "par-nosuch-1"],
    ["workflow", "logs", "par-nosuch-1", "-n", "5"],
    ["workflow", "cancel", "par-nosuch-1", "--format-type", "json"],
    ["config", "show", "NOSUCH"],
], ids=["query-json", "query-text", "logs", "cancel", "config"])
def test_unknown_names_are_refused_alike(pair, args):
    real, fake = pair.both(*args)
    same_answer(real, fake)
    assert parse.error_message(real.stdout, real.stderr) == parse.error_message(fake.stdout, fake.stderr)


def test_logs_of_an_unknown_task_are_refused_alike(pair):
    wid = pair.submit_both(unique("par-task"))
    real, fake = pair.both("workflow", "logs", wid, "--task", "nosuch", "-n", "5")
    same_answer(real, fake)


# --- cluster facts --------------------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    ["pool", "list", "--format-type", "json"],
    ["credential", "--format-type", "json", "list"],
    ["version", "--format-type", "json"],
], ids=["pools", "credentials", "version"])
def test_cluster_facts_have_the_same_json_shape(pair, args):
    real, fake = pair.both(*args)
    same_answer(real, fake, json_out=True)


def test_pool_list_under_newer_http_libraries_fails_alike(pair):
    """The real CLI with urllib3 2.8 / requests 2.34 asks for `//api/pool_quota` (404); the double's
    ``http_libraries`` mode answers the same way, and our backend names the cause for both."""
    newer = pair.real.newer_http_cli()
    pair.double.update(http_libraries="urllib3-2.8")
    try:
        for args in (["pool", "list", "--format-type", "json"], ["pool", "list"]):
            real, fake = _run(str(newer), args, pair.work), _run(pair.double.executable, args, pair.work)
            assert real.exit == 2 and "Server responded with status code 404" in real.stderr, real
            same_answer(real, fake)
        for executable in (str(newer), pair.double.executable):
            with pytest.raises(BackendUnavailable) as caught:
                OsmoBackend(executable, retries=0).pools()
            assert caught.value.code == "osmo-cli-http-libraries"
    finally:
        pair.double.update(http_libraries=None)


def test_cluster_facts_parse_alike(pair):
    real, fake = OsmoBackend(str(pair.real.osmo)), OsmoBackend(pair.double.executable)
    assert fake.pools() == real.pools()
    assert fake.credentials() == real.credentials()
    assert fake.version() == real.version()
    assert fake.config_show("POD_TEMPLATE") == real.config_show("POD_TEMPLATE")


# --- data -------------------------------------------------------------------------------------------------


def test_data_commands_answer_alike(pair, tmp_path):
    (tmp_path / "src" / "sub").mkdir(parents=True)
    (tmp_path / "src" / "a.txt").write_text("A")
    (tmp_path / "src" / "sub" / "b.txt").write_text("B")
    base = f"s3://{BUCKET}/{unique('par-data')}"
    real, fake = pair.both("data", "upload", base, str(tmp_path / "src" / "a.txt"), str(tmp_path / "src" / "sub"))
    same_answer(real, fake)
    for args in (["--recursive", "--no-pager", base], ["--no-pager", base], ["--recursive", "--no-pager", f"{base}/nothing"],
                 ["--recursive", "--no-pager", "not-a-url"]):
        real, fake = pair.both("data", "list", *args)
        same_answer(real, fake)
    for name in ("real", "fake"):
        (tmp_path / name).mkdir()
    real = _run(str(pair.real.osmo), ["data", "download", base, str(tmp_path / "real") + "/"], pair.work)
    fake = _run(pair.double.executable, ["data", "download", base, str(tmp_path / "fake") + "/"], pair.work)
    same_answer(real, fake)
    tree = [sorted(p.relative_to(tmp_path / n).as_posix() for p in (tmp_path / n).rglob("*") if p.is_file()) for n in ("real", "fake")]
    assert tree[0] == tree[1] == ["a.txt", "sub/b.txt"]
    real, fake = pair.both("data", "download", f"{base}/nothing", str(tmp_path / "real") + "/")
    same_answer(real, fake)
    real, fake = pair.both("data", "download", base, str(tmp_path / "missing-dir") + "/")
    same_answer(real, fake)
    real, fake = pair.both("data", "upload", base, str(tmp_path / "no-such-file"))
    same_answer(real, fake)

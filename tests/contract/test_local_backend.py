"""The local backend runs workflow YAML with OSMO's semantics: real runner processes, real bash tasks.

Each test renders a tiny synthetic workflow with ``render_text`` and runs it to the end. Sleeps
stay between 0.2 and 1 s; tasks meant to be stopped sleep 30 s, so a test that failed to stop
them would time out in ``wait`` instead of passing.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from skill.backends._local_plan import exit_status, parse_duration, parse_exit_actions
from skill.backends._local_state import aggregate_status
from skill.backends.base import Backend
from skill.backends.local import LocalBackend
from skill.errors import InputError, NotFound
from skill.models import WorkflowStatus
from skill.paths import skill_root
from skill.render import render_text
from tests.waiting import until

WAIT = 30.0
LOG_LINE = re.compile(r"^\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[([A-Za-z0-9_-]+)\](\[osmo\])? ")


@pytest.fixture
def backend(tmp_path: Path):
    local = LocalBackend(tmp_path / "root")
    yield local
    # never leave a run (or its sleeping tasks) behind, whatever the test did
    if local.workflows_dir.is_dir():
        for run in local.workflows_dir.iterdir():
            if (run / "state.json").is_file() and not local.query(run.name).terminal:
                local.cancel(run.name)
                local.wait(run.name, WAIT)


def run(backend: LocalBackend, text: str, **values: str) -> tuple[str, WorkflowStatus]:
    workflow_id = backend.submit(render_text(text, set_string=values or None))
    return workflow_id, backend.wait(workflow_id, WAIT)



def task_of(status: WorkflowStatus, name: str):
    return next(t for t in status.tasks if t.name == name)


def group_of(status: WorkflowStatus, name: str):
    return next(g for g in status.groups if g.name == name)


def running_pid(backend: LocalBackend, workflow_id: str, task: str) -> int:
    state = json.loads((backend.workflows_dir / workflow_id / "state.json").read_text())
    for group in state["groups"]:
        for item in group["tasks"]:
            if item["name"] == task and item["status"] == "RUNNING" and item["pid"]:
                return item["pid"]
    return 0


def task_processes(workflow_id: str) -> list[int]:
    """Live processes started for a run (the executor marks each task's environment)."""
    needle = f"VDA_LOCAL_TASK={workflow_id}/".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state = (entry / "stat").read_text().rsplit(")", 1)[-1].split()[0]
            if state != "Z" and any(v.startswith(needle) for v in (entry / "environ").read_bytes().split(b"\0")):
                found.append(int(entry.name))
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
    return found


def output_dir(backend: LocalBackend, workflow_id: str, task: str) -> Path:
    return backend.workflows_dir / workflow_id / "tasks" / task / "output"


# --- data flow --------------------------------------------------------------------------------

SERIAL = """
workflow:
  name: serial
  groups:
  - name: produce
    tasks:
    - name: producer
      image: ubuntu
      command: [bash, -c]
      args: ["mkdir -p {{output}}/sub && echo 21 > {{output}}/sub/n.txt"]
      outputs:
      - url: s3://bucket/results/producer
  - name: consume
    tasks:
    - name: consumer
      image: ubuntu
      command: [bash, -c]
      args: ["echo $(( $(cat {{input:producer}}/sub/n.txt) * 2 )) > {{output}}/answer.txt && ls {{input:1}} > {{output}}/listing.txt"]
      inputs:
      - task: producer
      - url: s3://bucket/datasets/ds
      outputs:
      - url: "{{published}}"
"""


def test_serial_groups_pass_data_and_outputs_reach_mapped_urls(backend: LocalBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VDA_LOCAL_STORAGE_ROOTS", str(tmp_path / "published"))  # an output URL outside the root, allowed by the operator
    for name in ("b.mp4", "a.mp4"):
        (tmp_path / name).write_text(name)
    backend.data_upload("s3://bucket/datasets/ds", [tmp_path / "b.mp4", tmp_path / "a.mp4"])
    published = tmp_path / "published"
    workflow_id, status = run(backend, SERIAL, published=str(published))

    assert workflow_id == "serial-1"
    assert status.status == "COMPLETED", status
    assert [g.name for g in status.groups] == ["produce", "consume"]
    assert group_of(status, "consume").start_time >= group_of(status, "produce").end_time
    assert all(t.exit_code == 0 and t.status == "COMPLETED" for t in status.tasks)
    assert (output_dir(backend, workflow_id, "consumer") / "answer.txt").read_text().strip() == "42"
    # the url input's contents landed directly in {{input:1}}
    assert (output_dir(backend, workflow_id, "consumer") / "listing.txt").read_text().split() == ["a.mp4", "b.mp4"]
    # outputs copied: to a cluster URL (mapped under storage/) and to a local folder
    assert backend.data_list("s3://bucket/results/producer") == ["s3://bucket/results/producer/sub/n.txt"]
    assert (backend.root / "storage" / "s3" / "bucket" / "results" / "producer" / "sub" / "n.txt").is_file()
    assert sorted(p.name for p in published.iterdir()) == ["answer.txt", "listing.txt"]
    assert status.pool == "local" and status.duration is not None and status.submit_time


FILES = """
workflow:
  name: staged
  tasks:
  - name: main
    image: ubuntu
    command: [bash]
    args: ["/tmp/vda/main.sh", "{{output}}"]
    environment:
      HELPER: /tmp/vda/helper.sh
      PEER: "{{host:main}}"
      WF: "{{workflow_id}}"
    files:
    - path: /tmp/vda/main.sh
      contents: |
        set -e
        out="$1"
        here="$(dirname "$0")"
        bash "$here/helper.sh" > "$out/helper.txt"
        cat "$here/data/blob.txt" > "$out/blob.txt"
        cat "$here/local.txt" > "$out/local.txt"
        echo "$HELPER" > "$out/helper_path.txt"
        echo "$PEER $WF" > "$out/tokens.txt"
        env | grep -E '^(VDA_|OSMO_WORKFLOW_ID|PYTHONPATH)' | sort > "$out/env.txt"
    - path: /tmp/vda/helper.sh
      contents: "echo helper-ran"
    - path: /tmp/vda/data/blob.txt
      base64: true
      contents: aGVsbG8gYmFzZTY0
    - path: /tmp/vda/local.txt
      localpath: assets/local.txt
"""


def test_files_are_staged_and_their_paths_substituted(backend: LocalBackend, tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "local.txt").write_text("read at submit time")
    spec = render_text(FILES, source=str(tmp_path / "wf.yaml"))
    workflow_id = backend.submit(spec)
    (tmp_path / "assets" / "local.txt").write_text("changed after submit")
    status = backend.wait(workflow_id, WAIT)
    assert status.status == "COMPLETED", backend.logs(workflow_id)
    assert [g.name for g in status.groups] == ["main-group"]

    out = output_dir(backend, workflow_id, "main")
    files = backend.workflows_dir / workflow_id / "tasks" / "main" / "files"
    assert (out / "helper.txt").read_text().strip() == "helper-ran"
    assert (out / "blob.txt").read_text() == "hello base64"
    assert (out / "local.txt").read_text() == "read at submit time"
    assert (out / "helper_path.txt").read_text().strip() == str(files / "tmp" / "vda" / "helper.sh")
    assert (out / "tokens.txt").read_text().split() == ["127.0.0.1", workflow_id]
    env = dict(line.split("=", 1) for line in (out / "env.txt").read_text().splitlines())
    assert env["VDA_BACKEND"] == "local"
    assert not env.get("VDA_ENGINE")  # the engines come from the workflow values (VDA_LABEL_ENGINE, ...), not the executor
    assert env["VDA_PYTHON"] == sys.executable
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(skill_root())
    assert env["OSMO_WORKFLOW_ID"] == workflow_id
    assert env["VDA_GROUP_BARRIER_PORT"].isdigit()


# --- scheduling -------------------------------------------------------------------------------

PARALLEL = """
workflow:
  name: parallel
  groups:
  - name: left
    tasks:
    - name: left_task
      image: ubuntu
      command: [bash, -c]
      args: ["sleep 1; echo $VDA_GROUP_BARRIER_PORT > {{output}}/port"]
  - name: right
    tasks:
    - name: right_task
      image: ubuntu
      command: [bash, -c]
      args: ["sleep 1; echo $VDA_GROUP_BARRIER_PORT > {{output}}/port"]
  - name: join
    tasks:
    - name: join_task
      image: ubuntu
      command: [bash, -c]
      args: ["cat {{input:0}}/port {{input:1}}/port > {{output}}/ports"]
      inputs:
      - task: left_task
      - task: right_task
"""


def test_independent_groups_overlap_and_a_join_waits_for_both(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, PARALLEL)
    assert status.status == "COMPLETED"
    left, right, join = (group_of(status, n) for n in ("left", "right", "join"))
    assert left.start_time < right.end_time and right.start_time < left.end_time
    assert join.start_time >= max(left.end_time, right.end_time)
    ports = (output_dir(backend, workflow_id, "join_task") / "ports").read_text().split()
    assert len(ports) == 2 and ports[0] != ports[1]


LEAD = """
workflow:
  name: leader
  groups:
  - name: pair
    tasks:
    - name: boss
      lead: true
      image: ubuntu
      command: [bash, -c]
      args: ["echo $VDA_GROUP_BARRIER_PORT > {{output}}/port; sleep 0.5; exit {{code}}"]
    - name: helper
      image: ubuntu
      command: [bash, -c]
      args: ["echo $VDA_GROUP_BARRIER_PORT > {{output}}/port; sleep 30; touch {{output}}/late"]
      outputs:
      - url: s3://bucket/helper
"""


@pytest.mark.parametrize(("code", "expected"), [("0", "COMPLETED"), ("4", "FAILED")])
def test_lead_exit_kills_a_running_sibling_which_takes_its_status(backend: LocalBackend, code: str, expected: str) -> None:
    workflow_id, status = run(backend, LEAD, code=code)
    boss, helper = task_of(status, "boss"), task_of(status, "helper")
    assert status.status == expected
    assert boss.status == expected and boss.exit_code == int(code)
    assert helper.status == expected and helper.failure_message == "Lead task finished"
    assert helper.start_time < boss.end_time and boss.start_time < helper.end_time  # started together
    assert task_processes(workflow_id) == []
    assert not (output_dir(backend, workflow_id, "helper") / "late").exists()
    assert backend.data_list("s3://bucket/helper") == []  # a killed task uploads nothing
    ports = {(output_dir(backend, workflow_id, t) / "port").read_text() for t in ("boss", "helper")}
    assert len(ports) == 1  # one barrier port per group


RELEASED_TOGETHER = """
workflow:
  name: released
  groups:
  - name: pair
    tasks:
    - name: boss
      lead: true
      image: ubuntu
      command: [bash, -c]
      args: ["until [ -e {{meet}}/ready ]; do sleep 0.01; done; touch {{meet}}/go; exit 0"]
    - name: helper
      image: ubuntu
      command: [bash, -c]
      args: ["touch {{meet}}/ready; until [ -e {{meet}}/go ]; do sleep 0.01; done; echo mine > {{output}}/result; exit 0"]
      outputs:
      - url: s3://bucket/helper
"""


def test_a_sibling_released_with_the_lead_keeps_its_exit_and_outputs(backend: LocalBackend, tmp_path: Path) -> None:
    """The completion barrier releases every rank at once; a peer ending just after the lead is
    recorded as it exited and its outputs are uploaded (issue 15: workers > 1 lost half the clips)."""
    meet = tmp_path / "meet"
    meet.mkdir()
    workflow_id, status = run(backend, RELEASED_TOGETHER, meet=str(meet))
    helper = task_of(status, "helper")
    assert status.status == "COMPLETED"
    assert helper.status == "COMPLETED" and helper.exit_code == 0 and helper.failure_message != "Lead task finished"
    assert backend.data_list("s3://bucket/helper") == ["s3://bucket/helper/result"]
    assert task_processes(workflow_id) == []


NONLEAD = """
workflow:
  name: strict
  groups:
  - name: pair
    ignoreNonleadStatus: false
    tasks:
    - name: boss
      lead: true
      image: ubuntu
      command: [bash, -c, "sleep 30"]
    - name: flaky
      image: ubuntu
      command: [bash, -c, "sleep 0.2; exit 1"]
"""


def test_failing_non_lead_fails_the_group_when_non_lead_status_counts(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, NONLEAD)
    assert status.status == "FAILED", (status, backend.logs(workflow_id, last_n=100))
    assert task_of(status, "flaky").status == "FAILED" and task_of(status, "flaky").exit_code == 1, (status, backend.logs(workflow_id, last_n=100))
    assert task_of(status, "boss").status == "FAILED"
    assert group_of(status, "pair").status == "FAILED"


FAILING = """
workflow:
  name: failing
  groups:
  - name: good
    tasks:
    - name: good_task
      image: ubuntu
      command: [bash, -c, "echo fine > {{output}}/good.txt"]
      outputs:
      - url: s3://bucket/good
  - name: bad
    tasks:
    - name: bad_task
      image: ubuntu
      command: [bash, -c, "echo partial > {{output}}/partial.txt; exit 3"]
      inputs:
      - task: good_task
      outputs:
      - url: s3://bucket/bad
  - name: after_bad
    tasks:
    - name: after_task
      image: ubuntu
      command: [bash, -c, "touch {{output}}/ran"]
      inputs:
      - task: bad_task
  - name: independent
    tasks:
    - name: independent_task
      image: ubuntu
      command: [bash, -c, "sleep 0.3; touch {{output}}/ran"]
"""


def test_failure_propagates_downstream_and_spares_independent_groups(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, FAILING)
    assert status.status == "FAILED"
    assert group_of(status, "good").status == "COMPLETED"
    bad = task_of(status, "bad_task")
    assert bad.status == "FAILED" and bad.exit_code == 3 and "3" in (bad.failure_message or "")
    after = task_of(status, "after_task")
    assert after.status == "FAILED_UPSTREAM" and after.exit_code == 3000 and after.start_time is None
    assert group_of(status, "independent").status == "COMPLETED"
    assert not (output_dir(backend, workflow_id, "after_task") / "ran").exists()
    # completed outputs stay in place; a failed command's outputs are still uploaded
    assert (output_dir(backend, workflow_id, "good_task") / "good.txt").read_text().strip() == "fine"
    assert backend.data_list("s3://bucket/good") == ["s3://bucket/good/good.txt"]
    assert backend.data_list("s3://bucket/bad") == ["s3://bucket/bad/partial.txt"]


ACTIONS = """
workflow:
  name: actions
  groups:
  - name: three_is_fine
    tasks:
    - name: three
      image: ubuntu
      command: [bash, -c, "exit 3"]
      exitActions:
        complete: "0,3-4"
  - name: zero_is_bad
    tasks:
    - name: zero
      image: ubuntu
      command: [bash, -c, "exit 0"]
      exitActions:
        FAIL: "0"
"""


def test_exit_actions_decide_the_status(backend: LocalBackend) -> None:
    _, status = run(backend, ACTIONS)
    assert task_of(status, "three").status == "COMPLETED" and task_of(status, "three").exit_code == 3
    assert task_of(status, "zero").status == "FAILED"
    assert status.status == "FAILED"


TIMEOUT = """
workflow:
  name: slow
  timeout:
    exec_timeout: 1s
  tasks:
  - name: sleeper
    image: ubuntu
    command: [bash, -c, "sleep 30"]
"""


def test_exec_timeout_ends_the_group(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, TIMEOUT)
    assert status.status == "FAILED_EXEC_TIMEOUT"
    assert task_of(status, "sleeper").status == "FAILED_EXEC_TIMEOUT"
    assert task_processes(workflow_id) == []


# --- things going wrong mid-run ---------------------------------------------------------------

LONG = """
workflow:
  name: "{{name}}"
  groups:
  - name: first
    tasks:
    - name: sleeper
      image: ubuntu
      command: [bash, -c, "sleep 30; echo done"]
  - name: second
    tasks:
    - name: downstream
      image: ubuntu
      command: [bash, -c, "touch {{output}}/ran"]
      inputs:
      - task: sleeper
"""


def test_a_task_killed_by_a_signal_fails_and_downstream_is_failed_upstream(backend: LocalBackend) -> None:
    workflow_id = backend.submit(render_text(LONG, set_string={"name": "victim"}))
    pid = until(lambda: running_pid(backend, workflow_id, "sleeper"), "the task to run")
    os.kill(pid, signal.SIGKILL)
    status = backend.wait(workflow_id, WAIT)
    sleeper = task_of(status, "sleeper")
    assert sleeper.status == "FAILED"
    assert sleeper.exit_code == 128 + signal.SIGKILL  # 128+signal, like a shell or a container runtime
    assert "SIGKILL" in sleeper.failure_message
    assert task_of(status, "downstream").status == "FAILED_UPSTREAM"
    assert status.status == "FAILED"
    until(lambda: task_processes(workflow_id) == [], "the task's children to be gone", timeout=10)


def test_a_killed_runner_is_settled_by_query_and_never_hangs(backend: LocalBackend) -> None:
    workflow_id = backend.submit(render_text(LONG, set_string={"name": "orphan"}))
    until(lambda: running_pid(backend, workflow_id, "sleeper"), "the task to run")
    runner_pid = int((backend.workflows_dir / workflow_id / "runner.pid").read_text())
    os.kill(runner_pid, signal.SIGKILL)
    fresh = LocalBackend(backend.root)  # holds no handle on the runner: must see it is dead (a zombie)
    status = until(lambda: (s := fresh.query(workflow_id)).terminal and s, "query to notice the dead runner")
    assert status.status == "FAILED"
    assert task_of(status, "sleeper").status == "FAILED"
    assert task_of(status, "sleeper").failure_message == "runner exited"
    assert task_of(status, "downstream").status == "FAILED_UPSTREAM"
    assert fresh.wait(workflow_id, 5).status == "FAILED"
    until(lambda: task_processes(workflow_id) == [], "the orphaned task to be killed", timeout=10)


def test_cancel_stops_running_tasks_and_the_rest(backend: LocalBackend) -> None:
    workflow_id = backend.submit(render_text(LONG, set_string={"name": "cancelme"}))
    until(lambda: running_pid(backend, workflow_id, "sleeper"), "the task to run")
    backend.cancel(workflow_id)
    status = backend.wait(workflow_id, WAIT)
    assert status.status == "FAILED_CANCELED"
    assert task_of(status, "sleeper").status == "FAILED_CANCELED"
    assert task_of(status, "downstream").status == "FAILED_CANCELED"
    assert task_processes(workflow_id) == []
    backend.cancel(workflow_id)  # a finished run: nothing to do
    assert backend.query(workflow_id).status == "FAILED_CANCELED"


SUBMIT_AND_LEAVE = """
import sys
from pathlib import Path
from skill.backends.local import LocalBackend
from skill.render import render_text
text = "workflow:\\n  name: detached\\n  tasks:\\n  - name: slow\\n    image: ubuntu\\n    command: [bash, -c, 'sleep 0.5; echo survived > {{output}}/note']\\n"
print(LocalBackend(Path(sys.argv[1])).submit(render_text(text)))
"""


def test_the_run_survives_the_process_that_submitted_it(backend: LocalBackend) -> None:
    done = subprocess.run([sys.executable, "-c", SUBMIT_AND_LEAVE, str(backend.root)], capture_output=True, text=True, timeout=WAIT, cwd=skill_root())
    assert done.returncode == 0, done.stderr
    workflow_id = done.stdout.strip()
    assert workflow_id == "detached-1"
    status = backend.wait(workflow_id, WAIT)  # the submitter is gone; the runner carried on
    assert status.status == "COMPLETED"
    assert (output_dir(backend, workflow_id, "slow") / "note").read_text().strip() == "survived"


MISSING_COMMAND = """
workflow:
  name: nocommand
  tasks:
  - name: ghost
    image: ubuntu
    command: [/nonexistent/bin/tool]
"""


def test_a_command_that_cannot_start_fails_with_127(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, MISSING_COMMAND)
    ghost = task_of(status, "ghost")
    assert (status.status, ghost.status, ghost.exit_code) == ("FAILED", "FAILED", 127)
    assert "cannot start /nonexistent/bin/tool" in ghost.failure_message


# --- logs, restart, environment -----------------------------------------------------------------

LOGS = """
workflow:
  name: chatty
  groups:
  - name: one
    tasks:
    - name: first
      image: ubuntu
      command: [bash, -c, "echo alpha; echo beta >&2"]
  - name: two
    tasks:
    - name: second
      image: ubuntu
      command: [bash, -c, "echo gamma; echo token nvapi-abcdefghijklmnop0123"]
      inputs:
      - task: first
"""


def test_logs_use_osmo_line_format_and_are_redacted(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, LOGS)
    assert status.status == "COMPLETED"
    every = backend.logs(workflow_id, last_n=1000).splitlines()
    assert every and all(LOG_LINE.match(line) for line in every), every
    text = [line[20:] for line in every]
    assert text.index("[first] alpha") < text.index("[second] gamma")
    assert "[first] beta" in text
    assert any(line.startswith("[second][osmo] ") for line in text)
    assert "[second] token [REDACTED]" in text
    assert "nvapi-abcdefghijklmnop0123" not in "\n".join(every)
    second = backend.logs(workflow_id, task="second", last_n=1000).splitlines()
    assert second and all(LOG_LINE.match(l).group(1) == "second" for l in second)
    assert backend.logs(workflow_id, last_n=1).splitlines() == every[-1:]
    with pytest.raises(NotFound):
        backend.logs(workflow_id, task="nobody")


def test_a_new_backend_on_the_same_root_sees_finished_runs(backend: LocalBackend) -> None:
    workflow_id, status = run(backend, LOGS)
    again = LocalBackend(backend.root)
    assert again.query(workflow_id) == status
    assert "[first] alpha" in again.logs(workflow_id, task="first")
    assert again.submit(render_text(LOGS)) == "chatty-2"
    assert again.wait("chatty-2", WAIT).status == "COMPLETED"
    with pytest.raises(NotFound):
        again.query("chatty-99")
    with pytest.raises(NotFound):
        again.query("../../etc")


SECRETS = """
workflow:
  name: secretive
  tasks:
  - name: worker
    image: ubuntu
    command: [bash, -c]
    args:
    - >-
      echo "${MY_SERVICE_API_KEY:+leaked}" > {{output}}/unrequested;
      [ "$NGC_CLI_API_KEY" = "$EXPECT_NGC" ] && echo stored > {{output}}/ngc;
      [ "$VLM_API_KEY" = "vlm-secret-987654" ] && echo kept > {{output}}/vlm;
      wc -c < /etc/hf/token > {{output}}/hf_len
    environment:
      EXPECT_NGC: "{{expect}}"
    credentials:
      nvcr_io:
        NGC_CLI_API_KEY: auth
      vlm_cred:
        VLM_API_KEY: key
      hf_token: /etc/hf
"""


def test_task_env_drops_unrequested_secrets_and_maps_stored_credentials(
    backend: LocalBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "supersecret-value-123")
    monkeypatch.setenv("VLM_API_KEY", "vlm-secret-987654")
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": "nvapi-localsecret0001"})
    backend.set_credential("hf_token", "GENERIC", {"token": "hf_abcdefghijklmnop"})
    workflow_id, status = run(backend, SECRETS, expect="nvapi-localsecret0001")
    assert status.status == "COMPLETED", backend.logs(workflow_id)
    out = output_dir(backend, workflow_id, "worker")
    assert (out / "unrequested").read_text().strip() == ""
    assert (out / "ngc").read_text().strip() == "stored"
    assert (out / "vlm").read_text().strip() == "kept"  # requested by the task: the parent's value stays
    assert (out / "hf_len").read_text().strip() == str(len("hf_abcdefghijklmnop"))
    logs = backend.logs(workflow_id, last_n=1000)
    assert "vlm_cred is not in the local store" in logs
    assert "nvapi-localsecret0001" not in logs and "hf_abcdefghijklmnop" not in logs


def test_credential_store_lists_names_only_with_private_file_mode(backend: LocalBackend) -> None:
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "password": "nvapi-storedvalue0001"})
    backend.set_credential("bucket", "DATA", {"access_key_id": "id", "access_key": "data-secret-000111", "endpoint": "s3://bucket/"})
    backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "auth": "nvapi-replacedvalue02"})
    listed = backend.credentials()
    assert [(c.name, c.type, c.profile) for c in listed] == [("nvcr_io", "REGISTRY", "nvcr.io"), ("bucket", "DATA", "s3://bucket")]
    dumped = json.dumps([c.model_dump() for c in listed])
    assert "nvapi-" not in dumped and "data-secret" not in dumped
    store = backend.root / "credentials.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert "nvapi-replacedvalue02" in store.read_text() and "nvapi-storedvalue0001" not in store.read_text()
    with pytest.raises(InputError) as info:
        backend.set_credential("bucket", "DATA", {"access_key": "data-secret-000222"})
    assert "data-secret-000222" not in str(info.value)
    with pytest.raises(InputError):
        backend.set_credential("9bad", "GENERIC", {"k": "v"})
    with pytest.raises(InputError):
        backend.set_credential("ok", "PASSWORD", {"k": "v"})  # type: ignore[arg-type]


def test_pools_and_config_describe_this_machine(backend: LocalBackend) -> None:
    assert isinstance(backend, Backend) and backend.name == "local"
    (pool,) = backend.pools()
    assert (pool.name, pool.status, pool.platforms, pool.default_platform) == ("local", "ONLINE", ["cpu"], "cpu")
    template = backend.config_show("POD_TEMPLATE")
    assert template["gpu_toleration"] == "not-required-local"
    assert "local" in template["description"].lower()
    with pytest.raises(NotFound):
        backend.config_show("WORKFLOW")


# --- refused at submit ------------------------------------------------------------------------

ONE_TASK = """
workflow:
  name: refused
  {extra}
  tasks:
  - name: only
    image: ubuntu
    command: [bash, -c, "{command}"]
{task_extra}
"""


@pytest.mark.parametrize(
    ("extra", "command", "task_extra", "code"),
    [
        ("", "cat {{input:2}}/x", "    inputs:\n    - url: s3://bucket/in", "invalid-workflow"),
        ("", "true", "    files:\n    - path: /tmp/x.sh\n      localpath: /nonexistent/x.sh", "local-file-missing"),
        ("", "true", "    inputs:\n    - dataset: {name: ds}", "unsupported-local"),
        ("", "true", "    inputs:\n    - url: http://example.com/x", "invalid-storage-url"),
        ("", "true", "    exitActions:\n      RETRY: '1'", "invalid-workflow"),
        ("", "true", "    exitActions:\n      FAIL: 'one'", "invalid-workflow"),
        ("timeout:\n    exec_timeout: soon", "true", "", "invalid-workflow"),
        ("", "true", "    files:\n    - path: /tmp/../../x\n      contents: hi", "invalid-workflow"),
    ],
)
def test_bad_specs_are_refused_at_submit_and_leave_nothing(backend: LocalBackend, extra: str, command: str, task_extra: str, code: str) -> None:
    spec = render_text(ONE_TASK.format(extra=extra, command=command, task_extra=task_extra))
    with pytest.raises(InputError) as info:
        backend.submit(spec)
    assert info.value.code == code
    assert not backend.workflows_dir.exists() or list(backend.workflows_dir.iterdir()) == []


def test_only_the_local_pool_exists(backend: LocalBackend) -> None:
    spec = render_text(ONE_TASK.format(extra="", command="true", task_extra=""))
    with pytest.raises(InputError):
        backend.submit(spec, pool="gpu-pool")


# --- pure rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "expected"),
    [
        (["COMPLETED", "RUNNING", "WAITING"], "RUNNING"),
        (["COMPLETED", "SCHEDULING", "WAITING"], "PENDING"),
        (["COMPLETED", "WAITING"], "PENDING"),
        (["FAILED", "RUNNING"], "RUNNING"),
        (["FAILED_EXEC_TIMEOUT", "FAILED_CANCELED", "FAILED"], "FAILED_CANCELED"),
        (["FAILED_EXEC_TIMEOUT", "FAILED_SERVER_ERROR"], "FAILED_SERVER_ERROR"),
        (["FAILED_QUEUE_TIMEOUT", "FAILED_EXEC_TIMEOUT", "FAILED_UPSTREAM"], "FAILED_EXEC_TIMEOUT"),
        (["FAILED_QUEUE_TIMEOUT", "FAILED_IMAGE_PULL"], "FAILED_QUEUE_TIMEOUT"),
        (["FAILED_IMAGE_PULL", "FAILED_UPSTREAM", "COMPLETED"], "FAILED_IMAGE_PULL"),
        (["FAILED_EVICTED", "FAILED_EVICTED", "FAILED_UPSTREAM"], "FAILED_EVICTED"),
        (["FAILED_EVICTED", "FAILED_PREEMPTED"], "FAILED"),
        (["FAILED", "FAILED_UPSTREAM", "COMPLETED"], "FAILED"),
        (["COMPLETED", "COMPLETED"], "COMPLETED"),
    ],
)
def test_workflow_status_aggregates_like_osmo(groups: list[str], expected: str) -> None:
    assert aggregate_status(groups) == expected


@pytest.mark.parametrize(
    ("value", "seconds"),
    [("24h", 86400.0), ("30m", 1800.0), ("90s", 90.0), ("500ms", 0.5), ("2d", 172800.0), ("45", 45.0), (12, 12.0), ("PT1H30M", 5400.0), (None, None)],
)
def test_durations(value, seconds) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize("value", ["1h30m", "soon", "h", "PT", "-5s", True])
def test_bad_durations(value) -> None:
    with pytest.raises(InputError):
        parse_duration(value)


def test_exit_action_lists() -> None:
    actions = parse_exit_actions({"complete": "0, 2-4", "Reschedule": "9"}, task="t")
    assert actions == {"COMPLETE": [(0, 0), (2, 4)], "RESCHEDULE": [(9, 9)]}
    assert exit_status(3, actions)[0] == "COMPLETED"
    assert exit_status(1, actions)[0] == "FAILED"
    assert exit_status(9, actions) == ("FAILED", "exit code 9 asks for RESCHEDULE, which the local backend does not do; treated as FAILED")
    assert exit_status(0, {})[0] == "COMPLETED"


def test_stored_credentials_register_secret_values_but_not_registry_hosts(backend: LocalBackend) -> None:
    from skill.secrets import forget_secrets, redact

    forget_secrets()
    try:
        backend.set_credential("nvcr_io", "REGISTRY", {"registry": "nvcr.io", "username": "$oauthtoken", "auth": "plainvalue-4242"})
        assert redact("pull from nvcr.io as $oauthtoken") == "pull from nvcr.io as $oauthtoken"
        assert "plainvalue-4242" not in redact("auth=plainvalue-4242")
    finally:
        forget_secrets()


# --- liveness right after submit ---------------------------------------------------------------

QUICK = """
workflow:
  name: quick
  tasks:
  - name: nap
    image: ubuntu
    command: [bash, -c, 'sleep 0.2']
"""


def test_a_run_is_alive_from_the_moment_it_is_visible(backend: LocalBackend) -> None:
    """Pollers in other threads (other MCP clients, a second CLI) query while submit is starting the
    runner: none may see the fresh run as dead. It once settled 4 of 40 runs as "runner exited"."""
    import threading

    submitted, seen_dead, stop = [], [], threading.Event()
    observer = LocalBackend(backend.root)  # no handle on the runners, like another process

    def poll_everything() -> None:
        while not stop.is_set():
            for run_dir in list(backend.workflows_dir.iterdir()) if backend.workflows_dir.is_dir() else []:
                try:
                    status = observer.query(run_dir.name)
                except NotFound:
                    continue  # not visible yet
                if status.terminal and status.status != "COMPLETED":
                    seen_dead.append((run_dir.name, [t.failure_message for t in status.tasks]))

    pollers = [threading.Thread(target=poll_everything, daemon=True) for _ in range(2)]
    for thread in pollers:
        thread.start()
    try:
        for _ in range(12):
            workflow_id = backend.submit(render_text(QUICK))
            submitted.append(workflow_id)
            status = LocalBackend(backend.root).query(workflow_id)  # right after submit, from a fresh backend
            assert not status.terminal or status.status == "COMPLETED", (workflow_id, status.status)
    finally:
        stop.set()
        for thread in pollers:
            thread.join(5)
    assert seen_dead == []
    for workflow_id in submitted:
        assert backend.wait(workflow_id, WAIT).status == "COMPLETED"


# --- a full disk ---------------------------------------------------------------------------------

FILL_THE_DISK = """
workflow:
  name: filler
  tasks:
  - name: hog
    image: ubuntu
    command: [bash, -c, 'head -c 64M /dev/zero > {{output}}/big 2>/dev/null; exit 0']
"""


@pytest.fixture
def small_disk(tmp_path: Path):
    """A 3 MB tmpfs (root may mount one here); skipped where mounting is not allowed."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()[:120]}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill_disk(mount: Path) -> Path:
    """Write one file until the disk says ENOSPC; return it (unlink it to free the space)."""
    import errno

    filler = mount / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        with pytest.raises(OSError) as full:
            while True:
                os.write(fd, b"\0" * 65536)
    finally:
        os.close(fd)
    assert full.value.errno == errno.ENOSPC
    return filler


def test_a_full_disk_ends_the_run_failed_with_the_reason_and_no_temporary_files(small_disk: Path) -> None:
    backend = LocalBackend(small_disk / "root")
    workflow_id = backend.submit(render_text(FILL_THE_DISK))
    status = backend.wait(workflow_id, WAIT)  # it never stays RUNNING with nobody executing it
    assert status.status == "FAILED"
    messages = [g.failure_message or "" for g in status.groups] + [t.failure_message or "" for t in status.tasks]
    assert any("could not write its state (disk-full)" in m for m in messages), messages
    run_dir = backend.workflows_dir / workflow_id
    assert [p.name for p in run_dir.rglob("*.tmp")] == []
    assert not (run_dir / ".state-reserve").exists()
    (output_dir(backend, workflow_id, "hog") / "big").unlink()


def test_submit_on_a_full_disk_is_a_coded_error_and_leaves_no_run(small_disk: Path) -> None:
    from skill.errors import BackendError

    backend = LocalBackend(small_disk / "root")
    backend.workflows_dir.mkdir(parents=True)
    filler = fill_disk(small_disk)
    with pytest.raises(BackendError) as caught:
        backend.submit(render_text(QUICK))
    assert caught.value.code == "disk-full" and caught.value.remedy
    assert list(backend.workflows_dir.iterdir()) == []


def test_poll_of_a_dead_runner_on_a_full_disk_is_a_coded_error(small_disk: Path) -> None:
    from skill.errors import BackendError

    backend = LocalBackend(small_disk / "root")
    workflow_id = backend.submit(render_text(LONG, set_string={"name": "stranded"}))
    until(lambda: running_pid(backend, workflow_id, "sleeper"), "the task to run")
    os.kill(int((backend.workflows_dir / workflow_id / "runner.pid").read_text()), signal.SIGKILL)
    filler = fill_disk(small_disk)
    fresh = LocalBackend(backend.root)
    with pytest.raises(BackendError) as caught:
        until(lambda: fresh.query(workflow_id).terminal, "query to settle the dead runner")  # the settled state cannot be written
    assert caught.value.code == "disk-full" and caught.value.remedy
    assert [p.name for p in (backend.workflows_dir / workflow_id).glob("*.tmp")] == []
    filler.unlink()
    assert fresh.wait(workflow_id, 10).status == "FAILED"  # space again: the run is settled
    until(lambda: task_processes(workflow_id) == [], "the orphaned task to be killed", timeout=10)

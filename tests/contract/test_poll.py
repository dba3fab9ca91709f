"""poll: one-shot or wait, heartbeats, backoff, a deadline, transient errors survived, FAILED returned."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from skill.errors import BackendTimeout, BackendUnavailable, RateLimited
from skill.steps.logs import LogsRequest, get_logs
from skill.steps.monitor import PollRequest, ProgressEvent, poll
from tests.fakes.backend import FakeBackend, status_of

WID = "vda-demo-1"
TROUBLESHOOTING = """\
# Troubleshooting

### Jinja substitution failure
match: '[A-Za-z_]+' is undefined
cause: a key is missing.
action: resubmit once with one --set-string.

### A worker waits for the VLM or LLM
match: not ready after \\d+s
cause: the endpoint is down.
action: check NIM health and the /v1 base URL.
"""


class FakeClock:
    """Monotonic time that only moves when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture(autouse=True)
def skill_dir_with_reference(tmp_path: Path, monkeypatch):
    """A skill root whose references/troubleshooting.md is known to this test."""
    (tmp_path / "references").mkdir()
    (tmp_path / "references" / "troubleshooting.md").write_text(TROUBLESHOOTING, encoding="utf-8")
    monkeypatch.setenv("VDA_SKILL_DIR", str(tmp_path))


def sequence(*states: tuple[str, dict[str, str]]):
    def on_query(wid: str, n: int):
        state, tasks = states[min(n, len(states) - 1)]
        return status_of(wid, state, tasks)
    return on_query


def test_one_shot_reads_once():
    fake = FakeBackend()
    fake.on_query = sequence(("RUNNING", {"setup": "COMPLETED", "cosmos_worker_0": "RUNNING"}))
    clock = FakeClock()
    result = poll(PollRequest(workflow_id=WID), backend=fake, clock=clock, sleep=clock.sleep)
    assert result.status == "RUNNING" and not result.terminal and not result.timed_out
    assert [(t.name, t.status) for t in result.tasks] == [("setup", "COMPLETED"), ("cosmos_worker_0", "RUNNING")]
    assert result.polls == 1 and clock.sleeps == []
    assert f"workflow_id={WID}" in result.next


def test_wait_until_completed_with_heartbeats_and_backoff():
    fake = FakeBackend()
    states = [("PENDING", {"setup": "SCHEDULING"})] * 3 + [("RUNNING", {"setup": "RUNNING"})] * 30 + [("COMPLETED", {"setup": "COMPLETED"})]
    fake.on_query = sequence(*states)
    clock = FakeClock()
    events: list[ProgressEvent] = []
    req = PollRequest(workflow_id=WID, wait=True, timeout_s=7200, interval_s=10, max_interval_s=40, heartbeat_s=60)
    result = poll(req, backend=fake, on_progress=events.append, clock=clock, sleep=clock.sleep)
    assert result.status == "COMPLETED" and result.terminal and not result.failed
    assert result.polls == len(states)
    assert "stage_artifacts" in result.next
    kinds = [e.kind for e in events]
    assert kinds.count("status") == 3  # PENDING, RUNNING, COMPLETED
    assert "heartbeat" in kinds
    times = [e.elapsed_s for e in events]
    assert all(b - a <= 60 + 1e-9 for a, b in zip([0.0, *times], times))  # never more than heartbeat_s of silence
    assert max(clock.sleeps) <= 40 and clock.sleeps[0] == 10
    assert clock.sleeps[4:6] == [15.0, 22.5]  # backoff x1.5 while nothing changes...
    assert 40.0 in clock.sleeps  # ...up to the cap (pauses are only shortened to keep a heartbeat due)


def test_a_completed_model_cache_workflow_leads_back_to_the_guard():
    fake = FakeBackend()
    fake.on_query = sequence(("COMPLETED", {"setup": "COMPLETED"}))
    result = poll(PollRequest(workflow_id="setup_model_cache-4"), backend=fake)
    assert result.terminal and "pre_submit_guard" in result.next and "stage_artifacts" not in result.next


def test_survives_five_consecutive_transient_errors():
    fake = FakeBackend()
    fake.fail_next("query", BackendUnavailable("connection refused"), times=3)
    fake.fail_next("query", RateLimited("HTTP 429"), times=1)
    fake.fail_next("query", BackendTimeout("query ran past 30s"), times=1)
    fake.on_query = sequence(("COMPLETED", {"setup": "COMPLETED"}))
    clock = FakeClock()
    events: list[ProgressEvent] = []
    result = poll(PollRequest(workflow_id=WID, wait=True, interval_s=5), backend=fake, on_progress=events.append, clock=clock, sleep=clock.sleep)
    assert result.status == "COMPLETED" and result.transient_errors == 5
    assert [e.kind for e in events].count("transient_error") == 5


def test_six_consecutive_transient_errors_fail_with_the_last_one():
    fake = FakeBackend()
    fake.fail_next("query", BackendUnavailable("connection refused"), times=5)
    fake.fail_next("query", BackendTimeout("the sixth"), times=1)
    clock = FakeClock()
    with pytest.raises(BackendTimeout, match="the sixth"):
        poll(PollRequest(workflow_id=WID, wait=True, interval_s=5), backend=fake, clock=clock, sleep=clock.sleep)


def test_transient_count_resets_after_a_success():
    fake = FakeBackend()
    fake.fail_next("query", BackendUnavailable("blip"), times=4)
    fake.on_query = sequence(("RUNNING", {"setup": "RUNNING"}), ("COMPLETED", {"setup": "COMPLETED"}))
    clock = FakeClock()

    def flaky_again(event: ProgressEvent) -> None:
        if event.kind == "status" and event.status == "RUNNING":
            fake.fail_next("query", BackendUnavailable("blip"), times=4)

    result = poll(PollRequest(workflow_id=WID, wait=True, interval_s=5), backend=fake, on_progress=flaky_again, clock=clock, sleep=clock.sleep)
    assert result.status == "COMPLETED" and result.transient_errors == 8


def test_failed_is_returned_with_log_tail_and_hint(monkeypatch):
    secret = "nvapi-poll-canary-123456789"
    monkeypatch.setenv("NVIDIA_API_KEY", secret)
    log = "\n".join([f"2026/01/01 00:00:{i:02d} [cosmos_worker_0] step {i}" for i in range(300)] + [
        f"2026/01/01 00:01:00 [cosmos_worker_0] using key {secret}",
        "2026/01/01 00:01:01 [cosmos_worker_0] ERROR vlm not ready after 180s",
    ])
    fake = FakeBackend(logs={"cosmos_worker_0": log})
    fake.on_query = sequence(("FAILED", {"setup": "COMPLETED", "cosmos_worker_0": "FAILED", "pl_augmented_worker_0": "FAILED_UPSTREAM"}))
    clock = FakeClock()
    result = poll(PollRequest(workflow_id=WID, wait=True), backend=fake, clock=clock, sleep=clock.sleep)
    assert result.status == "FAILED" and result.failed and result.terminal
    assert result.failed_tasks == ["cosmos_worker_0"]
    tail = result.log_tail["cosmos_worker_0"]
    assert len(tail.splitlines()) == 200 and tail.endswith("not ready after 180s")
    assert secret not in result.model_dump_json()
    assert result.hint is not None and result.hint.symptom == "A worker waits for the VLM or LLM"
    assert "fresh run_id" in result.next


def test_failed_without_task_failures_reads_the_workflow_log():
    fake = FakeBackend(logs={"": "Jinja Template Error: 'video' is undefined"})
    fake.on_query = sequence(("FAILED_SUBMISSION", {}))
    result = poll(PollRequest(workflow_id=WID), backend=fake)
    assert result.failed and result.failed_tasks == []
    assert "workflow" in result.log_tail
    assert result.hint is not None and result.hint.symptom == "Jinja substitution failure"


def test_timeout_names_the_last_state_and_the_next_call():
    fake = FakeBackend()
    fake.on_query = sequence(("RUNNING", {"cosmos_worker_0": "RUNNING"}))
    clock = FakeClock()
    result = poll(PollRequest(workflow_id=WID, wait=True, timeout_s=100, interval_s=10, max_interval_s=30), backend=fake, clock=clock, sleep=clock.sleep)
    assert result.timed_out and not result.terminal and result.status == "RUNNING"
    assert "still RUNNING after 100s" in result.message
    assert result.next == f"call poll again with workflow_id={WID}"
    assert clock.now - 1000.0 == pytest.approx(100.0)


@pytest.mark.parametrize("bad", [
    {"interval_s": 0.5}, {"interval_s": 601}, {"timeout_s": 0}, {"heartbeat_s": 121},
    {"interval_s": 30, "max_interval_s": 10}, {"max_transient_errors": -1}, {"workflow_id": "bad id"}, {"extra": 1},
])
def test_bounds_are_validated(bad):
    with pytest.raises(ValidationError):
        PollRequest(**{"workflow_id": WID, **bad})


def test_get_logs_is_redacted_and_hinted(monkeypatch):
    secret = "hf_logscanary0123456789"
    monkeypatch.setenv("HF_TOKEN", secret)
    fake = FakeBackend(logs={"setup": f"token {secret}\nJinja Template Error: 'dataset' is undefined"})
    result = get_logs(LogsRequest(workflow_id=WID, task="setup", last_n=5), backend=fake)
    assert result.lines == 2 and secret not in result.text
    assert result.hint is not None and result.hint.symptom == "Jinja substitution failure"

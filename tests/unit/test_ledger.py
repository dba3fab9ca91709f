"""The run ledger: SQLite rows per run id, WAL, safe under threads, secrets never stored."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from skill.errors import NotFound
from skill.ledger import Ledger, default_ledger_path, values_hash

VALUES = {"dataset": "vda-demo", "run_id": "run-1a2b3c4d", "storage_url": "s3://b/p", "video": "clip"}


def test_begin_then_record_then_mark(tmp_path: Path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        record, created = ledger.begin("run-1a2b3c4d", "e2e", "osmo", VALUES)
        assert created and record.status == "submitting" and record.attempts == 1
        assert record.values == VALUES and record.values_hash == values_hash(VALUES)
        again, created_again = ledger.begin("run-1a2b3c4d", "e2e", "osmo", {"other": "x"})
        assert not created_again and again.values == VALUES  # an existing row is never overwritten
        assert ledger.record_workflow("run-1a2b3c4d", "vda-demo-1").status == "submitted"
        done = ledger.mark("run-1a2b3c4d", "COMPLETED")
        assert done.workflow_id == "vda-demo-1" and done.status == "COMPLETED"
        assert ledger.retry("run-1a2b3c4d").attempts == 2
        assert ledger.find_workflow("vda-demo-1").run_id == "run-1a2b3c4d"
        assert ledger.get("run-00000000") is None


def test_rows_persist_and_use_wal(tmp_path: Path):
    path = tmp_path / "nested" / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.begin("run-00000001", "auto_labeling", "local", VALUES)
        ledger.mark("run-00000001", "failed", error="boom")
    with Ledger(path) as reopened:
        record = reopened.get("run-00000001")
        assert record is not None and record.status == "failed" and record.last_error == "boom"
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode.lower() == "wal"


def test_list_is_newest_first_and_limited(tmp_path: Path):
    with Ledger(tmp_path / "l.sqlite") as ledger:
        for i in range(5):
            ledger.begin(f"run-0000000{i}", "e2e", "osmo", VALUES)
        ledger.mark("run-00000002", "submitted")
        runs = ledger.list(limit=3)
        assert len(runs) == 3
        assert runs[0].run_id == "run-00000002"


def test_mark_unknown_run_is_not_found(tmp_path: Path):
    with Ledger(tmp_path / "l.sqlite") as ledger, pytest.raises(NotFound):
        ledger.mark("run-deadbeef", "failed")


def test_values_hash_ignores_order_but_not_values():
    assert values_hash({"a": "1", "b": "2"}) == values_hash({"b": "2", "a": "1"})
    assert values_hash({"a": "1", "b": "2"}) != values_hash({"a": "1", "b": "3"})
    assert values_hash({"a": "1"}) != values_hash({"a": "1", "workers": "2"})


def test_one_thread_wins_a_contested_run_id(tmp_path: Path):
    ledger = Ledger(tmp_path / "l.sqlite")
    barrier = threading.Barrier(16)
    created: list[bool] = []
    lock = threading.Lock()

    def claim() -> None:
        barrier.wait()
        _, won = ledger.begin("run-0badc0de", "e2e", "osmo", VALUES)
        with lock:
            created.append(won)

    threads = [threading.Thread(target=claim) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(created) == [False] * 15 + [True]
    assert ledger.get("run-0badc0de").attempts == 1
    ledger.close()


def test_many_threads_many_runs_all_recorded(tmp_path: Path):
    ledger = Ledger(tmp_path / "l.sqlite")

    def work(i: int) -> None:
        run_id = f"run-{i:08x}"
        ledger.begin(run_id, "e2e", "osmo", {**VALUES, "run_id": run_id})
        ledger.record_workflow(run_id, f"vda-demo-{i}")
        ledger.mark(run_id, "RUNNING")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    runs = ledger.list(limit=100)
    assert len(runs) == 40
    assert all(r.status == "RUNNING" and r.workflow_id == f"vda-demo-{int(r.run_id[4:], 16)}" for r in runs)
    ledger.close()


def test_secrets_are_not_written_to_the_database(tmp_path: Path, monkeypatch):
    secret = "nvapi-ledger-canary-987654321"
    monkeypatch.setenv("NGC_API_KEY", secret)
    path = tmp_path / "l.sqlite"
    with Ledger(path) as ledger:
        ledger.begin("run-00000abc", "e2e", "osmo", {**VALUES, "vlm_url": f"https://x/v1?key={secret}"})
        ledger.mark("run-00000abc", "failed", error=f"refused with Bearer {secret}")
        record = ledger.get("run-00000abc")
    assert secret not in record.model_dump_json()
    raw = b"".join(p.read_bytes() for p in tmp_path.iterdir())
    assert secret.encode() not in raw


def test_default_path_is_in_the_workspace(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("VDA_HOME", str(tmp_path))
    assert default_ledger_path() == tmp_path / ".vda" / "ledger.sqlite"
    with Ledger() as ledger:
        assert ledger.path == tmp_path / ".vda" / "ledger.sqlite"
    assert (tmp_path / ".vda" / "ledger.sqlite").is_file()


def test_a_damaged_ledger_says_so_and_how_to_recover(tmp_path):
    """A ledger file that is not a database is damaged, not unwritable: the remedy moves it aside
    and warns that its runs are no longer known (issue 14: the old remedy was 'check it is writable')."""
    from skill.errors import SkillError

    path = tmp_path / "ledger.sqlite"
    path.write_bytes(b"\x13\x37" * 4000)
    with pytest.raises(SkillError) as caught:
        Ledger(path)
    assert caught.value.code == "ledger-corrupt"
    assert "mv " in caught.value.remedy and "writable" not in caught.value.remedy

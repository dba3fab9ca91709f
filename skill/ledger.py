"""The run ledger: one SQLite row per run id, so a submit is never made twice by accident.

Table ``runs(run_id PK, flow, backend, values_json, values_hash, workflow_id, status, attempts,
created_at, updated_at, last_error)`` in ``<workspace>/.vda/ledger.sqlite`` (WAL journal, so
several processes may read while one writes). One :class:`Ledger` may be shared by threads: a lock
serialises its connection, and :meth:`Ledger.begin` claims a run id inside one ``BEGIN IMMEDIATE``
transaction, so two concurrent submits of the same run id cannot both believe they are first.

Statuses: ``submitting`` (claimed, backend call in flight or interrupted), ``submitted`` (the
backend returned a workflow id), ``uncertain`` (the call timed out; a workflow may exist),
``failed`` (the backend refused the submit; nothing runs), or any OSMO workflow state recorded
later (``COMPLETED``, ``FAILED``, ...).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from skill.errors import NotFound, SkillError
from skill.models import WorkflowState
from skill.paths import workspace_dir
from skill.secrets import redact, redact_obj

__all__ = ["POLICY_STATE_TTL_S", "Ledger", "LedgerStatus", "RunRecord", "default_ledger_path", "values_hash"]

LedgerStatus = Literal["submitting", "submitted", "uncertain", "failed"] | WorkflowState

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id      TEXT PRIMARY KEY,
    flow        TEXT NOT NULL,
    backend     TEXT NOT NULL,
    values_json TEXT NOT NULL,
    values_hash TEXT NOT NULL,
    workflow_id TEXT,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    last_error  TEXT
)
"""

# The policy's memory of one client scope (see tools/_mcp_state.py): a RunState as JSON, so a client
# that starts a process per call (the MCP Inspector CLI) keeps its preflight, ETA and guards.
_POLICY_SCHEMA = """
CREATE TABLE IF NOT EXISTS policy_states (
    scope      TEXT PRIMARY KEY,
    state_json TEXT NOT NULL,
    updated    REAL NOT NULL
)
"""
POLICY_STATE_TTL_S = 6 * 3600.0


def values_hash(pairs: Mapping[str, str]) -> str:
    """sha256 over the submit pairs, sorted by key, as ``k=v`` lines: the same values give the same
    hash whatever their order. The policy ties a passing guard to a submit through it."""
    canonical = "\n".join(f"{k}={pairs[k]}" for k in sorted(pairs))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def default_ledger_path() -> Path:
    return workspace_dir() / ".vda" / "ledger.sqlite"


class RunRecord(BaseModel):
    """One ledger row."""

    model_config = ConfigDict(extra="forbid")
    run_id: str
    flow: str
    backend: str
    values: dict[str, str] = Field(description="The submit pairs (key -> value), stored redacted.")
    values_hash: str
    workflow_id: str | None = None
    status: str
    attempts: int = 0
    created_at: str
    updated_at: str
    last_error: str | None = None


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Ledger:
    """SQLite-backed record of submits. Safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_ledger_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute(_SCHEMA)
            self._conn.execute(_POLICY_SCHEMA)
        except sqlite3.Error as exc:
            if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
                # "file is not a database", "database disk image is malformed": the file is damaged, not unreachable
                raise SkillError(
                    f"The run ledger at {self.path} is damaged ({exc}).",
                    remedy=f"Move it aside (mv {self.path} {self.path}.broken) and retry; the runs it recorded are then "
                           "unknown here, so list the backend's workflows before submitting any of them again.",
                    code="ledger-corrupt",
                ) from exc
            raise SkillError(
                f"The run ledger at {self.path} cannot be opened ({type(exc).__name__}).",
                remedy="Check that the workspace folder is writable, or set VDA_HOME to one that is.",
                code="ledger-unavailable",
            ) from exc

    # --- lifecycle ------------------------------------------------------------------------
    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- writes ----------------------------------------------------------------------------
    def begin(self, run_id: str, flow: str, backend: str, values: Mapping[str, str]) -> tuple[RunRecord, bool]:
        """Claim ``run_id`` for a submit attempt.

        Returns ``(record, created)``. When the id is new, a ``submitting`` row is inserted with
        ``attempts=1`` and ``created`` is True. When it exists, the row is returned unchanged and
        ``created`` is False: the caller decides (reuse, refuse, or :meth:`retry`).
        """
        pairs = {str(k): str(v) for k, v in values.items()}
        now = _now()
        with self._lock, self._transaction():
            row = self._row(run_id)
            if row is not None:
                return self._record(row), False
            self._conn.execute(
                "INSERT INTO runs (run_id, flow, backend, values_json, values_hash, workflow_id, status, attempts,"
                " created_at, updated_at, last_error) VALUES (?, ?, ?, ?, ?, NULL, 'submitting', 1, ?, ?, NULL)",
                (run_id, flow, backend, json.dumps(redact_obj(pairs), sort_keys=True), values_hash(pairs), now, now),
            )
            return self._record(self._row(run_id)), True

    def retry(self, run_id: str) -> RunRecord:
        """Start another attempt on an existing row: status ``submitting``, ``attempts + 1``."""
        return self._update(run_id, "status = 'submitting', attempts = attempts + 1", ())

    def record_workflow(self, run_id: str, workflow_id: str) -> RunRecord:
        """The backend accepted the submit: store the workflow id, status ``submitted``."""
        return self._update(run_id, "workflow_id = ?, status = 'submitted', last_error = NULL", (workflow_id,))

    def mark(self, run_id: str, status: str, error: str | None = None) -> RunRecord:
        """Set the status (and the redacted last error, when given)."""
        if error is None:
            return self._update(run_id, "status = ?", (status,))
        return self._update(run_id, "status = ?, last_error = ?", (status, redact(error)[:2000]))

    # --- reads -----------------------------------------------------------------------------
    def get(self, run_id: str) -> RunRecord | None:
        with self._lock:
            row = self._row(run_id)
        return self._record(row) if row is not None else None

    def list(self, limit: int = 50) -> list[RunRecord]:
        """The most recently updated runs first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT * FROM runs ORDER BY updated_at DESC, rowid DESC LIMIT ?", (max(1, int(limit)),)
            ).fetchall()
        return [self._record(r) for r in rows]

    def find_workflow(self, workflow_id: str) -> RunRecord | None:
        with self._lock:
            row = self._conn.execute("SELECT * FROM runs WHERE workflow_id = ?", (workflow_id,)).fetchone()
        return self._record(row) if row is not None else None

    # --- policy memory ----------------------------------------------------------------------
    def load_policy_state(self, scope: str, *, max_age_s: float = POLICY_STATE_TTL_S) -> str | None:
        """The JSON saved for ``scope`` unless older than ``max_age_s`` (then it is forgotten)."""
        with self._lock:
            row = self._conn.execute("SELECT state_json, updated FROM policy_states WHERE scope = ?", (scope,)).fetchone()
            if row is None:
                return None
            if time.time() - row["updated"] > max_age_s:
                self._conn.execute("DELETE FROM policy_states WHERE scope = ?", (scope,))
                return None
            return row["state_json"]

    def save_policy_state(self, scope: str, state_json: str) -> None:
        """Replace the JSON saved for ``scope`` (it holds no secret: RunState keeps none)."""
        with self._lock:
            self._conn.execute(
                "INSERT INTO policy_states (scope, state_json, updated) VALUES (?, ?, ?) "
                "ON CONFLICT(scope) DO UPDATE SET state_json = excluded.state_json, updated = excluded.updated",
                (scope, redact(state_json), time.time()),
            )

    # --- internals -------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _row(self, run_id: str) -> sqlite3.Row | None:
        return self._conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()

    def _update(self, run_id: str, assignments: str, params: tuple) -> RunRecord:
        with self._lock, self._transaction():
            cursor = self._conn.execute(
                f"UPDATE runs SET {assignments}, updated_at = ? WHERE run_id = ?", (*params, _now(), run_id)
            )
            if cursor.rowcount == 0:
                raise NotFound(f"The ledger has no run {run_id}.", remedy="Submit the run first, or list runs with the ledger.")
            return self._record(self._row(run_id))

    @staticmethod
    def _record(row: sqlite3.Row) -> RunRecord:
        data = dict(row)
        return RunRecord(values=json.loads(data.pop("values_json")), **data)

"""Task logs in the line format of ``osmo workflow logs`` (6.3.1), written by the runner, read by ``logs()``.

    2026/05/09 07:35:25 [setup] user output line
    2026/05/09 07:35:25 [setup][osmo] executor message

Every line is redacted before it is written. Each task has ``logs/<task>.log``; ``workflow.log``
holds every line of every task in the order they arrived.
"""

from __future__ import annotations

import threading
from collections import deque
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from skill.secrets import redact

__all__ = ["RunLog", "format_line", "tail"]


def format_line(task: str, text: str, *, osmo: bool = False, when: datetime | None = None) -> str:
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y/%m/%d %H:%M:%S")
    tag = f"[{task}][osmo]" if osmo else f"[{task}]"
    return f"{stamp} {tag} {redact(text)}"


class RunLog:
    """Appends formatted lines to the run's combined log and the task's own log, thread-safely."""

    def __init__(self, run_dir: Path) -> None:
        self.combined = run_dir / "workflow.log"
        self.folder = run_dir / "logs"
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._handles: dict[str, IO[str]] = {}
        self.write_failure: str | None = None  # set once a log line could not be written (a full disk)

    def write(self, task: str, text: str, *, osmo: bool = False) -> None:
        """Append one line; a failed write (disk full) loses log lines, never the run."""
        line = format_line(task, text.rstrip("\r\n"), osmo=osmo) + "\n"
        with self._lock:
            for key, path in (("", self.combined), (task, self.folder / f"{task}.log")):
                try:
                    handle = self._handles.get(key)
                    if handle is None:
                        handle = self._handles[key] = path.open("a", encoding="utf-8")
                    handle.write(line)
                    handle.flush()
                except OSError as exc:  # recorded; the run's state (not its log) is what must survive
                    self.write_failure = self.write_failure or exc.strerror or type(exc).__name__

    def pump(self, task: str, stream: IO[bytes]) -> None:
        """Copy every line of a task's output stream into the logs until it closes."""
        with stream:
            for raw in iter(stream.readline, b""):
                self.write(task, raw.decode("utf-8", errors="replace"))

    def close(self) -> None:
        with self._lock:
            for handle in self._handles.values():
                try:
                    handle.close()
                except OSError as exc:  # the buffered tail could not be flushed (disk full)
                    self.write_failure = self.write_failure or exc.strerror or type(exc).__name__
            self._handles.clear()


def tail(path: Path, last_n: int) -> list[str]:
    """The last ``last_n`` lines of a log file ([] when it does not exist yet)."""
    if not path.is_file():
        return []
    with path.open(encoding="utf-8", errors="replace") as handle:
        return [line.rstrip("\n") for line in deque(handle, maxlen=last_n)]

"""One coded line in a run cache's log (``<cache>/<area>/prepare.log``): what a task tried to do ahead
for a later step and why it did not. The task's own log stays unchanged, and the later step simply
does the work itself, so nothing here may fail a task."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

__all__ = ["LOG_NAME", "note_in_cache"]

LOG_NAME = "prepare.log"


def note_in_cache(cache: Path, area: str, subject: str, code: str, message: str, *, instead: str) -> bool:
    """Append ``<time> <subject>: [<code>] <message> Next: <instead>``; False when even that cannot
    be written (the cache is unusable)."""
    stamp = datetime.now(timezone.utc).isoformat(timespec="seconds")
    try:
        folder = Path(cache) / area
        folder.mkdir(parents=True, exist_ok=True)
        with (folder / LOG_NAME).open("a", encoding="utf-8") as log:
            log.write(f"{stamp} {subject}: [{code}] {message} Next: {instead}\n")
    except OSError:
        return False
    return True

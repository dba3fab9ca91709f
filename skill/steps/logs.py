"""The last lines of a workflow's (or one task's) log, redacted, with a troubleshooting hint."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from skill.backends.base import Backend
from skill.secrets import redact
from skill.triage import TriageHint, triage

__all__ = ["LogsRequest", "LogsResult", "get_logs", "read_log"]

# terminal escapes (CSI such as colours, OSC such as titles, other two-byte ESC forms), then every
# C0/C1 control character but tab and newline: what is left prints the same on any screen or model
_ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[ -/]*[0-~]?")
_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


class LogsRequest(BaseModel):
    """Which log to read."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    workflow_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=200)] = Field(
        description="Workflow id, e.g. vda-demo-3."
    )
    task: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]*$", max_length=200)] | None = Field(
        default=None, description="Task, e.g. cosmos_worker_0; default the whole workflow."
    )
    last_n: int = Field(default=200, ge=1, le=10000, description="Lines from the end.")


class LogsResult(BaseModel):
    model_config = ConfigDict(extra="forbid")
    workflow_id: str
    task: str | None
    lines: int = Field(description="Lines returned.")
    text: str = Field(description="The log lines, secrets redacted.")
    hint: TriageHint | None = Field(default=None, description="Matching section of references/troubleshooting.md, if any.")


def read_log(backend: Backend, workflow_id: str, *, task: str | None, last_n: int) -> str:
    """The backend's log lines as plain text: terminal escapes and control bytes removed (a CLI's
    colours, a task's stray NULs), carriage returns ending lines, secrets redacted."""
    raw = backend.logs(workflow_id, task=task, last_n=last_n).replace("\r\n", "\n").replace("\r", "\n")
    return redact(_CONTROLS.sub("", _ESCAPES.sub("", raw)))


def get_logs(req: LogsRequest, *, backend: Backend) -> LogsResult:
    """Read the last ``last_n`` log lines of the workflow or one task."""
    text = read_log(backend, req.workflow_id, task=req.task, last_n=req.last_n)
    lines = text.splitlines()[-req.last_n :]
    body = "\n".join(lines)
    return LogsResult(workflow_id=req.workflow_id, task=req.task, lines=len(lines), text=body, hint=triage(body))

"""Parsers for the ``osmo`` 6.3.1 CLI's stdout (its src/cli/ formatters). Pure functions, no I/O.

Every parser takes the captured stdout (warnings live on stderr and never reach a parser) and
either returns typed data or raises :class:`UnparseableOutput`, which the backend's single error
seam turns into ``CommandFailed(code="unparseable-output")``.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from skill.statuses import CredentialInfo, GroupStatus, PoolInfo, TaskStatus, WorkflowStatus

__all__ = [
    "UnparseableOutput",
    "absolute_keys",
    "bucket_root",
    "error_message",
    "find_json",
    "is_unknown_flag",
    "mentions_not_found",
    "needs_login",
    "normalize_time",
    "parse_cancel",
    "parse_config",
    "parse_credentials",
    "parse_data_list",
    "parse_logs",
    "parse_pools",
    "parse_query",
    "parse_submit",
    "parse_version",
]

_WORKFLOW_ID_LINE = re.compile(r"^Workflow ID\s+-\s+(\S+)", re.MULTILINE)
_ERROR_MESSAGE = re.compile(r"^Error message:\s*(.*)$", re.MULTILINE)
_TOTAL = re.compile(r"^Total\s+(\d+)\s+objects?\s+found\s*$", re.IGNORECASE)
_LOG_HEADER = re.compile(r"^Workflow \S+ has (?:error )?logs:\s*$")
# 6.3.1's worker appends this block (one log-stream entry) to a failed workflow's log when it ends
# (src/utils/job/jobs.py); it is a pointer to the status page, not a line any task wrote
_FAILURE_TRAILER = re.compile(r"\n*^-{100}\nWorkflow terminated abnormally, view task status at:\n.*?^-{100}$\n*", re.MULTILINE | re.DOTALL)
_CANCEL_FAILED = re.compile(r"^Workflow cancel+ation failed for workflow (\S+?):\s*(.*)$", re.MULTILINE)
_UNKNOWN_FLAG = re.compile(r"unknown (?:flag|option)|unrecognized arguments?:.*--no-pager", re.IGNORECASE)
# 6.3.1 raises OSMOUserError('Must login first with "login" command') (exit 2) without a login.yaml;
# the other phrases cover expired sessions and older builds
_NEEDS_LOGIN = re.compile(r'must login first|not logged in|please log ?in|osmo login', re.IGNORECASE)
_NOT_FOUND = re.compile(r"not found|does not exist|no such|could not find|unknown workflow", re.IGNORECASE)


class UnparseableOutput(ValueError):
    """The CLI answered something we cannot read. ``what`` names the command's payload."""

    def __init__(self, what: str, reason: str) -> None:
        self.what, self.reason = what, reason
        super().__init__(f"{what}: {reason}")


# --- generic helpers ------------------------------------------------------------------------------


def find_json(stdout: str, what: str) -> Any:
    """Decode the first JSON document in ``stdout``; tolerate text lines before it (6.3.1 prints
    notes such as ``No Datasets fit your query.`` ahead of the JSON)."""
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^[ \t]*[\[{]|^[ \t]*null\b", stdout, re.MULTILINE):
        start = match.start() + (len(match.group(0)) - len(match.group(0).lstrip()))
        try:
            value, _ = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            continue
        return value
    raise UnparseableOutput(what, "no JSON document in the output")


def error_message(stdout: str, stderr: str = "") -> str:
    """The server's error text: ``Error message: ...`` (text mode), ``{"message": ...}`` (json mode),
    else the last meaningful stderr/stdout line (argparse errors go to stderr)."""
    found = _ERROR_MESSAGE.search(stdout or "")
    if found and found.group(1).strip():
        return found.group(1).strip()
    try:
        data = find_json(stdout or "", "error")
    except UnparseableOutput:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str) and data["message"].strip():
        return data["message"].strip().splitlines()[0]
    for text in (stderr, stdout):
        lines = [ln.strip() for ln in (text or "").splitlines()]
        useful = [ln for ln in lines if ln and not ln.upper().startswith("WARNING") and not ln.startswith("usage:")]
        if useful:
            return useful[-1]
    return ""


def mentions_not_found(message: str) -> bool:
    return bool(_NOT_FOUND.search(message or ""))


# FastAPI's answer for a path no route serves. 6.3.1's CLI joins the service URL and the endpoint
# with a slash, and `pool list` passes `/api/pool_quota` (`/api/pool` for submit's default pool):
# with OSMO's pins (urllib3 2.7.0, requests 2.32.4) that reaches the route, with urllib3 2.8 /
# requests 2.34 the request line is `GET //api/pool_quota` and the service answers this 404.
_ROUTE_404 = re.compile(r'\{\s*\\?"detail\\?"\s*:\s*\\?"Not Found\\?"\s*\}')
_STATUS_404 = re.compile(r'status code 404|"code":\s*404|^Error code:\s*404\s*$', re.MULTILINE)


def is_route_404(stdout: str, stderr: str = "") -> bool:
    """The service answered HTTP 404 "Not Found" for the request's path itself (no such route),
    not for a named object: the sign of the CLI's `//api/...` request under newer HTTP libraries."""
    text = f"{stdout}\n{stderr}"
    return bool(_ROUTE_404.search(text) and _STATUS_404.search(text))


def needs_login(message: str) -> bool:
    return bool(_NEEDS_LOGIN.search(message or ""))


def is_unknown_flag(text: str) -> bool:
    return bool(_UNKNOWN_FLAG.search(text or ""))


def normalize_time(value: Any) -> str | None:
    """OSMO's JSON timestamps are naive UTC with a varying fraction: return ISO-8601 with +00:00.
    Values that do not parse are kept as given (a display string is better than nothing)."""
    if value is None or value == "":
        return None
    text = str(value).strip()
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat()


def _int_or_none(value: Any) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    text = str(value).strip().split(" ", 1)[0]
    try:
        return int(float(text))
    except ValueError:
        return None


def _float_or_none(value: Any) -> float | None:
    try:
        return float(value) if value is not None and not isinstance(value, bool) else None
    except (TypeError, ValueError):
        return None


# --- workflow -------------------------------------------------------------------------------------


def parse_submit(stdout: str) -> str:
    """Workflow id from ``{"name": ...}`` (``-t json``) or the text line ``Workflow ID - <id>``."""
    text = _WORKFLOW_ID_LINE.search(stdout or "")
    try:
        data = find_json(stdout or "", "workflow submit")
    except UnparseableOutput:
        data = None
    if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"].strip():
        return data["name"].strip()
    if text:
        return text.group(1)
    raise UnparseableOutput("workflow submit", "no workflow name in the output")


def _task(raw: dict[str, Any]) -> TaskStatus:
    return TaskStatus(
        name=str(raw.get("name", "")),
        status=str(raw.get("status", "")).upper(),
        exit_code=_int_or_none(raw.get("exit_code")),
        lead=bool(raw.get("lead", False)),
        retry_id=_int_or_none(raw.get("retry_id")) or 0,
        start_time=normalize_time(raw.get("start_time")),
        end_time=normalize_time(raw.get("end_time")),
        failure_message=raw.get("failure_message") or None,
    )


def parse_query(stdout: str, workflow_id: str) -> WorkflowStatus:
    """``osmo workflow query ID -t json`` -> WorkflowStatus; extra keys ignored, missing ones None."""
    data = find_json(stdout or "", "workflow query")
    if not isinstance(data, dict) or "status" not in data:
        raise UnparseableOutput("workflow query", "the JSON has no workflow status")
    try:
        groups = []
        for raw_group in data.get("groups") or []:
            if not isinstance(raw_group, dict):
                raise UnparseableOutput("workflow query", "a group is not an object")
            tasks = [_task(t) for t in raw_group.get("tasks") or [] if isinstance(t, dict)]
            groups.append(
                GroupStatus(
                    name=str(raw_group.get("name", "")),
                    status=str(raw_group.get("status", "")).upper(),
                    start_time=normalize_time(raw_group.get("start_time")),
                    end_time=normalize_time(raw_group.get("end_time")),
                    failure_message=raw_group.get("failure_message") or None,
                    tasks=tasks,
                )
            )
        return WorkflowStatus(
            workflow_id=str(data.get("name") or workflow_id),
            status=str(data["status"]).upper(),
            groups=groups,
            submit_time=normalize_time(data.get("submit_time")),
            start_time=normalize_time(data.get("start_time")),
            end_time=normalize_time(data.get("end_time")),
            duration=_float_or_none(data.get("duration")),
            pool=data.get("pool") or None,
            overview=data.get("overview") or None,
        )
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors()[:3])
        raise UnparseableOutput("workflow query", f"unexpected value in {fields}") from exc


def parse_logs(stdout: str, last_n: int) -> str:
    """Drop the ``Workflow X has logs:`` header and a failed workflow's closing pointer block;
    keep the last ``last_n`` lines."""
    lines = _FAILURE_TRAILER.sub("\n", stdout or "").splitlines()
    if lines and _LOG_HEADER.match(lines[0].strip()):
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines.pop()
    return "\n".join(lines[-last_n:]) if last_n > 0 else ""


def parse_cancel(stdout: str) -> tuple[str, str] | None:
    """``(workflow id, reason)`` when the CLI reported a per-id cancel failure (it still exits 0)."""
    found = _CANCEL_FAILED.search(stdout or "")
    return (found.group(1), found.group(2).strip()) if found else None


# --- data, pools, credentials, config, version -------------------------------------------------------


def parse_data_list(stdout: str) -> list[str]:
    """Object keys, one a line, then ``Total N objects found``; ``No entries found`` or 0 -> [].
    Folder lines (``.../outputs/``) are dropped: list with ``--recursive`` to get what they hold."""
    keys: list[str] = []
    total: int | None = None
    for raw in (stdout or "").splitlines():
        line = raw.strip()
        if not line or line.upper().startswith("WARNING"):
            continue
        if line.lower().startswith("no entries found"):
            return []
        counted = _TOTAL.match(line)
        if counted:
            total = int(counted.group(1))
            continue
        keys.append(line)
    if total == 0:
        return []
    if total is not None and total != len(keys):
        raise UnparseableOutput("data list", f"{len(keys)} keys printed but the total says {total}")
    # a trailing '/' is a folder: a prefix of a non-recursive listing or a zero-byte folder marker;
    # neither is a file to fetch (the total counts them, so they are dropped after the check)
    return [key for key in keys if not key.endswith("/")]


_BUCKET_DEPTH = {"s3": 1, "gs": 1, "azure": 2, "tos": 2, "swift": 3}


def bucket_root(url: str) -> str:
    """``s3://bucket/a/b`` -> ``s3://bucket/``: the part ``osmo data list`` keys are relative to
    (the bucket; for azure account/container, tos endpoint/bucket, swift endpoint/account/bucket)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return ""
    depth = _BUCKET_DEPTH.get(scheme.lower(), 1)
    return f"{scheme}://" + "/".join(rest.split("/")[:depth]) + "/"


def absolute_keys(url: str, keys: list[str]) -> list[str]:
    """Bucket-relative keys as printed by the CLI -> full storage URLs, like every backend returns."""
    root = bucket_root(url)
    return [key if "://" in key or not root else root + key.lstrip("/") for key in keys]


def _pool(raw: dict[str, Any]) -> PoolInfo:
    usage = raw.get("resource_usage") or {}
    frees = [v for v in (_int_or_none(usage.get("quota_free")), _int_or_none(usage.get("total_free"))) if v is not None]
    platforms = raw.get("platforms") or {}
    return PoolInfo(
        name=str(raw["name"]),
        status=str(raw.get("status", "")).upper(),
        platforms=sorted(platforms) if isinstance(platforms, dict) else [str(p) for p in platforms],
        default_platform=raw.get("default_platform") or None,
        gpu_free=min(frees) if frees else None,
        description=str(raw.get("description") or ""),
    )


def parse_pools(stdout: str) -> list[PoolInfo]:
    """``osmo pool list -t json``: ``node_sets[].pools[]`` -> PoolInfo (numbers arrive as strings)."""
    data = find_json(stdout or "", "pool list")
    if not isinstance(data, dict) or not isinstance(data.get("node_sets"), list):
        raise UnparseableOutput("pool list", "the JSON has no node_sets list")
    seen: dict[str, PoolInfo] = {}
    try:
        for node_set in data["node_sets"]:
            for raw in (node_set or {}).get("pools") or []:
                pool = _pool(raw)
                seen.setdefault(pool.name, pool)
    except (ValidationError, KeyError, TypeError, AttributeError) as exc:
        raise UnparseableOutput("pool list", "a pool entry lacks a name or a known status") from exc
    return list(seen.values())


def parse_credentials(stdout: str) -> list[CredentialInfo]:
    """``osmo credential -t json list``: ``{"credentials": [{cred_name, cred_type, profile}]}``."""
    data = find_json(stdout or "", "credential list")
    if not isinstance(data, dict) or not isinstance(data.get("credentials"), list):
        raise UnparseableOutput("credential list", "the JSON has no credentials list")
    out = []
    for raw in data["credentials"]:
        if not isinstance(raw, dict) or not raw.get("cred_name"):
            raise UnparseableOutput("credential list", "an entry has no cred_name")
        out.append(CredentialInfo(name=str(raw["cred_name"]), type=str(raw.get("cred_type") or ""), profile=raw.get("profile") or None))
    return out


def parse_config(stdout: str, kind: str) -> dict[str, Any]:
    data = find_json(stdout or "", f"config show {kind}")
    if not isinstance(data, dict):
        raise UnparseableOutput(f"config show {kind}", "the JSON is not an object")
    return data


def parse_version(stdout: str) -> dict[str, str | None]:
    """``osmo version -t json`` (all fields strings) -> ``{"client": "6.3.1", "service": ...}``;
    falls back to the text form ``OSMO client version:  X``."""
    try:
        data = find_json(stdout or "", "version")
    except UnparseableOutput:
        data = None
    out: dict[str, str | None] = {"client": None, "service": None}
    if isinstance(data, dict):
        for side in out:
            part = data.get(side)
            if isinstance(part, dict):
                nums = [str(part[k]) for k in ("major", "minor", "revision") if part.get(k) not in (None, "")]
                out[side] = ".".join(nums) or None
    for side in out:
        if out[side] is None:
            found = re.search(rf"^OSMO {side} version:\s*(\S+)", stdout or "", re.MULTILINE)
            out[side] = found.group(1) if found else None
    if out["client"] is None and out["service"] is None:
        raise UnparseableOutput("version", "no version numbers in the output")
    return out

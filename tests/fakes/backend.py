"""A scriptable in-memory Backend for step tests, built like httpx's MockTransport: the steps run
for real, only the place that runs workflows is replaced.

    fake = FakeBackend(objects={"s3://b/p/datasets/ds/clip.mp4": b"..."})
    fake.on_query = lambda wid, n: status_sequence[min(n, len(status_sequence) - 1)]
    fake.fail_next("query", BackendUnavailable("down"), times=2)
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

from skill.backends.base import CLUSTER_TRAITS
from skill.errors import NotFound, SkillError
from skill.models import CredentialInfo, GroupStatus, PoolInfo, TaskStatus, WorkflowStatus
from skill.render import RenderedSpec

__all__ = ["FakeBackend", "status_of"]


def status_of(workflow_id: str, state: str, tasks: dict[str, str] | None = None, exit_codes: dict[str, int] | None = None) -> WorkflowStatus:
    """Build a WorkflowStatus with one group per task (handy in tests)."""
    tasks = tasks or {}
    exit_codes = exit_codes or {}
    groups = [
        GroupStatus(name=f"{name}-group", status=task_state, tasks=[TaskStatus(name=name, status=task_state, lead=True, exit_code=exit_codes.get(name))])
        for name, task_state in tasks.items()
    ]
    return WorkflowStatus(workflow_id=workflow_id, status=state, groups=groups)


class FakeBackend:
    name = "osmo"
    traits = CLUSTER_TRAITS
    requires_secrets = True

    def __init__(
        self,
        *,
        objects: dict[str, bytes] | None = None,
        pools: list[PoolInfo] | None = None,
        credentials: list[CredentialInfo] | None = None,
        configs: dict[str, dict] | None = None,
        logs: dict[str, str] | None = None,
    ) -> None:
        self.objects: dict[str, bytes] = dict(objects or {})
        self._pools = pools if pools is not None else [PoolInfo(name="default", status="ONLINE", platforms=["gpu"], default_platform="gpu")]
        self._credentials = list(credentials or [])
        self.configs = configs if configs is not None else {"POD_TEMPLATE": {"default": {"spec": {"tolerations": [{"key": "nvidia.com/gpu"}]}}}}
        self._logs = dict(logs or {})
        self.submitted: list[tuple[RenderedSpec, str | None]] = []
        self.cancelled: list[str] = []
        self.credential_sets: list[tuple[str, str, dict[str, str]]] = []
        self.calls: list[str] = []
        self.query_count: dict[str, int] = defaultdict(int)
        self.on_query: Callable[[str, int], WorkflowStatus] = lambda wid, n: status_of(wid, "COMPLETED")
        self._failures: dict[str, list[SkillError]] = defaultdict(list)

    # --- scripting -------------------------------------------------------------------------
    def fail_next(self, method: str, error: SkillError, *, times: int = 1) -> None:
        self._failures[method].extend([error] * times)

    def _enter(self, method: str) -> None:
        self.calls.append(method)
        if self._failures[method]:
            raise self._failures[method].pop(0)

    # --- Backend ---------------------------------------------------------------------------
    def prewarmed(self) -> AbstractContextManager[None]:
        """Nothing to start ahead: the fake runs nothing."""
        return nullcontext()

    def submit(self, spec: RenderedSpec, *, pool: str | None = None) -> str:
        self._enter("submit")
        self.submitted.append((spec, pool))
        return f"{spec.name}-{len(self.submitted)}"

    def query(self, workflow_id: str) -> WorkflowStatus:
        self._enter("query")
        n = self.query_count[workflow_id]
        self.query_count[workflow_id] += 1
        return self.on_query(workflow_id, n)

    def logs(self, workflow_id: str, *, task: str | None = None, last_n: int = 200) -> str:
        self._enter("logs")
        text = self._logs.get(task or "", self._logs.get("", ""))
        return "\n".join(text.splitlines()[-last_n:])

    def wait_for_change(self, workflow_id: str, *, timeout_s: float) -> bool:
        self._enter("wait_for_change")
        return False  # no change signal (CLUSTER_TRAITS): pollers sleep on their own clock

    def cancel(self, workflow_id: str) -> None:
        self._enter("cancel")
        self.cancelled.append(workflow_id)

    def data_list(self, url: str) -> list[str]:
        self._enter("data_list")
        prefix = url.rstrip("/") + "/"
        return sorted(k for k in self.objects if k.startswith(prefix) or k == url)

    def data_download(self, url: str, dest: Path) -> list[Path]:
        self._enter("data_download")
        keys = self.data_list(url)
        self.calls.pop()  # data_list above is an implementation detail of download
        if not keys:
            raise NotFound(f"Nothing stored under {url}.", remedy="Check the URL with data list.")
        written = []
        for key in keys:
            rel = Path(key).name if key == url else key[len(url.rstrip("/")) + 1 :]
            target = Path(dest) / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.objects[key])
            written.append(target)
        return written

    def data_upload(self, url: str, paths: list[Path]) -> None:
        self._enter("data_upload")
        for path in paths:
            self.objects[f"{url.rstrip('/')}/{Path(path).name}"] = Path(path).read_bytes()

    def pools(self) -> list[PoolInfo]:
        self._enter("pools")
        return list(self._pools)

    def credentials(self) -> list[CredentialInfo]:
        self._enter("credentials")
        return list(self._credentials)

    def set_credential(self, name: str, type: str, payload: dict[str, str]) -> None:
        self._enter("set_credential")
        self.credential_sets.append((name, type, dict(payload)))
        self._credentials = [c for c in self._credentials if c.name != name] + [CredentialInfo(name=name, type=type)]

    def config_show(self, kind: str) -> dict:
        self._enter("config_show")
        if kind not in self.configs:
            raise NotFound(f"No {kind} config.", remedy="Ask an OSMO admin.")
        return self.configs[kind]

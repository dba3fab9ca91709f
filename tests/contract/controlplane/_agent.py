"""Stand-in OSMO backend agents (listener + worker), written from OSMO 6.3.1's backend message
protocol (``src/utils/backend_messages.py``): no Kubernetes behind them.

Runs under OSMO's interpreter (it needs ``websockets``); stdlib otherwise. One process holds:

* a listener websocket (``/api/agent/listener/pod/backend/NAME``): ``init``, one node
  (``resource`` + ``resource_usage``) and a ``heartbeat`` every few seconds, so the pool is ONLINE
  with capacity; ``update_pod`` messages on request move tasks on;
* a worker websocket (``/api/agent/worker/backend/NAME``): ``init``, then every job the service
  sends (zlib-compressed JSON) is recorded and answered ``job_status`` SUCCESS, the way the real
  worker answers after creating the Kubernetes objects;
* a task's ``osmo-ctrl`` sidecar, on request: it opens the task's logger websocket
  (``/api/logger/workflow/ID/osmo_ctrl/TASK/retry_id/N``) and sends log lines the way the Go
  sidecar does (``messages.CreateLog``: a JSON *string* holding ``{Source, Time, Text, IOType}``),
  then ``LOG_DONE``, and waits for the service's ``log_done`` answer;
* a control socket on 127.0.0.1 (one JSON object per line, one answer per line) for the tests:
  ``{"cmd": "state"}``, ``{"cmd": "pod", "workflow_uuid": ..., "task_uuid": ..., "retry_id": 0,
  "status": "RUNNING", "exit_code": null, "message": ""}`` and ``{"cmd": "log", "workflow_id": ...,
  "task": ..., "retry_id": 0, "lines": [...], "io_type": "STDOUT"}``.

Usage: python _agent.py SERVICE_URL BACKEND CONTROL_PORT
"""

from __future__ import annotations

import asyncio
import datetime
import json
import sys
import uuid
import zlib

import websockets

HEARTBEAT_S = 3.0
NODE = {
    "hostname": "vda-node-0",
    "available": True,
    "conditions": ["Ready"],
    "allocatable_fields": {"cpu": "64", "memory": "512Gi", "ephemeral-storage": "2000Gi", "nvidia.com/gpu": "8"},
    "label_fields": {"kubernetes.io/hostname": "vda-node-0", "kubernetes.io/arch": "amd64"},
    "taints": [],
}
ZERO_USAGE = {"cpu": "0", "memory": "0", "ephemeral-storage": "0", "nvidia.com/gpu": "0"}


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _message(kind: str, body: dict) -> str:
    return json.dumps({"type": kind, "body": body, "uuid": uuid.uuid4().hex})


def _init(backend: str) -> str:
    return _message("init", {"k8s_uid": f"vda-standin-{backend}", "k8s_namespace": "osmo-vda",
                             "version": "6.3.1", "node_condition_prefix": "osmo.nvidia.com/"})


class Agent:
    def __init__(self, service: str, backend: str) -> None:
        self.ws_base = service.replace("http://", "ws://").rstrip("/")
        self.backend = backend
        self.listener: websockets.WebSocketClientProtocol | None = None
        self.worker_connected = False
        self.jobs: list[dict] = []
        self.pods: list[dict] = []
        self.acks = 0
        self.outbox: asyncio.Queue[str] = asyncio.Queue()

    # --- listener ---------------------------------------------------------------------------
    async def run_listener(self) -> None:
        url = f"{self.ws_base}/api/agent/listener/pod/backend/{self.backend}"
        while True:
            try:
                async with websockets.connect(url, max_size=None) as ws:
                    await ws.send(_init(self.backend))
                    await ws.send(_message("resource", NODE))
                    await ws.send(_message("resource_usage", {"hostname": NODE["hostname"], "usage_fields": ZERO_USAGE,
                                                              "non_workflow_usage_fields": ZERO_USAGE}))
                    await ws.send(_message("heartbeat", {"time": _now()}))
                    self.listener = ws
                    await asyncio.gather(self._beat(ws), self._drain(ws), self._read_acks(ws))
            except (OSError, websockets.exceptions.WebSocketException) as exc:
                self.listener = None
                print(f"listener reconnecting: {type(exc).__name__}", file=sys.stderr, flush=True)
                await asyncio.sleep(0.5)

    async def _beat(self, ws) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            await ws.send(_message("heartbeat", {"time": _now()}))

    async def _drain(self, ws) -> None:
        while True:
            text = await self.outbox.get()
            await ws.send(text)

    async def _read_acks(self, ws) -> None:
        async for raw in ws:
            data = json.loads(raw)
            if data.get("type") == "ack":
                self.acks += 1

    # --- worker -----------------------------------------------------------------------------
    async def run_worker(self) -> None:
        url = f"{self.ws_base}/api/agent/worker/backend/{self.backend}"
        while True:
            try:
                async with websockets.connect(url, max_size=None) as ws:
                    await ws.send(_init(self.backend))
                    self.worker_connected = True
                    async for raw in ws:
                        if isinstance(raw, str):
                            continue  # the service's {"type": "heartbeat"}
                        job = json.loads(zlib.decompress(raw))
                        self._record(job)
                        await ws.send(_message("job_status", {"status": "SUCCESS", "message": None}))
            except (OSError, websockets.exceptions.WebSocketException) as exc:
                self.worker_connected = False
                print(f"worker reconnecting: {type(exc).__name__}", file=sys.stderr, flush=True)
                await asyncio.sleep(0.5)

    def _record(self, job: dict) -> None:
        kinds = []
        for resource in job.get("k8s_resources") or []:
            kinds.append(resource.get("kind"))
            if resource.get("kind") == "Pod":
                meta = resource.get("metadata", {})
                labels = meta.get("labels", {})
                containers = [c.get("name") for c in resource.get("spec", {}).get("containers", [])]
                self.pods.append({"name": meta.get("name"), "labels": labels, "containers": containers,
                                  "workflow_uuid": labels.get("osmo.workflow_uuid"),
                                  "task_uuid": labels.get("osmo.task_uuid"),
                                  "retry_id": int(labels.get("osmo.retry_id", 0) or 0)})
        self.jobs.append({"job_type": job.get("job_type"), "workflow_uuid": job.get("workflow_uuid"),
                          "group_name": job.get("group_name"), "kinds": kinds})

    # --- control ----------------------------------------------------------------------------
    async def serve_control(self, port: int) -> None:
        server = await asyncio.start_server(self._control, "127.0.0.1", port)
        async with server:
            await server.serve_forever()

    async def _control(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                request = json.loads(line)
                answer = await self._send_logs(request) if request.get("cmd") == "log" else self._answer(request)
                writer.write((json.dumps(answer) + "\n").encode())
                await writer.drain()
        finally:
            writer.close()

    async def _send_logs(self, request: dict) -> dict:
        task, retry_id = request["task"], int(request.get("retry_id", 0))
        url = f"{self.ws_base}/api/logger/workflow/{request['workflow_id']}/osmo_ctrl/{task}/retry_id/{retry_id}"
        try:
            async with websockets.connect(url, max_size=None) as ws:
                for text in request.get("lines") or []:
                    line = {"Source": task, "Time": _now(), "Text": text, "IOType": request.get("io_type", "STDOUT")}
                    await ws.send(json.dumps(json.dumps(line)))
                await ws.send(json.dumps(json.dumps({"IOType": "LOG_DONE"})))
                answer = json.loads(await asyncio.wait_for(ws.recv(), 10))
        except (OSError, asyncio.TimeoutError, websockets.exceptions.WebSocketException) as exc:
            return {"error": f"logger websocket: {type(exc).__name__}: {exc}"}
        return {"sent": len(request.get("lines") or []), "answer": answer}

    def _answer(self, request: dict) -> dict:
        cmd = request.get("cmd")
        if cmd == "state":
            return {"listener": self.listener is not None, "worker": self.worker_connected,
                    "jobs": self.jobs, "pods": self.pods, "acks": self.acks}
        if cmd == "pod":
            pod = next((p for p in self.pods if p["task_uuid"] == request["task_uuid"]), None)
            body = {"workflow_uuid": request["workflow_uuid"], "task_uuid": request["task_uuid"],
                    "retry_id": int(request.get("retry_id", 0)),
                    "container": (pod["containers"][0] if pod and pod["containers"] else "osmo-exec"),
                    "node": NODE["hostname"], "pod_ip": "10.0.0.2", "message": request.get("message") or "",
                    "status": request["status"], "exit_code": request.get("exit_code"),
                    "backend": self.backend, "conditions": []}
            self.outbox.put_nowait(_message("update_pod", body))
            return {"queued": True}
        return {"error": f"unknown command {cmd!r}"}


async def main(service: str, backend: str, control_port: int) -> None:
    agent = Agent(service, backend)
    await asyncio.gather(agent.run_listener(), agent.run_worker(), agent.serve_control(control_port))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))

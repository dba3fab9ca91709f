"""A small OpenAI-compatible HTTP server on 127.0.0.1, for tests that drive the ``nim`` label engine
over a real socket (no respx): ``GET /v1/models`` and ``POST /v1/chat/completions``.

A chat request whose user message carries ``image_url`` parts is a VLM request: every part must be
a ``data:image/jpeg;base64,...`` URL that decodes to a JPEG, and the reply is a caption. A request
without images is an LLM request: the question ids and options are read from its prompt
(``- <id>: <question> Options: a | b | c``) and each is answered with :meth:`FakeOpenAI.choose`,
so a test knows what the scene must say.

Modes, settable while the server runs: ``slow_s`` (delay before every answer), ``fail_models`` /
``fail_chat`` (how many of the next requests answer 503), ``drop_chat`` (how many chat requests
get no answer: the connection closes, as when the server dies), ``models`` (the ids listed) and
:meth:`stop` (the port closes: connection refused). Every request is recorded (path, model, image
count) for assertions. Run alone: ``python -m tests.fakes.openai_server [PORT]``.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["FakeOpenAI", "Request"]

_QUESTION = re.compile(r"^- (?P<id>[^:\s]+): .*? Options: (?P<options>.+)$", re.MULTILINE)
CAPTION = "Overcast daylight street. Two cars drive slowly in their lanes; three people walk on the pavement. No contact."


@dataclass
class Request:
    path: str
    model: str | None = None
    images: int = 0
    bad_images: int = 0
    authorization: str | None = None


@dataclass
class FakeOpenAI:
    models: list[str] = field(default_factory=lambda: ["test/vlm-small", "test/llm-small"])
    slow_s: float = 0.0
    fail_models: int = 0
    fail_chat: int = 0
    drop_chat: int = 0
    requests: list[Request] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- what the server answers ---------------------------------------------------------------
    @staticmethod
    def choose(question_id: str, options: list[str]) -> str:
        """The option this server picks for a question: the last one (deterministic, and not the
        first, so an engine that ignores the answer cannot pass by accident)."""
        return options[-1]

    def expected_answers(self, prompt: str) -> dict[str, str]:
        out = {}
        for match in _QUESTION.finditer(prompt):
            options = [o.strip() for o in match.group("options").split("|") if o.strip()]
            if options and options != ["(free answer)"]:
                out[match.group("id")] = self.choose(match.group("id"), options)
        return out

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    # --- life cycle ----------------------------------------------------------------------------
    def start(self) -> FakeOpenAI:
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
        self._server, self.port = server, server.server_address[1]
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def take_failure(self, kind: str) -> bool:
        with self._lock:
            left = getattr(self, kind)
            if left > 0:
                setattr(self, kind, left - 1)
                return True
            return False

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)


def _decode_image(url: str) -> bool:
    prefix = "data:image/jpeg;base64,"
    if not url.startswith(prefix):
        return False
    try:
        data = base64.b64decode(url[len(prefix):], validate=True)
    except ValueError:
        return False
    return data[:3] == b"\xff\xd8\xff"


def _handler(fake: FakeOpenAI) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:  # quiet
            return None

        def _send(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (its timeout): nothing to answer
                self.close_connection = True

        def do_GET(self) -> None:  # noqa: N802
            fake.record(Request(path=self.path, authorization=self.headers.get("Authorization")))
            if fake.slow_s:
                time.sleep(fake.slow_s)
            if self.path.rstrip("/") != "/v1/models":
                self._send(404, {"error": {"message": "not found"}})
            elif fake.take_failure("fail_models"):
                self._send(503, {"error": {"message": "model loading"}})
            else:
                self._send(200, {"object": "list", "data": [{"id": m, "object": "model"} for m in fake.models]})

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError:
                self._send(400, {"error": {"message": "bad json"}})
                return
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, {"error": {"message": "not found"}})
                return
            parts = [p for m in body.get("messages", []) if isinstance(m.get("content"), list) for p in m["content"]]
            urls = [p.get("image_url", {}).get("url", "") for p in parts if p.get("type") == "image_url"]
            request = Request(path=self.path, model=body.get("model"), images=len(urls),
                              bad_images=sum(1 for u in urls if not _decode_image(u)),
                              authorization=self.headers.get("Authorization"))
            fake.record(request)
            if fake.slow_s:
                time.sleep(fake.slow_s)
            if fake.take_failure("drop_chat"):  # the server dies mid-request: no answer, connection closed
                self.close_connection = True
                self.connection.shutdown(2)
                return
            if fake.take_failure("fail_chat"):
                self._send(503, {"error": {"message": "overloaded"}})
                return
            if body.get("model") not in fake.models:
                self._send(404, {"error": {"message": f"model {body.get('model')!r} not found"}})
                return
            if urls:
                reply = CAPTION if not request.bad_images else "the images could not be read"
            else:
                text = "\n".join(str(m.get("content")) for m in body.get("messages", []) if isinstance(m.get("content"), str))
                reply = json.dumps(fake.expected_answers(text))
            self._send(200, {"id": "chatcmpl-test", "object": "chat.completion", "model": body.get("model"),
                             "choices": [{"index": 0, "message": {"role": "assistant", "content": reply},
                                          "finish_reason": "stop"}]})

    return Handler


if __name__ == "__main__":  # pragma: no cover - manual use
    fake = FakeOpenAI(port=int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(fake.url, flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()

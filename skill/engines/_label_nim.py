"""The ``nim`` labeler's model side: OpenAI-compatible VLM and LLM endpoints (NIM, vLLM, NVCF or
any provider) used to answer the question bank window by window.

Endpoint handling follows upstream's worker helper:

* a URL is normalised (``http://`` added, query/fragment and trailing ``/`` dropped, API suffixes
  such as ``/v1/chat/completions`` or ``/models`` stripped repeatedly); the candidates are that base
  and ``scheme://host``, each with its ``/v1`` toggled, de-duplicated in order;
* readiness: every ``interval`` seconds until ``timeout``, ``GET <candidate>/models`` on each
  candidate; the first answer with a ``data`` list wins and gives the base URL and the model id
  (the first listed). Env ``ENDPOINT_WAIT_TIMEOUT_SECONDS`` (180), ``ENDPOINT_WAIT_INTERVAL_SECONDS``
  (10), ``ENDPOINT_CURL_CONNECT_TIMEOUT_SECONDS`` (5) and ``ENDPOINT_CURL_MAX_TIME_SECONDS`` (15)
  change the defaults;
* keys: the VLM uses ``VLM_API_KEY``, else ``NVIDIA_API_KEY``, else ``OPENAI_API_KEY`` (the LLM the
  same with ``LLM_API_KEY`` first). A key is sent as a Bearer header and never logged.

Per window, frames sampled at ``sampling_fps`` (at most ``max_frames``, scaled to ``resolution``
pixels high) go to the VLM as base64 JPEG images in one chat message; its caption goes to the LLM,
which answers every bank question as JSON ``{"<id>": "<option>"}``.
"""

from __future__ import annotations

import base64
import json
import logging
import math
import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import httpx2
import numpy as np

from skill.endpoints import candidate_bases
from skill.engines._mcq import QuestionBank, match_option
from skill.errors import BackendUnavailable, InputError
from skill.secrets import redact, register_secret, strip_bearer

__all__ = [
    "Endpoint",
    "NimSettings",
    "Window",
    "WindowResult",
    "answer_counts",
    "api_key",
    "auth_headers",
    "caption_window",
    "iter_windows",
    "map_answers",
    "run_windows",
    "wait_for_models",
]

log = logging.getLogger(__name__)

_RETRY_STATUS = {408, 425, 429, 500, 502, 503, 504}


def _env_float(name: str, default: float, env: Mapping[str, str] | None = None) -> float:
    env = os.environ if env is None else env
    try:
        value = float(env.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class NimSettings:
    """Knobs of the nim path; defaults mirror the cookbook and upstream's worker helper."""

    window_frames: int = 60
    single_window: bool = False
    sampling_fps: float = 6.0
    resolution: int = 480
    max_frames: int = 100
    vlm_max_tokens: int = 8192
    llm_max_tokens: int = 8192
    request_timeout: float = 600.0
    wait_timeout: float = 180.0
    wait_interval: float = 10.0
    connect_timeout: float = 5.0
    probe_timeout: float = 15.0
    retries: int = 2
    retry_backoff: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> NimSettings:
        base = cls(**overrides)
        return cls(**{
            **base.__dict__,
            "wait_timeout": _env_float("ENDPOINT_WAIT_TIMEOUT_SECONDS", base.wait_timeout, env),
            "wait_interval": _env_float("ENDPOINT_WAIT_INTERVAL_SECONDS", base.wait_interval, env),
            "connect_timeout": _env_float("ENDPOINT_CURL_CONNECT_TIMEOUT_SECONDS", base.connect_timeout, env),
            "probe_timeout": _env_float("ENDPOINT_CURL_MAX_TIME_SECONDS", base.probe_timeout, env),
        })


# --- endpoints ------------------------------------------------------------------------------------------


def api_key(kind: str, env: Mapping[str, str] | None = None) -> str | None:
    """The key for ``kind`` ("vlm" or "llm"); registered for redaction, never returned in text."""
    env = os.environ if env is None else env
    order = (f"{kind.upper()}_API_KEY", "NVIDIA_API_KEY", "OPENAI_API_KEY")
    for name in order:
        value = strip_bearer(env.get(name, ""))
        if value:
            register_secret(value)
            return value
    return None


def auth_headers(token: str | None) -> dict[str, str]:
    """Upstream's rule: no token -> no header; ``Authorization: ...`` as is; else ``Bearer <token>``."""
    text = (token or "").strip()
    if not text:
        return {}
    register_secret(text)
    if text.lower().startswith("authorization:"):
        return {"Authorization": text.split(":", 1)[1].strip()}
    if text.lower().startswith("bearer"):
        return {"Authorization": text}
    return {"Authorization": f"Bearer {text}"}


@dataclass(frozen=True)
class Endpoint:
    name: str
    base_url: str
    model: str
    headers: dict[str, str] = field(default_factory=dict, repr=False)


def _pick_model(name: str, url: str, listed: list[str], wanted: str | None) -> str:
    """The model to call: ``wanted`` when the server lists it, else the first listed one."""
    if not listed:
        raise BackendUnavailable(f"The {name} endpoint {redact(url)} lists no model.",
                                 remedy=f"Check that the {name} server has loaded its model.", code="model-not-served")
    if not wanted:
        return listed[0]
    if wanted in listed:
        return wanted
    shown = ", ".join(listed[:5]) + (", ..." if len(listed) > 5 else "")
    raise InputError(f"The {name} endpoint {redact(url)} does not serve the model '{wanted}' (it lists {shown}).",
                     remedy=f"Pass one of the listed models as --{name.lower()}-model, or leave it out to use the first.",
                     code="model-not-served")


def wait_for_models(client: httpx2.Client, name: str, url: str, headers: Mapping[str, str], settings: NimSettings,
                    *, sleep: Callable[[float], None] = time.sleep, model: str | None = None) -> Endpoint:
    """Poll ``<candidate>/models`` until one answers with a model list; raise when time runs out.
    ``model`` (the user's choice) must be among the listed ids; without it the first listed is used."""
    candidates = candidate_bases(url)
    attempts = max(1, math.ceil(settings.wait_timeout / settings.wait_interval))
    timeout = httpx2.Timeout(settings.probe_timeout, connect=settings.connect_timeout)
    for attempt in range(1, attempts + 1):
        for candidate in candidates:
            try:
                response = client.get(candidate + "/models", headers=dict(headers), timeout=timeout)
            except httpx2.HTTPError as exc:
                log.debug("%s %s/models: %s", name, candidate, type(exc).__name__)
                continue
            if response.status_code // 100 != 2:
                continue
            try:
                body = response.json()
            except ValueError:
                continue
            models = body.get("data") if isinstance(body, dict) else None
            if isinstance(models, list):
                listed = [str(m["id"]) for m in models if isinstance(m, dict) and m.get("id")]
                chosen = _pick_model(name, candidate, listed, model)
                return Endpoint(name=name, base_url=candidate, model=chosen, headers=dict(headers))
        log.info("Waiting for %s server (%d/%d): tried %s", name, attempt, attempts, ", ".join(candidates))
        if attempt < attempts:
            sleep(settings.wait_interval)
    raise BackendUnavailable(
        f"The {name} endpoint {redact(candidates[0])} was not ready after {settings.wait_timeout:g}s (GET …/models gave no model list).",
        remedy="Start the server or fix the URL (an OpenAI-compatible base such as http://host:8000/v1); "
               "ENDPOINT_WAIT_TIMEOUT_SECONDS waits longer for a server that is still loading.",
        code="endpoint-unreachable",
    )


def _chat(client: httpx2.Client, endpoint: Endpoint, messages: list[dict[str, Any]], *, max_tokens: int,
          settings: NimSettings, sleep: Callable[[float], None]) -> str:
    """One chat completion; retries 429/5xx and transport errors ``settings.retries`` times."""
    payload = {"model": endpoint.model, "messages": messages, "max_tokens": max_tokens, "temperature": 0.2,
               "stream": False}
    timeout = httpx2.Timeout(settings.request_timeout, connect=settings.connect_timeout)
    last = ""
    unreachable = False
    for attempt in range(settings.retries + 1):
        try:
            response = client.post(endpoint.base_url + "/chat/completions", json=payload, headers=endpoint.headers,
                                   timeout=timeout)
        except httpx2.HTTPError as exc:
            last, unreachable = type(exc).__name__, isinstance(exc, httpx2.TransportError)
        else:
            unreachable = False
            if response.status_code // 100 == 2:
                try:
                    return str(response.json()["choices"][0]["message"]["content"] or "")
                except (ValueError, KeyError, IndexError, TypeError) as exc:
                    raise BackendUnavailable(f"The {endpoint.name} endpoint answered without a chat message.",
                                             remedy="Check that the endpoint speaks the OpenAI chat API.") from exc
            last = f"HTTP {response.status_code}"
            if response.status_code not in _RETRY_STATUS:
                break
        if attempt < settings.retries:
            sleep(settings.retry_backoff * (attempt + 1))
    if unreachable:
        raise BackendUnavailable(f"The {endpoint.name} endpoint {redact(endpoint.base_url)} stopped answering ({last}).",
                                 remedy=f"Check that the {endpoint.name} server is still running, then run again.",
                                 code="endpoint-unreachable")
    raise BackendUnavailable(f"The {endpoint.name} chat request to {redact(endpoint.base_url)} failed ({last}).",
                             remedy=f"Check the {endpoint.name} server logs and its /v1/models listing.", code="endpoint-failed")


# --- windows --------------------------------------------------------------------------------------------


@dataclass
class Window:
    index: int
    start_frame: int
    end_frame: int  # inclusive
    fps: float
    images: list[str] = field(default_factory=list)  # base64 JPEG

    @property
    def start_s(self) -> float:
        return round(self.start_frame / self.fps, 3)

    @property
    def end_s(self) -> float:
        return round((self.end_frame + 1) / self.fps, 3)


def _encode(frame: np.ndarray, resolution: int) -> str:
    h, w = frame.shape[:2]
    if resolution and h > resolution:
        frame = cv2.resize(frame, (max(2, int(round(w * resolution / h))), resolution), interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".jpg", cv2.cvtColor(frame, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        raise InputError("A frame could not be encoded as JPEG.", remedy="Check that the video decodes to RGB frames.")
    return base64.b64encode(data.tobytes()).decode("ascii")


def iter_windows(frames: Iterator[np.ndarray], *, fps: float, settings: NimSettings,
                 total_frames: int = 0) -> Iterator[Window]:
    """Group frames into windows of ``window_frames`` (one window when ``single_window``) and sample
    each at ``sampling_fps``, at most ``max_frames`` images, as base64 JPEG. Sampled frames are
    encoded (small) as they arrive, so a long single window never holds raw frames in memory."""
    if settings.single_window:
        size = total_frames if total_frames > 0 else 10**9
    else:
        size = max(1, settings.window_frames)
    step = max(1, int(round(fps / settings.sampling_fps))) if settings.sampling_fps > 0 else 1
    current: Window | None = None
    encoded: list[str] = []

    def close(window: Window) -> Window:
        chosen = encoded
        if len(chosen) > settings.max_frames > 0:
            keep = np.linspace(0, len(chosen) - 1, settings.max_frames).round().astype(int)
            chosen = [chosen[i] for i in keep]
        window.images = list(chosen)
        return window

    for index, frame in enumerate(frames):
        if current is None or index - current.start_frame >= size:
            if current is not None:
                yield close(current)
                encoded.clear()
            current = Window(index=0 if current is None else current.index + 1, start_frame=index, end_frame=index, fps=fps)
        current.end_frame = index
        if (index - current.start_frame) % step == 0:
            encoded.append(_encode(frame, settings.resolution))
    if current is not None:
        yield close(current)


# --- prompts --------------------------------------------------------------------------------------------


def _questions_text(bank: QuestionBank) -> str:
    lines = []
    for q in bank.questions:
        opts = " | ".join(q.options) if q.options else "(free answer)"
        lines.append(f"- {q.id}: {q.question} Options: {opts}")
    return "\n".join(lines)


def caption_window(client: httpx2.Client, vlm: Endpoint, window: Window, bank: QuestionBank, settings: NimSettings,
                   *, sleep: Callable[[float], None] = time.sleep) -> str:
    """Ask the VLM to describe one window, paying attention to what the questions ask about."""
    system = ("You describe short video clips for dataset labeling. Describe only what is visible: the scene, "
              "the weather and light, the objects and people, how they move, and any contact or close call. "
              "Do not guess beyond the frames.")
    text = (f"These {len(window.images)} frames are in time order and cover {window.start_s:.1f}s to "
            f"{window.end_s:.1f}s of the video. Describe the clip in detail. Make sure your description lets a "
            f"reader answer these questions:\n{_questions_text(bank)}")
    content: list[dict[str, Any]] = [{"type": "text", "text": text}]
    content += [{"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{img}"}} for img in window.images]
    messages = [{"role": "system", "content": system}, {"role": "user", "content": content}]
    return _chat(client, vlm, messages, max_tokens=settings.vlm_max_tokens, settings=settings, sleep=sleep).strip()


_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


def _parse_json_object(text: str) -> dict[str, Any]:
    cleaned = re.sub(r"^```(?:json)?|```$", "", text.strip(), flags=re.MULTILINE).strip()
    for candidate in (cleaned, *(m.group(0) for m in _JSON_OBJECT.finditer(cleaned))):
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return {}


def map_answers(client: httpx2.Client, llm: Endpoint, caption: str, bank: QuestionBank, settings: NimSettings,
                *, sleep: Callable[[float], None] = time.sleep) -> dict[str, str | None]:
    """Ask the LLM to answer the bank from a caption; each answer mapped onto the question's options
    (``None`` when the answer is missing or not one of them)."""
    system = ("You turn a video description into answers to multiple-choice questions. Answer each question "
              "with exactly one of its options, copied verbatim. Reply with one JSON object mapping question id "
              "to the chosen option and nothing else.")
    user = f"Description of the clip:\n{caption}\n\nQuestions:\n{_questions_text(bank)}"
    messages = [{"role": "system", "content": system}, {"role": "user", "content": user}]
    reply = _chat(client, llm, messages, max_tokens=settings.llm_max_tokens, settings=settings, sleep=sleep)
    raw = _parse_json_object(reply)
    if isinstance(raw.get("answers"), dict):
        raw = raw["answers"]
    out: dict[str, str | None] = {}
    for q in bank.questions:
        value = raw.get(q.id)
        out[q.id] = match_option(q.options, value) if value is not None else None
    return out


@dataclass
class WindowResult:
    window: Window
    caption: str = ""
    answers: dict[str, str | None] = field(default_factory=dict)
    error: str | None = None
    error_code: str | None = None

    def sidecar(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "start_s": self.window.start_s, "end_s": self.window.end_s,
            "start_frame": self.window.start_frame, "end_frame": self.window.end_frame,
            "frames_sent": len(self.window.images),
            "vlm_caption": self.caption, "llm_enhanced_caption": {k: v for k, v in self.answers.items() if v is not None},
        }
        if self.error:
            entry["_errors"] = [self.error]
        return entry


def run_windows(client: httpx2.Client, vlm: Endpoint, llm: Endpoint, windows: Iterator[Window], bank: QuestionBank,
                settings: NimSettings, *, sleep: Callable[[float], None] = time.sleep) -> list[WindowResult]:
    """Caption and answer each window; a window whose calls fail is kept with its error."""
    results = []
    for window in windows:
        result = WindowResult(window=window)
        try:
            result.caption = caption_window(client, vlm, window, bank, settings, sleep=sleep)
            result.answers = map_answers(client, llm, result.caption, bank, settings, sleep=sleep)
        except BackendUnavailable as exc:
            result.error, result.error_code = exc.message, exc.code
        window.images = []  # the JPEGs are not needed any more
        results.append(result)
    return results


def answer_counts(question_id: str, results: Sequence[WindowResult]) -> Counter[str]:
    """How many windows gave each answer to one question."""
    return Counter(r.answers.get(question_id) for r in results if r.answers.get(question_id))

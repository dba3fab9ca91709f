"""The nim engine's HTTP client against a real server on 127.0.0.1 (tests/fakes/openai_server.py):
retries on 503, a request timeout on a slow server, and the model the requests name."""

from __future__ import annotations

import time

import httpx2
import pytest

from skill.engines._label_nim import NimSettings, Window, caption_window, map_answers, wait_for_models
from skill.engines._mcq import Question, QuestionBank
from skill.errors import BackendUnavailable
from tests.fakes.openai_server import FakeOpenAI

BANK = QuestionBank(name="t", questions=[
    Question(id="w", question="What is the weather?", options=["Clear", "Overcast", "Rain"], aggregation="majority"),
    Question(id="c", question="Does anything collide?", options=["Yes", "No"], aggregation="any"),
])
FAST = NimSettings(wait_timeout=2, wait_interval=0.2, request_timeout=0.5, connect_timeout=0.5, probe_timeout=1,
                   retries=2, retry_backoff=0.05)
JPEG = "/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAgGBgcGBQgHBwcJCQgKDBQNDAsLDBkSEw8UHRofHh0aHBwgJC4nICIsIxwcKDcpLDAxNDQ0Hyc5PTgyPC4zNDL/wAALCAABAAEBAREA/8QAFAABAAAAAAAAAAAAAAAAAAAACf/EABQQAQAAAAAAAAAAAAAAAAAAAAD/2gAIAQEAAD8AKp//2Q=="


def window() -> Window:
    return Window(index=0, start_frame=0, end_frame=9, fps=10.0, images=[JPEG, JPEG])


def test_a_503_is_retried_and_the_answer_maps_onto_the_bank():
    with FakeOpenAI(fail_chat=1) as server, httpx2.Client() as client:
        vlm = wait_for_models(client, "VLM", server.url, {}, FAST, model="test/vlm-small")
        llm = wait_for_models(client, "LLM", server.url, {}, FAST, model="test/llm-small")
        caption = caption_window(client, vlm, window(), BANK, FAST, sleep=lambda s: None)
        answers = map_answers(client, llm, caption, BANK, FAST, sleep=lambda s: None)
        chats = [r for r in server.requests if r.path.startswith("/v1/chat")]
    assert "Overcast daylight" in caption
    assert answers == {"w": "Rain", "c": "No"}  # the server picks each question's last option
    assert [r.images for r in chats] == [2, 2, 0] and chats[0].model == "test/vlm-small" and chats[2].model == "test/llm-small"
    assert all(r.bad_images == 0 for r in chats)


def test_a_slow_server_times_out_after_its_retries_with_a_coded_error():
    with FakeOpenAI() as server, httpx2.Client() as client:
        vlm = wait_for_models(client, "VLM", server.url, {}, FAST)
        server.slow_s = 1.5  # longer than the 0.5 s request timeout
        started = time.monotonic()
        with pytest.raises(BackendUnavailable) as info:
            caption_window(client, vlm, window(), BANK, FAST, sleep=lambda s: None)
        took = time.monotonic() - started
        chats = [r for r in server.requests if r.path.startswith("/v1/chat")]
    assert info.value.code == "endpoint-unreachable" and "ReadTimeout" in info.value.message and "127.0.0.1" in info.value.message
    assert len(chats) == 3 and took < 5  # 1 + 2 retries, each cut at the timeout

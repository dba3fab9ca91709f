"""Waiting in tests for something another process does: poll a predicate until it holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def until(predicate: Callable[[], T], what: str, timeout: float = 60.0) -> T:
    """The first truthy value of ``predicate()``, polled every 50 ms; the test fails naming ``what``
    when none came within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"gave up waiting for {what}")

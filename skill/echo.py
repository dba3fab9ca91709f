"""What an error may repeat of the arguments it refuses.

A refusal that quotes the caller's value helps when the value is plain (``'e2f' is not a flow``),
and harms when it is not: a value with control characters, line breaks, shell or template syntax, a
path traversal, or a megabyte of text turns the error into a carrier for whatever the value holds
(another instruction for the model reading it, a forged log line, a flood). So every error the MCP
server and the CLI send goes through :func:`mask_arguments`: each argument value that is not plain is
replaced by ``<name>`` wherever the text quotes it, also escaped (``repr``), cut short (``[:80]``)
or lower-cased, as the messages of the steps and the policy quote values.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["is_plain", "mask_arguments"]

PLAIN_MAX = 200
_NOT_PLAIN = re.compile(r"[\x00-\x1f\x7f-\x9f\s`$;|&<>\\\"']|\{\{|\{%|\{#|\.\./|/\.\.")
_MIN_QUOTE = 8  # a shorter cut of a value is not recognisable as a quote of it


def is_plain(value: str) -> bool:
    """True when ``value`` may be quoted back: one short line of ordinary characters."""
    return len(value) <= PLAIN_MAX and not _NOT_PLAIN.search(value)


def _leaves(value: Any, name: str) -> Iterable[tuple[str, str]]:
    if isinstance(value, str):
        yield name, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _leaves(item, str(key))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _leaves(item, name)


def _forms(value: str) -> set[str]:
    escaped = repr(value)[1:-1]
    return {form for form in (value, escaped, value.lower(), escaped.lower()) if len(form) >= _MIN_QUOTE}


def _mask_form(text: str, form: str, label: str) -> str:
    """Replace every quote of ``form`` in ``text``: the whole form, or a cut of it at least
    ``_MIN_QUOTE`` long (messages shorten long values), matched without regard to case."""
    lowered, needle = text.lower(), form.lower()
    head = needle[:_MIN_QUOTE]
    out, pos = [], 0
    while (start := lowered.find(head, pos)) != -1:
        end = start + _MIN_QUOTE
        while end < len(text) and end - start < len(needle) and lowered[end] == needle[end - start]:
            end += 1
        out.append(text[pos:start])
        out.append(label)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def mask_arguments(text: str, arguments: Mapping[str, Any] | None) -> str:
    """``text`` with every quote of a non-plain argument value replaced by ``<argument name>``."""
    if not text or not arguments:
        return text
    for name, value in _leaves(arguments, "value"):
        if is_plain(value):
            continue
        for form in sorted(_forms(value), key=len, reverse=True):
            text = _mask_form(text, form, f"<{name}>")
    return text

"""Session-scoped run state for the MCP server: which :class:`~skill.policy.RunState` a call belongs to.

What identifies a client session in mcp 2.3.0 (measured here with a probe tool that reported the
per-request ``Connection`` object, ``ctx.protocol_version``, ``ctx.headers`` and the request
``_meta``; see tests/contract/test_mcp_http.py for the HTTP case):

(a) in-process ``Client(server)``, default mode: the client negotiates 2026-07-28, where every
    request carries its own envelope. The server builds a fresh ``Connection`` for *each* request,
    with no session id and no headers; the client info in ``_meta`` is the same for every client
    (``{"name": "mcp", ...}``). Nothing the transport hands over tells two clients apart.
(b) ``Client(server, mode="legacy")`` (2025-11-25): the initialize handshake creates one
    ``Connection`` per client, reused by all its requests; its ``state`` dict is the SDK's
    per-connection scratch space.
(c) streamable HTTP: a legacy client gets an ``mcp-session-id`` (in ``ctx.headers`` and on the
    ``Connection``), and its requests share one ``Connection`` for the session. A 2026-07-28 client
    over HTTP sends no session id at all: each POST is a self-contained exchange.
(d) stdio: one client per process. A legacy client keeps one ``Connection``; a 2026-07-28 one gets a
    fresh ``Connection`` per request, but the process serves no one else.

So the state is keyed, first match wins:

1. ``_meta["vda/session"]`` on the request, when the client sends one (any opaque string, e.g. a
   uuid): the way a 2026-07-28 client (our chat agent, a test, an HTTP client) names its session;
2. the handshake ``Connection`` (legacy clients: in-process, HTTP by ``mcp-session-id``, stdio):
   the state lives in ``connection.state`` and ends with the connection;
3. otherwise the server's one default state: right for stdio (one client per process) and for an
   in-process server built for one client (the chat agent builds its own). Several 2026-07-28
   clients over HTTP that send no ``vda/session`` share this state; give each one a key.

The handshake ``Connection`` is reached through the request's ``ServerSession`` (its ``_connection``
attribute in mcp 2.3.0; the SDK offers no public accessor on the tool context). Should a later
release drop it, legacy clients fall back to rule 3 and still work, sharing the default state.

None of this is an identity: headers and ``_meta`` are client-supplied, so the key only scopes the
policy's memory of a conversation, it authorises nothing (a local server binds 127.0.0.1).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

from mcp_types.version import is_version_at_least

from skill.policy import RunState

__all__ = ["SESSION_META_KEY", "SessionStates", "session_key"]

SESSION_META_KEY = "vda/session"
_CONNECTION_SLOT = "vda.run_state"
_MAX_KEYED = 1024
_PER_REQUEST_VERSION = "2026-07-28"


class _Slot:
    """One session's run state and the lock that serialises its check-then-record steps."""

    __slots__ = ("lock", "state")

    def __init__(self) -> None:
        self.state = RunState()
        self.lock = threading.Lock()


def _request_meta(ctx: Any) -> dict[str, Any]:
    try:
        meta = ctx.request_context.meta
    except ValueError:  # a Context outside a request
        return {}
    return dict(meta) if isinstance(meta, dict) else {}


def session_key(ctx: Any) -> tuple[str, Any]:
    """``("meta", key)``, ``("connection", connection)`` or ``("default", None)`` for a tool context."""
    key = _request_meta(ctx).get(SESSION_META_KEY)
    if isinstance(key, str) and key.strip():
        return "meta", key.strip()[:200]
    try:
        request_context = ctx.request_context
    except ValueError:
        return "default", None
    connection = getattr(request_context.session, "_connection", None)
    if connection is not None and getattr(connection, "client_params", None) is not None and not _per_request(ctx):
        return "connection", connection
    return "default", None


def _per_request(ctx: Any) -> bool:
    """2026-07-28 and later build one Connection per request: it cannot hold a session."""
    version = getattr(ctx, "protocol_version", None)
    return bool(version) and is_version_at_least(version, _PER_REQUEST_VERSION)


class SessionStates:
    """The run states of one server, one per session (see the module docstring)."""

    def __init__(self) -> None:
        self._default = _Slot()
        self._keyed: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()

    def slot(self, ctx: Any) -> _Slot:
        kind, key = session_key(ctx)
        if kind == "meta":
            with self._lock:
                slot = self._keyed.get(key)
                if slot is None:
                    slot = self._keyed[key] = _Slot()
                    while len(self._keyed) > _MAX_KEYED:
                        self._keyed.popitem(last=False)
                else:
                    self._keyed.move_to_end(key)
                return slot
        if kind == "connection":
            with self._lock:
                slot = key.state.get(_CONNECTION_SLOT)
                if slot is None:
                    slot = key.state[_CONNECTION_SLOT] = _Slot()
                return slot
        return self._default

    def state(self, ctx: Any) -> RunState:
        return self.slot(ctx).state

    def keyed(self, key: str) -> RunState | None:
        """The state stored under a ``vda/session`` key, if any (for tests and diagnostics)."""
        with self._lock:
            slot = self._keyed.get(key)
        return slot.state if slot is not None else None

    @property
    def default(self) -> RunState:
        return self._default.state

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
3. a 2026-07-28 request over HTTP without ``vda/session`` (it has headers but no session): a fresh
   state for that one request, so two keyless HTTP clients never borrow each other's preflight,
   ETA or guards (such a client must send ``vda/session`` to get past the run-order rules);
4. otherwise the server's one default state: right for stdio (one client per process) and for an
   in-process server built for one client (the chat agent builds its own).

Policy memory across processes: ``vda mcp`` over stdio gives the default state a scope
(``stdio:<backend>:<root>``) saved in the run ledger (``Ledger.save_policy_state``) after every
change and loaded when the process first needs it, valid for ``POLICY_STATE_TTL_S``. A client that
starts one server process per call (the MCP Inspector CLI) thus keeps its select_flow ETA,
preflight and guards; the ledger lives in the workspace (VDA_HOME), so other workspaces never see it.

The handshake ``Connection`` is reached through the request's ``ServerSession`` (its ``_connection``
attribute in mcp 2.3.0; the SDK offers no public accessor on the tool context). Should a later
release drop it, legacy clients fall back to rule 3 and still work, sharing the default state.

None of this is an identity: headers and ``_meta`` are client-supplied, so the key only scopes the
policy's memory of a conversation, it authorises nothing (a local server binds 127.0.0.1).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from mcp_types.version import is_version_at_least

from pydantic import ValidationError

from skill.errors import SkillError
from skill.ledger import Ledger
from skill.policy import RunState

__all__ = ["SESSION_META_KEY", "SessionStates", "session_key"]

log = logging.getLogger(__name__)

SESSION_META_KEY = "vda/session"
_CONNECTION_SLOT = "vda.run_state"
_MAX_KEYED = 1024
_PER_REQUEST_VERSION = "2026-07-28"


class _Slot:
    """One session's run state and the lock that serialises its check-then-record steps."""

    __slots__ = ("lock", "scope", "state")

    def __init__(self, state: RunState | None = None, scope: str | None = None) -> None:
        self.state = state if state is not None else RunState()
        self.lock = threading.Lock()
        self.scope = scope  # where the state is saved in the ledger; None: memory only


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
    if _over_http(ctx):
        return "request", None
    return "default", None


def _over_http(ctx: Any) -> bool:
    try:
        return getattr(ctx, "headers", None) is not None
    except ValueError:
        return False


def _per_request(ctx: Any) -> bool:
    """2026-07-28 and later build one Connection per request: it cannot hold a session."""
    version = getattr(ctx, "protocol_version", None)
    return bool(version) and is_version_at_least(version, _PER_REQUEST_VERSION)


class SessionStates:
    """The run states of one server, one per session (see the module docstring)."""

    def __init__(self, *, ledger: Callable[[], Ledger] | None = None, default_scope: str | None = None) -> None:
        self._default = _Slot()
        self._keyed: OrderedDict[str, _Slot] = OrderedDict()
        self._lock = threading.Lock()
        self._ledger = ledger
        self._default_scope = default_scope if ledger is not None else None
        self._loaded = self._default_scope is None

    def _load_default(self) -> None:
        """The saved default state, once (a state that no longer parses is dropped, not trusted)."""
        with self._lock:
            if self._loaded:
                return
            self._loaded = True
            try:
                saved = self._ledger().load_policy_state(self._default_scope) if self._ledger else None
                if saved is not None:
                    self._default.state = RunState.model_validate_json(saved)
            except (SkillError, ValidationError, sqlite3.Error) as exc:
                log.warning("policy memory %s not loaded (%s); starting afresh", self._default_scope, type(exc).__name__)
            self._default.scope = self._default_scope

    def save(self, slot: _Slot) -> None:
        """Persist ``slot``'s state when it has a scope (call with ``slot.lock`` held)."""
        if slot.scope is None or self._ledger is None:
            return
        try:
            self._ledger().save_policy_state(slot.scope, slot.state.model_dump_json())
        except (SkillError, sqlite3.Error) as exc:
            log.warning("policy memory %s not saved (%s)", slot.scope, type(exc).__name__)

    def slot(self, ctx: Any) -> _Slot:
        kind, key = session_key(ctx)
        if self._default_scope is not None and kind == "connection":
            kind = "default"  # stdio with memory: the process serves one client, its state is the saved one
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
        if kind == "request":
            return _Slot()
        if not self._loaded:
            self._load_default()
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

"""``vda chat [--backend local|osmo] [--once TEXT] [--model M]``: talk to the skill in the terminal.

A REPL over :class:`tools.agent.Agent`: each line you type is one message; the agent's messages go to
stdout, secrets it needs are asked with hidden input, and the transcript path is printed on stderr
at the end. ``--once`` sends one message and exits. Without ``ANTHROPIC_API_KEY`` nothing starts:
the error ``no-api-key`` says what to set.
"""

from __future__ import annotations

import argparse
import sys

from skill.errors import SkillError
from skill.secrets import redact
from tools.output import emit_error, say
from tools.backends import add_backend_option

__all__ = ["add_parser", "run"]

_QUIT = {"exit", "quit", ":q", "/exit", "/quit"}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("chat", help="chat with the skill (Anthropic model over the MCP tools)")
    add_backend_option(p)
    p.add_argument("--once", metavar="TEXT", default=None, help="send one message, print the replies, exit")
    p.add_argument("--model", default=None, help="model id (default: VDA_MODEL, else claude-sonnet-5)")
    p.set_defaults(handler=run)


def _print(message: str) -> None:
    print(redact(message), flush=True)


def run(args: argparse.Namespace) -> int:
    from tools.agent import Agent, ask_secret_on_terminal, make_client

    client = make_client()  # the key check comes before anything is built
    try:
        from tools.mcp_server import build_server

        server = build_server(backend_name=args.backend)
        # hidden input needs a person at a terminal; without one the model asks in the chat instead
        ask = ask_secret_on_terminal if sys.stdin.isatty() else None
        with Agent(client=client, server=server, say=_print, model=args.model, ask_secret=ask) as agent:
            try:
                if args.once is not None:
                    agent.send(args.once)
                else:
                    _repl(agent)
            finally:
                say(f"Transcript: {agent.transcript_path}")
    finally:
        client.close()
    return 0


def _repl(agent) -> None:
    say(f"vda chat ({agent.model}). Type a message; 'exit' or Ctrl-D ends the chat.")
    while True:
        try:
            line = input("you> ")
        except EOFError:
            print(file=sys.stderr)
            return
        text = line.strip()
        if not text:
            continue
        if text.lower() in _QUIT:
            return
        try:
            agent.send(text)
        except SkillError as exc:  # one failed turn does not end the chat
            emit_error(exc, as_json=False)

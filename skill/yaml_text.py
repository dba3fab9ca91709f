"""YAML in and out, fast where PyYAML's pure-Python code is slow, with the same results.

* :func:`load`: ``yaml.safe_load`` through libyaml's parser when this PyYAML has it (the same
  values; about ten times faster), else PyYAML's own.
* :func:`dump_exact`: ``yaml.dump(data)`` text, character for character, at a fraction of the cost
  on long strings.
* :func:`dump`: YAML for files only we read back (keys sorted, Unicode kept), through libyaml's
  emitter when this PyYAML has it: :func:`load` gives back the same data, but the text is not
  PyYAML's character for character.

OSMO's CLI dumps the spec it submits with PyYAML's pure-Python emitter (``yaml.dump``), and the
second render reads that text, so we must produce the same bytes (libyaml folds long strings at
other places). The pure-Python emitter looks at every character of every scalar twice in a Python
loop: once to choose a style (``analyze_scalar``) and once more to write a double-quoted string
(``write_double_quoted``). A workflow with its files inlined (worker scripts, 120 KB) spends about
0.1 s there, a tenth of a small run's fixed cost.

:class:`ExactDumper` answers both with regular expressions over the whole string and visits only
the characters where the emitter can act: a space, a character it escapes, the one after an
escape. Everything else in PyYAML stays as it is. Only the default text path (no byte encoding,
no ``allow_unicode``) takes the fast route; anything else defers to PyYAML's own methods.
Tests compare the output with ``yaml.dump`` on real specs and on generated strings.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Any

import yaml
from yaml.emitter import ScalarAnalysis

_BREAKS = "\n\x85\u2028\u2029"
_WHITESPACE = "\0 \t\r" + _BREAKS
_FIRST_BOTH = "#,[]{}&*!|>'\"%@`"  # a leading one rules out both plain styles

_NON_PRINTABLE = re.compile(r"[^\n\x20-\x7e]")  # special when unicode output is off
_LINE_BREAK = re.compile(f"[{_BREAKS}]")
_BREAK_SPACE = re.compile(f"[{_BREAKS}] ")
_SPACE_BREAK = re.compile(f" [{_BREAKS}]")
_FLOW_INSIDE = re.compile(r"[,?\[\]{}:]")
_COLON_BEFORE_WHITESPACE = re.compile(r":(?:[\0 \t\r\n\x85\u2028\u2029]|$)")
_HASH_AFTER_WHITESPACE = re.compile(r"[\0 \t\r\n\x85\u2028\u2029]#")
# what a double-quoted string escapes: the quote, the backslash and anything but printable ASCII
_ESCAPED = re.compile(r'[^\x20\x21\x23-\x5b\x5d-\x7e]')
_SPACE = re.compile(" ")

_ESCAPES = {
    "\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0a": "n", "\x0b": "v", "\x0c": "f",
    "\x0d": "r", "\x1b": "e", '"': '"', "\\": "\\", "\x85": "N", "\xa0": "_", "\u2028": "L", "\u2029": "P",
}


def _escape(ch: str) -> str:
    short = _ESCAPES.get(ch)
    if short is not None:
        return "\\" + short
    code = ord(ch)
    if code <= 0xFF:
        return f"\\x{code:02X}"
    if code <= 0xFFFF:
        return f"\\u{code:04X}"
    return f"\\U{code:08X}"


def _indicators(scalar: str) -> tuple[bool, bool]:
    """(flow indicators, block indicators) as PyYAML's emitter finds them in a non-empty scalar."""
    flow = block = scalar.startswith(("---", "..."))
    first = scalar[0]
    first_spaced = len(scalar) == 1 or scalar[1] in _WHITESPACE
    if first in _FIRST_BOTH or (first == "-" and first_spaced):
        flow = block = True
    elif first in "?:":
        flow = True
        block = block or first_spaced
    rest = scalar[1:]
    if _FLOW_INSIDE.search(rest):
        flow = True
    if _COLON_BEFORE_WHITESPACE.search(rest):
        block = True
    if _HASH_AFTER_WHITESPACE.search(scalar):  # a '#' after whitespace (never the first character)
        flow = block = True
    return flow, block


class ExactDumper(yaml.Dumper):
    """``yaml.Dumper`` with the two per-character loops replaced; same output."""

    def _fast(self) -> bool:
        return not self.encoding and not self.allow_unicode

    def analyze_scalar(self, scalar: str) -> ScalarAnalysis:
        if not scalar or not self._fast():
            return super().analyze_scalar(scalar)
        flow_indicators, block_indicators = _indicators(scalar)
        line_breaks = bool(_LINE_BREAK.search(scalar))
        special = bool(_NON_PRINTABLE.search(scalar))
        edge_space = scalar[0] == " " or scalar[-1] == " "
        edge_break = scalar[0] in _BREAKS or scalar[-1] in _BREAKS
        break_space = bool(_BREAK_SPACE.search(scalar))
        space_break = bool(_SPACE_BREAK.search(scalar))

        plain = not (edge_space or edge_break or break_space or space_break or special or line_breaks)
        return ScalarAnalysis(
            scalar=scalar, empty=False, multiline=line_breaks,
            allow_flow_plain=plain and not flow_indicators,
            allow_block_plain=plain and not block_indicators,
            allow_single_quoted=not (break_space or space_break or special),
            allow_double_quoted=True,
            allow_block=not (scalar[-1] == " " or space_break or special),
        )

    def write_double_quoted(self, text: str, split: bool = True) -> None:
        if not self._fast():
            super().write_double_quoted(text, split)
            return
        self.write_indicator('"', True)
        self._size = size = len(text)
        spaces = [m.start() for m in _SPACE.finditer(text)]
        self._start = 0
        scanned = 0  # the emitter's loop has looked at every index below this
        for stop in [m.start() for m in _ESCAPED.finditer(text)] + [size]:
            # between escapes nothing is written, so the line only grows: the first space past
            # best_width is the one place the emitter can fold, then the next one from there
            while split:
                past = self.best_width - self.column + self._start + 1
                k = bisect_left(spaces, max(scanned, past, 1))
                if k == len(spaces) or spaces[k] >= min(stop, size - 1):
                    break
                self._fold(text, spaces[k])
                scanned = spaces[k] + 1
            if self._start < stop:
                self._put(text[self._start:stop])
                self._start = stop
            if stop == size:
                break
            self._put(_escape(text[stop]))
            self._start = stop + 1
            self._fold_if_over(text, stop, split)
            after = stop + 1  # the character after an escape is checked too (unless the next loop will)
            if after < size and text[after] != " " and not _ESCAPED.match(text, after):
                self._fold_if_over(text, after, split)
            scanned = after
        self.write_indicator('"', False)

    def _fold_if_over(self, text: str, end: int, split: bool) -> None:
        if split and 0 < end < self._size - 1 and self.column + (end - self._start) > self.best_width:
            self._fold(text, end)

    def _fold(self, text: str, end: int) -> None:
        """The emitter's fold at ``end``: a backslash, a new indented line, and a backslash before
        a space that would open the new line."""
        self._put(text[self._start:end] + "\\")
        self._start = max(self._start, end)
        self.write_indent()
        self.whitespace = False
        self.indention = False
        if text[self._start] == " ":
            self._put("\\")

    def _put(self, data: str) -> None:
        self.column += len(data)
        self.stream.write(data)


_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(text: str) -> Any:
    """``yaml.safe_load(text)``, parsed by libyaml when available. Raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader, C or Python


_SAFE_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


def dump(data: Any) -> str:
    """``yaml.safe_dump(data, sort_keys=True, allow_unicode=True)``'s data, written by libyaml when
    available (about five times faster on a rendered e2e spec; long strings are folded at other places)."""
    return yaml.dump(data, Dumper=_SAFE_DUMPER, sort_keys=True, allow_unicode=True)


def dump_exact(data: Any) -> str:
    """Exactly ``yaml.dump(data)``."""
    return yaml.dump(data, Dumper=ExactDumper)

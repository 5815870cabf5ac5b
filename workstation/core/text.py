"""The one rule for text that is not valid Unicode, and for showing text on a terminal.

A Python string may hold a lone surrogate (U+D800..U+DFFF): `surrogateescape` command-line
arguments, JSON's `"\\ud800"`, some clipboards. No UTF-8 file or database can hold one, so the
workstation replaces each with U+FFFD REPLACEMENT CHARACTER where text enters (typed text, model
output, exports). Every other character, NUL, control and bidi characters included, is kept
exactly; only what a terminal would act on is made visible when printed there.
"""

from __future__ import annotations

import re

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")

# What a terminal acts on instead of showing: C0 controls but tab and newline (ESC starts ANSI
# sequences), DEL, C1 controls (U+009B is a one-character CSI), and the bidi controls that
# reorder what a line appears to say (U+202A..U+202E, U+2066..U+2069, U+200E/F, U+061C).
_TERMINAL_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` with every lone surrogate replaced by U+FFFD (the same string when it has none)."""
    return _SURROGATE.sub(REPLACEMENT, text) if _SURROGATE.search(text) else text


def has_surrogates(text: str) -> bool:
    """Whether `text` holds a lone surrogate (which `clean` would replace)."""
    return _SURROGATE.search(text) is not None


def terminal_safe(text: str) -> str:
    """`text` for a terminal: controls and bidi overrides shown as `\\x1b`, `\\u202e` escapes."""
    return _TERMINAL_UNSAFE.sub(_escape, clean(text))


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

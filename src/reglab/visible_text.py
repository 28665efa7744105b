"""Text a user names things with (variants, studies, sweeps, the classes of their own data) is
shown in terminals, figures and exports: it must show as itself (issue 24, fault 8). Torch-free."""

from __future__ import annotations

import unicodedata


def unseen_character(text: str) -> str | None:
    """The first character of `text` that a terminal, a figure or a spreadsheet would not show as
    itself, described ("U+202E (RIGHT-TO-LEFT OVERRIDE)"), or None: control characters (NUL, ESC,
    newlines), format characters (the bidirectional overrides, zero-width ones), line and paragraph
    separators, surrogates, private-use and unassigned code points."""
    for char in text:
        if char != " " and unicodedata.category(char) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            return f"U+{ord(char):04X} ({unicodedata.name(char, 'a control character')})"
    return None

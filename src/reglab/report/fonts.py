"""A Japanese font for the HTML page, embedded, so that the report reads the same on a machine
without Japanese fonts (no tofu boxes) and needs no network.

Only the glyphs the page uses are embedded: IPAexGothic whole is 6 MB, the subset is tens of KB.
The IPA Font License (Article 2, paragraph 5) lets a document embed the font to display its own text.
"""

from __future__ import annotations

import base64
from io import BytesIO

import matplotlib_fontja
from fontTools import subset
from fontTools.ttLib import TTFont

FAMILY = "reglab-ja"
# Kana, kanji and full-width forms start at U+3000; Latin, Greek and symbols come from the reader's fonts.
FIRST_CODEPOINT = 0x3000


def font_face(text: str) -> str:
    """A CSS @font-face rule with the glyphs of `text` from U+3000 up, or "" when there are none."""
    characters = {c for c in text if ord(c) >= FIRST_CODEPOINT}
    if not characters:
        return ""
    font = TTFont(matplotlib_fontja.get_font_ttf_path())
    options = subset.Options()
    options.flavor = "woff"  # zlib-compressed; woff2 would need brotli
    subsetter = subset.Subsetter(options)
    subsetter.populate(text="".join(sorted(characters)))
    subsetter.subset(font)
    buffer = BytesIO()
    font.save(buffer)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'@font-face {{ font-family: "{FAMILY}"; src: url(data:font/woff;base64,{data}) format("woff"); }}'

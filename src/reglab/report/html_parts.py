"""The HTML primitives every section of report.html is built from: escaping, tags, tables,
figures and numbers with their intervals. Every string that comes from a run directory goes
through `esc`; markup is built only from these and the sections' own strings."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

from reglab.analysis.statistics import CONFIDENCE, Interval

PERCENT = round(CONFIDENCE * 100)
DASH = "–"


class Html(str):
    """Markup built here: already escaped, so `esc` passes it through."""


def esc(value: object) -> Html:
    return value if isinstance(value, Html) else Html(escape(str(value), quote=True))


def join(parts: Iterable[str]) -> Html:
    return Html("".join(esc(p) for p in parts))


def tag(name: str, *content: object, **attributes: str) -> Html:
    attrs = "".join(f' {key.rstrip("_")}="{esc(value)}"' for key, value in attributes.items() if value)
    return Html(f"<{name}{attrs}>{join(content)}</{name}>")


def table(headers: Sequence[str] | None, rows: Iterable[Sequence[object]], numeric: Iterable[int] = (),
          prose: Iterable[int] = ()) -> Html:
    """Headers None: a key/value table, keys as row headers. `numeric` columns align right; `prose`
    columns get room to wrap (Japanese can break anywhere, and would shrink to one character)."""
    kinds = {i: "num" for i in numeric} | {i: "prose" for i in prose}
    head = tag("thead", tag("tr", *(tag("th", h, class_=kinds.get(i, "")) for i, h in enumerate(headers)))
               ) if headers else ""
    first = "th" if headers is None else "td"
    body = [tag("tr", *(tag(first if i == 0 else "td", c, class_=kinds.get(i, "")) for i, c in enumerate(row)))
            for row in rows]
    return tag("div", tag("table", head, tag("tbody", *body)), class_="scroll")


def figure(name: str, pngs: dict[str, bytes], caption: str = "", alt: str = "") -> Html:
    if name not in pngs:
        return Html("")
    uri = "data:image/png;base64," + base64.b64encode(pngs[name]).decode("ascii")
    parts: list[object] = [Html(f'<img src="{uri}" alt="{esc(alt or name)}">')]
    if caption:
        parts.append(tag("figcaption", caption))
    return tag("figure", *parts)


# ----------------------------------------------------------------------------------- numbers


def number(value: float | None, digits: int = 2, scale: float = 1.0, sign: bool = False) -> str:
    if value is None:
        return DASH
    scaled = value * scale
    if round(scaled, digits) == 0:
        scaled = 0.0  # no "−0.000"
    return f"{scaled:{'+' if sign else ''}.{digits}f}".replace("-", "−")


def with_ci(interval: Interval | None, digits: int = 2, scale: float = 1.0, sign: bool = False) -> str:
    if interval is None or interval.mean is None:
        return DASH
    text = number(interval.mean, digits, scale, sign)
    if interval.low is not None:
        text += f" [{number(interval.low, digits, scale)}, {number(interval.high, digits, scale)}]"
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def p_value(value: float | None) -> str:
    return DASH if value is None else f"{value:.2g}"

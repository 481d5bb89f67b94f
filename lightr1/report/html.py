"""Markup built only from escaped data (`esc`, `tag`), and the report's number formats."""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence

# ------------------------------------------------------------------------------------------
# Markup that cannot be built from unescaped data.


class Html(str):
    """Markup built here from escaped parts: the only kind of string inserted as it is."""


def esc(value: object) -> Html:
    """Text as markup: escaped (quotes too, so it is safe in attributes), None as empty."""
    if isinstance(value, Html):
        return value
    return Html(html.escape("" if value is None else str(value), quote=True))


def join(parts: Iterable[object]) -> Html:
    return Html("".join(esc(part) for part in parts))


_VOID = {"meta", "input", "br"}


def tag(element: str, /, *children: object, **attrs: object) -> Html:
    """An element; children and attribute values are escaped unless already Html. Attribute
    names: a trailing underscore is dropped (class_), other underscores become hyphens
    (data_model, stroke_width); True gives a bare attribute, None and False none."""
    parts = [element]
    for key, value in attrs.items():
        if value is None or value is False:
            continue
        key = key.rstrip("_").replace("_", "-")
        parts.append(key if value is True else f'{key}="{esc(value)}"')
    opening = f"<{' '.join(parts)}>"
    if element in _VOID:
        return Html(opening)
    return Html(f"{opening}{join(children)}</{element}>")


def table(
    headers: Sequence[object], rows: Iterable[Sequence[object]], *, row_attrs: Sequence[Mapping[str, object]] | None = None, class_: str | None = None
) -> Html:
    head = tag("thead", tag("tr", *(tag("th", h) for h in headers)))
    body = []
    for i, row in enumerate(rows):
        attrs = row_attrs[i] if row_attrs else {}
        body.append(tag("tr", *(tag("td", cell) for cell in row), **attrs))
    return tag("table", head, tag("tbody", *body), class_=class_)


def note(text: object) -> Html:
    return tag("p", text, class_="note")


# ------------------------------------------------------------------------------------------
# Numbers.


def missing(x: float | None) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def pct(x: float | None) -> str:
    """A fraction as a percentage with one decimal ("—" where missing)."""
    return "—" if missing(x) else f"{100 * x:.1f}"


def points(x: float | None) -> str:
    """A difference of fractions in signed percentage points."""
    return "—" if missing(x) else f"{100 * x:+.1f}"


def p_value(p: float | None) -> str:
    if missing(p):
        return "—"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def number(x: float | None, digits: int = 0) -> str:
    return "—" if missing(x) else f"{x:,.{digits}f}"


def duration(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"

"""Server-side SVG bar charts for the public board: pure, no I/O, no JavaScript.

`bar_chart` draws one horizontal bar per row on a fixed-width 0-100 % axis, with the percentage
written next to each bar and "无数据" (or the page language's `no_data` text) where there is no value. Labels are enterprise and
project names, which an enterprise chooses: every piece of text is XML-escaped, so markup in a
name comes out as text. The SVG can be inlined in an HTML page or served as image/svg+xml.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape

NO_DATA = "无数据"
WIDTH = 640
_LABEL_WIDTH = 200
_VALUE_WIDTH = 64
_ROW_HEIGHT = 24
_BAR_HEIGHT = 14
_TOP = 40
_AXIS_HEIGHT = 24
_FONT = 12
_TICKS = (0.0, 0.25, 0.5, 0.75, 1.0)
_FONT_FAMILY = "'Noto Sans CJK SC','Microsoft YaHei','PingFang SC',sans-serif"


# Characters XML 1.0 does not allow at all (C0 controls but tab/newline/CR, surrogates, U+FFFE/F):
# a name containing one would make the whole SVG unreadable, so they are dropped.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """Escape for XML text and attribute values alike (& < > " '), without invalid characters."""
    return escape(_NOT_XML.sub("", value), quote=True)


def _em(ch: str) -> float:
    """Rough advance of one character in em: wide for CJK and full-width forms."""
    return 1.15 if ord(ch) >= 0x2E80 else 0.6


def _fit(label: str, width_px: float, font_px: float = _FONT) -> str:
    """The label, shortened with an ellipsis so it fits in `width_px` (an estimate)."""
    label = " ".join(label.split())  # no newlines or tabs inside an SVG text
    budget = width_px / font_px
    if sum(_em(c) for c in label) <= budget:
        return label
    out: list[str] = []
    used = _em("…")
    for ch in label:
        if used + _em(ch) > budget:
            break
        out.append(ch)
        used += _em(ch)
    return "".join(out) + "…"


def _value(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return min(1.0, max(0.0, value))


def percent(value: float | None, no_data: str = NO_DATA) -> str:
    """A rate 0..1 as the chart writes it: "87.5%", or `no_data` ("无数据")."""
    v = _value(value)
    return no_data if v is None else f"{v * 100:.1f}%"


def bar_chart(
    title: str,
    rows: Sequence[tuple[str, float | None]],
    *,
    width: int = WIDTH,
    description: str = "",
    no_data: str = NO_DATA,
) -> str:
    """A horizontal bar chart of rates (0..1; None: no data) as an SVG document fragment.

    The width is fixed (`width` px) and the height grows with the rows; values outside 0..1 are
    clamped, NaN counts as no data. `description` becomes the SVG's <desc> (e.g. how the rate is
    computed); `no_data` is written where a row has no value (the page's language).
    """
    if width < _LABEL_WIDTH + _VALUE_WIDTH + 100:
        raise ValueError(f"width {width} is too small for a chart")
    plot_x = _LABEL_WIDTH
    plot_w = width - _LABEL_WIDTH - _VALUE_WIDTH - 8
    height = _TOP + max(1, len(rows)) * _ROW_HEIGHT + _AXIS_HEIGHT
    axis_y = _TOP + max(1, len(rows)) * _ROW_HEIGHT

    out: list[str] = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{_text(title)}" '
        f'font-family="{_text(_FONT_FAMILY)}" font-size="{_FONT}">',
        f"<title>{_text(title)}</title>",
    ]
    if description:
        out.append(f"<desc>{_text(description)}</desc>")
    out.append(
        f'<text x="{width / 2:g}" y="20" text-anchor="middle" font-size="14" '
        f'font-weight="bold" fill="#222">{_text(_fit(title, width - 16, 14))}</text>'
    )
    # grid and axis: 0, 25, 50, 75, 100 %
    for tick in _TICKS:
        x = plot_x + tick * plot_w
        out.append(
            f'<line x1="{x:g}" y1="{_TOP - 4}" x2="{x:g}" y2="{axis_y}" '
            f'stroke="{"#888" if tick == 0 else "#ddd"}" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{x:g}" y="{axis_y + 16}" text-anchor="middle" fill="#555">'
            f"{tick * 100:.0f}%</text>"
        )
    out.append(
        f'<line x1="{plot_x}" y1="{axis_y}" x2="{plot_x + plot_w}" y2="{axis_y}" '
        'stroke="#888" stroke-width="1"/>'
    )
    if not rows:
        out.append(
            f'<text x="{plot_x + 6}" y="{_TOP + _ROW_HEIGHT / 2 + 4:g}" fill="#777">'
            f"{_text(no_data)}</text>"
        )
    for i, (label, raw) in enumerate(rows):
        y = _TOP + i * _ROW_HEIGHT
        mid = y + _ROW_HEIGHT / 2
        value = _value(raw)
        shown = percent(value, no_data)
        out.append(
            f"<g><title>{_text(' '.join(label.split()))}: {_text(shown)}</title>"
            f'<text x="{plot_x - 6}" y="{mid + 4:g}" text-anchor="end" fill="#222">'
            f"{_text(_fit(label, _LABEL_WIDTH - 16))}</text>"
        )
        if value is None:
            out.append(
                f'<text x="{plot_x + 6}" y="{mid + 4:g}" fill="#777">{_text(no_data)}</text></g>'
            )
            continue
        bar_w = value * plot_w
        out.append(
            f'<rect x="{plot_x}" y="{mid - _BAR_HEIGHT / 2:g}" width="{bar_w:.1f}" '
            f'height="{_BAR_HEIGHT}" fill="#3b6ea5"/>'
            f'<text x="{plot_x + bar_w + 4:.1f}" y="{mid + 4:g}" fill="#222">'
            f"{_text(shown)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)

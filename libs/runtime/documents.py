"""Official documents (公文) as PDF: the red header (红头), the document number (文号), the title,
the addressee, the body, the issuing office and date, a seal placeholder and the copy line, laid
out after the national format for Party and government documents (GB/T 9704) as far as a
generated document can follow it.

Rendered with fpdf2 (pure Python, maintained, embeds and subsets TrueType fonts, wraps CJK text
by character). The Chinese font comes from Debian's packages (`fonts-wqy-zenhei`, or
`fonts-wqy-microhei` / `fonts-noto-cjk`), found through fontconfig or the usual font folders,
never a fixed path; `DOCUMENT_FONT=/path/to/font.ttc` overrides. `python -m deploy.local.stack`
installs the package on a fresh machine as root; the container image copies it in.

The seal is a placeholder, and says so: a red circle outline with the office's name and
"（印章位置）". A generated PDF carries no signature; the signed original is the office's.
"""

from __future__ import annotations

import functools
import math
import os
import shutil
import subprocess
import urllib.parse
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos

CHINA = timezone(timedelta(hours=8))
RED = (204, 0, 0)
BLACK = (0, 0, 0)

# Preferred fonts, best first: (file name, index in the collection).
_FONT_FILES = (
    ("wqy-zenhei.ttc", 0),
    ("wqy-microhei.ttc", 0),
    ("NotoSansCJK-Regular.ttc", 2),  # the collection's Simplified Chinese face
    ("NotoSerifCJK-Regular.ttc", 2),
)
_FONT_DIRS = (
    Path("/usr/share/fonts"),
    Path("/usr/local/share/fonts"),
    Path.home() / ".local/share/fonts",
    Path.home() / ".fonts",
)
DEBIAN_FONT_PACKAGE = "fonts-wqy-zenhei"


class FontMissing(RuntimeError):
    """No Chinese font to render official documents with."""


@dataclass(frozen=True)
class Font:
    path: Path
    index: int  # the face in a TrueType collection (.ttc)


@dataclass(frozen=True)
class OfficialDocument:
    """What one official document says. Text is plain (no markup); paragraphs are separated by
    blank lines or line breaks."""

    issuer: str  # the issuing office: 天津市和平区物业管理办公室
    number: str  # 文号: 和平区物业通〔2026〕7号
    title: str  # 关于……的通报批评
    addressee: str | None  # 主送, without the colon
    body: str
    issued_on: date  # 成文日期
    copy_to: str | None = None  # 抄送
    kind: str = "文件"  # the header's last word: 文件 (a document), or 通报, 通知书 ...


def find_font() -> Font:
    """The Chinese font for documents: `DOCUMENT_FONT` (a path, `path:index` for a collection),
    else the first of the preferred files fontconfig knows, else the first in the font folders.
    FontMissing says which Debian package to install."""
    return _find_font(os.environ.get("DOCUMENT_FONT", ""))


@functools.cache
def _find_font(override: str) -> Font:
    if override:
        file, _, number = override.partition(":")
        if not Path(file).is_file():
            raise FontMissing(f"DOCUMENT_FONT={override!r} is not a file")
        return Font(Path(file), int(number or 0))
    known = _fontconfig_files()
    for name, index in _FONT_FILES:
        for path in known:
            if path.name == name and path.is_file():
                return Font(path, index)
    for name, index in _FONT_FILES:
        for folder in _FONT_DIRS:
            if folder.is_dir():
                for path in sorted(folder.rglob(name)):
                    return Font(path, index)
    raise FontMissing(
        "no Chinese font for official documents: install Debian's "
        f"{DEBIAN_FONT_PACKAGE} (apt-get install -y {DEBIAN_FONT_PACKAGE}) "
        "or set DOCUMENT_FONT to a TrueType font with Chinese glyphs"
    )


def _fontconfig_files() -> list[Path]:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return []
    listed = subprocess.run(  # noqa: S603 (fc-list from PATH, fixed arguments)
        [fc_list, ":lang=zh", "file"], capture_output=True, text=True, check=False, timeout=30
    )
    return [Path(line.strip().rstrip(":")) for line in listed.stdout.splitlines() if line.strip()]


def content_disposition(filename: str) -> str:
    """`Content-Disposition` for showing a PDF in the browser, under a Chinese file name (RFC 6266
    with RFC 5987's UTF-8 form; an ASCII fallback for old clients)."""
    fallback = "".join(c if c.isascii() and (c.isalnum() or c in "-_.") else "_" for c in filename)
    quoted = urllib.parse.quote(filename, safe="")
    return f"inline; filename=\"{fallback}\"; filename*=UTF-8''{quoted}"


def chinese_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


class _Document(FPDF):
    def __init__(self, font: Font) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        # GB/T 9704 margins: top 37 mm, left 28 mm, text block 156 mm wide.
        self.set_margins(left=28, top=30, right=26)
        self.set_auto_page_break(auto=True, margin=30)
        self.add_font("cn", "", str(font.path), collection_font_number=font.index)
        self.set_font("cn", size=12)

    def paragraph(self, height: float, text: str, align: Align = Align.L) -> None:
        """Text wrapped by character (CJK), then the next line at the left margin."""
        self.multi_cell(
            self.epw,
            height,
            text,
            align=align,
            wrapmode=WrapMode.CHAR,
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )

    def footer(self) -> None:
        self.set_y(-20)
        self.set_font("cn", size=10)
        self.set_text_color(*BLACK)
        self.cell(0, 6, f"— {self.page_no()} —", align=Align.C)


def render_pdf(doc: OfficialDocument) -> bytes:
    """The document as PDF bytes (A4, the Chinese font embedded, subset)."""
    pdf = _Document(find_font())
    pdf.set_title(f"{doc.number} {doc.title}")
    pdf.set_author(doc.issuer)
    pdf.set_subject(doc.title)
    pdf.set_creator("wuye supervision platform")
    # The document's own date, not the wall clock: the same document, the same bytes.
    pdf.set_creation_date(datetime.combine(doc.issued_on, time(), CHINA))
    pdf.add_page()
    width = pdf.epw

    # 版头: the issuing office in red, large, centred; then the number; then the red rule.
    header = f"{doc.issuer}{doc.kind}"
    size = 26.0
    pdf.set_font("cn", size=size)
    while pdf.get_string_width(header) > width and size > 14:
        size -= 1
        pdf.set_font("cn", size=size)
    pdf.set_text_color(*RED)
    pdf.set_y(40)
    pdf.cell(width, 16, header, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(8)
    pdf.set_font("cn", size=14)
    pdf.set_text_color(*BLACK)
    pdf.cell(width, 8, doc.number, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    pdf.set_draw_color(*RED)
    pdf.set_line_width(0.8)
    y = pdf.get_y()
    pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
    pdf.ln(10)

    # Title, addressee, body.
    pdf.set_font("cn", size=17)
    pdf.paragraph(10, doc.title, Align.C)
    pdf.ln(6)
    pdf.set_font("cn", size=14)
    if doc.addressee:
        pdf.paragraph(8, f"{doc.addressee}：")
    for paragraph in (p.strip() for p in doc.body.splitlines()):
        if not paragraph:
            continue
        pdf.paragraph(8, f"\u3000\u3000{paragraph}")

    # 落款 and 成文日期 at the right, the seal placeholder over them.
    pdf.ln(14)
    if pdf.get_y() > pdf.h - 90:
        pdf.add_page()
    top = pdf.get_y()
    right = pdf.l_margin + width - 8
    issued = chinese_date(doc.issued_on)
    for line in (doc.issuer, issued):
        w = pdf.get_string_width(line)
        pdf.set_x(right - w)
        pdf.cell(w, 9, line, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    _seal_placeholder(pdf, centre=(right - 22, top + 9), office=doc.issuer)
    pdf.set_y(top + 50)

    if doc.copy_to:
        pdf.set_draw_color(*BLACK)
        pdf.set_line_width(0.3)
        y = pdf.get_y()
        pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
        pdf.set_font("cn", size=12)
        pdf.paragraph(8, f"抄送：{doc.copy_to}。")
        y = pdf.get_y()
        pdf.line(pdf.l_margin, y, pdf.l_margin + width, y)
    return bytes(pdf.output())


def _seal_placeholder(pdf: FPDF, *, centre: tuple[float, float], office: str) -> None:
    """A red circle outline, the office's name set around its upper arc, a star in the middle
    and "印章位置" under it: plainly a placeholder where the office applies its seal."""
    cx, cy = centre
    radius = 21.0
    pdf.set_draw_color(*RED)
    pdf.set_text_color(*RED)
    pdf.set_line_width(0.9)
    pdf.circle(cx, cy, radius, style="D")
    pdf.set_font("cn", size=9)
    chars = list(office)
    span = min(240.0, 18.0 * len(chars))
    for i, char in enumerate(chars):
        angle = -span / 2 + (span * i / max(1, len(chars) - 1) if len(chars) > 1 else 0)
        rad = math.radians(angle)
        x = cx + (radius - 5) * math.sin(rad)
        y = cy - (radius - 5) * math.cos(rad)
        with pdf.rotation(-angle, x, y):
            w = pdf.get_string_width(char)
            pdf.text(x - w / 2, y + 1.5, char)
    pdf.set_font("cn", size=16)
    star = "★"
    pdf.text(cx - pdf.get_string_width(star) / 2, cy + 3, star)
    pdf.set_font("cn", size=8)
    label = "（印章位置）"
    pdf.text(cx - pdf.get_string_width(label) / 2, cy + 11, label)
    pdf.set_text_color(*BLACK)
    pdf.set_draw_color(*BLACK)

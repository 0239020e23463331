"""Official documents as PDF (runtime.documents): the text reads back (number, office, addressee,
body, date, seal placeholder), the font is found without a fixed path, and a missing font says
which Debian package to install."""

from __future__ import annotations

import io
from datetime import date
from pathlib import Path

import pypdf
import pytest

from runtime import documents

DOC = documents.OfficialDocument(
    issuer="天津市和平区物业管理办公室",
    number="和平区物业通〔2026〕7号",
    title="关于津城物业服务有限公司整改不及时的通报批评",
    addressee="津城物业服务有限公司",
    body="贵单位服务的物业项目“海河花园”逾期未整改：\n1. 【严重】消防通道堆放杂物\n现予通报批评。",
    issued_on=date(2026, 12, 6),
    copy_to="天津市物业管理办公室",
)


def text_of(pdf: bytes) -> str:
    return "".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)


def test_the_document_reads_back_with_its_parts() -> None:
    pdf = documents.render_pdf(DOC)
    assert pdf.startswith(b"%PDF-")
    text = text_of(pdf)
    for part in (
        "天津市和平区物业管理办公室文件",  # the red header
        "和平区物业通〔2026〕7号",
        "关于津城物业服务有限公司整改不及时的通报批评",
        "津城物业服务有限公司：",
        "消防通道堆放杂物",
        "2026年12月6日",
        "（印章位置）",
        "抄送：天津市物业管理办公室。",
    ):
        assert part in text, part
    meta = pypdf.PdfReader(io.BytesIO(pdf)).metadata
    assert meta is not None
    assert meta.author == "天津市和平区物业管理办公室"


def test_the_same_document_renders_to_the_same_bytes() -> None:
    assert documents.render_pdf(DOC) == documents.render_pdf(DOC)


def test_a_long_body_flows_onto_more_pages() -> None:
    long = documents.OfficialDocument(**{**DOC.__dict__, "body": "整改事项。\n" * 120})
    reader = pypdf.PdfReader(io.BytesIO(documents.render_pdf(long)))
    assert len(reader.pages) >= 2
    assert "— 2 —" in reader.pages[1].extract_text()


def test_the_font_is_found_in_the_font_folders_without_fontconfig(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(documents, "_fontconfig_files", list)
    documents._find_font.cache_clear()
    try:
        found = documents.find_font()
    finally:
        documents._find_font.cache_clear()
    assert found.path.is_file()
    assert found.path.name in {name for name, _ in documents._FONT_FILES}


def test_a_missing_font_names_the_debian_package(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(documents, "_fontconfig_files", list)
    monkeypatch.setattr(documents, "_FONT_DIRS", (tmp_path,))
    documents._find_font.cache_clear()
    try:
        with pytest.raises(documents.FontMissing, match="fonts-wqy-zenhei"):
            documents.find_font()
    finally:
        documents._find_font.cache_clear()
    monkeypatch.setenv("DOCUMENT_FONT", str(tmp_path / "nope.ttf"))
    with pytest.raises(documents.FontMissing, match="DOCUMENT_FONT"):
        documents.find_font()


def test_the_file_name_is_offered_in_utf_8_with_an_ascii_fallback() -> None:
    header = documents.content_disposition("和平区物业通〔2026〕7号.pdf")
    assert header.startswith('inline; filename="')
    assert "filename*=UTF-8''%E5%92%8C" in header
    assert header.isascii()

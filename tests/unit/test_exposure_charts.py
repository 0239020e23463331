"""Server-side SVG bar charts of the board: escaping, no data, 0 and 1, fixed width."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from services.exposure.domain import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)  # noqa: S314 (our own output: a parse error is the test failing)


def bars(root: ET.Element) -> list[float]:
    return [float(r.attrib["width"]) for r in root.iter(f"{SVG}rect")]


def texts(root: ET.Element) -> list[str]:
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def plot_width(root: ET.Element) -> float:
    """Distance between the 0 % and the 100 % grid lines."""
    xs = [float(line.attrib["x1"]) for line in root.iter(f"{SVG}line")]
    return max(xs) - min(xs)


def test_labels_chosen_by_an_attacker_come_out_as_text() -> None:
    evil = [
        ("<script>alert(1)</script>", 0.5),
        ('x" onload="alert(1)', 0.5),
        ("]]><foreignObject><iframe src='javascript:alert(1)'/></foreignObject>", 0.5),
        ("A & B", 0.5),
    ]
    svg = charts.bar_chart('<img src=x onerror="alert(1)">', evil)
    assert "<script" not in svg
    assert "<iframe" not in svg
    assert "<img" not in svg
    root = parse(svg)
    tags = {el.tag for el in root.iter()}
    assert tags <= {f"{SVG}{t}" for t in ("svg", "title", "desc", "text", "line", "rect", "g")}
    for el in root.iter():
        assert not any(name.startswith("on") for name in el.attrib)
    shown = texts(root)
    assert "<script>alert(1)</script>" in shown  # the text itself, inert
    assert "A & B" in shown
    assert root.attrib["aria-label"] == '<img src=x onerror="alert(1)">'


def test_characters_xml_does_not_allow_are_dropped_so_the_chart_stays_readable() -> None:
    svg = charts.bar_chart("t", [("bad\x00\x01\x1bname\ufffe", 0.5), ("two\nlines", 0.5)])
    shown = texts(parse(svg))
    assert "badname" in shown
    assert "two lines" in shown


def test_no_data_is_written_out_and_draws_no_bar() -> None:
    root = parse(charts.bar_chart("满意率", [("甲物业", None), ("乙物业", 0.5)]))
    assert bars(root) == [pytest.approx(plot_width(root) / 2, abs=0.1)]
    shown = texts(root)
    assert charts.NO_DATA in shown
    assert "50.0%" in shown
    assert charts.NO_DATA == "无数据"
    assert "n/a" not in " ".join(shown)
    english = texts(parse(charts.bar_chart("Satisfaction", [("A", None)], no_data="no data")))
    assert "no data" in english


def test_zero_and_one_are_an_empty_and_a_full_bar_with_their_percentages() -> None:
    root = parse(charts.bar_chart("按期整改率", [("零", 0.0), ("满", 1.0)]))
    assert bars(root) == [0.0, pytest.approx(plot_width(root), abs=0.1)]
    shown = texts(root)
    assert "0.0%" in shown
    assert "100.0%" in shown
    assert charts.NO_DATA not in shown


def test_the_axis_runs_from_0_to_100_percent() -> None:
    shown = texts(parse(charts.bar_chart("t", [("a", 0.3)])))
    for tick in ("0%", "25%", "50%", "75%", "100%"):
        assert tick in shown


def test_out_of_range_values_are_clamped_and_nan_is_no_data() -> None:
    root = parse(charts.bar_chart("t", [("high", 1.7), ("low", -0.2), ("nan", math.nan)]))
    assert bars(root) == [pytest.approx(plot_width(root), abs=0.1), 0.0]
    shown = texts(root)
    assert "100.0%" in shown
    assert "0.0%" in shown
    assert charts.NO_DATA in shown
    assert charts.percent(0.8766) == "87.7%"
    assert charts.percent(None) == charts.NO_DATA


def test_the_width_is_fixed_and_long_labels_are_shortened() -> None:
    long = "津城物业服务有限公司" * 5
    root = parse(charts.bar_chart("t", [(long, 0.5), ("短", 0.25)]))
    assert root.attrib["width"] == str(charts.WIDTH)
    assert root.attrib["viewBox"].split()[2] == str(charts.WIDTH)
    label = next(t for t in texts(root) if t.startswith("津城"))
    assert label.endswith("…")
    assert len(label) < len(long)
    # the full name stays available as the row's tooltip
    assert any(long in "".join(t.itertext()) for t in root.iter(f"{SVG}title"))
    # the height grows with the rows
    taller = parse(charts.bar_chart("t", [("a", 0.1)] * 10))
    assert int(taller.attrib["height"]) > int(root.attrib["height"])


def test_an_empty_chart_is_valid_and_says_there_is_no_data() -> None:
    root = parse(charts.bar_chart("空", []))
    assert bars(root) == []
    assert charts.NO_DATA in texts(root)


def test_no_script_of_any_kind() -> None:
    svg = charts.bar_chart("t", [("a", 0.5)], description="按期整改率 = 按期 / 到期")
    assert "script" not in svg.lower()
    assert "javascript" not in svg.lower()
    assert "<desc>按期整改率 = 按期 / 到期</desc>" in svg


def test_a_too_narrow_chart_is_refused() -> None:
    with pytest.raises(ValueError, match="too small"):
        charts.bar_chart("t", [("a", 0.5)], width=200)

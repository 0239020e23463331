"""GCJ-02 <-> WGS-84 and the haversine distance (services/complaints/domain/geo.py). Reference
values from the public-domain prcoords library (wgs_gcj, gcj_wgs_bored), computed once."""

from __future__ import annotations

import pytest

from services.complaints.domain.geo import (
    Datum,
    Point,
    distance_m,
    gcj02_to_wgs84,
    to_wgs84,
    wgs84_to_gcj02,
)


def test_forward_matches_the_reference() -> None:
    g = wgs84_to_gcj02(Point(39.12, 117.2))  # Tianjin, 和平区
    assert g.latitude == pytest.approx(39.121029250735, abs=1e-9)
    assert g.longitude == pytest.approx(117.20630373059768, abs=1e-9)


def test_inverse_matches_the_reference_and_round_trips() -> None:
    w = gcj02_to_wgs84(Point(39.1255, 117.2123))
    assert w.latitude == pytest.approx(39.12447710250281, abs=1e-9)
    assert w.longitude == pytest.approx(117.20600441371197, abs=1e-9)
    for p in (Point(39.0851, 117.1994), Point(22.54, 114.06), Point(45.75, 126.63)):
        back = gcj02_to_wgs84(wgs84_to_gcj02(p))
        assert distance_m(back, p) < 0.001  # under a millimetre


def test_the_offset_in_tianjin_is_hundreds_of_metres() -> None:
    p = Point(39.12, 117.2)
    assert 300 < distance_m(p, wgs84_to_gcj02(p)) < 800


def test_outside_china_nothing_changes() -> None:
    for p in (Point(51.5, -0.12), Point(-33.9, 151.2), Point(35.68, 139.77)):  # London ...
        assert wgs84_to_gcj02(p) == p
        assert gcj02_to_wgs84(p) == p


def test_to_wgs84_by_datum_and_distance() -> None:
    p = Point(39.12, 117.2)
    assert to_wgs84(p, Datum.WGS84) == p
    assert distance_m(to_wgs84(wgs84_to_gcj02(p), Datum.GCJ02), p) < 0.001
    # one degree of latitude is about 111.2 km
    assert distance_m(Point(39.0, 117.0), Point(40.0, 117.0)) == pytest.approx(111_195, rel=1e-3)

"""Coordinates: WGS-84 and China's GCJ-02, and the great-circle distance.

Chinese map SDKs (Amap/高德, Tencent/腾讯, the WeChat mini-program location API) report and draw
GCJ-02 ("Mars coordinates"), an obfuscated datum required for maps published in China: a GCJ-02
point lies some 100-700 m from the same place in WGS-84 (GPS). The project registry and PostGIS
work in WGS-84 (SRID 4326), so a GCJ-02 point from a city app is converted first.

`wgs84_to_gcj02` is the published forward transform (the constants of the Krasovsky ellipsoid
that the GCJ-02 algorithm uses); there is no closed-form inverse, so `gcj02_to_wgs84` inverts it
by fixed-point iteration to well under a millimetre. Outside mainland China's bounding box
GCJ-02 equals WGS-84. Tested in tests/unit/complaints/test_geo.py against reference values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

_A = 6378245.0  # Krasovsky 1940 semi-major axis, as GCJ-02 uses it
_EE = 0.00669342162296594323  # its first eccentricity squared
EARTH_RADIUS_M = 6371008.8  # mean radius, for haversine


class Datum(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"


@dataclass(frozen=True)
class Point:
    """A WGS-84 point in degrees."""

    latitude: float
    longitude: float


def _outside_china(lat: float, lng: float) -> bool:
    return not (72.004 <= lng <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _delta_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _delta_lng(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def wgs84_to_gcj02(p: Point) -> Point:
    if _outside_china(p.latitude, p.longitude):
        return p
    dlat = _delta_lat(p.longitude - 105.0, p.latitude - 35.0)
    dlng = _delta_lng(p.longitude - 105.0, p.latitude - 35.0)
    rad = p.latitude / 180.0 * math.pi
    magic = 1 - _EE * math.sin(rad) ** 2
    sqrt_magic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrt_magic) * math.pi)
    dlng = (dlng * 180.0) / (_A / sqrt_magic * math.cos(rad) * math.pi)
    return Point(p.latitude + dlat, p.longitude + dlng)


def gcj02_to_wgs84(p: Point) -> Point:
    """The WGS-84 point whose GCJ-02 is `p` (iterated until the residual is below 1e-10 degrees,
    about 0.01 mm)."""
    if _outside_china(p.latitude, p.longitude):
        return p
    guess = p
    for _ in range(30):
        forward = wgs84_to_gcj02(guess)
        dlat, dlng = forward.latitude - p.latitude, forward.longitude - p.longitude
        if abs(dlat) < 1e-10 and abs(dlng) < 1e-10:
            break
        guess = Point(guess.latitude - dlat, guess.longitude - dlng)
    return guess


def to_wgs84(p: Point, datum: Datum) -> Point:
    return gcj02_to_wgs84(p) if datum is Datum.GCJ02 else p


def distance_m(a: Point, b: Point) -> float:
    """Great-circle (haversine) distance in metres."""
    la1, la2 = math.radians(a.latitude), math.radians(b.latitude)
    dla, dlo = la2 - la1, math.radians(b.longitude - a.longitude)
    h = math.sin(dla / 2) ** 2 + math.cos(la1) * math.cos(la2) * math.sin(dlo / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(h))

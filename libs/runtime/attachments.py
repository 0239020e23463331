"""Photos attached to a service's records: checked, re-encoded, stored with the record.

Every service that takes photos (complaints: the owners' form; inspections: the patrol form and
the enterprise's evidence form) uses this one piece:

1. ``prepare(upload, limits=..., keep_original=...)`` (or ``prepare_all`` for a form's list)
   turns the uploaded bytes into a ``Prepared`` photo, or raises ``InvalidInput`` with the form
   field and the reason (zh-CN + English) — before anything is written:

   - size cap (``Limits.max_bytes``, 15 MB) and count cap (``Limits.max_count``);
   - the type is sniffed from the bytes (JPEG, PNG, WebP; HEIC is not read by this Pillow build),
     never taken from the file name or the browser's content type;
   - decompression bombs: more than ``Limits.max_pixels`` pixels is refused (Pillow's
     ``DecompressionBombError`` / ``DecompressionBombWarning`` become the same refusal);
   - the image is decoded fully and re-encoded (JPEG, or PNG when it has transparency) with its
     long edge at most ``Limits.long_edge`` px, turned upright by its EXIF orientation, and
     **without any EXIF** (no location, no camera serial): this is what is served;
   - a ``Limits.thumb_edge`` px JPEG thumbnail for lists;
   - the SHA-256 of the served bytes (the reference events carry).
   - ``keep_original=True`` (evidence rules: an inspector's patrol photo) also keeps the uploaded
     bytes as they came. ``served_original(stored, with_location=...)`` hands them out: whole only
     to those allowed the location (the district office), else with the GPS block removed.
     Owners' photos never keep an original.

2. ``AttachmentStore`` (the port) is bound to the caller's unit of work: ``put`` writes the photos
   of a record in the record's own transaction (no orphans, nothing half-written), ``listed``
   gives a record's references, ``get`` / ``thumbnail`` the bytes to serve. The service's policy
   decides who may see the record first; the store never decides that. Serve with
   ``serving_headers(...)``: ``Cache-Control: private``, ``nosniff``, the stored type only.

   A service's unit of work exposes it as ``uow.attachments = PgAttachmentStore(conn)``; the
   service-layer tests use ``MemoryAttachmentStore``.

Why PostgreSQL (bytea in the service's own database) is the embedded default: it needs no extra
server, the photo commits or rolls back with its record in one transaction (an object store
cannot join that transaction), backups and the "each service owns its data" rule cover it
unchanged, and the volumes are modest (a few photos per complaint or inspection, about
0.3–1 MB each after re-encoding). An S3-compatible store (MinIO, the city cloud's OSS) would
implement the same port: ``put`` uploads under a content-addressed key *before* the record's
transaction commits and writes only the key row in it; a periodic sweep deletes objects that no
committed row names (the orphans of rolled-back transactions); ``get`` streams by key or hands
out a short-lived presigned URL after the policy check. Its credentials, bucket and endpoint
would be settings (Secrets); nothing above this port changes.

Kept whole: the pipeline, the port and its two implementations change together (a new variant or
field touches all of them), and the services import one module.
"""

from __future__ import annotations

import hashlib
import io
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, Protocol

from PIL import Image, ImageOps

from runtime import db
from runtime.errors import InvalidInput, Message

# Pillow's own global guard: decoding more pixels than this raises DecompressionBombError. Our
# check below (Limits.max_pixels) runs first on the header, this one is the backstop.
Image.MAX_IMAGE_PIXELS = 50_000_000

MB = 1024 * 1024
SNIFFED = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
_GPS_IFD = 0x8825

Variant = Literal["image", "thumbnail", "original"]


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 15 * MB  # per photo, as uploaded
    max_count: int = 9  # per record
    max_pixels: int = 40_000_000  # width × height of the uploaded image
    long_edge: int = 2048  # px, of what is stored and served
    thumb_edge: int = 320  # px, of the thumbnail
    jpeg_quality: int = 85


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Upload:
    """One uploaded file as a form or API received it (the name is informative only)."""

    data: bytes
    filename: str | None = None


@dataclass(frozen=True)
class Prepared:
    """A checked photo, ready to be written with its record."""

    attachment_id: str
    content_type: str  # of `data`: image/jpeg or image/png
    sha256: str
    data: bytes  # re-encoded, no EXIF
    width: int
    height: int
    thumbnail: bytes  # image/jpeg
    original: bytes | None = None  # the upload as it came (evidence rules only)
    original_type: str | None = None
    original_sha256: str | None = None


@dataclass(frozen=True)
class Ref:
    """What events and lists carry: never bytes."""

    attachment_id: str
    sha256: str
    content_type: str
    width: int
    height: int
    has_original: bool = False


@dataclass(frozen=True)
class Stored:
    """Bytes to serve, with the record they belong to (for the caller's policy check)."""

    attachment_id: str
    owner_kind: str
    owner_id: str
    content_type: str
    data: bytes


# --- the pipeline ------------------------------------------------------------------------------


def _refuse(code: str, zh: str, en: str, where: str) -> InvalidInput:
    return InvalidInput(code, Message(zh, en), field=where)


def sniff(data: bytes) -> str | None:
    """The image type from the first bytes (magic numbers), or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def prepare(
    upload: Upload,
    *,
    where: str = "photos",
    limits: Limits = DEFAULT_LIMITS,
    keep_original: bool = False,
) -> Prepared:
    """Check and re-encode one photo; raises `InvalidInput` (field `where`) with the reason."""
    name = f"“{upload.filename}”" if upload.filename else ""
    if len(upload.data) > limits.max_bytes:
        raise _refuse(
            "photo_too_large",
            f"照片{name}太大：每张最多 {limits.max_bytes // MB} MB",
            f"photo {upload.filename or ''} is too large: at most {limits.max_bytes // MB} MB each",
            where,
        )
    if not upload.data:
        raise _refuse("photo_empty", f"照片{name}是空文件", "the photo file is empty", where)
    kind = sniff(upload.data)
    if kind is None:
        raise _refuse(
            "photo_type",
            f"文件{name}不是照片：只接受 JPEG、PNG 或 WebP 图片",
            f"file {upload.filename or ''} is not a photo: only JPEG, PNG or WebP images",
            where,
        )
    bomb = _refuse(
        "photo_pixels",
        f"照片{name}像素过多（最多 {limits.max_pixels // 1_000_000} 百万像素）",
        f"the photo has too many pixels (at most {limits.max_pixels // 1_000_000} megapixels)",
        where,
    )
    damaged = _refuse(
        "photo_damaged",
        f"照片{name}已损坏或无法读取",
        f"the photo {upload.filename or ''} is damaged or cannot be read",
        where,
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(upload.data), formats=[kind]) as img:
                if img.width * img.height > limits.max_pixels:
                    raise bomb
                img.load()
                upright = ImageOps.exif_transpose(img)
                data, content_type, width, height = _encode(upright, limits.long_edge, limits)
                thumb, _, _, _ = _encode(upright, limits.thumb_edge, limits, force_jpeg=True)
    except InvalidInput:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise bomb from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:  # Pillow's "cannot decode"
        raise damaged from exc
    original = upload.data if keep_original else None
    return Prepared(
        attachment_id=str(uuid.uuid4()),
        content_type=content_type,
        sha256=hashlib.sha256(data).hexdigest(),
        data=data,
        width=width,
        height=height,
        thumbnail=thumb,
        original=original,
        original_type=SNIFFED[kind] if original is not None else None,
        original_sha256=hashlib.sha256(original).hexdigest() if original is not None else None,
    )


def _encode(
    img: Image.Image, edge: int, limits: Limits, *, force_jpeg: bool = False
) -> tuple[bytes, str, int, int]:
    transparent = img.mode in ("RGBA", "LA", "PA") or (
        img.mode == "P" and "transparency" in img.info
    )
    out = img.copy()
    out.thumbnail((edge, edge), Image.Resampling.LANCZOS)  # keeps the aspect, never enlarges
    buf = io.BytesIO()
    if transparent and not force_jpeg:
        out.convert("RGBA").save(buf, "PNG", optimize=True)  # no exif= given: none written
        content_type = "image/png"
    else:
        if out.mode != "RGB":
            background = Image.new("RGB", out.size, (255, 255, 255))
            rgba = out.convert("RGBA")
            background.paste(rgba, mask=rgba.getchannel("A"))
            out = background
        out.save(buf, "JPEG", quality=limits.jpeg_quality, optimize=True)
        content_type = "image/jpeg"
    return buf.getvalue(), content_type, out.width, out.height


def prepare_all(
    uploads: Sequence[Upload],
    *,
    where: str = "photos",
    limits: Limits = DEFAULT_LIMITS,
    keep_original: bool = False,
) -> tuple[Prepared, ...]:
    """A form's photos (empty file inputs already dropped); the first refusal names its photo
    (`where.<index>`)."""
    if len(uploads) > limits.max_count:
        raise _refuse(
            "too_many_photos",
            f"照片最多 {limits.max_count} 张（当前 {len(uploads)} 张）",
            f"at most {limits.max_count} photos (got {len(uploads)})",
            where,
        )
    return tuple(
        prepare(u, where=f"{where}.{i}", limits=limits, keep_original=keep_original)
        for i, u in enumerate(uploads)
    )


def ref(p: Prepared) -> Ref:
    return Ref(p.attachment_id, p.sha256, p.content_type, p.width, p.height, p.original is not None)


def strip_location(data: bytes) -> bytes:
    """The original without its GPS block (for anyone but those allowed the location)."""
    with Image.open(io.BytesIO(data)) as img:
        exif = img.getexif()
        if _GPS_IFD not in exif:
            return data
        del exif[_GPS_IFD]
        buf = io.BytesIO()
        if img.format == "JPEG":
            img.save(buf, "JPEG", exif=exif.tobytes(), quality="keep")
        else:
            img.save(buf, img.format or "PNG", exif=exif.tobytes())
        return buf.getvalue()


def served_original(stored: Stored, *, with_location: bool) -> Stored:
    if with_location:
        return stored
    return Stored(
        stored.attachment_id,
        stored.owner_kind,
        stored.owner_id,
        stored.content_type,
        strip_location(stored.data),
    )


def serving_headers(stored: Stored) -> Mapping[str, str]:
    """Headers of a served attachment: private caching only, no sniffing, the stored type."""
    return {
        "Cache-Control": "private, max-age=300",
        "X-Content-Type-Options": "nosniff",
        "Content-Type": stored.content_type,
        "Content-Disposition": "inline",
        "Content-Security-Policy": "default-src 'none'; sandbox",
    }


def valid_id(attachment_id: str) -> bool:
    try:
        return str(uuid.UUID(attachment_id)) == attachment_id
    except ValueError:
        return False


# --- the port and its implementations ------------------------------------------------------------


class AttachmentStore(Protocol):
    """A service's attachments, bound to one unit of work (its transaction)."""

    async def put(
        self, owner_kind: str, owner_id: str, photos: Sequence[Prepared], now: datetime
    ) -> list[Ref]:
        """Write a record's photos in the caller's transaction (after any it already has)."""
        ...

    async def listed(self, owner_kind: str, owner_id: str) -> list[Ref]: ...

    async def move(self, owner_kind: str, owner_id: str, to_kind: str, to_id: str) -> list[Ref]:
        """Hand a record's photos to another record in the caller's transaction (a draft's
        photos become the filed record's); returns them in order."""
        ...

    async def get(self, attachment_id: str, variant: Variant = "image") -> Stored | None:
        """The bytes of one variant; None when unknown (or no original was kept)."""
        ...

    async def thumbnail(self, attachment_id: str) -> Stored | None: ...


class PgAttachmentStore:
    """`AttachmentStore` on the unit of work's connection (runtime migration 0007)."""

    def __init__(self, conn: db.Connection) -> None:
        self._conn = conn

    async def put(
        self, owner_kind: str, owner_id: str, photos: Sequence[Prepared], now: datetime
    ) -> list[Ref]:
        if not photos:
            return []
        start = await self._conn.fetchval(
            "SELECT coalesce(max(position) + 1, 0) FROM attachments"
            " WHERE owner_kind = $1 AND owner_id = $2",
            owner_kind,
            owner_id,
        )
        await self._conn.executemany(
            """INSERT INTO attachments (attachment_id, owner_kind, owner_id, position,
                   content_type, sha256, byte_size, width, height, data, thumbnail,
                   original, original_type, original_sha256, created_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)""",
            [
                (
                    uuid.UUID(p.attachment_id),
                    owner_kind,
                    owner_id,
                    start + i,
                    p.content_type,
                    p.sha256,
                    len(p.data),
                    p.width,
                    p.height,
                    p.data,
                    p.thumbnail,
                    p.original,
                    p.original_type,
                    p.original_sha256,
                    now,
                )
                for i, p in enumerate(photos)
            ],
        )
        return [ref(p) for p in photos]

    async def listed(self, owner_kind: str, owner_id: str) -> list[Ref]:
        rows = await self._conn.fetch(
            """SELECT attachment_id, sha256, content_type, width, height,
                      original IS NOT NULL AS has_original
               FROM attachments WHERE owner_kind = $1 AND owner_id = $2 ORDER BY position""",
            owner_kind,
            owner_id,
        )
        return [
            Ref(
                str(r["attachment_id"]),
                r["sha256"],
                r["content_type"],
                r["width"],
                r["height"],
                r["has_original"],
            )
            for r in rows
        ]

    async def move(self, owner_kind: str, owner_id: str, to_kind: str, to_id: str) -> list[Ref]:
        start = await self._conn.fetchval(
            "SELECT coalesce(max(position) + 1, 0) FROM attachments"
            " WHERE owner_kind = $1 AND owner_id = $2",
            to_kind,
            to_id,
        )
        await self._conn.execute(
            """UPDATE attachments SET owner_kind = $3, owner_id = $4, position = position + $5
               WHERE owner_kind = $1 AND owner_id = $2""",
            owner_kind,
            owner_id,
            to_kind,
            to_id,
            start,
        )
        return await self.listed(to_kind, to_id)

    async def get(self, attachment_id: str, variant: Variant = "image") -> Stored | None:
        if not valid_id(attachment_id):
            return None
        column, type_column = {
            "image": ("data", "content_type"),
            "thumbnail": ("thumbnail", "'image/jpeg'"),
            "original": ("original", "original_type"),
        }[variant]
        row = await self._conn.fetchrow(
            f"SELECT owner_kind, owner_id, {type_column} AS content_type, {column} AS data"  # fixed column names
            " FROM attachments WHERE attachment_id = $1",
            uuid.UUID(attachment_id),
        )
        if row is None or row["data"] is None:
            return None
        return Stored(
            attachment_id, row["owner_kind"], row["owner_id"], row["content_type"], row["data"]
        )

    async def thumbnail(self, attachment_id: str) -> Stored | None:
        return await self.get(attachment_id, "thumbnail")


@dataclass
class _Row:
    owner_kind: str
    owner_id: str
    photo: Prepared
    created_at: datetime | None = None


@dataclass
class MemoryAttachments:
    """The fake's storage; share one between units to model one database."""

    rows: dict[str, _Row] = field(default_factory=dict)


class MemoryAttachmentStore:
    """`AttachmentStore` in memory for service-layer tests. Writes go to a pending list that
    the unit of work applies on commit (`commit`) or drops (`rollback`)."""

    def __init__(self, storage: MemoryAttachments | None = None) -> None:
        self.storage = storage if storage is not None else MemoryAttachments()
        self._pending: list[tuple[str, _Row]] = []

    def commit(self) -> None:
        self.storage.rows.update(self._pending)
        self._pending.clear()

    def rollback(self) -> None:
        self._pending.clear()

    def _all(self) -> list[tuple[str, _Row]]:
        return list({**self.storage.rows, **dict(self._pending)}.items())

    async def put(
        self, owner_kind: str, owner_id: str, photos: Sequence[Prepared], now: datetime
    ) -> list[Ref]:
        for p in photos:
            self._pending.append((p.attachment_id, _Row(owner_kind, owner_id, p, now)))
        return [ref(p) for p in photos]

    async def listed(self, owner_kind: str, owner_id: str) -> list[Ref]:
        return [
            ref(r.photo)
            for _, r in self._all()
            if r.owner_kind == owner_kind and r.owner_id == owner_id
        ]

    async def move(self, owner_kind: str, owner_id: str, to_kind: str, to_id: str) -> list[Ref]:
        for key, r in self._all():
            if r.owner_kind == owner_kind and r.owner_id == owner_id:
                self._pending.append((key, _Row(to_kind, to_id, r.photo, r.created_at)))
        return await self.listed(to_kind, to_id)

    async def get(self, attachment_id: str, variant: Variant = "image") -> Stored | None:
        found = dict(self._all()).get(attachment_id)
        if found is None:
            return None
        p = found.photo
        data, content_type = {
            "image": (p.data, p.content_type),
            "thumbnail": (p.thumbnail, "image/jpeg"),
            "original": (p.original, p.original_type),
        }[variant]
        if data is None or content_type is None:
            return None
        return Stored(attachment_id, found.owner_kind, found.owner_id, content_type, data)

    async def thumbnail(self, attachment_id: str) -> Stored | None:
        return await self.get(attachment_id, "thumbnail")

    def delete_where(self, keep: Callable[[str, str, datetime | None], bool]) -> int:
        """Drop the committed rows for which `keep(owner_kind, owner_id, created_at)` is false
        (the fakes' sweeps); how many were dropped."""
        gone = [
            key
            for key, r in self.storage.rows.items()
            if not keep(r.owner_kind, r.owner_id, r.created_at)
        ]
        for key in gone:
            del self.storage.rows[key]
        return len(gone)

"""Photos: checked by their first bytes (JPEG, PNG or WebP, whatever the sender claims),
bounded in size, stored in the database by the SHA-256 of their content and served back at
`/media/{id}` (core.media_api). Every API process reads the same rows; a retried upload
stores nothing twice. A city with many photos moves `data` to object storage behind `store`
and `load`."""

from __future__ import annotations

import hashlib
import re

from sqlalchemy.orm import Session

from onecity.core.db import Database, insert_for, utcnow
from onecity.core.errors import Invalid, NotFound
from onecity.core.models import Media

# A phone photo, under the API's 4 MiB body limit; larger is refused (pages shrink it first).
MAX_BYTES = 3 * 1024 * 1024
ID = re.compile(r"^[0-9a-f]{64}$")


def sniff(data: bytes) -> str | None:
    """The image type the bytes really are, or None."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def check(data: bytes, field: str) -> str:
    """The content type of an acceptable photo; Invalid (naming the field) otherwise."""
    if not data:
        raise Invalid("the photo is empty", field=field)
    if len(data) > MAX_BYTES:
        raise Invalid(f"the photo is over {MAX_BYTES // 1024 // 1024} MB", field=field)
    kind = sniff(data)
    if kind is None:
        raise Invalid("the photo must be a JPEG, PNG or WebP image", field=field)
    return kind


def store(s: Session, data: bytes, field: str = "media") -> str:
    """Keep a photo in the caller's transaction; returns its id (the content's SHA-256)."""
    kind = check(data, field)
    media_id = hashlib.sha256(data).hexdigest()
    # Two uploads of the same photo at once: the second finds it stored, never a conflict.
    s.execute(
        insert_for(s)(Media)
        .values(id=media_id, content_type=kind, size=len(data), data=data, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=["id"])
    )
    return media_id


def load(db: Database, media_id: str) -> Media:
    """A stored photo by its id (NotFound for an id that is not one, or names none)."""
    if not ID.match(media_id):
        raise NotFound(f"no media '{media_id}'", field="media_id")
    with db.read() as s:
        row = s.get(Media, media_id)
    if row is None:
        raise NotFound(f"no media '{media_id}'", field="media_id")
    return row

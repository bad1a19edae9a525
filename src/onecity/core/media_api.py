"""Stored photos served back at `/media/{id}` (core.media keeps them)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import Response

from onecity.core import media
from onecity.core.deps import PlatformDep

router = APIRouter(tags=["media"])


@router.get("/media/{media_id}", response_class=Response, name="media")
def get_media(
    media_id: Annotated[str, Path(min_length=1, max_length=100)],
    p: PlatformDep,
) -> Response:
    """A stored photo. Public, as the Open311 `media_url` of a public report is; the id is the
    content's SHA-256, so it cannot be guessed."""
    row = media.load(p.db, media_id)
    return Response(
        row.data,
        media_type=row.content_type,
        headers={
            "Cache-Control": "public, max-age=31536000, immutable",
            "X-Content-Type-Options": "nosniff",
        },
    )

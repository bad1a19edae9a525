"""Live works sites: each permit's camera and the photo check-ins at each stage (append-only)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow
from onecity.roadworks.registry.models import BigId


class SiteCamera(Base):
    """A works site's live camera: where its feed is and when it last sent a frame."""

    __tablename__ = "roadworks_cameras"

    permit_id: Mapped[int] = mapped_column(ForeignKey("roadworks_permits.id"), primary_key=True)
    url: Mapped[str] = mapped_column(String(500))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    registered_by: Mapped[str] = mapped_column(String(64))
    last_frame_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class SitePhoto(Base):
    """A photo check-in at a stage of the works, with where and when it was taken."""

    __tablename__ = "roadworks_photos"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    permit_id: Mapped[int] = mapped_column(ForeignKey("roadworks_permits.id"), index=True)
    stage: Mapped[str] = mapped_column(String(16))
    media_id: Mapped[str] = mapped_column(ForeignKey("media.id"))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    distance_m: Mapped[float] = mapped_column(Float)  # from the permitted footprint
    taken_at: Mapped[datetime] = mapped_column(UTCDateTime())
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    uploaded_by: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        UniqueConstraint("permit_id", "stage", "media_id", name="uq_roadworks_photo"),
    )

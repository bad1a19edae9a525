"""Request and response shapes for devices and telemetry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from onecity.core.free_json import FreeJson

DeviceId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]
ValueKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
Boot = Annotated[int, Field(ge=0, le=2**63 - 1)]


class GeoPoint(BaseModel):
    """A GeoJSON Point (RFC 7946): [longitude, latitude] in WGS84."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    type: Literal["Point"]
    coordinates: Annotated[list[float], Field(min_length=2, max_length=3)]


class ProjectedPoint(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    x: Annotated[float, Field(ge=-1e7, le=1e7)]
    y: Annotated[float, Field(ge=-1e7, le=1e8)]


class DeviceIn(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    id: DeviceId
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.-]{0,63}$")]
    department: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    location: GeoPoint | None = None
    location_projected: ProjectedPoint | None = Field(
        None,
        description="Alternative to location: a point in the city's projected CRS "
        "(Taipei: TWD97 TM2, EPSG:3826), as Taiwanese agencies' surveys give it",
    )
    metadata: FreeJson = Field(default_factory=dict)
    heartbeat_s: Annotated[int, Field(ge=5, le=7 * 86400)] = 300


class DevicePatch(BaseModel):
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = None
    location: GeoPoint | None = None
    metadata: FreeJson | None = None
    status: Literal["active", "maintenance", "retired"] | None = None
    heartbeat_s: Annotated[int, Field(ge=5, le=7 * 86400)] | None = None


class DeliveryOut(BaseModel):
    received: int
    duplicates: int
    gaps: int = Field(description="sequence numbers never received, counted within each epoch")
    rejected: int = Field(description="messages refused (unparseable, impossible values)")
    readings: int
    first_seq: int | None = Field(description="the current epoch's lowest sequence number")
    last_seq: int | None = Field(description="the current epoch's highest sequence number")
    restarts: int = Field(
        0, description="epochs opened after the first: reboots, and sequence numbers far off"
    )
    conflicts: int = Field(
        0, description="messages that reused a sequence number with other content"
    )
    epoch: int | None = Field(None, description="the current epoch, numbered from 0")


class DeviceOut(BaseModel):
    id: str
    name: str
    type: str
    department: str
    location: dict[str, Any] | None
    district: str | None
    district_names: dict[str, str] | None = Field(
        default=None, description="the district's name per language"
    )
    metadata: dict[str, Any]
    status: str
    connectivity: str
    heartbeat_s: int
    last_seen_at: datetime | None


class DeviceDetail(DeviceOut):
    location_projected: dict[str, Any] | None = Field(
        None, description="the location in the city's projected CRS, e.g. TWD97 TM2 (EPSG:3826)"
    )
    delivery: DeliveryOut
    latest: dict[str, dict[str, Any]]


class DevicePage(BaseModel):
    items: list[DeviceOut]
    next_cursor: str | None
    total: int | None = Field(description="matching devices; given on the first page only")
    as_of: datetime


class KeyOut(BaseModel):
    key_id: str
    device_id: str
    key: str = Field(description="The full key. Shown once; only its hash is stored.")
    mqtt_username: str = Field(
        "", description="The key's login at the MQTT broker; the password is the full key."
    )


class KeyInfo(BaseModel):
    key_id: str
    label: str
    created_at: datetime
    revoked_at: datetime | None


class TelemetryMessage(BaseModel):
    """One message from a device: its sequence number, when it measured, and what."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    boot: Boot | None = Field(
        None,
        description="the device's boot number (or boot time), if it keeps one: messages of "
        "different boots never collide, whatever their sequence numbers",
    )
    seq: Annotated[int, Field(ge=0, le=2**63 - 1)]
    ts: datetime | Annotated[int, Field(ge=0, le=2**53)] = Field(
        description="ISO 8601 with time zone, or epoch milliseconds"
    )
    values: Annotated[dict[ValueKey, float | bool], Field(min_length=1, max_length=100)]


class TelemetryBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    boot: Boot | None = Field(None, description="the boot of messages that name none")
    messages: Annotated[list[TelemetryMessage], Field(min_length=1)]


class IngestResult(BaseModel):
    accepted: int
    duplicates: int
    readings: int
    restarts: int = Field(0, description="epochs this batch opened (the device restarted)")
    conflicts: int = Field(0, description="messages that reused a seq with other content")


class Point(BaseModel):
    ts: datetime
    value: float | None = None
    min: float | None = None
    max: float | None = None
    count: int | None = None


class Series(BaseModel):
    device_id: str
    key: str
    bucket_s: int | None
    points: list[Point]
    as_of: datetime

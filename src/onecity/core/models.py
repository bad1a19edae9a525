"""Core tables only: people, access, audit, devices, telemetry, alerts and the event outbox."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from onecity.core.db import Base, UTCDateTime, utcnow

# BIGINT on PostgreSQL, INTEGER (rowid alias, autoincrement) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Department(Base):
    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(100), default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(32))
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class LoginThrottle(Base):
    """Failed logins counted by one key (an account from one client, a client, an account),
    shared by every API process; a key past its threshold is refused until `blocked_until`."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    blocked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthSession(Base):
    """A login: an opaque token (stored hashed) with idle and absolute expiry."""

    __tablename__ = "auth_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ip: Mapped[str] = mapped_column(String(64), default="")
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuditHead(Base):
    """One row: the chain's tip. Updating it first serialises appenders on both databases."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class AuditRecord(Base):
    __tablename__ = "audit_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64), index=True)
    target: Mapped[str] = mapped_column(String(200), default="")
    source: Mapped[str] = mapped_column(String(64), default="")
    outcome: Mapped[str] = mapped_column(String(16))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class Device(Base):
    __tablename__ = "devices"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    type: Mapped[str] = mapped_column(String(64), index=True)
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    district: Mapped[str | None] = mapped_column(String(32))
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", JSON, default=dict)
    # Registry status set by people: active, maintenance, retired.
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Connectivity set by the platform: unknown, online, offline.
    connectivity: Mapped[str] = mapped_column(String(16), default="unknown")
    heartbeat_s: Mapped[int] = mapped_column(Integer, default=300)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # last_seen_at + heartbeat x grace: past this an online device is declared offline.
    offline_after: Mapped[datetime | None] = mapped_column(UTCDateTime(), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    __table_args__ = (Index("ix_devices_lon_lat", "lon", "lat"),)


class DeviceCredential(Base):
    __tablename__ = "device_credentials"

    key_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    # The same key as a broker password ($7$ PBKDF2, see core/devices/broker_auth.py); null
    # for keys issued before the broker checked logins: those work over HTTP only.
    mqtt_hash: Mapped[str | None] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DeliveryAccount(Base):
    """Per-device delivery accounts, over every boot of the device (its epochs).

    `span` is the sum over epochs of (max_seq - min_seq + 1), so gaps = span - received;
    `min_seq`/`max_seq` are the current epoch's (the one that received the latest message)."""

    __tablename__ = "delivery_accounts"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    duplicates: Mapped[int] = mapped_column(BigInteger, default=0)
    rejected: Mapped[int] = mapped_column(BigInteger, default=0)
    readings: Mapped[int] = mapped_column(BigInteger, default=0)
    min_seq: Mapped[int | None] = mapped_column(BigInteger)
    max_seq: Mapped[int | None] = mapped_column(BigInteger)
    span: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    restarts: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    conflicts: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    epoch: Mapped[int | None] = mapped_column(Integer)


class DeliveryEpoch(Base):
    """One boot of a device: its sequence numbers count from wherever it started. Numbered
    per device from 0; `boot` is the device's own boot number when it sends one."""

    __tablename__ = "delivery_epochs"

    device_id: Mapped[str] = mapped_column(
        ForeignKey("devices.id", ondelete="CASCADE"), primary_key=True
    )
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True)
    boot: Mapped[int | None] = mapped_column(BigInteger)
    received: Mapped[int] = mapped_column(BigInteger, default=0)
    min_seq: Mapped[int] = mapped_column(BigInteger)
    max_seq: Mapped[int] = mapped_column(BigInteger)


class Reading(Base):
    """One measured value. (device, seq, epoch, key) is unique: each reading is stored exactly
    once, and a device that restarts and reuses its sequence numbers does so in a new epoch."""

    __tablename__ = "readings"

    device_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    epoch: Mapped[int] = mapped_column(Integer, primary_key=True, default=0, server_default="0")
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    ts_ms: Mapped[int] = mapped_column(BigInteger)
    value: Mapped[float] = mapped_column(Float)

    __table_args__ = (Index("ix_readings_device_key_ts", "device_id", "key", "ts_ms"),)


class AlertRule(Base):
    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    # The name in each language ({"zh-TW": ..., "en": ...}); `name` is the one for other readers.
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    device_type: Mapped[str | None] = mapped_column(String(64))
    device_id: Mapped[str | None] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(64))
    direction: Mapped[str] = mapped_column(String(8))  # above | below
    raise_at: Mapped[float] = mapped_column(Float)
    clear_at: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(16), default="warning")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # The department whose devices the rule watches; NULL for a city-wide rule.
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))


class Alert(Base):
    __tablename__ = "alerts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[str] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # threshold | offline
    rule_id: Mapped[int | None] = mapped_column(ForeignKey("alert_rules.id"))
    dedupe_key: Mapped[str] = mapped_column(String(64))
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="open", index=True)
    message: Mapped[str] = mapped_column(Text)
    value: Mapped[float | None] = mapped_column(Float)
    # What a page needs to word the alert in its own language (`message` is one fixed
    # sentence): a threshold alert's rule names, metric, limit, comparison and the metric's
    # unit; other kinds' facts in `params`, for the catalog's "alert.<kind>" sentence.
    rule_name: Mapped[dict[str, str] | None] = mapped_column(JSON)
    metric: Mapped[str | None] = mapped_column(String(64))
    threshold: Mapped[float | None] = mapped_column(Float)
    comparison: Mapped[str | None] = mapped_column(String(8))  # above | below
    unit: Mapped[str | None] = mapped_column(String(16))
    params: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    resolved_by: Mapped[str | None] = mapped_column(String(64))

    __table_args__ = (
        # At most one unresolved alert per device and condition, however many processes race.
        Index(
            "uq_alerts_one_active",
            "device_id",
            "dedupe_key",
            unique=True,
            sqlite_where=text("state <> 'resolved'"),
            postgresql_where=text("state <> 'resolved'"),
        ),
    )


class Event(Base):
    """The transactional outbox: written in the same transaction as the change it announces."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(64), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON)
    department_code: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (
        Index(
            "ix_events_unpublished",
            "id",
            sqlite_where=text("published_at IS NULL"),
            postgresql_where=text("published_at IS NULL"),
        ),
    )


class Open311Request(Base):
    """A citizen's report (Open311 GeoReport v2). Contact fields and the source address are
    private: the public API never returns them."""

    __tablename__ = "open311_requests"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    service_code: Mapped[str] = mapped_column(String(64), index=True)
    # The queue it lands in: the department that owns the service code when it was filed.
    department_code: Mapped[str] = mapped_column(ForeignKey("departments.code"), index=True)
    status: Mapped[str] = mapped_column(String(8), default="open")  # open | closed
    status_notes: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, default="")
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    address: Mapped[str | None] = mapped_column(String(500))
    address_id: Mapped[str | None] = mapped_column(String(100))
    zipcode: Mapped[str | None] = mapped_column(String(16))
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    email: Mapped[str | None] = mapped_column(String(254))
    first_name: Mapped[str | None] = mapped_column(String(100))
    last_name: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(32))
    device_id: Mapped[str | None] = mapped_column(String(128))
    account_id: Mapped[str | None] = mapped_column(String(128))
    media_url: Mapped[str | None] = mapped_column(String(2000))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, index=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    source_ip: Mapped[str] = mapped_column(String(64), default="")


class Webhook(Base):
    """An outbound subscription: matching events are POSTed to `url`, in id order, signed."""

    __tablename__ = "webhooks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Whose events it may receive; null (city-wide) is for an administrator's hook only.
    department_code: Mapped[str | None] = mapped_column(ForeignKey("departments.code"))
    url: Mapped[str] = mapped_column(String(2000))
    event_types: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    cursor_event_id: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(String(500))
    last_delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Media(Base):
    """A photo (citizens' reports, site check-ins), kept in the database so that every API
    process serves the same bytes; named by the SHA-256 of its content, so a retried upload
    stores nothing twice."""

    __tablename__ = "media"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # sha256 hex
    content_type: Mapped[str] = mapped_column(String(32))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Open311Usage(Base):
    """What one client (or, as "city", everyone) has filed in one period: the counters the
    Open311 limits are checked against, shared by every API process. A row outlives its
    period by a day and is then deleted."""

    __tablename__ = "open311_usage"

    # "ip:203.0.113.7", "ip:2001:db8:1:2::/64", "device:<id>", "account:<username>", "city"
    client: Mapped[str] = mapped_column(String(200), primary_key=True)
    # "w<number of the window since the epoch>" or "d<local date>"
    period: Mapped[str] = mapped_column(String(32), primary_key=True)
    reports: Mapped[int] = mapped_column(Integer, default=0)
    media_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)

"""One typed settings object, read from ONECITY_* environment variables at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from onecity.core.audit_keys import SigningKeyError, configured_signing_key, public_keys


class Settings(BaseSettings):
    """Every knob OneCity reads. Never instantiated at import time."""

    model_config = SettingsConfigDict(
        env_prefix="ONECITY_",
        extra="ignore",
        # A bad secret (a key, a password in a URL) must not be echoed into start-up logs.
        hide_input_in_errors=True,
    )

    environment: Literal["demo", "dev", "test", "production"] = "dev"
    database_url: str = "sqlite:///var/onecity.db"
    city: str = "taipei"
    # Comma-separated list of modules to mount; core is always mounted.
    modules: str = ""

    mqtt_host: str = ""
    mqtt_port: int = 1883
    mqtt_client_id: str = "onecity-ingester"
    mqtt_qos: int = Field(1, ge=0, le=2)
    mqtt_username: str = ""
    mqtt_password: str = ""
    # A CA file turns TLS on; leave empty for a loopback listener.
    mqtt_tls_ca: Path | None = None

    session_idle_minutes: int = 30
    session_max_hours: int = 12
    # Failed logins (core/auth/throttle.py): an account from one client may fail
    # login_max_failures times, then waits login_backoff_s, doubled at each further failure up
    # to login_lock_minutes. A client (all accounts) and an account (all clients) have their
    # own, much higher, thresholds. Counts fade after login_window_minutes without a failure.
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_minutes: int = Field(default=10, ge=1)
    login_backoff_s: int = Field(default=60, ge=1)
    login_client_max_failures: int = Field(default=100, ge=1)
    login_account_max_failures: int = Field(default=50, ge=1)
    login_window_minutes: int = Field(default=60, ge=1)
    # A client network that logged in to an account within this many days meets only its own
    # counter for that account, not the account's or the client's (core/auth/throttle.py).
    login_known_client_days: int = Field(default=30, ge=1)
    totp_required_roles: str = "admin"

    telemetry_retention_days: int = 400
    telemetry_max_batch: int = 1000
    telemetry_future_skew_s: int = 300
    telemetry_max_age_days: int = 30
    # A sequence number further than this from every epoch of its device opens a new epoch
    # (counted as a restart) instead of counting the distance as lost messages.
    telemetry_max_seq_jump: int = Field(100_000, ge=1)
    heartbeat_grace_factor: float = 3.0

    run_workers: bool = False
    # Threads that run the API's blocking handlers. More than a few only add lock handoffs:
    # on a 2-core machine 40 threads (the default of the ASGI stack) served station uploads
    # a third slower than 8. Scale with API processes, not threads.
    api_threads: int = Field(default=8, ge=1, le=200)
    # Python's collector thresholds for API processes (generations 0,1,2), applied with
    # gc.freeze() once the app has started. Python's own (2000,10,10) let a full collection
    # pause a busy process for 100+ ms about every five seconds under 50 stations' uploads;
    # empty keeps Python's.
    gc_threshold: str = Field(default="50000,50,100", pattern=r"^(\d+,\d+,\d+)?$")
    # Where webhooks may POST (core/egress.py): "private" keeps them off loopback, link-local
    # (cloud metadata) and other special addresses; "public" also off private networks; "any"
    # for development and tests with a receiver on 127.0.0.1.
    webhook_egress: Literal["public", "private", "any"] = "private"
    # Origins (scheme://host[:port], comma-separated) whose pages may send cookie-authenticated
    # requests besides the API's own host, e.g. the public name behind a reverse proxy.
    public_origins: str = ""
    # Bearer token a Prometheus scraper sends for /metrics; empty: only staff with audit:read.
    metrics_token: str = ""
    # Readers of the event outbox (webhooks, the live stream) wait for an id that is missing
    # until it appears or its transaction has provably ended (core/events.py): the proof is
    # taken this long after the hole is first seen. A hole still unproven after the second
    # bound (far longer than any transaction the application holds open) is given up, at ERROR.
    outbox_hole_grace_s: float = Field(default=5.0, gt=0, le=300)
    outbox_hole_max_wait_s: float = Field(default=900.0, ge=60, le=86_400)
    # Citizens' Open311 reports (docs/open311.md): per client (its address, an IPv6 client's
    # /64, its device id, its account) per window and per local day, and the photo bytes a
    # client and the whole city may store a day (MB = 10^6 bytes). Past one: 429.
    open311_reports_per_window: int = Field(default=5, ge=1)
    open311_window_minutes: int = Field(default=10, ge=1, le=1440)
    open311_reports_per_day: int = Field(default=20, ge=1)
    open311_media_mb_per_client_day: int = Field(default=20, ge=0)
    open311_media_mb_per_day: int = Field(default=2000, ge=0)
    # The audit chain's signed checkpoints (core/audit_anchor.py). The signing key is an
    # Ed25519 key the database does not hold: a file with its base64 32-byte seed (or a PEM
    # key), or the base64 seed itself. demo/dev/test generate one in the checkpoint directory
    # when none is set; production refuses to start without one. Verify keys (base64 public
    # keys, comma-separated) let a machine without the signing key, or after a key change,
    # check older checkpoints.
    audit_signing_key: str = ""
    audit_verify_keys: str = ""
    audit_checkpoint_dir: Path = Path("var/audit")
    audit_checkpoint_minutes: float = Field(default=5.0, gt=0)
    # The key of the card link codes' hashes (waste/linkcode.py): HMAC-SHA256 with a secret
    # the database does not hold, so a dump of it gives no working code. A file holding the
    # secret, or the secret itself (at least 32 characters). demo/dev/test generate one in the
    # audit checkpoint directory when none is set; production refuses to start without one.
    card_link_secret: str = ""
    map_tile_url: str = ""
    map_tile_attribution: str = ""

    @model_validator(mode="after")
    def _audit_key_outside_demo(self) -> Settings:
        if self.environment not in ("demo", "dev", "test") and not self.audit_signing_key:
            raise ValueError(
                "ONECITY_AUDIT_SIGNING_KEY must be set outside demo/dev/test: the audit "
                "checkpoints are signed with a key the database does not hold"
            )
        return self

    @model_validator(mode="after")
    def _card_link_secret_outside_demo(self) -> Settings:
        if self.environment not in ("demo", "dev", "test") and not self.card_link_secret:
            raise ValueError(
                "ONECITY_CARD_LINK_SECRET must be set outside demo/dev/test: card link codes "
                "are hashed with a secret the database does not hold"
            )
        value = self.card_link_secret.strip()
        if value and len(value) < 32 and not Path(value).is_file():
            raise ValueError(
                "ONECITY_CARD_LINK_SECRET must be a file holding the secret, or a secret of at "
                "least 32 characters"
            )
        return self

    @model_validator(mode="after")
    def _audit_keys_readable(self) -> Settings:
        """A malformed key stops start-up here, not the checkpoint worker or verify later."""
        try:
            public_keys(self.audit_verify_keys)
        except SigningKeyError as e:
            raise ValueError(f"ONECITY_AUDIT_VERIFY_KEYS: {e}") from None
        if self.audit_signing_key.strip():
            try:
                configured_signing_key(self.audit_signing_key)
            except SigningKeyError as e:
                raise ValueError(f"ONECITY_AUDIT_SIGNING_KEY: {e}") from None
        return self

    @property
    def public_origin_set(self) -> frozenset[str]:
        return frozenset(
            o.strip().rstrip("/").lower() for o in self.public_origins.split(",") if o.strip()
        )

    @property
    def totp_roles(self) -> frozenset[str]:
        return frozenset(r.strip() for r in self.totp_required_roles.split(",") if r.strip())

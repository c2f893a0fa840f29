"""Settings read from REGIO_* environment variables; one object for the whole process."""

from __future__ import annotations

from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Placeholders that are fine on a laptop and refused anywhere else.
PLACEHOLDER_SECRET = "dev-insecure-change-me"  # noqa: S105
PLACEHOLDER_DATA_KEY = "dev-insecure-data-key-change-me"

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class Settings(BaseSettings):
    """Everything the platform can be told from outside; defaults serve a laptop demo."""

    model_config = SettingsConfigDict(env_prefix="REGIO_", extra="ignore")

    environment: str = Field(
        default="development",
        description="development | test | production. Placeholder secrets are refused outside development and test.",
    )
    database_url: str = Field(
        default=f"sqlite+aiosqlite:///{PROJECT_ROOT / 'var' / 'regio.sqlite3'}",
        description="SQLAlchemy URL: sqlite+aiosqlite:///path or postgresql+asyncpg://user@host/db.",
    )
    database_pool_size: int = Field(
        default=20,
        ge=1,
        le=500,
        description=(
            "Database connections each server process keeps open; requests beyond wait (up to 30 s) for one. "
            "Keep processes × this under PostgreSQL's max_connections."
        ),
    )
    secret_key: str = Field(
        default=PLACEHOLDER_SECRET,
        description="Signs session cookies, API tokens, CSRF tokens and audit checkpoints.",
    )
    data_key: str = Field(
        default=PLACEHOLDER_DATA_KEY,
        description="Encrypts ID numbers and phones at rest and keys their look-up hashes.",
    )
    webhook_secret: str = Field(
        default=PLACEHOLDER_SECRET,
        description="HMAC-SHA256 key for outgoing webhooks (timestamp.body).",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str = "http://127.0.0.1:8000"
    cookie_secure: bool = Field(
        default=False, description="Send session cookies only over HTTPS; set true behind TLS."
    )
    access_token_minutes: int = 60
    session_hours: int = 12
    login_max_failures: int = Field(default=5, description="Failed logins before a lock.")
    login_lock_minutes: int = 15
    login_max_failures_per_ip: int = Field(
        default=50,
        ge=1,
        description="Failed sign-ins one address may make per window, whatever the usernames.",
    )
    login_ip_window_minutes: int = Field(default=15, ge=1)
    trusted_proxies: str = Field(
        default="",
        description=(
            "Comma-separated IPs or CIDRs of reverse proxies whose X-Forwarded-For is believed; "
            "empty means the direct peer is the client."
        ),
    )
    sms_url: str = Field(
        default="",
        description=(
            "The SMS gateway's HTTPS endpoint (JSON, signed like webhooks); empty on a laptop, where "
            "codes go to the server log with the phone masked."
        ),
    )
    redis_url: str = Field(
        default="",
        description=(
            "redis://host:port/db for live events between several server processes; empty keeps them "
            "inside one process, which is all a single `regio serve` needs."
        ),
    )
    password_hash_concurrency: int = Field(
        default=4, description="argon2id hashes running at once; each takes about 19 MiB."
    )
    run_background: bool = Field(
        default=True,
        description="Run the outbox, timed jobs and audit sealer inside `regio serve`.",
    )
    audit_seal_interval_seconds: float = 1.0
    outbox_poll_seconds: float = 1.0
    outbox_max_attempts: int = 8
    webhook_tolerance_seconds: int = 300
    default_language: str = "zh-CN"
    region_name: str = "浙江省"
    # Booking (Regio Care): regional policy, so configuration rather than code.
    booking_hold_minutes: int = Field(
        default=15, ge=1, description="How long an unconfirmed hold keeps its place."
    )
    booking_materialise_days: int = Field(
        default=14,
        ge=1,
        le=90,
        description="Days ahead that weekly roster templates become shifts and slots.",
    )
    booking_cancel_cutoff_minutes: int = Field(
        default=60, ge=0, description="A patient may cancel until this many minutes before the slot starts."
    )
    booking_max_per_doctor_per_day: int = Field(
        default=1, ge=1, le=10, description="Active bookings one patient may hold with one doctor on one day."
    )
    booking_no_show_limit: int = Field(
        default=3, ge=1, description="No-shows within the window that ban booking."
    )
    booking_no_show_window_days: int = Field(default=90, ge=1)
    booking_no_show_ban_days: int = Field(default=30, ge=1)
    booking_waitlist_offer_minutes: int = Field(
        default=10, ge=1, description="How long a freed place offered to the first waiting patient is held."
    )
    booking_confirm_without_payment: bool = Field(
        default=False,
        description=(
            "Let a patient confirm a hold that has a fee without paying online (a hospital that collects at "
            "the desk); off, such a hold is confirmed by paying."
        ),
    )
    booking_expire_interval_seconds: float = Field(
        default=15.0, gt=0, description="How often holds are expired."
    )

    # Consultation (Regio Care): attachments, calls, quick questions.
    blob_dir: str = Field(
        default=str(PROJECT_ROOT / "var" / "blobs"),
        description="Folder of the local blob store (attachments by SHA-256) when no S3 endpoint is set.",
    )
    s3_endpoint: str = Field(default="", description="An S3-compatible endpoint; set it to keep blobs there.")
    s3_bucket: str = ""
    s3_access_key: str = ""
    s3_secret_key: str = ""
    s3_region: str = "us-east-1"
    attachment_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1, description="Largest attachment.")
    ice_stun_urls: str = Field(default="", description="Comma-separated stun: URLs for WebRTC.")
    turn_urls: str = Field(default="", description="Comma-separated turn:/turns: URLs for WebRTC.")
    turn_secret: str = Field(default="", description="Shared secret of the TURN server's REST credentials.")
    turn_ttl_seconds: int = Field(default=3600, ge=60, le=86400)
    quick_question_widen_minutes: int = Field(
        default=5, ge=1, description="An unanswered quick question is offered region-wide after this long."
    )
    consultation_default_minutes: int = Field(
        default=10, ge=1, le=240, description="Assumed length of a consultation before a doctor has history."
    )

    # Prescriptions (Regio Care): pharmacist review, pickup codes and the courier.
    prescription_review_sla_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="Minutes a signed prescription may wait for review before it is overdue.",
    )
    prescription_jobs_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often overdue reviews are flagged."
    )
    courier_secret: str = Field(
        default="",
        description=(
            "HMAC key shared with the courier alone; required with REGIO_COURIER_URL outside development."
        ),
    )
    courier_url: str = Field(
        default="",
        description=(
            "The courier's HTTPS endpoint for new shipments (JSON, signed like webhooks); empty on a "
            "laptop, where an in-memory courier takes them."
        ),
    )

    # Payments (Regio Care): the gateway, how long an order waits, delivery fees.
    payment_gateway_url: str = Field(
        default="",
        description=(
            "The payment gateway's HTTPS base URL (signed JSON); empty on a laptop, where an in-memory "
            "gateway and a local payment page stand in."
        ),
    )
    payment_gateway_secret: str = Field(
        default="",
        description=(
            "HMAC key shared with the payment gateway alone (its requests and notifications); required "
            "with REGIO_PAYMENT_GATEWAY_URL outside development, so no other webhook partner can sign a payment."
        ),
    )
    payment_order_minutes: int = Field(
        default=30,
        ge=1,
        le=1440,
        description="Minutes a prescription's order waits for payment before it lapses.",
    )
    payment_jobs_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often lapsed orders end."
    )
    delivery_fee_fen: int = Field(default=800, ge=0, le=100_000, description="Home delivery fee, in fen.")
    cold_chain_fee_fen: int = Field(
        default=1500, ge=0, le=100_000, description="Extra fee for 2–8 °C delivery, in fen."
    )

    # Warnings (Regio Risk): acknowledgement SLA per level, escalation and task reminders.
    warning_ack_sla_minutes: str = Field(
        default="15,60,240,1440",
        pattern=r"^\s*\d{1,6}\s*(,\s*\d{1,6}\s*){3}$",
        description="Minutes to acknowledge a warning of level/grade 1,2,3,4 before it escalates.",
    )
    warning_jobs_interval_seconds: float = Field(
        default=30.0, gt=0, description="How often overdue warnings escalate and overdue tasks are reminded."
    )
    warning_task_reminder_minutes: int = Field(
        default=60, ge=1, description="Minutes between reminders of an overdue responsibility-list task."
    )
    warning_dashboard_poll_seconds: float = Field(
        default=10.0, gt=0, description="How often an open dashboard re-reads its feed besides live events."
    )

    # Risk events and CAP 1.2 (Regio Risk).
    risk_duplicate_window_hours: int = Field(
        default=6,
        ge=1,
        le=720,
        description="A report of the same type over an intersecting area detected within this many hours "
        "of an active one is offered as a possible duplicate.",
    )
    cap_max_bytes: int = Field(
        default=1024 * 1024, ge=10_000, le=50 * 1024 * 1024, description="Largest CAP alert accepted."
    )
    risk_attachment_max_bytes: int = Field(
        default=10 * 1024 * 1024, ge=1, description="Largest file attached to a risk report."
    )

    # Scales (Regio Care): who is told how soon when a self-assessment shows a risk of self-harm.
    scales_alert_escalate_minutes: int = Field(
        default=5,
        ge=1,
        le=1440,
        description="Minutes an urgent scale alert waits for an on-duty psychiatrist before it escalates.",
    )
    scales_extra_dir: str = Field(
        default="", description="A folder of further scale files (JSON), loaded beside the built-in ones."
    )

    # Live channels (WebSockets): how often an open socket re-checks the sign-in it was opened with.
    ws_recheck_seconds: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="An open WebSocket whose session was signed out, token expired or user deactivated "
        "is closed within this many seconds.",
    )

    @model_validator(mode="after")
    def _refuse_placeholders_in_production(self) -> Settings:
        if self.environment not in ("development", "test"):
            for name in ("secret_key", "data_key", "webhook_secret"):
                value = getattr(self, name)
                if value in (PLACEHOLDER_SECRET, PLACEHOLDER_DATA_KEY) or len(value) < 32:
                    raise ValueError(
                        f"REGIO_{name.upper()} must be set to a random value of at least 32 "
                        f"characters when REGIO_ENVIRONMENT={self.environment}"
                    )
            for url_name, secret_name in (
                ("payment_gateway_url", "payment_gateway_secret"),
                ("courier_url", "courier_secret"),
            ):
                secret = getattr(self, secret_name)
                if getattr(self, url_name) and (len(secret) < 32 or secret == self.webhook_secret):
                    raise ValueError(
                        f"REGIO_{secret_name.upper()} must be its own random value of at least 32 characters "
                        f"when REGIO_{url_name.upper()} is set"
                    )
            if not self.cookie_secure:
                # A session cookie sent over plain HTTP can be read off the wire and replayed.
                raise ValueError(
                    f"REGIO_COOKIE_SECURE must be true when REGIO_ENVIRONMENT={self.environment} "
                    "(serve behind TLS)"
                )
            if self.turn_urls.strip() and len(self.turn_secret) < 32:
                # TURN REST credentials are an HMAC of this secret; a short one can be guessed offline.
                raise ValueError(
                    f"REGIO_TURN_SECRET must be at least 32 characters when REGIO_TURN_URLS is set and "
                    f"REGIO_ENVIRONMENT={self.environment}"
                )
            if self.s3_endpoint.strip() and not self.s3_endpoint.strip().lower().startswith("https://"):
                # Attachments are health data and the request signature would travel in the clear.
                raise ValueError(
                    f"REGIO_S3_ENDPOINT must be an https:// URL when REGIO_ENVIRONMENT={self.environment}"
                )
        _parse_networks(self.trusted_proxies)  # a malformed entry stops start-up, not a request
        return self

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """REGIO_TRUSTED_PROXIES parsed; a bare address is a network of one."""
        return _parse_networks(self.trusted_proxies)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache(maxsize=16)
def _parse_networks(text: str) -> tuple[IPv4Network | IPv6Network, ...]:
    networks = []
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"REGIO_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR") from exc
    return tuple(networks)


@lru_cache
def get_settings() -> Settings:
    return Settings()

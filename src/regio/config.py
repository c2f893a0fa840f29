"""Settings read from REGIO_* environment variables; one object for the whole process."""

from __future__ import annotations

from functools import lru_cache
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
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()

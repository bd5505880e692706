"""Settings, read from the environment (prefix ``CLARION_``) and CLI flags; no I/O at import."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

LogFormat = Literal["auto", "json", "pretty"]


class SettingsError(ValueError):
    """A setting is missing or wrong: the CLI prints the message as one line, never a traceback."""


def describe_invalid(error: ValidationError) -> list[str]:
    """One line per wrong setting of a failed ``Settings(...)``: the variable, the rule, the value."""
    lines = []
    for problem in error.errors():
        name = "_".join(str(part) for part in problem["loc"]) or "settings"
        variable = f"CLARION_{name.upper()}"
        given = problem.get("input")
        shown = "" if isinstance(given, dict) else f" (got {given!r})"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{variable}: {message[:1].lower()}{message[1:]}{shown}")
    return lines


class Settings(BaseSettings):
    """Every knob of a Clarion process. Backends are chosen from the two URLs, in ``container.py``."""

    model_config = SettingsConfigDict(env_prefix="CLARION_", extra="ignore")

    home: Path = Field(
        default=Path(".clarion"), description="Holds the SQLite files, captured mail, credentials"
    )
    database_url: str = Field(default="", description="sqlite:///path or postgresql://user@host/db")
    queue_url: str = Field(default="sqlite", description="'sqlite' (embedded) or redis://host:port/db")
    redis_prefix: str = Field(default="clarion", description="Prefix of every Redis key Clarion writes")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    public_base_url: str = Field(default="", description="Base URL printed in credentials; derived if empty")

    auto_migrate: bool | None = Field(
        default=None, description="Migrate on start; default: only when embedded"
    )
    max_body_bytes: int = Field(
        default=5 * 1024 * 1024, ge=1024, description="Larger bodies get 413 (20 recipients x 200 KB fit)"
    )
    secret_key: str = Field(
        default="", description="Encrypts stored third-party passwords; embedded: $CLARION_HOME/secret.key"
    )
    token_ttl_seconds: int = Field(default=24 * 3600, ge=60)
    auth_cache_seconds: float = Field(
        default=30.0, ge=0, description="How long a verified token stays cached"
    )
    usage_refresh_seconds: float = Field(
        default=1.0,
        gt=0,
        le=60,
        description="How often an API process re-reads an organization's month usage for its quota check "
        "(bounds the overshoot across processes)",
    )
    usage_flush_seconds: float = Field(
        default=0.25,
        gt=0,
        le=10,
        description="How often an API process writes the message counts it accepted (one upsert for all)",
    )

    custom_action_any_port: bool = Field(
        default=False,
        description="Let custom actions call any port (Adobe allows only 80/443; local services, tests)",
    )

    serve_worker: bool = Field(
        default=True,
        description="`clarion serve` also runs a queue worker and the throttle dispatcher in each API "
        "process (off: API only, with separate `clarion worker` processes)",
    )

    smtp_capture: bool | None = Field(
        default=None, description="Run the bundled SMTP capture; default: embedded"
    )
    smtp_capture_host: str = "127.0.0.1"
    smtp_capture_port: int = Field(default=2525, ge=0, le=65535)

    feedback_smtp: bool | None = Field(
        default=None,
        description="Run the inbound feedback listener (bounces, complaints) in `clarion serve`; default: "
        "embedded (production: `clarion feedback`, its own process)",
    )
    feedback_smtp_host: str = Field(
        default="127.0.0.1", description="Interface of the feedback listener (0.0.0.0 when it is the MX)"
    )
    feedback_smtp_port: int = Field(
        default=2526,
        ge=0,
        le=65535,
        description="Port of the feedback listener; the bounce domains' MX forwards to it (25: it is the MX)",
    )

    idempotency_seconds: float = Field(default=24 * 3600, gt=0, description="x-request-id replay window")
    message_validity_seconds: float = Field(
        default=24 * 3600, gt=0, description="Undelivered messages expire after this long"
    )
    retry_base_seconds: float = Field(default=30.0, gt=0, description="First delivery retry delay (doubles)")
    soft_bounce_limit: int = Field(
        default=3,
        ge=1,
        le=1000,
        description="Soft-bounced messages (not attempts) to an address within soft_bounce_days that put it "
        "on the suppression list (softBounce)",
    )
    soft_bounce_days: float = Field(
        default=7.0, gt=0, le=365, description="The window, in days, in which soft bounces are counted"
    )
    suppression_refresh_seconds: float = Field(
        default=0.5,
        gt=0,
        le=60,
        description="A worker's copy of the suppression list is at most this old (plus one read) when it "
        "checks a recipient; changes made in the same process are seen at once",
    )
    worker_concurrency: int = Field(default=128, ge=1, le=1024, description="Jobs a worker handles at once")
    worker_lanes: int = Field(default=4, ge=1, le=64, description="Batches a worker has in flight at once")
    http_timeout_seconds: float = Field(default=30.0, gt=0, le=120, description="Outbound HTTP call limit")
    http_throttle_max_wait_seconds: float = Field(
        default=10.0,
        ge=0,
        le=60,
        description="Longest an SMS, push or webhook call waits for its throttling slot; "
        "a later one is retried through the queue",
    )
    queue_lease_seconds: float = Field(
        default=6.0,
        ge=1,
        le=300,
        description="Lease of a reserved job; a running worker renews it every third of it, so the jobs of a "
        "killed worker are redelivered about this long after the kill. Every process sharing a queue must "
        "use the same value",
    )
    queue_max_attempts: int = Field(default=8, ge=1)

    throttling_documented_codes: bool = Field(
        default=False,
        description="Number the throttling errors 'already deployed', 'not found', 'not deployed' "
        "14466/14467/14468 as Adobe's documentation prints them, instead of 1466/1467/1468",
    )

    landing_zone: Path | None = Field(
        default=None,
        description="Root folder of local-folder destinations and export-job datasets "
        "(default $CLARION_HOME/landing); a connection's path is relative to it",
    )
    activation_first_run_delay_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How long after an audience is first scheduled on a dataflow an ad-hoc run may start "
        "(Adobe: 1 hour; 20 minutes in older revisions)",
    )
    segment_schedule_time: str = Field(
        default="00:00",
        pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$",
        description="UTC time (HH:MM) at which every batch audience is evaluated, every 24 hours",
    )
    segment_jobs_max_processing: int = Field(
        default=10, ge=1, description="Segment jobs of a sandbox in NEW/QUEUED/PROCESSING before a 429"
    )
    export_max_attempts: int = Field(default=3, ge=1, le=20, description="Tries of a failed export run")
    export_retry_base_seconds: float = Field(
        default=30.0, gt=0, description="First export retry delay (doubles per attempt)"
    )

    log_format: LogFormat = "auto"
    log_level: str = "INFO"

    @field_validator("queue_url")
    @classmethod
    def _known_queue(cls, value: str) -> str:
        if value != "sqlite" and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be 'sqlite' or a redis://, rediss:// or unix:// URL")
        return value

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str) -> str:
        if value and not value.startswith(("sqlite", "postgresql")):
            raise ValueError("must be a sqlite:///path or postgresql://… URL")
        return value

    @model_validator(mode="after")
    def _fill_defaults(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite:///{self.home / 'clarion.db'}"
        if self.landing_zone is None:
            self.landing_zone = self.home / "landing"
        return self

    def require_secret_key(self) -> None:
        """Raise ``SettingsError`` when production mode has no ``CLARION_SECRET_KEY``."""
        if not self.secret_key and not self.embedded:
            raise SettingsError(
                "CLARION_SECRET_KEY must be set when running on PostgreSQL (see README: Production)"
            )

    @property
    def embedded(self) -> bool:
        """True when running on the embedded SQLite database (development and single-box mode)."""
        return self.database_url.startswith("sqlite")

    @property
    def should_migrate(self) -> bool:
        """Whether ``serve`` migrates the schema on start."""
        return self.embedded if self.auto_migrate is None else self.auto_migrate

    @property
    def should_capture_smtp(self) -> bool:
        """Whether ``serve`` runs the bundled SMTP capture server."""
        return self.embedded if self.smtp_capture is None else self.smtp_capture

    @property
    def should_run_feedback_smtp(self) -> bool:
        """Whether ``serve`` runs the inbound feedback listener."""
        return self.embedded if self.feedback_smtp is None else self.feedback_smtp

    @property
    def base_url(self) -> str:
        """The URL clients should call."""
        return self.public_base_url.rstrip("/") or f"http://{self.host}:{self.port}"

    @property
    def queue_path(self) -> Path:
        """The embedded queue's SQLite file."""
        return self.home / "queue.db"

    @property
    def outbox_path(self) -> Path:
        """Where the SMTP capture server stores mail."""
        return self.home / "outbox"

    @property
    def credentials_path(self) -> Path:
        """Where the development credentials are written on an embedded start."""
        return self.home / "credentials.json"

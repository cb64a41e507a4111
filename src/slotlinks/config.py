"""One Settings object, built once at start-up from the environment and the command line, then passed in.

Nothing reads the environment anywhere else. Defaults are safe for a laptop; values that would be unsafe
in production (an admin token that is missing or too short) disable the feature rather than guess.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from slotlinks.fhir.urls import http_url_parts, is_http_url

__all__ = ["Settings", "sqlite_url"]

MIN_TOKEN_LENGTH = 16
#: SMTP URL schemes: plain, TLS from the start, and plain upgraded with STARTTLS.
SMTP_SCHEMES = ("smtp", "smtps", "smtp+starttls")
DEFAULT_BASE_URL = "http://127.0.0.1:8001/fhir"


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of an SQLite file."""
    return f"sqlite:///{path}"


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything configurable. `from_env` reads `SLOTLINKS_*`; `with_overrides` applies CLI options."""

    data_dir: Path = Path("data")
    provider_db: str = ""
    discovery_db: str = ""
    # The provider's public FHIR base URL: the manifest and file URLs are built from it, never from
    # the request's Host header (a forged Host must not redirect clients elsewhere).
    base_url: str = DEFAULT_BASE_URL
    admin_token: str = ""
    max_age: int = 300
    horizon_days: int = 28
    max_import_bytes: int = 50 * 1024 * 1024
    # Booking portal: how long a hold lasts, and the secret that signs cancellation links and CSRF
    # tokens (empty: a random secret stored with the provider's data, made by its migration).
    hold_minutes: int = 10
    portal_secret: str = ""
    # Booking attempts (the portal's hold and book POSTs) per client, and failed staff sign-ins per
    # client, each allowed `attempts` per `window_seconds` (token buckets). Past `login_attempts`
    # recent failures on one username, its sign-ins are slowed, never refused: a delay doubling per
    # failure up to `login_max_delay_seconds` (so no stranger can lock a staff member out).
    # `behind_proxy`: the client is the last X-Forwarded-For address (set only behind a trusted proxy).
    booking_attempts: int = 20
    booking_window_seconds: int = 600
    login_attempts: int = 5
    login_window_seconds: int = 900
    login_max_delay_seconds: float = 4.0
    behind_proxy: bool = False
    # Discovery side.
    # This deployment's id, appended to deep links as `source` (spec "Deep Links").
    source_id: str = "slotlinks"
    # The discovery server's public URL (its deep-link redirects and aggregate publication live under it).
    discovery_url: str = "http://127.0.0.1:8000"
    # Publishers on private, link-local or loopback addresses are refused unless this is set (demo, tests).
    allow_private_networks: bool = False
    sync_concurrency: int = 8
    min_poll_seconds: int = 60
    # A sync worker's claim on a publisher lapses this long after its last renewal (renewed every third
    # of it while loading), so another worker takes over a killed worker's publishers after at most this.
    sync_lease_seconds: float = 60.0
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    # A download (manifest or file) that moves fewer than `min_transfer_bytes` in any window of
    # `min_transfer_window_seconds` is cut off: a publisher trickling a byte a second fails in one window
    # instead of holding a sync until its overall deadline. 1 KiB per 30 s is 34 bytes a second, far
    # below any working link, so a large file from a slow but working publisher still loads.
    min_transfer_bytes: int = 1024
    min_transfer_window_seconds: float = 30.0
    max_file_bytes: int = 2 * 1024 * 1024 * 1024
    max_line_bytes: int = 1024 * 1024
    max_manifest_bytes: int = 16 * 1024 * 1024
    # Deep links (`/go/{pk}`) followed per client, `deeplink_attempts` per `deeplink_window_seconds` (a
    # token bucket): each stores a referral row and re-reads the slot from its publisher.
    deeplink_attempts: int = 30
    deeplink_window_seconds: int = 600
    # Referral rows older than this are deleted (the referral cookie lives as long), so the table is
    # bounded by configuration: at most `deeplink_attempts` rows per window per client over this time.
    referral_retention_days: int = 90
    # E-mail alerts (discovery/alerts/): the SMTP server (`smtp://host:port`; `smtps://` for TLS from
    # the start, `smtp+starttls://` to upgrade; `user:password@` to log in; empty: alerts are off), the
    # sender address, at most one message per alert per `alert_period_seconds`, alerts kept
    # `alert_days`, at most `alerts_per_address` per address, and `alert_attempts` created per client
    # per `alert_window_seconds`.
    smtp_url: str = ""
    mail_from: str = "slotlinks@localhost"
    alert_period_seconds: int = 900
    alert_days: int = 30
    alerts_per_address: int = 3
    alert_attempts: int = 5
    alert_window_seconds: int = 3600
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        data_dir = Path(env.get("SLOTLINKS_DATA_DIR", "data"))
        return cls(
            data_dir=data_dir,
            provider_db=env.get("SLOTLINKS_PROVIDER_DB", ""),
            discovery_db=env.get("SLOTLINKS_DISCOVERY_DB", ""),
            base_url=env.get("SLOTLINKS_BASE_URL", DEFAULT_BASE_URL),
            admin_token=env.get("SLOTLINKS_ADMIN_TOKEN", ""),
            max_age=int(env.get("SLOTLINKS_MAX_AGE", "300")),
            horizon_days=int(env.get("SLOTLINKS_HORIZON_DAYS", "28")),
            hold_minutes=int(env.get("SLOTLINKS_HOLD_MINUTES", "10")),
            portal_secret=env.get("SLOTLINKS_PORTAL_SECRET", ""),
            booking_attempts=int(env.get("SLOTLINKS_BOOKING_ATTEMPTS", "20")),
            booking_window_seconds=int(env.get("SLOTLINKS_BOOKING_WINDOW_SECONDS", "600")),
            login_attempts=int(env.get("SLOTLINKS_LOGIN_ATTEMPTS", "5")),
            login_window_seconds=int(env.get("SLOTLINKS_LOGIN_WINDOW_SECONDS", "900")),
            login_max_delay_seconds=float(env.get("SLOTLINKS_LOGIN_MAX_DELAY_SECONDS", "4")),
            behind_proxy=_flag(env.get("SLOTLINKS_BEHIND_PROXY")),
            source_id=env.get("SLOTLINKS_SOURCE_ID", "slotlinks"),
            discovery_url=env.get("SLOTLINKS_DISCOVERY_URL", "http://127.0.0.1:8000"),
            allow_private_networks=_flag(env.get("SLOTLINKS_ALLOW_PRIVATE_NETWORKS")),
            min_transfer_bytes=int(env.get("SLOTLINKS_MIN_TRANSFER_BYTES", "1024")),
            min_transfer_window_seconds=float(env.get("SLOTLINKS_MIN_TRANSFER_WINDOW_SECONDS", "30")),
            deeplink_attempts=int(env.get("SLOTLINKS_DEEPLINK_ATTEMPTS", "30")),
            deeplink_window_seconds=int(env.get("SLOTLINKS_DEEPLINK_WINDOW_SECONDS", "600")),
            referral_retention_days=int(env.get("SLOTLINKS_REFERRAL_RETENTION_DAYS", "90")),
            sync_lease_seconds=float(env.get("SLOTLINKS_SYNC_LEASE_SECONDS", "60")),
            smtp_url=env.get("SLOTLINKS_SMTP_URL", ""),
            mail_from=env.get("SLOTLINKS_MAIL_FROM", "slotlinks@localhost"),
            alert_period_seconds=int(env.get("SLOTLINKS_ALERT_PERIOD_SECONDS", "900")),
            alert_days=int(env.get("SLOTLINKS_ALERT_DAYS", "30")),
        )

    def to_json(self) -> str:
        """These settings as JSON, for a process of our own to rebuild them (`from_json`)."""
        return json.dumps({k: str(v) if isinstance(v, Path) else v for k, v in asdict(self).items()})

    @classmethod
    def from_json(cls, text: str) -> Settings:
        """Settings written by `to_json`."""
        values: dict[str, Any] = json.loads(text)
        paths = {f.name for f in fields(cls) if f.type in ("Path", Path)}
        converted: dict[str, Any] = {k: Path(v) if k in paths else v for k, v in values.items()}
        return cls(**converted)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with the given non-None values replaced (CLI options win over the environment)."""
        settings = replace(self, **{k: v for k, v in changes.items() if v is not None})
        settings.validate()
        return settings

    def validate(self) -> None:
        parts = http_url_parts(self.base_url)
        if parts is None:
            raise ValueError(f"base URL must be an absolute http(s) URL, got {self.base_url!r}")
        if parts.query or parts.fragment:
            raise ValueError(f"base URL must not carry a query or fragment, got {self.base_url!r}")
        if not is_http_url(self.discovery_url):
            raise ValueError(f"discovery URL must be an absolute http(s) URL, got {self.discovery_url!r}")
        if not self.source_id or not all(c.isalnum() or c in "-._~" for c in self.source_id):
            raise ValueError(f"source id must be a non-empty URL-safe token, got {self.source_id!r}")
        if self.max_age < 0:
            raise ValueError("max-age must not be negative")
        if not 1 <= self.horizon_days <= 366:
            raise ValueError("the slot horizon must be between 1 and 366 days")
        if not 1 <= self.hold_minutes <= 120:
            raise ValueError("a hold must last between 1 and 120 minutes")
        if self.portal_secret and len(self.portal_secret) < MIN_TOKEN_LENGTH:
            raise ValueError(f"the portal secret must be at least {MIN_TOKEN_LENGTH} characters")
        limits = (self.booking_attempts, self.booking_window_seconds, self.login_attempts, self.login_window_seconds)
        if min(*limits, self.deeplink_attempts, self.deeplink_window_seconds) < 1:
            raise ValueError("rate limits need at least one attempt per window of at least one second")
        if not 0 <= self.login_max_delay_seconds <= 60:
            raise ValueError("the longest sign-in delay must be between 0 and 60 seconds")
        if self.min_transfer_bytes < 0 or self.min_transfer_window_seconds <= 0:
            raise ValueError("the minimum transfer rate needs a byte count of 0 or more per positive window")
        if self.referral_retention_days < 1:
            raise ValueError("referrals must be kept at least one day")
        if not 0.5 <= self.sync_lease_seconds <= 86_400:
            raise ValueError("a sync lease must last between half a second and a day")
        if self.smtp_url and urlsplit(self.smtp_url).scheme not in SMTP_SCHEMES:
            raise ValueError(f"the SMTP URL must start with one of {', '.join(s + '://' for s in SMTP_SCHEMES)}")
        if "@" not in self.mail_from or any(c in self.mail_from for c in "\r\n<>"):
            raise ValueError(f"the sender must be a plain e-mail address, got {self.mail_from!r}")
        if self.alert_period_seconds < 0 or not 1 <= self.alert_days <= 366 or self.alerts_per_address < 1:
            raise ValueError("alerts need a period of 0 s or more, 1 to 366 days and at least one per address")
        if min(self.alert_attempts, self.alert_window_seconds) < 1:
            raise ValueError("the alert rate limit needs at least one attempt per window of at least one second")

    @property
    def admin_enabled(self) -> bool:
        """The admin API answers only when a token of useful strength is configured."""
        return len(self.admin_token) >= MIN_TOKEN_LENGTH

    @property
    def discovery_db_url(self) -> str:
        return self.discovery_db or sqlite_url(self.data_dir / "discovery.db")

    @property
    def provider_db_url(self) -> str:
        return self.provider_db or sqlite_url(self.data_dir / "provider.db")

    @property
    def base_path(self) -> str:
        """The path part of the base URL, e.g. `/fhir`, without a trailing slash."""
        return urlsplit(self.base_url).path.rstrip("/")

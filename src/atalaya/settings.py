"""Settings of one Atalaya node, read from the environment (prefix ``ATALAYA_``).

Build one ``Settings`` object per process, in ``create_app(settings)`` or in the CLI,
never at import time.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, IPvAnyNetwork, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

Language = Literal["en", "es", "pt", "fr"]
LANGUAGES: tuple[Language, ...] = ("en", "es", "pt", "fr")


class Settings(BaseSettings):
    """Everything an operator can set; each field is ``ATALAYA_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ATALAYA_", extra="ignore")

    database_url: str = "sqlite:///./var/atalaya.db"
    data_dir: Path = Path("./var")
    secret_key: str | None = Field(default=None, repr=False)
    secret_key_file: Path | None = None
    node_id: str = "local"
    node_name: str = "Atalaya node"
    public_url: str = "http://127.0.0.1:8000"
    language: Language = "en"

    max_body_bytes: int = 10 * 1024 * 1024
    session_hours: int = 12
    token_days: int = 90
    login_max_failures: int = 5
    login_window_minutes: int = 15
    login_lockout_minutes: int = 15
    # Reverse proxies (addresses or networks, comma-separated) whose X-Forwarded-For is
    # believed; none by default: the header is then ignored (web/middleware.py).
    trusted_proxies: Annotated[list[IPvAnyNetwork], NoDecode] = Field(default_factory=list)
    # Cost of argon2id; lower only in tests.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    log_sql: bool = False
    # The server stops any statement running longer than this (seconds; 0: no limit) and
    # answers API-111 (docs/operations.md#budget). Commands (imports, exports) have none.
    statement_timeout_seconds: float = Field(default=30.0, ge=0)

    # Federation (docs/federation.md): the node's private keys, kept out of the database.
    signing_key_file: Path | None = None  # default: data_dir/node_signing_key.pem
    encryption_key_file: Path | None = None  # default: data_dir/node_encryption_key.pem
    federation_clock_skew_seconds: int = 300
    federation_max_envelope_bytes: int = 256 * 1024
    # How long a rotated-out public key still verifies (and its private key decrypts).
    federation_key_overlap_hours: int = 168
    federation_timeout_seconds: float = 10.0
    # Hit/no-hit queries a peer may put a day under an agreement that sets no daily
    # limit (docs/federation.md#hitno-hit): a day of checks, too few to guess plates.
    federation_hit_daily_limit: int = 1000
    # Delivery of the outbox (docs/federation.md#delivery): retries wait a random time
    # up to min(cap, base * 2**attempts); after breaker_failures failures in a row a
    # peer's queue waits breaker_open_seconds, then one envelope is tried.
    federation_retry_base_seconds: float = 5.0
    federation_retry_cap_seconds: float = 3600.0
    federation_breaker_failures: int = 5
    federation_breaker_open_seconds: float = 300.0
    federation_delivery_batch: int = 100
    federation_worker_poll_seconds: float = 2.0
    # Whether ``atalaya serve`` also runs the delivery worker (the embedded setup).
    embedded_worker: bool = True
    # How long ``serve --workers N`` waits for a worker process to answer its supervisor,
    # while it starts and after, before replacing it (uvicorn's default of 5 s is less
    # than a worker takes to start on a loaded machine: it restarted them in a loop).
    worker_healthcheck_seconds: int = Field(default=60, ge=1)

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """Read ``10.0.0.5, 10.1.0.0/16`` (and, as before, a JSON list)."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @cached_property
    def secret(self) -> bytes:
        """Return the node's secret key, creating ``data_dir/secret_key`` on first use."""
        if self.secret_key:
            return self.secret_key.encode()
        path = self.secret_key_file or self.data_dir / "secret_key"
        if not path.exists():
            if self.secret_key_file:
                raise FileNotFoundError(f"ATALAYA_SECRET_KEY_FILE {path} does not exist")
            _create_secret_file(path)
        return path.read_text().strip().encode()

    @property
    def served_over_tls(self) -> bool:
        return self.public_url.startswith("https://")


def _create_secret_file(path: Path) -> None:
    """Write a new random key to ``path`` (mode 0600), unless another process just did."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
    try:
        # A hard link fails if the key exists: the first process to get there wins.
        os.link(partial, path)
    except FileExistsError:
        pass
    finally:
        partial.unlink()

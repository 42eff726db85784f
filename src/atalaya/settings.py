"""Settings of one Atalaya node, read from the environment (prefix ``ATALAYA_``).

Build one ``Settings`` object per process, in ``create_app(settings)`` or in the CLI,
never at import time.
"""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

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
    # Addresses of reverse proxies whose X-Forwarded-For we believe.
    trusted_proxies: list[str] = Field(default_factory=list)
    # Cost of argon2id; lower only in tests.
    argon2_time_cost: int = 3
    argon2_memory_kib: int = 65536
    log_sql: bool = False

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

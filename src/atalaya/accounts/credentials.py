"""Secrets users hold: argon2id password hashes, TOTP codes, bearer tokens, session keys."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from atalaya.settings import Settings

TOKEN_PREFIX = "atl_"  # noqa: S105 - a label, not a secret
TOTP_ISSUER = "Atalaya"
# A code stays valid one 30-second step either side, for clocks that drift.
TOTP_WINDOW = 1


@dataclass(frozen=True)
class Credentials:
    """The node's credential primitives, parameterised by its settings."""

    hasher: PasswordHasher
    secret: bytes

    @classmethod
    def from_settings(cls, settings: Settings) -> Credentials:
        hasher = PasswordHasher(
            time_cost=settings.argon2_time_cost, memory_cost=settings.argon2_memory_kib
        )
        return cls(hasher, settings.secret)

    # Passwords -------------------------------------------------------------------
    def hash_password(self, password: str) -> str:
        return self.hasher.hash(password)

    def check_password(self, stored_hash: str, password: str) -> bool:
        try:
            return self.hasher.verify(stored_hash, password)
        except (VerificationError, InvalidHashError):
            return False

    def dummy_check(self, password: str) -> None:
        """Spend the same time as a real check, so unknown names are not revealed by timing."""
        self.check_password(_DUMMY_HASH.get(self), password)

    # TOTP secrets are stored encrypted under a key derived from the node secret. ------
    def _fernet(self) -> Fernet:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"atalaya-totp").derive(
            self.secret
        )
        return Fernet(base64.urlsafe_b64encode(key))

    def seal(self, totp_secret: str) -> str:
        return self._fernet().encrypt(totp_secret.encode()).decode()

    def unseal(self, sealed: str, max_age: int | None = None) -> str | None:
        """Return what ``seal`` sealed, or ``None`` if forged or older than ``max_age`` s."""
        try:
            return self._fernet().decrypt(sealed.encode(), ttl=max_age).decode()
        except InvalidToken:
            return None

    # Signing of cookie values and CSRF tokens ---------------------------------------
    def sign(self, purpose: str, value: str) -> str:
        mac = hmac.new(self.secret, f"{purpose}:{value}".encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode().rstrip("=")

    def signed(self, purpose: str, value: str) -> str:
        return f"{value}.{self.sign(purpose, value)}"

    def unsign(self, purpose: str, signed_value: str) -> str | None:
        value, _, signature = signed_value.rpartition(".")
        if not value or not hmac.compare_digest(signature, self.sign(purpose, value)):
            return None
        return value


class _DummyHash:
    """A hash computed once per hasher, to spend time on unknown usernames."""

    def __init__(self) -> None:
        self._cache: dict[int, str] = {}

    def get(self, credentials: Credentials) -> str:
        key = id(credentials.hasher)
        if key not in self._cache:
            self._cache[key] = credentials.hasher.hash(secrets.token_urlsafe(16))
        return self._cache[key]


_DUMMY_HASH = _DummyHash()


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_step(secret: str, code: str, after_step: int | None) -> int | None:
    """Return the time step ``code`` is valid for, or ``None``.

    A step at or before ``after_step`` (the last one used) is refused, so a code
    cannot be replayed.
    """
    code = code.strip().replace(" ", "")
    if not code.isdigit() or len(code) != 6:
        return None
    totp = pyotp.TOTP(secret)
    now_step = totp.timecode(_now())
    for step in range(now_step - TOTP_WINDOW, now_step + TOTP_WINDOW + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            return None if after_step is not None and step <= after_step else step
    return None


def _now() -> __import__("datetime").datetime:  # type: ignore[valid-type]
    import datetime as dt

    return dt.datetime.now(dt.UTC)


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def new_token() -> tuple[str, str, str]:
    """Return a new bearer token, its SHA-256 (kept) and a short prefix (shown in lists)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, token_digest(token), token[: len(TOKEN_PREFIX) + 6]


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_session_key() -> tuple[str, str]:
    """Return a new session key (for the cookie) and its SHA-256 (kept)."""
    key = secrets.token_urlsafe(32)
    return key, token_digest(key)

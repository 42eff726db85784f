"""The node's private keys: an Ed25519 key that signs envelopes and an X25519 key that
envelopes' confidential bodies are encrypted to.

They live in files readable by their owner only (0600), in the data directory or where
``ATALAYA_SIGNING_KEY_FILE`` and ``ATALAYA_ENCRYPTION_KEY_FILE`` say; never in the
database, never in a log. A key file readable by anyone else is refused.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from joserfc.jwk import OKPKey

from atalaya.errors import DomainError
from atalaya.settings import Settings

Curve = Literal["Ed25519", "X25519"]
SIGNING_CURVE: Curve = "Ed25519"
ENCRYPTION_CURVE: Curve = "X25519"
# A rotated-out encryption key is kept here, next to its successor, for the overlap.
PREVIOUS_SUFFIX = ".previous"


def signing_key_path(settings: Settings) -> Path:
    return settings.signing_key_file or settings.data_dir / "node_signing_key.pem"


def encryption_key_path(settings: Settings) -> Path:
    return settings.encryption_key_file or settings.data_dir / "node_encryption_key.pem"


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def fingerprint(key: OKPKey | dict[str, Any]) -> str:
    """Return the RFC 7638 thumbprint (SHA-256, base64url) of a public or private key;
    for the signing key this is the node's fingerprint."""
    okp = key if isinstance(key, OKPKey) else OKPKey.import_key(key)
    return okp.thumbprint()


def public_jwk(key: OKPKey) -> dict[str, Any]:
    """Return the public half of ``key`` as a JWK with its ``kid``, ``use`` and ``alg``."""
    signing = key.curve_name == SIGNING_CURVE
    return {
        **key.as_dict(private=False),
        "kid": key.thumbprint(),
        "use": "sig" if signing else "enc",
        "alg": "Ed25519" if signing else "ECDH-ES+A256KW",
    }


def generate(curve: Curve) -> OKPKey:
    return OKPKey.generate_key(curve)


def write_key(path: Path, key: OKPKey) -> None:
    """Write ``key`` as PKCS#8 PEM to ``path`` with mode 0600, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key.as_pem(private=True))
    os.replace(partial, path)


def read_key(path: Path, curve: str) -> OKPKey:
    """Return the private key of ``curve`` in ``path``.

    Raises ``FED-119`` if the file is missing, open to other users, or holds no private
    key of that curve.
    """
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise DomainError("FED-119", params={"path": str(path)})
        key = OKPKey.import_key(path.read_bytes())
    except (OSError, ValueError) as error:
        raise DomainError("FED-119", params={"path": str(path)}) from error
    if key.curve_name != curve or key.private_key is None:
        raise DomainError("FED-119", params={"path": str(path)})
    return key


def provision(path: Path, curve: Curve) -> OKPKey:
    """Return the key in ``path`` if an operator put one there, else a new one written
    there (``atalaya node init``)."""
    if path.exists():
        return read_key(path, curve)
    key = generate(curve)
    write_key(path, key)
    return key


@dataclass(frozen=True)
class NodeKeys:
    """The node's private keys in memory: the signing key, and the encryption keys that
    may decrypt (the current one, and the previous one during a rotation's overlap)."""

    signing: OKPKey
    encryption: OKPKey
    previous_encryption: OKPKey | None = None

    @classmethod
    def load(cls, settings: Settings) -> NodeKeys:
        """Return the keys in the node's key files (``FED-119`` if one is unusable)."""
        encryption_path = encryption_key_path(settings)
        previous = previous_path(encryption_path)
        return cls(
            read_key(signing_key_path(settings), SIGNING_CURVE),
            read_key(encryption_path, ENCRYPTION_CURVE),
            read_key(previous, ENCRYPTION_CURVE) if previous.exists() else None,
        )

    @property
    def kid(self) -> str:
        return self.signing.thumbprint()

    def decryption_key(self, kid: str | None) -> OKPKey | None:
        """Return the private encryption key whose thumbprint is ``kid``, if held."""
        for key in (self.encryption, self.previous_encryption):
            if key is not None and key.thumbprint() == kid:
                return key
        return None

"""What a running node holds for its lifetime: settings, database, credential primitives.

Built once in ``create_app`` (or by a CLI command) and passed down; nothing here is
global, and nothing here breaks when several processes run side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

from atalaya.accounts.credentials import Credentials
from atalaya.accounts.login import LoginPolicy
from atalaya.accounts.profiles import HolderCache, ProfileCache
from atalaya.audit.service import AuditWriter
from atalaya.db import Database
from atalaya.settings import Settings


@dataclass
class Runtime:
    settings: Settings
    db: Database
    credentials: Credentials
    login_policy: LoginPolicy
    audit: AuditWriter
    holders: HolderCache
    profiles: ProfileCache

    @classmethod
    def from_settings(cls, settings: Settings, db: Database | None = None) -> Runtime:
        db = db or Database.from_settings(settings)
        return cls(
            settings,
            db,
            Credentials.from_settings(settings),
            LoginPolicy.from_settings(settings),
            AuditWriter(db.writer),
            HolderCache(),
            ProfileCache(),
        )

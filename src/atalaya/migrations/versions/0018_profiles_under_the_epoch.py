"""profiles under the credential epoch

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30

Profiles are now kept under the credential epoch as token holders are
(``atalaya.accounts.profiles.ProfileCache``). A profile also shows the user's full name
and whether a second factor is set up, so changes to ``users.full_name`` and
``users.totp_secret`` bump the epoch too. Each TOTP sign-in records its step in another
column, ``totp_last_step``, which still does not.
"""

from __future__ import annotations

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

NAME = "users_credential_epoch_0"
BEFORE = "UPDATE OF id, username, active, language, agency_id"
AFTER = f"{BEFORE}, full_name, totp_secret"
BUMP = "UPDATE credential_epoch SET value = value + 1 WHERE id = 1"


def _replace(event: str) -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    op.execute(f"DROP TRIGGER IF EXISTS {NAME}" + (" ON users" if postgresql else ""))
    if postgresql:
        op.execute(
            f"CREATE TRIGGER {NAME} AFTER {event} ON users "
            "FOR EACH STATEMENT EXECUTE FUNCTION bump_credential_epoch()"
        )
    else:
        op.execute(f"CREATE TRIGGER {NAME} AFTER {event} ON users BEGIN {BUMP}; END")


def upgrade() -> None:
    _replace(AFTER)


def downgrade() -> None:
    _replace(BEFORE)

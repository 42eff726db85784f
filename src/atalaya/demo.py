"""Demo data: agencies in Mexico, the test personas and an administrator with TOTP.

Loading is idempotent: what exists is left alone, so a second run changes nothing.
The password and TOTP key below are public; they exist only for demonstrations.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts import service
from atalaya.accounts.credentials import Credentials
from atalaya.accounts.models import Agency, User
from atalaya.audit.service import AuditContext
from atalaya.geo.service import DATA_DIR, load_areas, read_area_file

DEMO_PASSWORD = "atalaya-demo"  # noqa: S105 - published demo credential
DEMO_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DP"  # noqa: S105 - published demo credential

AGENCIES = [
    ("MX-SSPC", "Secretaría de Seguridad y Protección Ciudadana", "federal", "MX", None),
    (
        "MX-FGR",
        "Fiscalía General de la República (autoridad central)",
        "central_authority",
        "MX",
        None,
    ),
    (
        "MX-SSPE-CHH",
        "Secretaría de Seguridad Pública del Estado de Chihuahua",
        "state",
        "MX-CHH",
        "MX-SSPC",
    ),
    (
        "MX-SSPM-JUA",
        "Secretaría de Seguridad Pública Municipal de Juárez",
        "municipal",
        "MX-08-037",
        "MX-SSPE-CHH",
    ),
    ("MX-CPM-GDL", "Comisaría de la Policía de Guadalajara", "municipal", "MX-14-039", "MX-SSPC"),
]


@dataclass(frozen=True)
class DemoUser:
    username: str
    full_name: str
    agency: str
    roles: tuple[str, ...]
    totp: bool = False


USERS = [
    DemoUser("alice", "Alicia Hernández", "MX-SSPM-JUA", ("officer",)),
    DemoUser("bob", "Roberto Gómez", "MX-SSPM-JUA", ("analyst",)),
    DemoUser("charlie", "Carlos Ramírez", "MX-CPM-GDL", ("officer",)),
    DemoUser("diana", "Diana Torres", "MX-SSPE-CHH", ("supervisor",)),
    DemoUser("admin", "Administración Atalaya", "MX-SSPC", ("administrator",), totp=True),
    DemoUser("auditor", "Ana Auditora", "MX-SSPC", ("auditor",)),
    DemoUser("carmen", "Carmen Vidal", "MX-FGR", ("central_authority",), totp=True),
]


def load_demo(session: Session, credentials: Credentials, ctx: AuditContext) -> int:
    """Create whatever demo agencies and users are missing; return how many were created."""
    created = load_areas(
        session, read_area_file((DATA_DIR / "municipalities-demo.csv").read_text("utf-8"))
    )
    for code, name, level, area, parent in AGENCIES:
        if session.scalar(select(Agency.id).where(Agency.code == code)) is None:
            service.create_agency(
                session, ctx, code=code, name=name, level=level, area=area, parent=parent
            )
            created += 1
    for demo in USERS:
        if session.scalar(select(User.id).where(User.username == demo.username)) is None:
            user = service.create_user(
                session,
                ctx,
                credentials,
                username=demo.username,
                agency=demo.agency,
                roles=demo.roles,
                password=DEMO_PASSWORD,
                full_name=demo.full_name,
            )
            if demo.totp:
                user.totp_secret = credentials.seal(DEMO_TOTP_SECRET)
            created += 1
    return created


def logins_text(url: str) -> str:
    """Return the demo sign-in instructions printed by ``make run``."""
    lines = [f"Atalaya demo node at {url}", f"Demo password for every user: {DEMO_PASSWORD}"]
    for demo in USERS:
        extra = f"  (TOTP key {DEMO_TOTP_SECRET})" if demo.totp else ""
        lines.append(f"  {demo.username:8} {', '.join(demo.roles):18} {demo.agency}{extra}")
    return "\n".join(lines)

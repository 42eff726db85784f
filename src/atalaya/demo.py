"""Demo data: agencies in Mexico and Colombia, the test personas, an administrator with
TOTP, and (``load_demo_incidents``) a living data set of incidents.

Loading is idempotent: what exists is left alone, so a second run changes nothing.
The password and TOTP key below are public; they exist only for demonstrations.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from atalaya.accounts import service
from atalaya.accounts.authz import Principal
from atalaya.accounts.credentials import Credentials
from atalaya.accounts.models import Agency, AgencyLevel, Role, User
from atalaya.audit.service import AuditContext
from atalaya.geo.service import DATA_DIR, load_areas, read_area_file
from atalaya.observatory import derived
from atalaya.observatory.models import Series, Source
from atalaya.observatory.service import publish
from atalaya.records.demo_data import PREFIX, Owner, demo_incidents, reference
from atalaya.records.imports import ImportReport, SourceRecord, import_records
from atalaya.records.models import Incident

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
    ("MX-SSPE-JAL", "Secretaría de Seguridad del Estado de Jalisco", "state", "MX-JAL", "MX-SSPC"),
    (
        "MX-SSC-CMX",
        "Secretaría de Seguridad Ciudadana de la Ciudad de México",
        "state",
        "MX-CMX",
        "MX-SSPC",
    ),
    (
        "MX-SSPE-NLE",
        "Secretaría de Seguridad del Estado de Nuevo León",
        "state",
        "MX-NLE",
        "MX-SSPC",
    ),
    (
        "MX-SSPM-TIJ",
        "Secretaría de Seguridad y Protección Ciudadana Municipal de Tijuana",
        "municipal",
        "MX-02-004",
        "MX-SSPC",
    ),
    ("CO-PNC", "Policía Nacional de Colombia", "federal", "CO", None),
    ("CO-DEANT", "Departamento de Policía Antioquia", "state", "CO-ANT", "CO-PNC"),
    ("CO-MEBOG", "Policía Metropolitana de Bogotá", "municipal", "CO-11-001", "CO-PNC"),
    ("CO-MECAL", "Policía Metropolitana de Santiago de Cali", "municipal", "CO-76-001", "CO-PNC"),
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
    DemoUser("valentina", "Valentina Restrepo", "CO-PNC", ("analyst",)),
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
                password=secrets.token_urlsafe(24),
                full_name=demo.full_name,
            )
            # The published demo password is set below the strength check on purpose:
            # "atalaya" is in the demo administrator's name, which that check penalises.
            user.password_hash = credentials.hash_password(DEMO_PASSWORD)
            if demo.totp:
                user.totp_secret = credentials.seal(DEMO_TOTP_SECRET)
            created += 1
    return created


def pending_demo_incidents(session: Session, count: int) -> list[int]:
    """Return the numbers, from 1 to ``count``, of the demo incidents not stored yet."""
    stored = set(
        session.scalars(select(Incident.reference).where(Incident.reference.startswith(PREFIX)))
    )
    return [number for number in range(1, count + 1) if reference(number) not in stored]


def load_demo_incidents(
    sessions: Callable[[], Session],
    ctx: AuditContext,
    numbers: Sequence[int],
    *,
    batch_size: int = 500,
    progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Store the demo incidents numbered ``numbers``, each for the demo agency that owns
    it, in batches of ``batch_size`` per agency; return what was stored and refused.

    Agencies missing from the database (``load_demo`` not run) own nothing; an incident
    none of the others may own raises ``ValueError``.
    """
    with sessions() as session:
        codes = [code for code, *_ in AGENCIES]
        agencies = session.scalars(select(Agency).where(Agency.code.in_(codes)))
        principals = {agency.code: _owner_principal(agency) for agency in agencies}
    owners = [
        Owner(code, level, area) for code, _, level, area, _ in AGENCIES if code in principals
    ]
    report = ImportReport()
    waiting: dict[str, list[SourceRecord]] = {code: [] for code in principals}

    def store(owner: str) -> None:
        batch, waiting[owner] = waiting[owner], []
        stored = import_records(
            sessions, principals[owner], ctx, batch, batch_size=batch_size, progress=progress
        )
        _add(report, stored)

    for owner, incident in demo_incidents(numbers, owners):
        waiting[owner].append((incident.reference, incident))
        if len(waiting[owner]) >= batch_size:
            store(owner)
    for owner, batch in waiting.items():
        if batch:
            store(owner)
    return report


def _owner_principal(agency: Agency) -> Principal:
    level = AgencyLevel(agency.level)
    officer = frozenset({Role.OFFICER})
    return Principal(0, "demo", agency.id, agency.code, level, agency.area.path, officer)


def _add(total: ImportReport, report: ImportReport) -> None:
    total.read += report.read
    total.stored += report.stored
    total.updated += report.updated
    total.unchanged += report.unchanged
    total.rejected += report.rejected


def logins_text(url: str) -> str:
    """Return the demo sign-in instructions printed by ``make run``."""
    lines = [f"Atalaya demo node at {url}", f"Demo password for every user: {DEMO_PASSWORD}"]
    for demo in USERS:
        extra = f"  (TOTP key {DEMO_TOTP_SECRET})" if demo.totp else ""
        lines.append(f"  {demo.username:8} {', '.join(demo.roles):18} {demo.agency}{extra}")
    return "\n".join(lines)


def publish_demo_indicators(session: Session, ctx: AuditContext) -> int:
    """Publish the indicators counted from the demo incidents, so that the public
    dashboard shows them (fictitious data: on a real node an administrator decides);
    return how many series were published (0, and nothing audited, when all are)."""
    source_id = session.scalar(select(Source.id).where(Source.format == derived.FORMAT))
    if source_id is None:
        return 0
    waiting = session.scalar(
        select(func.count())
        .select_from(Series)
        .where(Series.source_id == source_id, Series.published.is_(False))
    )
    return publish(session, ctx, source_id) if waiting else 0

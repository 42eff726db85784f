"""Demo alerts: a few notices about things and persons in the demo incidents, so that a
new user sees an alert light up on a record (``atalaya demo``)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.accounts.authz import Principal
from atalaya.accounts.models import Agency, AgencyLevel, Role
from atalaya.alerts import service
from atalaya.alerts.models import Alert
from atalaya.alerts.schema import AlertIn
from atalaya.audit.service import AuditContext
from atalaya.records.models import Firearm, Incident, Involvement, Vehicle

# Fixed references, so that a second run finds them and adds nothing.
UIDS = (
    "0193a5c0-0000-7000-8000-00000000de01",
    "0193a5c0-0000-7000-8000-00000000de02",
    "0193a5c0-0000-7000-8000-00000000de03",
)
ISSUER = "MX-SSPC"


def load_demo_alerts(session: Session, ctx: AuditContext, node_id: str) -> int:
    """Issue the demo alerts that are missing, about the first demo incidents' stolen
    vehicle, firearm and suspect; return how many were issued."""
    agency = session.scalar(select(Agency).where(Agency.code == ISSUER))
    if agency is None:
        return 0
    issuer = Principal(0, "demo", agency.id, agency.code, AgencyLevel(agency.level),
                       agency.area.path, frozenset({Role.SUPERVISOR}))  # fmt: skip
    review = dt.date.today() + dt.timedelta(days=365)
    issued = 0
    for uid, body in zip(UIDS, _bodies(session, review), strict=False):
        if body is None or session.scalar(select(Alert.id).where(Alert.uid == uid)):
            continue
        alert = service.create_alert(session, ctx, issuer, AlertIn.model_validate(body), node_id)
        alert.uid = uid
        issued += 1
    session.flush()
    return issued


def _bodies(session: Session, review: dt.date) -> list[dict[str, object] | None]:
    vehicle = session.scalar(
        select(Vehicle).where(Vehicle.vin_normalised.is_not(None)).order_by(Vehicle.id).limit(1)
    )
    firearm = session.scalar(
        select(Firearm).where(Firearm.serial_normalised.is_not(None)).order_by(Firearm.id).limit(1)
    )
    suspect = session.scalar(
        select(Involvement)
        .join(Incident, Incident.id == Involvement.incident_id)
        .where(Involvement.role == "suspect", Involvement.surnames != "")
        .order_by(Involvement.id)
        .limit(1)
    )
    common = {"review_date": review.isoformat()}
    return [
        None
        if vehicle is None
        else {**common, "type": "stolen_vehicle", "summary": "Vehículo con reporte de robo.",
             "vehicle": {"vin": vehicle.vin, "plate": vehicle.plate, "make": vehicle.make}},
        None
        if firearm is None
        else {**common, "type": "stolen_firearm", "summary": "Arma de fuego sustraída.",
             "firearm": {"serial": firearm.serial, "make": firearm.make}},
        None
        if suspect is None
        else {**common, "type": "wanted", "summary": "Orden de aprehensión vigente.",
             "warrant_reference": "DEMO-OA-0001",
             "person": {"given_names": suspect.given_names, "surnames": suspect.surnames,
                        "date_of_birth": suspect.date_of_birth, "sex": suspect.sex}},
    ]  # fmt: skip

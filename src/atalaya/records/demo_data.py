"""Demo incidents: a deterministic, realistic data set for a new node (``atalaya demo``).

Incident number N (from 1) is drawn from ``data/demo.toml`` by random generators seeded
with the file's seed and N alone, so it comes out the same in every run, whatever count
is asked for and whatever ``PYTHONHASHSEED``; its reference is ``DEMO-00000N``. Its day is
the N-th point of a van der Corput sequence over the years before a fixed date, so the
first few hundred incidents already span the whole period.

Repeat offenders are drawn once from the seed and turn up in many incidents, across
agencies, under the spellings police records use (accents dropped, surnames swapped or
one left out, Vázquez for Vásquez, typos). A vehicle, firearm or document stolen in one
incident may be recovered, seized or used fraudulently in a later one.
"""

from __future__ import annotations

import datetime as dt
import random
import tomllib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from atalaya.classification.iccs import iccs
from atalaya.geo.service import DATA_DIR, read_area_file
from atalaya.records import demo_parts as parts
from atalaya.records.demo_parts import Person, Place
from atalaya.records.schema import (
    DocumentIn,
    FirearmIn,
    IncidentIn,
    OffenceIn,
    PersonIn,
    VehicleIn,
)

DEMO_FILE = Path(__file__).parent / "data" / "demo.toml"
PREFIX = "DEMO-"
# How many earlier incidents are looked at for a thing stolen there that turns up again.
EARLIER_TRIES = 60
_AGE_GROUPS = ((14, "0-14"), (17, "15-17"), (24, "18-24"), (34, "25-34"), (44, "35-44"),
               (54, "45-54"), (64, "55-64"))  # fmt: skip


@dataclass(frozen=True)
class Owner:
    """A demo agency that may own incidents: its code, level and area of jurisdiction."""

    code: str
    level: str
    area: str


@dataclass(frozen=True)
class ThingSpec:
    kind: str  # car, motorcycle, firearm or document
    status: str
    chance: float


@dataclass(frozen=True)
class OffenceKind:
    """One kind of incident of the data file: its offence and how its records look."""

    name: str
    weight: dict[str, float]
    iccs: str
    weapons: dict[str, float]
    places: dict[str, float]
    hours: str
    victims: list[int]
    suspects: list[int]
    narratives: list[str]
    mx: str | None = None
    co: str | None = None
    federal: bool = False
    span: bool = False
    month_only: float = 0.0
    attempted: float = 0.0
    missing: list[int] = field(default_factory=lambda: [0, 0])
    female: float = 0.45
    suspect_female: float = 0.1
    victim_age: list[int] = field(default_factory=lambda: [18, 35, 80])
    identified: float = 0.0
    arrest: float = 0.0
    partner: bool = False
    restricted: float = 0.0
    context: dict[str, float] = field(default_factory=dict)
    relationship: dict[str, float] = field(default_factory=dict)
    things: tuple[ThingSpec, ...] = ()


@dataclass(frozen=True)
class Offender:
    """A repeat offender: who they are, where they live, and the partner they abuse."""

    person: Person
    home: Place
    partner: Person | None


@dataclass(frozen=True)
class World:
    settings: dict[str, Any]
    start: dt.datetime
    days: int
    places: dict[str, list[Place]]  # municipalities by country
    place_weights: dict[str, list[float]]
    states: dict[str, list[Place]]
    kinds: list[OffenceKind]
    offenders: dict[tuple[str, str], list[Offender]]  # by country and offence kind

    @property
    def seed(self) -> int:
        return int(self.settings["seed"])

    @property
    def end(self) -> dt.datetime:
        return self.start + dt.timedelta(days=self.days)


@dataclass(frozen=True)
class Plan:
    """What incident N is about, drawn before the rest so that later incidents can look
    back at it cheaply."""

    country: str
    kind: OffenceKind
    place: Place
    offender: Offender | None
    attempted: bool
    day: dt.date


def reference(number: int) -> str:
    return f"{PREFIX}{number:06d}"


def demo_incidents(
    numbers: Iterable[int], owners: Sequence[Owner]
) -> Iterator[tuple[str, IncidentIn]]:
    """Yield incident ``number`` for each of ``numbers`` with the code of its owner.

    The owner is one of ``owners`` whose jurisdiction holds the incident's area, more
    often the most local one. Raises ``ValueError`` if none does.
    """
    for number in numbers:
        yield _incident(number, owners)


def offender_in(number: int) -> Offender | None:
    """Return the repeat offender incident ``number`` involves, if any."""
    return _plan(number).offender


@cache
def world() -> World:
    """Return the demo world, read once from ``demo.toml`` and the area files."""
    with DEMO_FILE.open("rb") as f:
        settings = tomllib.load(f)
    start = settings["reference_date"] - dt.timedelta(days=round(365.25 * settings["years"]))
    places, states = _places(settings)
    kinds = [_kind(raw) for raw in settings["offences"]]
    weights = {
        country: [settings["areas"][p.code] for p in found] for country, found in places.items()
    }
    offenders = _offenders(settings, places, weights, kinds)
    days = (settings["reference_date"] - start).days
    return World(settings, start, days, places, weights, states, kinds, offenders)


def _kind(raw: dict[str, Any]) -> OffenceKind:
    specs = tuple(ThingSpec(**thing) for thing in raw.get("things", ()))
    return OffenceKind(**{**raw, "things": specs})


def _places(settings: dict[str, Any]) -> tuple[dict[str, list[Place]], dict[str, list[Place]]]:
    rows = []
    for name in ("areas.csv", "municipalities-demo.csv", "co-municipalities.csv"):
        rows += read_area_file((DATA_DIR / name).read_text("utf-8"))
    by_code = {row.code: row for row in rows}
    countries = list(settings["countries"])
    states = {
        c: [Place(r.code, r.name, c, (c, r.code)) for r in rows if r.parent == c] for c in countries
    }
    places: dict[str, list[Place]] = {c: [] for c in countries}
    for code in settings["areas"]:
        row = by_code[code]
        country = by_code[row.parent or ""].parent or ""
        places[country].append(Place(code, row.name, country, (country, row.parent or "", code)))
    return places, states


def _offenders(
    settings: dict[str, Any],
    places: dict[str, list[Place]],
    weights: dict[str, list[float]],
    kinds: list[OffenceKind],
) -> dict[tuple[str, str], list[Offender]]:
    rng = parts.generator(settings["seed"], "offenders")
    trades = settings["trades"]
    countries = settings["countries"]
    found: dict[tuple[str, str], list[Offender]] = {
        (c, k.name): [] for c in countries for k in kinds
    }
    for number in range(settings["offenders"]):
        trade = parts.pick(rng, {name: spec["weight"] for name, spec in trades.items()})
        country = parts.pick(rng, {c: spec["share"] for c, spec in countries.items()})
        home = rng.choices(places[country], weights[country])[0]
        sex = "female" if rng.random() < trades[trade]["female"] else "male"
        person = parts.person(rng, settings, country, sex, rng.randint(17, 50))
        partner = None
        if trade == "domestic":
            other = "male" if sex == "female" else "female"
            partner = parts.person(rng, settings, country, other, rng.randint(17, 45))
        offender = Offender(person, home, partner)
        # A few drug traffickers work both countries.
        reach = list(countries) if trade == "drugs" and number % 10 == 0 else [country]
        for where in reach:
            for name in trades[trade]["offences"]:
                found[(where, name)].append(offender)
    return found


def _vdc(number: int) -> float:
    """Return the ``number``-th point of the base-2 van der Corput sequence, in [0, 1)."""
    value, scale = 0.0, 0.5
    while number:
        number, bit = divmod(number, 2)
        value += bit * scale
        scale /= 2
    return value


@cache
def _plan(number: int) -> Plan:
    w = world()
    settings = w.settings
    rng = parts.generator(w.seed, number, "plan")
    country = parts.pick(rng, {c: spec["share"] for c, spec in settings["countries"].items()})
    kind = rng.choices(w.kinds, [k.weight.get(country, 0.0) for k in w.kinds])[0]
    offender = None
    candidates = w.offenders.get((country, kind.name))
    if candidates and rng.random() < settings["repeat_offender"]:
        # A few offenders are very busy; most turn up only now and then.
        offender = candidates[int(len(candidates) * rng.random() ** 1.3)]
    # Most offenders keep near home; abusers always hurt their partner there.
    if offender and offender.home.country == country and (kind.partner or rng.random() < 0.65):
        place = offender.home
    elif rng.random() < settings["state_level"]:
        place = rng.choice(w.states[country])
    else:
        place = rng.choices(w.places[country], w.place_weights[country])[0]
    attempted = bool(kind.attempted) and iccs().attempt_allowed(kind.iccs)
    attempted = attempted and rng.random() < kind.attempted
    day = (w.start + dt.timedelta(days=int(_vdc(number) * w.days))).date()
    return Plan(country, kind, place, offender, attempted, day)


def _incident(number: int, owners: Sequence[Owner]) -> tuple[str, IncidentIn]:
    w, plan = world(), _plan(number)
    kind = plan.kind
    rng = parts.generator(w.seed, number)
    owner = _owner(rng, plan, owners)
    occurred_from, occurred_to, reported_at, moment, precision = _when(rng, w, plan)
    weapon = parts.pick(rng, kind.weapons)
    when = parts.when(moment, precision)
    story = parts.Story(rng, w.settings, plan.place, kind.places, kind.narratives, when, weapon)
    persons = _persons(rng, plan, moment.date())
    story.tell_persons(persons)
    vehicles, firearms, documents = _things(number, plan, story.arrested)
    story.tell_things(vehicles, firearms)
    incident = IncidentIn(
        reference=reference(number),
        occurred_from=occurred_from,
        occurred_to=occurred_to,
        reported_at=reported_at,
        area=plan.place.code,
        place_type=story.place_type,
        status=_status(rng, w, plan),
        narrative=story.narrative(),
        restricted=rng.random() < kind.restricted,
        offences=_offences(rng, plan, weapon, persons, firearms),
        persons=persons,
        vehicles=vehicles,
        firearms=firearms,
        documents=documents,
    )
    return owner, incident


def _owner(rng: random.Random, plan: Plan, owners: Sequence[Owner]) -> str:
    levels = world().settings["agency_levels"]
    weights = {
        o.code: levels["federal_offence" if plan.kind.federal and o.level == "federal" else o.level]
        for o in owners
        if o.area in plan.place.chain and o.level in levels
    }
    if not weights:
        raise ValueError(f"no demo agency covers {plan.place.code}")
    return parts.pick(rng, weights)


def _when(
    rng: random.Random, w: World, plan: Plan
) -> tuple[str, str | None, dt.datetime, dt.datetime, str]:
    """Return occurred from and to, reported at, the moment the narrative tells, and how
    precisely it is known (month, day or minute)."""
    hour = rng.choices(range(24), w.settings["hours"][plan.kind.hours])[0]
    moment = dt.datetime.combine(plan.day, dt.time(hour, rng.randrange(0, 60, 5)), dt.UTC)
    minute = "%Y-%m-%dT%H:%M"
    if rng.random() < plan.kind.month_only:
        start = moment.replace(day=1, hour=0, minute=0)
        reported = (start + dt.timedelta(days=32)).replace(day=1) + _hours(rng, 1, 480)
        return moment.strftime("%Y-%m"), None, min(reported, w.end), start, "month"
    if plan.kind.span:
        end = moment + _hours(rng, 2, 10)
        reported = min(end + _hours(rng, 0, 6), w.end)
        return moment.strftime(minute), end.strftime(minute), reported, moment, "minute"
    if rng.random() < 0.2:
        day = moment.replace(hour=0, minute=0)
        reported = min(day + _hours(rng, 12, 72), w.end)
        return moment.strftime("%Y-%m-%d"), None, reported, day, "day"
    reported = min(moment + _hours(rng, 0.3, 36), w.end)
    return moment.strftime(minute), None, reported, moment, "minute"


def _hours(rng: random.Random, least: float, most: float) -> dt.timedelta:
    return dt.timedelta(minutes=round(60 * rng.uniform(least, most)))


def _status(rng: random.Random, w: World, plan: Plan) -> str:
    age = (w.end.date() - plan.day).days
    if age > 365:
        weights = {"closed": 45, "under_investigation": 30, "open": 15, "unfounded": 10}
    elif age > 90:
        weights = {"open": 30, "under_investigation": 45, "closed": 20, "unfounded": 5}
    else:
        weights = {"open": 60, "under_investigation": 35, "closed": 4, "unfounded": 1}
    return parts.pick(rng, weights)


def _offences(
    rng: random.Random, plan: Plan, weapon: str, persons: list[PersonIn], firearms: list[FirearmIn]
) -> list[OffenceIn]:
    kind, country = plan.kind, plan.country
    scheme, code = None, None
    if country == "MX" and kind.mx:
        modality = world().settings["mx_modality"].get(weapon, "Con otro elemento")
        scheme, code = "mx-sesnsp", kind.mx.replace("{modality}", modality)
    elif country == "CO" and kind.co:
        scheme, code = "co-policia-homicidios", kind.co
    context = parts.pick(rng, kind.context) if kind.context else None
    if kind.partner and persons and persons[0].relationship:
        context = "intimate_partner" if persons[0].relationship == "intimate_partner" else "family"
    offences = [
        OffenceIn(
            iccs=kind.iccs,
            national_scheme=scheme,
            national_code=code,
            attempted=plan.attempted,
            weapon=weapon,
            context=context,
        )
    ]
    seized = any(f.status == "seized" for f in firearms)
    if seized and kind.iccs != "090111" and rng.random() < 0.5:
        offences.append(OffenceIn(iccs="090111", weapon="firearm"))
    if kind.partner and rng.random() < 0.25:
        offences.append(OffenceIn(iccs="020122", weapon="none", context=context))
    return offences


def _persons(rng: random.Random, plan: Plan, day: dt.date) -> list[PersonIn]:
    kind, settings = plan.kind, world().settings
    victims: list[PersonIn] = []
    for index in range(rng.randint(*kind.victims)):
        relationship = parts.pick(rng, kind.relationship) if kind.relationship else None
        partner = plan.offender.partner if plan.offender and index == 0 else None
        if kind.partner and partner:
            person, relationship = partner, "intimate_partner"
        else:
            person = _stranger(rng, plan, day, kind.female)
        victims.append(_involved(rng, person, "victim", day, 0.3, relationship=relationship))
    missing = [
        _involved(rng, _stranger(rng, plan, day, kind.female), "missing", day, 0.9)
        for _ in range(rng.randint(*kind.missing))
    ]
    suspects = _suspects(rng, plan, day, victims)
    witnesses = []
    if kind.victims[1] and rng.random() < 0.2:
        witness = parts.person(rng, settings, plan.country, _sex(rng, 0.5), rng.randint(18, 70))
        witnesses.append(_involved(rng, witness, "witness", day, 0.0))
    return victims + missing + suspects + witnesses


def _stranger(rng: random.Random, plan: Plan, day: dt.date, female: float) -> Person:
    low, mode, high = plan.kind.victim_age
    age = round(rng.triangular(low, high, mode))
    return parts.person(rng, world().settings, plan.country, _sex(rng, female), age, day)


def _sex(rng: random.Random, female: float) -> str:
    return "female" if rng.random() < female else "male"


def _suspects(
    rng: random.Random, plan: Plan, day: dt.date, victims: list[PersonIn]
) -> list[PersonIn]:
    kind, found = plan.kind, []
    for index in range(rng.randint(*kind.suspects)):
        role = "arrested" if rng.random() < kind.arrest else "suspect"
        if index == 0 and plan.offender:
            offender = plan.offender.person
            given, surnames = parts.variant(rng, offender, world().settings)
            found.append(_involved(rng, offender, role, day, 0.7, given, surnames))
        elif rng.random() < kind.identified:
            sex = _sex(rng, kind.suspect_female)
            if kind.partner and victims:
                sex = "male" if victims[0].sex == "female" else "female"
            age = round(rng.triangular(16, 60, 24))
            person = parts.person(rng, world().settings, plan.country, sex, age, day)
            found.append(_involved(rng, person, role, day, 0.5))
        else:
            guess = rng.choice(["18-24", "25-34", None])
            found.append(PersonIn(role="suspect", sex=_sex(rng, 0.1), age_group=guess))
    return found


def _involved(
    rng: random.Random,
    person: Person,
    role: str,
    day: dt.date,
    with_birth: float,
    given: str | None = None,
    surnames: str | None = None,
    relationship: str | None = None,
) -> PersonIn:
    """Return ``person`` as recorded in an incident on ``day`` (optionally spelt otherwise)."""
    age = parts.age(person.born, day)
    foreign = person.nationality not in world().settings["countries"]
    return PersonIn(
        role=role,
        given_names=person.given if given is None else given,
        surnames=" ".join(person.surnames) if surnames is None else surnames,
        sex=person.sex,
        age=age,
        age_group=next((group for top, group in _AGE_GROUPS if age <= top), "65+"),
        date_of_birth=person.born.isoformat() if rng.random() < with_birth else None,
        nationality=person.nationality if foreign or rng.random() < 0.7 else None,
        relationship=relationship,
    )


def _things(
    number: int, plan: Plan, arrested: bool
) -> tuple[list[VehicleIn], list[FirearmIn], list[DocumentIn]]:
    """Return the things of incident ``number``, each drawn from a generator of its own so
    that a later incident can find what was stolen here."""
    seed = world().seed
    found: list[VehicleIn | FirearmIn | DocumentIn] = []
    for index, spec in enumerate(plan.kind.things):
        rng = parts.generator(seed, number, "thing", index)
        if rng.random() >= spec.chance or (plan.attempted and spec.status == "stolen"):
            continue
        again = None
        if spec.status != "stolen" and rng.random() < 0.4:
            again = _stolen_before(number, parts.category(spec.kind), plan.country)
        thing = again or parts.make(rng, world().settings, spec.kind, plan.place)
        update: dict[str, Any] = {"status": spec.status}
        if isinstance(thing, FirearmIn) and not again and spec.status == "seized":
            update["serial"] = thing.serial if rng.random() < 0.9 else None  # filed off
        found.append(thing.model_copy(update=update))
    rng = parts.generator(seed, number, "recovered")
    # Someone arrested may be found driving a car stolen earlier.
    recovered = arrested and rng.random() < 0.08
    if recovered and (vehicle := _stolen_before(number, "vehicle", plan.country)):
        found.append(vehicle.model_copy(update={"status": "recovered"}))
    return (
        [t for t in found if isinstance(t, VehicleIn)],
        [t for t in found if isinstance(t, FirearmIn)],
        [t for t in found if isinstance(t, DocumentIn)],
    )


def _stolen_before(
    number: int, category: str, country: str
) -> VehicleIn | FirearmIn | DocumentIn | None:
    """Return a thing of ``category`` stolen in ``country`` in an incident numbered and
    dated before incident ``number``, if one of a few tried has one."""
    rng = parts.generator(world().seed, number, "earlier", category)
    for _ in range(EARLIER_TRIES if number > 1 else 0):
        other = rng.randrange(1, number)
        plan = _plan(other)
        if plan.country != country or plan.attempted or _vdc(other) >= _vdc(number):
            continue
        for index, spec in enumerate(plan.kind.things):
            if spec.status != "stolen" or parts.category(spec.kind) != category:
                continue
            thing_rng = parts.generator(world().seed, other, "thing", index)
            if thing_rng.random() < spec.chance:
                return parts.make(thing_rng, world().settings, spec.kind, plan.place)
    return None

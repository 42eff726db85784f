"""The parts demo incidents are made of (``demo_data``): people and the ways their names
get written down, vehicles with valid VINs and plates, firearms, identity documents, and
the Spanish phrases narratives are told with. Every function draws from the generator it
is given, so the same generator state gives the same part.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from atalaya.matching.identifiers import vin_check_digit
from atalaya.records.schema import DocumentIn, FirearmIn, PersonIn, VehicleIn

Settings = dict[str, Any]  # the demo data file, as read

# ISO 3779: letters I, O and Q never appear in a VIN; position 10 is the model year.
_VIN_CHARACTERS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_VIN_YEARS = "ABCDEFGHJKLMNPRSTVWXY"  # 2010 to 2030; 2001-2009 are the digits 1-9
_PLATE_LETTERS = "ABCDEFGHJKLMNPRSTUVWXYZ"
_MONTHS = ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre")  # fmt: skip
_FIREARM_NOUNS = {"pistol": "una pistola", "revolver": "un revólver", "rifle": "un fusil",
                  "shotgun": "una escopeta"}  # fmt: skip
# How injuries were caused, after "lesiones" or "heridas".
INJURIES = {
    "firearm": "producidas por arma de fuego",
    "sharp_object": "producidas por arma blanca",
    "blunt_object": "causadas con un objeto contundente",
    "hands_feet": "causadas a golpes",
    "fire": "causadas por fuego",
}
_ARMED = {
    "firearm": "con arma de fuego",
    "sharp_object": "con arma blanca",
    "blunt_object": "con un objeto contundente",
}
_PLACES = {
    "street": "sobre {street}, en {barrio}",
    "public_transport": "a bordo de una unidad de transporte público, sobre {street}, en {town}",
    "commercial": "en un establecimiento comercial de {barrio}",
    "dwelling": "en un domicilio de {barrio}",
    "educational": "cerca de una escuela de {barrio}",
    "health": "en un centro de salud de {barrio}",
    "government": "en una oficina pública de {barrio}",
    "rural": "en un predio rural de {town}",
    "cyberspace": "por teléfono y redes sociales",
}


def pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    """Return one of the keys of ``weights``, as likely as its weight."""
    return rng.choices(list(weights), list(weights.values()))[0]


def generator(*key: object) -> random.Random:
    """Return a random generator seeded with ``key``: the same key, the same draws, in any
    run (a string seed does not depend on ``PYTHONHASHSEED``)."""
    return random.Random(":".join(map(str, key)))  # noqa: S311 - made-up data, no secret


@dataclass(frozen=True)
class Place:
    """An area incidents happen in; ``chain`` holds its country, its state and itself."""

    code: str
    name: str
    country: str
    chain: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    given: str
    surnames: tuple[str, ...]
    sex: str
    born: dt.date
    nationality: str


def person(
    rng: random.Random,
    settings: Settings,
    country: str,
    sex: str,
    age: int,
    on: dt.date | None = None,
) -> Person:
    """Return someone of ``country`` aged ``age`` on ``on`` (the reference date if none)."""
    names, key = settings["names"], f"{sex}_given"
    given = rng.choice(names[key] + names[country][key])
    surnames = tuple(rng.sample(names["surnames"] + names[country]["surnames"], 2))
    day = on or settings["reference_date"].date()
    born = day - dt.timedelta(days=round(365.25 * age) + rng.randrange(1, 365))
    nationalities = settings["countries"][country]["nationality"]
    nationality = rng.choices(list(nationalities), list(nationalities.values()))[0]
    return Person(given, surnames, sex, born, nationality)


def age(born: dt.date, day: dt.date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def variant(rng: random.Random, someone: Person, settings: Settings) -> tuple[str, str]:
    """Return given names and surnames as a police record might spell them: often as
    they are, else without accents, in capitals, with the surnames swapped or one of them
    only, with a spelling that sounds the same, with a typo, or one given name only."""
    given, surnames = someone.given, list(someone.surnames)
    how = rng.choice(["as_is"] * 4 + ["plain", "capitals", "swapped", "one_surname",
                                      "spelling", "typo", "short_given"])  # fmt: skip
    if how == "as_is":
        return given, " ".join(surnames)
    if how == "capitals":
        return given.upper(), " ".join(surnames).upper()
    if how == "swapped":
        return given, " ".join(reversed(surnames))
    if how == "one_surname":
        return given, surnames[0]
    if how == "short_given" and " " in given:
        return given.split(" ")[0], " ".join(surnames)
    if how == "spelling":
        spelt = _respelt(given, surnames, settings["variants"]["spelling"])
        if spelt:
            return spelt
    if how == "typo":
        index = max(range(len(surnames)), key=lambda i: len(surnames[i]))
        if len(surnames[index]) >= 5:
            surnames[index] = _typo(rng, surnames[index])
            return given, " ".join(surnames)
    return _plain(given), _plain(" ".join(surnames))


def _respelt(given: str, surnames: list[str], pairs: list[list[str]]) -> tuple[str, str] | None:
    other = {a: b for a, b in pairs} | {b: a for a, b in pairs}
    words = given.split(" ") + surnames
    for index, word in enumerate(words):
        if word in other:
            words[index] = other[word]
            cut = len(given.split(" "))
            return " ".join(words[:cut]), " ".join(words[cut:])
    return None


def _typo(rng: random.Random, word: str) -> str:
    i = rng.randrange(1, len(word) - 2)
    how = rng.choice(["swap", "drop", "double"])
    if how == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "drop":
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _plain(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c))


def category(kind: str) -> str:
    """Return what a thing of the data file's ``kind`` is recorded as."""
    return "vehicle" if kind in ("car", "motorcycle") else kind


def make(
    rng: random.Random, settings: Settings, kind: str, place: Place
) -> VehicleIn | FirearmIn | DocumentIn:
    """Return a new thing of ``kind`` (car, motorcycle, firearm, document), status stolen."""
    if kind == "firearm":
        return _firearm(rng, settings, place.country)
    if kind == "document":
        return _document(rng, place.country)
    return _vehicle(rng, settings, kind, place)


def _vehicle(rng: random.Random, settings: Settings, kind: str, place: Place) -> VehicleIn:
    catalogue = settings["vehicles"][place.country]
    moto = kind == "motorcycle"
    maker, model, wmi, _ = rng.choice([v for v in catalogue if (v[3] == "motorcycle") == moto])
    year = rng.randint(2015 if moto else 2008, 2025)
    vin = _vin(rng, wmi, year) if wmi and rng.random() < 0.8 else None
    return VehicleIn(
        status="stolen",
        vin=vin,
        plate=_plate(rng, place.country, moto),
        plate_area=place.chain[1] if place.country == "MX" else place.country,
        make=maker,
        model=model,
        colour=rng.choice(settings["vehicles"]["colours"]),
        year=year,
    )


def _vin(rng: random.Random, wmi: str, year: int) -> str:
    """Return a VIN of maker ``wmi`` and model ``year`` whose check digit is right."""
    year_code = _VIN_YEARS[year - 2010] if year >= 2010 else str(year - 2000)
    descriptor = "".join(rng.choices(_VIN_CHARACTERS, k=5))
    serial = f"{rng.choice(_VIN_CHARACTERS)}{rng.randrange(10**6):06d}"
    vin = f"{wmi}{descriptor}0{year_code}{serial}"
    return vin[:8] + vin_check_digit(vin) + vin[9:]


def _plate(rng: random.Random, country: str, moto: bool) -> str:
    letters = "".join(rng.choices(_PLATE_LETTERS, k=3))
    if country == "CO":
        tail = f"{rng.randrange(100):02d}{rng.choice(_PLATE_LETTERS)}" if moto else ""
        return letters + (tail or f"{rng.randrange(1000):03d}")
    return f"{letters}-{rng.randrange(1000):03d}-{rng.choice(_PLATE_LETTERS)}"


def _firearm(rng: random.Random, settings: Settings, country: str) -> FirearmIn:
    maker, model, calibre, type_ = rng.choice(settings["firearms"][country])
    serial = None
    if maker:
        pattern = rng.choice(["LLL999", "LL999999", "9999999", "L9999999"])
        serial = "".join(
            rng.choice(_PLATE_LETTERS) if c == "L" else str(rng.randrange(10)) for c in pattern
        )
    return FirearmIn(
        status="stolen", serial=serial, make=maker, model=model, calibre=calibre, type=type_
    )


def _document(rng: random.Random, country: str) -> DocumentIn:
    def digits(n: int) -> str:
        return "".join(str(rng.randrange(10)) for _ in range(n))

    if country == "CO" and rng.random() < 0.08:  # a Venezuelan's cédula
        return DocumentIn(status="stolen", type="national_id", number=f"V-{digits(8)}",
                          issuing_country="VE")  # fmt: skip
    kind = rng.choices(["national_id", "driving_licence", "passport"], [7, 2, 1])[0]
    if country == "MX":
        # A voter card's elector key: letters of the name, birth date, state, sex, digits.
        letters = "".join(rng.choices(_PLATE_LETTERS, k=6))
        born = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
        numbers = {
            "national_id": f"{letters}{born}{rng.randint(1, 32):02d}{rng.choice('HM')}{digits(3)}",
            "driving_licence": f"{rng.choice(_PLATE_LETTERS)}{digits(8)}",
            "passport": f"G{digits(8)}",
        }
    else:
        cedula = rng.choice([f"10{digits(8)}", f"{rng.randint(1, 9)}{digits(7)}"])
        if rng.random() < 0.3:  # written with thousands separators
            cedula = f"{int(cedula):,}".replace(",", ".")
        passport = f"{''.join(rng.choices(_PLATE_LETTERS, k=2))}{digits(6)}"
        numbers = {"national_id": cedula, "driving_licence": cedula, "passport": passport}
    return DocumentIn(status="stolen", type=kind, number=numbers[kind], issuing_country=country)


def when(moment: dt.datetime, precision: str) -> str:
    """Return "el 14 de marzo de 2025 alrededor de las 22:30", as precise as known."""
    month = f"{_MONTHS[moment.month - 1]} de {moment.year}"
    if precision == "month":
        return f"en {month}"
    if precision == "day":
        return f"el {moment.day} de {month}"
    return f"el {moment.day} de {month} alrededor de las {moment:%H:%M}"


def where(place_type: str, street: str, barrio: str, town: str) -> str:
    return _PLACES.get(place_type, "en {town}").format(street=street, barrio=barrio, town=town)


def described(someone: PersonIn) -> str:
    """Return "una mujer de 27 años", "un adolescente de 16 años"..."""
    if someone.age is None or someone.sex == "unknown":
        return "una persona"
    female = someone.sex == "female"
    if someone.age < 12:
        noun = "una niña" if female else "un niño"
    elif someone.age < 18:
        noun = "una adolescente" if female else "un adolescente"
    else:
        noun = "una mujer" if female else "un hombre"
    return f"{noun} de {someone.age} años"


def perpetrators(suspects: list[PersonIn], weapon: str) -> str:
    """Return "dos sujetos armados con arma de fuego", "una mujer"..."""
    count = len(suspects)
    if count == 1:
        noun, armed = (
            ("una mujer", "armada") if suspects[0].sex == "female" else ("un sujeto", "armado")
        )
    else:
        noun, armed = f"{['dos', 'tres'][min(count, 3) - 2]} sujetos", "armados"
    return f"{noun} {armed} {_ARMED[weapon]}" if weapon in _ARMED else noun


def arrest(suspects: list[PersonIn], country: str) -> str:
    """Return the narrative's last sentence: who was arrested, or who is suspected."""
    named = [p for p in suspects if p.surnames]
    arrested = [p for p in named if p.role == "arrested"]
    if arrested:
        first = arrested[0]
        others = {1: "", 2: " y a otra persona"}.get(len(arrested), " y a otras dos personas")
        authority = "del Ministerio Público" if country == "MX" else "de la Fiscalía"
        return (
            f" Se detuvo a {first.given_names} {first.surnames}, de {first.age} años,{others}"
            f" y se puso a disposición {authority}."
        )
    if named:
        name = f"{named[0].given_names} {named[0].surnames}"
        return f" Se identificó como probable responsable a {name}."
    return ""


def vehicle_text(vehicle: VehicleIn, settings: Settings) -> str:
    motorcycles = {
        (v[0], v[1]) for c in ("MX", "CO") for v in settings["vehicles"][c] if v[3] == "motorcycle"
    }
    noun = "una motocicleta" if (vehicle.make, vehicle.model) in motorcycles else "un vehículo"
    return f"{noun} {vehicle.make} {vehicle.model} color {vehicle.colour} de placas {vehicle.plate}"


def firearm_text(firearm: FirearmIn) -> str:
    if not firearm.make:
        return "un arma de fabricación artesanal"
    noun = _FIREARM_NOUNS.get(firearm.type or "", "un arma")
    text = f"{noun} {firearm.make} {firearm.model} calibre {firearm.calibre}"
    return text if firearm.serial else f"{text} con el número de serie limado"


class Story:
    """The narrative of an incident, told from one of the data file's templates as the
    incident's parts are drawn."""

    def __init__(
        self,
        rng: random.Random,
        settings: Settings,
        place: Place,
        places: Mapping[str, float],
        templates: list[str],
        when: str,
        weapon: str,
    ) -> None:
        self.rng, self.settings, self.country, self.weapon = rng, settings, place.country, weapon
        self.place_type = pick(rng, places)
        self.template = rng.choice(templates)
        street = rng.choice(settings["countries"][place.country]["streets"])
        barrio = (
            f"{rng.choice(settings['countries'][place.country]['neighbourhoods'])} de {place.name}"
        )
        self.arrested = False
        self.words: dict[str, str] = {
            "cuando": when,
            "lugar": where(self.place_type, street, barrio, place.name),
            "barrio": barrio,
            "calle": street,
            "arma": INJURIES.get(weapon, "de consideración"),
            "vehiculo": "un vehículo",
            "arma_de_fuego": "un arma de fuego",
            "victima": "una persona",
            "desaparecida": "una persona",
            "autores": "personas desconocidas",
            "agresor": "su pareja",
            "detencion": "",
        }

    def tell_persons(self, persons: list[PersonIn]) -> None:
        words = self.words
        victims = [p for p in persons if p.role == "victim"]
        missing = [p for p in persons if p.role == "missing"]
        suspects = [p for p in persons if p.role in ("suspect", "arrested")]
        self.arrested = any(p.role == "arrested" for p in suspects)
        if victims:
            words["victima"] = described(victims[0])
            if victims[0].relationship == "family_member":
                words["agresor"] = "un familiar"
        if missing:
            first = missing[0]
            words["desaparecida"] = f"{first.given_names} {first.surnames}, de {first.age} años,"
        if suspects:
            words["autores"] = perpetrators(suspects, self.weapon)
        words["detencion"] = arrest(suspects, self.country)

    def tell_things(self, vehicles: list[VehicleIn], firearms: list[FirearmIn]) -> None:
        if vehicles:
            self.words["vehiculo"] = vehicle_text(vehicles[0], self.settings)
        if firearms:
            self.words["arma_de_fuego"] = firearm_text(firearms[0])

    def narrative(self) -> str:
        capitalised = {k.capitalize(): v[:1].upper() + v[1:] for k, v in self.words.items()}
        # "de el barrio" contracts; "de El Salto", a name, does not.
        return self.template.format_map(self.words | capitalised).replace(" de el ", " del ")

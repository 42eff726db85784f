"""Generate ``src/atalaya/geo/data/areas.csv``: countries and first-level subdivisions.

The file lists the 35 OAS member states (ISO 3166-1 alpha-2, level ``country``) and every
first-level ISO 3166-2 subdivision of each of them (level ``subdivision``, i.e. the ones whose
``parent_code`` is None in pycountry; e.g. the Dominican Republic contributes its 10 regions,
not its provinces, which ISO nests under the regions).

Names come from pycountry, which ships the Debian ``iso-codes`` databases and their gettext
catalogues:

* ``name``: the ISO name (pycountry ``name``), which is also used for ``name_en``;
* ``name_es``, ``name_pt``, ``name_fr``: the iso-codes translation (domains ``iso3166-1`` and
  ``iso3166-2``). A name the catalogue does not contain is left empty, never guessed; a few
  catalogue entries known to be wrong are dropped (see ``REJECTED_TRANSLATIONS``).

``national_codes`` holds ``SCHEME:VALUE`` pairs separated by ``;``: the INEGI state codes of
Mexico, the DANE department codes of Colombia and the INDEC province codes of Argentina, kept
below as literal mappings with their sources.

pycountry is not a runtime dependency of Atalaya; install it wherever this script runs::

    python -m pip install pycountry
    python scripts/build_areas.py > src/atalaya/geo/data/areas.csv

The output is UTF-8 CSV with ``\\n`` line ends, preceded by ``# `` comment lines naming the
sources, the pycountry version and the generation date.
"""

from __future__ import annotations

import csv
import datetime as dt
import gettext
import importlib.metadata
import io
import sys
from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

import pycountry

COLUMNS = (
    "code",
    "level",
    "parent",
    "name",
    "name_en",
    "name_es",
    "name_pt",
    "name_fr",
    "national_codes",
)

#: Catalogue languages, in column order (English is the ISO name itself).
LANGUAGES = ("es", "pt", "fr")

#: The 35 member states of the Organization of American States, ISO 3166-1 alpha-2.
OAS_MEMBER_STATES = (
    "AG", "AR", "BS", "BB", "BZ", "BO", "BR", "CA", "CL", "CO", "CR", "CU",
    "DM", "DO", "EC", "SV", "GD", "GT", "GY", "HT", "HN", "JM", "MX", "NI",
    "PA", "PY", "PE", "KN", "LC", "VC", "SR", "TT", "US", "UY", "VE",
)  # fmt: skip

# Mexico: INEGI "claves de entidad federativa" (Marco Geoestadístico, Catálogo Único de Claves
# de Áreas Geoestadísticas). Cross-checked against the state codes used by SESNSP (incidencia
# delictiva del fuero común) and CONAPO (proyecciones de población), which use INEGI's keys.
INEGI_STATES: dict[str, str] = {
    "MX-AGU": "01",  # Aguascalientes
    "MX-BCN": "02",  # Baja California
    "MX-BCS": "03",  # Baja California Sur
    "MX-CAM": "04",  # Campeche
    "MX-COA": "05",  # Coahuila de Zaragoza
    "MX-COL": "06",  # Colima
    "MX-CHP": "07",  # Chiapas
    "MX-CHH": "08",  # Chihuahua
    "MX-CMX": "09",  # Ciudad de México
    "MX-DUR": "10",  # Durango
    "MX-GUA": "11",  # Guanajuato
    "MX-GRO": "12",  # Guerrero
    "MX-HID": "13",  # Hidalgo
    "MX-JAL": "14",  # Jalisco
    "MX-MEX": "15",  # México
    "MX-MIC": "16",  # Michoacán de Ocampo
    "MX-MOR": "17",  # Morelos
    "MX-NAY": "18",  # Nayarit
    "MX-NLE": "19",  # Nuevo León
    "MX-OAX": "20",  # Oaxaca
    "MX-PUE": "21",  # Puebla
    "MX-QUE": "22",  # Querétaro
    "MX-ROO": "23",  # Quintana Roo
    "MX-SLP": "24",  # San Luis Potosí
    "MX-SIN": "25",  # Sinaloa
    "MX-SON": "26",  # Sonora
    "MX-TAB": "27",  # Tabasco
    "MX-TAM": "28",  # Tamaulipas
    "MX-TLA": "29",  # Tlaxcala
    "MX-VER": "30",  # Veracruz de Ignacio de la Llave
    "MX-YUC": "31",  # Yucatán
    "MX-ZAC": "32",  # Zacatecas
}

# Colombia: DANE DIVIPOLA department codes. Cross-checked against DANE's municipal population
# tables and the Policía Nacional (DIJIN) homicide files, whose DANE codes start with them.
DANE_DEPARTMENTS: dict[str, str] = {
    "CO-ANT": "05",  # Antioquia
    "CO-ATL": "08",  # Atlántico
    "CO-DC": "11",  # Bogotá, D.C.
    "CO-BOL": "13",  # Bolívar
    "CO-BOY": "15",  # Boyacá
    "CO-CAL": "17",  # Caldas
    "CO-CAQ": "18",  # Caquetá
    "CO-CAU": "19",  # Cauca
    "CO-CES": "20",  # Cesar
    "CO-COR": "23",  # Córdoba
    "CO-CUN": "25",  # Cundinamarca
    "CO-CHO": "27",  # Chocó
    "CO-HUI": "41",  # Huila
    "CO-LAG": "44",  # La Guajira
    "CO-MAG": "47",  # Magdalena
    "CO-MET": "50",  # Meta
    "CO-NAR": "52",  # Nariño
    "CO-NSA": "54",  # Norte de Santander
    "CO-QUI": "63",  # Quindío
    "CO-RIS": "66",  # Risaralda
    "CO-SAN": "68",  # Santander
    "CO-SUC": "70",  # Sucre
    "CO-TOL": "73",  # Tolima
    "CO-VAC": "76",  # Valle del Cauca
    "CO-ARA": "81",  # Arauca
    "CO-CAS": "85",  # Casanare
    "CO-PUT": "86",  # Putumayo
    "CO-SAP": "88",  # Archipiélago de San Andrés, Providencia y Santa Catalina
    "CO-AMA": "91",  # Amazonas
    "CO-GUA": "94",  # Guainía
    "CO-GUV": "95",  # Guaviare
    "CO-VAU": "97",  # Vaupés
    "CO-VID": "99",  # Vichada
}

# Argentina: INDEC province codes (Códigos geográficos, as used by the censuses). Cross-checked
# against the provincia_id column of the Ministerio de Seguridad's SNIC statistics by province.
INDEC_PROVINCES: dict[str, str] = {
    "AR-C": "02",  # Ciudad Autónoma de Buenos Aires
    "AR-B": "06",  # Buenos Aires
    "AR-K": "10",  # Catamarca
    "AR-X": "14",  # Córdoba
    "AR-W": "18",  # Corrientes
    "AR-H": "22",  # Chaco
    "AR-U": "26",  # Chubut
    "AR-E": "30",  # Entre Ríos
    "AR-P": "34",  # Formosa
    "AR-Y": "38",  # Jujuy
    "AR-L": "42",  # La Pampa
    "AR-F": "46",  # La Rioja
    "AR-M": "50",  # Mendoza
    "AR-N": "54",  # Misiones
    "AR-Q": "58",  # Neuquén
    "AR-R": "62",  # Río Negro
    "AR-A": "66",  # Salta
    "AR-J": "70",  # San Juan
    "AR-D": "74",  # San Luis
    "AR-Z": "78",  # Santa Cruz
    "AR-S": "82",  # Santa Fe
    "AR-G": "86",  # Santiago del Estero
    "AR-T": "90",  # Tucumán
    "AR-V": "94",  # Tierra del Fuego, Antártida e Islas del Atlántico Sur
}

#: Scheme name -> (ISO 3166-2 code -> national code), with the number of codes each must hold.
NATIONAL_CODES: dict[str, tuple[dict[str, str], int]] = {
    "INEGI": (INEGI_STATES, 32),
    "DANE": (DANE_DEPARTMENTS, 33),
    "INDEC": (INDEC_PROVINCES, 24),
}

#: Catalogue entries that are wrong for the area they would name: (language, ISO code) -> the
#: bad string. Dropped only while the catalogue still returns exactly that string, so a fix in
#: iso-codes comes through. The iso3166-2 catalogue is keyed by name alone, which is how a
#: name shared with another place can pick up that place's translation.
REJECTED_TRANSLATIONS: dict[tuple[str, str], str] = {
    ("fr", "AG-10"): "Barbade",  # Barbuda, not Barbados (fr "Barbade")
    ("fr", "BR-SP"): "Sôo Paulo",  # typo for "São Paulo"
}


class _Missing(gettext.NullTranslations):
    """Fallback that answers "" for a message the catalogue does not contain."""

    def gettext(self, message: str) -> str:
        return ""


def _catalogue(domain: str, language: str) -> gettext.NullTranslations:
    translations = gettext.translation(domain, pycountry.LOCALES_DIR, languages=[language])
    translations.add_fallback(_Missing())
    return translations


def _natural_key(code: str) -> tuple[int, int, str]:
    suffix = code.split("-", 1)[1]
    return (0, int(suffix), "") if suffix.isdigit() else (1, 0, suffix)


def _national_codes(code: str) -> str:
    pairs = [
        f"{scheme}:{mapping[code]}"
        for scheme, (mapping, _count) in NATIONAL_CODES.items()
        if code in mapping
    ]
    return ";".join(pairs)


def _translations(
    catalogues: dict[str, gettext.NullTranslations], code: str, name: str
) -> list[str]:
    names = []
    for language in LANGUAGES:
        translated = catalogues[language].gettext(name)
        if REJECTED_TRANSLATIONS.get((language, code)) == translated:
            translated = ""
        names.append(translated)
    return names


def build_rows() -> Iterator[list[str]]:
    """Yield the data rows: each country followed by its first-level subdivisions."""
    countries = {language: _catalogue("iso3166-1", language) for language in LANGUAGES}
    subdivisions = {language: _catalogue("iso3166-2", language) for language in LANGUAGES}
    for alpha_2 in OAS_MEMBER_STATES:
        country = pycountry.countries.get(alpha_2=alpha_2)
        if country is None:
            raise SystemExit(f"{alpha_2} is not in ISO 3166-1")
        name = str(country.name)
        yield [
            alpha_2,
            "country",
            "",
            name,
            name,
            *_translations(countries, alpha_2, name),
            _national_codes(alpha_2),
        ]
        children = pycountry.subdivisions.get(country_code=alpha_2) or []
        top_level = [s for s in children if s.parent_code is None]
        for subdivision in sorted(top_level, key=lambda s: _natural_key(str(s.code))):
            code, name = str(subdivision.code), str(subdivision.name)
            yield [
                code,
                "subdivision",
                alpha_2,
                name,
                name,
                *_translations(subdivisions, code, name),
                _national_codes(code),
            ]


def check(rows: Sequence[list[str]]) -> None:
    """Fail loudly if the output would be inconsistent."""
    codes = [row[0] for row in rows]
    if len(codes) != len(set(codes)):
        raise SystemExit("duplicate area codes")
    countries = {row[0] for row in rows if row[1] == "country"}
    if len(countries) != len(OAS_MEMBER_STATES):
        raise SystemExit(f"expected {len(OAS_MEMBER_STATES)} countries, got {len(countries)}")
    for row in rows:
        if row[1] == "subdivision" and row[2] not in countries:
            raise SystemExit(f"{row[0]}: parent {row[2]} is not a country in the file")
    known = set(codes)
    for scheme, (mapping, count) in NATIONAL_CODES.items():
        if len(mapping) != count or len(set(mapping.values())) != count:
            raise SystemExit(f"{scheme}: expected {count} distinct codes")
        missing = sorted(set(mapping) - known)
        if missing:
            raise SystemExit(f"{scheme}: codes not in ISO 3166-2: {', '.join(missing)}")


def write(rows: Iterable[list[str]], out: TextIO | None = None) -> None:
    """Write the comment header, the CSV header and the rows to ``out`` (stdout by default)."""
    stream = out if out is not None else sys.stdout
    version = importlib.metadata.version("pycountry")
    today = dt.date.today().isoformat()
    stream.write(
        "# Source: ISO 3166-1 and ISO 3166-2 as published in Debian iso-codes via pycountry "
        f"{version}, generated {today} by scripts/build_areas.py\n"
        "# National codes: INEGI claves de entidad federativa (MX), DANE DIVIPOLA department "
        "codes (CO), INDEC province codes (AR); cross-checked against SESNSP and CONAPO (MX), "
        "DANE and Policía Nacional (CO) and SNIC (AR) publications\n"
        "# Translations: iso-codes gettext catalogues (es, pt, fr), empty where the catalogue "
        "has none; iso-codes data is LGPL-2.1-or-later\n"
    )
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(COLUMNS)
    writer.writerows(rows)


def main() -> None:
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8", newline="\n")
    rows = list(build_rows())
    check(rows)
    write(rows)


if __name__ == "__main__":
    main()

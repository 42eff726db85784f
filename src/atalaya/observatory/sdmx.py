"""Indicator values in SDMX: the data structure (an SDMX-ML 2.1 structure message,
``GET /api/v1/indicators/structure``) and data messages in SDMX-CSV 1.0 and SDMX-JSON
1.0 against it.

The dataflow is ``ATALAYA:DF_CRIME(1.0)``, structured by ``ATALAYA:DSD_CRIME(1.0)``:

- **dimensions**, in key order: ``REF_AREA`` (area codes), ``ICCS`` (ICCS codes; ``_X``
  where the value has no ICCS code, only national categories), ``INDICATOR``, ``SEX``,
  ``AGE``, ``WEAPON``, ``SOURCE_TYPE``, ``SOURCE`` (``publisher: dataset``, not coded),
  ``FREQ`` (``A``, ``Q``, ``M``), ``TIME_PERIOD`` (``2021``, ``2021-Q1``, ``2021-03``).
  ``WEAPON`` and ``SOURCE`` are there because the observatory breaks values down by
  weapon and never combines sources: without them two values could share a key;
- **measure** ``OBS_VALUE``; empty (null) when not available or confidential, never 0;
- **attributes**: ``OBS_STATUS`` (``A`` final, ``P`` provisional, ``E`` estimated, ``M``
  not available, ``C`` confidential), ``UNIT_MEASURE`` (``NUMBER`` for counts,
  ``PER_100K`` for rates), ``UNIT_MULT`` (``0``), ``VINTAGE`` (the source's edition),
  ``NATIONAL_CATEGORY`` (``scheme:code``, when the value is of one), and, on computed
  rates, ``POPULATION``, ``POPULATION_SOURCE`` and ``POPULATION_VINTAGE``.

A rate Atalaya computes is an observation of its own, with indicator
``<indicator>_per_100k`` (``offences_per_100k``); the publishers' own rates keep theirs
(``offences_per_100k_published``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from atalaya.cells import neutralise
from atalaya.classification import iccs
from atalaya.errors import DomainError
from atalaya.geo.models import Area
from atalaya.i18n import N_, translator
from atalaya.observatory.labels import LABELS, label, number
from atalaya.observatory.models import Status
from atalaya.observatory.query import IndicatorQuery, IndicatorValue, SourceRef
from atalaya.observatory.vocabulary import dimension_values, indicators
from atalaya.settings import LANGUAGES

AGENCY, VERSION = "ATALAYA", "1.0"
DATAFLOW_ID, DSD_ID, CONCEPTS_ID = "DF_CRIME", "DSD_CRIME", "CS_CRIME"
DATAFLOW = f"{AGENCY}:{DATAFLOW_ID}({VERSION})"
DIMENSIONS = ("REF_AREA", "ICCS", "INDICATOR", "SEX", "AGE", "WEAPON", "SOURCE_TYPE",
              "SOURCE", "FREQ", "TIME_PERIOD")  # fmt: skip
MEASURE = "OBS_VALUE"
ATTRIBUTES = ("OBS_STATUS", "UNIT_MEASURE", "UNIT_MULT", "VINTAGE", "NATIONAL_CATEGORY",
              "POPULATION", "POPULATION_SOURCE", "POPULATION_VINTAGE")  # fmt: skip
CSV_COLUMNS = ("DATAFLOW", *DIMENSIONS, MEASURE, *ATTRIBUTES)
# Where a value has no ICCS code (national categories without one): SDMX's "not allocated".
NO_ICCS = "_X"
NO_ICCS_NAME = N_("No ICCS code (national categories only)")
OBS_STATUS = {
    Status.FINAL: "A",
    Status.PROVISIONAL: "P",
    Status.ESTIMATED: "E",
    Status.NOT_AVAILABLE: "M",
    Status.CONFIDENTIAL: "C",
}
STATUS_OF = {code: status for status, code in OBS_STATUS.items()}
NUMBER, PER_100K = "NUMBER", "PER_100K"
RATE_SUFFIX = "_per_100k"
# The code lists of the coded dimensions and attributes.
CODELISTS = {
    "REF_AREA": "CL_AREA",
    "ICCS": "CL_ICCS",
    "INDICATOR": "CL_INDICATOR",
    "SEX": "CL_SEX",
    "AGE": "CL_AGE",
    "WEAPON": "CL_WEAPON",
    "SOURCE_TYPE": "CL_SOURCE_TYPE",
    "FREQ": "CL_FREQ",
    "OBS_STATUS": "CL_OBS_STATUS",
    "UNIT_MEASURE": "CL_UNIT_MEASURE",
    "UNIT_MULT": "CL_UNIT_MULT",
}
# Our field behind each dimension that is one of the breakdowns.
BREAKDOWN_OF = {"SEX": "sex", "AGE": "age_group", "WEAPON": "weapon"}
CONCEPT_NAMES = {
    "REF_AREA": "Reference area",
    "ICCS": "ICCS category",
    "INDICATOR": "Indicator",
    "SEX": "Sex",
    "AGE": "Age group",
    "WEAPON": "Weapon or mechanism",
    "SOURCE_TYPE": "Type of source",
    "SOURCE": "Source (publisher: dataset)",
    "FREQ": "Frequency",
    "TIME_PERIOD": "Time period",
    "OBS_VALUE": "Observation value",
    "OBS_STATUS": "Observation status",
    "UNIT_MEASURE": "Unit of measure",
    "UNIT_MULT": "Unit multiplier",
    "VINTAGE": "Vintage (edition date) of the source",
    "NATIONAL_CATEGORY": "National category (scheme:code)",
    "POPULATION": "Population the rate is computed on",
    "POPULATION_SOURCE": "Source of the population (publisher: dataset)",
    "POPULATION_VINTAGE": "Vintage of the population's source",
}
FIXED_CODES: dict[str, dict[str, str]] = {
    "FREQ": {"A": "Annual", "Q": "Quarterly", "M": "Monthly"},
    "OBS_STATUS": {"A": "Normal value", "P": "Provisional value", "E": "Estimated value",
                   "M": "Missing value", "C": "Confidential value"},
    "UNIT_MEASURE": {NUMBER: "Number", PER_100K: "Per 100,000 inhabitants"},
    "UNIT_MULT": {"0": "Units"},
}  # fmt: skip
MES = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/message"
STR = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/structure"
COM = "http://www.sdmx.org/resources/sdmxml/schemas/v2_1/common"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
for prefix, uri in (("mes", MES), ("str", STR), ("com", COM)):
    ET.register_namespace(prefix, uri)


def check_query(q: IndicatorQuery) -> None:
    """Raise ``OBS-130`` for a query SDMX cannot answer: broken down by national
    category, several rows would share a key (national categories are not a dimension)."""
    if "national_category" in q.by:
        raise DomainError("OBS-130", field="by")


def source_name(source: SourceRef) -> str:
    """Return how a source is named in exports: ``publisher: dataset``."""
    return f"{source.publisher}: {source.dataset}"


@dataclass(frozen=True)
class SdmxObservation:
    key: dict[str, str]
    value: float | int | None
    attributes: dict[str, str]


def observations(values: Iterable[IndicatorValue]) -> Iterator[SdmxObservation]:
    """Yield the SDMX observations of ``values``: each value, and its computed rate."""
    for v in values:
        key = _key(v, v.key.indicator)
        attributes = {
            "OBS_STATUS": OBS_STATUS[v.status],
            "UNIT_MEASURE": NUMBER if indicators()[v.key.indicator].additive else PER_100K,
            "UNIT_MULT": "0",
            "VINTAGE": v.key.source.vintage.isoformat(),
        }
        if v.key.national_code:
            scheme = v.key.national_scheme
            attributes["NATIONAL_CATEGORY"] = (
                f"{scheme}:{v.key.national_code}" if scheme else v.key.national_code
            )
        yield SdmxObservation(key, number(v.value), attributes)
        if v.rate_per_100k is not None and v.population is not None:
            rate = {**attributes, "UNIT_MEASURE": PER_100K}
            rate["POPULATION"] = str(v.population.value)
            rate["POPULATION_SOURCE"] = source_name(v.population.source)
            rate["POPULATION_VINTAGE"] = v.population.source.vintage.isoformat()
            yield SdmxObservation(_key(v, v.key.indicator + RATE_SUFFIX), v.rate_per_100k, rate)


def _key(v: IndicatorValue, indicator: str) -> dict[str, str]:
    key = v.key
    return {
        "REF_AREA": key.area,
        "ICCS": key.iccs or NO_ICCS,
        "INDICATOR": indicator,
        "SEX": key.sex,
        "AGE": key.age_group,
        "WEAPON": key.weapon,
        "SOURCE_TYPE": key.source.source_type,
        "SOURCE": source_name(key.source),
        "FREQ": key.period.frequency.value,
        "TIME_PERIOD": key.period.label,
    }


def write_csv(values: list[IndicatorValue]) -> bytes:
    """Return ``values`` as an SDMX-CSV 1.0 data message (UTF-8): ``DATAFLOW`` first,
    then the dimensions, ``OBS_VALUE`` and the attributes, one observation a row."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for o in observations(values):
        value = "" if o.value is None else o.value
        cells = [o.key[d] for d in DIMENSIONS] + [value]
        attributes = [o.attributes.get(a, "") for a in ATTRIBUTES]
        writer.writerow([neutralise(c) for c in (DATAFLOW, *cells, *attributes)])
    return out.getvalue().encode("utf-8")


def write_json(values: list[IndicatorValue], language: str) -> bytes:
    """Return ``values`` as an SDMX-JSON 1.0 data message, every dimension at the
    observation level, names in ``language``. The sources and vintages are listed in the
    structure's annotations (and each observation carries its own)."""
    found = list(observations(values))
    dimension_values: dict[str, list[str]] = {d: [] for d in DIMENSIONS}
    attribute_values: dict[str, list[str]] = {a: [] for a in ATTRIBUTES}
    observed: dict[str, list[Any]] = {}
    for o in found:
        index = [_index(dimension_values[d], o.key[d]) for d in DIMENSIONS]
        attrs = [
            _index(attribute_values[a], o.attributes[a]) if a in o.attributes else None
            for a in ATTRIBUTES
        ]
        observed[":".join(map(str, index))] = [o.value, *attrs]
    # An attribute with no value is left out of the structure; the observations' indices
    # must then skip it too (readers drop such attributes).
    kept = [i for i, a in enumerate(ATTRIBUTES) if attribute_values[a]]
    for key, cells in observed.items():
        observed[key] = [cells[0], *(cells[1 + i] for i in kept)]
    names = _Names(language)
    message = {
        "header": {
            "id": f"ATALAYA-{uuid.uuid4().hex[:12]}",
            "test": False,
            "prepared": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "sender": {"id": AGENCY, "name": "Atalaya"},
        },
        "dataSets": [{"action": "Information", "observations": observed}],
        "structure": {
            "name": "Atalaya: crime statistics",
            "links": [{"rel": "dataflow", "urn": _urn("datastructure.Dataflow", DATAFLOW_ID)}],
            "dimensions": {
                "dataSet": [],
                "series": [],
                "observation": [
                    {
                        "id": d,
                        "name": CONCEPT_NAMES[d],
                        "keyPosition": position,
                        **({"role": "time"} if d == "TIME_PERIOD" else {}),
                        "values": [{"id": v, "name": names.of(d, v)} for v in dimension_values[d]],
                    }
                    for position, d in enumerate(DIMENSIONS)
                ],
            },
            "attributes": {
                "dataSet": [],
                "series": [],
                "observation": [
                    _json_attribute(ATTRIBUTES[i], attribute_values[ATTRIBUTES[i]], names)
                    for i in kept
                ],
            },
            "annotations": [
                {
                    "type": "SOURCE",
                    "title": f"{role}: {source_name(s)}",
                    "text": s.vintage.isoformat(),
                }
                for role, s in sources(values)
            ],
        },
    }
    return json.dumps(message, ensure_ascii=False, indent=1).encode("utf-8")


def _index(seen: list[str], value: str) -> int:
    if value not in seen:
        seen.append(value)
    return seen.index(value)


def _json_attribute(attribute: str, values: list[str], names: _Names) -> dict[str, Any]:
    if attribute in CODELISTS:
        listed = [{"id": v, "name": names.of(attribute, v)} for v in values]
    else:
        listed = [{"name": v} for v in values]
    return {"id": attribute, "name": CONCEPT_NAMES[attribute], "values": listed}


def sources(values: Iterable[IndicatorValue]) -> list[tuple[str, SourceRef]]:
    """Return each source the values rest on, with its role (``observations`` or
    ``population``), in a stable order."""
    found: set[tuple[str, SourceRef]] = set()
    for v in values:
        found.add(("observations", v.key.source))
        if v.population is not None:
            found.add(("population", v.population.source))
    return sorted(found, key=lambda s: (s[0], s[1].publisher, s[1].dataset, s[1].vintage))


class _Names:
    """The names of the codes of the data messages, in one language."""

    def __init__(self, language: str) -> None:
        self.tr = translator(language)

    def of(self, component: str, code: str) -> str:
        if component == "ICCS":
            return iccs().name(code, self.tr.language) if code in iccs() else self._no_iccs(code)
        if component == "INDICATOR":
            return _indicator_name(code, self.tr.language)
        if component in FIXED_CODES:
            return FIXED_CODES[component].get(code, code)
        field = BREAKDOWN_OF.get(component, component.lower())
        return label(field, code, self.tr)

    def _no_iccs(self, code: str) -> str:
        return self.tr.gettext(NO_ICCS_NAME) if code == NO_ICCS else code


def _indicator_name(code: str, language: str) -> str:
    tr = translator(language)
    if code.endswith(RATE_SUFFIX) and code.removesuffix(RATE_SUFFIX) in indicators():
        count = label("indicator", code.removesuffix(RATE_SUFFIX), tr)
        return f"{count} / 100,000"
    return label("indicator", code, tr)


def indicator_codes() -> list[str]:
    """Return the codes of ``CL_INDICATOR``: our indicators and the rates computed of them."""
    found = list(indicators())
    return found + [code + RATE_SUFFIX for code, i in indicators().items() if i.per_capita]


def _urn(kind: str, id: str) -> str:
    return f"urn:sdmx:org.sdmx.infomodel.{kind}={AGENCY}:{id}({VERSION})"


def structure_message(session: Session) -> bytes:
    """Return the SDMX-ML 2.1 structure message of the dataflow: code lists (names in
    every language), concepts, the data structure and the dataflow."""
    root = ET.Element(f"{{{MES}}}Structure")
    header = ET.SubElement(root, f"{{{MES}}}Header")
    ET.SubElement(header, f"{{{MES}}}ID").text = "ATALAYA-DSD-CRIME"
    ET.SubElement(header, f"{{{MES}}}Test").text = "false"
    ET.SubElement(header, f"{{{MES}}}Prepared").text = dt.datetime.now(dt.UTC).isoformat(
        timespec="seconds"
    )
    ET.SubElement(header, f"{{{MES}}}Sender", id=AGENCY)
    structures = ET.SubElement(root, f"{{{MES}}}Structures")
    # In the order of the SDMX-ML schema.
    flows = ET.SubElement(structures, f"{{{STR}}}Dataflows")
    flow = _maintainable(flows, "Dataflow", DATAFLOW_ID, {"en": "Atalaya: crime statistics"})
    _ref(ET.SubElement(flow, f"{{{STR}}}Structure"), DSD_ID, "datastructure", "DataStructure")
    codelists = ET.SubElement(structures, f"{{{STR}}}Codelists")
    for component, codes in _codelists(session).items():
        _codelist(codelists, CODELISTS[component], component, codes)
    _concepts(ET.SubElement(structures, f"{{{STR}}}Concepts"))
    _data_structure(ET.SubElement(structures, f"{{{STR}}}DataStructures"))
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


def _codelists(session: Session) -> dict[str, dict[str, dict[str, str]]]:
    """Return, per coded component, each code with its name per language."""
    every = {lang: lang for lang in LANGUAGES}

    def named(component: str, codes: Iterable[str]) -> dict[str, dict[str, str]]:
        return {c: {lang: _Names(lang).of(component, c) for lang in every} for c in codes}

    areas = session.scalars(select(Area).order_by(Area.path))
    lists: dict[str, dict[str, dict[str, str]]] = {
        "REF_AREA": {a.code: {lang: a.name_in(lang) for lang in every} for a in areas},
        "ICCS": {
            **{c.code: {lang: iccs().name(c.code, lang) for lang in every} for c in iccs()},
            NO_ICCS: {lang: translator(lang).gettext(NO_ICCS_NAME) for lang in every},
        },
        "INDICATOR": named("INDICATOR", indicator_codes()),
        "SOURCE_TYPE": named("SOURCE_TYPE", LABELS["source_type"]),
    }
    for component, field in BREAKDOWN_OF.items():
        lists[component] = named(component, sorted(dimension_values(field)))
    for component in FIXED_CODES:
        lists[component] = {c: {"en": name} for c, name in FIXED_CODES[component].items()}
    return lists


def _maintainable(parent: ET.Element, tag: str, id: str, names: dict[str, str]) -> ET.Element:
    element = ET.SubElement(
        parent, f"{{{STR}}}{tag}", id=id, agencyID=AGENCY, version=VERSION, isFinal="false"
    )
    element.set("urn", _urn(_URN_KIND[tag], id))
    _names(element, names)
    return element


_URN_KIND = {
    "Codelist": "codelist.Codelist",
    "ConceptScheme": "conceptscheme.ConceptScheme",
    "DataStructure": "datastructure.DataStructure",
    "Dataflow": "datastructure.Dataflow",
}


def _ref(
    parent: ET.Element, id: str, package: str, kind: str, within: dict[str, str] | None = None
) -> None:
    """Add a reference (``Ref``, unqualified as in SDMX-ML) to one of our artefacts."""
    reference = {"id": id, "agencyID": AGENCY, "package": package, "class": kind}
    ET.SubElement(parent, "Ref", reference | (within or {"version": VERSION}))


def _names(element: ET.Element, names: dict[str, str]) -> None:
    for lang, text in names.items():
        ET.SubElement(element, f"{{{COM}}}Name", {XML_LANG: lang}).text = text


def _codelist(
    parent: ET.Element, id: str, component: str, codes: dict[str, dict[str, str]]
) -> None:
    codelist = _maintainable(parent, "Codelist", id, {"en": CONCEPT_NAMES[component]})
    for code, names in codes.items():
        _names(ET.SubElement(codelist, f"{{{STR}}}Code", id=code), names)


def _concepts(parent: ET.Element) -> None:
    scheme = _maintainable(parent, "ConceptScheme", CONCEPTS_ID, {"en": "Atalaya concepts"})
    for concept, name in CONCEPT_NAMES.items():
        _names(ET.SubElement(scheme, f"{{{STR}}}Concept", id=concept), {"en": name})


def _component(parent: ET.Element, tag: str, id: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{STR}}}{tag}", {"id": id} | attributes)
    identity = ET.SubElement(element, f"{{{STR}}}ConceptIdentity")
    concept = {"maintainableParentID": CONCEPTS_ID, "maintainableParentVersion": VERSION}
    _ref(identity, id, "conceptscheme", "Concept", concept)
    representation = ET.SubElement(element, f"{{{STR}}}LocalRepresentation")
    if id in CODELISTS:
        enumeration = ET.SubElement(representation, f"{{{STR}}}Enumeration")
        _ref(enumeration, CODELISTS[id], "codelist", "Codelist")
    else:
        text_type = "ObservationalTimePeriod" if id == "TIME_PERIOD" else "String"
        text_type = "Double" if id == MEASURE else text_type
        ET.SubElement(representation, f"{{{STR}}}TextFormat", textType=text_type)
    return element


def _data_structure(parent: ET.Element) -> None:
    dsd = _maintainable(parent, "DataStructure", DSD_ID, {"en": "Atalaya: crime statistics"})
    components = ET.SubElement(dsd, f"{{{STR}}}DataStructureComponents")
    dimensions = ET.SubElement(components, f"{{{STR}}}DimensionList", id="DimensionDescriptor")
    for position, d in enumerate(DIMENSIONS, start=1):
        tag = "TimeDimension" if d == "TIME_PERIOD" else "Dimension"
        _component(dimensions, tag, d, position=str(position))
    attributes = ET.SubElement(components, f"{{{STR}}}AttributeList", id="AttributeDescriptor")
    for a in ATTRIBUTES:
        status = "Mandatory" if a in ("OBS_STATUS", "UNIT_MEASURE", "UNIT_MULT") else "Conditional"
        attribute = _component(attributes, "Attribute", a, assignmentStatus=status)
        relation = ET.SubElement(attribute, f"{{{STR}}}AttributeRelationship")
        ET.SubElement(ET.SubElement(relation, f"{{{STR}}}PrimaryMeasure"), "Ref", id=MEASURE)
    measures = ET.SubElement(components, f"{{{STR}}}MeasureList", id="MeasureDescriptor")
    _component(measures, "PrimaryMeasure", MEASURE)

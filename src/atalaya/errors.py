"""Domain errors with stable codes, and the catalogue of those codes.

A code never changes meaning once shipped. Each code has an HTTP status and a message
(translated when shown). Raise ``DomainError`` (or ``Invalid`` for field errors) from
services; one handler turns it into problem+json, another into a CLI message.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from atalaya.i18n import N_, Translator

# code: (HTTP status, message). Documented in docs/errors.md (a test keeps them in step).
CODES: dict[str, tuple[int, str]] = {
    "API-101": (400, N_("The request body is not valid JSON.")),
    "API-102": (422, N_("This field is required.")),
    "API-103": (422, N_("This field is not allowed here.")),
    "API-104": (422, N_("This value has the wrong type or is not allowed.")),
    "API-105": (413, N_("The request body is too large.")),
    "API-106": (404, N_("Not found.")),
    "API-107": (405, N_("This method is not allowed here.")),
    "API-108": (400, N_("The page cursor is not valid.")),
    "API-109": (415, N_("Send the request body as application/json.")),
    "API-110": (422, N_("This value contains a character that is not allowed.")),
    "API-111": (
        503,
        N_(
            "This request took longer than the node allows. Ask for less (a shorter period, "
            "fewer areas) or try again later."
        ),
    ),
    "API-500": (500, N_("Something went wrong on our side. The error has been logged.")),
    "AUTH-101": (401, N_("Sign in or send a valid bearer token.")),
    "AUTH-102": (401, N_("Wrong username or password.")),
    "AUTH-103": (401, N_("Enter the code from your authenticator app.")),
    "AUTH-104": (401, N_("The authenticator code is wrong or has already been used.")),
    "AUTH-105": (429, N_("Too many failed sign-ins. Try again in {minutes} minutes.")),
    "AUTH-106": (401, N_("This token has expired.")),
    "AUTH-107": (401, N_("This token has been revoked.")),
    "AUTH-108": (401, N_("This token is not valid.")),
    "AUTH-109": (401, N_("Your session is not valid. Sign in again.")),
    "AUTH-110": (403, N_("The form has expired or was not sent from this site. Try again.")),
    "AUTH-111": (403, N_("Your role does not allow this.")),
    "AUTH-112": (403, N_("This is outside your jurisdiction.")),
    "AUTH-113": (403, N_("Set up your authenticator app before continuing.")),
    "AUTH-114": (403, N_("This account is disabled.")),
    "ACC-101": (422, N_("There is no agency with this code.")),
    "ACC-102": (422, N_("There is no area with this code.")),
    "ACC-103": (409, N_("An agency with this code already exists.")),
    "ACC-104": (422, N_("Unknown level. Use one of: {choices}.")),
    "ACC-105": (422, N_("Unknown role. Use one of: {choices}.")),
    "ACC-106": (409, N_("A user with this name already exists.")),
    "ACC-107": (422, N_("The password must have at least {min} characters.")),
    "ACC-108": (422, N_("The agency's area must lie within its parent agency's area.")),
    "ACC-109": (404, N_("There is no user with this name.")),
    "ACC-110": (422, N_("The expiry must be between 1 and {max} days.")),
    "ACC-111": (403, N_("You cannot create an agency ranked above your own ({level}).")),
    "ACC-112": (422, N_("An agency cannot rank above its parent agency ({level}).")),
    "ACC-113": (403, N_("You can only grant roles you hold yourself, not: {roles}.")),
    "ACC-114": (422, N_("This password is too easy to guess. {advice}")),
    "REC-101": (422, N_("This is required.")),
    "REC-102": (422, N_("This date is in the future.")),
    "REC-103": (422, N_("The end is before the start.")),
    "REC-104": (422, N_("Write the date as YYYY, YYYY-MM, YYYY-MM-DD or YYYY-MM-DDTHH:MM.")),
    "REC-105": (422, N_("There is no ICCS code {code}.")),
    "REC-106": (422, N_("ICCS code {code} is too broad: choose one of the codes under it.")),
    "REC-107": (422, N_("An offence of ICCS {code} cannot be attempted.")),
    "REC-108": (422, N_("Record an attempted intentional homicide as ICCS 0102, not 0101.")),
    "REC-109": (422, N_("The age must be between {min} and {max}.")),
    "REC-110": (422, N_("An incident of ICCS {code} needs at least one victim.")),
    "REC-111": (422, N_("This is not a valid vehicle identification number (VIN).")),
    "REC-112": (409, N_("Your agency already has an incident with this reference.")),
    "REC-113": (422, N_("This value is not one of those allowed here.")),
    "REC-114": (422, N_("The incident is reported before it happened.")),
    "REC-115": (422, N_("This national classification code is unknown.")),
    "REC-116": (422, N_("Give the ICCS code: this offence has no ICCS equivalent.")),
    "REC-117": (422, N_("The coordinates are not a place on Earth.")),
    "REC-118": (422, N_("There is no area with this code.")),
    "REC-119": (422, N_("Use the two-letter ISO 3166 country code.")),
    "REC-120": (422, N_("This date is before 1900.")),
    "GEO-101": (422, N_("This area file has a problem on line {line}: {problem}")),
    "AUD-101": (422, N_("The audit log is broken at entry {seq}: {problem}")),
    "BAK-101": (422, N_("The backup's checksum does not match its contents.")),
    "BAK-102": (422, N_("This backup was made from a {found} database, not {expected}.")),
    "BAK-103": (422, N_("This file is not an Atalaya backup.")),
    "BAK-104": (500, N_("The database tool failed: {problem}")),
    "BAK-105": (
        503,
        N_("The database failed its integrity check, so no backup was made: {problem}"),
    ),
    "DB-101": (
        503,
        N_("The database failed its integrity check: the node's log says what is wrong."),
    ),
    "OBS-101": (422, N_("Unknown import format. Use one of: {choices}.")),
    "OBS-102": (
        422,
        N_("The file is not in the {encoding} encoding this format uses (line {line})."),
    ),
    "OBS-103": (422, N_("This is not a {format} file: the column(s) {columns} are missing.")),
    "OBS-104": (422, N_("Line {line} repeats line {first}.")),
    "OBS-105": (422, N_("Line {line}: there is no area with {scheme} code {code}.")),
    "OBS-106": (422, N_("Line {line}: {column} is negative ({value}); a count cannot be.")),
    "OBS-107": (422, N_("Line {line}: {column} should be a whole number, not {value}.")),
    "OBS-108": (422, N_("Line {line}: {code} is not a category of the {scheme} crosswalk.")),
    "OBS-109": (422, N_("Line {line}: {value} is not allowed in {column}.")),
    "OBS-110": (422, N_("Nothing was imported: problems found in the file: {count}.")),
    "OBS-111": (422, N_("Line {line} has {found} fields; the header has {expected}.")),
    "OBS-112": (
        409,
        N_("Line {line}: this edition was imported with {old} for {period}; the file says {new}."),
    ),
    "OBS-113": (422, N_("Give the file's edition date with --vintage YYYY-MM-DD.")),
    "OBS-114": (422, N_("Write the period as YYYY, YYYY-Qn or YYYY-MM, not {value}.")),
    "OBS-115": (422, N_("There is no ICCS code {code}.")),
    "OBS-116": (422, N_("{value} is not allowed here. Use one of: {choices}.")),
    "OBS-117": (404, N_("There is no statistical source with id {id}.")),
    "OBS-118": (404, N_("There is no national plan {code}.")),
    "OBS-119": (409, N_("There is already a national plan {code}.")),
    "OBS-120": (422, N_("The year {end} must come after {start}.")),
    "OBS-121": (422, N_("{area} is not in the plan's country, {country}.")),
    "OBS-122": (422, N_("Give the target an ICCS code or a national category.")),
    "OBS-130": (
        422,
        N_(
            "SDMX exports are at ICCS level: they cannot be broken down by national "
            "category (CSV and XLSX can)."
        ),
    ),
    "OBS-131": (422, N_("Line {line}: the dataflow {dataflow} is not this node's ({expected}).")),
    "OBS-132": (
        422,
        N_("The file holds values of several sources ({sources}): import one source a file."),
    ),
    "OBS-133": (
        422,
        N_(
            "Line {line}: OBS_STATUS {status} does not go with the value {value}: missing "
            "and confidential values are empty, the others are not."
        ),
    ),
    "OBS-134": (422, N_("The file is the edition of {found}, not {given} as --vintage says.")),
    "FED-101": (400, N_("This is not a signed Atalaya envelope.")),
    "FED-102": (401, N_("The envelope's signature does not verify.")),
    "FED-103": (401, N_("The envelope is signed by a key of no known peer.")),
    "FED-104": (401, N_("The key that signed the envelope is no longer valid.")),
    "FED-105": (401, N_("The envelope's sender is not the node that signed it.")),
    "FED-106": (422, N_("The envelope is malformed: {problem}")),
    "FED-107": (422, N_("The envelope has expired.")),
    "FED-108": (422, N_("The envelope is dated in the future.")),
    "FED-109": (422, N_("The envelope is addressed to another node.")),
    "FED-110": (409, N_("This envelope has already been received.")),
    "FED-111": (422, N_("Unknown envelope type {type}.")),
    "FED-112": (403, N_("No agreement in force with this node allows {data_class}.")),
    "FED-113": (413, N_("The envelope is larger than {max} bytes.")),
    "FED-114": (429, N_("The agreement's daily quota of {limit} envelopes is used up.")),
    "FED-115": (422, N_("The envelope's confidential body cannot be decrypted.")),
    "FED-116": (422, N_("Envelopes of type {type} must have an encrypted body.")),
    "FED-117": (409, N_("This node already has an identity ({node_id}).")),
    "FED-118": (409, N_("This node has no identity yet: run atalaya node init.")),
    "FED-119": (
        500,
        N_("The key file {path} is missing, readable by other users, or not the node's key."),
    ),
    "FED-120": (422, N_("The peer's key fingerprint is {found}, not the {expected} you gave.")),
    "FED-121": (502, N_("The peer's description could not be fetched: {problem}")),
    "FED-122": (422, N_("The peer's description is not valid: {problem}")),
    "FED-123": (409, N_("Node {node_id} is already a peer.")),
    "FED-124": (404, N_("There is no peer {node_id}.")),
    "FED-125": (422, N_("Unknown data class {value}. Use one of: {choices}.")),
    "FED-126": (422, N_("Name either a peer or a group of peers.")),
    "FED-127": (404, N_("There is no agreement {reference}.")),
    "FED-128": (422, N_("The end of validity must come after its start and after now.")),
    "FED-129": (422, N_("The peer's new key is not signed by the key pinned for it.")),
    "FED-130": (404, N_("There is no group of peers {group}.")),
    "FED-131": (422, N_("Write the node id with 2 to 64 lowercase letters, digits and hyphens.")),
    "FED-150": (422, N_("Nothing usable as a {kind} is left in the value given.")),
    "FED-151": (422, N_("Unknown purpose {value}. Use one of: {choices}.")),
    "FED-152": (
        422,
        N_("Ask about a person by given names, surnames and a full date of birth (YYYY-MM-DD)."),
    ),
    "FED-153": (422, N_("Unknown type of query {value}. Use one of: {choices}.")),
    "FED-154": (
        409,
        N_(
            "This node and {peer} do not derive the same key for hit queries: refresh "
            "each other's keys (atalaya peers refresh)."
        ),
    ),
    "FED-155": (422, N_("The follow-up names no hit this node answered the peer.")),
    "FED-156": (404, N_("Your agency has no hit query {id}.")),
    "FED-157": (409, N_("Only a hit can be followed up, with a reference it gave.")),
    "FED-158": (403, N_("No peer has an agreement in force with this node allowing {data_class}.")),
    "FED-159": (502, N_("The peer's answer is not valid: {problem}")),
    "FED-160": (502, N_("The peer could not be reached: {problem}")),
    "FED-161": (410, N_("The references of this hit have expired: ask again to follow it up.")),
    "FED-162": (
        429,
        N_(
            "The daily quota of {limit} hit/no-hit queries is used up (the default: the "
            "agreement sets no quota of its own)."
        ),
    ),
    "FED-140": (
        403,
        N_("No agreement in force lets {data_class} go to this peer any more: not sent."),
    ),
    "FED-141": (422, N_("The envelope expired before it could be delivered.")),
    "FED-142": (502, N_("The peer refused the envelope: {code} {problem}")),
    "ALR-101": (422, N_("{value} is not allowed here; choose one of: {choices}.")),
    "ALR-102": (422, N_("This alert needs its {part}.")),
    "ALR-103": (422, N_("A wanted person notice needs the reference of its warrant.")),
    "ALR-104": (422, N_("The review date must come after today ({today}).")),
    "ALR-105": (
        422,
        N_("Give the {part} something to be recognised by: a name, number or serial."),
    ),
    "ALR-106": (422, N_("{value} cannot be read as this identifier.")),
    "ALR-107": (422, N_("A {type} alert has no {part}.")),
    "ALR-108": (403, N_("Only the node that issued this alert ({owner}) may change or cancel it.")),
    "ALR-109": (409, N_("This alert is cancelled: it can no longer be changed.")),
    "ALR-110": (
        409,
        N_("Only a deportation notice received from another node can be acknowledged."),
    ),
    "ALR-111": (422, N_("Write the date as YYYY, YYYY-MM or YYYY-MM-DD.")),
    "ALR-112": (422, N_("{value} is not the code of a known country.")),
    "ALR-113": (422, N_("An alert keeps its type ({type}): cancel it and issue another.")),
    "ALR-114": (
        409,
        N_("The alert has changed since you read it: it is now at version {version}."),
    ),
    "ALR-115": (422, N_("The alert received is not valid: {problem}")),
}


class Text(str):
    """A parameter of a message that is itself a message: translated along with it."""


@dataclass
class FieldError:
    field: str
    code: str
    params: dict[str, object] = dataclasses.field(default_factory=dict)


@dataclass
class DomainError(Exception):
    """An error a user can act on; ``code`` is a key of ``CODES``.

    ``concealed`` is the code of a refusal answered as this error instead (an object
    outside the caller's jurisdiction answers as not found): the caller sees ``code``,
    the audit log records the refusal.
    """

    code: str
    field: str | None = None
    params: dict[str, object] = dataclasses.field(default_factory=dict)
    errors: list[FieldError] = dataclasses.field(default_factory=list)
    concealed: str | None = None

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise KeyError(f"unknown error code {self.code}")
        super().__init__(self.code)

    @property
    def status(self) -> int:
        return CODES[self.code][0]

    @property
    def message(self) -> str:
        """The untranslated message; ``translate_message`` gives it in a language."""
        return CODES[self.code][1]


# How pydantic's error types map to our codes; anything else is a wrong type or value.
_PYDANTIC_CODES = {
    "json_invalid": "API-101",
    "missing": "API-102",
    "extra_forbidden": "API-103",
    "nul_character": "API-110",
}
_LOCATION_PREFIXES = ("body", "query", "path", "header")


def field_errors_from_pydantic(errors: Iterable[Mapping[str, Any]]) -> list[FieldError]:
    """Return our field errors for pydantic's (``ValidationError.errors()``)."""
    found = []
    for item in errors:
        loc = [str(p) for p in item.get("loc", ()) if p not in _LOCATION_PREFIXES]
        found.append(
            FieldError(
                ".".join(loc) or "body", _PYDANTIC_CODES.get(item.get("type", ""), "API-104")
            )
        )
    return found


def message_for(code: str, translator: Translator, params: dict[str, object] | None = None) -> str:
    """Return the message of ``code`` in the translator's language."""
    translated = {
        name: translator.gettext(value) if isinstance(value, Text) else value
        for name, value in (params or {}).items()
    }
    return translator.gettext(CODES[code][1], **translated)

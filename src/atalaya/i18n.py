"""Translations: English, Spanish, Portuguese and French, from Babel ``.po`` catalogs.

Catalogs live in ``web/locale/<lang>/LC_MESSAGES/messages.po`` and are read once per
process (a cache that is safe to lose). Strings are marked in Python with ``N_`` (for
later translation) and in templates with ``_()``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel import Locale
from babel.messages.pofile import read_po

from atalaya.settings import LANGUAGES, Language

LOCALE_DIR = Path(__file__).parent / "web" / "locale"
LANGUAGE_NAMES: dict[str, str] = {
    "en": "English",
    "es": "Español",
    "pt": "Português",
    "fr": "Français",
}


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, where the language is known."""
    return message


@dataclass(frozen=True)
class Translator:
    language: Language
    catalog: dict[str, str]
    plurals: dict[str, tuple[str, ...]]

    def gettext(self, message: str, **params: object) -> str:
        text = self.catalog.get(message) or message
        return text.format(**params) if params else text

    def ngettext(self, singular: str, plural: str, n: int, **params: object) -> str:
        one = Locale.parse(self.language).plural_form(n) == "one"
        forms = self.plurals.get(singular)
        text = (forms[0] if one else forms[-1]) if forms else (singular if one else plural)
        return text.format(n=n, **params)


@lru_cache(maxsize=len(LANGUAGES))
def translator(language: str) -> Translator:
    """Return the translator for ``language``; unknown languages get English."""
    lang: Language = next((code for code in LANGUAGES if code == language), "en")
    return Translator(lang, *_load_catalog(lang))


def _load_catalog(language: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]]]:
    """Return the translated singular messages and plural forms of ``language``."""
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    singular: dict[str, str] = {}
    plural: dict[str, tuple[str, ...]] = {}
    if not path.exists():
        return singular, plural
    with path.open("rb") as f:
        catalog = read_po(f, locale=language)
    for m in catalog:
        if not m.id or m.fuzzy:
            continue
        if isinstance(m.id, str):
            if m.string:
                singular[m.id] = str(m.string)
        elif isinstance(m.string, tuple | list) and all(m.string):
            plural[str(m.id[0])] = tuple(str(s) for s in m.string)
    return singular, plural


def negotiate(accept_language: str | None, default: str) -> Language:
    """Return the first supported language in an ``Accept-Language`` header, else ``default``."""
    choices: list[tuple[float, str]] = []
    for part in (accept_language or "").split(","):
        tag, _, q = part.strip().partition(";q=")
        try:
            weight = float(q) if q else 1.0
        except ValueError:
            continue
        choices.append((weight, tag.split("-")[0].lower()))
    for _, lang in sorted(choices, key=lambda c: -c[0]):
        for code in LANGUAGES:
            if code == lang:
                return code
    return next((code for code in LANGUAGES if code == default), "en")

"""Every string Atalaya shows is translated into Spanish, Portuguese and French."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from atalaya.i18n import LOCALE_DIR, translator

SRC = Path(__file__).resolve().parents[2] / "src" / "atalaya"
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]
KEYWORDS = {"N_": None, "_": None, "ngettext": (1, 2)}


def shipped_messages() -> set[str]:
    found = set()
    for _, _, message, _, _ in extract_from_dir(str(SRC), METHODS, keywords=KEYWORDS):
        found.add(message if isinstance(message, str) else message[0])
    return found


MESSAGES = shipped_messages()


@pytest.mark.parametrize("language", ["es", "pt", "fr"])
def test_every_shipped_string_is_translated(language: str) -> None:
    with (LOCALE_DIR / language / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalog = read_po(f, locale=language)
    translated = {
        (m.id if isinstance(m.id, str) else m.id[0])
        for m in catalog
        if m.id
        and not m.fuzzy
        and (all(m.string) if isinstance(m.string, tuple | list) else m.string)
    }
    assert len(MESSAGES) > 80
    assert sorted(MESSAGES - translated) == [], "run `make messages`, then translate"


@pytest.mark.parametrize("language", ["es", "pt", "fr"])
def test_translations_keep_their_placeholders(language: str) -> None:
    tr = translator(language)
    for message in MESSAGES:
        placeholders = set(re.findall(r"\{(\w+)\}", message))
        assert set(re.findall(r"\{(\w+)\}", tr.gettext(message))) == placeholders, message

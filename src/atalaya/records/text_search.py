"""Full-text search of incident narratives, on each engine's own index (migration 0003).

``narrative_matches(words)`` is a condition for a select of incidents: every word must
occur in the narrative. SQLite folds case and accents (FTS5, ``unicode61``); PostgreSQL
folds case (``simple`` configuration, no stemming, so every language is treated alike).
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import Boolean, bindparam
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import BindParameter, ColumnElement


class NarrativeMatch(ColumnElement[bool]):
    type = Boolean()
    inherit_cache = True

    def __init__(self, words: list[str]) -> None:
        self.words: BindParameter[str] = bindparam("narrative_words", " ".join(words), unique=True)
        # Each word quoted, so nothing the user types is taken as FTS5 syntax.
        self.fts_query: BindParameter[str] = bindparam(
            "narrative_fts", " ".join(f'"{w}"' for w in words), unique=True
        )


def search_words(text: str) -> list[str]:
    """Return the words of a search, without punctuation or operators."""
    return re.findall(r"\w+", text)


def narrative_matches(text: str) -> NarrativeMatch:
    return NarrativeMatch(search_words(text))


@compiles(NarrativeMatch, "sqlite")
def _sqlite(element: NarrativeMatch, compiler: Any, **kw: Any) -> str:
    query = compiler.process(element.fts_query, **kw)
    # ``query`` is a bind placeholder, never the user's text.
    match = f"SELECT rowid FROM incidents_fts WHERE incidents_fts MATCH {query}"  # noqa: S608
    return f"incidents.id IN ({match})"


@compiles(NarrativeMatch, "postgresql")
def _postgresql(element: NarrativeMatch, compiler: Any, **kw: Any) -> str:
    words = compiler.process(element.words, **kw)
    return f"to_tsvector('simple', incidents.narrative) @@ plainto_tsquery('simple', {words})"

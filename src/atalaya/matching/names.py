"""Latin-American personal names: normalised, keyed for retrieval, and compared.

People carry one or two given names and one or two surnames (father's, then mother's;
in Brazil, mother's then father's), with particles (de, del, de la, dos, da...), accents
that are often dropped, and spelling that varies (Yañez/Yanes, Jiménez/Giménez,
Vásquez/Vázquez). A name is reduced to its words without accents, case or particles;
each word also has a sound key, so that variants and most typos meet.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from itertools import combinations

from rapidfuzz import fuzz

PARTICLES = frozenset(
    {"de", "del", "la", "las", "los", "da", "das", "do", "dos", "y", "e", "van", "von"}
)
# Spanish and Portuguese spelling that sounds alike, rewritten one way (order matters).
_SOUNDS = [
    (r"^h", ""), (r"([^c])h", r"\1"), (r"ll", "y"), (r"qu", "k"), (r"c([eiy])", r"s\1"),
    (r"c", "k"), (r"z", "s"), (r"v", "b"), (r"g([eiy])", r"j\1"), (r"x", "j"),
    (r"ph", "f"), (r"w", "u"), (r"(.)\1+", r"\1"), (r"y$", "i"), (r"ss", "s"),
]  # fmt: skip


_SEPARATORS = re.compile(r"[^a-z]+")


def words(text: str) -> list[str]:
    """Return the words of a name: no accents, no case, no particles."""
    return list(_words(text))


@lru_cache(maxsize=65536)
def _words(text: str) -> tuple[str, ...]:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return tuple(w for w in _SEPARATORS.split(folded) if w and w not in PARTICLES)


@lru_cache(maxsize=65536)
def sound(word: str) -> str:
    """Return the sound key of a normalised word (``vazquez`` and ``vasques`` agree)."""
    for pattern, replacement in _SOUNDS:
        word = re.sub(pattern, replacement, word)
    return word


@dataclass(frozen=True)
class NameMatch:
    score: float  # 0 to 100
    reasons: list[str]


def compare(query_given: str, query_surnames: str, given: str, surnames: str) -> NameMatch:
    """Return how well a recorded name matches the one searched, and why.

    Surnames weigh more than given names; their order does not matter (either surname
    may come first, or only one be given); each word is matched to its best partner,
    exactly, by sound, or within a typo.
    """
    reasons: list[str] = []
    surname_score = _align(words(query_surnames), words(surnames), "surname", reasons)
    given_score = _align(words(query_given), words(given), "given name", reasons)
    if not words(query_given):
        return NameMatch(round(surname_score, 1), reasons)
    return NameMatch(round(0.6 * surname_score + 0.4 * given_score, 1), reasons)


def _align(query: list[str], recorded: list[str], part: str, reasons: list[str]) -> float:
    """Return the mean best score of each word of the shorter side among the other's.

    Aligning the shorter side lets one surname (or one given name) stand for two, on
    either side: "Juan Pérez" is "Juan Carlos Pérez López" as far as it goes.
    """
    if not query:
        return 100.0
    if not recorded:
        return 0.0
    if len(recorded) < len(query):
        query, recorded = recorded, query
    total = 0.0
    for word in query:
        best, how, partner = max(((*_pair(word, r), r) for r in recorded), key=lambda t: t[0])
        total += best
        reasons.append(f"{part} {word!r} {how} {partner!r}")
    return total / len(query)


def _pair(a: str, b: str) -> tuple[float, str]:
    if a == b:
        return 100.0, "equals"
    if sound(a) == sound(b):
        return 95.0, "sounds like"
    if b.startswith(a) or a.startswith(b):
        return 90.0 if min(len(a), len(b)) >= 4 else 60.0, "is short for"
    ratio = fuzz.ratio(a, b)
    return (ratio, "is close to") if ratio >= 75 else (ratio * 0.5, "differs from")


# A name longer than this many words is keyed on its first ones (a name field holds
# at most 200 characters; this bounds the pairs a hostile or garbled name can produce).
MAX_KEYED_WORDS = 8
MAX_KEY_LENGTH = 30
PAIR = "+"


def sounds(given: str, surnames: str) -> list[str]:
    """Return the distinct sound keys of a name's words, sorted."""
    found = {sound(w)[:MAX_KEY_LENGTH] for w in (words(given) + words(surnames))[:MAX_KEYED_WORDS]}
    return sorted(found)


def keys(given: str, surnames: str) -> set[str]:
    """Return the retrieval keys stored for a name.

    Each word's sound key, each pair of them (``garsia+lopes``) and each three
    (``garsia+jose+lopes``). Among millions of people, many share one name word, fewer
    two, and few three: a search looks candidates up by the longest combinations its
    name has, and by shorter ones only when those find too few (``query_stages``).
    """
    single = sounds(given, surnames)
    found = set(single)
    for size in (2, 3):
        found |= {PAIR.join(c) for c in combinations(single, size)}
    return found


def query_stages(given: str, surnames: str) -> list[set[str]]:
    """Return the keys to look a searched name up by, the most selective first: its
    threes (three words or more), then its pairs (two or more), or its one word."""
    single = sounds(given, surnames)
    if len(single) == 1:
        return [set(single)]
    stages = [{PAIR.join(c) for c in combinations(single, 2)}]
    if len(single) >= 3:
        stages.insert(0, {PAIR.join(c) for c in combinations(single, 3)})
    return stages

"""Which passwords are accepted: long enough, and hard enough to guess.

Strength is zxcvbn's estimate (PyPI ``zxcvbn``, a port of Dropbox's estimator): it
matches the password against the common-password lists it ships (among them the most
frequent passwords of public breaches), English words, names, keyboard patterns,
repeats, sequences and dates, with the user's own name, username and agency counted as
words an attacker would try first. A score of ``MIN_SCORE`` (3 of 4, "safely
unguessable: moderate protection from an offline slow-hash scenario") or more is
accepted.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Iterable
from typing import Any

from atalaya.errors import DomainError, Text
from atalaya.i18n import N_

MIN_LENGTH = 10
MIN_SCORE = 3
# zxcvbn's own limit: its matching grows faster than the length, and the first 72
# characters of a password tell enough of its strength.
MEASURED_LENGTH = 72

# zxcvbn keeps the words of the password being checked in a module-level dictionary:
# one check at a time, so that two requests' words do not mix.
_ZXCVBN_LOCK = threading.Lock()

# zxcvbn's advice (zxcvbn/feedback.py), marked here so that our catalogues translate it.
ADVICE = frozenset(
    {
        N_("Use a few words, avoid common phrases."),
        N_("No need for symbols, digits, or uppercase letters."),
        N_("Add another word or two. Uncommon words are better."),
        N_("Straight rows of keys are easy to guess."),
        N_("Short keyboard patterns are easy to guess."),
        N_("Use a longer keyboard pattern with more turns."),
        N_('Repeats like "aaa" are easy to guess.'),
        N_('Repeats like "abcabcabc" are only slightly harder to guess than "abc".'),
        N_("Avoid repeated words and characters."),
        N_('Sequences like "abc" or "6543" are easy to guess.'),
        N_("Avoid sequences."),
        N_("Recent years are easy to guess."),
        N_("Avoid recent years."),
        N_("Avoid years that are associated with you."),
        N_("Dates are often easy to guess."),
        N_("Avoid dates and years that are associated with you."),
        N_("This is a top-10 common password."),
        N_("This is a top-100 common password."),
        N_("This is a very common password."),
        N_("This is similar to a commonly used password."),
        N_("A word by itself is easy to guess."),
        N_("Names and surnames by themselves are easy to guess."),
        N_("Common names and surnames are easy to guess."),
        N_("Capitalization doesn't help very much."),
        N_("All-uppercase is almost as easy to guess as all-lowercase."),
        N_("Reversed words aren't much harder to guess."),
        N_("Predictable substitutions like '@' instead of 'a' don't help very much."),
    }
)


def check_password(password: str, user_inputs: Iterable[str]) -> None:
    """Return if ``password`` may be set for a user described by ``user_inputs`` (their
    username, name, agency...); raise otherwise.

    Raises ``ACC-107`` when it is shorter than ``MIN_LENGTH``, ``ACC-114`` (with
    zxcvbn's advice, translated) when it is too easy to guess.
    """
    if len(password) < MIN_LENGTH:
        raise DomainError("ACC-107", field="password", params={"min": MIN_LENGTH})
    estimate = _estimate(password[:MEASURED_LENGTH], _words(user_inputs))
    if estimate["score"] < MIN_SCORE:
        feedback = estimate["feedback"]
        advice = feedback["warning"] or next(iter(feedback["suggestions"]), "")
        raise DomainError("ACC-114", field="password", params={"advice": Text(advice)})


def _words(user_inputs: Iterable[str]) -> list[str]:
    """Return each input and each word in it, also without accents ("Alicia Hernández":
    also "Alicia", "Hernández" and "Hernandez")."""
    words = []
    for text in user_inputs:
        plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
        words += [text, plain, *re.split(r"[\W_]+", text), *re.split(r"[\W_]+", plain)]
    return sorted({w for w in words if len(w) > 1})


def _estimate(password: str, user_inputs: list[str]) -> dict[str, Any]:
    # Imported on first use: its word lists take a moment to load, which a server
    # starting up (or a command that sets no password) need not spend.
    from zxcvbn import zxcvbn

    with _ZXCVBN_LOCK:
        result: dict[str, Any] = zxcvbn(password, user_inputs=user_inputs)
    return result

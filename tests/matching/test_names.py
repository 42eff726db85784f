"""Latin-American names: particles, accents, surname order, variants and typos."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from atalaya.matching.names import compare, keys, sound, words


def test_words_lose_accents_case_and_particles() -> None:
    assert words("María de los Ángeles") == ["maria", "angeles"]
    assert words("João dos Santos") == ["joao", "santos"]
    assert words("Pérez-López") == ["perez", "lopez"]


@pytest.mark.parametrize("a,b", [("Vásquez", "Vázquez"), ("Jiménez", "Giménez"), ("Yáñez", "Yanes"),
                                 ("Hernández", "Ernandez"), ("Villalobos", "Billalobos")])  # fmt: skip
def test_spelling_variants_sound_alike(a: str, b: str) -> None:
    assert sound(words(a)[0]) == sound(words(b)[0])


@pytest.mark.parametrize(
    "query,recorded",
    [
        (("Juan Carlos", "Pérez López"), ("Juan Carlos", "López Pérez")),  # surnames swapped
        (("Juan", "Pérez"), ("Juan Carlos", "Pérez López")),  # one given name, one surname
        (("juan carlos", "PEREZ LOPEZ"), ("Juan Carlos", "Pérez López")),  # case and accents
        (("Jaun Carlos", "Peres Lopez"), ("Juan Carlos", "Pérez López")),  # typo and variant
        (("María", "de la Cruz"), ("María", "Cruz")),  # particle
    ],
)
def test_the_same_person_scores_high(query: tuple[str, str], recorded: tuple[str, str]) -> None:
    assert compare(*query, *recorded).score >= 85


@pytest.mark.parametrize(
    "query,recorded",
    [(("Ana", "Gómez"), ("Juan", "Pérez")), (("Juan", "Pérez"), ("Juan", "Gómez")),
     (("Luis", "Martínez"), ("Lucía", "Ramírez"))],
)  # fmt: skip
def test_different_people_score_low(query: tuple[str, str], recorded: tuple[str, str]) -> None:
    assert compare(*query, *recorded).score < 85


def test_each_score_says_why() -> None:
    reasons = compare("Jaun", "Peres", "Juan", "Pérez").reasons
    assert "surname 'peres' sounds like 'perez'" in reasons
    assert "given name 'jaun' is close to 'juan'" in reasons


@given(st.text(max_size=40), st.text(max_size=40))
def test_a_name_always_matches_itself_fully(given_names: str, surnames: str) -> None:
    if words(surnames):
        assert compare(given_names, surnames, given_names, surnames).score == 100
    normalised = " ".join(words(given_names)), " ".join(words(surnames))
    assert keys(given_names, surnames) == keys(*normalised)

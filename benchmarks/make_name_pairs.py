"""Generate the labelled name pairs of benchmarks/data/name-pairs.csv (fixed seed).

    python benchmarks/make_name_pairs.py > benchmarks/data/name-pairs.csv

How the set is made: people are drawn from lists of common given names and surnames of
Mexico, Central and South America and Brazil (written for this project). Each person is
paired with (a) a variant of their own name, labelled 1, made the ways police records
differ: surnames swapped, the second surname dropped, accents and case lost, a particle
added or dropped, a spelling variant that sounds alike, one typo, a compound given name
shortened; or (b) another person, labelled 0, made to be hard: a sibling (same surnames,
other given name), a namesake with other surnames, one surname in common, or anyone.
"""

from __future__ import annotations

import csv
import random
import sys
import unicodedata

GIVEN = """Juan Carlos, José Luis, María José, Ana María, Luis, Carlos, Jorge, Miguel Ángel,
Francisco, Javier, Alejandro, Ricardo, Fernando, Roberto, Eduardo, Manuel, Pedro, Raúl,
Sergio, Andrés, Diego, Héctor, Óscar, Víctor, Gabriel, Rafael, Arturo, Guillermo, Hugo,
Martín, María, Guadalupe, Rosa, Carmen, Patricia, Verónica, Claudia, Gabriela, Laura,
Mónica, Alejandra, Adriana, Silvia, Lucía, Sofía, Valentina, Camila, Isabel, Teresa,
Beatriz, Yolanda, Araceli, Jimena, Ximena, Gisela, Yesenia, Joaquín, Ignacio, Jesús,
João Pedro, Antônio, Luiz Carlos, Marcos, Thiago, Paulo, Rodrigo, Felipe, Gustavo,
Fernanda, Juliana, Letícia, Vanessa, Débora, Raimundo, Sebastián, Matías, Nicolás,
Emiliano, Santiago, Valeria, Daniela, Paola, Lorena, Marisol, Esperanza, Consuelo""".replace(
    "\n", " "
).split(", ")
SURNAMES = """Hernández, García, Martínez, López, González, Pérez, Rodríguez, Sánchez, Ramírez,
Cruz, Flores, Gómez, Morales, Vázquez, Jiménez, Reyes, Díaz, Torres, Gutiérrez, Ruiz,
Mendoza, Aguilar, Ortiz, Moreno, Castillo, Romero, Álvarez, Méndez, Chávez, Rivera,
Juárez, Ramos, Domínguez, Herrera, Medina, Castro, Vargas, Guzmán, Velázquez, Muñoz,
Rojas, Contreras, Salazar, Luna, Ortega, Guerrero, Estrada, Bautista, Villalobos,
Cervantes, Valenzuela, Zúñiga, Beltrán, Yáñez, Quiroga, Cabrera, Benítez, Valdez,
Silva, Santos, Oliveira, Souza, Lima, Pereira, Carvalho, Almeida, Ribeiro, Barbosa,
Acevedo, Ocampo, Villegas, Quintero, Bohórquez, Echeverría, Giraldo, Zapata, Londoño,
Cárdenas, Sepúlveda, Fuentes, Vera, Navarro, Acosta, Ibáñez, Gallardo, Paredes""".replace(
    "\n", " "
).split(", ")
PARTICLE_SURNAMES = [
    "de la Cruz",
    "de los Santos",
    "del Valle",
    "de León",
    "da Silva",
    "dos Santos",
    "de la Rosa",
    "del Río",
]
SOUNDALIKE = [
    ("v", "b"),
    ("b", "v"),
    ("z", "s"),
    ("s", "z"),
    ("ll", "y"),
    ("y", "ll"),
    ("j", "g"),
    ("h", ""),
    ("c", "s"),
]


def strip_accents(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def person(rng: random.Random) -> tuple[str, str]:
    surnames = [rng.choice(SURNAMES + PARTICLE_SURNAMES) for _ in range(2)]
    return rng.choice(GIVEN), " ".join(surnames)


def typo(word: str, rng: random.Random) -> str:
    if len(word) < 4:
        return word
    i = rng.randrange(1, len(word) - 1)
    kind = rng.choice(["swap", "drop", "double", "replace"])
    if kind == "swap":
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if kind == "drop":
        return word[:i] + word[i + 1 :]
    if kind == "double":
        return word[:i] + word[i] + word[i:]
    return word[:i] + rng.choice("aeiourstnl") + word[i + 1 :]


def variant(given: str, surnames: str, rng: random.Random) -> tuple[str, str, str]:
    parts = surnames.split(" ")
    kind = rng.choice(
        ["swap", "drop_second", "accents", "particle", "soundalike", "typo", "short_given", "mixed"]
    )
    if kind == "swap" and len(surnames.split()) >= 2:
        words = surnames.rsplit(" ", 1)
        return given, f"{words[1]} {words[0]}", kind
    if kind == "drop_second":
        first = (
            surnames.split(" ")[0]
            if not surnames.startswith(("de ", "da ", "dos ", "del "))
            else " ".join(parts[:2] if parts[1] not in ("la", "los") else parts[:3])
        )
        return given, first, kind
    if kind == "accents":
        return strip_accents(given).upper(), strip_accents(surnames).lower(), kind
    if kind == "particle":
        return (
            given,
            surnames.replace("de la ", "")
            .replace("de los ", "")
            .replace("del ", "")
            .replace("da ", "")
            .replace("dos ", "")
            .replace("de ", "")
            if any(p in surnames for p in ("de ", "da ", "dos ", "del "))
            else "de " + surnames,
            kind,
        )
    if kind == "soundalike":
        a, b = rng.choice(SOUNDALIKE)
        changed = strip_accents(surnames).lower().replace(a, b, 1)
        return (
            given,
            changed if changed != strip_accents(surnames).lower() else typo(surnames, rng),
            kind,
        )
    if kind == "typo":
        words = surnames.split(" ")
        j = rng.randrange(len(words))
        words[j] = typo(words[j], rng)
        return given, " ".join(words), kind
    if kind == "short_given" and " " in given:
        return given.split(" ")[0], surnames, kind
    return strip_accents(given), typo(strip_accents(surnames), rng), "mixed"


def other(given: str, surnames: str, rng: random.Random) -> tuple[str, str, str]:
    kind = rng.choice(["sibling", "namesake", "one_surname", "anyone"])
    if kind == "sibling":
        return rng.choice([g for g in GIVEN if g.split()[0] != given.split()[0]]), surnames, kind
    if kind == "namesake":
        return given, person(rng)[1], kind
    if kind == "one_surname":
        return (
            rng.choice([g for g in GIVEN if g != given]),
            surnames.split(" ")[0] + " " + rng.choice(SURNAMES),
            kind,
        )
    return *person(rng), kind


def main(pairs: int = 2400, seed: int = 20261129) -> None:
    rng = random.Random(seed)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow(["given_a", "surnames_a", "given_b", "surnames_b", "same_person", "kind"])
    for n in range(pairs):
        given, surnames = person(rng)
        if n % 2 == 0:
            g, s, kind = variant(given, surnames, rng)
            out.writerow([given, surnames, g, s, 1, kind])
        else:
            g, s, kind = other(given, surnames, rng)
            out.writerow([given, surnames, g, s, 0, kind])


if __name__ == "__main__":
    main()

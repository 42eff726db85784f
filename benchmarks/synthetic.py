"""Synthetic incidents and persons for the records benchmarks, deterministic by seed.

Names follow the shape of Mexican naming: one or two given names and two surnames,
drawn with Zipf-like weights (rank ** -0.5) that give the commonest surname, Hernández,
4.3% of surname slots, García 3.1%, Martínez 2.5%, López 2.2% and González 1.9%, close
to their shares in Mexico's population register (about 3.4%, 2.4%, 2.2%, 2.0%, 1.9%);
the commonest given name, José, comes first in 5% of people. A search for a common name
so meets about as many namesakes as it would in real data.

    python benchmarks/synthetic.py 1000 > incidents.jsonl   # writes jsonl records
"""

from __future__ import annotations

import json
import random
import sys
from collections.abc import Iterator
from typing import Any

SURNAMES = """Hernández García Martínez López González Pérez Rodríguez Sánchez Ramírez Cruz
Flores Gómez Morales Vázquez Reyes Jiménez Torres Díaz Gutiérrez Ruiz Mendoza Aguilar
Ortiz Moreno Castillo Romero Álvarez Méndez Chávez Rivera Juárez Ramos Domínguez Herrera
Medina Castro Vargas Guzmán Velázquez Muñoz Rojas Salazar Contreras De_la_Cruz Luna Ortega
Guerrero Estrada Bautista Cortés Soto Alvarado Delgado Sandoval Ríos Espinoza Núñez
Cervantes Valdez León Navarro Campos Mejía Vega Santiago Solís Carrillo Acosta Lara
Rosales Ibarra Peña Cabrera Molina Silva Fuentes Cárdenas Valencia Calderón Zamora
Villanueva Pacheco Orozco Escobar Aguirre Ayala Trejo Benítez Figueroa Montes Arellano
Miranda Osorio Beltrán Gallegos Padilla Galván Franco Marín Robles Tapia Barrera Esquivel
Rangel Maldonado Zúñiga Córdova Olvera Ávila Meza Pineda Villegas Quintero Del_Ángel
Serrano Nava Sosa Vera Hidalgo Bravo Paredes Cisneros Lozano Márquez Macías Rosas Santos
Arroyo Duarte Salas Bernal Palacios Ochoa Ponce Escamilla Trujillo Vázquez Mora Camacho
Montoya Rocha Quiroz Andrade Lugo Carmona Acevedo Salinas Tovar Valenzuela Zavala Zapata""".split()  # noqa: SIM905
SURNAMES = list(dict.fromkeys(s.replace("_", " ") for s in SURNAMES))
GIVEN = """José Juan Miguel Luis Jorge Carlos Francisco Antonio Jesús Alejandro Pedro
Manuel Ricardo Fernando Roberto Javier Daniel Eduardo Mario Sergio Rafael Arturo Raúl
Héctor Enrique Martín Alberto Víctor Óscar Hugo Guadalupe María Ana Rosa Patricia
Leticia Elizabeth Gabriela Margarita Alejandra Verónica Silvia Adriana Claudia Laura
Martha Teresa Carmen Juana Luz Lucía Sofía Valentina Camila Regina Ximena Fernanda Andrea
Diego Emiliano Santiago Mateo Sebastián Leonardo Iker Gael Ángel Omar Iván Rubén Ernesto
Alfredo Gerardo Gustavo Salvador Ramón Guillermo Gilberto Rodolfo Ignacio Esteban
Norma Irma Araceli Alma Susana Yolanda Beatriz Angélica Mónica Lorena Rocío Paola
Diana Karla Brenda Jessica Marisol Esperanza Dolores Isabel Josefina Raquel Eva""".split()  # noqa: SIM905
STATES = """AGU BCN BCS CAM CHH CHP CMX COA COL DUR GRO GUA HID JAL MEX MIC MOR NAY NLE OAX
PUE QUE ROO SIN SLP SON TAB TAM TLA VER YUC ZAC""".split()  # noqa: SIM905
OFFENCES = [
    ("050211", None), ("050221", None), ("020111", "firearm"), ("040111", "firearm"),
    ("0101", "firearm"), ("010321", "vehicle"), ("060111", None), ("050121", None),
]  # fmt: skip
ROLES = ["victim", "suspect", "arrested", "witness"]


def _weights(n: int) -> list[float]:
    return [1.0 / (rank + 1) ** 0.5 for rank in range(n)]


class Population:
    """Draws names with Zipf-like weights, the same ones for a given seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.surname_weights = _weights(len(SURNAMES))
        self.given_weights = _weights(len(GIVEN))

    def surname(self) -> str:
        return self.rng.choices(SURNAMES, self.surname_weights)[0]

    def given(self) -> str:
        count = 2 if self.rng.random() < 0.3 else 1
        return " ".join(self.rng.choices(GIVEN, self.given_weights, k=count))

    def person(self) -> dict[str, Any]:
        rng = self.rng
        person: dict[str, Any] = {
            "role": rng.choice(ROLES),
            "given_names": self.given(),
            "surnames": f"{self.surname()} {self.surname()}",
            "sex": rng.choice(["male", "female"]),
            "age": rng.randint(14, 80),
        }
        if rng.random() < 0.5:
            person["date_of_birth"] = f"{rng.randint(1945, 2010)}-{rng.randint(1, 12):02d}"
        return person


def incidents(count: int, seed: int = 7, prefix: str = "BENCH") -> Iterator[dict[str, Any]]:
    """Yield ``count`` incident records in the jsonl import shape."""
    people = Population(seed)
    rng = people.rng
    for n in range(count):
        code, weapon = rng.choice(OFFENCES)
        persons = [people.person() for _ in range(rng.choice([1, 1, 2, 2, 3]))]
        if code in ("0101", "010321"):
            persons[0]["role"] = "victim"
        record: dict[str, Any] = {
            "reference": f"{prefix}-{n:07d}",
            "occurred_from": f"{rng.randint(2019, 2025)}-{rng.randint(1, 12):02d}-"
            f"{rng.randint(1, 28):02d}",
            "area": f"MX-{rng.choice(STATES)}",
            "place_type": rng.choice(["street", "dwelling", "commercial"]),
            "status": "open",
            "narrative": "Se reporta el hecho en la vía pública; se avisa al ministerio público.",
            "offences": [{"iccs": code, "weapon": weapon} if weapon else {"iccs": code}],
            "persons": persons,
        }
        if code == "050211":
            record["vehicles"] = [
                {"status": "stolen", "plate": f"{rng.randint(100, 999)}-ABC", "make": "Nissan"}
            ]
        yield record


def write_jsonl(path: str, count: int, seed: int = 7, prefix: str = "BENCH") -> None:
    with open(path, "w", encoding="utf-8") as out:
        for item in incidents(count, seed, prefix):
            out.write(json.dumps(item, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for item in incidents(int(sys.argv[1])):
        print(json.dumps(item, ensure_ascii=False))

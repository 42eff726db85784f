"""Precision, recall and F1 of person-name matching on the labelled pairs of
benchmarks/data/name-pairs.csv (see make_name_pairs.py for how they were made), for
Atalaya's matcher at its default threshold and, in the same run, for the OpenSanctions
matchers of ``nomenklatura`` (name-based and logic-v2) at yente's default threshold.

    pip install nomenklatura   # benchmark only, not a dependency of Atalaya
    python benchmarks/name_matching.py
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

from atalaya.matching.names import compare
from atalaya.records.persons import DEFAULT_THRESHOLD

PAIRS = Path(__file__).parent / "data" / "name-pairs.csv"
NOMENKLATURA_THRESHOLD = 0.7  # yente's default for a match


def load() -> list[dict[str, str]]:
    with PAIRS.open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


def measure(
    name: str, decide: Callable[[dict[str, str]], bool], pairs: list[dict[str, str]]
) -> dict[str, object]:
    started = time.perf_counter()
    tp = fp = fn = tn = 0
    misses: dict[str, int] = {}
    for pair in pairs:
        predicted, actual = decide(pair), pair["same_person"] == "1"
        tp += predicted and actual
        fp += predicted and not actual
        fn += actual and not predicted
        tn += not predicted and not actual
        if predicted != actual:
            misses[pair["kind"]] = misses.get(pair["kind"], 0) + 1
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {
        "matcher": name,
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "errors_by_kind": dict(sorted(misses.items())),
        "microseconds_per_pair": round((time.perf_counter() - started) / len(pairs) * 1e6, 1),
    }


def atalaya(pair: dict[str, str]) -> bool:
    score = compare(pair["given_a"], pair["surnames_a"], pair["given_b"], pair["surnames_b"]).score
    return score >= DEFAULT_THRESHOLD


def nomenklatura_matchers() -> list[tuple[str, Callable[[dict[str, str]], bool]]]:
    from followthemoney import Dataset, StatementEntity
    from nomenklatura.matching import LogicV2, NameMatcher, ScoringConfig

    dataset = Dataset.make({"name": "bench", "title": "bench"})
    config = ScoringConfig.defaults()

    def person(given: str, surnames: str) -> StatementEntity:
        data = {
            "id": f"{given}|{surnames}",
            "schema": "Person",
            "properties": {
                "name": [f"{given} {surnames}"],
                "firstName": [given],
                "lastName": [surnames],
            },
        }
        return StatementEntity.from_data(dataset, data)

    def decide(algorithm: object) -> Callable[[dict[str, str]], bool]:
        def run(pair: dict[str, str]) -> bool:
            a, b = (
                person(pair["given_a"], pair["surnames_a"]),
                person(pair["given_b"], pair["surnames_b"]),
            )
            return algorithm.compare(a, b, config).score >= NOMENKLATURA_THRESHOLD  # type: ignore[attr-defined]

        return run

    return [
        ("nomenklatura name-based", decide(NameMatcher)),
        ("nomenklatura logic-v2", decide(LogicV2)),
    ]


def main() -> None:
    pairs = load()
    results = [measure("atalaya", atalaya, pairs)]
    try:
        results += [measure(name, decide, pairs) for name, decide in nomenklatura_matchers()]
    except ImportError:
        results.append({"matcher": "nomenklatura", "skipped": "pip install nomenklatura"})
    report = {
        "pairs": len(pairs),
        "positives": sum(p["same_person"] == "1" for p in pairs),
        "atalaya_threshold": DEFAULT_THRESHOLD,
        "nomenklatura_threshold": NOMENKLATURA_THRESHOLD,
        "results": results,
    }
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "name_matching.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

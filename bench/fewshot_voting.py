"""``method="voting"`` against ``"llm"`` and ``"recalibrated"`` with 32 examples (issue 31's target).

Each draw takes 32 stratified examples (16 per class, the same generator as
``bench/fewshot_choice.py``, seeded 32), fits ``"llm"`` (the examples in the quality model's
prompt), ``"recalibrated"`` (a logistic regression on the quality model's readings) and their
soft vote (the mean of the two), and scores each on every held-out row: Amazon (298 test
reviews, great = five stars / other), and the hand-translated Chinese and German reviews (118
held-out rows each). No cross-validation: this measures the methods, not ``"auto"``'s choice.
``"llm"`` reads every row with the examples in its prompt: a draw takes minutes on 2 CPU cores.

Results: ``bench/results/fewshot_voting.md`` (and ``.json``, each draw's accuracies).

    OMP_NUM_THREADS=2 python bench/fewshot_voting.py [--draws 10] [--sets amazon,zh,de]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

import fewshot_choice as fc

RESULTS = Path(__file__).parent / "results"
METHODS = ("llm", "recalibrated", "voting")


def measure(sets: list[str], draws: int) -> list[dict[str, object]]:
    """One row per (set, draw): the three methods' held-out accuracies and the seconds taken."""
    problems = {name: fc.readings(name) for name in sets}
    generators = {name: np.random.default_rng(32) for name in sets}
    rows: list[dict[str, object]] = []
    for draw in range(draws):
        for name in sets:
            problem, y, n_pool = problems[name]
            train, test = fc.draw_examples(generators[name], y, n_pool, 32)
            started = time.perf_counter()
            llm = problem.fit_predict("llm", train, test)
            recalibrated = problem.fit_predict("recalibrated", train, test)
            probs = {"llm": llm, "recalibrated": recalibrated, "voting": (llm + recalibrated) / 2}
            row: dict[str, object] = {"set": name, "draw": draw, "rows": len(test)}
            row.update({m: float((p.argmax(1) == y[test]).mean()) for m, p in probs.items()})
            row["seconds"] = round(time.perf_counter() - started, 1)
            rows.append(row)
            print(row, flush=True)
    return rows


def report(rows: list[dict[str, object]]) -> str:
    """The results table: per set, mean accuracy of each method and how often voting wins."""
    lines = [
        "# Soft voting of `llm` and `recalibrated`, 32 examples",
        "",
        "Held-out accuracy, mean over the draws (`bench/fewshot_voting.py`; the quality model,",
        "float32, 2 CPU cores). `voting` is the mean of the two methods' probabilities.",
        "",
        "| set | draws | held-out rows | llm | recalibrated | voting | voting > recalibrated | voting < recalibrated |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in dict.fromkeys(str(r["set"]) for r in rows):
        mine = [r for r in rows if r["set"] == name]
        means = [np.mean([float(r[m]) for r in mine]) for m in METHODS]  # type: ignore[arg-type]
        wins = sum(float(r["voting"]) > float(r["recalibrated"]) for r in mine)  # type: ignore[arg-type]
        losses = sum(float(r["voting"]) < float(r["recalibrated"]) for r in mine)  # type: ignore[arg-type]
        lines.append(
            f"| {name} | {len(mine)} | {mine[0]['rows']} | "
            + " | ".join(f"{m:.3f}" for m in means)
            + f" | {wins} | {losses} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--sets", default="amazon,zh,de")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    rows = measure(args.sets.split(","), args.draws)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fewshot_voting.json").write_text(json.dumps(rows, indent=1))
    (RESULTS / "fewshot_voting.md").write_text(report(rows))
    print(report(rows))


if __name__ == "__main__":
    main()

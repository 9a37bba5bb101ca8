"""How often the few-shot estimate's interval holds the accuracy on new rows (issue 32).

``classify(examples=...)`` states an accuracy with a 95% interval (``attrs["llm_magics"]
["quality"]``). This simulates what it states on many draws of 8, 16 and 32 stratified examples
from four labelled sets (those of ``bench/fewshot_choice.py``, on the default models' real
readings), exactly as ``fewshot.learn`` computes it (``"auto"``: the CPU candidates, the
selection-corrected out-of-fold predictions, ``quality.evaluate``), and scores the chosen
method on the held-out rows. A draw's interval *holds* when that held-out accuracy lies inside it.

Results: ``bench/results/fewshot_interval.md``.

    OMP_NUM_THREADS=2 python bench/fewshot_interval.py [--draws 50]
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))

from fewshot_choice import arguments, draw_examples, readings

from llm_magics import quality
from llm_magics.learning import methods as fewshot

RESULTS = Path(__file__).parent / "results"


def simulate(name: str, draws: int, sizes: list[int]) -> list[dict[str, object]]:
    problem, y, n_pool = readings(name)
    methods = fewshot.candidates(gpu=False)
    classes = int(y.max()) + 1
    labels = [str(c) for c in range(classes)]
    rows = []
    for size in sizes:
        rng = np.random.default_rng(1000 + size)
        for draw in range(draws):
            train, test = draw_examples(rng, y, n_pool, size)
            k = min(5, size // classes)
            folds = StratifiedKFold(k, shuffle=True, random_state=0)
            splits = list(folds.split(np.zeros(len(train)), y[train]))
            oof = {}
            for method in methods:
                oof[method] = np.zeros((len(train), classes))
                for fit, out in splits:
                    oof[method][out] = problem.fit_predict(method, train[fit], train[out])
            chosen = max(methods, key=lambda m: fewshot._macro_f1(oof[m], y[train]))
            honest = fewshot._honest(oof, y[train], [out for _, out in splits])
            stated = quality.evaluate(
                [labels[c] for c in honest.argmax(axis=1)],
                [labels[c] for c in y[train]],
                folds=k,  # as fewshot.attach_quality states it
            )
            predicted = problem.fit_predict(chosen, train, test).argmax(axis=1)
            actual = float((predicted == y[test]).mean())
            low, high = stated.accuracy_interval
            rows.append({
                "set": name, "examples": size, "draw": draw, "method": chosen,
                "estimate": stated.accuracy, "low": low, "high": high, "actual": actual,
                "holds": low <= actual <= high,
            })  # fmt: skip
        part = pd.DataFrame([r for r in rows if r["examples"] == size])
        print(name, size, f"holds {part.holds.mean():.2f}", flush=True)
    return rows


def main() -> None:
    draws, sizes, sets = arguments(__doc__, 50)
    frame = pd.DataFrame([r for name in sets for r in simulate(name, draws, sizes)])
    frame = frame.assign(width=frame.high - frame.low, below=frame.actual < frame.low)
    table = frame.groupby(["set", "examples"], sort=False)[
        ["holds", "below", "estimate", "actual", "width"]
    ].mean()
    lines = [
        "# Does the few-shot interval hold? (`bench/fewshot_interval.py`)",
        "",
        f"{draws} draws per cell of stratified examples; `auto` on a CPU as `classify("
        "examples=...)` runs it; *holds*: the share of draws whose stated 95% interval holds "
        "the chosen method's accuracy on the held-out rows; *below*: the share where the "
        "held-out accuracy fell under the interval (the estimate was too high).",
        "",
        "| set | examples | holds | below | mean estimate | mean held-out | mean width |",
        "|---|---|---|---|---|---|---|",
    ]
    for (name, size), r in table.iterrows():
        lines.append(
            f"| {name} | {size} | {r.holds:.2f} | {r.below:.2f} | {r.estimate:.3f} | "
            f"{r.actual:.3f} | {r.width:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fewshot_interval.md").write_text("\n".join(lines) + "\n")
    frame.to_csv(RESULTS / "fewshot_interval.csv", index=False)
    print("\n".join(lines))


if __name__ == "__main__":
    main()

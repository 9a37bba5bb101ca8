"""``mine`` on real data, against its own TF-IDF baseline (``make mining``).

1. Amazon fine-food reviews: ``mine(target="score")`` on the training reviews, then the chosen
   model and the TF-IDF + logistic regression baseline (fitted on the same rows) are scored on the
   1,000 test reviews that ``mine`` never saw.
2. Lending Club loans (``openintro``): ``mine(target="grade", text="emp_title")`` with the
   borrowers' numbers and categories; leaderboard and held-out test metrics.

Results go to ``bench/results/mining.json`` and ``bench/results/mining.md``.

    python bench/mining.py [--train-rows 2000] [--loan-rows 3000] [--budget 10]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-mining-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from sklearn.pipeline import Pipeline

from llm_magics import mine
from llm_magics.datasets import amazon_reviews, loans
from llm_magics.mining.candidates import candidates, feature_pipeline
from llm_magics.mining.metrics import evaluate, scores_of

RESULTS = Path(__file__).parent / "results"
LOAN_COLUMNS = [
    "emp_title",
    "emp_length",
    "homeownership",
    "annual_income",
    "verified_income",
    "debt_to_income",
    "delinq_2y",
    "inquiries_last_12m",
    "total_credit_utilized",
    "loan_purpose",
    "loan_amount",
    "term",
    "grade",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train-rows", type=int, default=2000)
    parser.add_argument("--loan-rows", type=int, default=3000)
    parser.add_argument("--budget", type=int, default=10)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    results: dict[str, Any] = {}

    train = amazon_reviews("train").sample(args.train_rows, random_state=0)
    test = amazon_reviews("test")
    started = time.perf_counter()
    found = mine(train, "score", budget=args.budget, progress=False)
    seconds = time.perf_counter() - started
    y = test["score"]
    predicted = found.predict(test)
    ours = evaluate(
        "classification",
        y,
        predicted,
        scores_of(found.best, test[found.columns.features]),
        found.best.classes_,
    )
    baseline = Pipeline(
        [
            ("features", feature_pipeline(found.columns, "tfidf")),
            ("model", candidates("classification")[0].build({}, 0)),
        ]
    ).fit(train[found.columns.features], train["score"])
    theirs = evaluate(
        "classification",
        y,
        baseline.predict(test[found.columns.features]),
        baseline.predict_proba(test[found.columns.features]),
        baseline.classes_,
    )
    results["reviews"] = {
        "train_rows": len(train),
        "test_rows": len(test),
        "majority_accuracy": float(y.value_counts(normalize=True).max()),
        "best": found.best_name,
        "mine_test": ours,
        "baseline_test": theirs,
        "seconds": seconds,
        "leaderboard": found.leaderboard.to_dict(orient="records"),
        "importances": found.importances.to_dict(orient="records"),
    }
    print(
        json.dumps(
            {k: v for k, v in results["reviews"].items() if k not in ("leaderboard",)}, indent=1
        ),
        flush=True,
    )

    frame = loans()[LOAN_COLUMNS].sample(args.loan_rows, random_state=0)
    started = time.perf_counter()
    graded = mine(frame, "grade", text="emp_title", budget=args.budget, progress=False)
    results["loans"] = {
        "rows": len(frame),
        "majority_accuracy": float(frame["grade"].value_counts(normalize=True).max()),
        "best": graded.best_name,
        "mine_test": graded.metrics,
        "baseline_test": graded.baseline_metrics,
        "seconds": time.perf_counter() - started,
        "leaderboard": graded.leaderboard.to_dict(orient="records"),
        "importances": graded.importances.to_dict(orient="records"),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "mining.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
    (RESULTS / "mining.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    a, b = r["reviews"], r["loans"]
    lines = [
        f"Amazon reviews: mine on {a['train_rows']} training reviews, scored on the {a['test_rows']} "
        f"test reviews (majority class {a['majority_accuracy']:.3f}); {a['seconds']:.0f} s.",
        "",
        "| model | test accuracy | test macro-F1 | test ROC-AUC |",
        "|---|---|---|---|",
        f"| mine: {a['best']} | {a['mine_test']['accuracy']:.3f} | {a['mine_test']['f1_macro']:.3f} | {a['mine_test']['roc_auc']:.3f} |",
        f"| TF-IDF + logistic regression | {a['baseline_test']['accuracy']:.3f} | {a['baseline_test']['f1_macro']:.3f} | {a['baseline_test']['roc_auc']:.3f} |",
        "",
        f"Loans: grade from emp_title + 11 columns, {b['rows']} rows (majority class "
        f"{b['majority_accuracy']:.3f}), held-out 20%; {b['seconds']:.0f} s.",
        "",
        "| model | test accuracy | test macro-F1 |",
        "|---|---|---|",
        f"| mine: {b['best']} | {b['mine_test']['accuracy']:.3f} | {b['mine_test']['f1_macro']:.3f} |",
        f"| TF-IDF baseline | {b['baseline_test']['accuracy']:.3f} | {b['baseline_test']['f1_macro']:.3f} |",
        "",
        "Loans leaderboard (cross-validation on the training rows):",
        "",
        "| model | macro-F1 (mean ± std) |",
        "|---|---|",
    ]
    lines += [
        f"| {row['model']} | {row['f1_macro_mean']:.3f} ± {row['f1_macro_std']:.3f} |"
        for row in b["leaderboard"]
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

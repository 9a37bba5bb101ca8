"""The operations across rows as plan lines: what ``--dry-run`` estimated, the run, rows/s.

On a fresh result cache, in one process, for each one-line plan below on its own slice of the
reviews (so no plan reads embeddings another one computed):

1. ``run_mine(..., dry_run=True)``: the estimate from 8 uncached rows (models loaded first, so
   neither the estimate nor the run pays for loading);
2. the run itself: seconds and input rows per second;
3. the same plan again: every model row comes from the cache.

A plan per operation, because ``aggregate``, ``top_k`` and ``join`` turn the frame into their
result and the lines after them would read that instead. Results go to
``bench/results/plan_across.json`` and ``.md``.

    python bench/plan_across.py [--rows 200]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-plan-across-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import pandas as pd
import torch

from llm_magics import MineRun, PlanEstimate, get_manager, run_mine
from llm_magics.datasets import amazon_reviews

RESULTS = Path(__file__).parent / "results"
ISSUES = pd.DataFrame(
    {
        "issue": [
            "arrived late",
            "package arrived damaged or broken",
            "tastes stale or expired",
            "too expensive",
            "wrong item sent",
        ]
    }
)
PLANS = {
    "aggregate": 'aggregate review by score -> complaints "What do customers complain about?"',
    "dedup": "dedup review -> same_review",
    "join": 'join review with {issues} "the review is about the issue" right_on=issue k=3',
    "top_k": 'top_k review "broken packaging" k=20',
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200, help="rows per plan (4 plans, 1,000 rows)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    reviews = amazon_reviews("test")
    manager = get_manager()
    manager.load(manager.model_for("chat"), role="chat")
    manager.load(manager.model_for("embed"), role="embed")
    namespace = {"issues": ISSUES}
    rows = []
    for i, (name, plan) in enumerate(PLANS.items()):
        rows_here = reviews.iloc[i * args.rows : (i + 1) * args.rows]
        estimate = run_mine(rows_here, plan, namespace=namespace, dry_run=True)
        assert isinstance(estimate, PlanEstimate)
        started = time.perf_counter()
        run = run_mine(rows_here, plan, namespace=namespace, progress=False)
        seconds = time.perf_counter() - started
        assert isinstance(run, MineRun)
        started = time.perf_counter()
        again = run_mine(rows_here, plan, namespace=namespace, progress=False)
        rerun = time.perf_counter() - started
        assert isinstance(again, MineRun)
        planned = estimate.steps.to_dict("records")[0]
        rows.append(
            {
                "op": name,
                "plan": plan,
                "estimate_s": planned["estimate_seconds"],
                "run_s": round(seconds, 1),
                "estimate_over_run": round(planned["estimate_seconds"] / seconds, 2),
                "rows_per_s": round(len(rows_here) / seconds, 1),
                "rows_after": len(run.frame),
                "rerun_s": round(rerun, 2),
                "rerun_computed": again.steps[0].computed,
                "note": planned["note"],
            }
        )
    report = {"rows": args.rows, "threads": torch.get_num_threads(), "plans": rows}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "plan_across.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# The operations across rows as plan lines, {args.rows} reviews "
        f"({report['threads']} threads, CPU, default models)",
        "",
        "| line | dry-run estimate (s) | run (s) | estimate / run | rows/s | rows after | "
        "re-run (s) | computed on re-run | dry-run note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| `{r['plan']}` | {r['estimate_s']} | {r['run_s']} | {r['estimate_over_run']:.2f} | "
            f"{r['rows_per_s']} | {r['rows_after']} | {r['rerun_s']} | {r['rerun_computed']} | "
            f"{r['note']} |"
        )
    (RESULTS / "plan_across.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""The ``%%mine`` example plan on real reviews: dry-run estimate vs the run, and a cached re-run.

On a fresh result cache, in one process:

1. ``run_mine(..., dry_run=True)``: the estimate from 8 uncached rows (models loaded here, so
   the run below does not pay for loading either);
2. the run itself, per step;
3. the same plan again: every model row comes from the cache.

Results go to ``bench/results/plan.json`` and ``bench/results/plan.md``.

    python bench/plan.py [--rows 100]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-plan-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import torch

from llm_magics import MineRun, PlanEstimate, run_mine
from llm_magics.datasets import amazon_reviews

RESULTS = Path(__file__).parent / "results"
PLAN = """
clean review
summarize review -> summary  max_words=15
sentiment review
keywords review  top=5
topics review  k=6
extract review -> item, price:float, problem:[shipping, quality, price, none]
filter review "mentions delivery" -> about_delivery
predict score from review, product
explain
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    reviews = amazon_reviews("test").head(args.rows)

    estimate = run_mine(reviews, PLAN, dry_run=True)
    assert isinstance(estimate, PlanEstimate)
    started = time.perf_counter()
    run = run_mine(reviews, PLAN, progress=False)
    first = time.perf_counter() - started
    assert isinstance(run, MineRun)
    started = time.perf_counter()
    again = run_mine(reviews, PLAN, progress=False)
    second = time.perf_counter() - started
    assert isinstance(again, MineRun)

    steps = []
    for planned, done, cached in zip(
        estimate.steps.to_dict("records"), run.steps, again.steps, strict=True
    ):
        steps.append(
            {
                "step": done.step,
                "estimate_s": planned["estimate_seconds"],
                "run_s": round(done.seconds, 1),
                "estimate_over_run": round(planned["estimate_seconds"] / done.seconds, 2)
                if done.seconds > 0.5
                else None,
                "rerun_s": round(cached.seconds, 2),
                "rerun_computed": cached.computed,
                "note": planned["note"],
            }
        )
    result = run.result
    assert result is not None
    report = {
        "rows": args.rows,
        "threads": torch.get_num_threads(),
        "estimate_s": round(estimate.seconds, 1),
        "run_s": round(first, 1),
        "rerun_s": round(second, 1),
        "rerun_speedup": round(first / second, 1),
        "test_metric": {result.metric: round(result.metrics[result.metric], 3)},
        "narrative_source": run.narrative.source if run.narrative else None,
        "steps": steps,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "plan.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        f"# `%%mine` example plan on {args.rows} reviews ({report['threads']} threads, CPU)",
        "",
        f"Dry-run estimate {report['estimate_s']} s; run {report['run_s']} s; cached re-run "
        f"{report['rerun_s']} s ({report['rerun_speedup']}× faster).",
        "",
        "| step | estimate (s) | run (s) | estimate / run | re-run (s) | rows computed on re-run |",
        "|---|---|---|---|---|---|",
    ]
    for s in steps:
        ratio = "" if s["estimate_over_run"] is None else f"{s['estimate_over_run']:.2f}"
        lines.append(
            f"| `{s['step']}` | {s['estimate_s']} | {s['run_s']} | {ratio} | {s['rerun_s']} | "
            f"{s['rerun_computed']} |"
        )
    (RESULTS / "plan.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

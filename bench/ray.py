"""Rows/s of the row-wise ops on Ray with 1 and 2 workers, beside the local engine, in one run.

On a local Ray of this machine's CPUs (``ray.init(num_cpus=...)``), for each op, on the same
real reviews, cache off, greedy:

- ``local``: the op in this process (torch on every core);
- ``ray ×1`` and ``ray ×2``: ``backend=RayBackend(actors=N)``; each worker reserves one CPU, so
  torch runs one thread in it.

Each Ray run includes starting its pool and loading the models in every worker (a fixed cost
per call, measured on 2 rows and reported as ``start_s``); ``rows/s after start`` takes it out.
The rows are checked against the local result (texts and labels equal, scores within 1e-5).

On a 2-core machine this is a scaling curve of 1 to 2 workers over 2 cores, not a cluster: the
local engine already uses both cores, so the most 2 workers can add is what one process loses
to threads that do not scale perfectly. The same code runs on a cluster unchanged: start Ray on
each node (``ray start --head`` on one, ``ray start --address=HEAD:6379`` on the others, with
llm-magics and the models installed on every node), then pass ``--address auto`` here or
``backend=RayBackend(address="auto")``; the pool then gets one worker per GPU (``num_gpus=1``
each) or per CPU. Each worker then has cores or a GPU of its own, so rows/s should grow with
the workers until the driver or the storage is the limit; run this there to measure it (it has
not been measured on a cluster yet).

Then a 5-step plan (sentiment, summarize, classify, keywords, filter) on the same reviews with 1
worker, three times: ``fresh`` starts a worker and loads its model for every step (how every
call ran before workers were kept: ``RayBackend(reuse=False)``), ``kept`` starts one worker for
the plan and keeps it (the default), and ``warm`` runs the plan again on that worker, with its
models loaded. A step's start-up is its seconds minus the same step's ``warm`` seconds (cache
off, so every pass computes the same rows). Results go to ``bench/results/ray.json`` and
``bench/results/ray.md``; ``--only ops`` or ``--only plan`` measures one part and keeps the
other's last figures.

    python bench/ray.py [--rows 96] [--plan-rows 24] [--only ops|plan] [--address ADDRESS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

# `python bench/ray.py` puts bench/ first on sys.path, where `import ray` would find this file.
sys.path.remove(os.path.dirname(os.path.abspath(__file__)))

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-ray-"))
os.environ.setdefault("RAY_AUTH_MODE", "disabled")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
import ray
import torch

from llm_magics import ops
from llm_magics.backends.ray import RayBackend, kept_workers, release_workers
from llm_magics.datasets import amazon_reviews
from llm_magics.plan.runner import run_mine

RESULTS = Path(__file__).parent / "results"
# (op, extra arguments, rows as a multiple of --rows): embedding is ~50x faster than scoring.
OPS: list[tuple[str, dict[str, Any], int]] = [
    ("sentiment", {}, 1),
    ("summarize", {"max_words": 12}, 1),
    ("embed", {}, 8),
]
PLAN = """\
sentiment review -> mood
summarize review -> summary  max_words=12
classify review -> aspect  labels=[taste, price, shipping]
keywords review  top=3
filter review "mentions the price" -> about_price"""


def same(local: pd.Series | pd.DataFrame, remote: pd.Series | pd.DataFrame) -> bool:
    a = local.to_frame() if isinstance(local, pd.Series) else local
    b = remote.to_frame() if isinstance(remote, pd.Series) else remote
    for name in a.columns:
        if pd.api.types.is_float_dtype(a[name]):
            if not np.allclose(a[name], b[name], atol=1e-5, equal_nan=True):
                return False
        elif a[name].tolist() != b[name].tolist() and not a[name].equals(b[name]):
            return False
    return a.index.equals(b.index)


def timed(fn: Any) -> tuple[Any, float]:
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def ops_table(reviews: pd.Series, rows: int) -> list[dict[str, Any]]:
    """Rows/s of each op locally and on 1 and 2 workers (each Ray call on fresh workers)."""
    results = []
    for op, extra, scale in OPS:
        texts = reviews.head(rows * scale)
        options = {"cache": False, "progress": False, **extra}
        getattr(ops, op)(texts.head(2), **options)  # load the models here before timing
        local, local_s = timed(lambda: getattr(ops, op)(texts, **options))  # noqa: B023
        row: dict[str, Any] = {
            "op": op,
            "rows": len(texts),
            "local_rows_per_s": round(len(texts) / local_s, 2),
        }
        for actors in (1, 2):
            # Four Ray batches per worker, so that both stay busy to the end; fresh workers for
            # each call, so start_s is a pool's start-up and model loading.
            backend = RayBackend(
                actors=actors, batch_rows=max(1, len(texts) // (4 * actors)), reuse=False
            )
            _, start_s = timed(
                lambda: getattr(ops, op)(texts.head(2), backend=backend, **options)  # noqa: B023
            )
            remote, ray_s = timed(
                lambda: getattr(ops, op)(texts, backend=backend, **options)  # noqa: B023
            )
            row[f"ray{actors}"] = {
                "seconds": round(ray_s, 1),
                "start_s": round(start_s, 1),
                "rows_per_s": round(len(texts) / ray_s, 2),
                "rows_per_s_after_start": round(len(texts) / max(ray_s - start_s, 1e-9), 2),
                "same_as_local": same(local, remote),
            }
        row["scaling_2_over_1"] = round(
            row["ray2"]["rows_per_s_after_start"] / row["ray1"]["rows_per_s_after_start"], 2
        )
        results.append(row)
        print(json.dumps(row))
    return results


def plan_table(reviews: pd.Series, rows: int) -> dict[str, Any]:
    """Seconds per step of a 5-step plan on 1 worker: fresh workers per step, one kept worker,
    and that worker again with its models loaded; start-up = a pass's seconds minus warm's."""
    frame = reviews.head(rows).to_frame("review")
    options: dict[str, Any] = {"cache": False, "progress": False}
    local = run_mine(frame, PLAN, **options).frame
    passes: dict[str, Any] = {}
    kept = RayBackend(actors=1)
    for name, backend in (("fresh", RayBackend(actors=1, reuse=False)), ("kept", kept)):
        release_workers()
        passes[name] = run_mine(frame, PLAN, backend=backend, **options)
    passes["warm"] = run_mine(frame, PLAN, backend=kept, **options)
    [worker] = kept_workers()
    release_workers()
    steps = []
    for i, warm in enumerate(passes["warm"].steps):
        fresh, reused = passes["fresh"].steps[i], passes["kept"].steps[i]
        steps.append(
            {
                "step": warm.step,
                "fresh_s": round(fresh.seconds, 1),
                "kept_s": round(reused.seconds, 1),
                "warm_s": round(warm.seconds, 1),
                "start_fresh_s": round(fresh.seconds - warm.seconds, 1),
                "start_kept_s": round(reused.seconds - warm.seconds, 1),
            }
        )
        print(json.dumps(steps[-1]))
    return {
        "rows": len(frame),
        "steps": steps,
        "total_fresh_s": round(passes["fresh"].seconds, 1),
        "total_kept_s": round(passes["kept"].seconds, 1),
        "total_warm_s": round(passes["warm"].seconds, 1),
        # Other jobs share this machine's cores: their load makes single seconds noisy.
        "load_average_5min": round(os.getloadavg()[1], 1),
        "kept_worker_loads": len(worker["loads"]),
        "kept_worker_batches": worker["batches"],
        "same_as_local": all(
            same(local[c], passes[p].frame[c]) for p in passes for c in local.columns
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=96)
    parser.add_argument("--plan-rows", type=int, default=24)
    parser.add_argument("--only", choices=("ops", "plan"), help="measure one part only")
    parser.add_argument("--address", help="an existing Ray cluster (default: a local one)")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    if args.address:
        ray.init(address=args.address, log_to_driver=False)
    else:
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
    cpus = int(ray.cluster_resources().get("CPU", 0))
    reviews = amazon_reviews("test")["review"]
    last = json.loads((RESULTS / "ray.json").read_text()) if (RESULTS / "ray.json").exists() else {}
    report = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, CPU only",
        "ray_cpus": cpus,
        "ray": ray.__version__,
        # The ops table's (the local engine's threads), kept with it when only the plan runs.
        "local_threads": torch.get_num_threads()
        if args.only != "plan"
        else last.get("local_threads"),
        "results": ops_table(reviews, args.rows) if args.only != "plan" else last.get("results"),
        "plan": plan_table(reviews, args.plan_rows) if args.only != "ops" else last.get("plan"),
    }
    ray.shutdown()
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ray.json").write_text(json.dumps(report, indent=2) + "\n")
    results = report["results"] or []
    lines = [
        f"# Ray Data: 1 and 2 workers beside the local engine ({report['machine']})",
        "",
        f"Ray {report['ray']} on {cpus} CPUs; the local engine runs torch on "
        f"{report['local_threads']} threads, each Ray worker on 1. Rows/s over the whole call "
        "(pool start and model loading included), and after the start (the call on 2 rows "
        "taken out). Cache off; results checked against the local engine.",
        "",
        "| op | rows | local rows/s | ray ×1 rows/s (after start) | ray ×2 rows/s (after start) "
        "| ×2 / ×1 after start | start ×1 / ×2 (s) | same as local |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        one, two = r["ray1"], r["ray2"]
        lines.append(
            f"| {r['op']} | {r['rows']} | {r['local_rows_per_s']} | {one['rows_per_s']} "
            f"({one['rows_per_s_after_start']}) | {two['rows_per_s']} "
            f"({two['rows_per_s_after_start']}) | {r['scaling_2_over_1']} | "
            f"{one['start_s']} / {two['start_s']} | "
            f"{'yes' if one['same_as_local'] and two['same_as_local'] else 'NO'} |"
        )
    lines += plan_lines(report["plan"]) if report["plan"] else []
    (RESULTS / "ray.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def plan_lines(plan: dict[str, Any]) -> list[str]:
    """The plan's table in Markdown."""
    lines = [
        "",
        f"## A 5-step plan on 1 worker: start-up per step, fresh workers against kept ({plan['rows']} rows)",
        "",
        "Seconds per step of `run_mine(..., backend=RayBackend(actors=1))`: `fresh` starts a worker "
        "and loads its model for every step (`reuse=False`, how each call ran before), `kept` "
        "keeps one worker for the plan (the default), `warm` runs the plan again on it with "
        "its models loaded. Start-up = a step's seconds minus its warm seconds. Cache off. "
        f"The kept worker loaded {plan['kept_worker_loads']} models for "
        f"{plan['kept_worker_batches']} batches over both passes; results "
        f"{'equal' if plan['same_as_local'] else 'NOT equal'} to the local engine's. "
        f"Few rows, on a CPU shared with other jobs (load average {plan['load_average_5min']} "
        "at the end of the run): single seconds are noisy, the start-up sums are what to read.",
        "",
        "| step | fresh s | kept s | warm s | start-up fresh s | start-up kept s |",
        "|---|---|---|---|---|---|",
    ]
    for s in plan["steps"]:
        lines.append(
            f"| {s['step']} | {s['fresh_s']} | {s['kept_s']} | {s['warm_s']} | "
            f"{s['start_fresh_s']} | {s['start_kept_s']} |"
        )
    starts = [sum(s[f"start_{p}_s"] for s in plan["steps"]) for p in ("fresh", "kept")]
    lines.append(
        f"| **plan** | {plan['total_fresh_s']} | {plan['total_kept_s']} | "
        f"{plan['total_warm_s']} | {round(starts[0], 1)} | {round(starts[1], 1)} |"
    )
    return lines


if __name__ == "__main__":
    main()

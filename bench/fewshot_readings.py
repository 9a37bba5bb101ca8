"""Which of the chat model's readings ``"recalibrated"`` should weigh, and what ``"auto"``'s
choice costs: every reading (the zero-shot label probabilities and the sentiment reading, as
now) against the sentiment reading alone, each alone and as ``"auto"``'s candidate beside
``"linear"``, on the sets and draws of ``bench/fewshot_choice.py`` (its cached readings).

Results: ``bench/results/fewshot_readings.md``. Not a change of the default: a measurement.

    OMP_NUM_THREADS=2 python bench/fewshot_readings.py 30 amazon,zh,de,tweets
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np
from fewshot_choice import draw_examples, readings
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from llm_magics.learning import methods as fs

warnings.filterwarnings("ignore")


def recal_subset(problem, names, train, test):
    features = np.hstack([problem.zero(n)[:, 1:] for n in names])
    model = fs.fit_linear(features[train], problem.examples.y[train])
    return fs._columns(model.predict_proba(features[test]), model.classes_, problem.labels)


draws = int(sys.argv[1]) if len(sys.argv) > 1 else 30
for name in sys.argv[2].split(","):
    problem, y, n_pool = readings(name)
    variants = {
        "recal(all)": lambda tr, te, p=problem: p.fit_predict("recalibrated", tr, te),
        "recal(sent)": lambda tr, te, p=problem: recal_subset(p, ["sentiment"], tr, te),
        "linear": lambda tr, te, p=problem: p.fit_predict("linear", tr, te),
    }
    for size in (8, 16, 32):
        rng = np.random.default_rng(size)
        acc = {k: [] for k in [*variants, "auto(all,lin)", "auto(sent,lin)", "auto(sent,all,lin)"]}
        for draw in range(draws):
            train, test = draw_examples(rng, y, n_pool, size)
            k = min(5, size // 2)
            folds = StratifiedKFold(k, shuffle=True, random_state=draw)
            f1, a = {}, {}
            for v, fn in variants.items():
                oof = np.zeros((len(train), len(problem.labels)))
                for fit, out in folds.split(np.zeros(len(train)), y[train]):
                    oof[out] = fn(train[fit], train[out])
                f1[v] = f1_score(y[train], oof.argmax(1), average="macro")
                a[v] = float((fn(train, test).argmax(1) == y[test]).mean())
                acc[v].append(a[v])
            for label, names in [
                ("auto(all,lin)", ["recal(all)", "linear"]),
                ("auto(sent,lin)", ["recal(sent)", "linear"]),
                ("auto(sent,all,lin)", ["recal(sent)", "recal(all)", "linear"]),
            ]:
                acc[label].append(a[max(names, key=f1.__getitem__)])
        print(
            name,
            size,
            {k: (round(float(np.mean(v)), 3), round(float(np.min(v)), 3)) for k, v in acc.items()},
            flush=True,
        )

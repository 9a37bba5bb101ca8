"""auto's choice by a one-standard-error rule (Breiman et al. 1984; Hastie et al. ESL 7.10):
keep "recalibrated" unless "linear"'s mean fold macro-F1 beats it by more than one SE of the
paired fold differences. Same sets, draws and folds as bench/fewshot_choice.py (its cached
readings). A measurement for the next change of ``"auto"``, not the default yet.

Results: ``bench/results/fewshot_one_se.md``.

    OMP_NUM_THREADS=2 python bench/fewshot_one_se.py 30 amazon,zh,de,tweets
"""

import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import numpy as np
from fewshot_choice import draw_examples, readings
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

warnings.filterwarnings("ignore")
draws = int(sys.argv[1])
for name in sys.argv[2].split(","):
    problem, y, n_pool = readings(name)
    for size in (8, 16, 32):
        rng = np.random.default_rng(size)
        acc = {"recalibrated": [], "linear": [], "auto(max)": [], "auto(1se)": []}
        for draw in range(draws):
            train, test = draw_examples(rng, y, n_pool, size)
            k = min(5, size // 2)
            folds = list(
                StratifiedKFold(k, shuffle=True, random_state=draw).split(
                    np.zeros(len(train)), y[train]
                )
            )
            fold_f1, pooled, held = {}, {}, {}
            for m in ("recalibrated", "linear"):
                oof = np.zeros((len(train), len(problem.labels)))
                per = []
                for fit, out in folds:
                    oof[out] = problem.fit_predict(m, train[fit], train[out])
                    per.append(f1_score(y[train][out], oof[out].argmax(1), average="macro"))
                fold_f1[m] = np.array(per)
                pooled[m] = f1_score(y[train], oof.argmax(1), average="macro")
                held[m] = float((problem.fit_predict(m, train, test).argmax(1) == y[test]).mean())
                acc[m].append(held[m])
            acc["auto(max)"].append(held[max(pooled, key=pooled.get)])
            diff = fold_f1["linear"] - fold_f1["recalibrated"]
            se = diff.std(ddof=1) / np.sqrt(len(diff)) if len(diff) > 1 else np.inf
            pick = "linear" if diff.mean() > se else "recalibrated"
            acc["auto(1se)"].append(held[pick])
        print(
            name,
            size,
            {k: (round(float(np.mean(v)), 3), round(float(np.min(v)), 3)) for k, v in acc.items()},
            flush=True,
        )

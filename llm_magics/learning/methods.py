"""Few-shot classification from a handful of labelled examples: parsing, methods, honest choice.

``classify``, ``sentiment`` and ``filter`` call ``learn`` when given ``examples=`` (through
``ops.from_examples``, which supplies what only an op knows: its zero-shot scores, the ``"llm"``
method's prompt, the ``"finetuned"`` trainer). Each method fits on (texts, labels) and gives
probabilities rows × labels:

- ``"recalibrated"``: a logistic regression on the chat model's own readings of the text (its
  zero-shot probabilities of the labels, and ``classify``'s sentiment reading): what the model
  reads, re-weighed on the examples. On 300 held-out Amazon reviews (great = five stars, other;
  32 examples, 30 draws) 0.844 accuracy, against 0.847 for zero-shot ``sentiment`` and 0.713
  for zero-shot ``classify`` with the labels' names; Chinese 0.833, German 0.813 (the
  translated rows; ``bench/fewshot_choice.py``). It can learn only what the readings hold:
  labels no reading follows (whose phone sent a tweet) need ``"linear"``.
- ``"linear"``: logistic regression on the embedding model's vectors (frozen encoder).
- ``"stack"``: stacking (Wolpert 1992): a logistic regression on a few features, the
  log-probabilities of ``"linear"`` (out of fold), of the op's zero-shot scores (the chat
  model's, and the embedding model's where the op has one) and of its other ``readings``
  (``classify``: the chat model's sentiment): the chat model's reading of the text and the
  examples' evidence combined. With the sentiment reading, on 300 held-out reviews (great /
  other, 32 examples, 3 draws) it reached 0.674 accuracy and 0.643 macro-F1 against 0.611 /
  0.531 for ``"linear"`` and 0.582 / 0.534 without it (zero-shot ``sentiment``: 0.707 / 0.687;
  ``bench/fewshot.py``). Joining the 384 vector dimensions and the two zero-shot
  columns in one regression instead drowned the zero-shot columns (0.597 held-out accuracy
  against 0.600 for ``"linear"``, 32 examples, ``bench/fewshot.py``).
- ``"llm"``: the chat model with the examples in the prompt ("text → label", each example cut so
  the list stays under ``PREFIX_TOKENS``); every row's prompt starts with the same examples, so the
  engine computes that prefix once per call (``engine.score``'s shared-prefix reuse).
- ``"voting"``: soft voting (as scikit-learn's ``VotingClassifier(voting="soft")``) of ``"llm"``
  and ``"recalibrated"``, equal weights: the mean of their probabilities. The two err on
  different rows (the examples read in context; the model's readings re-weighed). On the 298
  held-out Amazon reviews (32 examples, 10 draws, ``bench/fewshot_voting.py``) 0.865 accuracy
  (0.856–0.876) against 0.857 for ``"llm"`` and 0.846 for ``"recalibrated"``, above the latter in
  all 10 draws; Chinese 0.841 against 0.807 / 0.834; German 0.790, below ``"recalibrated"``'s
  0.814 in 7 of 10 draws. It costs ``"llm"``'s pass over every row (about a second a row on a
  2-core CPU), so ``"auto"`` does not try it.
- ``"setfit"``: contrastive tuning of the encoder, then a logistic head (SetFit, Tunstall et al.
  2022, via the ``setfit`` library). Small settings (5 pairs per example, 1 epoch, 128 tokens):
  the library's defaults took 355 s for 32 examples on 2 CPU cores.
- ``"finetuned"``: ``ops.finetune`` (a classification head trained end to end; ≥ 10 examples).
- the op's zero-shot scores (``"zero-shot llm"``, ``"zero-shot embed"``): no fitting.

``"auto"`` estimates each candidate by stratified k-fold cross-validation on the examples
(k = min(5, the smallest class's count)) and keeps the best macro-F1. Picking the best of several
by the same folds makes its score optimistic (Varma & Simon 2006; Cawley & Talbot 2010), so the
reported estimate is that of the *procedure*: for each fold, the method chosen on the other folds'
out-of-fold predictions supplies that fold's predictions. That reuses the fits already made (a full
nested CV would refit every method k more times); what the fold's labels still leak is only their
part in training the models whose predictions on the other folds decide the choice.
On a CPU, ``"auto"`` compares ``"recalibrated"`` and ``"linear"`` (seconds on top of the chat
model's readings); on a GPU also ``"llm"`` and ``"setfit"`` (see ``candidates`` for why so few).
The readings come from one model, the quality model alone (not the cascade, see ``problem``).

The out-of-fold probabilities feed ``llm_magics.learning.quality`` (``evaluate``, ``calibrate``,
``conformal_sets``): the quality in ``attrs``, calibrated probabilities and conformal label sets.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine import embed
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning.examples import Examples
from llm_magics.runtime.manager import get_manager

__all__ = [
    "FITTED",
    "METHODS",
    "FewShot",
    "Learned",
    "add_label_sets",
    "attach_quality",
    "candidates",
    "conformal",
    "fit_linear",
    "learn",
    "problem",
]

FITTED = ("recalibrated", "linear", "stack", "llm", "voting", "setfit", "finetuned")
"""The methods that learn from the examples."""
METHODS = (*FITTED, "auto")
"""What ``method=`` may be with ``examples=``."""
ENCODER_SCORES = ("zero-shot embed",)
"""Zero-shot candidates scored by the embedding model, not the chat model (not ``"recalibrated"``'s)."""
PREFIX_TOKENS = 3000  # the examples' share of the "llm" prompt, roughly (4 characters a token)
SETFIT = {"num_iterations": 5, "num_epochs": 1, "batch_size": 16, "max_length": 128}
Probabilities = Callable[[list[str]], tuple[np.ndarray, list[Provenance]]]
InPrompt = Callable[[list[tuple[str, str]], list[str]], tuple[np.ndarray, list[Provenance]]]
"""(example text, label name) pairs and rows → the chat model's probabilities of the labels with
the examples in the prompt, and its provenance (the op writes the prompt)."""
Finetuned = Callable[
    [list[str], list[str], list[str]], tuple[np.ndarray, list[str], list[Provenance]]
]
"""(texts, label names, rows) → a fine-tuned classifier's probabilities of the rows, its label
order, and provenance (``ops.finetune``)."""


def fit_linear(features: np.ndarray, y: np.ndarray) -> Any:
    """A standardised logistic regression fitted on ``features`` (n × d float) and ``y`` (n ints,
    every class at least once); C from {0.01, 0.1, 1} by a 3-fold inner CV on log-loss where every
    class has 3 examples, else C = 0.1. A scikit-learn ``Pipeline``; ``predict_proba`` gives
    n × classes.

    The one linear model of few-label learning: ``"linear"`` on the embedding vectors,
    ``"recalibrated"`` on the chat model's readings, ``"stack"``'s final estimator, and the
    labelling panel's uncertainty model (``widgets.label``).
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    inner = int(np.bincount(y).min())
    model = (
        LogisticRegressionCV(
            Cs=[0.01, 0.1, 1.0],
            cv=min(3, inner),
            scoring="neg_log_loss",
            l1_ratios=(0,),
            use_legacy_attributes=False,
        )
        if inner >= 3
        else LogisticRegression(C=0.1)
    )
    return make_pipeline(StandardScaler(), model).fit(features, y)


def _log(probs: np.ndarray) -> np.ndarray:
    return np.log(np.maximum(probs, 1e-6))


@dataclass
class FewShot:
    """One few-shot problem: the examples, the rows to label, the models, and what was computed.

    ``zero_shot`` maps a candidate's name (``"zero-shot llm"``, ``"zero-shot embed"``) to a
    function texts → (probabilities over ``examples.labels``, engine provenance); ``"stack"`` uses the chat one.
    ``readings`` are more of the chat model's probabilities that ``"stack"`` weighs but that are
    no answer themselves (``classify``'s sentiment: 3 columns, not the labels).
    ``question`` is the op's instruction for the ``"llm"`` prompt. Texts are addressed by their
    position in ``examples.texts + rows``.
    """

    examples: Examples
    rows: list[str]
    question: str
    zero_shot: Mapping[str, Probabilities]
    chat: dict[str, Any]
    encoder: dict[str, Any]
    seed: int = 0
    readings: Mapping[str, Probabilities] = field(default_factory=dict)
    in_prompt: InPrompt | None = None
    finetuned: Finetuned | None = None
    steps: list[Provenance] = field(default_factory=list)
    _vectors: np.ndarray | None = None
    _zero: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def texts(self) -> list[str]:
        """The examples' texts, then the rows'."""
        return self.examples.texts + self.rows

    def vectors(self) -> np.ndarray:
        """The embedding of every text (examples, then rows), computed once."""
        if self._vectors is None:
            out = embed(self.texts, **self.encoder)
            self._vectors, self.steps = out.vectors, [*self.steps, out.provenance]
        return self._vectors

    def zero(self, name: str) -> np.ndarray:
        """The zero-shot candidate ``name``'s probabilities of every text, computed once."""
        if name not in self._zero:
            function = self.zero_shot.get(name) or self.readings[name]
            self._zero[name], steps = function(self.texts)
            self.steps = [*self.steps, *steps]
        return self._zero[name]

    def _stack(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        """Stacking (Wolpert 1992): a logistic regression on few features, the log-probabilities
        of the embedding model's logistic regression (out-of-fold on ``train``) and of each
        zero-shot candidate; few features, so 32 examples can weigh them."""
        from sklearn.model_selection import StratifiedKFold

        y = self.examples.y[train]
        inner = StratifiedKFold(min(3, int(np.bincount(y).min())), shuffle=True, random_state=0)
        linear = np.zeros((len(train), len(self.labels)))
        for fit, held in inner.split(np.zeros(len(train)), y):
            linear[held] = self._linear(train[fit], train[held])
        zero = np.hstack([_log(self.zero(name)) for name in [*self.zero_shot, *self.readings]])
        model = fit_linear(np.hstack([_log(linear), zero[train]]), y)
        features = np.hstack([_log(self._linear(train, test)), zero[test]])
        return _columns(model.predict_proba(features), model.classes_, self.labels)

    def _recalibrated(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        """A logistic regression on the chat model's readings alone (its zero-shot probabilities
        and ``readings``, each less its first column, which the others determine): the model's
        reading re-weighed and re-centred on the examples (Platt 1999 scaling, several inputs).
        Probabilities, not log-odds: the quality model's are often 0.999 or 0.001, and their
        log-odds' long tails let a few rows pull a fit on 32 examples (Amazon great/other, 32
        examples, 100 draws, the sentiment reading alone: 0.862 held-out accuracy on
        probabilities, 0.839 on log-odds)."""
        names = [n for n in [*self.zero_shot, *self.readings] if n not in ENCODER_SCORES]
        features = np.hstack([self.zero(name)[:, 1:] for name in names])
        model = fit_linear(features[train], self.examples.y[train])
        return _columns(model.predict_proba(features[test]), model.classes_, self.labels)

    def _linear(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        vectors = self.vectors()
        model = fit_linear(vectors[train], self.examples.y[train])
        return _columns(model.predict_proba(vectors[test]), model.classes_, self.labels)

    def fit_predict(self, method: str, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        """``method`` fitted on the texts at ``train`` (examples), probabilities at ``test``."""
        y = self.examples.y[train]
        if method in self.zero_shot:
            return self.zero(method)[test]
        if method == "linear":
            return self._linear(train, test)
        if method == "recalibrated":
            return self._recalibrated(train, test)
        if method == "stack":
            return self._stack(train, test)
        texts = self.texts
        train_texts, test_texts = [texts[i] for i in train], [texts[i] for i in test]
        if method == "llm":
            return self._in_prompt(train_texts, y, test_texts)
        if method == "voting":
            voters = ("llm", "recalibrated")
            return np.mean([self.fit_predict(m, train, test) for m in voters], axis=0)
        if method == "setfit":
            return _setfit(train_texts, y, test_texts, self.labels, self.encoder, self.seed)
        if method == "finetuned":
            return self._finetuned(train_texts, y, test_texts)
        msg = f"method must be one of {', '.join([*METHODS, *self.zero_shot])}, not {method!r}."
        raise InvalidArgumentError(msg)

    @property
    def labels(self) -> list[str]:
        """The label names, in column order."""
        return self.examples.labels

    def _in_prompt(self, texts: list[str], y: np.ndarray, rows: list[str]) -> np.ndarray:
        """The chat model's probabilities with the examples listed in the shared prompt prefix,
        each cut so that the list stays under ``PREFIX_TOKENS``."""
        if self.in_prompt is None:
            msg = (
                "method='llm' needs the op's prompt; call it through classify, sentiment or filter."
            )
            raise InvalidArgumentError(msg)
        width = max(40, 4 * PREFIX_TOKENS // max(1, len(texts)))
        pairs = [(_shorten(t, width), self.labels[c]) for t, c in zip(texts, y, strict=True)]
        probs, steps = self.in_prompt(pairs, rows)
        self.steps = [*self.steps, *steps]
        return probs

    def _finetuned(self, texts: list[str], y: np.ndarray, rows: list[str]) -> np.ndarray:
        if len(texts) < 10:
            msg = f"method='finetuned' needs at least 10 examples to train on; there are {len(texts)}."
            raise InvalidArgumentError(msg)
        if self.finetuned is None:
            msg = (
                "method='finetuned' needs the op's trainer; call it through classify or sentiment."
            )
            raise InvalidArgumentError(msg)
        probs, order, steps = self.finetuned(texts, [self.labels[c] for c in y], rows)
        self.steps = [*self.steps, *steps]
        return _columns(probs, [self.labels.index(n) for n in order], self.labels)

    def out_of_fold(self, method: str) -> np.ndarray:
        """Stratified k-fold out-of-fold probabilities of ``method`` on the examples."""
        from sklearn.model_selection import StratifiedKFold

        count = len(self.examples.texts)
        if method in self.zero_shot:
            return self.zero(method)[:count]
        oof = np.zeros((count, len(self.labels)))
        folds = StratifiedKFold(self.examples.folds, shuffle=True, random_state=self.seed)
        for train, test in folds.split(np.zeros(count), self.examples.y):
            oof[test] = self.fit_predict(method, train, test)
        return oof

    def predict(self, method: str) -> np.ndarray:
        """``method`` fitted on every example, probabilities of the rows."""
        count = len(self.examples.texts)
        return self.fit_predict(method, np.arange(count), np.arange(count, len(self.texts)))


def _columns(probs: np.ndarray, classes: Sequence[int], labels: Sequence[str]) -> np.ndarray:
    """Probabilities over ``classes`` (indices) placed in the columns of every label."""
    out = np.zeros((len(probs), len(labels)))
    out[:, list(classes)] = probs
    return out


def _shorten(text: str, characters: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= characters else flat[: characters - 1].rsplit(" ", 1)[0] + "…"


def _setfit(
    texts: list[str],
    y: np.ndarray,
    rows: list[str],
    labels: Sequence[str],
    encoder: Mapping[str, Any],
    seed: int,
) -> np.ndarray:
    """SetFit (Tunstall et al. 2022): contrastive pairs tune the encoder, then a logistic head."""
    import contextlib
    import io
    import logging
    import shutil
    import tempfile
    import warnings

    from datasets import (
        Dataset,
        are_progress_bars_disabled,
        disable_progress_bars,
        enable_progress_bars,
    )

    from llm_magics.runtime.quantization import import_torchao_quietly

    import_torchao_quietly()  # sentence-transformers imports it, noisily, where it is installed
    from setfit import SetFitModel, Trainer, TrainingArguments
    from transformers.utils import logging as hf_logging

    from llm_magics.runtime.loading import locate
    from llm_magics.runtime.specs import resolve_spec

    # The name resolved as the manager does (aliases, its config), without reading the model:
    # SetFit trains a copy of the weights, read from the same files, so the manager's shared copy
    # that other ops use stays as it is.
    manager = encoder.get("manager") or get_manager()
    name = manager.model_for("embed", encoder.get("model"))
    source = locate(resolve_spec(name, manager.config, role="embed"), manager.config)
    progress = bool(encoder.get("progress", False))
    bars = are_progress_bars_disabled()
    if not progress:
        disable_progress_bars()
    quiet = [logging.getLogger(n) for n in ("setfit", "sentence_transformers")]
    levels = [q.level for q in quiet]
    verbosity = hf_logging.get_verbosity()
    for q in quiet:
        q.setLevel(logging.ERROR)
    hf_logging.set_verbosity_error()
    if not progress:
        hf_logging.disable_progress_bar()
    folder = tempfile.mkdtemp(prefix="llm_magics_setfit_")  # the trainer's output_dir, unused
    try:
        model = SetFitModel.from_pretrained(source.path, local_files_only=source.local_files_only)
        arguments = TrainingArguments(
            **SETFIT,
            seed=seed,
            show_progress_bar=progress,
            report_to="none",
            logging_strategy="steps" if progress else "no",
            save_strategy="no",
            output_dir=folder,
        )
        data = Dataset.from_dict({"text": texts, "label": [int(c) for c in y]})
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            # The trainer's data loader asks for pinned memory, which only matters with a GPU,
            # and its logging callback prints raw dicts of losses: neither is for the user.
            warnings.filterwarnings("ignore", "'pin_memory' argument is set", UserWarning)
            Trainer(model=model, args=arguments, train_dataset=data).train()
        probs = np.asarray(model.predict_proba(rows, show_progress_bar=False), dtype=float)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        if not bars:
            enable_progress_bars()
            hf_logging.enable_progress_bar()
        for q, level in zip(quiet, levels, strict=True):
            q.setLevel(level)
        hf_logging.set_verbosity(verbosity)
    return _columns(probs, sorted(set(y.tolist())), labels)


def _macro_f1(probs: np.ndarray, y: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, probs.argmax(axis=1), average="macro"))


def _honest(oof: Mapping[str, np.ndarray], y: np.ndarray, folds: list[np.ndarray]) -> np.ndarray:
    """Per fold, the predictions of the method that scored best on the *other* folds."""
    out = np.zeros_like(next(iter(oof.values())))
    for test in folds:
        rest = np.setdiff1d(np.arange(len(y)), test)
        best = max(oof, key=lambda m: _macro_f1(oof[m][rest], y[rest]))
        out[test] = oof[best][test]
    return out


def candidates(*, gpu: bool) -> list[str]:
    """What ``"auto"`` compares: ``"recalibrated"`` and ``"linear"`` (+ llm and setfit on a GPU).

    Chosen by simulation on the quality model's readings (``bench/fewshot_choice.py``): 30 draws
    each of 8, 16 and 32 examples from four labelled sets (Amazon great/other in English, Chinese
    and German; the campaign tweets trump/staff, whose labels no model reads). Held-out accuracy
    of ``"auto"`` at 8 / 32 examples, choosing among these two, then with the zero-shot scores and
    ``"stack"`` added (the list before): Amazon 0.765 / 0.826 against 0.757 / 0.824 (0.687 /
    0.788), Chinese 0.713 / 0.823 against 0.699 / 0.819 (0.674 / 0.796), German 0.738 / 0.813
    against 0.698 / 0.804 (0.656 / 0.783), tweets 0.604 / 0.694 against 0.592 / 0.690 (0.594 /
    0.696). The zero-shot scores are inputs of ``"recalibrated"``; ``"stack"`` was never the best
    method on average (Amazon 0.806 against recalibrated 0.844 at 32, tweets 0.665 against linear
    0.706), and a few examples cannot tell a method 0.05 better from noise, so each added
    candidate was sometimes picked when it was worse.

    On a CPU the in-prompt ``"llm"`` scores about one row a second with 32 examples in the prompt
    (each row attends to the whole prefix) and ``"setfit"`` trains an encoder per fold, so neither
    fits ``"auto"``'s budget there (seconds beyond the zero-shot scores); ask for them by name.
    """
    slow = ["llm", "setfit"] if gpu else []
    return ["recalibrated", "linear", *slow]


@dataclass(frozen=True)
class Learned:
    """A few-shot fit: row probabilities, the method, out-of-fold probabilities and the table."""

    probs: np.ndarray
    labels: list[str]
    method: str
    oof: np.ndarray
    y: np.ndarray
    source: str
    methods: dict[str, dict[str, float]]
    steps: list[Provenance]
    values: list[Any] = field(default_factory=list)
    folds: int | None = None  # k of the cross-validation behind ``oof`` (None: not fitted)


def learn(problem: FewShot, method: str) -> Learned:
    """Fit ``method`` (or choose one with ``"auto"``) and label the rows.

    Returns out-of-fold probabilities on the examples (selection-corrected for ``"auto"``, see the
    module docs) beside the rows' probabilities, and per method tried its CV accuracy, macro-F1 and
    seconds.
    """
    from sklearn.model_selection import StratifiedKFold

    if method not in (*METHODS, *problem.zero_shot):
        msg = f"With examples, method must be one of {', '.join(METHODS)}, not {method!r}."
        raise InvalidArgumentError(msg)
    ex = problem.examples
    count, k = len(ex.texts), ex.folds
    tried = candidates(gpu=_gpu()) if method == "auto" else [method]
    oof, table = {}, {}
    for name in tried:
        started = time.perf_counter()
        oof[name] = problem.out_of_fold(name)
        predicted = oof[name].argmax(axis=1)
        table[name] = {
            "accuracy": float((predicted == ex.y).mean()),
            "f1_macro": _macro_f1(oof[name], ex.y),
            "seconds": round(time.perf_counter() - started, 3),
        }
    chosen = max(table, key=lambda m: table[m]["f1_macro"])
    folds = StratifiedKFold(k, shuffle=True, random_state=problem.seed)
    tests = [test for _, test in folds.split(np.zeros(count), ex.y)]
    zero = chosen in problem.zero_shot and len(tried) == 1
    honest = _honest(oof, ex.y, tests) if len(tried) > 1 else oof[chosen]
    distinct = f" with distinct texts ({ex.repeats} copies left out)" if ex.repeats else ""
    source = (
        f"{count} labelled rows{distinct} (not used for fitting)"
        if zero
        else f"{k}-fold cross-validation on {count} labelled rows{distinct}"
        + (f" (choice among {len(tried)} methods included)" if len(tried) > 1 else "")
    )
    probs = problem.predict(chosen) if problem.rows else np.zeros((0, len(ex.labels)))
    folds_used = None if zero else k
    return Learned(
        probs, ex.labels, chosen, honest, ex.y, source, table, problem.steps, ex.values, folds_used
    )


def problem(
    examples: Examples,
    rows: list[str],
    *,
    method: str,
    question: str,
    zero_shot: Mapping[str, Probabilities],
    engine: Mapping[str, Any],
) -> FewShot:
    """A ``FewShot`` whose ``model`` (from the op's engine arguments) goes where it belongs.

    ``model`` names the embedding model for the methods that use only one (``"linear"``,
    ``"setfit"``, ``"finetuned"``, ``"zero-shot embed"``), else the chat model (the embedding
    model is then the default one).
    """
    encoder_only = method in ("linear", "setfit", "finetuned", "zero-shot embed")
    encoder = dict(engine) if encoder_only else dict(engine) | {"model": None}
    chat = dict(engine) if not encoder_only else dict(engine) | {"model": None}
    if chat.get("model") is None:
        # The readings are features that a regression weighs: they must come from one model.
        # The cascade mixes the fast model's flat probabilities with the quality model's sure
        # ones (0.54 and 1.00 for the same answer), which a fitted weight can't read.
        manager = chat.get("manager") or get_manager()
        chat["model"] = manager.model_for("chat")
    return FewShot(examples, rows, question, zero_shot, chat=chat, encoder=encoder)


def _gpu() -> bool:
    from llm_magics.config import get_config
    from llm_magics.runtime.devices import resolve_device

    return resolve_device(get_config().device).type == "cuda"


def attach_quality(
    result: pd.Series | pd.DataFrame, learned: Learned, *, calibrate: bool
) -> np.ndarray:
    """Put quality, method and methods in ``result.attrs``; return the (calibrated) row probs.

    ``calibrate`` recalibrates the rows' probabilities on the out-of-fold ones
    (``learning.quality.calibrate``: Platt sigmoid under ~100 examples, isotonic above).
    """
    from llm_magics.learning.quality import calibrate as recalibrate
    from llm_magics.learning.quality import evaluate

    truth = [learned.labels[c] for c in learned.y]
    predicted = [learned.labels[c] for c in learned.oof.argmax(axis=1)]
    evaluation = evaluate(predicted, truth, source=learned.source, folds=learned.folds)
    meta = result.attrs.setdefault("llm_magics", {})
    meta["quality"] = evaluation.to_dict()
    meta["method"] = learned.method
    meta["methods"] = learned.methods
    if calibrate and len(learned.probs):
        return recalibrate(learned.oof, learned.y, learned.probs)
    return learned.probs


def conformal(learned: Learned, probs: np.ndarray, coverage: float) -> tuple[list, list]:
    """Conformal label sets (lists of the user's labels) and ``abstain`` (set size ≠ 1) per row."""
    from llm_magics.learning.quality import conformal_sets

    # ``coverage`` was checked (``spec.COVERAGE``) by the op before it read a row.
    sets = conformal_sets(learned.oof, learned.y, probs, coverage=coverage)
    users = learned.values or learned.labels
    names = [[users[j] for j in np.flatnonzero(row)] for row in sets]
    return names, [len(n) != 1 for n in names]


def add_label_sets(
    result: pd.DataFrame,
    column: Any,
    learned: Learned,
    probs: np.ndarray,
    coverage: float | None,
) -> None:
    """With ``coverage``, add ``label_set`` (object: lists of the user's labels) and ``abstain``
    (nullable boolean) to ``result``, on ``column``'s index (``conformal``); else nothing."""
    if coverage is None:
        return
    sets, abstain = conformal(learned, probs, coverage)
    result["label_set"] = column.series(sets, name="label_set")
    result["abstain"] = column.series(abstain, name="abstain", dtype="boolean")

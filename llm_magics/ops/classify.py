"""``classify``: zero-shot labels with a probability for every row, by the chat model or embeddings.

``method="llm"`` scores each label as the chat model's answer with ``engine.score`` (forward
passes only: every row gets a valid label). Raw log-likelihoods rank well but are biased towards
some labels, so a fixed decision rule is often wrong; we apply *contextual calibration* (Zhao et
al., 2021): the same prompt is scored on content-free inputs (``"N/A"``, ``"[MASK]"``, ``""``) and
each label's probability is divided by its average there, then renormalised. A label is scored as
its lower-case and capitalised spellings together, since small models answer either way.

``method="embed"`` compares each text's embedding with a description of each label ("This text is
about {label}." unless ``labels`` is a dict of descriptions), calibrated the same way against the
content-free inputs' similarities.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine import embed
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.learning.methods import FewShot, Probabilities
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.from_examples import from_examples
from llm_magics.ops.prompts import render
from llm_magics.ops.scoring import CONTENT_FREE, LabelScores, _softmax, score_labels
from llm_magics.ops.spec import COVERAGE, OpSpec, Setting, Uses

__all__ = ["SPEC", "LabelScores", "classify", "score_labels"]

SENTIMENTS = ("positive", "negative", "neutral")  # sentiment's labels (it imports this module)
EMBED_TEMPERATURE = 0.05  # cosine similarities differ by a few hundredths between labels


def _embed_labels(
    texts: Sequence[str],
    descriptions: Sequence[str],
    *,
    calibrate: bool,
    progress: bool = True,
    **engine: Any,
) -> tuple[np.ndarray, list[Provenance]]:
    """Calibrated similarity logits (rows × labels) of texts to label descriptions."""
    free = [t for t in CONTENT_FREE if t] if calibrate else []
    # The rows in one call, the labels in another: what the user reads (progress, "N of M rows
    # were cut", rows computed) counts their rows only.
    rows = embed(list(texts), progress=progress, **engine)
    anchors = embed(list(descriptions) + free, progress=False, **engine)
    labels = anchors.vectors[: len(descriptions)]
    similarity = rows.vectors @ labels.T
    if calibrate:
        similarity = similarity - (anchors.vectors[len(descriptions) :] @ labels.T).mean(axis=0)
    return similarity / EMBED_TEMPERATURE, [rows.provenance, anchors.provenance]


def _label_dtype(values: Sequence[Any]) -> str:
    """The dtype of a column of the user's labels: 0/1 stay ints, True/False booleans (nullable,
    NaN where a row has no text), anything else ``object``."""
    if values and all(isinstance(v, bool) for v in values):
        return "boolean"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "Int64"
    if values and all(isinstance(v, float) for v in values):
        return "Float64"
    return "object"


def _label_frame(
    column: TextColumn,
    names: Sequence[str],
    probs: np.ndarray,
    *,
    values: Sequence[Any] | None = None,
    multi_label: bool = False,
) -> pd.DataFrame:
    """``label``, ``probability`` and ``p_<label>`` columns from rows × labels probabilities.

    ``values``: the labels as the user gave them (same order as ``names``); ``label`` holds them,
    in their dtype (``_label_dtype``), so ``result.label == truth`` compares like with like.
    """
    users = list(values) if values is not None else list(names)
    if multi_label:
        chosen = [[users[j] for j in np.flatnonzero(row > 0.5)] for row in probs]
        dtype = "object"
    else:
        chosen = [users[i] for i in probs.argmax(axis=1)] if len(probs) else []
        dtype = _label_dtype(users)
    columns: dict[str, tuple[Sequence[object] | np.ndarray, str]] = {
        "label": (chosen, dtype),
        "probability": (probs.max(axis=1) if len(probs) else [], "float64"),
    }
    for j, name in enumerate(names):
        columns[f"p_{name}"] = (probs[:, j] if len(probs) else [], "float64")
    return column.frame(columns)


def _check_labels(labels: Sequence[str] | Mapping[str, str]) -> tuple[list[str], list[str]]:
    if isinstance(labels, str) or not isinstance(labels, Sequence | Mapping):
        msg = (
            f"labels must be a list of label names or a dict of name: description, not {labels!r}."
        )
        raise InvalidArgumentError(msg)
    names = [str(label) for label in labels]
    if len(names) < 2 or len(set(names)) != len(names) or not all(n.strip() for n in names):
        msg = f"labels must be at least two distinct non-empty names, not {names!r}."
        raise InvalidArgumentError(msg)
    if isinstance(labels, Mapping):
        return names, [str(labels[n]) for n in labels]
    return names, [f"This text is about {n}." for n in names]


def parse_labels(value: str) -> list[str]:
    """``"taste, price, shipping"`` → ``["taste", "price", "shipping"]`` (a panel's text box)."""
    labels = [part.strip() for part in value.split(",") if part.strip()]
    if not labels:
        msg = "Type the labels, separated by commas: taste, price, shipping."
        raise InvalidArgumentError(msg)
    return labels


def labels_text(labels: Any) -> str:
    """The labels as a panel shows them: ``"taste, price, shipping"``."""
    return labels if isinstance(labels, str) else ", ".join(map(str, labels or []))


SPEC = OpSpec(
    name="classify",
    uses=(Uses("chat", "score"),),
    by_method={
        "embed": (Uses("embed", "embed"),),
        "llm": (Uses("chat", "score"),),
        "finetuned": (Uses("classifier", "predict"),),
    },
    outputs=("label", "probability"),
    prompts=("classify", "classify_question", "filter"),
    argument="labels",
    frame_arguments=("examples",),
    plan_argument="option",
    example="classify review -> aspect  labels=[taste, price, shipping]",
    tunable=(
        Setting(
            "labels",
            "text",
            "labels",
            placeholder="taste, price, shipping",
            parse=parse_labels,
            show=labels_text,
            required=True,
        ),
        Setting("method", "choice", "method", choices=("embed", "llm")),
        Setting("multi_label", "bool", "several labels per row"),
    ),
    tune_prompt="classify_question",
    result_name="labels",
    chart="confidence",
    bounds={
        "coverage": COVERAGE,
    },
)


@operation(SPEC)
def classify(
    texts: pd.Series,
    labels: Sequence[str] | Mapping[str, str] | None = None,
    *,
    examples: Any = None,
    coverage: float | None = None,
    multi_label: bool = False,
    method: str | None = None,
    instruction: str | None = None,
    calibrate: bool | None = None,
    **engine: Any,
) -> pd.DataFrame:
    """Give each text one of ``labels`` (or several, with ``multi_label``) with probabilities.

    Parameters
    ----------
    texts
        The text column.
    labels
        Label names, or ``{name: description}`` (descriptions are what ``method="embed"`` compares
        with, and what the chat model is asked about with ``multi_label``). Not needed with
        ``method="finetuned"`` (the model's own labels are used) or with ``examples`` (their
        sorted distinct labels).
    examples
        Labelled examples to learn from (``llm_magics.learning``): a label column on the texts'
        index with NaN where unlabelled (what ``df.llm.label`` writes), a DataFrame of (text,
        label) or a dict ``{text: label}``; at least two per label.
    coverage
        With ``examples``: add ``label_set``, the split-conformal set of labels that holds the true
        one for this share of rows (0.9), and ``abstain`` (the set is not one label).
    multi_label
        Score every label on its own (yes/no per label); ``label`` lists those above 0.5.
    method
        Without ``examples`` (``None``: ``"llm"``): ``"llm"`` (the chat models' answer
        probabilities, through the cascade when no model is named), ``"embed"`` (similarity of
        embeddings to label descriptions: fast, English only) or ``"finetuned"`` (a classifier
        from ``finetune``, named by ``model``). ``llm`` is the default since the quality model:
        on 150 reviews asked "positive or negative" it agreed with the stars on 0.84 of them
        against 0.61 for ``embed``, and ``embed`` cannot read Chinese or German (every label got
        the same probability on Chinese text; ``bench/multilingual.py``). With ``examples`` (``None``: ``"auto"``): ``"recalibrated"`` (the chat model's
        readings re-weighed on the examples), ``"linear"``, ``"stack"``, ``"llm"`` (the examples
        in the chat model's prompt), ``"setfit"``, ``"finetuned"``, ``"embed"`` (zero-shot, the
        examples only measure it) or ``"auto"`` (the best by cross-validation on the examples,
        among ``llm_magics.learning.methods.candidates``; ``attrs["llm_magics"]["methods"]`` has every
        one tried).
    instruction
        The question asked before each text (``method="llm"``), instead of the shipped one.
    calibrate
        Contextual calibration against content-free inputs (see the module docs); ``None``: on
        for ``llm``, off for ``embed`` (what measured best with the default models). With
        ``examples``: ``True`` recalibrates the probabilities on the examples' out-of-fold ones.

    Returns
    -------
    pandas.DataFrame
        ``label``, ``probability`` (of that label) and ``p_<label>`` per label, on the same index;
        missing texts give NaN. With ``examples``, ``attrs["llm_magics"]`` holds ``quality`` (the
        cross-validated accuracy and macro-F1 with intervals) and ``method``.
    """
    if examples is not None:
        if multi_label:
            msg = "classify(examples=...) learns one label per row; leave multi_label out."
            raise InvalidArgumentError(msg)
        return _from_examples(
            texts, labels, examples, method or "auto", instruction, calibrate, coverage, engine
        )
    method = method or "llm"
    if method not in ("llm", "embed", "finetuned") or coverage is not None:
        msg = (
            "coverage= needs labelled rows: pass examples= (a label column) as well."
            if coverage is not None
            else f"method must be 'embed', 'llm' or 'finetuned', not {method!r} (with "
            "examples=, also 'auto', 'recalibrated', 'linear', 'stack', 'setfit')."
        )
        raise InvalidArgumentError(msg)
    if method == "finetuned":
        return _finetuned(texts, labels, **engine)
    if labels is None:
        msg = "classify() needs labels: a list of names or a dict of name: description."
        raise InvalidArgumentError(msg)
    names, descriptions = _check_labels(labels)
    if calibrate is None:
        calibrate = method == "llm"
    column = TextColumn.of(texts, "classify")
    routed = None
    if method == "embed":
        logits, steps = _embed_labels(column.texts, descriptions, calibrate=calibrate, **engine)
        probs = 1 / (1 + np.exp(-logits)) if multi_label else _softmax(logits)
    elif multi_label:
        probs, steps = np.zeros((len(column.texts), len(names))), []
        for j, description in enumerate(descriptions):
            condition = names[j] if isinstance(labels, Sequence) else description
            scored = score_labels(
                column.texts,
                ["yes", "no"],
                lambda t, c=condition: render("filter", condition=c, text=t),
                calibrate=calibrate,
                **engine,
            )
            probs[:, j], steps = scored.probs[:, 0], steps + scored.provenance
    else:
        question = instruction or render("classify_question", labels=", ".join(names))
        scored = score_labels(
            column.texts,
            names,
            lambda t: render("classify", question=question, text=t),
            calibrate=calibrate,
            **engine,
        )
        probs, steps, routed = scored.probs, scored.provenance, scored.cascade
    from llm_magics.learning.examples import user_value

    users = [user_value(v) for v in labels]
    result = _label_frame(column, names, probs, values=users, multi_label=multi_label)
    record_provenance(
        result,
        "classify",
        {"labels": names, "multi_label": multi_label, "method": method, "calibrate": calibrate},
        steps,
        cascade=routed,
    )
    return result


def _from_examples(
    texts: pd.Series,
    labels: Sequence[str] | Mapping[str, str] | None,
    examples: Any,
    method: str,
    instruction: str | None,
    calibrate: bool | None,
    coverage: float | None,
    engine: dict[str, Any],
) -> pd.DataFrame:
    """``classify`` learning from ``examples`` (``ops.from_examples``, ``llm_magics.learning``)."""
    if labels is not None:
        _check_labels(labels)
    given = list(labels) if labels is not None else None
    column = TextColumn.of(texts, "classify")

    def question(names: list[str]) -> str:
        return instruction or render("classify_question", labels=", ".join(names))

    def scores(problem: FewShot) -> dict[str, Probabilities]:
        names = problem.labels
        if isinstance(labels, Mapping):
            descriptions = [str(labels[n]) for n in names]
        else:
            descriptions = [f"This text is about {n}." for n in names]
        asked = question(names)

        def chat(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
            prompt = lambda t: render("classify", question=asked, text=t)  # noqa: E731
            scored = score_labels(rows, names, prompt, **problem.chat)
            return scored.probs, scored.provenance

        def embedded(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
            logits, steps = _embed_labels(rows, descriptions, calibrate=False, **problem.encoder)
            return _softmax(logits), steps

        return {"zero-shot llm": chat, "zero-shot embed": embedded}

    def readings(problem: FewShot) -> dict[str, Probabilities]:
        # Many labellings follow the writer's mood (great/other, complaint/praise):
        # "recalibrated" and "stack" weigh it.
        def mood(rows: list[str]) -> tuple[np.ndarray, list[Provenance]]:
            prompt = lambda t: render("sentiment", text=t)  # noqa: E731
            scored = score_labels(rows, list(SENTIMENTS), prompt, calibrate=False, **problem.chat)
            return scored.probs, scored.provenance

        return {"sentiment": mood}

    result, _ = from_examples(
        column,
        examples,
        op="classify",
        method=method,
        question=lambda ex: question(ex.labels),
        scores=scores,
        readings=readings,
        frame=lambda ex, probs: _label_frame(column, ex.labels, probs, values=ex.values),
        parameters=lambda ex: {"labels": ex.labels},
        labels=given,
        calibrate=bool(calibrate),
        coverage=coverage,
        engine=engine,
    )
    return result


def _finetuned(
    texts: pd.Series,
    labels: Sequence[str] | Mapping[str, str] | None,
    *,
    model: str | None,
    **engine: Any,
) -> pd.DataFrame:
    from llm_magics.engine.predict import predict

    if model is None:
        msg = "classify(method='finetuned') needs model=: the name finetune() returned."
        raise InvalidArgumentError(msg)
    column = TextColumn.of(texts, "classify")
    out = predict(column.texts, model=model, **engine)
    if labels is not None and sorted(map(str, labels)) != sorted(out.labels):
        msg = f"{model!r} predicts {out.labels}, not {list(labels)}; leave labels out."
        raise InvalidArgumentError(msg)
    result = _label_frame(column, out.labels, out.probs)
    record_provenance(result, "classify", {"method": "finetuned", "model": model}, [out.provenance])
    return result

"""``finetune``: train the embedding model into a classifier of your labels.

The encoder gets a classification head and is trained on a split of the labelled rows; the rest
validate it after every epoch. The result is saved under ``<cache_dir>/finetuned/<name>`` and
registered as the alias ``name``, so ``classify(method="finetuned", model=name)`` and
``mine(..., finetuned=name)`` use it (and it survives the kernel: load the folder again by path).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from llm_magics.config import get_config
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, resolve_column
from llm_magics.ops.spec import StepSpec, Uses, register_step

__all__ = ["STEP", "FineTuned", "finetune"]


@dataclass(frozen=True)
class FineTuned:
    """A fine-tuned classifier: where it is, its labels, and how training went."""

    name: str
    path: str
    labels: list[str]
    history: pd.DataFrame
    seconds: float

    def __repr__(self) -> str:
        last = self.history.iloc[-1]
        return (
            f"FineTuned({self.name!r}: {len(self.labels)} labels, {len(self.history)} epochs, "
            f"validation accuracy {last['valid_accuracy']:.3f}, macro-F1 "
            f"{last['valid_f1_macro']:.3f}; {self.seconds:.0f} s; {self.path})"
        )


def finetune(
    frame: pd.DataFrame,
    text: str,
    label: str,
    *,
    model: str = "default-embed",
    name: str | None = None,
    epochs: int = 3,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    max_length: int = 128,
    validation: float = 0.2,
    seed: int = 0,
    progress: bool = True,
) -> FineTuned:
    """Fine-tune ``model`` to predict ``label`` from ``text``.

    Parameters
    ----------
    frame, text, label
        The rows, the text column and the label column (rows missing either are left out).
    model
        The encoder to start from (an embedding model).
    name
        The alias to register (default: ``finetuned-<label>-<hash of the data and settings>``).
    epochs, batch_size, learning_rate, max_length
        Training settings; texts are cut to ``max_length`` tokens.
    validation
        The share of rows held out to report accuracy and macro-F1 after each epoch.
    seed
        The split, the shuffling and the head's initialisation.
    progress
        A progress bar over the training steps.

    Returns
    -------
    FineTuned
        ``name``, ``path``, ``labels``, ``history`` (per epoch: loss, validation figures, seconds).
    """
    import time

    from sklearn.model_selection import train_test_split

    from llm_magics.runtime.training import train_classifier

    if epochs < 1 or batch_size < 1 or not 0.0 < validation < 0.5:
        msg = (
            "epochs and batch_size must be at least 1 and validation between 0 and 0.5; got "
            f"epochs={epochs}, batch_size={batch_size}, validation={validation}."
        )
        raise InvalidArgumentError(msg)
    column = TextColumn.of(resolve_column(frame, text), "finetune")
    targets = resolve_column(frame, label)
    keep = column.present & targets.notna().to_numpy()
    texts = [t for t, k in zip(np.asarray(column.source, dtype=object), keep, strict=True) if k]
    values = targets[keep].astype(str).to_numpy()
    labels = sorted(set(values))
    if len(labels) < 2:
        msg = f"finetune() needs at least two labels in {label!r}; found {labels}."
        raise InvalidArgumentError(msg)
    if len(texts) < 10:
        msg = f"finetune() needs at least 10 labelled texts; there are {len(texts)}."
        raise InvalidArgumentError(msg)
    ids = np.array([labels.index(v) for v in values])
    counts = np.bincount(ids)
    stratify = ids if counts.min() >= 2 else None
    train, valid = train_test_split(
        np.arange(len(texts)), test_size=validation, random_state=seed, stratify=stratify
    )
    settings = {
        "model": model,
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "max_length": max_length,
        "seed": seed,
    }
    digest = hashlib.sha256(
        json.dumps([texts, values.tolist(), settings], default=str).encode()
    ).hexdigest()[:10]
    name = name or f"finetuned-{label}-{digest}"
    config = get_config()
    folder = Path(config.cache_dir) / "finetuned" / name
    started = time.perf_counter()
    history = train_classifier(
        model,
        [texts[i] for i in train],
        ids[train].tolist(),
        [texts[i] for i in valid],
        ids[valid].tolist(),
        labels,
        folder,
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        max_length=max_length,
        seed=seed,
        progress=progress,
        config=config,
    )
    config.aliases = {**config.aliases, name: str(folder)}
    return FineTuned(
        name=name,
        path=str(folder),
        labels=labels,
        history=pd.DataFrame(history),
        seconds=time.perf_counter() - started,
    )


STEP = register_step(
    StepSpec(
        name="finetune",
        function=finetune,
        example="finetune review, score -> my-classifier  epochs=2",
        uses=(Uses("embed", "embed"),),
        given=frozenset({"frame", "text", "label", "progress"}),
        columns=(2, 2),
        usage="finetune needs the text and the label: finetune TEXT, LABEL",
        arrow="model",
        estimate="training",
    )
)
"""``finetune`` as a plan step: ``finetune TEXT, LABEL -> NAME  KEY=VALUE ...``."""

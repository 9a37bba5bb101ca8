"""Fine-tuning an encoder with a classification head: a plain torch loop.

A plain loop rather than transformers' ``Trainer``: for one small encoder on one device the loop
is forty lines, has no ``accelerate``/``datasets`` plumbing to configure, and reports what we want
per epoch (validation accuracy and macro-F1) with our progress bar. AdamW with linear warm-up and
decay, dynamic padding, a seed for the shuffling and the head's initialisation.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from llm_magics.config import LlmMagics, get_config
from llm_magics.runtime.devices import resolve_device
from llm_magics.runtime.loading import locate
from llm_magics.runtime.quantization import import_torchao_quietly
from llm_magics.runtime.specs import resolve_spec

__all__ = ["train_classifier"]

HISTORY_FILE = "llm_magics_training.json"


def _batches(count: int, size: int, rng: np.random.Generator | None) -> list[np.ndarray]:
    order = rng.permutation(count) if rng is not None else np.arange(count)
    return [order[i : i + size] for i in range(0, count, size)]


def _encode(tokenizer: Any, texts: Sequence[str], rows: np.ndarray, max_length: int) -> Any:
    return tokenizer(
        [texts[i] for i in rows],
        truncation=True,
        max_length=max_length,
        padding=True,
        return_tensors="pt",
    )


def _predict(
    model: Any, tokenizer: Any, texts: Sequence[str], max_length: int, device: torch.device
) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for rows in _batches(len(texts), 64, None):
            batch = _encode(tokenizer, texts, rows, max_length)
            out.append(model(**batch.to(device)).logits.argmax(dim=-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def train_classifier(
    base: str,
    train_texts: Sequence[str],
    train_labels: Sequence[int],
    valid_texts: Sequence[str],
    valid_labels: Sequence[int],
    labels: Sequence[str],
    folder: Path,
    *,
    epochs: int = 3,
    batch_size: int = 16,
    learning_rate: float = 5e-5,
    max_length: int = 128,
    seed: int = 0,
    progress: bool = True,
    config: LlmMagics | None = None,
) -> list[dict[str, float]]:
    """Fine-tune the encoder ``base`` to predict ``labels``; save it to ``folder``.

    Returns the history: per epoch the mean training loss, validation accuracy and macro-F1, and
    seconds.
    """
    from sklearn.metrics import accuracy_score, f1_score

    from llm_magics.progress import tqdm

    import_torchao_quietly()  # before transformers' quantizers import it, noisily
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        get_linear_schedule_with_warmup,
    )
    from transformers.utils import logging as hf_logging

    config = config or get_config()
    spec = resolve_spec(base, config, role="embed")
    source = locate(spec, config)
    device = resolve_device(config.device)
    torch.manual_seed(seed)
    tokenizer = AutoTokenizer.from_pretrained(source.path, **source.kwargs(config))
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the new head's "missing weights" report is expected
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source.path,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            **source.kwargs(config),
        ).to(device)
    finally:
        hf_logging.set_verbosity(verbosity)
    optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate, weight_decay=0.01)
    steps = epochs * int(np.ceil(len(train_texts) / batch_size))
    schedule = get_linear_schedule_with_warmup(optimizer, int(0.1 * steps), steps)
    rng = np.random.default_rng(seed)
    targets = torch.tensor(list(train_labels))
    history = []
    bar = tqdm(total=steps, desc=f"fine-tune · {spec.name}", unit="batch", disable=not progress)
    try:
        for epoch in range(1, epochs + 1):
            started, losses = time.perf_counter(), []
            model.train()
            for rows in _batches(len(train_texts), batch_size, rng):
                batch = _encode(tokenizer, train_texts, rows, max_length).to(device)
                loss = model(**batch, labels=targets[rows].to(device)).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad()
                losses.append(loss.item())
                bar.update(1)
                bar.set_postfix(epoch=epoch, loss=f"{np.mean(losses):.3f}")
            predicted = _predict(model, tokenizer, valid_texts, max_length, device)
            history.append(
                {
                    "epoch": epoch,
                    "train_loss": float(np.mean(losses)),
                    "valid_accuracy": float(accuracy_score(valid_labels, predicted))
                    if len(predicted)
                    else float("nan"),
                    "valid_f1_macro": float(f1_score(valid_labels, predicted, average="macro"))
                    if len(predicted)
                    else float("nan"),
                    "seconds": time.perf_counter() - started,
                }
            )
    finally:
        bar.close()
    folder.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    (folder / HISTORY_FILE).write_text(
        json.dumps({"base": base, "labels": list(labels), "history": history}, indent=2)
    )
    return history

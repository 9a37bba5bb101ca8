"""The one recipe ``classify``, ``sentiment`` and ``filter`` follow when given ``examples=``.

Few-label learning itself (reading the examples, the methods, the honest estimate, calibration,
conformal sets) lives in ``llm_magics.learning``, below the ops. What only an op knows comes from
here: its zero-shot scores and readings (its prompts, the chat and embedding models), the prompt
of the in-context ``"llm"`` method, the fine-tuning of ``"finetuned"``, and the shape of its result.
Each op gives those and gets back its result with the quality in ``attrs``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine.results import Provenance
from llm_magics.learning import methods
from llm_magics.learning.examples import Examples, parse_examples
from llm_magics.learning.methods import FewShot, Probabilities
from llm_magics.ops.base import TextColumn, record_provenance
from llm_magics.ops.prompts import render
from llm_magics.ops.scoring import score_labels

__all__ = ["from_examples"]


def _in_prompt(question: str, labels: Sequence[str], chat: Mapping[str, Any]) -> methods.InPrompt:
    """The ``"llm"`` method's scorer: the examples listed once in the shared prompt prefix."""

    def scored(
        pairs: list[tuple[str, str]], rows: list[str]
    ) -> tuple[np.ndarray, list[Provenance]]:
        listed = "\n\n".join(
            render("fewshot_example", example=text, label=label) for text, label in pairs
        )
        out = score_labels(
            rows,
            list(labels),
            lambda t: render("fewshot", question=question, examples=listed, text=t),
            **chat,
        )
        return out.probs, out.provenance

    return scored


def _finetuned(encoder: Mapping[str, Any], seed: int) -> methods.Finetuned:
    """The ``"finetuned"`` method's trainer: ``finetune`` on the examples, ``predict`` the rows."""

    def trained(
        texts: list[str], names: list[str], rows: list[str]
    ) -> tuple[np.ndarray, list[str], list[Provenance]]:
        from llm_magics.engine.predict import predict
        from llm_magics.ops.finetune import finetune

        frame = pd.DataFrame({"text": texts, "label": names})
        model = encoder.get("model") or "default-embed"
        tuned = finetune(frame, "text", "label", model=model, seed=seed, progress=False, epochs=3)
        out = predict(rows, model=tuned.name, progress=False)
        return out.probs, list(out.labels), [out.provenance]

    return trained


def from_examples(
    column: TextColumn,
    examples: Any,
    *,
    op: str,
    method: str,
    question: Callable[[Examples], str],
    scores: Callable[[FewShot], Mapping[str, Probabilities]],
    frame: Callable[[Examples, np.ndarray], pd.Series | pd.DataFrame],
    parameters: Callable[[Examples], dict[str, Any]],
    engine: Mapping[str, Any],
    labels: Sequence[str] | None = None,
    normalise: Callable[[Any], str | None] | None = None,
    readings: Callable[[FewShot], Mapping[str, Probabilities]] | None = None,
    calibrate: bool = False,
    coverage: float | None = None,
) -> tuple[pd.Series | pd.DataFrame, np.ndarray]:
    """Learn from ``examples`` and label ``column``'s rows; return the op's result and the rows'
    probabilities (n × labels, float, calibrated where ``calibrate``).

    ``question(examples)`` is the op's instruction (the ``"llm"`` method's prompt says it).
    ``scores(problem)`` gives the op's zero-shot candidates (``"zero-shot llm"``, and
    ``"zero-shot embed"`` where the op has one) and ``readings(problem)`` more of the chat model's
    readings (``classify``'s sentiment), each texts → (probabilities, provenance), built on the
    problem's chat and embedding arguments. ``frame(examples, probs)`` builds the op's result from
    the rows' probabilities; it is called again on the calibrated ones with ``calibrate``.
    ``parameters(examples)`` are the op's arguments for the provenance, to which the method
    chosen and the number of examples are added. ``coverage`` adds conformal ``label_set`` and
    ``abstain`` columns (a DataFrame result only).

    Raises ``InvalidArgumentError`` for examples that can't be learned from
    (``learning.examples.parse_examples``) and for an unknown ``method``.
    """
    ex = parse_examples(examples, column.source, labels, op=op, normalise=normalise)
    method = "zero-shot embed" if method == "embed" else method
    asked = question(ex)
    problem = methods.problem(
        ex, column.texts, method=method, question=asked, zero_shot={}, engine=engine
    )
    problem.zero_shot = scores(problem)
    problem.readings = readings(problem) if readings is not None else {}
    problem.in_prompt = _in_prompt(asked, ex.labels, problem.chat)
    problem.finetuned = _finetuned(problem.encoder, problem.seed)
    learned = methods.learn(problem, method)
    result = frame(ex, learned.probs)
    provenance = parameters(ex) | {"method": learned.method, "examples": len(ex.texts)}
    record_provenance(result, op, provenance, learned.steps)
    probs = methods.attach_quality(result, learned, calibrate=calibrate)
    if calibrate and len(probs):
        calibrated = frame(ex, probs)
        if isinstance(result, pd.DataFrame):
            for name in calibrated.columns:
                result[name] = calibrated[name]
        else:
            result[:] = calibrated
    if isinstance(result, pd.DataFrame):
        methods.add_label_sets(result, column, learned, probs, coverage)
    return result, probs

"""``summarize``: one short summary per row from the chat model.

The model reads each text as plain text (HTML tags and entities as ``clean`` turns them into
text, whitespace runs as one space), so markup such as ``<br />`` is never copied into a summary.
With the shipped prompt the answer starts with the ``summarize_answer`` words (see
``llm_magics.ops.prompts``), which the summary does not repeat.

A summary is written in its text's language: English, German and Chinese texts (told apart by
``llm_magics.ops.words.language``) are asked in their own language, which is what makes a model
answer in it. ``language=`` names one language for every row instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from llm_magics.engine import generate
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.clean import strip_html
from llm_magics.ops.prompts import get_prompt, render
from llm_magics.ops.spec import Bound, OpSpec, Setting, Uses
from llm_magics.ops.words import language as language_of

__all__ = ["SPEC", "summarize"]

TOKENS_PER_WORD = 1.6  # English words in SmolLM2's and most BPE vocabularies, with some slack
# A Chinese summary's length in characters for ``max_words`` words (25 words ≈ 40 characters,
# the length hand-judged summaries were faithful at).
CHARS_PER_WORD_ZH = 1.6


def _at_most(text: str, words: int) -> str:
    """``text`` cut to ``words`` words, at the last sentence end inside them when there is one."""
    parts = text.split()
    if len(parts) <= words:
        return text
    cut = " ".join(parts[:words])
    end = max(cut.rfind(". "), cut.rfind("! "), cut.rfind("? "))
    return cut[: end + 1] if end > len(cut) // 2 else cut


def _sentence(text: str) -> str:
    """``text`` with a capital first letter (continuing an answer prefix such as "In short,", a
    model starts in lower case)."""
    return text[:1].upper() + text[1:]


SPEC = OpSpec(
    name="summarize",
    uses=(Uses("chat", "generate"),),
    outputs=("{column}_summary",),
    prompts=(
        "summarize",
        "summarize_answer",
        "summarize_de",
        "summarize_zh",
        "summarize_other",
    ),
    example="summarize review -> summary  max_words=15",
    tunable=(
        Setting("max_words", "int", "max words", low=3, high=100, step=1),
        Setting("max_new_tokens", "count", "max tokens", low=0, high=4096),
        Setting("temperature", "float", "temperature", low=0.0, high=2.0, step=0.05),
        Setting("top_p", "float", "top p", low=0.05, high=1.0, step=0.05),
    ),
    tune_prompt="summarize",
    result_name="summary",
    chart="summary",
    bounds={
        "max_words": Bound(1, whole=True, what="words"),
        "max_new_tokens": Bound(1, whole=True, what="tokens", optional=True),
        "temperature": Bound(0),
        "top_p": Bound(0, 1, open_low=True),
    },
)


@operation(SPEC)
def summarize(
    texts: pd.Series,
    *,
    max_words: int = 25,
    language: str | None = None,
    instruction: str | None = None,
    max_new_tokens: int | None = None,
    temperature: float = 0.0,
    top_p: float = 1.0,
    seed: int = 0,
    **engine: Any,
) -> pd.Series:
    """Summarize each text in at most ``max_words`` words.

    Parameters
    ----------
    texts
        The text column.
    max_words
        The longest summary, in words; longer answers are cut at the last sentence end within it.
    language
        The language of every summary: ``"en"``, ``"de"``, ``"zh"`` (or their English names) or
        any other language's name (``"French"``). ``None``: each text's own language.
    instruction
        Your own instruction instead of the shipped prompt (the text follows it, and the answer
        is the model's own from its first word).
    max_new_tokens
        The generation budget in tokens (default: enough for ``max_words`` words).
    temperature, top_p, seed
        Sampling (``temperature=0``, the default: greedy, the same summary every run; with
        sampling, the same ``seed`` and batch give the same summaries).

    Returns
    -------
    pandas.Series
        ``<column>_summary`` on the same index; missing texts give NaN.

    Examples
    --------
    >>> summarize(reviews["review"].head(2), max_words=12)     # doctest: +SKIP
    """
    column = TextColumn.of(texts, "summarize")
    plain = [" ".join(strip_html(t).split()) for t in column.texts]
    budget = max_new_tokens or int(max_words * TOKENS_PER_WORD) + 8
    options = {"temperature": temperature, "top_p": top_p, "seed": seed} | engine
    if instruction:
        out = generate([f"{instruction}\n\n{t}" for t in plain], max_new_tokens=budget, **options)
        texts, steps = out.texts, [out.provenance]
    else:
        asked = _language(language)
        groups: dict[str, list[int]] = {}
        for i, text in enumerate(plain):
            groups.setdefault(asked or language_of(text), []).append(i)
        texts, steps = [""] * len(plain), []
        for lang, rows in groups.items():
            prompts, lead = _prompts([plain[i] for i in rows], lang, max_words)
            out = generate(prompts, max_new_tokens=budget, answer_prefix=lead, **options)
            for i, text in zip(rows, out.texts, strict=True):
                texts[i] = text
            steps.append(out.provenance)
    summaries = [_at_most(_sentence(t), max_words) or float("nan") for t in texts]
    result = column.series(summaries, name=f"{column.name}_summary")
    record_provenance(
        result,
        "summarize",
        {
            "max_words": max_words,
            "language": language,
            "instruction": instruction,
            "max_new_tokens": max_new_tokens,
            "temperature": temperature,
            "top_p": top_p,
            "seed": seed if temperature > 0 else None,
        },
        steps,
    )
    return result


_NAMES = {"en": "English", "de": "German", "zh": "Chinese", "deutsch": "German", "中文": "Chinese"}


def _language(language: str | None) -> str | None:
    """``language=`` as a language's English name ("English", "German", "French" ...)."""
    if language is None:
        return None
    if not isinstance(language, str) or not language.strip():
        msg = f"language must be a language's name or code ('en', 'de', 'zh', 'French'), not {language!r}."
        raise InvalidArgumentError(msg)
    name = language.strip()
    return _NAMES.get(name.lower(), name[:1].upper() + name[1:])


def _prompts(texts: list[str], lang: str, max_words: int) -> tuple[list[str], str]:
    """The prompts of ``texts`` summarized in ``lang``, and the answer's first words.

    ``lang`` is a detected code (``"en"``, ``"de"``, ``"zh"``: asked in that language) or a
    language's name from ``language=`` (asked in English to write in it, since a model asked
    in English about a Chinese text answers in Chinese unless told otherwise)."""
    if lang in ("de", "zh"):
        chars = round(max_words * CHARS_PER_WORD_ZH)
        fields = {"max_words": max_words, "max_chars": chars}
        return [render(f"summarize_{lang}", text=t, **fields) for t in texts], ""
    if lang == "en":
        prompts = [render("summarize", text=t, max_words=max_words) for t in texts]
        return prompts, get_prompt("summarize_answer")
    prompts = [render("summarize_other", text=t, max_words=max_words, language=lang) for t in texts]
    return prompts, ""

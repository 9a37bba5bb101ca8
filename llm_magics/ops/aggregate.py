"""``aggregate``: one answer per group of rows (or for the whole column), however many rows.

LOTUS ``sem_agg``, DocETL ``reduce`` and fenic ``semantic.reduce`` fold a group's texts with a
remote model, call by call. Here a group is packed into chunks that fit the chat model's context
(counted with its own tokenizer), each chunk gets a partial answer (map), and the partial answers
are packed and combined the same way (reduce), level after level until each group has one answer:
the hierarchical fold of LOTUS' ``sem_agg`` and DocETL's ``reduce`` with ``fold``. Nothing is
truncated: a text longer than a chunk is split at sentence ends (at token windows inside a
sentence longer than a chunk).

Every chunk of every group at one level goes through one call of the row-wise ``summarize`` op
(its ``instruction=`` path), so the engine batches them together (200 small groups cost about one
long document), ``backend="ray"`` spreads a level's chunks over the workers, and each chunk's
answer is cached by its prompt. Chunks are packed greedily in row order within their group only,
so adding rows to one group changes only that group's last chunks: a re-run reads every other
chunk from the cache (a single review's chunk is even the same prompt in another grouping).
``summarize`` rather than ``generate`` directly: it reads HTML as text, cuts answers at a sentence
end within ``max_words``, and runs on the Ray backend; ``generate`` with the answer started ("In
short,", as ``summarize`` does without an instruction) was not better: in ``bench/aggregate.py``
(8 food groups of 3, 6 and 12 Amazon reviews, SmolLM2-135M) both put 20 of 24 answers nearest
their own group's reviews (summarize 8, 7, 5 of 8; generate 7, 6, 7). The same bench: 200
reviews as 200 groups took 100 s (200 calls, one level), as one group 138 s (3 map calls of
about 8,000 tokens, 1 reduce); re-runs are read from the cache, and one row added to a group
recomputed that group's chunk only.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from llm_magics.engine.decoding import context_length
from llm_magics.engine.models import load_for
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, one_job, operation, record_provenance
from llm_magics.ops.clean import strip_html
from llm_magics.ops.prompts import get_prompt, render
from llm_magics.ops.spec import Bound, OpSpec, Uses
from llm_magics.ops.summarize import TOKENS_PER_WORD, summarize

__all__ = ["SPEC", "aggregate"]

MIN_CHUNK_TOKENS = 16
"""The smallest ``chunk_tokens``: a few words of text per chunk."""

_LABEL_TOKENS = 4  # "Text 12: " before each item of a chunk, in SmolLM2's and most vocabularies
_PROMPT_SLACK = 48  # the chat template's turns around the prompt, with a margin
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# A small model may repeat the labels of the chunk ("Text 2: ..."), or start one at its end.
_ECHOED_LABEL = re.compile(r"\s*\b(?:Text|Answer)(?: \d+:|\s*$)")
_LIST_START, _LIST_END = re.compile(r"1\.\s+"), re.compile(r"\s+\d+\.$")
_BARE_NUMBER = re.compile(r"\d*[.)]?")  # nothing, or a list's "1." that an echoed label followed

Item = tuple[str, int]  # a text (or a partial answer) and its length in tokens


def _keys(texts: pd.Series, by: Any) -> list[Any]:
    """``by`` as a list of group keys, each checked against ``texts``' length and index."""
    several = isinstance(by, list | tuple) and len(by) > 0 and all(np.ndim(k) > 0 for k in by)
    keys = list(by) if several else [by]
    for key in keys:
        if isinstance(key, pd.Series):
            if key.index.equals(texts.index):
                continue
            if key.index.has_duplicates:  # pandas cannot align it on the texts' labels
                msg = (
                    f"aggregate(): the by Series {key.name!r} repeats index labels in another "
                    "order than the texts; pass it on the texts' index, or its .to_numpy() in "
                    "the texts' order."
                )
                raise InvalidArgumentError(msg)
            if texts.index.isin(key.index).all():
                continue
            msg = (
                f"aggregate(): the by Series {key.name!r} lacks labels of the texts' index; pass "
                "a Series on the same index as the texts, or an array of the same length."
            )
            raise InvalidArgumentError(msg)
        if np.ndim(key) == 0:
            msg = (
                f"aggregate(): by={key!r} is one value, not a key per text; pass the keys (a "
                "Series on the texts' index, or an array), or on a DataFrame a column name: "
                "df.llm.aggregate(column, by=name)."
            )
            raise InvalidArgumentError(msg)
        if np.ndim(key) != 1 or len(key) != len(texts):
            msg = (
                f"aggregate(): by has {len(key)} values for {len(texts)} texts; pass one key per "
                "row (a Series on the texts' index, an array or a list of them)."
            )
            raise InvalidArgumentError(msg)
    return keys


def _groups(
    texts: pd.Series, by: Any, *, dropna: bool, sort: bool, name: str
) -> tuple[np.ndarray, pd.Index]:
    """The group number of each row (-1: in no group) and the groups' index, as pandas has them."""
    if by is None:
        return np.zeros(len(texts), dtype=np.int64), pd.Index([name])
    keys = _keys(texts, by)
    rows = pd.Series(np.arange(len(texts)), index=texts.index)
    grouped = rows.groupby(
        keys if len(keys) > 1 else keys[0], dropna=dropna, sort=sort, observed=True
    )
    try:
        numbers = grouped.ngroup().to_numpy(dtype=float)
    except TypeError as error:  # unhashable keys (lists, dicts), as pandas says
        msg = (
            f"aggregate(): the by keys cannot be grouped ({error}); pass keys that are "
            "numbers, text, dates or categories, e.g. the column .astype(str)."
        )
        raise InvalidArgumentError(msg) from None
    return np.where(np.isnan(numbers), -1, numbers).astype(np.int64), grouped.size().index


def _split(text: str, tokens: int, budget: int, tokenizer: Any) -> list[Item]:
    """A text as pieces of at most ``budget`` tokens: whole sentences, or token windows of one."""
    if tokens <= budget:
        return [(text, tokens)]
    sentences = [s for s in _SENTENCE_END.split(text) if s]
    pieces: list[Item] = []
    for sentence, ids in zip(sentences, _token_ids(tokenizer, sentences), strict=True):
        if len(ids) <= budget:
            pieces.append((sentence, len(ids)))
            continue
        for start in range(0, len(ids), budget):
            window = ids[start : start + budget]
            pieces.append((tokenizer.decode(window), len(window)))
    merged: list[Item] = []
    for piece, count in pieces:  # sentences back together, as many as a piece holds
        if merged and merged[-1][1] + count + 1 <= budget:
            merged[-1] = (f"{merged[-1][0]} {piece}", merged[-1][1] + count + 1)
        else:
            merged.append((piece, count))
    return merged


def _pack(items: Sequence[Item], budget: int, *, at_least: int) -> list[list[str]]:
    """Consecutive items in chunks of at most ``budget`` tokens (and of ``at_least`` items)."""
    chunks: list[list[str]] = []
    current: list[str] = []
    used = 0
    for text, tokens in items:
        cost = tokens + _LABEL_TOKENS
        if current and used + cost > budget and len(current) >= at_least:
            chunks.append(current)
            current, used = [], 0
        current.append(text)
        used += cost
    if current:
        chunks.append(current)
    return chunks


def _numbered(chunk: Sequence[str], label: str) -> str:
    return "\n\n".join(f"{label} {i}: {text}" for i, text in enumerate(chunk, 1))


def _without_labels(answer: str) -> str:
    """The answer up to an echoed label ("Text 2:"), or after one that starts it.

    Examples
    --------
    >>> _without_labels("Text 1: Sweet tea. Text 2: Bitter")
    'Sweet tea.'
    >>> _without_labels("Great value, but Text")
    'Great value, but'
    >>> _without_labels("1. Great flavor. 2. Cats love it. 3.")
    'Great flavor. 2. Cats love it.'
    >>> _without_labels("1. Text 1: A family favorite.")
    'A family favorite.'
    >>> _without_labels('"Awesome tea,')
    'Awesome tea'
    """
    listed = _LIST_START.match(answer) is not None
    if listed:  # a list, cut at max_words: its "1." goes, and a dangling "2." at its end
        answer = _LIST_START.sub("", answer, count=1)
    parts = [p.strip() for p in _ECHOED_LABEL.split(answer)]
    answer = next((p for p in parts if _BARE_NUMBER.fullmatch(p) is None), "")
    if listed:
        answer = _LIST_END.sub("", answer)
    closer = {'"': '"', "“": "”"}.get(answer[:1])
    if closer and closer not in answer[1:]:  # a quote opened, then cut at max_words
        answer = answer[1:].lstrip()
    return answer.rstrip(",;:").rstrip()


def _without_echo(answer: Any, question: str) -> Any:
    """The answer after the question, where the model first repeats it ("Summarize ...: Tea")."""
    head = " ".join(question.split()[:3]).lower()
    if isinstance(answer, str) and head and answer.lower().startswith(head):
        rest = answer.partition(":")[2].strip()
        return rest[:1].upper() + rest[1:] if rest else answer
    return answer


def _token_ids(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    if not texts:
        return []
    return tokenizer(list(texts), add_special_tokens=False)["input_ids"]


def _columns_after(
    available: Sequence[str],
    columns: Sequence[str],
    outputs: Sequence[str],
    options: Mapping[str, Any],
) -> list[str]:
    """A plan's frame after ``aggregate``: the group keys, then the answer and the row count."""
    by = options.get("by") or []
    by = [by] if isinstance(by, str) else list(by)
    return [*by, *outputs]


SPEC = OpSpec(
    name="aggregate",
    uses=(Uses("chat", "generate"),),
    outputs=("{column}_aggregate", "{column}_rows"),
    output_kind="frame",
    prompts=("aggregate", "aggregate_combine", "aggregate_summary"),
    row_wise=False,
    argument="instruction",
    argument_required=False,
    plan_argument="quoted",
    frame_arguments=("by",),
    example='aggregate review by product -> complaints "What do customers complain about?"',
    result_name="groups",
    columns_after=_columns_after,
    cost="~ the rows' tokens (chunks), then a fold of a few levels per group",
    bounds={
        "max_words": Bound(1, whole=True, what="words"),
        "chunk_tokens": Bound(MIN_CHUNK_TOKENS, whole=True, what="tokens", optional=True),
    },
)


@operation(SPEC)
def aggregate(
    texts: pd.Series,
    instruction: str | None = None,
    *,
    by: Any = None,
    dropna: bool = True,
    sort: bool = True,
    max_words: int = 60,
    chunk_tokens: int | None = None,
    backend: Any = "local",
    **engine: Any,
) -> pd.DataFrame:
    """One answer per group: a summary of the group's texts, or the answer to ``instruction``.

    Parameters
    ----------
    texts
        The text column.
    instruction
        The question to answer over each group's texts ("What do customers complain about?");
        ``None``: summarize them. When most texts are Chinese or German, the question asks for
        the answer in that language (``attrs["llm_magics"]["parameters"]["language"]``).
    by
        The group keys, as ``Series.groupby(by)`` takes them: a Series or array on the same
        index, or a list of them (on a DataFrame, column names). ``None``: one answer for the
        whole column.
    dropna
        As in pandas: rows whose key is NaN are left out; ``False`` makes them a group.
    sort
        Sort the groups by key (pandas' default); ``False`` keeps the order they first appear.
    max_words
        The longest answer, in words.
    chunk_tokens
        Tokens of text per chunk of a group (``None``: what fits the model's context with the
        prompt and the answer).
    backend
        Where the chunk answers are computed (``"local"`` or ``"ray"``); the fold that combines
        them runs in this process.

    Returns
    -------
    pandas.DataFrame
        Indexed by the group keys (a ``MultiIndex`` for several), in pandas' group order:
        ``<column>_aggregate`` (object: the answer; NaN for a group without text) and
        ``<column>_rows`` (int64: the rows with text the answer read). Every group of the
        keys is a row, one whose texts are all missing too (NaN, 0). With ``by=None``: one
        row, labelled with the column's name (``"text"`` for a Series without one). An empty
        Series gives an empty frame with these columns. ``attrs["llm_magics"]`` holds the
        provenance, with ``levels`` (map, then each reduce) and ``calls_per_level`` (the
        chunks the model answered at each level; a lone partial answer is carried, not asked).

    Raises
    ------
    InvalidArgumentError
        ``by`` has not one key per text (or a Series lacks labels of the texts' index, or
        repeats labels in another order), keys that cannot be grouped (lists),
        ``max_words < 1``, ``chunk_tokens`` under ``MIN_CHUNK_TOKENS`` or too large for the
        model's context with the prompt and the answer.
    RunInterruptedError
        Ctrl-C or a cancel; the chunks done are cached, so a re-run resumes.

    Notes
    -----
    Chunks are packed greedily in row order within each group, a chunk holding whole texts
    (a text longer than a chunk is split at sentence ends), at most ``chunk_tokens`` tokens
    of the chat model's tokenizer; a reduce chunk holds at least two partial answers, so each
    level at least halves a group's answers and a group of ``n`` chunks takes about
    ``1 + log2(n)`` levels. A group that fits one chunk costs one model call: its map answer.

    Examples
    --------
    The first 40 Amazon reviews, as one group (about 5,000 tokens: one chunk, one call), then
    folded through 256-token chunks (three levels):

    >>> from llm_magics.datasets import amazon_reviews                 # doctest: +SKIP
    >>> reviews = amazon_reviews()["review"].head(40)                  # doctest: +SKIP
    >>> out = aggregate(reviews, max_words=30)                         # doctest: +SKIP
    >>> out["review_aggregate"].item()                                 # doctest: +SKIP
    "This text is a great example of how a product can be a great deal when it's made with quality ingredients."
    >>> out.attrs["llm_magics"]["calls_per_level"]                     # doctest: +SKIP
    [1]
    >>> folded = aggregate(reviews, max_words=30, chunk_tokens=256)    # doctest: +SKIP
    >>> folded.attrs["llm_magics"]["calls_per_level"]                  # doctest: +SKIP
    [19, 3, 1]
    >>> folded["review_aggregate"].item()                              # doctest: +SKIP
    'This is a great pick-me-up for road trips.'
    """
    column = TextColumn.of(texts, "aggregate")
    numbers, index = _groups(texts, by, dropna=dropna, sort=sort, name=column.name)
    if len(texts) == 0:
        index = index[:0]
    in_group = numbers[column.present]
    rows = np.bincount(in_group[in_group >= 0], minlength=len(index)).astype(np.int64)
    question = instruction or get_prompt("aggregate_summary")
    answer_in = _language_of_column(column.texts)
    if answer_in != "en":
        question = f"{question} {get_prompt(f'aggregate_in_{answer_in}')}"
    with one_job("aggregate", texts, engine.get("manager")):
        answers, levels, budget, steps = _fold(
            column, numbers, len(index), question, max_words, chunk_tokens, backend, engine
        )
    name = column.name
    result = pd.DataFrame(
        {
            f"{name}_aggregate": pd.Series(answers, index=index, dtype=object),
            f"{name}_rows": pd.Series(rows, index=index, dtype="int64"),
        },
        index=index,
    )
    record_provenance(
        result,
        "aggregate",
        {
            "instruction": instruction,
            "by": [getattr(k, "name", None) for k in ([] if by is None else _keys(texts, by))],
            "dropna": dropna,
            "sort": sort,
            "max_words": max_words,
            "chunk_tokens": budget,
            "language": answer_in,
        },
        steps,
    )
    result.attrs["llm_magics"].update(levels=len(levels), calls_per_level=levels)
    return result


def _language_of_column(texts: list[str]) -> str:
    """``"zh"`` or ``"de"`` when at least half of (up to 200 of) ``texts`` are, else ``"en"``.

    Asked in English, the quality model answered about Chinese or German texts in English; told
    the language at the end of the question, it answers in it.
    """
    from llm_magics.ops.words import language_shares

    shares = language_shares(texts)
    return next((code for code in ("zh", "de") if shares.get(code, 0) >= 0.5), "en")


def _fold(
    column: TextColumn,
    numbers: np.ndarray,
    groups: int,
    question: str,
    max_words: int,
    chunk_tokens: int | None,
    backend: Any,
    engine: dict[str, Any],
) -> tuple[list[Any], list[int], int | None, list[Provenance]]:
    """Each group's answer, the model calls per level, the chunk budget and the engine steps."""
    answers: list[Any] = [np.nan] * groups
    numbers = numbers[column.present]
    if not (numbers >= 0).any():
        return answers, [], chunk_tokens, []
    _, loaded = load_for(engine.get("model"), "chat", engine.get("manager"))
    tokenizer = loaded.tokenizer
    reserve = int(max_words * TOKENS_PER_WORD) + 8 + _PROMPT_SLACK
    prompts = [
        render(p, instruction=question, max_words=max_words)
        for p in ("aggregate", "aggregate_combine")
    ]
    room = context_length(loaded) - reserve - max(len(i) for i in _token_ids(tokenizer, prompts))
    if chunk_tokens is not None and chunk_tokens > room:
        msg = (
            f"aggregate(): chunk_tokens={chunk_tokens} leaves no room for the prompt and the "
            f"answer in {loaded.name}'s context; pass at most {room} (or None)."
        )
        raise InvalidArgumentError(msg)
    budget = chunk_tokens or room
    plain = [" ".join(strip_html(t).split()) for t in column.texts]
    counts = [len(ids) for ids in _token_ids(tokenizer, plain)]
    pending: dict[int, list[Item]] = {}
    for group, text, tokens in zip(numbers, plain, counts, strict=True):
        if group >= 0:
            pending.setdefault(int(group), []).extend(
                _split(text, tokens, budget - _LABEL_TOKENS, tokenizer)
            )
    levels: list[int] = []
    steps: list[Provenance] = []
    while pending:
        first = not levels
        chunks = [
            (group, chunk)
            for group, items in pending.items()
            for chunk in _pack(items, budget, at_least=1 if first else 2)
        ]
        asked = [i for i, (_, chunk) in enumerate(chunks) if first or len(chunk) > 1]
        label = "Text" if first else "Answer"
        out = summarize(
            pd.Series([_numbered(chunks[i][1], label) for i in asked], dtype=object),
            instruction=prompts[0 if first else 1],
            max_words=max_words,
            backend=backend,
            **engine,
        )
        steps += [Provenance(**s) for s in out.attrs["llm_magics"]["steps"]]
        levels.append(len(asked))
        said = {i: _without_echo(a, question) for i, a in zip(asked, out.tolist(), strict=True)}
        pending = _settle(chunks, said, answers, tokenizer)
    return answers, levels, budget, steps


def _settle(
    chunks: Sequence[tuple[int, list[str]]],
    said: Mapping[int, Any],
    answers: list[Any],
    tokenizer: Any,
) -> dict[int, list[Item]]:
    """The partial answers still to combine, per group; a group with one answer gets it.

    ``said`` holds the answer of each chunk asked by its position; a chunk not asked (a lone
    partial answer at a reduce level) is carried as it is. An empty answer is dropped, so a
    group whose every answer is empty gets NaN.
    """
    partial: dict[int, list[str]] = {}
    for i, (group, chunk) in enumerate(chunks):
        answer = said.get(i, chunk[0])
        kept = partial.setdefault(group, [])
        if isinstance(answer, str) and (answer := _without_labels(answer)):
            kept.append(answer)
    for group, texts in partial.items():
        if len(texts) <= 1:
            answers[group] = texts[0] if texts else np.nan
    left = {group: texts for group, texts in partial.items() if len(texts) > 1}
    counts = iter(_token_ids(tokenizer, [t for texts in left.values() for t in texts]))
    return {group: [(t, len(next(counts))) for t in texts] for group, texts in left.items()}

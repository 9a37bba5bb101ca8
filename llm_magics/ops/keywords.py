"""``keywords``: the phrases of each text closest in meaning to the whole text, by KeyBERT.

KeyBERT ranks candidate phrases by the cosine similarity of their embeddings with the text's and
picks a diverse set with maximal marginal relevance. It runs here on our engine (an embedding
backend of ours, so phrases are batched, deduplicated and cached like every other call), with a
phrase finder of ours: n-grams of consecutive words that contain no stop word and do not cross
punctuation, so every keyword occurs in its text as written (lower-cased). sklearn's own
``stop_words`` would instead join the words around a removed stop word into phrases that are
not in the text. Words and stop words are those of each text's language, English, German or
Chinese, cut into words by jieba (``llm_magics.ops.words`` says where the lists come from), so a
Chinese keyword is a word or two, not the clause between two commas. A text made only of stop
words and numbers (survey answers such as "None", "Other", "n/a", "42") has its own words as
candidates, so every text gets keywords.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterator
from typing import Any

import pandas as pd

from llm_magics.engine import embed as embed_texts
from llm_magics.engine.results import Provenance
from llm_magics.errors import InvalidArgumentError
from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.spec import Bound, OpSpec, Setting, Uses
from llm_magics.ops.words import HAN, Language, is_stop, language, words
from llm_magics.runtime.quantization import import_torchao_quietly

__all__ = ["SPEC", "keywords", "phrases"]

_SEGMENT = re.compile(r"[^\w\s'-]+")
_MARKUP = re.compile(r"<[^>]{0,200}>")
_PUNCTUATION = string.punctuation + "\u2018\u2019\u201c\u201d\u2026\u00bf\u00a1"
# A phrase of several Chinese words longer than this reads as a clause, not a keyword.
MAX_HAN_PHRASE = 4


def phrases(text: str, ngram_range: tuple[int, int] = (1, 2)) -> Iterator[str]:
    """Candidate keywords of ``text``: runs of 1..n words with no stop word, within punctuation.

    Words and stop words are those of the text's language (``llm_magics.ops.words``): Chinese
    is cut into words by jieba, and a run of several Chinese words is kept only up to
    ``MAX_HAN_PHRASE`` characters; a lone Chinese character is too ambiguous to be a keyword on
    its own ("高" high, "问" ask) but joins its neighbours ("性价比高" good value). When that leaves nothing, the text's own words (split at
    spaces, outer punctuation removed, Chinese cut by jieba) are the candidates, and the text
    itself when it has no word at all.

    Examples
    --------
    >>> list(phrases("The green tea is great, cheap tea.", (1, 2)))
    ['green', 'tea', 'green tea', 'great', 'cheap', 'tea', 'cheap tea']
    >>> list(phrases("Not at all", (1, 2))), list(phrases("N/A")), list(phrases("42"))
    (['not', 'at', 'not at', 'all', 'at all'], ['n/a'], ['42'])
    >>> list(phrases("包装破损，客服也不回复"))
    ['包装', '破损', '包装破损', '客服', '回复']
    >>> list(phrases("物流很快，性价比高"))
    ['物流', '很快', '物流很快', '性价比', '性价比高']
    """
    text = _MARKUP.sub(" ", text).lower().replace("\u2019", "'")
    lang = language(text)
    found = False
    for segment in _SEGMENT.split(text):
        for run in _runs(words(segment), ngram_range, lang):
            found = True
            yield run
    if not found:
        own = [
            piece
            for word in (w.strip(_PUNCTUATION) for w in text.split())
            if word
            for piece in (words(word) if HAN.search(word) else [(" ", word)])
        ]
        if own:
            yield from _runs(own, ngram_range, None)
        elif text.strip():
            yield text.strip()


def _runs(
    found: list[tuple[str, str]], ngram_range: tuple[int, int], lang: Language | None
) -> Iterator[str]:
    """Runs of ``low``..``high`` consecutive words, ending at each word in turn, joined as written.

    With a language, a run stops at a stop word of that language and a lone Chinese character
    is no run of its own; without one, every word counts.
    """
    low, high = ngram_range
    for end in range(1, len(found) + 1):
        for size in range(low, high + 1):
            start = end - size
            if start < 0:
                break
            run = found[start:end]
            if lang is not None and any(is_stop(word, lang) for _, word in run):
                break
            phrase = run[0][1] + "".join(glue + word for glue, word in run[1:])
            if size > 1 and len(HAN.findall(phrase)) > MAX_HAN_PHRASE:
                break
            lone_han = len(phrase) == 1 and HAN.match(phrase)
            if not (lone_han and lang is not None):
                yield phrase


SPEC = OpSpec(
    name="keywords",
    uses=(Uses("embed", "embed"),),
    outputs=("{column}_keywords",),
    example="keywords review  top=5",
    tunable=(
        Setting("top", "int", "keywords", low=1, high=20, step=1),
        Setting("diversity", "float", "diversity", low=0.0, high=1.0, step=0.05),
    ),
    result_name="keywords",
    chart="keywords",
    bounds={
        "top": Bound(1, whole=True, what="keywords"),
        "diversity": Bound(0, 1),
    },
)


@operation(SPEC)
def keywords(
    texts: pd.Series,
    *,
    top: int = 5,
    ngram_range: tuple[int, int] = (1, 2),
    diversity: float = 0.5,
    **engine: Any,
) -> pd.Series:
    """The ``top`` keywords of each text, most relevant first.

    Parameters
    ----------
    texts
        The text column.
    top
        How many keywords per text (fewer when the text has fewer candidate phrases).
    ngram_range
        Shortest and longest phrase, in words.
    diversity
        0: the most similar phrases, even if alike; 1: as different from each other as possible.

    Returns
    -------
    pandas.Series
        ``<column>_keywords``: a list of strings per row, on the same index; missing texts give NaN.
    """
    low, high = ngram_range
    if not 1 <= low <= high:
        msg = f"ngram_range must be (shortest, longest) with 1 <= shortest <= longest, not {ngram_range}."
        raise InvalidArgumentError(msg)
    # KeyBERT imports sentence-transformers, which imports torchao where it is installed: noisily,
    # unless done first here (a call served from the cache loads no model that would do it).
    import_torchao_quietly()
    from keybert import KeyBERT
    from keybert.backend import BaseEmbedder
    from sklearn.feature_extraction.text import CountVectorizer

    steps: list[Provenance] = []

    class EngineBackend(BaseEmbedder):
        def embed(self, documents: list[str], verbose: bool = False) -> object:
            out = embed_texts(list(documents), **engine)
            steps.append(out.provenance)
            return out.vectors

    column = TextColumn.of(texts, "keywords")
    vectorizer = CountVectorizer(analyzer=lambda t: list(phrases(t, ngram_range)))
    found = []
    if column.texts:
        found = KeyBERT(model=EngineBackend()).extract_keywords(
            column.texts, vectorizer=vectorizer, top_n=top, use_mmr=True, diversity=diversity
        )
        if len(column.texts) == 1 and found and isinstance(found[0], tuple):
            found = [found]
    lists = [[word for word, _ in row] for row in found]
    result = column.series(lists, name=f"{column.name}_keywords")
    record_provenance(
        result,
        "keywords",
        {"top": top, "ngram_range": list(ngram_range), "diversity": diversity},
        steps,
    )
    return result

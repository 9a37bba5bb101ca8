"""Charts of what the text operations found: topics, keywords, sentiment, confidence, summaries.

Every function returns an ``altair.Chart`` and displays nothing; inputs over 5,000 rows are
sampled, and the title says so.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

import altair as alt
import numpy as np
import pandas as pd

from llm_magics.errors import InvalidArgumentError, did_you_mean
from llm_magics.plots._data import limit, snippet

if TYPE_CHECKING:
    from llm_magics.ops.topics import TopicModel

__all__ = [
    "STEP_CHARTS",
    "TEXT_CHARTS",
    "confidence_histogram",
    "keyword_frequency",
    "sentiment_distribution",
    "step_chart",
    "summary_lengths",
    "text_chart",
    "topic_map",
    "topic_sizes",
]

_SENTIMENT_ORDER = ["negative", "neutral", "positive"]
_SENTIMENT_COLORS = ["#e15759", "#bab0ac", "#59a14f"]


def topic_map(model: TopicModel, texts: pd.Series | None = None) -> alt.Chart:
    """Rows on the topics' 2-D map, coloured by topic; the tooltip has the text and keywords."""
    rows = model.rows.dropna(subset=["topic"]).copy()
    keywords = {
        int(t): ", ".join(k[:6])
        for t, k in zip(model.info["topic"], model.info["keywords"], strict=True)
    }
    rows["keywords"] = rows["topic"].astype(int).map(keywords)
    rows["topic_label"] = rows["topic_label"].astype(str)
    tooltip: list[Any] = ["topic_label:N", "keywords:N"]
    if texts is not None:
        rows["text"] = texts.reindex(rows.index).map(snippet)
        tooltip.insert(0, "text:N")
    data, title = limit(
        rows[["x", "y", "topic_label", "keywords", *(["text"] if texts is not None else [])]],
        f"Topics of {model.column!r}: {model.k} topics",
    )
    return (
        alt.Chart(data)
        .mark_circle(size=40, opacity=0.7)
        .encode(
            x=alt.X("x:Q", axis=None),
            y=alt.Y("y:Q", axis=None),
            color=alt.Color("topic_label:N", title="topic"),
            tooltip=tooltip,
        )
        .properties(title=title)
    )


def topic_sizes(model: TopicModel) -> alt.Chart:
    """Rows per topic, largest first, labelled with the topic's name."""
    data = model.info[["topic", "label", "size"]].copy()
    data["label"] = data["label"].astype(str)
    data["keywords"] = [", ".join(k[:6]) for k in model.info["keywords"]]
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("label:N", sort=alt.SortField("size", order="descending"), title=None),
            x=alt.X("size:Q", title="rows"),
            color=alt.Color("label:N", legend=None),
            tooltip=["label:N", "size:Q", "keywords:N"],
        )
        .properties(title=f"Topic sizes of {model.column!r}")
    )


def keyword_frequency(keywords: pd.Series, *, top: int = 20) -> alt.Chart:
    """How many rows name each keyword (``keywords``: the lists ``keywords()`` returns)."""
    counts = Counter(
        word
        for found in keywords.dropna()
        if isinstance(found, list | tuple | np.ndarray)  # arrays: lists read back from Parquet
        for word in found
    )
    if not counts:
        msg = "No keywords to count: pass the lists that .llm.keywords() returns."
        raise InvalidArgumentError(msg)
    data = pd.DataFrame(counts.most_common(top), columns=["keyword", "rows"])
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("keyword:N", sort=alt.SortField("rows", order="descending"), title=None),
            x=alt.X("rows:Q", title="rows naming it", axis=alt.Axis(format="d", tickMinStep=1)),
            tooltip=["keyword:N", "rows:Q"],
        )
        .properties(title=f"Top {len(data)} keywords of {keywords.name or 'the texts'!s}")
    )


_MAX_GROUPS = 12
"""The most bars ``sentiment_distribution`` draws for a numeric ``by`` (one per value)."""


def sentiment_distribution(sentiment: pd.Series, by: pd.Series | None = None) -> alt.Chart:
    """The share of each sentiment, overall or per category of ``by``.

    ``sentiment`` holds the labels (``positive``, ``negative``, ``neutral``: the ``sentiment``
    column the op writes, not its numeric ``sentiment_score``); ``by`` holds categories, or numbers
    with at most 12 distinct values (star ratings): bin a continuous column first (``pd.cut``).
    """
    if pd.api.types.is_numeric_dtype(sentiment):
        msg = (
            f"plot('sentiment', {sentiment.name!r}) needs the sentiment labels (positive, negative, "
            f"neutral), and {sentiment.name!r} holds numbers: pass the label column the sentiment "
            "op wrote, e.g. df.llm.plot('sentiment', 'sentiment', by=...)."
        )
        raise InvalidArgumentError(msg)
    if by is not None and pd.api.types.is_numeric_dtype(by) and by.nunique() > _MAX_GROUPS:
        msg = (
            f"by={by.name!r} holds {by.nunique()} different numbers, which would be one bar each: "
            f"pass a column of categories, or bin it first, e.g. "
            f"df['{by.name}_bin'] = pd.cut(df[{by.name!r}], 4)."
        )
        raise InvalidArgumentError(msg)
    frame = pd.DataFrame({"sentiment": sentiment.astype("string")})
    frame["group"] = "all rows" if by is None else by.reindex(frame.index).astype("string")
    frame = frame.dropna()
    data = frame.groupby(["group", "sentiment"]).size().rename("rows").reset_index()
    data["share"] = data["rows"] / data.groupby("group")["rows"].transform("sum")
    domain = [s for s in _SENTIMENT_ORDER if s in set(data["sentiment"])] + sorted(
        set(data["sentiment"]) - set(_SENTIMENT_ORDER)
    )
    colors = [
        dict(zip(_SENTIMENT_ORDER, _SENTIMENT_COLORS, strict=True)).get(s, "#76b7b2")
        for s in domain
    ]
    title = "Sentiment" + ("" if by is None else f" by {by.name}")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=alt.Y("group:N", title=None if by is None else str(by.name)),
            x=alt.X("share:Q", stack="normalize", axis=alt.Axis(format="%"), title="share of rows"),
            color=alt.Color("sentiment:N", scale=alt.Scale(domain=domain, range=colors)),
            order=alt.Order("sentiment:N"),
            tooltip=["group:N", "sentiment:N", "rows:Q", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(title=title)
    )


def confidence_histogram(probability: pd.Series, label: pd.Series | None = None) -> alt.Chart:
    """How sure the classifier was: the chosen label's probability, binned, per label."""
    frame = pd.DataFrame({"probability": pd.to_numeric(probability, errors="coerce")})
    frame["label"] = "all" if label is None else label.reindex(frame.index).astype("string")
    data, title = limit(frame.dropna(), "Classification confidence")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X(
                "probability:Q",
                bin=alt.Bin(maxbins=20, extent=[0, 1]),
                title="probability of the chosen label",
            ),
            y=alt.Y("count():Q", title="rows"),
            color=alt.Color("label:N", title="label"),
            tooltip=["label:N", "count():Q"],
        )
        .properties(title=title)
    )


def summary_lengths(source: pd.Series, summary: pd.Series) -> alt.LayerChart:
    """Words in each summary against words in its text, with the median compression."""
    frame = pd.DataFrame(
        {
            "text_words": source.astype("string").str.split().str.len(),
            "summary_words": summary.reindex(source.index).astype("string").str.split().str.len(),
            "summary": summary.reindex(source.index).map(snippet),
        }
    ).dropna(subset=["text_words", "summary_words"])
    ratio = (
        float((frame["summary_words"] / frame["text_words"].clip(lower=1)).median())
        if len(frame)
        else 0.0
    )
    data, title = limit(frame, f"Summary length vs text length (median {ratio:.0%} of the words)")
    points = (
        alt.Chart(data)
        .mark_circle(opacity=0.6)
        .encode(
            x=alt.X("text_words:Q", title="words in the text", scale=alt.Scale(type="log")),
            y=alt.Y("summary_words:Q", title="words in the summary"),
            tooltip=["text_words:Q", "summary_words:Q", "summary:N"],
        )
    )
    return alt.layer(points).properties(title=title)


TEXT_CHARTS: dict[str, Any] = {
    "sentiment": sentiment_distribution,
    "keywords": keyword_frequency,
    "confidence": confidence_histogram,
    "summary": summary_lengths,
}
"""The charts of ``df.llm.plot(kind, ...)``."""


def text_chart(frame: pd.DataFrame, kind: str, column: str, **kwargs: Any) -> alt.TopLevelMixin:
    """``df.llm.plot``: a chart of ``frame[column]``; other columns are named by keyword.

    ``sentiment`` (``by=``: a category column), ``keywords`` (``top=``), ``confidence``
    (``label=``: the label column), ``summary`` (``source=``: the text column).
    """
    if kind not in TEXT_CHARTS:
        msg = f"Unknown chart {kind!r}.{did_you_mean(kind, TEXT_CHARTS)} Kinds: {', '.join(TEXT_CHARTS)}."
        raise InvalidArgumentError(msg)
    from llm_magics.ops.base import resolve_column

    values = resolve_column(frame, column)
    named = {
        k: resolve_column(frame, v) if k in ("by", "label", "source") else v
        for k, v in kwargs.items()
    }
    if kind == "summary":
        if "source" not in named:
            msg = "plot('summary', column=SUMMARY, source=TEXT) needs the text column too."
            raise InvalidArgumentError(msg)
        return summary_lengths(named.pop("source"), values)
    return TEXT_CHARTS[kind](values, **named)


def _sentiment_step(source: pd.Series | None, made: pd.DataFrame) -> alt.Chart | None:
    return sentiment_distribution(made.iloc[:, 0])


def _keywords_step(source: pd.Series | None, made: pd.DataFrame) -> alt.Chart | None:
    return keyword_frequency(made.iloc[:, 0])


def _summary_step(source: pd.Series | None, made: pd.DataFrame) -> alt.LayerChart | None:
    return None if source is None else summary_lengths(source, made.iloc[:, 0])


def _confidence_step(source: pd.Series | None, made: pd.DataFrame) -> alt.Chart | None:
    # Only a label with its probability beside it; multi-label rows have no single confidence.
    if made.shape[1] < 2 or not pd.api.types.is_numeric_dtype(made.iloc[:, 1]):
        return None
    return confidence_histogram(made.iloc[:, 1], made.iloc[:, 0])


STEP_CHARTS = {
    "sentiment": _sentiment_step,
    "keywords": _keywords_step,
    "summary": _summary_step,
    "confidence": _confidence_step,
}
"""The chart kinds an operation's spec may name (``OpSpec.chart``), drawn by ``step_chart``."""


def step_chart(kind: str, source: pd.Series | None, made: pd.DataFrame) -> alt.TopLevelMixin | None:
    """The chart of kind ``kind`` for what one plan step made, or ``None`` when it has nothing to show.

    Parameters
    ----------
    kind
        The op's ``spec.chart``: ``"sentiment"``, ``"keywords"``, ``"summary"`` or
        ``"confidence"``.
    source
        The step's text column (``None`` when the frame no longer has it).
    made
        The columns the step made, in the op's order (the label first, then its probability).

    Examples
    --------
    >>> made = pd.DataFrame({"sentiment": ["positive", "negative", "positive"]})
    >>> step_chart("sentiment", None, made) is not None
    True
    """
    if kind not in STEP_CHARTS:
        msg = f"Unknown step chart {kind!r}.{did_you_mean(kind, STEP_CHARTS)} Kinds: {', '.join(STEP_CHARTS)}."
        raise InvalidArgumentError(msg)
    return STEP_CHARTS[kind](source, made)

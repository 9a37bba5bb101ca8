"""Altair charts that explain results. Each function returns a chart and never displays it.

``MiningResult.plot(kind)``, ``TopicModel.plot(kind)`` and ``df.llm.plot(kind, column)`` reach
them; ``%%mine`` shows the relevant ones after a run. Importing this module enables the
``llm_magics`` theme and renderer unless you chose others (see ``llm_magics.plots.theme``, and
``llm_magics.plots.render``: charts that draw offline in JupyterLab).

Plots may import ``mining``, ``ops`` (the results they draw) and the layers below them;
never ``backends``, ``plan`` or an entry point.
"""

from llm_magics.plots.mining import (
    MINING_CHARTS,
    confusion_chart,
    contribution_chart,
    importance_chart,
    leaderboard_chart,
    mining_chart,
    pr_chart,
    predicted_actual_chart,
    roc_chart,
)
from llm_magics.plots.render import RENDERER, chart_bundle, use_renderer
from llm_magics.plots.text import (
    TEXT_CHARTS,
    confidence_histogram,
    keyword_frequency,
    sentiment_distribution,
    step_chart,
    summary_lengths,
    text_chart,
    topic_map,
    topic_sizes,
)
from llm_magics.plots.theme import THEME, use_theme

use_theme()
use_renderer()

__all__ = [
    "MINING_CHARTS",
    "RENDERER",
    "TEXT_CHARTS",
    "THEME",
    "chart_bundle",
    "confidence_histogram",
    "confusion_chart",
    "contribution_chart",
    "importance_chart",
    "keyword_frequency",
    "leaderboard_chart",
    "mining_chart",
    "pr_chart",
    "predicted_actual_chart",
    "roc_chart",
    "sentiment_distribution",
    "step_chart",
    "summary_lengths",
    "text_chart",
    "topic_map",
    "topic_sizes",
    "use_renderer",
    "use_theme",
]

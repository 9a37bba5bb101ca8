"""The main job in one command: the quickstart plan over real reviews, on the default models.

``llm-mine demo`` (and ``make demo``) runs :data:`QUICKSTART_PLAN` over Amazon fine-food reviews
and writes ``demo-report.html``; ``notebooks/01-quickstart.ipynb`` and ``02-mine-magic.ipynb``
tell the same story step by step.
"""

from __future__ import annotations

import pandas as pd

from llm_magics.datasets import amazon_reviews
from llm_magics.plan.results import MineRun
from llm_magics.plan.runner import run_mine
from llm_magics.runtime.manager import ModelManager

__all__ = ["QUICKSTART_PLAN", "SUMMARY_INSTRUCTION", "demo_reviews", "run_demo"]

SUMMARY_INSTRUCTION = "Summarize this review in one sentence."

QUICKSTART_PLAN = """\
clean review                                  # HTML, mojibake, whitespace, e-mail addresses
summarize review -> summary  max_words=15
sentiment review                              # sentiment, sentiment_score in [-1, 1]
keywords review  top=5
topics review  k=4                            # topic, topic_label
predict score from review  budget=4           # mine(): model selection, tuning, test metrics
explain                                       # a narrative whose numbers are checked
"""


def demo_reviews(rows: int = 60) -> pd.DataFrame:
    """The first ``rows`` of the 1,000 Amazon fine-food test reviews (``product``, ``review``,
    ``score``: great or other)."""
    return amazon_reviews("test").head(rows)


def run_demo(
    rows: int = 60,
    *,
    chat_model: str | None = None,
    progress: bool = True,
    manager: ModelManager | None = None,
) -> MineRun:
    """Run :data:`QUICKSTART_PLAN` over :func:`demo_reviews` and return the run.

    ``run.frame`` has the reviews with every new column (summary, sentiment, keywords, topic,
    ``score_predicted``); ``run.result`` is the mining result; ``run.narrative`` its narrative.
    Finished rows are cached, so a second run (or one after Ctrl-C) is quick.

    Examples
    --------
    >>> run = run_demo(40, progress=False)      # doctest: +SKIP
    >>> run.new_columns[:2]                     # doctest: +SKIP
    ['summary', 'sentiment']
    """
    run = run_mine(
        demo_reviews(rows), QUICKSTART_PLAN, model=chat_model, progress=progress, manager=manager
    )
    assert isinstance(run, MineRun)
    return run

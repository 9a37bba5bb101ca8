"""Shared chart helpers: sampling large inputs, short text for tooltips."""

from __future__ import annotations

import pandas as pd

MAX_POINTS = 5000
"""The most rows a chart embeds; larger inputs are sampled (the title says so)."""


def limit(frame: pd.DataFrame, title: str, *, seed: int = 0) -> tuple[pd.DataFrame, str]:
    """``frame`` cut to ``MAX_POINTS`` random rows, and ``title`` with a note when it was."""
    if len(frame) <= MAX_POINTS:
        return frame, title
    sampled = frame.sample(MAX_POINTS, random_state=seed).sort_index()
    return sampled, f"{title} ({MAX_POINTS:,} of {len(frame):,} rows shown)"


def snippet(text: object, width: int = 120) -> str:
    """One line of at most ``width`` characters for a tooltip."""
    if not isinstance(text, str):
        return ""
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"

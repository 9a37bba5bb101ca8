"""The code a panel's settings stand for: a ``df.llm`` call, a ``%%mine`` cell or a ``mine`` call.

A panel's "Copy code" puts this in the next cell, so what was tuned by hand becomes a line of the
notebook that gives the same result when run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llm_magics.plan.parse import plan_value

__all__ = ["call_code", "mine_cell", "plan_line", "plan_value"]

LINE_LENGTH = 88


def call_code(
    target: str | None, function: str, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> str:
    """``target = function(args..., key=value...)``, on one line when it fits, else one per line.

    Examples
    --------
    >>> call_code("summary", "reviews.llm.summarize", ["review"], {"max_words": 15})
    "summary = reviews.llm.summarize('review', max_words=15)"
    """
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    head = f"{target} = {function}(" if target else f"{function}("
    one_line = head + ", ".join(parts) + ")"
    if len(one_line) <= LINE_LENGTH:
        return one_line
    return head + "\n" + "".join(f"    {p},\n" for p in parts) + ")"


def plan_line(
    verb: str,
    column: str,
    *,
    positional: str | None = None,
    outputs: Sequence[str] = (),
    options: Mapping[str, Any] | None = None,
) -> str:
    """One step of a plan: ``VERB COLUMN ["text"] [-> OUTPUTS] [key=value ...]``.

    Examples
    --------
    >>> plan_line("summarize", "review", outputs=["summary"], options={"max_words": 15})
    'summarize review -> summary  max_words=15'
    """
    line = f"{verb} {plan_value(column)}"
    if positional is not None:
        line += f" {plan_value(positional, quoted=True)}"
    if outputs:
        line += " -> " + ", ".join(outputs)
    if options:
        line += "  " + " ".join(f"{k}={plan_value(v)}" for k, v in options.items())
    return line


def mine_cell(frame: str, out: str, lines: Sequence[str]) -> str:
    """A ``%%mine`` cell that runs ``lines`` over ``frame`` into the variable ``out``."""
    return f"%%mine {frame} --out {out}\n" + "\n".join(lines)

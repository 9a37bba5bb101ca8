"""A toy operation in a module of its own, outside ``llm_magics.ops``: one spec and a function.

``tests/backends/test_ray.py`` runs it with ``backend="ray"``: the Ray workers have not imported
this module, so they must import it themselves to find the op.
"""

from __future__ import annotations

import pandas as pd

from llm_magics.ops.base import TextColumn, operation, record_provenance
from llm_magics.ops.spec import OpSpec

__all__ = ["SPEC", "shout"]

SPEC = OpSpec(
    name="shout",
    outputs=("{column}_shout", "{column}_words"),
    engine_arguments=(),
    example="shout review                      # adds review_shout, review_words",
)


@operation(SPEC)
def shout(texts: pd.Series, *, mark: str = "!") -> pd.DataFrame:
    """Each text in capitals with ``mark`` after it, and its number of words.

    Parameters
    ----------
    texts
        The text column.
    mark
        What ends each shout.

    Returns
    -------
    pandas.DataFrame
        ``<column>_shout`` and ``<column>_words`` on the same index; missing texts give NaN.
    """
    column = TextColumn.of(texts, "shout")
    result = column.frame(
        {
            f"{column.name}_shout": ([t.upper() + mark for t in column.texts], "object"),
            f"{column.name}_words": ([len(t.split()) for t in column.texts], "Int64"),
        }
    )
    record_provenance(result, "shout", {"mark": mark})
    return result

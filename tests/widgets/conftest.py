"""The panels in a real IPython shell, on real reviews and loans, driven as a user would."""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest
from IPython.core.interactiveshell import InteractiveShell

from llm_magics.datasets import amazon_reviews


@pytest.fixture(scope="module")
def shell() -> Iterator[InteractiveShell]:
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "llm_magics")
    before = set(shell.user_ns)
    yield shell
    for name in set(shell.user_ns) - before:
        shell.user_ns.pop(name, None)


@pytest.fixture(scope="module")
def reviews(shell: InteractiveShell) -> pd.DataFrame:
    frame = amazon_reviews("test").iloc[40:52].reset_index(drop=True)
    shell.user_ns["reviews"] = frame
    return frame
